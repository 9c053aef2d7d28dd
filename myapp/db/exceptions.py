"""Errors that reach the user as one line on stderr."""


def first_line(exc: BaseException) -> str:
    """The first line of an error: the database's own message for a DBAPI error."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line for line in str(orig).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


class CommandError(Exception):
    """A user mistake or a failed command: one line that says what to do; exit status 2."""

    exit_status = 2
