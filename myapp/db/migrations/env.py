"""myapp's Alembic environment, for plain Alembic (``script_location = myapp.db:migrations``).

It is the framework's generic environment; myapp.db's own commands would use
that one anyway.
"""

from myapp.db.runtime.env import run

run()
