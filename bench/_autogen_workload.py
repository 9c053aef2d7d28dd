"""The workload of bench/autogenerate.py: N replaceable objects, contributed by a plugin.

bench/autogenerate.py copies this file into a temporary site directory as the
module ``bench_autogen_workload``, beside a ``*.dist-info`` whose entry point
(group ``myapp.db.plugins``) names it, and loads only that plugin
(``MYAPP_DB_LOAD_PLUGINS``). Every run of a case imports the same code; the
environment says what to build:

* ``BENCH_AUTOGEN_N``: the number of objects (half views, half functions;
  an odd N has one more function than views);
* ``BENCH_AUTOGEN_VARIANT``: ``base`` (default), ``changed`` (the last
  view, which no other view selects from, has a different WHERE clause) or
  ``changed_mid`` (the same change to a view in the middle of a chain, with
  views that depend on it); ``changed_view()`` names the changed view;
* ``BENCH_AUTOGEN_ORDER``: the order of the objects in the registry:
  ``dependency`` (default: views and functions alternate, each view after
  the view it selects from) or ``shuffled`` (a fixed pseudo-random
  permutation, so a tool must find the creation order itself).

Views: view i (0-based) selects from the app's table ``networks`` for
i < 10, else from view i - 10, so the views form 10 chains of depth
ceil(N / 20). Functions are small PL/pgSQL functions with a loop.

The peers' Alembic environments (written by bench/autogenerate.py) import
this module too and convert the same objects to their own classes, so every
tool compares identical definitions.
"""

from __future__ import annotations

import os
import random

from myapp.db import ReplaceableFunction, ReplaceableView, hookimpl

N_VARIABLE = "BENCH_AUTOGEN_N"
VARIANT_VARIABLE = "BENCH_AUTOGEN_VARIANT"
VARIANTS = ("base", "changed", "changed_mid")
ORDER_VARIABLE = "BENCH_AUTOGEN_ORDER"
ORDERS = ("dependency", "shuffled")
CHAINS = 10  # views 0..9 select from networks; view i >= 10 from view i - 10

_VIEW = """
    SELECT id, name, description, created_at, country_code
    FROM {source}
    WHERE id > {low} AND name <> 'bench {i}'
"""

# The changed view keeps its columns, so views that select from it still work.
_CHANGED_VIEW = """
    SELECT id, name, description, created_at, country_code
    FROM {source}
    WHERE id >= {low} AND name <> 'bench {i}'
"""

_FUNCTION = """
    RETURNS integer
    LANGUAGE plpgsql IMMUTABLE
    AS $$
    DECLARE
        total integer := 0;
    BEGIN
        FOR step IN 1 .. x LOOP
            total := total + step * {j} + y;
        END LOOP;
        RETURN total;
    END
    $$
"""


def counts(n: int) -> tuple:
    """(views, functions) for N objects."""
    return n // 2, n - n // 2


def view_name(i: int) -> str:
    return f"bench_v{i:04d}"


def function_name(j: int) -> str:
    return f"bench_f{j:04d}"


def changed_view(n: int, variant: str = "changed") -> int:
    """The index of the view a variant changes: the last view (``changed``), or one mid-chain (``changed_mid``).

    The last view has no dependents; the mid-chain one has some when N >= 40.
    """
    views, _ = counts(n)
    return views - 1 if variant == "changed" else views // 2 - 1


def view_source(i: int) -> str:
    """What view i selects from."""
    return "networks" if i < CHAINS else view_name(i - CHAINS)


def objects(n: int, variant: str = "base", order: str = "dependency") -> list:
    """The N objects in the registry's order (see the module's docstring)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown workload variant {variant!r}")
    if order not in ORDERS:
        raise ValueError(f"unknown workload order {order!r}")
    views, functions = counts(n)
    changed = changed_view(n, variant) if variant != "base" else None
    view_objects = [
        ReplaceableView(
            view_name(i),
            (_CHANGED_VIEW if i == changed else _VIEW).format(source=view_source(i), low=i, i=i),
        )
        for i in range(views)
    ]
    function_objects = [
        ReplaceableFunction(f"{function_name(j)}(x integer, y integer)", _FUNCTION.format(j=j))
        for j in range(functions)
    ]
    found = []
    for k in range(max(views, functions)):  # v0 f0 v1 f1 ...
        found.extend(view_objects[k:k + 1] + function_objects[k:k + 1])
    if order == "shuffled":
        random.Random(20261123 + n).shuffle(found)
    return found


def from_environment() -> list:
    return objects(
        int(os.environ.get(N_VARIABLE, "20")),
        os.environ.get(VARIANT_VARIABLE, "base"),
        os.environ.get(ORDER_VARIABLE, "dependency"),
    )


@hookimpl
def replaceable_objects():
    return from_environment()
