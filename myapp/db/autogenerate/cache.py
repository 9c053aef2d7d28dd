"""The table comparison, remembered: an autogenerate skips the models and Alembic's reflection when nothing moved.

An autogenerate (``makemigrations``, its ``--check``, ``migrate --check``)
that finds the tables in sync remembers it, in a per-user cache file (0600,
in a 0700 folder), under two keys:

* the code that decided it: every module file loaded once the models were
  built (the app's models and what they import, SQLAlchemy, Alembic, the
  framework, the plugins; not the registry's modules, imported later, so a
  new view in the registry's file keeps the memo), by size and modification
  time for installed files and by a hash of the bytes for the others, the
  comparison functions Alembic had registered, and the Python running it;
* the database's tables: `myapp.db.catalog.fingerprint` of every schema on
  the search path (an unqualified reflection sees them all) and those the
  models name, with the server's version and the search path. Any DDL on a
  table, a column, an index, a constraint, a sequence, a comment or a
  column's type gives another fingerprint.

The next autogenerate with the same code then reads the fingerprint (one
query); if it is one found in sync, the tables are in sync again, so it
imports no model and reflects nothing, and compares only the replaceable
objects (which have records of their own). Anything else runs the whole
comparison.

It is used only where it is sound: the app names its metadata by import
path (``"package.models:metadata"``) and that module is not imported yet (so
the process builds it from its files), the app's env.py is the framework's
generic one (a custom env.py may configure anything), and the transaction
has written nothing yet (a row version is then a committed transaction's).
The fingerprint is taken before the comparison reads anything, so a change
committed meanwhile can only make the remembered fingerprint one never seen
again. It assumes what Django's and Alembic's autodetectors assume: the
models are a function of their source files (not of environment variables).
``MYAPP_DB_TABLE_CACHE=off`` turns it off.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import sysconfig
from stat import S_ISREG
from pathlib import Path
from typing import List, Optional, Set

from .. import compat
from ..errors import ConfigurationError
from ..catalog import fingerprint
from ..runtime import index, interrupts, records, scripts

VERSION = 3
VARIABLE = "MYAPP_DB_TABLE_CACHE"
#: Fingerprints kept per app (databases and tenant schemas checked with the same code).
KEEP = 64


def _cache_file(app, migrations_dir: Path) -> Path:
    key = hashlib.sha256(repr((app.label, app._metadata, str(migrations_dir.resolve()))).encode()).hexdigest()[:24]
    return index.cache_dir() / f"tables-{key}.json"


def enabled() -> bool:
    """Whether ``MYAPP_DB_TABLE_CACHE`` leaves the memo on (unset, on/off, 1/0, yes/no, true/false)."""
    value = os.environ.get(VARIABLE, "").strip().lower()
    if value in ("", "on", "1", "yes", "true"):
        return True
    if value in ("off", "0", "no", "false"):
        return False
    raise ConfigurationError(f"{VARIABLE}={os.environ[VARIABLE]!r} is neither on nor off; "
                             f"set it to off (or on), or unset it")


@functools.lru_cache(maxsize=None)
def _installed_roots() -> List[str]:
    paths = sysconfig.get_paths()
    roots = {os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    return sorted(root + os.sep for root in roots)


def _loaded_files() -> Set[str]:
    found, real = set(), {}  # folders resolved once each: a path's every component costs an lstat
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            folder, name = os.path.split(path)
            if folder not in real:
                real[folder] = os.path.realpath(folder)
            path = os.path.join(real[folder], name)
            if os.path.isfile(path):
                found.add(path)
    return found


def _state(path: str, installed: List[str]) -> Optional[list]:
    """``[path, size, mtime_ns, sha256 or None]``: installed files by their stat, the others by their bytes
    (regular files only)."""
    try:
        stat = os.stat(path)
        if not S_ISREG(stat.st_mode):
            return None
        digest = None
        if not _installed(path, installed):
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None
    return [path, stat.st_size, stat.st_mtime_ns, digest]


def _installed(path: str, installed: List[str]) -> bool:
    return any(path.startswith(root) for root in installed)


def _folders(files, installed: List[str]) -> List[list]:
    """``[folder, mtime_ns]`` of each folder holding a file that is not installed: a module added there (a
    models package that finds its modules by listing its folder) changes its time."""
    found = []
    for folder in sorted({os.path.dirname(path) for path in files if not _installed(path, installed)}):
        try:
            found.append([folder, os.stat(folder).st_mtime_ns])
        except OSError:
            return []
    return found


def _unchanged(files, folders) -> bool:
    """Whether every file and folder of a cache entry is as it was then."""
    installed = _installed_roots()
    if not all(_state(entry[0], installed) == entry for entry in files):
        return False
    try:
        return all(os.stat(folder).st_mtime_ns == mtime for folder, mtime in folders)
    except OSError:
        return False


def _valid(cached) -> bool:
    """Whether a cache file's contents have the shape this version writes (anything else is a miss)."""
    def strings(value, optional=False):
        return isinstance(value, list) and all(isinstance(v, str) or (optional and v is None) for v in value)

    if not isinstance(cached, dict) or cached.get("version") != VERSION:
        return False
    files, folders = cached.get("files"), cached.get("folders")
    comparators = cached.get("comparators")
    return (isinstance(comparators, list) and all(strings(c) and len(c) == 3 for c in comparators)
            and strings(cached.get("clean"))
            and strings(cached.get("table_schemas"), optional=True)
            and isinstance(files, list) and bool(files) and all(
                isinstance(f, list) and len(f) == 4 and isinstance(f[0], str) and type(f[1]) is int
                and type(f[2]) is int and (f[3] is None or isinstance(f[3], str)) for f in files)
            and isinstance(folders, list) and all(
                isinstance(f, list) and len(f) == 2 and isinstance(f[0], str) and type(f[1]) is int for f in folders))


def _read(path: Path) -> Optional[dict]:
    """The cache file's contents, when it is this user's own, not writable by others, and well formed."""
    try:
        with open(path, "rb") as f:
            stat = os.fstat(f.fileno())
            if not S_ISREG(stat.st_mode) or stat.st_uid != os.geteuid() or stat.st_mode & 0o022:
                return None
            cached = json.loads(f.read())
    except (OSError, ValueError, RecursionError):
        return None
    return cached if _valid(cached) else None


def _generic_env(migrations_dir: Path) -> bool:
    try:
        return records.checksum(str(scripts.env_file(migrations_dir))) == records.checksum(str(scripts.SCAFFOLD / "env.py"))
    except (OSError, SyntaxError):
        return False


def _comparators() -> Optional[List[str]]:
    """The comparison functions an autogenerate through the framework's env.py runs (ours installed); None
    when another tool's sits in Alembic's global registry: it would run on a hit too, and see no models."""
    from . import comparator

    comparator.install()
    found = compat.autogenerate_comparators()
    if found is None or any(not plugin and not name.startswith("myapp.db.") for plugin, _, name in found):
        return None
    return found


def _python() -> list:
    return [sys.version, sys.executable, list(sys.path)]


class Memo:
    """The remembered table comparisons of one app, for one autogenerate."""

    def __init__(self, path: Path, search_path: List[str], server: str):
        self.path, self.search_path, self.server = path, search_path, server
        self.table_schemas: Optional[List[Optional[str]]] = None
        self.taken: Optional[str] = None
        self.files: Set[str] = set()

    @classmethod
    def open(cls, app, migrations_dir: Path, conn) -> Optional["Memo"]:
        """The memo for an autogenerate of ``app`` on ``conn``; None where it would not be sound (see the module)."""
        spec = app._metadata
        if not enabled():
            return None
        if not isinstance(spec, str) or spec.partition(":")[0] in sys.modules:
            return None
        clean, server, search_path = fingerprint.taken_clean(conn)
        if not clean or not search_path or not _generic_env(migrations_dir):
            return None
        return cls(_cache_file(app, migrations_dir), search_path, server)

    @functools.cached_property
    def _written(self) -> Optional[dict]:
        """The cache file's contents when this Python and these comparators wrote them (its files not
        checked yet), read once per memo; else None."""
        cached = _read(self.path)
        if cached is None or cached.get("python") != _python() or cached["comparators"] != _comparators():
            return None
        return cached

    @functools.cached_property
    def _same_code(self) -> Optional[dict]:
        """The cache file's contents when they were written by the code running now (its files, the
        comparators, the Python), checked once per memo; else None."""
        cached = self._written
        return cached if cached is not None and _unchanged(cached["files"], cached["folders"]) else None

    def _schemas(self, table_schemas) -> List[str]:
        """Every schema a reflection of the models' tables reads: the search path's and those they name."""
        return sorted({*self.search_path, *(s for s in table_schemas if s)})

    def _fingerprint(self, conn, table_schemas) -> str:
        schemas = self._schemas(table_schemas)
        return f"{self.server}|{json.dumps(self.search_path)}|{json.dumps(schemas)}|{fingerprint.tables(conn, schemas)}"

    def in_sync(self, conn) -> Optional[List[Optional[str]]]:
        """The schemas the models' tables name, when this code found these tables in sync before; else None."""
        cached = self._written
        if cached is None:
            return None
        with interrupts.meanwhile(lambda: self._same_code):  # the files are checked while the server reads
            taken = self._fingerprint(conn, cached["table_schemas"])
        if self._same_code is None or taken not in cached["clean"]:
            return None
        return cached["table_schemas"]

    def take(self, conn, metadata) -> None:
        """Take the fingerprint of the tables the models name, before the comparison reads them, and the
        code loaded by then (the models built): the registry's modules, imported later, are not in it."""
        from .compare import table_schemas

        self.files = _loaded_files()
        self.table_schemas = sorted(table_schemas(metadata), key=lambda s: (s is not None, s or ""))
        self.taken = self._fingerprint(conn, self.table_schemas)

    def remember(self) -> None:
        """Remember that the comparison found the tables in sync (after `take`)."""
        comparators = _comparators()
        if self.taken is None or comparators is None:
            return
        installed = _installed_roots()
        cached = self._same_code
        same = cached is not None and cached["comparators"] == comparators and cached["table_schemas"] == self.table_schemas
        # The same code (a command may load modules another does not): keep what it found, add these files.
        known = {entry[0]: entry for entry in cached["files"]} if same else {}
        for path in self.files - set(known):
            state = _state(path, installed)
            if state is None:
                return
            known[path] = state
        clean = [k for k in cached["clean"] if k != self.taken] if same else []
        index.write_private(self.path, {
            "version": VERSION, "python": _python(), "comparators": comparators, "files": sorted(known.values()),
            "folders": _folders(known, installed), "table_schemas": self.table_schemas,
            "clean": [*clean[-(KEEP - 1):], self.taken],
        })
