"""The comparison that takes no lock an app could queue behind: records first, PostgreSQL only for what changed.

Every view, materialized view and function the operations (or bootstrap)
created is recorded in ``myapp_db_objects``: a hash of what was declared and
md5 of PostgreSQL's text of it right after. A declared object whose hash
matches its record, and whose stored text still matches the record (nobody
edited it in psql), is in sync: no DDL at all. Only the others are shown to
PostgreSQL, and not by replacing the stored objects: a temporary copy of each
(``pg_temp``, gone with the transaction) is created and read back, which locks
nothing an app query waits for (an ACCESS SHARE on the tables it reads, and
``lock_timeout`` bounds even that). When that cannot settle it (a table
change in the same comparison, a plugin's kind, a database without records,
an object the copy cannot be built for), `settle` returns None and the full
comparison runs.

On a read-only session nothing can be created at all: objects whose declared
hash or stored text differ from the record are then reported as changed
without asking PostgreSQL to normalise them (white space is already folded in
the hash), and the full comparison is never run.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import sqlalchemy as sa

from ..catalog import objects as catalog
from ..errors import LOCK_NOT_AVAILABLE, ObjectError, caused_by
from ..replaceable import KINDS, registry, stored
from ..replaceable.base import ReplaceableObject, expand, source_hash
from ..replaceable.matview import MatviewIndex, ReplaceableMatview
from ..replaceable.ops import CreateReplaceableObjectOp, ReplaceReplaceableObjectOp
from ..replaceable.view import ReplaceableView
from ..runtime import interrupts, records

TEMP = "pg_temp"
#: ``connection.info`` key: the caller creates the new objects' copies itself, after the comparison
#: (`create_pending`): a comparison that finds only new objects then sends no DDL.
DEFER = "myapp_db_defer_creates"
#: ``connection.info`` key: the new objects a deferred comparison found, in the order of its operations.
PENDING = "myapp_db_pending_creates"
#: ``connection.info`` key: a recorded view's text is as recorded, on rows that moved (`records.refresh_rows`).
ROWS_MOVED = "myapp_db_rows_moved"


def read_only(conn) -> bool:
    return conn.scalar(sa.text("SHOW transaction_read_only")) == "on"


def _key(obj, schema: str, identity: str) -> Tuple[str, str, str, str]:
    return (obj.kind, schema, obj.name, identity)


def _grants_and_indexes_hold(stored, declared) -> bool:
    everything = getattr(stored, "all_privileges", set())
    held = getattr(stored, "held", {})
    if held is None:  # the default ACL, read in summary: whether it covers the grants is for the full read
        if declared.grants:
            return False
    else:
        for role, privileges in declared.grants.items():
            if not expand(privileges, everything) <= held.get(role, set()):
                return False
    if isinstance(declared, ReplaceableMatview):
        have = {(ix.name, ix.columns, ix.unique) for ix in stored.indexes}
        return all((ix.name, ix.columns, ix.unique) in have for ix in declared.indexes)
    return True


def _temporary(obj: ReplaceableObject) -> ReplaceableObject:
    """A copy of ``obj`` in this session's temporary schema; a materialized view's SELECT as a plain view."""
    if isinstance(obj, ReplaceableMatview):
        return ReplaceableView(obj.name, obj.definition, schema=TEMP)
    temp = copy.copy(obj)
    temp.schema = TEMP
    temp.grants = {}
    return temp


def _body(obj) -> str:
    """What two versions are compared by, without the schema the object lives in."""
    return getattr(obj, "body_fingerprint", None) or obj.fingerprint


@dataclass
class _Summary:
    """A stored object as `catalog.objects.summaries` describes it: enough to tell whether it is in sync."""

    oid: int
    kind: str
    name: str
    identity: tuple  # (kind, schema, name, identity arguments), as the full objects have it
    stored_hash: Optional[str]  # md5 of PostgreSQL's text; a view's is read only when its rows moved
    catalog_row: Optional[str]  # a view's rows' version (`myapp.db.catalog.sql.ROW_VERSION`)
    held: Optional[Dict[str, set]]  # effective privileges by grantee; None: the default ACL
    all_privileges: set
    indexes: tuple

    @classmethod
    def of(cls, row: dict) -> "_Summary":
        held = None
        if not row["default_acl"]:
            held = {}
            for grantee, privilege, _ in row["privileges"]:
                held.setdefault(grantee, set()).add(privilege)
        indexes = tuple(MatviewIndex(name, columns, unique)
                        for name, unique, columns, partial in row["indexes"] if not partial)
        return cls(row["oid"], row["kind"], row["name"], (row["kind"], row["schema"], row["name"], row["identity"]),
                   row["stored_hash"], row["catalog_row"], held,
                   {p for g, p, _ in row["default_privileges"] if g == row["owner"]},
                   indexes)


def _in_full(conn, summaries: List[_Summary], unqualified_in: Optional[str]) -> Optional[Dict[int, object]]:
    """``{id(summary): the stored object read in full}``; None when one is gone meanwhile."""
    relations = [s.oid for s in summaries if s.kind != "function"]
    functions = [s.oid for s in summaries if s.kind == "function"]
    full = {(obj.kind == "function", obj.oid): obj for obj in stored(conn, relations, functions)}
    found = {}
    for summary in summaries:
        obj = full.get((summary.kind == "function", summary.oid))
        if obj is None or obj.identity != summary.identity:
            return None
        obj.unqualified = obj.identity[1] == unqualified_in
        found[id(summary)] = obj
    return found


def settle(conn, declared: Sequence[ReplaceableObject], schemas: Sequence[str], table_ops,
           kinds: Sequence[type], current: str, unqualified_in: Optional[str] = None
           ) -> Optional[Tuple[list, list, list]]:
    """``(creates and replaces in creation order, the stored objects no longer declared, declared objects found
    in sync but not recorded)`` from the records, or None when the full comparison must decide.

    The catalog is read in summary (`catalog.objects.summaries`); only the stored objects that differ
    from their records, or are no longer declared, are read in full.
    :param current: the current schema (where objects declared without one live).
    :param unqualified_in: the schema whose stored objects the revision names without a schema.
    """
    if table_ops or any(k not in KINDS for k in kinds) or any(o.kind not in records.RECORDED_KINDS for o in declared):
        return None
    recorded = records.read_objects(conn)
    if recorded is None:
        return None
    hashes: Dict[int, str] = {}

    def hash_declared() -> None:
        for obj in declared:
            hashes[id(obj)] = source_hash(obj)

    stored_by_name: Dict[tuple, list] = {}
    with interrupts.meanwhile(hash_declared):  # the declarations are hashed while the server reads the catalog
        for summary in map(_Summary.of, catalog.summaries(conn, schemas)):
            stored_by_name.setdefault(summary.identity[:3], []).append(summary)
    matched: Dict[int, object] = {}
    creates, pairs, unread = [], [], []
    for obj in declared:
        found = stored_by_name.get((obj.kind, obj.schema or current, obj.name), [])
        if len(found) > 1:
            return None  # overloads: let PostgreSQL say which one the declaration is
        if not found:
            creates.append(obj)
            continue
        summary = found[0]
        matched[id(summary)] = summary
        record = recorded.get(_key(obj, summary.identity[1], summary.identity[3]))
        if record is not None and summary.stored_hash is None:  # a view: is its text the one recorded?
            if record[2] is not None and record[2] == summary.catalog_row:
                summary.stored_hash = record[1]  # its rows never moved since
            else:
                unread.append((summary, record))
        pairs.append((obj, summary, record))
    if unread:
        hashes = catalog.view_hashes(conn, [summary.oid for summary, _ in unread])
        for summary, record in unread:
            summary.stored_hash = hashes.get(summary.oid)
            if summary.stored_hash == record[1]:
                conn.info[ROWS_MOVED] = True  # the same text on new rows: a check may record them
    candidates = []
    for obj, summary, record in pairs:
        if (record is not None and record[:2] == (hashes.get(id(obj)) or source_hash(obj), summary.stored_hash)
                and _grants_and_indexes_hold(summary, obj)):
            continue  # in sync, and nobody edited it since
        candidates.append((obj, summary))
    removed = [s for group in stored_by_name.values() for s in group if id(s) not in matched]
    if not (creates or candidates or removed):
        return [], [], []
    full = _in_full(conn, removed + [summary for _, summary in candidates], unqualified_in)
    if full is None:
        return None
    removed = [full[id(s)] for s in removed]
    candidates = [(obj, full[id(summary)]) for obj, summary in candidates]
    if not (creates or candidates):
        return [], removed, []
    if read_only(conn):
        changes = [CreateReplaceableObjectOp(obj) for obj in creates]
        changes += [ReplaceReplaceableObjectOp(obj, stored) for obj, stored in candidates]
        return changes, removed, []
    wanted = {id(obj) for obj in creates} | {id(obj) for obj, _ in candidates}
    to_create = [obj for obj in declared if id(obj) in wanted]
    if not candidates and conn.info.get(DEFER):  # nothing to read back: the copies can wait
        order = registry.dependency_order(to_create)
        conn.info[PENDING] = order
        return [CreateReplaceableObjectOp(obj) for obj in order], removed, []
    normalised = _normalise(conn, to_create, kinds, read_back=bool(candidates))
    if normalised is None:
        return None
    order, copies = normalised
    stored_of = {id(obj): stored for obj, stored in candidates}
    changes, unrecorded = [], []
    for obj in order:
        stored = stored_of.get(id(obj))
        if stored is None:
            changes.append(CreateReplaceableObjectOp(obj))
            continue
        if _body(copies[id(obj)]) != _body(stored) or not _grants_and_indexes_hold(stored, obj):
            changes.append(ReplaceReplaceableObjectOp(obj, stored))
        else:
            unrecorded.append(obj)  # in sync after all (re-styled text, or a record missing)
    return changes, removed, unrecorded


def _normalise(conn, objects: List[ReplaceableObject], kinds, *,
               read_back: bool = True) -> Optional[Tuple[list, Dict[int, object]]]:
    """Create temporary copies of ``objects`` (which finds an order they can be created in) and read them
    back (only when some are to be compared: new ones need no reading); None when that cannot be done."""
    temps = [_temporary(obj) for obj in objects]
    originals = {id(t): o for t, o in zip(temps, objects)}
    savepoint = conn.begin_nested()
    try:
        conn.execute(sa.text("SET LOCAL lock_timeout = '2s'"))  # never wait long, even for ACCESS SHARE
        created = registry.create_all(conn, temps)
        temp_schema = conn.scalar(sa.text("SELECT nspname FROM pg_namespace WHERE oid = pg_my_temp_schema()"))
        read = {}
        # The kinds the copies are of (a matview's is a view); each read once.
        wanted = [k for k in dict.fromkeys((ReplaceableView, *kinds)) if k is not ReplaceableMatview
                  and any(isinstance(t, k) for t in temps)] if read_back else []
        for kind in wanted:
            for obj in kind.from_database(conn, [temp_schema]):
                read[(obj.kind, obj.name)] = obj
    except ObjectError as exc:
        if caused_by(exc, LOCK_NOT_AVAILABLE):
            raise
        return None
    except sa.exc.DBAPIError as exc:
        if caused_by(exc, LOCK_NOT_AVAILABLE):
            raise  # the comparison says who held it (`myapp.db.autogenerate.revision`)
        return None
    finally:
        savepoint.rollback()
    copies = {}
    for temp in created if read_back else ():
        obj = originals[id(temp)]
        found = read.get((temp.kind, temp.name))
        if found is None:
            return None
        copies[id(obj)] = found
    return [originals[id(t)] for t in created], copies


def create_pending(conn, objects: Sequence[ReplaceableObject]) -> bool:
    """Whether temporary copies of ``objects`` can be created in the order given, all at once (then rolled
    back): what `_normalise` would have found, for a comparison deferred with `DEFER`. A lock waited
    for longer than the lock timeout raises; any other error is False (the full comparison then
    finds an order, or names the object that cannot be created)."""
    statements = registry.create_statements(_temporary(obj) for obj in objects)
    savepoint = conn.begin_nested()
    try:
        conn.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
        registry.execute_all(conn, statements)
        return True
    except sa.exc.DBAPIError as exc:
        if caused_by(exc, LOCK_NOT_AVAILABLE):
            raise
        return False
    finally:
        savepoint.rollback()


def record_unrecorded(conn, objects: Sequence[ReplaceableObject]) -> None:
    """Record declared objects found in sync that had no record (databases made before the records)."""
    for statement in records.ensure_objects(conn):
        conn.execute(statement)
    for obj in objects:
        for statement in records.record_object(obj, create=False):
            conn.execute(statement)
