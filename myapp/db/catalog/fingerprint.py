"""A fingerprint of the tables of some schemas: what a remembered table comparison is keyed by.

It hashes, for every table, index and sequence in the schemas, the row
versions (``xmin``) of the catalog rows a reflection of them reads: the
relation, its columns, defaults, constraints, indexes (with their validity,
which PostgreSQL sets in place), comments, sequences, partitioning and
inheritance, the tables its foreign keys point at (and their columns), the
types (and enum labels) of its columns, the functions its defaults call, and
the schemas all of these live in. Every DDL statement writes new versions of
the rows it changes, so a table changed in any way, by anyone, gives another
fingerprint. Views, materialized views and functions are left out: they are
compared on their own, and replacing one does not touch a table.

A row version is a transaction id, so the fingerprint is only meaningful when
taken outside a transaction that has itself written (see `taken_clean`).
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import sqlalchemy as sa

_TABLES = sa.text("""
    WITH rels AS (
        SELECT c.oid, c.xmin FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ANY(CAST(:schemas AS text[])) AND c.relkind IN ('r', 'p', 'f', 'i', 'I', 'S')
    ), types AS (
        SELECT DISTINCT a.atttypid AS oid FROM pg_attribute a JOIN rels ON rels.oid = a.attrelid WHERE a.attnum > 0
    ), referenced AS (
        SELECT k.confrelid AS oid FROM pg_constraint k JOIN rels ON rels.oid = k.conrelid WHERE k.confrelid <> 0
    ), called AS (  -- functions the columns' defaults and generated expressions call
        SELECT dep.refobjid AS oid FROM pg_depend dep JOIN pg_attrdef d ON d.oid = dep.objid
          JOIN rels ON rels.oid = d.adrelid
         WHERE dep.classid = 'pg_attrdef'::regclass AND dep.refclassid = 'pg_proc'::regclass
    ), all_types AS (
        SELECT t.oid, t.xmin FROM pg_type t
         WHERE t.oid IN (SELECT oid FROM types)
            OR t.oid IN (SELECT t2.typelem FROM pg_type t2 JOIN types USING (oid))
            OR t.oid IN (SELECT t2.typbasetype FROM pg_type t2 JOIN types USING (oid))
    )
    SELECT md5(coalesce(string_agg(item, ',' ORDER BY item), '')) FROM (
        SELECT 'n' || n.oid || ':' || n.xmin || ':' || n.nspname FROM pg_namespace n
         WHERE n.nspname = ANY(CAST(:schemas AS text[]))
        UNION ALL SELECT 'c' || oid || ':' || xmin FROM rels
        UNION ALL SELECT 'a' || a.attrelid || '.' || a.attnum || ':' || a.xmin
          FROM pg_attribute a JOIN rels ON rels.oid = a.attrelid WHERE a.attnum > 0
        UNION ALL SELECT 'd' || d.oid || ':' || d.xmin FROM pg_attrdef d JOIN rels ON rels.oid = d.adrelid
        UNION ALL SELECT 'k' || k.oid || ':' || k.xmin FROM pg_constraint k JOIN rels ON rels.oid = k.conrelid
        UNION ALL SELECT 'f' || c.oid || ':' || c.xmin || ':' || c.relname || ':' || c.relnamespace
          FROM pg_class c WHERE c.oid IN (SELECT oid FROM referenced)
        UNION ALL SELECT 'g' || a.attrelid || '.' || a.attnum || ':' || a.xmin
          FROM pg_attribute a WHERE a.attrelid IN (SELECT oid FROM referenced) AND a.attnum > 0
        UNION ALL SELECT 'N' || n.oid || ':' || n.xmin || ':' || n.nspname FROM pg_namespace n
         WHERE n.oid IN (SELECT relnamespace FROM pg_class WHERE oid IN (SELECT oid FROM referenced))
            OR n.oid IN (SELECT typnamespace FROM pg_type WHERE oid IN (SELECT oid FROM all_types))
            OR n.oid IN (SELECT pronamespace FROM pg_proc WHERE oid IN (SELECT oid FROM called))
        UNION ALL SELECT 'P' || p.oid || ':' || p.xmin FROM pg_proc p WHERE p.oid IN (SELECT oid FROM called)
        UNION ALL SELECT 'i' || i.indexrelid || ':' || i.xmin || ':' || i.indisvalid || ':' || i.indisready
          FROM pg_index i JOIN rels ON rels.oid = i.indrelid
        UNION ALL SELECT 'm' || e.objoid || '.' || e.objsubid || ':' || e.xmin
          FROM pg_description e JOIN rels ON rels.oid = e.objoid WHERE e.classoid = 'pg_class'::regclass
        UNION ALL SELECT 's' || s.seqrelid || ':' || s.xmin FROM pg_sequence s JOIN rels ON rels.oid = s.seqrelid
        UNION ALL SELECT 'h' || h.inhrelid || '.' || h.inhseqno || ':' || h.xmin
          FROM pg_inherits h JOIN rels ON rels.oid = h.inhrelid
        UNION ALL SELECT 'p' || p.partrelid || ':' || p.xmin FROM pg_partitioned_table p JOIN rels ON rels.oid = p.partrelid
        UNION ALL SELECT 't' || oid || ':' || xmin FROM all_types
        UNION ALL SELECT 'e' || e.oid || ':' || e.xmin FROM pg_enum e JOIN all_types t ON t.oid = e.enumtypid
    ) items(item)
""")

_STATE = sa.text(
    "SELECT txid_current_if_assigned() IS NULL, current_setting('server_version_num'), current_schemas(false)"
)


def tables(conn, schemas: Sequence[str]) -> str:
    """The fingerprint of the tables (and their indexes and sequences) in ``schemas``."""
    return conn.scalar(_TABLES, {"schemas": sorted(schemas)})


def taken_clean(conn) -> Tuple[bool, str, List[str]]:
    """(this transaction has written nothing yet, the server's version number, the schemas of the search
    path that exist, in order: the first is the current schema; a reflection of unqualified tables sees
    them all)."""
    clean, version, schemas = conn.execute(_STATE).one()
    return bool(clean), version, list(schemas or ())
