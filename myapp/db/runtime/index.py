"""A cheap index of an app's revision files: ids, parents and source hashes, without importing them.

Building Alembic's revision map imports every revision module, which for a
long history costs more than the whole start-up. A no-op ``migrate`` only
needs to know the heads and that the applied files are unchanged: the index
reads each file's ``revision`` and ``down_revision`` assignments (literals, read as
`history` reads them) and hashes its bytes, and keeps that in a per-user cache file, reused for
every file whose size and modification time are unchanged. Whenever a file
is not plain (no literal ids, branch labels, dependencies), there is no
index and callers take the full path.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Dict, Iterable, NamedTuple, Optional, Set, Tuple

VERSION = 4
_DATA_STEP = re.compile(rb"^def data_upgrade\s*\(", re.M)


class Entry(NamedTuple):  # a tuple, not a dataclass: a long history builds a thousand on every start-up
    revision: str
    down: Tuple[str, ...]
    path: str
    size: int
    mtime_ns: int
    source_hash: str
    checksum: str  # records.checksum: comments, blank lines and docstrings do not count
    data: bool  # defines a data step (data_upgrade)


class Index:
    """The revisions of one versions folder, by id."""

    def __init__(self, entries: Dict[str, Entry]):
        self.entries = entries

    def heads(self) -> Set[str]:
        parents = {d for e in self.entries.values() for d in e.down}
        return set(self.entries) - parents

    def whole(self) -> bool:
        """Every ``down_revision`` names a revision here and every revision is below a head (no cycle):
        what Alembic's revision map would accept, so `heads` are its heads."""
        return self.ancestors(self.heads()) == set(self.entries)

    def ancestors(self, heads: Iterable[str]) -> Optional[Set[str]]:
        """``heads`` and every revision below them; None when one is not in the index."""
        found, stack = set(), list(heads)
        while stack:
            rev = stack.pop()
            if rev in found:
                continue
            entry = self.entries.get(rev)
            if entry is None:
                return None
            found.add(rev)
            stack.extend(entry.down)
        return found


def cache_dir() -> Path:
    """The per-user folder of the framework's caches (``$XDG_CACHE_HOME/myapp.db``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "myapp.db"


def _cache_file(versions: Path) -> Path:
    key = hashlib.sha256(str(versions.resolve()).encode()).hexdigest()[:24]
    return cache_dir() / f"revisions-{key}.json"


def _parse(data: bytes) -> Optional[Tuple[str, Tuple[str, ...]]]:
    """(revision, down revisions) of a plain file; None for branch labels, dependencies or a value
    that is not a literal."""
    from .history import Unreadable, parse

    try:
        revision, labelled = parse(data.decode("utf-8"))
    except (Unreadable, UnicodeDecodeError):
        return None
    if labelled or revision.depends_on:
        return None
    return revision.id, revision.parents


def load(versions: Path) -> Optional[Index]:
    """The index of ``versions``, from the cache where files are unchanged; None when a file is not plain."""
    cache_path = _cache_file(versions)
    try:
        cached = json.loads(cache_path.read_text())
        if cached.get("version") != VERSION:
            cached = {}
    except (OSError, ValueError):
        cached = {}
    # [file name, revision, down, size, mtime_ns, source hash, checksum, has a data step]
    known = {e[0]: e for e in cached.get("entries", ())}
    entries: Dict[str, Entry] = {}
    changed = False
    try:
        files = sorted((p for p in os.scandir(versions) if p.name.endswith(".py") and p.is_file()), key=lambda p: p.name)
    except OSError:
        return None
    for item in files:
        stat = item.stat()
        old = known.get(item.name)
        if old and old[3] == stat.st_size and old[4] == stat.st_mtime_ns:
            entry = Entry(old[1], tuple(old[2]), item.path, stat.st_size, stat.st_mtime_ns, old[5], old[6], old[7])
        else:
            data = Path(item.path).read_bytes()
            parsed = _parse(data)
            if parsed is None:
                if b"revision" not in data:
                    continue  # not a revision (a helper module): Alembic would skip it too
                return None
            from .records import checksum

            try:
                summed = checksum(item.path)
            except SyntaxError:
                return None  # Alembic will say where
            entry = Entry(parsed[0], parsed[1], item.path, stat.st_size, stat.st_mtime_ns,
                          hashlib.sha256(data).hexdigest(), summed, bool(_DATA_STEP.search(data)))
            changed = True
        if entry.revision in entries:
            return None  # two files, one id: let Alembic say so
        entries[entry.revision] = entry
    if changed or len(known) != len(entries):
        _save(cache_path, entries)
    return Index(entries)


def _save(cache_path: Path, entries: Dict[str, Entry]) -> None:
    write_private(cache_path, {"version": VERSION, "entries": [
        [Path(e.path).name, e.revision, list(e.down), e.size, e.mtime_ns, e.source_hash, e.checksum, e.data]
        for e in entries.values()
    ]})


#: A cache file not written for this long is removed when another is written (its folder may be gone).
STALE_SECONDS = 30 * 24 * 3600


def write_private(path: Path, payload) -> None:
    """Write ``payload`` as JSON, private to this user (a folder 0700, a file 0600), atomically; never fail.

    A new file also clears out the folder's stale ones (`STALE_SECONDS`): one per migrations folder
    and app ever used, and a test run or a CI job uses many.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        new = not path.exists()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-")  # created 0600
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f)
        os.replace(tmp, path)
    except OSError:
        return
    if new:
        prune(path.parent)


def prune(folder: Path, now: Optional[float] = None) -> None:
    """Remove the framework's cache files in ``folder`` not written for `STALE_SECONDS`; never fail."""
    import time

    limit = (time.time() if now is None else now) - STALE_SECONDS
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if (name.startswith(("revisions-", "tables-")) and name.endswith(".json")) or name.startswith(
                (".revisions-", ".tables-")):  # a cache file, or a temporary one a killed process left
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < limit:
                    os.unlink(entry.path)
            except OSError:
                continue


_loaded: Dict[Tuple[str, int], Optional[Index]] = {}


def cached(versions: Path) -> Optional[Index]:
    """`load`, once per process while the folder's listing is unchanged."""
    try:
        key = (str(versions), versions.stat().st_mtime_ns)
    except OSError:
        return None
    if key not in _loaded:
        _loaded[key] = load(versions)
    return _loaded[key]


def hashes(path: str) -> Tuple[str, str]:
    """(source hash, checksum) of one revision file: from the index when it knows the file as it is."""
    from .records import checksum, source_hash

    found = cached(Path(path).parent)
    if found is not None:
        for entry in found.entries.values():
            if entry.path == str(path):
                stat = os.stat(path)
                if (stat.st_size, stat.st_mtime_ns) == (entry.size, entry.mtime_ns):
                    return entry.source_hash, entry.checksum
                break
    return source_hash(path), checksum(path)


def at_head_unchanged(conn, versions: Path) -> Optional[tuple]:
    """The database's heads when it is at the history's head with every applied file unchanged (a no-op
    migrate), read without loading a revision module; None when that is not so, or not known this way."""
    from . import recorder, records

    found = load(versions)
    if found is None or not found.whole() or any(e.data for e in found.entries.values()):
        return None  # a broken history, or data steps that may be pending: the full path says so
    heads = recorder.current_heads(conn)
    if not heads or set(heads) != found.heads():
        return None
    applied = found.ancestors(heads)
    recorded = records.source_hashes(conn) if applied is not None else None
    if not recorded:
        return None
    for rev in applied:
        if recorded.get(rev) != found.entries[rev].source_hash:
            return None
    return heads
