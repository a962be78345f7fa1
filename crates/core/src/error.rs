//! Errors that stop the ingestion of a source. Bad lines are not errors:
//! they are quarantined and counted.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {uri}: {source}")]
    Read {
        uri: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {key}: {source}")]
    Write {
        key: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot encode parquet for {key}: {source}")]
    Parquet {
        key: String,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("cannot build a record batch: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("a pipeline thread failed: {0}")]
    Thread(String),
}

impl Error {
    pub fn read(uri: &str, source: io::Error) -> Self {
        Error::Read {
            uri: uri.to_string(),
            source,
        }
    }

    pub fn write(key: &str, source: io::Error) -> Self {
        Error::Write {
            key: key.to_string(),
            source,
        }
    }

    pub fn parquet(key: &str, source: parquet::errors::ParquetError) -> Self {
        Error::Parquet {
            key: key.to_string(),
            source,
        }
    }
}
