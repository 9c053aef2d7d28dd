"""Errors that reach the user as one line on stderr."""


class CommandError(Exception):
    """A user mistake or a failed command: one line that says what to do; exit status 2."""

    exit_status = 2
