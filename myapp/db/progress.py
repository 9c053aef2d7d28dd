"""Progress reporting: commands call a `Progress`; only the one the CLI passes writes anywhere.

Results (SQL, listings, file paths) go to stdout through the CLI; everything
a `Progress` says goes to stderr, so ``migrate --sql | psql`` stays clean.
"""

from __future__ import annotations

import sys
from typing import Optional, TextIO


class Progress:
    """Receive progress events from commands; this base class stays silent."""

    def database(self, description: str) -> None:
        """The command is about to act on this database."""

    def waiting(self, holder_pid: Optional[int]) -> None:
        """Another process holds the migration lock; this one waits for it."""

    def step_start(self, step) -> None:
        """A step (a revision to apply, unapply or fake; a view to refresh) begins; str(step) says which."""

    def step_done(self, step, elapsed_ms: float) -> None:
        """The step announced by `step_start` finished."""

    def step_failed(self, step) -> None:
        """The step announced by `step_start` failed (the error follows)."""

    def note(self, message: str) -> None:
        """A line of information, such as "No migrations to apply."."""


class StreamProgress(Progress):
    """Write progress lines, Django style, to a stream (stderr by default)."""

    def __init__(self, stream: Optional[TextIO] = None):
        self.stream = stream or sys.stderr

    def _write(self, text: str, end: str = "\n") -> None:
        self.stream.write(text + end)
        self.stream.flush()

    def database(self, description):
        self._write(f"Database: {description}")

    def waiting(self, holder_pid):
        who = f" (held by server process {holder_pid})" if holder_pid else ""
        self._write(f"Waiting for the migration lock{who}...")

    def step_start(self, step):
        self._write(f"  {step}...", end="")

    def step_done(self, step, elapsed_ms):
        self._write(" FAKED" if getattr(step, "fake", False) else f" OK {elapsed_ms:.0f} ms")

    def step_failed(self, step):
        self._write(" FAILED")

    def note(self, message):
        self._write(message)
