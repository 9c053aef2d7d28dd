"""The app's replaceable objects (views, functions, materialized views).

The registry is empty until replaceable objects land (see docs/decisions.md);
``registry`` is the iterable, name-indexed collection later code fills.
"""

registry = ()
