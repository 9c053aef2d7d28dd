"""The table comparison, remembered: a check skips the models and Alembic's reflection when nothing moved.

A ``--check`` (``makemigrations --check``, ``migrate --check``) that finds the
tables in sync remembers it, in a per-user cache file (0600, in a 0700
folder), under two keys:

* the code that decided it: every module file loaded once the models were
  built (the app's models and what they import, SQLAlchemy, Alembic, the
  framework, the plugins; not the registry's modules, imported later, so a
  new view in the registry's file keeps the memo), by size and modification
  time for installed files and by a hash of the bytes for the others, the
  comparison functions Alembic had registered, and the Python running it;
* the database's tables: `myapp.db.catalog.fingerprint` of the schemas the
  models name (and the current one), with the server's version and the
  current schema. Any DDL on a table, a column, an index, a constraint, a
  sequence, a comment or a column's type gives another fingerprint.

The next check with the same code then reads the fingerprint (one query); if
it is one found in sync, the tables are in sync again, so it imports no model
and reflects nothing, and compares only the replaceable objects (which have
records of their own). Anything else runs the whole comparison.

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

import hashlib
import json
import os
import sys
import sysconfig
from pathlib import Path
from typing import List, Optional, Set

from .. import compat
from ..catalog import fingerprint
from ..runtime import index, records, scripts

VERSION = 1
VARIABLE = "MYAPP_DB_TABLE_CACHE"
#: Fingerprints kept per app (databases and tenant schemas checked with the same code).
KEEP = 64


def _cache_file(app, migrations_dir: Path) -> Path:
    key = hashlib.sha256(repr((app.label, app._metadata, str(migrations_dir.resolve()))).encode()).hexdigest()[:24]
    return index.cache_dir() / f"tables-{key}.json"


def _installed_roots() -> List[str]:
    paths = sysconfig.get_paths()
    roots = {os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    return sorted(root + os.sep for root in roots)


def _loaded_files() -> Set[str]:
    found = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path.endswith(".py"):
            found.add(os.path.realpath(path))
    return found


def _state(path: str, installed: List[str]) -> Optional[list]:
    """``[path, size, mtime_ns, sha256 or None]``: installed files by their stat, the others by their bytes."""
    try:
        stat = os.stat(path)
        digest = None
        if not any(path.startswith(root) for root in installed):
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None
    return [path, stat.st_size, stat.st_mtime_ns, digest]


def _unchanged(files) -> bool:
    """Whether every file of a cache entry is as it was then."""
    if not isinstance(files, list) or not files:
        return False
    installed = _installed_roots()
    return all(isinstance(entry, list) and entry and isinstance(entry[0], str) and _state(entry[0], installed) == entry
               for entry in files)


def _generic_env(migrations_dir: Path) -> bool:
    try:
        return records.checksum(str(scripts.env_file(migrations_dir))) == records.checksum(str(scripts.SCAFFOLD / "env.py"))
    except (OSError, SyntaxError):
        return False


def _comparators() -> Optional[List[str]]:
    """The comparison functions an autogenerate through the framework's env.py runs (ours installed)."""
    from . import comparator

    comparator.install()
    return compat.autogenerate_comparators()


def _python() -> list:
    return [sys.version, sys.executable, list(sys.path)]


class Memo:
    """The remembered table comparisons of one app, for one check."""

    def __init__(self, path: Path, app, schema: str, server: str):
        self.path, self.app, self.schema, self.server = path, app, schema, server
        self.table_schemas: Optional[List[Optional[str]]] = None
        self.taken: Optional[str] = None
        self.files: Set[str] = set()

    @classmethod
    def open(cls, app, migrations_dir: Path, conn) -> Optional["Memo"]:
        """The memo for a check of ``app`` on ``conn``; None where it would not be sound (see the module)."""
        spec = app._metadata
        if os.environ.get(VARIABLE, "").lower() in ("off", "0", "no", "false"):
            return None
        if not isinstance(spec, str) or spec.partition(":")[0] in sys.modules:
            return None
        clean, server, schema = fingerprint.taken_clean(conn)
        if not clean or schema is None or not _generic_env(migrations_dir):
            return None
        return cls(_cache_file(app, migrations_dir), app, schema, server)

    def _key(self, schemas) -> str:
        names = sorted({self.schema, *(s for s in schemas if s)})
        return f"{self.server}|{self.schema}|{json.dumps(names)}"

    def in_sync(self, conn) -> Optional[List[Optional[str]]]:
        """The schemas the models' tables name, when this code found these tables in sync before; else None."""
        try:
            cached = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(cached, dict) or cached.get("version") != VERSION or cached.get("python") != _python():
            return None
        if cached.get("comparators") != _comparators():
            return None
        if not _unchanged(cached.get("files")):
            return None
        schemas = cached.get("table_schemas")
        key = self._key(schemas)
        if f"{key}|{fingerprint.tables(conn, self._schemas(schemas))}" not in cached.get("clean", ()):
            return None
        return schemas

    def _schemas(self, table_schemas) -> List[str]:
        return sorted({self.schema, *(s for s in table_schemas if s)})

    def take(self, conn, metadata) -> None:
        """Take the fingerprint of the tables the models name, before the comparison reads them, and the
        code loaded by then (the models built): the registry's modules, imported later, are not in it."""
        self.files = _loaded_files()
        self.table_schemas = sorted({t.schema for t in metadata.tables.values()}, key=lambda s: (s is not None, s or ""))
        self.taken = f"{self._key(self.table_schemas)}|{fingerprint.tables(conn, self._schemas(self.table_schemas))}"

    def remember(self) -> None:
        """Remember that the comparison found the tables in sync (after `take`)."""
        comparators = _comparators()
        if self.taken is None or comparators is None:
            return
        installed = _installed_roots()
        try:
            cached = json.loads(self.path.read_text())
        except (OSError, ValueError):
            cached = {}
        same = (isinstance(cached, dict) and cached.get("version") == VERSION and cached.get("python") == _python()
                and cached.get("comparators") == comparators and cached.get("table_schemas") == self.table_schemas
                and _unchanged(cached.get("files")))
        # The same code (a command may load modules another does not): keep what it found, add these files.
        known = {entry[0]: entry for entry in cached.get("files", ())} if same else {}
        for path in self.files - set(known):
            state = _state(path, installed)
            if state is None:
                return
            known[path] = state
        clean = [k for k in cached.get("clean", ()) if k != self.taken] if same else []
        index.write_private(self.path, {
            "version": VERSION, "python": _python(), "comparators": comparators, "files": sorted(known.values()),
            "table_schemas": self.table_schemas, "clean": [*clean[-(KEEP - 1):], self.taken],
        })
