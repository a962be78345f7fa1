//! The one table definition: the Arrow schema of the lake, and the Glue/Athena
//! types it maps to. Infrastructure and search mappings are generated from, or
//! tested against, [`COLUMNS`].

use std::sync::{Arc, OnceLock};

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

use crate::record::TextField;

/// A column's type, named once for Arrow and Glue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    TimestampMs,
    Utf8,
    Int16,
    Int64,
    Float64,
    StringMap,
}

impl ColumnType {
    /// The Glue / Athena (Hive DDL) type.
    pub fn glue(self) -> &'static str {
        match self {
            ColumnType::TimestampMs => "timestamp",
            ColumnType::Utf8 => "string",
            ColumnType::Int16 => "smallint",
            ColumnType::Int64 => "bigint",
            ColumnType::Float64 => "double",
            ColumnType::StringMap => "map<string,string>",
        }
    }

    fn arrow(self) -> DataType {
        match self {
            ColumnType::TimestampMs => {
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
            }
            ColumnType::Utf8 => DataType::Utf8,
            ColumnType::Int16 => DataType::Int16,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::StringMap => DataType::Map(
                Arc::new(Field::new(
                    "entries",
                    DataType::Struct(Fields::from(vec![
                        Field::new("key", DataType::Utf8, false),
                        Field::new("value", DataType::Utf8, true),
                    ])),
                    false,
                )),
                false,
            ),
        }
    }
}

/// Every column of the lake, in file order. `dt` and `hr` are partition keys
/// (in the path), not columns in the files.
pub const COLUMNS: &[(&str, ColumnType)] = &[
    ("ts", ColumnType::TimestampMs),
    ("level", ColumnType::Utf8),
    ("service", ColumnType::Utf8),
    ("message", ColumnType::Utf8),
    ("host", ColumnType::Utf8),
    ("region", ColumnType::Utf8),
    ("http_method", ColumnType::Utf8),
    ("http_path", ColumnType::Utf8),
    ("http_status", ColumnType::Int16),
    ("latency_ms", ColumnType::Float64),
    ("bytes_sent", ColumnType::Int64),
    ("client_ip", ColumnType::Utf8),
    ("user_agent", ColumnType::Utf8),
    ("user_id", ColumnType::Utf8),
    ("session_id", ColumnType::Utf8),
    ("trace_id", ColumnType::Utf8),
    ("request_id", ColumnType::Utf8),
    ("event_type", ColumnType::Utf8),
    ("order_id", ColumnType::Utf8),
    ("sku", ColumnType::Utf8),
    ("currency", ColumnType::Utf8),
    ("amount", ColumnType::Float64),
    ("error_type", ColumnType::Utf8),
    ("attributes", ColumnType::StringMap),
    ("source_format", ColumnType::Utf8),
    ("source_uri", ColumnType::Utf8),
    ("source_line", ColumnType::Int64),
    ("event_id", ColumnType::Utf8),
];

/// Partition keys, in path order, with their Glue types.
pub const PARTITION_KEYS: &[(&str, &str)] = &[("dt", "string"), ("hr", "string")];

/// Columns worth a Parquet dictionary: few distinct values per row group.
/// High-cardinality ones (ids, messages, times) skip the dictionary attempt.
pub const DICTIONARY_COLUMNS: &[&str] = &[
    "level",
    "service",
    "host",
    "region",
    "http_method",
    "http_status",
    "user_agent",
    "event_type",
    "sku",
    "currency",
    "error_type",
    "source_format",
    "source_uri",
];

/// Columns queries filter on, worth page-level statistics and a page index.
pub const PAGE_INDEX_COLUMNS: &[&str] = &["ts", "level", "service", "http_status"];

/// Columns whose min/max can never prune: free text and random ids. Computing
/// statistics for them costs a string comparison per value and buys nothing.
pub const NO_STATISTICS_COLUMNS: &[&str] = &[
    "message",
    "http_path",
    "client_ip",
    "user_agent",
    "user_id",
    "session_id",
    "trace_id",
    "request_id",
    "order_id",
    "event_id",
    "attributes.entries.key",
    "attributes.entries.value",
];

/// The lake's Arrow schema, built once.
pub fn arrow_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            Arc::new(Schema::new(
                COLUMNS
                    .iter()
                    .map(|(name, t)| {
                        Field::new(*name, t.arrow(), *name != "ts" && *name != "source_line")
                    })
                    .collect::<Vec<_>>(),
            ))
        })
        .clone()
}

/// Index of a text column in [`COLUMNS`].
pub fn column_index(name: &str) -> Option<usize> {
    COLUMNS.iter().position(|(n, _)| *n == name)
}

/// The `CREATE EXTERNAL TABLE` column list for Athena, generated from [`COLUMNS`].
pub fn athena_columns() -> String {
    COLUMNS
        .iter()
        .map(|(n, t)| format!("`{n}` {}", t.glue()))
        .collect::<Vec<_>>()
        .join(",\n  ")
}

/// `CREATE EXTERNAL TABLE` for Athena over a lake at `location`
/// (`s3://bucket/logs/`), with partition projection so new `dt`/`hr`
/// partitions are queryable at once: no crawler, no `MSCK REPAIR TABLE`.
pub fn athena_ddl(table: &str, location: &str) -> String {
    let loc = location.trim_end_matches('/');
    let parts = PARTITION_KEYS
        .iter()
        .map(|(n, t)| format!("`{n}` {t}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "CREATE EXTERNAL TABLE IF NOT EXISTS {table} (\n  {cols}\n)\n\
         PARTITIONED BY ({parts})\n\
         STORED AS PARQUET\n\
         LOCATION '{loc}/'\n\
         TBLPROPERTIES (\n  \
         'parquet.compression'='ZSTD',\n  \
         'projection.enabled'='true',\n  \
         'projection.dt.type'='date',\n  \
         'projection.dt.format'='yyyy-MM-dd',\n  \
         'projection.dt.range'='2020-01-01,NOW',\n  \
         'projection.dt.interval'='1',\n  \
         'projection.dt.interval.unit'='DAYS',\n  \
         'projection.hr.type'='integer',\n  \
         'projection.hr.range'='0,23',\n  \
         'projection.hr.digits'='2',\n  \
         'storage.location.template'='{loc}/dt=${{dt}}/hr=${{hr}}/'\n);\n",
        cols = athena_columns(),
    )
}

/// Every text field of the record has exactly one Utf8 column of its name.
pub fn text_columns() -> impl Iterator<Item = (TextField, usize)> {
    TextField::ALL.into_iter().map(|f| {
        let i = column_index(f.column()).unwrap_or(usize::MAX);
        (f, i)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_and_schema_agree() {
        for (f, i) in text_columns() {
            assert!(i < COLUMNS.len(), "{f:?} has no column");
            assert_eq!(COLUMNS[i].1, ColumnType::Utf8, "{f:?}");
        }
        for d in DICTIONARY_COLUMNS.iter().chain(PAGE_INDEX_COLUMNS) {
            assert!(column_index(d).is_some(), "{d}");
        }
        let s = arrow_schema();
        assert_eq!(s.fields().len(), COLUMNS.len());
        assert!(!s.field(0).is_nullable());
    }

    #[test]
    fn athena_ddl_has_no_unsigned_types() {
        let ddl = athena_columns();
        assert!(ddl.starts_with("`ts` timestamp"));
        assert!(ddl.contains("`attributes` map<string,string>"));
        assert!(!ddl.contains("uint"));
        let full = athena_ddl("logs", "s3://curated/logs/");
        assert!(full.contains("LOCATION 's3://curated/logs/'"));
        assert!(
            full.contains("'storage.location.template'='s3://curated/logs/dt=${dt}/hr=${hr}/'")
        );
        assert!(full.contains("PARTITIONED BY (`dt` string, `hr` string)"));
    }
}
