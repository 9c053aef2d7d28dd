"""Running migrations: connections and the lock, the scripts, plans and their execution, env.py.

`connection` (the only place that connects and begins transactions), `lock`
(the migration lock), `embedded` (the server used when no URL is given),
`scripts` (an app's Alembic Config and ScriptDirectory), `plan` (target to
steps), `recorder` (the version table), `executor` (steps run through env.py),
`env` (the body of every env.py) and `hooks` (plugin hooks around revisions).
"""
