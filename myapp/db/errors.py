"""Errors that reach the user as one line on stderr, each kind a subclass carrying its facts.

Every one is a `CommandError` (exit status 2): the CLI prints ``str(error)``,
callers of the Python API can read the attributes instead of parsing text.
"""

from __future__ import annotations

import shlex
from typing import Optional


def schema_option(schema: Optional[str]) -> str:
    """`` --schema <name>`` for a command a message suggests, the name quoted for the shell; empty without one."""
    return f" --schema {shlex.quote(schema)}" if schema else ""


def first_line(exc: BaseException) -> str:
    """The first line of an error: the database's own message for a DBAPI error, with PostgreSQL's
    hint where it gives one (``out of shared memory`` says which setting to raise)."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line for line in str(orig).strip().splitlines() if line.strip()]
    if not lines:
        return type(orig).__name__
    hint = _hint(orig)
    return f"{lines[0]} (hint: {hint})" if hint and hint not in lines[0] else lines[0]


def _hint(orig: BaseException) -> Optional[str]:
    for candidate in (orig, getattr(orig, "__cause__", None)):
        hint = getattr(getattr(candidate, "diag", None), "message_hint", None) or getattr(candidate, "hint", None)
        if isinstance(hint, str) and hint.strip():
            return " ".join(hint.split())
    return None


def sqlstate(exc: BaseException) -> Optional[str]:
    """The SQLSTATE of a database error, whichever driver raised it (psycopg2 calls it pgcode)."""
    orig = getattr(exc, "orig", None) or exc
    for candidate in (orig, getattr(orig, "__cause__", None)):
        code = getattr(candidate, "pgcode", None) or getattr(candidate, "sqlstate", None)
        if code:
            return code
    return None


def caused_by(exc: BaseException, code: str) -> bool:
    """Whether ``exc``, or an error it was raised from or while handling, has SQLSTATE ``code``."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if sqlstate(exc) == code:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


#: SQLSTATE lock_not_available: a lock_timeout (or NOWAIT) expired.
LOCK_NOT_AVAILABLE = "55P03"


#: What stops a run from outside and must pass through as itself; any other BaseException
#: (a SystemExit in a revision, say) fails the run like an error.
INTERRUPTS = (KeyboardInterrupt, GeneratorExit)


def describe_exception(exc: BaseException) -> str:
    """What went wrong in one line: the database's message or ours as is, a Python error with its type.

    An error without a message (a bare ``assert``) is told by where it was raised.
    """
    if hasattr(exc, "orig") or isinstance(exc, CommandError):
        return first_line(exc)
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    if isinstance(exc, SystemExit):
        return f"SystemExit({exc.code!r}) was raised"
    if text:
        return f"{type(exc).__name__}: {text}"
    return f"{type(exc).__name__} {_raised_at(exc)}".rstrip()


def _raised_at(exc: BaseException) -> str:
    import traceback

    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    if not frames:
        return ""
    last = frames[-1]
    code = f": {last.line.strip()}" if last.line else ""
    return f"in {last.name}() at {last.filename}, line {last.lineno}{code}"


class CommandError(Exception):
    """A user mistake or a failed command: one line that says what to do; exit status 2."""

    exit_status = 2


class UsageError(CommandError):
    """Options or arguments that do not go together, or a value that makes no sense."""


class ConfigurationError(CommandError):
    """The App, a URL or an environment variable is wrong."""


class ConnectError(CommandError):
    """The database could not be reached.

    :ivar where: the database, password masked.
    :ivar reason: the driver's or the server's message.
    """

    def __init__(self, where: str, reason: str, hint: str):
        self.where, self.reason = where, reason
        super().__init__(f"cannot connect to {where}: {reason}; {hint}")


class DatabaseError(CommandError):
    """The database refused a statement outside any revision.

    :ivar reason: the database's message.
    """

    def __init__(self, reason: str, message: Optional[str] = None):
        self.reason = reason
        super().__init__(message or f"the database refused: {reason}; run again with --traceback for details")


class HistoryError(CommandError):
    """The revision files do not form a usable history, or a target cannot be resolved in it."""


class DuplicateRevision(HistoryError):
    """Two revision files declare the same revision id.

    :ivar revision: the id.
    :ivar files: both files.
    """

    def __init__(self, revision: str, files):
        self.revision, self.files = revision, tuple(files)
        super().__init__(
            f"revision id {revision} is declared by two files, {self.files[0]} and {self.files[1]}; "
            "give one of them a new revision id (and update the down_revision that names it)"
        )


class DivergentHeads(HistoryError):
    """The history has more than one head: two revisions follow one parent.

    :ivar heads: the head revision ids.
    :ivar files: their files, in the same order.
    """

    def __init__(self, heads, files, doing: str, alternative: str = ""):
        self.heads, self.files = tuple(heads), tuple(files)
        named = " and ".join(f"{h} ({f})" for h, f in zip(self.heads, self.files))
        super().__init__(
            f"cannot {doing}: the history has {len(self.heads)} heads, {named}; merge them with "
            f"'python -m myapp.db makemigrations --merge'{alternative}"
        )


class TargetError(HistoryError):
    """A migration target that names no revision, or more than one.

    :ivar target: the target as given.
    """

    def __init__(self, target: str, message: str):
        self.target = target
        super().__init__(message)


class RevisionFailed(CommandError):
    """A revision failed while it ran.

    :ivar revision: its id.
    :ivar doc: its message.
    :ivar reason: the database's message, or the Python error.
    :ivar state: where the database stays, in words.
    """

    def __init__(self, revision: str, doc: str, reason: str, state: str):
        self.revision, self.doc, self.reason, self.state = revision, doc, reason, state
        super().__init__(f"revision {revision} ({doc}) failed: {reason}; {state}")


class ObjectError(CommandError):
    """A replaceable object cannot be created, replaced or dropped.

    :ivar label: the object, as ``kind schema.name``.
    """

    def __init__(self, label: str, message: str):
        self.label = label
        super().__init__(message)


class LockWaitTimeout(CommandError):
    """The migration lock stayed held by another session past ``--lock-wait``.

    :ivar holder: that session, as `myapp.db.catalog.activity.Session` (or None if it ended).
    """

    def __init__(self, holder, message: str):
        self.holder = holder
        super().__init__(message)


class LockRetriesExhausted(CommandError):
    """A statement kept timing out waiting for a lock, every retry.

    :ivar relation: what it waited for, if known.
    :ivar blockers: the sessions it waited behind, if known.
    """

    def __init__(self, relation, blockers, message: str):
        self.relation, self.blockers = relation, blockers
        super().__init__(message)


class Interrupted(CommandError):
    """Ctrl-C (SIGINT) or SIGTERM ended the command; the running statement was cancelled on the server.

    :ivar signal: ``"SIGINT"`` or ``"SIGTERM"``.
    :ivar state: where the database stays, in words.
    """

    def __init__(self, signal: str, what: str, state: str, exit_status: int):
        self.signal, self.state, self.exit_status = signal, state, exit_status
        super().__init__(f"interrupted by {signal} while {what}; {state}")


class PluginError(CommandError):
    """A plugin failed to load, or failed in a hook.

    :ivar plugin: the plugin's entry-point name.
    :ivar distribution: the distribution that ships it.
    """

    def __init__(self, plugin: str, distribution: str, message: str):
        self.plugin, self.distribution = plugin, distribution
        super().__init__(message)


class NotAtHead(CommandError):
    """The database is not at the head of the app's history (`ensure_at_head`).

    :ivar current: the revisions the database is at (empty: no migration history).
    :ivar heads: the head(s) of the app's history.
    :ivar missing: the revisions it has not applied, oldest first, each ``id (message)``.
    :ivar unknown: revisions the database is at that the history does not have (a newer release's).
    """

    def __init__(self, current, heads, missing, unknown, hint: str):
        self.current, self.heads = tuple(current), tuple(heads)
        self.missing, self.unknown = [str(r) for r in missing], list(unknown)
        at = ", ".join(self.current) or "no revision (an empty or unmigrated database)"
        if self.unknown:
            what = (f"revision(s) {', '.join(self.unknown)}, which this app's history does not have "
                    "(a newer release migrated it?); deploy the code that has them")
        else:
            shown = ", ".join(self.missing[:5]) + (f" and {len(self.missing) - 5} more" if len(self.missing) > 5 else "")
            what = f"{len(self.missing)} revision(s) missing: {shown}; {hint}"
        super().__init__(f"the database is at {at}, not at head ({', '.join(self.heads)}): {what}")
