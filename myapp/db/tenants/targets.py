"""Which databases and which tenant schemas a fan-out works on.

Databases: the one the settings name, or ``--urls FILE`` (one URL per line)
and the ``database_urls`` plugin hook. Schemas, in each database: those
given (``--schema``), and with ``--all-schemas`` those ``--schemas-query``
returns or else the ``tenant_schemas`` hook names. Each name is checked
(`settings.schema_name`) before anything runs in it.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

import sqlalchemy as sa

from .. import plugins
from ..errors import ConfigurationError, DatabaseError, UsageError, first_line
from ..settings import Settings, mask, masked, parse_url, schema_name


def read_urls(path: str) -> List[str]:
    """The URLs in a file (``-``: standard input), one a line; blank lines and ``#`` comments skipped."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"cannot read --urls {path}: {exc.strerror or exc}; give a file with one URL a line") from None
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            parse_url(line)
        except ConfigurationError as exc:
            raise ConfigurationError(f"line {number} of {path}: {exc}") from None
        found.append(line)
    if not found:
        raise UsageError(f"--urls {path} holds no URL; write one database URL a line")
    return found


def _listed(results: Iterable, hook: str, kind: type, what: str) -> list:
    found = []
    for result in results:
        try:
            items = list(result)
        except TypeError:
            raise ConfigurationError(f"a plugin's hook {hook} returned {result!r}, not an iterable of names; "
                                     "fix that plugin") from None
        for item in items:
            if not isinstance(item, kind):
                raise ConfigurationError(f"a plugin's hook {hook} returned {item!r}, which is not {what}; "
                                         "fix that plugin")
            if item not in found:
                found.append(item)
    return found


def databases(base: Settings, urls: Sequence[str] = (), *, all_databases: bool = False) -> List[Settings]:
    """The databases to work on: each URL given and, with ``all_databases``, the hook's; else ``base``'s."""
    found = list(dict.fromkeys(urls))
    if all_databases:
        named = plugins.load(base.app).call("database_urls", app=base.app)
        for url in _listed(named, "database_urls", (str, sa.URL), "a database URL"):
            text = url if isinstance(url, str) else url.render_as_string(hide_password=False)
            if text not in found:
                found.append(text)
        if not found and not urls:
            raise UsageError("--all-databases: no plugin names any database (hook database_urls); "
                             "install one, or give --urls FILE")
    if not found:
        return [base]
    return [replace(base, url=parse_url(url), connection=None, engine=None) for url in found]


def describe(settings: Settings) -> str:
    """A database as reports name it: its URL with the password masked."""
    if settings.url is not None:
        return masked(settings.url)
    if settings.engine is not None:
        return masked(settings.engine.url)
    return f"embedded:{settings.app.database_name}"


def schemas(conn, app, names: Sequence[str] = (), *, all_schemas: bool = False,
            query: Optional[str] = None) -> List[str]:
    """The tenant schemas to work on in the database behind ``conn``, in order, each once.

    ``query`` is SQL the operator wrote (``--schemas-query``); it runs in a
    READ ONLY transaction of its own and its first column is taken.
    """
    found = list(names)
    if all_schemas:
        if query is not None:
            found += _queried(conn, query)
        else:
            named = plugins.load(app).call("tenant_schemas", app=app, connection=conn)
            if not named:
                raise UsageError("--all-schemas: no plugin names the tenant schemas (hook tenant_schemas); "
                                 "give --schemas-query SQL or --schema NAME")
            found += _listed(named, "tenant_schemas", str, "a schema name")
            if conn.in_transaction():
                conn.rollback()  # a hook's reads: no snapshot held while tenants migrate
    return [schema_name(name, app) for name in dict.fromkeys(found)]


def _queried(conn, query: str) -> List[str]:
    if conn.in_transaction():
        conn.rollback()
    try:
        with conn.begin():
            conn.execute(sa.text("SET TRANSACTION READ ONLY"))
            # the operator's SQL as written: no bind parameters, so ':' and '%' mean what they say
            rows = conn.exec_driver_sql(query, execution_options={"no_parameters": True}).fetchall()
    except sa.exc.DBAPIError as exc:
        raise DatabaseError(first_line(exc), f"--schemas-query failed: {mask(first_line(exc))}; "
                                             "it must be a SELECT returning schema names") from None
    except sa.exc.ResourceClosedError:
        raise UsageError("--schemas-query returned no rows at all: it must be a SELECT returning schema names") from None
    names = []
    for row in rows:
        if not row or not isinstance(row[0], str):
            raise UsageError(f"--schemas-query returned {tuple(row)!r}: its first column must be a schema name")
        names.append(row[0])
    return names
