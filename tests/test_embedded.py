"""The embedded server is private to its owner: no other OS user gets in, nothing outside it changes.

The tests that try a second OS user (``nobody``, through runuser) run when the
suite runs as root, as CI and containers do.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil
import pytest
import sqlalchemy as sa

from conftest import run_process
from dbhelpers import assert_one_line
from myapp.db.runtime import embedded

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="trying a second OS user needs root (runuser)")


def psql() -> str:
    return shutil.which("psql") or str(embedded._binaries() / "psql")


def as_nobody(*command, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "nobody", "--", *command], capture_output=True, text=True, **kw)


def open_parent() -> Path:
    """A fresh folder any user may traverse, so only the server's own defences keep others out."""
    parent = Path(tempfile.mkdtemp(prefix="wt-embedded-"))
    parent.chmod(0o755)
    return parent


def pid_file(data_dir: Path) -> list:
    return (data_dir / "postmaster.pid").read_text().splitlines()


def server_uid() -> int:
    return embedded._server_user().uid


def modes(paths):
    return {str(p): stat.S_IMODE(os.stat(p).st_mode) for p in paths}


def assert_others_refused(socket_dir: Path, data_dir: Path) -> None:
    """``nobody`` can neither connect (as the superuser, or as itself) nor look into the data directory."""
    for user in ("postgres", "nobody"):
        tried = as_nobody(psql(), "-h", str(socket_dir), "-p", "5432", "-U", user, "-d", "postgres",
                          "-c", "SELECT 1", cwd="/")
        assert tried.returncode != 0, tried
        assert "failed" in tried.stderr, tried.stderr
    assert as_nobody("ls", str(data_dir), cwd="/").returncode != 0


@pytest.fixture
def started(tmp_path):
    """Start servers in given data directories; stop and delete them all at the end."""
    dirs = []

    def start(data_dir: Path) -> embedded.Status:
        dirs.append(data_dir)
        return embedded.ensure_running(data_dir)

    yield start
    for data_dir in dirs:
        embedded.stop(data_dir)
        shutil.rmtree(data_dir.parent if data_dir.parent.name.startswith("wt-embedded-") else data_dir,
                      ignore_errors=True)


def test_the_server_is_private(started):
    data_dir = open_parent() / "pgdata"
    running = started(data_dir)
    assert running.running and running.socket_dir == data_dir

    info = data_dir.stat()
    assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == server_uid()
    sock = (data_dir / embedded.SOCKET_NAME).stat()
    assert stat.S_ISSOCK(sock.st_mode) and stat.S_IMODE(sock.st_mode) == 0o700
    engine = sa.create_engine(embedded.server_url(data_dir, "postgres"), poolclass=sa.NullPool)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW listen_addresses").scalar() == ""
        assert conn.exec_driver_sql("SHOW unix_socket_permissions").scalar() == "0700"
        rules = conn.exec_driver_sql(
            "SELECT type, database, user_name, auth_method, options FROM pg_hba_file_rules"
        ).all()
        assert [tuple(r) for r in rules] == [("local", ["all"], ["all"], "peer", ["map=owner"])]
    engine.dispose()
    if ROOT:
        assert_others_refused(data_dir, data_dir)
        # The server runs without root's groups.
        assert psutil.Process(running.pid).gids().real == embedded._server_user().gid


def test_a_long_data_directory_gets_a_private_socket_folder_of_its_own(started):
    parent = open_parent()
    data_dir = parent / ("d" * (110 - len(str(parent)) - 1))
    assert len(str(data_dir)) == 110
    running = started(data_dir)
    socket_dir = running.socket_dir
    assert socket_dir != data_dir and socket_dir.name.startswith(embedded.SOCKET_DIR_PREFIX)
    assert "runtime-" not in str(socket_dir)  # never the wheel's shared /tmp/runtime-<uid>
    info = socket_dir.stat()
    assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == server_uid()
    assert stat.S_IMODE((socket_dir / embedded.SOCKET_NAME).stat().st_mode) == 0o700
    with sa.create_engine(embedded.server_url(data_dir, "postgres"), poolclass=sa.NullPool).connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    if ROOT:
        assert_others_refused(socket_dir, data_dir)
    assert embedded.stop(data_dir) == str(data_dir)
    assert not socket_dir.exists()


def test_home_and_its_parents_keep_their_permissions(tmp_path):
    """The default data directory under a 0700 $HOME: nothing above the data directory is touched."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    real_home = Path(os.path.expanduser("~"))
    watched = [home, *home.parents, real_home, Path(tempfile.gettempdir())]
    before = modes(watched)
    runtime = tmp_path / "run"  # where the wheel's own server class would make its shared socket folder
    runtime.mkdir(mode=0o700)
    env = {"HOME": str(home), "XDG_DATA_HOME": "", "XDG_RUNTIME_DIR": str(runtime)}
    try:
        done = run_process("current", env=env)
        assert done.returncode == 0, done.stderr
        data_dir = home / ".local" / "share" / "myapp" / "pgdata"
        assert f"in {data_dir}" in done.stderr
        assert modes(watched) == before
        assert not list(runtime.iterdir())
        # The folders made on the way are private too.
        assert modes([home / ".local", home / ".local" / "share", data_dir.parent]) == {
            str(p): 0o700 for p in (home / ".local", home / ".local" / "share", data_dir.parent)
        }
    finally:
        run_process("embedded", "stop", env=env)
    assert modes(watched) == before


_SUBREAPER = textwrap.dedent(
    """
    import ctypes, os, subprocess, sys
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans come here
    done = subprocess.run([sys.executable, "-m", "myapp.db", "current"], capture_output=True, text=True)
    print(done.returncode, flush=True)
    sys.stdin.readline()  # until told, reap nothing: a postmaster that dies stays a zombie
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a subreaper needs Linux's prctl")
def test_a_dead_or_zombie_postmaster_is_seen_and_restarted(tmp_path, cli, monkeypatch):
    data_dir = tmp_path / "pgdata"
    monkeypatch.setenv("MYAPP_DATA_DIR", str(data_dir))
    env = {**os.environ, "MYAPP_DATA_DIR": str(data_dir)}
    env.pop("MYAPP_DATABASE_URL", None)
    helper = subprocess.Popen([sys.executable, "-c", _SUBREAPER], env=env, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert helper.stdout.readline().strip() == "0"
        first = int(pid_file(data_dir)[0])
        assert psutil.Process(first).ppid() == helper.pid
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while psutil.Process(first).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.05)
        assert psutil.Process(first).status() == psutil.STATUS_ZOMBIE
        assert (data_dir / "postmaster.pid").exists()  # the pid file alone would say it runs

        said = cli("embedded", "status")
        assert said.status == 0 and said.out.startswith("not running:"), said
        assert f"pid {first}" in said.out and "zombie" in said.out

        again = cli("current")
        assert again.status == 0, again
        second = embedded.status(data_dir)
        assert second.running and second.pid != first
        assert cli("embedded", "status").out.startswith(f"running: pid {second.pid}")
    finally:
        helper.communicate("reap\n", timeout=30)
        embedded.stop(data_dir)

    # A postmaster that died and was reaped leaves only its pid file: also not running.
    assert cli("current").status == 0
    third = embedded.status(data_dir).pid
    os.kill(third, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while embedded.status(data_dir).running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not embedded.status(data_dir).running
    assert cli("current").status == 0
    assert embedded.status(data_dir).running
    embedded.stop(data_dir)


def test_a_server_open_to_others_is_restarted_privately(tmp_path, cli, monkeypatch):
    """As older versions left it: a socket anyone may open. The next command restarts the server."""
    data_dir = tmp_path / "pgdata"
    monkeypatch.setenv("MYAPP_DATA_DIR", str(data_dir))
    try:
        first = embedded.ensure_running(data_dir)
        (data_dir / embedded.SOCKET_NAME).chmod(0o777)
        found = embedded.status(data_dir)
        assert found.state == "not private" and "open to other users" in str(found)
        assert cli("current").status == 0
        again = embedded.status(data_dir)
        assert again.running and again.pid != first.pid
        assert stat.S_IMODE((data_dir / embedded.SOCKET_NAME).stat().st_mode) == 0o700
    finally:
        embedded.stop(data_dir)


def test_pg_hba_is_rewritten_at_every_start(tmp_path):
    """A cluster initialised with trust (as older versions did) gets peer-for-the-owner at its next start."""
    data_dir = tmp_path / "pgdata"
    try:
        embedded.ensure_running(data_dir)
        embedded.stop(data_dir)
        (data_dir / "pg_hba.conf").write_text("local all all trust\nhost all all 0.0.0.0/0 trust\n")
        embedded.ensure_running(data_dir)
        assert "trust" not in (data_dir / "pg_hba.conf").read_text()
        assert stat.S_IMODE((data_dir / "pg_hba.conf").stat().st_mode) == 0o600
    finally:
        embedded.stop(data_dir)


def _python_for_nobody():
    """An interpreter (and path) that ``nobody`` can run myapp with, or None."""
    import myapp
    import sqlalchemy

    paths = os.pathsep.join(str(Path(m.__file__).resolve().parent.parent) for m in (myapp, sqlalchemy))
    for python in dict.fromkeys([sys.executable, os.path.realpath(sys.executable), "/usr/bin/python3"]):
        if as_nobody("env", f"PYTHONPATH={paths}", python, "-c", "import myapp.db.cli, psycopg2",
                     cwd="/").returncode == 0:
            return python, paths
    return None


@needs_root
def test_a_non_root_owner_runs_its_own_server_and_root_is_not_let_in():
    found = _python_for_nobody()
    if found is None:
        pytest.skip("no Python interpreter that the user nobody can run myapp with")
    python, paths = found
    parent = open_parent()
    home = parent / "home"
    home.mkdir()
    os.chown(home, _nobody_uid(), -1)
    data_dir = home / "pgdata"
    env = ["env", f"HOME={home}", f"MYAPP_DATA_DIR={data_dir}", f"PYTHONPATH={paths}"]
    try:
        done = as_nobody(*env, python, "-m", "myapp.db", "current", cwd="/")
        assert done.returncode == 0, done.stderr
        assert data_dir.stat().st_uid == _nobody_uid()
        assert (data_dir / "pg_ident.conf").read_text().split()[-3:] == ["owner", "nobody", "postgres"]
        refused = subprocess.run([psql(), "-h", str(data_dir), "-U", "postgres", "-d", "postgres", "-c", "SELECT 1"],
                                 capture_output=True, text=True)
        assert refused.returncode != 0 and "Peer authentication failed" in refused.stderr, refused.stderr
    finally:
        as_nobody(*env, python, "-m", "myapp.db", "embedded", "stop", cwd="/")
        shutil.rmtree(parent, ignore_errors=True)


def _nobody_uid() -> int:
    import pwd

    return pwd.getpwnam("nobody").pw_uid


def test_a_data_directory_below_a_file_is_one_line(tmp_path, cli, monkeypatch):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("MYAPP_DATA_DIR", str(tmp_path / "file" / "pgdata"))
    for command in (["current"], ["embedded", "status"], ["embedded", "stop"]):
        assert_one_line(cli(*command), "is a file, not a folder")


def test_a_folder_that_is_not_a_cluster_is_refused_and_left_alone(tmp_path, cli, monkeypatch):
    folder = tmp_path / "notes"
    folder.mkdir(mode=0o755)
    (folder / "todo.txt").write_text("buy milk")
    monkeypatch.setenv("MYAPP_DATA_DIR", str(folder))
    assert_one_line(cli("current"), "holds no PostgreSQL cluster")
    info = folder.stat()
    assert stat.S_IMODE(info.st_mode) == 0o755 and info.st_uid == os.geteuid()
    assert sorted(p.name for p in folder.iterdir()) == ["todo.txt"]


@needs_root
@pytest.mark.skipif(not shutil.which("useradd"), reason="creating the system user needs useradd")
def test_processes_creating_the_server_user_at_once_all_get_one_lasting_user():
    """Two useradd runs at once can lose an entry (the first server's uid then has no name)."""
    import pwd

    name = f"myapp_race_{os.getpid()}"
    script = textwrap.dedent(f"""
        import warnings; warnings.simplefilter("ignore")
        from myapp.db.runtime import embedded
        embedded.ROOT_SERVER_USER = {name!r}
        print(embedded._server_user().uid)
    """)
    try:
        procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
                 for _ in range(6)]
        uids = {int(p.communicate(timeout=60)[0]) for p in procs}
        assert len(uids) == 1 and pwd.getpwnam(name).pw_uid in uids
    finally:
        subprocess.run(["userdel", "-r", name], capture_output=True)
