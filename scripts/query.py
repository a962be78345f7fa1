#!/usr/bin/env python3
"""SQL over a local loglake lake with DuckDB. The view `logs` reads every
Parquet file under LAKE/logs with its dt/hr partition columns; `quarantine`
reads the quarantined lines.

usage: query.py LAKE "SQL"
"""
import os
import sys

import duckdb

lake, sql = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET TimeZone='UTC'")
con.execute(f"CREATE VIEW logs AS SELECT * FROM read_parquet('{lake}/logs/**/*.parquet', hive_partitioning=true)")
if os.path.isdir(os.path.join(lake, "quarantine")):
    con.execute(f"CREATE VIEW quarantine AS SELECT * FROM read_json('{lake}/quarantine/**/*.ndjson.gz', "
                f"format='newline_delimited', union_by_name=true)")
con.sql(sql).show(max_rows=100, max_width=200)
