"""An example myapp.db plugin: sequence and extension operations for migrations.

The entry point ``pgextras = myapp_db_pgextras.plugin`` (group
``myapp.db.plugins``) names the module holding the hook implementation.
"""
