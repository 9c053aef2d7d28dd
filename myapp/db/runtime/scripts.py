"""An app's revision scripts: its Alembic `Config` built in code, and its `ScriptDirectory`, once per process.

An app's migrations folder needs only ``versions/``. The framework supplies
the environment (``scaffold/env.py``) and the revision template
(``scaffold/script.py.mako``); an ``env.py`` or ``script.py.mako`` in the
app's folder takes the place of the framework's.
"""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
from typing import Dict, Optional, Tuple

from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import load_python_file

from ..errors import ConfigurationError
from . import revisions

#: The framework's env.py and revision template.
SCAFFOLD = Path(__file__).resolve().parent / "scaffold"


class AppScripts(ScriptDirectory):
    """A `ScriptDirectory` whose env.py may live apart from its template (the app's or the framework's)."""

    def __init__(self, *args, env_dir: Path, **kw):
        super().__init__(*args, **kw)
        self.env_dir = env_dir

    def _load_revisions(self):
        # Alembic's own loop, replaced (see compat.revision_files): broken files are named.
        return revisions.load(self)

    def run_env(self) -> None:
        load_python_file(self.env_dir, "env.py")

    @property
    def env_py_location(self) -> str:
        return str(self.env_dir / "env.py")


def docstring(message) -> str:
    """``message`` as the body of a triple-quoted string literal that reads back exactly as ``message``.

    The revision template writes the message with it, so no message can end
    the docstring early or slip code into the file: backslashes and quotes are
    escaped, anything unprintable written as an escape sequence.
    """
    out = []
    for ch in str(message):
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii"))
    return "".join(out)


def _own(migrations_dir: Path, name: str) -> Path:
    return migrations_dir if (migrations_dir / name).is_file() else SCAFFOLD


def env_file(migrations_dir: Path) -> Path:
    """The env.py that runs for ``migrations_dir``: its own, else the framework's."""
    return _own(migrations_dir, "env.py") / "env.py"


def config(migrations_dir: Path, *, output_buffer=None) -> Config:
    """An Alembic `Config` for ``migrations_dir``; no alembic.ini is read."""
    # quiet: Alembic's own "Generating ..." lines would land on stdout.
    cfg = Config(output_buffer=output_buffer, cmd_opts=Namespace(quiet=True, x=None))
    cfg.set_main_option("script_location", str(_own(migrations_dir, "script.py.mako")))
    cfg.set_main_option("version_locations", str(migrations_dir / "versions"))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    cfg.set_main_option("truncate_slug_length", "40")
    return cfg


def _listing(migrations_dir: Path):
    try:
        return (migrations_dir / "versions").stat().st_mtime_ns
    except OSError:
        return None


#: (migrations folder, the modification time of its versions/) -> its ScriptDirectory.
_cache: Dict[Tuple[Path, Optional[int]], AppScripts] = {}


def scripts(migrations_dir: Path) -> AppScripts:
    """The `ScriptDirectory` of ``migrations_dir``, shared by every command in this process.

    Its revision map is built on first use (every file imported and checked,
    a broken history a `HistoryError`) and then kept, so a process that runs
    several commands reads and imports the revision files only once; a file
    added to or removed from ``versions/`` makes a new one (but see `adopt`).
    A no-op migrate never builds it (see `myapp.db.runtime.index`).
    """
    key = (migrations_dir, _listing(migrations_dir))
    found = _cache.get(key)
    if found is None:
        found = _cache[key] = _new(migrations_dir)
    return found


def adopt(migrations_dir: Path, script: AppScripts) -> None:
    """Keep ``script`` as the folder's `ScriptDirectory` after it wrote a revision into ``versions/``.

    Alembic adds the revision it writes to the map it wrote it with, so that map
    is the folder as it now is: the lint that follows makemigrations need not
    import every revision again (the new one holds an operation per object).
    """
    _cache[(migrations_dir, _listing(migrations_dir))] = script


def forget(migrations_dir: Path) -> None:
    """Drop the folder's cached `ScriptDirectory` objects (a revision written into one was removed again)."""
    for key in [key for key in _cache if key[0] == migrations_dir]:
        del _cache[key]


def _new(migrations_dir: Path) -> AppScripts:
    versions = migrations_dir / "versions"
    if not versions.is_dir():
        raise ConfigurationError(
            f"no migrations in {migrations_dir}: it has no versions/ folder; "
            "create it, or point the App (or its _MIGRATIONS_DIR variable) at the right folder"
        )
    return AppScripts(
        str(_own(migrations_dir, "script.py.mako")),
        version_locations=[str(versions)],
        file_template="%(rev)s_%(slug)s",
        truncate_slug_length=40,
        messaging_opts={"quiet": True},  # Alembic's own "Generating ..." lines would land on stdout
        env_dir=_own(migrations_dir, "env.py"),
    )



scripts.cache_clear = _cache.clear  # forget every cached ScriptDirectory (tests)
