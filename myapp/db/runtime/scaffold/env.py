"""The framework's Alembic environment, used by every app that brings no env.py of its own."""

from myapp.db.runtime.env import run

run()
