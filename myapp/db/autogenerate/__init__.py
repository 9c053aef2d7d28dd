"""Autogenerate: what the models and the registry have that the migrations do not.

`comparator` (the replaceable objects' part of Alembic's autogenerate, installed
by env.py), `compare` (declared objects against the database, after
PostgreSQL's normalisation), `render` (frozen revisions), `revision` (running
it all for makemigrations and the checks) and `describe` (one line per
difference).
"""
