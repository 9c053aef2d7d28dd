"""Progress reporting: commands call a `Progress`; only the one the CLI passes writes anywhere.

Results (SQL, listings, file paths) go to stdout through the CLI; everything
a `Progress` says goes to stderr, so ``migrate --sql | psql`` stays clean.
"""

from __future__ import annotations

import sys
import threading
from typing import Optional, TextIO


class Progress:
    """Receive progress events from commands; this base class stays silent."""

    def database(self, description: str) -> None:
        """The command is about to act on this database."""

    def waiting(self, holder) -> None:
        """Another session holds the migration lock (``holder``, a `Session`, None if it just ended); this one waits."""

    def still_waiting(self, holder, waited: float) -> None:
        """Still waiting for the migration lock after ``waited`` seconds (said every 30 s)."""

    def retrying(self, step, attempt: int, retries: int, wait, delay: float) -> None:
        """``step`` timed out waiting for a lock (on what, behind whom: ``wait``, if known); its
        transaction was rolled back and runs again in ``delay`` seconds (try ``attempt`` of ``retries``)."""

    def long_step(self, step, elapsed: float, wait) -> None:
        """``step`` has been running ``elapsed`` seconds (said every 10 s), waiting for ``wait`` if not None."""

    def step_start(self, step) -> None:
        """A step (a revision to apply, unapply or fake; a view to refresh) begins; str(step) says which."""

    def step_done(self, step, elapsed_ms: float) -> None:
        """The step announced by `step_start` finished."""

    def step_failed(self, step) -> None:
        """The step announced by `step_start` failed (the error follows)."""

    def note(self, message: str) -> None:
        """A line of information, such as "No migrations to apply."."""


class StreamProgress(Progress):
    """Write progress lines, Django style, to a stream (stderr by default).

    A step's line is left open (``  Applying 3f2a1c (message)...``) and finished
    with ``OK 14 ms``; a line said meanwhile (a retry, a long wait) closes it,
    and the step's own line is then written again, whole, when it ends.
    """

    def __init__(self, stream: Optional[TextIO] = None):
        self.stream = stream or sys.stderr
        self._open = None  # the step whose line is open
        self._broken = False  # something was written since it opened
        self._lock = threading.RLock()  # a watcher thread reports long steps

    def _write(self, text: str, end: str = "\n") -> None:
        self.stream.write(text + end)
        self.stream.flush()

    def _line(self, text: str) -> None:
        with self._lock:
            if self._open is not None and not self._broken:
                self._write("")
                self._broken = True
            self._write(text)

    def _finish(self, step, outcome: str) -> None:
        with self._lock:
            if self._open is step and not self._broken:
                self._write(f" {outcome}")
            else:
                self._write(f"  {step}... {outcome}")
            self._open, self._broken = None, False

    def database(self, description):
        self._line(f"Database: {description}")

    def waiting(self, holder):
        who = f", held by {holder}" if holder else ""
        self._line(f"Waiting for the migration lock{who}...")

    def still_waiting(self, holder, waited):
        who = f"; held by {holder}" if holder else ""
        self._line(f"Still waiting for the migration lock after {waited:.0f} s{who}")

    def retrying(self, step, attempt, retries, wait, delay):
        what = f"waiting for {wait}" if wait else "waiting for a lock"
        with self._lock:
            self._line(f"  {step}: lock timeout {what}; rolled back, retry {attempt} of {retries} in {delay:.1f} s")
            self._open = None

    def long_step(self, step, elapsed, wait):
        doing = f", waiting for {wait}" if wait else ""
        self._line(f"  {step}: running for {elapsed:.0f} s{doing}")

    def step_start(self, step):
        with self._lock:
            self._write(f"  {step}...", end="")
            self._open, self._broken = step, False

    def step_done(self, step, elapsed_ms):
        self._finish(step, "FAKED" if getattr(step, "fake", False) else f"OK {elapsed_ms:.0f} ms")

    def step_failed(self, step):
        self._finish(step, "FAILED")

    def note(self, message):
        self._line(message)
