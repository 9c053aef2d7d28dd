"""lint: the locks each statement takes, every rule caught on an unsafe case and quiet on its safe one."""

from __future__ import annotations

import json

import pytest

from dbhelpers import HEAD, REVISIONS
from lint_cases import CASES, write, write_all


def findings(result) -> dict:
    """{revision: [rule, ...]} of the findings not accepted, from --json output."""
    return {r["revision"]: [f["rule"] for s in r["statements"] for f in s["findings"] if not f["accepted"]]
            for r in json.loads(result.out)}


def test_the_apps_history_is_lint_clean_with_its_reasons(cli):
    result = cli("lint", "--all")
    assert result.status == 0, result
    assert "accepted (it shipped before the first production deploy" in result.out
    assert "ACCESS EXCLUSIVE on observations (blocks reads and writes)" in result.out
    listed = json.loads(cli("lint", "--all", "--json").out)
    assert [r["revision"] for r in listed] == REVISIONS
    accepted = [f["rule"] for r in listed for s in r["statements"] for f in s["findings"] if f["accepted"]]
    assert sorted(accepted) == ["constraint-without-not-valid", "index-without-concurrently", "set-not-null"]


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_every_rule_catches_its_unsafe_case_and_not_its_safe_one(case, cli, migrations_copy, head_url):
    versions = migrations_copy / "versions"
    write(versions, "1b0000000001", HEAD, "unsafe", case.unsafe, case.unsafe_extra)
    write(versions, "1b0000000002", HEAD, "safe", case.safe, case.safe_extra)
    args = ["--server-version", str(case.server_version)] if case.server_version else []
    unsafe = cli("lint", "1b0000000001", "--json", *args, "--url", head_url)
    assert unsafe.status == 1 and findings(unsafe) == {"1b0000000001": [case.rule]}, unsafe.out
    safe = cli("lint", "1b0000000002", "--json", *args, "--url", head_url)
    assert findings(safe) == {"1b0000000002": []}, safe.out


def test_default_lints_what_the_database_has_not_applied(cli, migrations_copy, head_url):
    ids = write_all(migrations_copy / "versions", HEAD)
    result = cli("lint", "--json", "--url", head_url)
    assert result.status == 1
    found = findings(result)
    assert set(found) == {rev for pair in ids.values() for rev in pair}  # none of the applied ones
    for case in CASES:
        unsafe, safe = ids[case.rule]
        assert found[safe] == []
        # one database, PostgreSQL 18: ADD VALUE in a transaction is fine there
        assert found[unsafe] == ([] if case.server_version else [case.rule])


def test_column_type_rewrite_knows_widening_varchar_from_the_database(cli, migrations_copy, head_url):
    versions = migrations_copy / "versions"
    write(versions, "1b0000000003", HEAD, "widen", 'op.alter_column("networks", "name", type_=sa.String(200))')
    assert cli("lint", "1b0000000003", "--url", head_url).status == 0  # online: varchar(100) -> (200) is free
    assert cli("lint", "--all").status == 1  # offline the old type is unknown: flagged


def test_an_allow_comment_needs_a_reason(cli, migrations_copy):
    versions = migrations_copy / "versions"
    body = 'op.drop_column("networks", "description")'
    write(versions, "1b0000000004", HEAD, "no reason", body, "# myapp.db: allow drop-column\n")
    result = cli("lint", "1b0000000004")
    assert result.status == 1 and "allow drop-column has no reason" in result.out
    write(versions, "1b0000000005", HEAD, "with reason", body,
          "# myapp.db: allow drop-column -- the code stopped reading it in 2.3\n")
    accepted = cli("lint", "1b0000000005")
    assert accepted.status == 0 and "accepted (the code stopped reading it in 2.3) drop-column" in accepted.out


def test_non_atomic_revisions_render_outside_the_transaction(cli, migrations_copy):
    versions = migrations_copy / "versions"
    write(versions, "1b0000000006", HEAD, "concurrent",
          'op.create_index("ix_networks_description", "networks", ["description"], postgresql_concurrently=True)',
          "atomic = False\n")
    result = cli("lint", "1b0000000006", "--json")
    assert result.status == 0
    sql = cli("migrate", "--sql", "--from", HEAD, "1b0000000006").out
    assert sql.index("COMMIT;") < sql.index("CREATE INDEX CONCURRENTLY") < sql.rindex("BEGIN;")


def test_lint_errors_are_one_line(cli, migrations_copy):
    write(migrations_copy / "versions", "1b0000000007", HEAD, "bad sql", 'op.execute("ALTER TABLE SET nonsense")')
    result = cli("lint", "1b0000000007")
    assert result.status == 2 and "cannot parse the SQL of revision 1b0000000007" in result.err
    unknown = cli("lint", "nosuchrev")
    assert unknown.status == 2 and "no revision 'nosuchrev'" in unknown.err


def test_makemigrations_lints_what_it_writes(cli, migrations_copy, head_url, engine_for):
    with engine_for(head_url).begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_stations_network_id")
    result = cli("makemigrations", "-m", "restore the index", "--url", head_url)
    assert result.status == 0, result
    assert "Lint: index-without-concurrently: CREATE INDEX ix_stations_network_id on stations" in result.err
