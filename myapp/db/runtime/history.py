"""An app's revision graph read from the revision files' text, without importing them or Alembic.

The start-up guard (`guard.ensure_at_head`) must cost next to nothing above
the connect, and importing Alembic and every revision costs well over 100 ms.
Alembic's revision files declare their place in the history as literals
(``revision = "b7d41e9a0c52"``, ``down_revision = ("a", "b")``), which are read
here as text, never run. A history this reader cannot follow
(a value that is not a literal, a reference to a branch label, a file with no
``revision``) is read through Alembic instead, so the answer is always
Alembic's.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Set, Tuple

# The files Alembic reads as revisions (alembic.script.base._only_source_rev_file).
_REVISION_FILE = re.compile(r"(?!\.\#|__init__)(.*\.py)$")
_ASSIGNMENT = re.compile(r"^(revision|down_revision|branch_labels|depends_on)\s*(?::[^=\n]*)?=(.*)$", re.M)
_STRING = re.compile(r"""[rRuU]?(?:"([^"\\\n]*)"|'([^'\\\n]*)')""")
_DOCSTRING = re.compile(r"\A\s*(?:#[^\n]*\n\s*)*[rRuU]?(\"\"\"|''')(.*?)\1", re.S)


class Revision:
    """One revision: its id, the revisions it follows (``down_revision``) and depends on, its message."""

    __slots__ = ("id", "parents", "depends_on", "message")  # a plain class: a dataclass costs the import 1 ms

    def __init__(self, id: str, parents: Tuple[str, ...], depends_on: Tuple[str, ...] = (), message: str = ""):
        self.id, self.parents, self.depends_on, self.message = id, parents, depends_on, message

    def __repr__(self) -> str:
        return f"Revision({self.id!r}, parents={self.parents!r})"

    def __str__(self) -> str:
        return f"{self.id} ({self.message})" if self.message else self.id


class History:
    """An app's revisions and how they follow each other."""

    def __init__(self, revisions: Iterable[Revision]):
        self.revisions: Dict[str, Revision] = {r.id: r for r in revisions}
        followed = {p for r in self.revisions.values() for p in r.parents}
        self.heads: Tuple[str, ...] = tuple(sorted(set(self.revisions) - followed))

    def ancestors(self, ids: Iterable[str]) -> Set[str]:
        """``ids`` and every revision they follow or depend on, directly or not."""
        seen: Set[str] = set()
        todo = [i for i in ids if i in self.revisions]
        while todo:
            rev = todo.pop()
            if rev not in seen:
                seen.add(rev)
                r = self.revisions[rev]
                todo.extend(r.parents + r.depends_on)
        return seen

    def ordered(self, ids: Iterable[str]) -> List[Revision]:
        """The revisions ``ids``, each after every revision it follows (oldest first)."""
        wanted, done, result = set(ids), set(), []

        def visit(rev: str) -> None:
            if rev in done:
                return
            done.add(rev)
            r = self.revisions[rev]
            for before in sorted(r.parents + r.depends_on):
                visit(before)
            if rev in wanted:
                result.append(r)

        for rev in sorted(wanted):
            visit(rev)
        return result

    def missing(self, current: Sequence[str]) -> List[Revision]:
        """The revisions a database at ``current`` has not applied, oldest first."""
        return self.ordered(self.ancestors(self.heads) - self.ancestors(current))


class Unreadable(Exception):
    """This file is not plain enough to read without running it."""


def _string(text: str) -> str:
    m = _STRING.fullmatch(text.strip())
    if m is None:
        raise Unreadable(text)
    return m.group(1) if m.group(1) is not None else m.group(2)


def _literal(first_line: str, text: str, start: int):
    """None, a string or a tuple/list of strings: ``first_line``, continued from ``text[start:]``.

    Only these literals are read (what Alembic writes), with no ``ast`` compile: anything
    else is `Unreadable` and the history goes through Alembic.
    """
    value = first_line.split("#", 1)[0].strip()  # revision ids and labels never hold a '#'
    if value == "None":
        return None
    if value[:1] not in ("(", "["):
        return _string(value)
    close = ")" if value[0] == "(" else "]"
    for line in text[start:].split("\n", 50)[1:50]:
        if close in value:
            break
        value += " " + line.split("#", 1)[0].strip()
    inner, _, after = value[1:].partition(close)
    if after.strip():
        raise Unreadable(first_line)
    return tuple(_string(part) for part in inner.split(",") if part.strip())


def _ids(value) -> Tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else value


def parse(text: str) -> Tuple[Revision, bool]:
    """The revision a file's text declares, and whether it names branch labels.

    `Unreadable` when the text is not plain: no literal ``revision``, or a value
    that is not a literal.
    """
    found = {}
    for m in _ASSIGNMENT.finditer(text):
        found[m.group(1)] = _literal(m.group(2), text, m.end())  # the last assignment wins, as in Python
    if not isinstance(found.get("revision"), str):
        raise Unreadable("no literal revision id")
    doc = _DOCSTRING.match(text)
    message = " ".join(re.split(r"\n\s*\n", doc.group(2).strip())[0].split()) if doc else ""
    revision = Revision(found["revision"], _ids(found.get("down_revision")), _ids(found.get("depends_on")), message)
    return revision, bool(found.get("branch_labels"))


def _read_file(path: str) -> Revision:
    with open(path, encoding="utf-8") as f:
        return parse(f.read())[0]


def _fast(versions: Path) -> History:
    revisions = [
        _read_file(entry.path)
        for entry in sorted(os.scandir(versions), key=lambda e: e.name)
        if _REVISION_FILE.match(entry.name) and entry.is_file()
    ]
    history = History(revisions)
    known = set(history.revisions)
    if len(known) != len(revisions) or any(
        ref not in known for r in revisions for ref in r.parents + r.depends_on
    ):
        raise Unreadable("a duplicate revision or a reference that is not a revision id")
    if history.ancestors(history.heads) != known:
        raise Unreadable("revisions below no head: a cycle")  # Alembic's map names it
    return history


class _AlembicHistory(History):
    """The same answers from Alembic's own revision map, for a history `_fast` cannot read."""

    def __init__(self, migrations_dir: Path):
        from . import scripts

        self.script = scripts.scripts(migrations_dir)
        chain = list(reversed(list(self.script.walk_revisions())))
        super().__init__(Revision(sc.revision, _ids(sc.down_revision), (), " ".join((sc.doc or "").split()))
                         for sc in chain)
        self.heads = tuple(sorted(self.script.get_heads()))
        self._order = [sc.revision for sc in chain]

    def ancestors(self, ids: Iterable[str]) -> Set[str]:
        from .plan import applied_revisions

        return applied_revisions(self.script, tuple(i for i in ids if i in self.revisions))

    def ordered(self, ids: Iterable[str]) -> List[Revision]:
        wanted = set(ids)
        return [self.revisions[r] for r in self._order if r in wanted]


_cache: Dict[Path, Tuple[tuple, History]] = {}


def read(migrations_dir: Path) -> History:
    """The history in ``migrations_dir``/versions; kept while no file there changes (size or mtime)."""
    versions = migrations_dir / "versions"
    try:
        stamp = tuple(sorted((e.name, st.st_mtime_ns, st.st_size)
                             for e in os.scandir(versions) for st in (e.stat(),)))
    except FileNotFoundError:
        stamp = None
    cached = _cache.get(versions)
    if cached is not None and stamp is not None and cached[0] == stamp:
        return cached[1]
    try:
        history = _fast(versions) if stamp is not None else _AlembicHistory(migrations_dir)
    except (Unreadable, UnicodeDecodeError):
        history = _AlembicHistory(migrations_dir)
    if stamp is not None:
        _cache[versions] = (stamp, history)
    return history
