"""Every query of the PostgreSQL catalog, in one place.

`sql` (the shared fragments: schema and extension filters, the ACL
explosion), `snapshot` (a whole schema, for comparing databases), `objects`
(views, materialized views, functions), `dependents` (pg_depend), `lookup`
(names to oids), `activity` (sessions and locks) and `tenants` (tenant
schemas). Nothing here builds objects or DDL: rows go up, to the layers that do.
"""
