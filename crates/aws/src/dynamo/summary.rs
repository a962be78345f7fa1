//! The hourly summary's bookkeeping in the windows table: the late markers
//! the writers leave (with `BatchWriteItem`, the one grant they have
//! there), and fn-alerts' progress item and its reads and conditional
//! deletes of the markers.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use loglake_core::sinks::alerts::Contribution;
use loglake_handlers::alerts::AlertError;
use loglake_handlers::now_ms;

use super::{DynamoWindows, conditional_failed, sdk_error};

/// The partition of the late markers in the windows table: one item per
/// hour (`sk` [`hour_key`]) a writer added to after it may have been
/// summarised.
pub const LATE_PK: &str = "summary-late";
/// The item holding the last hour summarised (`pk`, `sk`).
pub const PROGRESS_KEY: (&str, &str) = ("summary-progress", "summary");

/// The hour `hour_ms` falls in, as a late marker's sort key:
/// `2026-11-22T05`.
pub fn hour_key(hour_ms: i64) -> String {
    let s = loglake_core::time::format_rfc3339_ms(hour_ms);
    s.get(..13).unwrap_or(&s).to_string()
}

/// [`hour_key`] back to the hour's start.
fn parse_hour_key(key: &str) -> Option<i64> {
    loglake_core::time::parse_iso8601(&format!("{key}:00:00Z"))
}

impl DynamoWindows {
    /// Mark the hours of `contributions` that fn-alerts may already have
    /// summarised without them (`loglake_core::summary::late_hours`, with
    /// the time read after the puts: called once every item is written).
    pub(super) async fn mark_late(
        &self,
        contributions: &[Contribution],
        expires: i64,
    ) -> Result<(), AlertError> {
        let dynamo = |message: String| AlertError::Dynamo {
            op: "BatchWriteItem",
            table: self.table.clone(),
            message,
        };
        let now = now_ms();
        let hours = loglake_core::summary::late_hours(
            contributions.iter().map(|c| c.minute_ms),
            now,
            self.delay_ms(),
        );
        let mut markers = Vec::with_capacity(hours.len());
        for h in hours {
            let item = HashMap::from([
                ("pk".to_string(), AttributeValue::S(LATE_PK.to_string())),
                ("sk".to_string(), AttributeValue::S(hour_key(h))),
                ("at".to_string(), AttributeValue::N(now.to_string())),
                (
                    "expires".to_string(),
                    AttributeValue::N(expires.to_string()),
                ),
            ]);
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(|e| dynamo(e.to_string()))?;
            markers.push(WriteRequest::builder().put_request(put).build());
        }
        self.batch_write(markers).await
    }

    fn progress_key(&self) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("pk".to_string(), AttributeValue::S(PROGRESS_KEY.0.into())),
            ("sk".to_string(), AttributeValue::S(PROGRESS_KEY.1.into())),
        ])
    }

    /// The last hour summarised (a strongly consistent read).
    pub(super) async fn get_progress(&self) -> Result<Option<i64>, AlertError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.progress_key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AlertError::Dynamo {
                op: "GetItem",
                table: self.table.clone(),
                message: sdk_error(&e),
            })?;
        match out.item().and_then(|i| i.get("hour")) {
            None => Ok(None),
            Some(AttributeValue::N(n)) => n.parse().map(Some).map_err(|_| AlertError::Corrupt {
                table: self.table.clone(),
                message: format!("the summary's progress hour {n:?} is not a number"),
            }),
            Some(other) => Err(AlertError::Corrupt {
                table: self.table.clone(),
                message: format!("the summary's progress hour is {other:?}"),
            }),
        }
    }

    /// Every hour up to `hour_ms` is summarised. (No expiry: without it
    /// the next run would start over a few hours back.)
    pub(super) async fn put_progress(&self, hour_ms: i64) -> Result<(), AlertError> {
        let mut item = self.progress_key();
        item.insert("hour".into(), AttributeValue::N(hour_ms.to_string()));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(drop)
            .map_err(|e| AlertError::Dynamo {
                op: "PutItem",
                table: self.table.clone(),
                message: sdk_error(&e),
            })
    }

    /// The late markers: (hour, at).
    pub(super) async fn query_late(&self) -> Result<Vec<(i64, i64)>, AlertError> {
        let table = &self.table;
        let mut out = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(table)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", AttributeValue::S(LATE_PK.into()))
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AlertError::Dynamo {
                op: "Query",
                table: table.clone(),
                message: sdk_error(&e),
            })?;
            for item in page.items() {
                let (Some(AttributeValue::S(sk)), Some(AttributeValue::N(at))) =
                    (item.get("sk"), item.get("at"))
                else {
                    continue;
                };
                let (Some(hour), Ok(at)) = (parse_hour_key(sk), at.parse()) else {
                    return Err(AlertError::Corrupt {
                        table: table.clone(),
                        message: format!("late marker {sk:?} (at {at:?}) is unreadable"),
                    });
                };
                out.push((hour, at));
            }
        }
        Ok(out)
    }

    /// Delete the marker of `hour_ms` if it still holds `at`; one a writer
    /// refreshed since stays (the failed condition is no error).
    pub(super) async fn delete_late(&self, hour_ms: i64, at: i64) -> Result<(), AlertError> {
        let r = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(LATE_PK.into()))
            .key("sk", AttributeValue::S(hour_key(hour_ms)))
            .condition_expression("#at = :at")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(":at", AttributeValue::N(at.to_string()))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => Ok(()),
            Err(e) => Err(AlertError::Dynamo {
                op: "DeleteItem",
                table: self.table.clone(),
                message: sdk_error(&e),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_key_is_the_hour_and_reads_back() {
        let h = 1_710_446_400_000; // 2024-03-14T20:00:00Z
        assert_eq!(hour_key(h), "2024-03-14T20");
        assert_eq!(hour_key(h + 59 * 60_000), "2024-03-14T20");
        assert_eq!(parse_hour_key("2024-03-14T20"), Some(h));
        assert_eq!(parse_hour_key("summary"), None);
    }
}
