"""myapp's migrations: the revisions in versions/ and the env.py plain Alembic runs."""
