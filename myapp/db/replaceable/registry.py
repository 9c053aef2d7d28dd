"""The registry: the app's current replaceable objects, and creating them all in dependency order."""

from __future__ import annotations

import re
from collections import deque
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import sqlalchemy as sa

from ..errors import ObjectError, first_line, sqlstate
from .base import ReplaceableObject


#: SQLSTATEs of "relation/function does not exist": maybe just not created yet.
_MISSING = ("42P01", "42883")


class Registry:
    """An ordered collection of replaceable objects, iterable and looked up by name.

    ``registry["station_positions"]`` or ``registry["reporting.station_positions"]``.
    """

    def __init__(self, objects: Iterable[ReplaceableObject] = ()):
        self._objects: Dict[Tuple[str, str, str], ReplaceableObject] = {}
        for obj in objects:
            self.add(obj)

    def add(self, obj: ReplaceableObject) -> None:
        """Add an object; a second object with the same kind, schema and name is an error."""
        if obj.key in self._objects and self._objects[obj.key] != obj:
            raise ValueError(f"the registry already has a different {obj.label}")
        self._objects[obj.key] = obj

    def __iter__(self) -> Iterator[ReplaceableObject]:
        return iter(self._objects.values())

    def __len__(self) -> int:
        return len(self._objects)

    def __getitem__(self, name: str) -> ReplaceableObject:
        schema, _, bare = name.rpartition(".")
        found = [o for o in self if o.name == bare and (not schema or (o.schema or "") == schema)]
        if len(found) != 1:
            raise KeyError(f"{'no' if not found else 'more than one'} object named {name!r}")
        return found[0]

    def get(self, name: str, default=None) -> Optional[ReplaceableObject]:
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name) -> bool:
        return self.get(name) is not None


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


def dependency_order(objects: Sequence[ReplaceableObject]) -> List[ReplaceableObject]:
    """``objects`` with each after the others whose names its definition mentions (a guess from the
    text, stable, cycles left as they are): most registries then create in one go."""
    by_name: Dict[str, List[int]] = {}
    for i, obj in enumerate(objects):
        by_name.setdefault(obj.name.lower(), []).append(i)
    needs = []
    for i, obj in enumerate(objects):
        named = by_name.keys() & _WORD.findall(obj.definition.lower())
        needs.append({j for w in named for j in by_name[w] if j != i})
    order, state = [], [0] * len(objects)  # 0 new, 1 visiting, 2 done
    for root in range(len(objects)):
        stack = [(root, iter(sorted(needs[root])))]
        if state[root]:
            continue
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                state[node] = 2
                order.append(node)
            elif state[child] == 0:
                state[child] = 1
                stack.append((child, iter(sorted(needs[child]))))
    return [objects[i] for i in order]


def create_statements(objects: Iterable[ReplaceableObject]) -> list:
    """The statements that create ``objects`` in the order given: each one's CREATE, then what follows it."""
    return [s for obj in objects for s in (obj.create(), *obj.after_create())]


def execute_all(conn, statements) -> None:
    """Send statements in one round trip (one each for asyncpg, whose prepared statements hold one)."""
    if conn.dialect.driver == "asyncpg":
        for statement in statements:
            conn.execute(statement)
    elif statements:
        compiled = [str(s.compile(dialect=conn.dialect)) for s in statements]
        conn.exec_driver_sql(";\n".join(compiled))


def create_all(conn, objects: Iterable[ReplaceableObject]) -> List[ReplaceableObject]:
    """Create every object, each after those it depends on; return them in creation order.

    First all at once, in the order their definitions suggest (`dependency_order`), in one
    round trip. When that fails, the order is found by trying, each try inside a savepoint. An object that
    fails because a relation or function it uses does not exist yet waits for
    the object of that name and is tried again right after it is created, so
    each object is tried about twice whatever order they come in. An object
    that can never be created is an error naming it.
    """
    ordered = dependency_order(list(objects))
    savepoint = conn.begin_nested()
    try:
        execute_all(conn, create_statements(ordered))
        savepoint.commit()
        return ordered
    except sa.exc.DBAPIError:
        savepoint.rollback()
    pending = deque(ordered)
    uncreated: Dict[str, int] = {}  # bare name -> objects of that name not created yet
    for obj in pending:
        uncreated[obj.name] = uncreated.get(obj.name, 0) + 1
    waiting: Dict[str, List[Tuple[ReplaceableObject, Exception]]] = {}
    created, failed = [], []
    while pending:
        obj = pending.popleft()
        savepoint = conn.begin_nested()
        try:
            for statement in (obj.create(), *obj.after_create()):
                conn.execute(statement)
        except sa.exc.DBAPIError as exc:
            savepoint.rollback()
            missing = _missing_name(exc)
            if uncreated.get(missing):  # the name may be another schema's: wait for them all
                waiting.setdefault(missing, []).append((obj, exc))
            else:
                failed.append((obj, exc))
            continue
        savepoint.commit()
        created.append(obj)
        uncreated[obj.name] -= 1
        pending.extendleft(o for o, _ in reversed(waiting.pop(obj.name, [])))
    failed += [entry for entries in waiting.values() for entry in entries]
    if failed:
        # Name an object whose error is its own, not a missing dependency's.
        obj, exc = next(
            ((o, e) for o, e in failed if sqlstate(e) not in _MISSING), failed[0]
        )
        raise ObjectError(
            obj.label,
            f"cannot create {obj.label} from the registry: {first_line(exc)}; "
            "fix its definition (in the app's objects, or the plugin that contributes it)",
        )
    return created


def _missing_name(exc: sa.exc.DBAPIError) -> Optional[str]:
    """The bare name in 'relation "s.x" does not exist' or 'function x(integer) does not exist'."""
    if sqlstate(exc) not in _MISSING:
        return None
    found = re.search(r'(?:relation|function) "?([^"(]+)', first_line(exc))
    return found.group(1).rpartition(".")[2] if found else None
