"""myapp.db's pytest plugin: test databases for any App, and built-in checks of its migrations.

`plugin` (options, fixtures, the collected checks; registered as the ``pytest11``
entry point ``myapp_db``), `databases` (the server, the template migrated once,
the clones), `checks` (what each built-in check does), `compare` (what "the
same schema" means, and the diff a failure shows) and `migrator` (a database
moved to any revision, for testing data migrations). Nothing is imported here,
so loading the plugin costs pytest next to nothing.
"""
