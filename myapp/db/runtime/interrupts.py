"""Ctrl-C and SIGTERM end the work on the server too, not just in the client.

`handle_signals()` (the CLI calls it) makes SIGTERM raise `Terminated` (a
`KeyboardInterrupt`, so every layer treats both alike) and has psycopg2 wait
for the server in Python, where a signal can interrupt it: the running
statement is then cancelled on the server and the interrupt raised once the
server has stopped. psycopg 3 waits in Python already and cancels on
KeyboardInterrupt by itself.

The same wait runs the work a command queued for when the server is busy
(`when_idle`): a module a later step needs is imported while a long statement
runs, time no one else was using; and the work the next step needs anyway
(`meanwhile`) is done while the server answers the statements before it.
"""

from __future__ import annotations

import contextlib
import select
import signal
import threading
import time
from typing import Callable, Dict, Iterator, Optional

#: How long a statement runs before the queued idle work starts beside it.
IDLE_AFTER = 0.02
#: How long a statement runs before `meanwhile` work starts: past the round trip of a SAVEPOINT or a SET.
MEANWHILE_AFTER = 0.002

_idle: Dict[Callable[[], None], float] = {}  # ordered, each task once: how long a statement runs before it starts


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (systemd, Kubernetes and ``kill`` send it)."""


def signal_name(exc: BaseException) -> str:
    return "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"


def exit_status(exc: BaseException) -> int:
    """128 + the signal number, as shells report a process ended by a signal: 143 or 130."""
    return 143 if isinstance(exc, Terminated) else 130


def _terminate(signum, frame):
    raise Terminated()


def when_idle(task: Callable[[], None]) -> None:
    """Run ``task`` (once) while a statement of the main thread that lasts longer than `IDLE_AFTER`
    runs on the server; tasks run in the order queued, each only while the server is still at it. Only
    where psycopg2 waits through `handle_signals`; a task that fails is dropped: it only does early
    what a later step would do anyway (and then reports)."""
    _idle[task] = IDLE_AFTER


def forget_idle(task: Callable[[], None]) -> None:
    """Drop ``task`` if it has not run yet (the step that needed it is done)."""
    _idle.pop(task, None)


@contextlib.contextmanager
def meanwhile(task: Callable[[], None]) -> Iterator[None]:
    """Run ``task`` while the server answers a statement of the block that runs longer than
    `MEANWHILE_AFTER`, before any task `when_idle` queued: work the step after the block needs
    anyway, done in time the client would spend waiting. The step after checks what it finds
    done and does the rest itself (the task may not run: no statement waited, or it failed)."""
    global _idle
    _idle = {task: MEANWHILE_AFTER, **{t: d for t, d in _idle.items() if t is not task}}
    try:
        yield
    finally:
        forget_idle(task)


def _due(elapsed: float) -> Optional[float]:
    """How long until the first task queued may start (0 or less: now); None with none queued."""
    return next(iter(_idle.values())) - elapsed if _idle else None


def _run_idle() -> None:
    """Run the first task queued (the caller polls again before the next: the answer may be in)."""
    task = next(iter(_idle))
    del _idle[task]  # a task that queues itself again runs after the others
    try:
        task()
    except Exception:  # noqa: BLE001 - see when_idle
        pass


def _wait(conn) -> None:
    """psycopg2's wait callback: poll the connection, cancel the statement on an interrupt."""
    from psycopg2.extensions import POLL_OK, POLL_READ, POLL_WRITE, QueryCanceledError

    interrupted: Optional[BaseException] = None
    started = time.monotonic()
    idle = threading.current_thread() is threading.main_thread()  # not in a watcher's thread
    while True:
        try:
            try:
                state = conn.poll()
            except QueryCanceledError:
                if interrupted is not None:
                    raise interrupted from None
                raise
            if state == POLL_OK:
                break
            if state == POLL_READ:
                due = _due(time.monotonic() - started) if idle and interrupted is None else None
                if due is not None and due <= 0:
                    _run_idle()  # the server is still at it (what it answers meanwhile waits in the socket)
                    continue
                select.select([conn.fileno()], [], [], 1.0 if due is None else due)
            elif state == POLL_WRITE:
                select.select([], [conn.fileno()], [], 1.0)
            else:
                raise conn.OperationalError(f"bad state from poll: {state}")
        except KeyboardInterrupt as exc:
            if interrupted is not None:
                raise
            interrupted = exc
            conn.cancel()  # the server answers the running statement with an error: wait for it
    if interrupted is not None:
        raise interrupted


def handle_signals() -> None:
    """Install the SIGTERM handler and psycopg2's interruptible wait, for this process."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        import psycopg2.extensions
    except ImportError:  # pragma: no cover - psycopg2 is a dependency
        return
    psycopg2.extensions.set_wait_callback(_wait)
