"""The README's SQL is true: every query of "Querying the lake" runs in
DuckDB over a lake `loglake generate | loglake ingest` made, and its Athena
form (the two substitutions the README names) parses in the Trino dialect
(sqlglot) with no DuckDB-only construct left; the Athena views the summary
queries read parse in the Trino dialect too, and name the columns those
queries use."""
import os
import re
import subprocess
from pathlib import Path

import duckdb
import pytest
import sqlglot

BIN = os.environ.get("LOGLAKE_BIN", "target/release/loglake")
ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()

# What DuckDB accepts and Athena (Trino) does not.
DUCKDB_ONLY = [r"\bGROUP\s+BY\s+ALL\b", r"\bquantile_cont\b", r"\bread_parquet\b", r"\bread_json\b", r"\w\[\s*'"]


def section(title):
    start = README.index(title)
    end = README.index("\n## ", start + len(title))
    return README[start:end]


def sql_blocks(text):
    return re.findall(r"```sql\n(.*?)```", text, re.S)


def statements(block):
    """The block's statements, comments dropped."""
    body = "\n".join(l for l in block.splitlines() if not l.strip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def athena(stmt):
    """The README's two substitutions for Athena."""
    stmt = re.sub(r"quantile_cont\(([^,]+),\s*([\d.]+)\)", r"approx_percentile(\1, \2)", stmt)
    return re.sub(r"(\w+)\['([^']+)'\]", r"element_at(\1, '\2')", stmt)


QUERYING = section("## Querying the lake")
LOCAL, VIEWS = sql_blocks(QUERYING)


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("readme-sql")
    logs = d / "shop.ndjson.gz"
    subprocess.run([BIN, "generate", "--lines", "30000", "--malformed", "0.01", "--incidents", "--out", str(logs)],
                   check=True, capture_output=True)
    subprocess.run([BIN, "ingest", "--lake", str(d / "lake"), str(logs)], check=True, capture_output=True)
    return d


def test_the_local_queries_run_in_duckdb(lake_dir, monkeypatch):
    monkeypatch.chdir(lake_dir)
    con = duckdb.connect()
    results = []
    for stmt in statements(LOCAL):
        if stmt.upper().startswith("SELECT"):
            # Counted, not fetched: the rows hold timestamps with a zone.
            results.append((stmt, con.execute(f"SELECT count(*) FROM ({stmt})").fetchone()[0]))
        else:
            con.execute(stmt)
    queries = results
    assert len(queries) == 5
    # The errors per minute, the p95 per endpoint and the quarantine answer
    # something on the generated lake (the trace id is a placeholder, the
    # payment method an attribute only some services write).
    assert queries[0][1] and queries[1][1] and queries[4][1]


def test_the_make_query_example_runs(lake_dir):
    m = re.search(r'make query SQL="([^"]+)"', README)
    con = duckdb.connect()
    con.execute(f"CREATE VIEW logs AS SELECT * FROM read_parquet('{lake_dir}/lake/logs/**/*.parquet', hive_partitioning = true)")
    assert con.execute(m.group(1)).fetchall()
    assert not any(re.search(p, m.group(1), re.I) for p in DUCKDB_ONLY[:1])


@pytest.mark.parametrize("stmt", [s for s in statements(LOCAL) if s.upper().startswith("SELECT") and "read_json" not in s]
                         + statements(VIEWS))
def test_the_athena_form_parses_as_trino(stmt):
    a = athena(stmt)
    sqlglot.parse_one(a, read="trino")
    for pattern in DUCKDB_ONLY:
        assert not re.search(pattern, a, re.I), f"{pattern} is DuckDB's, not Athena's: {a}"


def test_the_views_parse_as_trino_and_have_the_columns_the_readme_reads():
    for stmt in statements(VIEWS):
        view = re.search(r"FROM (summary_\w+)", stmt).group(1)
        template = (ROOT / "infra" / "views" / f"{view}.sql.tftpl").read_text()
        sql = re.sub(r"\$\{\w+\}", "summary", template)
        tree = sqlglot.parse_one(sql, read="trino")
        columns = {s.alias_or_name for s in tree.selects}
        used = {c.name for c in sqlglot.parse_one(stmt, read="trino").find_all(sqlglot.exp.Column)}
        aliases = {s.alias for s in sqlglot.parse_one(stmt, read="trino").selects if s.alias}
        assert used - aliases <= columns, f"{view} has no {sorted(used - aliases - columns)}"
