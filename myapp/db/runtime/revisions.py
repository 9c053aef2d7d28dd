"""The revision files read and checked, so that a broken history is one line naming the files.

Alembic builds its revision map from `load`: each file imported on its own
(an import error names its file), then the graph checked before Alembic sees
it: one file per revision id, every ``down_revision`` present, no cycle. The
checks on what a command may do with the history (one head to migrate to, a
database at revisions the files know) live here too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, Iterator, List

from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import to_tuple

from .. import compat
from ..errors import INTERRUPTS, DivergentHeads, DuplicateRevision, HistoryError, describe_exception


def load(script: ScriptDirectory) -> Iterator[Script]:
    """Every revision of ``script``, or a `HistoryError` naming the file that breaks the history."""
    found: Dict[str, Script] = {}
    for path in compat.revision_files(script):
        try:
            revision = compat.load_revision(script, path)
        except SyntaxError as exc:
            raise HistoryError(
                f"revision file {path} has a syntax error, line {exc.lineno}: {exc.msg}; fix that file"
            ) from exc
        except RevisionError as exc:  # a revision that names itself as its parent
            raise HistoryError(f"revision file {path} is not a usable revision: {exc}; fix that file") from exc
        except BaseException as exc:
            if isinstance(exc, INTERRUPTS):
                raise
            raise HistoryError(
                f"revision file {path} fails to import: {describe_exception(exc)}; fix that file "
                "(--traceback shows where)"
            ) from exc
        if revision is None:
            continue
        if revision.revision in found:
            raise DuplicateRevision(revision.revision, (found[revision.revision].path, revision.path))
        found[revision.revision] = revision
    _check_parents(found)
    _check_cycles(found)
    return iter(found.values())


def _downs(revision: Script) -> tuple:
    return to_tuple(revision.down_revision, default=())


def _check_parents(found: Dict[str, Script]) -> None:
    for revision in found.values():
        for down in _downs(revision):
            if down not in found:
                raise HistoryError(
                    f"revision {revision.revision} ({revision.path}) has down_revision {down!r}, which no "
                    "revision file declares; restore that file, or fix the down_revision"
                )


def _check_cycles(found: Dict[str, Script]) -> None:
    """Refuse revisions whose down_revisions loop back to themselves, naming one loop."""
    children: Dict[str, List[str]] = {rev: [] for rev in found}
    waiting = {rev: len(set(_downs(sc))) for rev, sc in found.items()}
    for rev, sc in found.items():
        for down in set(_downs(sc)):
            children[down].append(rev)
    ready = [rev for rev, n in waiting.items() if n == 0]
    while ready:
        for child in children[ready.pop()]:
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    stuck = [rev for rev, n in waiting.items() if n > 0]
    if not stuck:
        return
    # Walk down from a stuck revision; every stuck one has a stuck parent, so this comes round.
    path, at = [], stuck[0]
    while at not in path:
        path.append(at)
        at = next(down for down in _downs(found[at]) if waiting.get(down, 0) > 0)
    loop = path[path.index(at):] + [at]
    names = ", ".join(Path(found[rev].path).name for rev in loop[:-1])
    raise HistoryError(
        f"the revisions form a cycle, {' -> '.join(loop)} (each down_revision names the next; files "
        f"{names} in {Path(found[at].path).parent}); fix the down_revision that closes the loop"
    )


def files(script: ScriptDirectory, revisions: Iterable[str]) -> List[Path]:
    return [Path(script.get_revision(rev).path) for rev in revisions]


def heads(script: ScriptDirectory, versions: Path) -> List[str]:
    """The heads of the history in ``versions``: from the revision index when it can tell (no revision
    module imported), else from Alembic's revision map (which names whatever breaks the history)."""
    from . import index

    found = index.cached(versions)
    if found is not None and found.whole():
        return sorted(found.heads())
    return sorted(script.get_heads())


def single_head(script: ScriptDirectory, doing: str, alternative: str = "") -> str:
    """The one head of the history, or `DivergentHeads` naming every head and its file."""
    heads = script.get_heads()
    if len(heads) > 1:
        heads = sorted(heads)
        raise DivergentHeads(heads, files(script, heads), doing, alternative)
    return heads[0] if heads else None


def check_known(script: ScriptDirectory, at: Iterable[str]) -> None:
    """Refuse a database whose version table names a revision that no file declares."""
    at = tuple(at)
    if not at:
        return
    known = {sc.revision for sc in script.walk_revisions()}
    unknown = [rev for rev in at if rev not in known]
    if unknown:
        raise HistoryError(
            f"the database is at revision {', '.join(unknown)}, which no revision file in {script.versions} "
            "declares: another version of the app migrated it; restore that revision's file, "
            "or run that version"
        )
