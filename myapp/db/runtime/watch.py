"""A second connection watching the migrating session: what it waits for, behind whom, for how long.

While a step runs, a thread asks the server several times per lock timeout
(at most every `POLL` seconds) whether the migrating backend waits for a lock,
and if so on what and behind whom (``pg_blocking_pids``). What it saw last in
the step, in this attempt or an earlier one, names the table and the blocker
when a lock timeout makes the executor retry or give up, and a step running
longer than `REMIND` seconds is reported with it.
"""

from __future__ import annotations

import threading
import time
from typing import Optional

import sqlalchemy as sa

from ..catalog import activity
from ..catalog.activity import Wait

POLL = 0.2
#: Polls per lock timeout, so that even a short one (100 ms) is seen waiting; never faster than FASTEST.
PER_TIMEOUT = 5
FASTEST = 0.02
REMIND = 10.0


class Watcher:
    """Watch the backend behind ``conn`` from a connection of the same engine, in a thread."""

    def __init__(self, conn, progress):
        self.progress = progress
        self.last_wait: Optional[Wait] = None
        self._step = None
        self._seen: dict = {}  # step -> the last wait seen in it, in any attempt
        self._poll = POLL
        self._since = self._next = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = None
        try:
            if conn.dialect.is_async:  # its connections only work inside the caller's event loop
                raise RuntimeError("an async engine cannot be watched from a thread")
            self._pid, lock_timeout = activity.backend_lock_timeout(conn)
            if lock_timeout > 0:
                self._poll = max(FASTEST, min(POLL, lock_timeout / PER_TIMEOUT))
            self._conn = conn.engine.connect()
            self._conn.exec_driver_sql("SET statement_timeout = '2s'")
            self._conn.commit()
        except Exception:  # noqa: BLE001 - e.g. an async engine's proxy: run without a watcher
            self._conn = None

    def __enter__(self) -> "Watcher":
        if self._conn is not None:
            self._thread = threading.Thread(target=self._run, name="myapp.db watcher", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - closing a watcher never fails a migration
                pass

    def step_started(self, step) -> None:
        with self._lock:
            self._step, self.last_wait = step, self._seen.get(step)  # a retry keeps what an earlier attempt saw
            self._since = time.monotonic()
            self._next = self._since + REMIND

    def step_ended(self) -> None:
        with self._lock:
            self._step = None

    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            try:
                wait = activity.waiting_for(self._conn, self._pid)
                self._conn.commit()
            except sa.exc.DBAPIError:
                return  # the server went away: the migrating session will say so itself
            with self._lock:
                if self._step is None:
                    continue
                if wait is not None:
                    self.last_wait = self._seen[self._step] = wait
                now = time.monotonic()
                if now >= self._next:
                    self._next = now + REMIND
                    self.progress.long_step(self._step, now - self._since, wait)
