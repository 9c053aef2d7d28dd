"""Bounded parallelism for a fan-out: at most N tasks at a time, each in a worker process of its own.

Alembic keeps its ``op`` and ``context`` in module globals, so two migrations
cannot share a process at the same time: ``-j N`` runs N worker processes
(forked on Linux when the caller has no other threads, which inherits what is
already imported; spawned otherwise), each taking one task at a time over a
pipe and sending back its progress lines and its `Result`. With ``-j 1`` the
tasks run here, in this process, one after the other.

A task may yield more tasks (a database's survey yields its tenants). An
interrupt (Ctrl-C, SIGTERM) stops the pool from starting anything new; the
running tasks are interrupted too (a worker gets SIGTERM), so that each rolls
back its transaction on the server, and the tasks never started are
reported as such. A second interrupt kills the workers outright (the server
then rolls their transactions back as their connections drop).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional

from ..runtime import interrupts
from .report import FAILED, Outcome

#: Seconds between looks at the workers (and at an interrupt).
POLL = 0.2


@dataclass
class Result:
    """What one task did: its outcomes, the tasks it found, and the signal that interrupted it (if one did)."""

    outcomes: List[Outcome] = field(default_factory=list)
    more: List[Any] = field(default_factory=list)
    interrupted: Optional[str] = None
    #: For a survey: the database's targets in order (the report's order).
    order: Optional[List[Any]] = None


#: perform(job, task, emit) -> Result; emit(line) reports a line of progress. ``job.placeholders(task)``
#: gives the outcomes of a task that never ran (status ``not_started``).
Perform = Callable[[Any, Any, Callable[[str], None]], Result]


def run(job, tasks: List[Any], perform: Perform, *, jobs: int, emit: Callable[[str], None],
        on_result: Callable[[Any, Result], None]) -> Optional[str]:
    """Run ``tasks`` (and those they yield) with ``perform``, ``jobs`` at a time.

    ``on_result(task, result)`` receives each result as it comes, a task that
    never started included. Returns the signal that interrupted the run, or None.
    """
    queue: Deque[Any] = deque(tasks)
    if jobs <= 1:
        return _in_process(job, queue, perform, emit, on_result)
    return _Workers(job, perform, jobs, emit).run(queue, on_result)


def _in_process(job, queue, perform, emit, on_result) -> Optional[str]:
    interrupted = None
    while queue:
        task = queue.popleft()
        if interrupted:
            on_result(task, Result(job.placeholders(task)))
            continue
        try:
            result = perform(job, task, emit)
        except KeyboardInterrupt as exc:  # outside the task's own handling: it had changed nothing
            result = Result(job.placeholders(task), interrupted=interrupts.signal_name(exc))
        interrupted = interrupted or result.interrupted
        queue.extend(result.more)
        on_result(task, result)
    return interrupted


# -- worker processes -------------------------------------------------------------


class _Worker:
    def __init__(self, context, job, perform):
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, job, perform), daemon=True,
                                       name="myapp.db worker")
        self.process.start()
        child.close()
        self.task = None

    def give(self, task) -> None:
        self.task = task
        self.pipe.send(task)

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.pipe.send(None)

    def signal(self, signum) -> None:
        with contextlib.suppress(OSError):
            os.kill(self.process.pid, signum)


class _Workers:
    def __init__(self, job, perform, jobs: int, emit):
        self.job, self.perform, self.jobs, self.emit = job, perform, jobs, emit
        self.context = multiprocessing.get_context(_start_method())
        self.workers: List[_Worker] = []

    def run(self, queue, on_result) -> Optional[str]:
        interrupted: Optional[str] = None
        killed = False
        with _signals() as caught:
            try:
                while queue or self._busy():
                    if caught and not interrupted:
                        interrupted = caught[0]
                        self.emit(f"Interrupted by {interrupted}: starting nothing more, rolling back the "
                                  f"{len(self._busy())} running (interrupt again to kill them)")
                        for worker in self._busy():
                            worker.signal(signal.SIGTERM)
                    elif len(caught) > 1 and not killed:
                        killed = True
                        for worker in self._busy():
                            worker.signal(signal.SIGKILL)
                    if interrupted:
                        while queue:
                            task = queue.popleft()
                            on_result(task, Result(self.job.placeholders(task)))
                    else:
                        self._assign(queue)
                    for worker in self._ready():
                        self._receive(worker, queue, on_result)
            finally:
                for worker in self.workers:
                    worker.stop()
                for worker in self.workers:
                    worker.process.join(timeout=5)
                    if worker.process.is_alive():
                        worker.process.kill()
        return interrupted

    def _busy(self) -> List[_Worker]:
        return [w for w in self.workers if w.task is not None]

    def _assign(self, queue) -> None:
        while queue and len(self._busy()) < self.jobs:
            idle = [w for w in self.workers if w.task is None]
            worker = idle[0] if idle else _Worker(self.context, self.job, self.perform)
            if not idle:
                self.workers.append(worker)
            worker.give(queue.popleft())

    def _ready(self) -> List[_Worker]:
        busy = {w.pipe: w for w in self._busy()}
        if not busy:
            return []
        return [busy[pipe] for pipe in wait(list(busy), timeout=POLL)]

    def _receive(self, worker: _Worker, queue, on_result) -> None:
        try:
            kind, value = worker.pipe.recv()
        except (EOFError, OSError):  # the worker died (killed, crashed)
            worker.process.join(timeout=5)
            self.workers.remove(worker)
            reason = (f"its worker process ended (exit status {worker.process.exitcode}) before it finished; "
                      "the server rolls back what it had not committed")
            outcomes = self.job.placeholders(worker.task)
            for outcome in outcomes:
                outcome.status, outcome.reason = FAILED, reason
            on_result(worker.task, Result(outcomes))
            return
        if kind == "line":
            self.emit(value)
            return
        task, worker.task = worker.task, None
        queue.extend(value.more)
        on_result(task, value)


def _start_method() -> str:
    """fork where it is safe and cheap (Linux, no other thread here); spawn elsewhere."""
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return "fork"
    return "spawn"


@contextlib.contextmanager
def _signals() -> Iterator[List[str]]:
    """While the pool runs, SIGINT and SIGTERM are noted (in the list yielded), not raised."""
    caught: List[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught  # signals reach only the main thread, which is not ours
        return

    def note(signum, frame):
        caught.append("SIGTERM" if signum == signal.SIGTERM else "SIGINT")

    previous: Dict[int, Any] = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# -- inside a worker process --------------------------------------------------------


_busy = False


def _on_terminate(signum, frame) -> None:
    """SIGTERM from the pool: interrupt the running task (it rolls back); between tasks, nothing to do."""
    if _busy:
        raise interrupts.Terminated()


def _serve(pipe, job, perform) -> None:
    global _busy
    interrupts.handle_signals()  # psycopg2 waits where a signal can cancel its statement
    signal.signal(signal.SIGTERM, _on_terminate)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is the pool's to handle
    while True:
        try:
            task = pipe.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        done: List[Result] = []
        _busy = True
        try:
            done.append(perform(job, task, lambda line: pipe.send(("line", line))))
            _busy = False
        except KeyboardInterrupt as exc:  # outside the task's own handling, or just after it ended
            _busy = False
            if not done:
                done.append(Result(job.placeholders(task), interrupted=interrupts.signal_name(exc)))
        pipe.send(("done", done[0]))
