"""The documentation's SQL is true: every ```sql block of the README and of
docs/ either runs in DuckDB over a lake `loglake generate | loglake ingest`
made (the local queries, docs/querying.md), and its Athena form (the two
substitutions that page names) parses in the Trino dialect (sqlglot) with no
DuckDB-only construct left; or reads the summary's Athena views, and parses
in the Trino dialect, naming only columns those views have. Every
`make query SQL="..."` example runs too."""
import os
import re
import subprocess
from pathlib import Path

import duckdb
import pytest
import sqlglot

BIN = os.environ.get("LOGLAKE_BIN", "target/release/loglake")
ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TEXT = {p.relative_to(ROOT).as_posix(): p.read_text() for p in DOCS}

# What DuckDB accepts and Athena (Trino) does not.
DUCKDB_ONLY = [r"\bGROUP\s+BY\s+ALL\b", r"\bquantile_cont\b", r"\bread_parquet\b", r"\bread_json\b", r"\w\[\s*'"]


def sql_blocks(text):
    return re.findall(r"```sql\n(.*?)```", text, re.S)


def statements(block):
    """The block's statements, comments dropped."""
    body = "\n".join(l for l in block.splitlines() if not l.strip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def athena(stmt):
    """The two substitutions docs/querying.md names for Athena."""
    stmt = re.sub(r"quantile_cont\(([^,]+),\s*([\d.]+)\)", r"approx_percentile(\1, \2)", stmt)
    return re.sub(r"(\w+)\['([^']+)'\]", r"element_at(\1, '\2')", stmt)


def reads_views(block):
    return all(re.search(r"\bFROM summary_\w+", s) for s in statements(block))


BLOCKS = [(name, b) for name, text in TEXT.items() for b in sql_blocks(text)]
# The Athena views' queries (they name no lake files, DuckDB cannot run them),
# and the local ones, each block with its own CREATE VIEW.
VIEWS = [s for _, b in BLOCKS if reads_views(b) for s in statements(b)]
LOCAL = [b for _, b in BLOCKS if not reads_views(b)]
MAKE_QUERIES = [(name, m) for name, text in TEXT.items() for m in re.findall(r'make query SQL="([^"]+)"', text)]


def test_the_blocks_are_where_the_tests_expect_them():
    # The page that explains the substitutions holds the queries; a new
    # block anywhere is picked up, but these two must not go missing.
    where = {name for name, _ in BLOCKS}
    assert "docs/querying.md" in where, where
    assert LOCAL and VIEWS
    assert any(name == "README.md" for name, _ in MAKE_QUERIES)


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("docs-sql")
    logs = d / "shop.ndjson.gz"
    subprocess.run([BIN, "generate", "--lines", "30000", "--malformed", "0.01", "--incidents", "--out", str(logs)],
                   check=True, capture_output=True)
    subprocess.run([BIN, "ingest", "--lake", str(d / "lake"), str(logs)], check=True, capture_output=True)
    return d


def test_the_local_queries_run_in_duckdb(lake_dir, monkeypatch):
    monkeypatch.chdir(lake_dir)
    queries = []
    for block in LOCAL:
        con = duckdb.connect()
        for stmt in statements(block):
            if stmt.upper().startswith("SELECT"):
                # Counted, not fetched: the rows hold timestamps with a zone.
                queries.append((stmt, con.execute(f"SELECT count(*) FROM ({stmt})").fetchone()[0]))
            else:
                con.execute(stmt)
    assert len(queries) == 5
    # The errors per minute, the p95 per endpoint and the quarantine answer
    # something on the generated lake (the trace id is a placeholder, the
    # payment method an attribute only some services write).
    assert queries[0][1] and queries[1][1] and queries[4][1]


@pytest.mark.parametrize("name,sql", MAKE_QUERIES)
def test_the_make_query_examples_run(lake_dir, name, sql):
    con = duckdb.connect()
    con.execute(f"CREATE VIEW logs AS SELECT * FROM read_parquet('{lake_dir}/lake/logs/**/*.parquet', hive_partitioning = true)")
    rows = con.execute(sql).fetchall()
    if name == "README.md":
        assert rows, f"{name}: {sql} answers nothing on a generated lake"
    assert not any(re.search(p, sql, re.I) for p in DUCKDB_ONLY[:1])


@pytest.mark.parametrize("stmt", [s for b in LOCAL for s in statements(b)
                                  if s.upper().startswith("SELECT") and "read_json" not in s] + VIEWS)
def test_the_athena_form_parses_as_trino(stmt):
    a = athena(stmt)
    sqlglot.parse_one(a, read="trino")
    for pattern in DUCKDB_ONLY:
        assert not re.search(pattern, a, re.I), f"{pattern} is DuckDB's, not Athena's: {a}"


def test_the_views_parse_as_trino_and_have_the_columns_the_docs_read():
    for stmt in VIEWS:
        view = re.search(r"FROM (summary_\w+)", stmt).group(1)
        template = (ROOT / "infra" / "views" / f"{view}.sql.tftpl").read_text()
        sql = re.sub(r"\$\{\w+\}", "summary", template)
        tree = sqlglot.parse_one(sql, read="trino")
        columns = {s.alias_or_name for s in tree.selects}
        used = {c.name for c in sqlglot.parse_one(stmt, read="trino").find_all(sqlglot.exp.Column)}
        aliases = {s.alias for s in sqlglot.parse_one(stmt, read="trino").selects if s.alias}
        assert used - aliases <= columns, f"{view} has no {sorted(used - aliases - columns)}"
