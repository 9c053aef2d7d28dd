"""For every lint rule, an unsafe revision and its safe alternative (used by tests/test_lint.py and bench/lint.py).

Each case is a revision body on top of the app's head, where ``networks``
exists (name varchar(100), description text).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

NON_ATOMIC = "atomic = False\n"


@dataclass(frozen=True)
class Case:
    rule: str
    unsafe: str
    safe: str
    unsafe_extra: str = ""
    safe_extra: str = ""
    server_version: Optional[int] = None  # lint both for this version


CASES: List[Case] = [
    Case("index-without-concurrently",
         'op.create_index("ix_networks_description", "networks", ["description"])',
         'op.create_index("ix_networks_description", "networks", ["description"], postgresql_concurrently=True)',
         safe_extra=NON_ATOMIC),
    Case("volatile-default",
         'op.add_column("networks", sa.Column("token", sa.Text, server_default=sa.text("gen_random_uuid()::text")))',
         'op.add_column("networks", sa.Column("token", sa.Text, server_default=sa.text("\'none\'")))'),
    Case("set-not-null",
         'op.alter_column("networks", "description", nullable=False)',
         'op.execute("ALTER TABLE networks ADD CONSTRAINT ck_networks_description CHECK (description IS NOT NULL) NOT VALID")\n'
         'op.execute("ALTER TABLE networks VALIDATE CONSTRAINT ck_networks_description")\n'
         'op.alter_column("networks", "description", nullable=False)'),
    Case("constraint-without-not-valid",
         'op.create_foreign_key("fk_networks_self", "networks", "networks", ["id"], ["id"])',
         'op.execute("ALTER TABLE networks ADD CONSTRAINT fk_networks_self FOREIGN KEY (id) REFERENCES networks (id) NOT VALID")'),
    Case("column-type-rewrite",
         'op.alter_column("networks", "id", type_=sa.BigInteger)',
         'op.alter_column("networks", "name", type_=sa.String(200))'),
    Case("drop-column",
         'op.drop_column("networks", "description")',
         'op.create_table("scratch", sa.Column("id", sa.Integer, primary_key=True), sa.Column("note", sa.Text))\n'
         'op.drop_column("scratch", "note")'),
    Case("drop-table",
         'op.drop_table("observations")',
         'op.create_table("scratch", sa.Column("id", sa.Integer, primary_key=True))\nop.drop_table("scratch")'),
    Case("rename",
         'op.alter_column("networks", "description", new_column_name="summary")',
         'op.add_column("networks", sa.Column("summary", sa.Text))'),
    Case("concurrently-in-transaction",
         'op.execute("CREATE INDEX CONCURRENTLY ix_networks_description ON networks (description)")',
         'op.execute("CREATE INDEX CONCURRENTLY ix_networks_description ON networks (description)")',
         safe_extra=NON_ATOMIC),
    Case("blocking-maintenance",
         'op.execute("VACUUM FULL networks")',
         'op.execute("VACUUM networks")',
         unsafe_extra=NON_ATOMIC, safe_extra=NON_ATOMIC),
    Case("unique-without-index",
         'op.create_unique_constraint("uq_networks_description", "networks", ["description"])',
         'op.execute("CREATE UNIQUE INDEX CONCURRENTLY ux_networks_description ON networks (description)")\n'
         'op.execute("ALTER TABLE networks ADD CONSTRAINT uq_networks_description UNIQUE USING INDEX ux_networks_description")',
         safe_extra=NON_ATOMIC),
    Case("enum-value-in-transaction",
         'op.execute("CREATE TYPE mood AS ENUM (\'calm\')")\nop.execute("ALTER TYPE mood ADD VALUE \'tense\'")',
         'op.execute("CREATE TYPE mood AS ENUM (\'calm\')")\nop.execute("ALTER TYPE mood ADD VALUE \'tense\'")',
         safe_extra=NON_ATOMIC, server_version=110000),
]

TEMPLATE = '''"""{doc}"""
from alembic import op
import sqlalchemy as sa

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None
{extra}

def upgrade():
{body}


def downgrade():
    pass
'''


def write(versions: Path, rev: str, down: str, doc: str, body: str, extra: str = "") -> Path:
    path = versions / f"{rev}_{doc.replace(' ', '_').replace('-', '_')}.py"
    path.write_text(TEMPLATE.format(rev=rev, down=down, doc=doc, extra=extra,
                                    body=textwrap.indent(body, "    ")))
    return path


def write_all(versions: Path, head: str) -> Dict[str, tuple]:
    """Write every case (unsafe and safe) as its own revision on top of ``head``; return {rule: (unsafe, safe)} ids.

    They are siblings, not a chain: each is linted against the app's head on its own.
    """
    ids = {}
    for n, case in enumerate(CASES):
        unsafe, safe = f"1a{n:02d}00000001", f"1a{n:02d}00000002"
        write(versions, unsafe, head, f"unsafe {case.rule}", case.unsafe, case.unsafe_extra)
        write(versions, safe, head, f"safe {case.rule}", case.safe, case.safe_extra)
        ids[case.rule] = (unsafe, safe)
    return ids
