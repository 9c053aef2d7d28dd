"""myapp: an application package that carries its own PostgreSQL database."""

__version__ = "0.1.0"
