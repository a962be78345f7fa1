//! Alert windows and alert state in DynamoDB: the [`WindowStore`] and
//! [`StateStore`] effects.
//!
//! - The windows table holds one item per (minute, source): `pk` is the
//!   minute, `sk` the source's identity hash, `data` its [`Contribution`].
//!   It also holds the hourly summary's bookkeeping: its progress (one
//!   item, [`PROGRESS_KEY`]) and the late markers ([`LATE_PK`], one per
//!   hour written to after it may have been summarised).
//! - The state table holds one item per (rule, group): `ok` or `firing`.
//!   A transition is a conditional update, so of two evaluators running at
//!   once (or a retried one) exactly one makes it. Instant alerts are
//!   deduplicated per (rule, group, minute) with a conditional put in the
//!   same table.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, ReturnValue, WriteRequest};
use loglake_core::sinks::alerts::{Contribution, GroupKey, Rule, Transition, WindowSums};
use loglake_handlers::alerts::AlertError;
use loglake_handlers::alerts::LiveRules;
use loglake_handlers::effects::{BoxFuture, Pending, StateStore, WindowStore};
use loglake_handlers::now_ms;
use loglake_handlers::retry::{Backoff, jitter, seed};

mod summary;
pub use summary::{LATE_PK, PROGRESS_KEY, hour_key};

/// The message of a failed call; [`AlertError::Dynamo`] names the action
/// (`dynamodb:{op}`) and the table, this says whether IAM refused it.
fn sdk_error<E>(e: &aws_sdk_dynamodb::error::SdkError<E>) -> String
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let context = aws_sdk_dynamodb::error::DisplayErrorContext(e);
    if crate::is_denied(e) {
        format!("access denied (the function's role needs this grant): {context}")
    } else {
        context.to_string()
    }
}

fn conditional_failed<E>(e: &aws_sdk_dynamodb::error::SdkError<E>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

/// The minute `minute_ms` falls in, as the windows table's partition key:
/// `2026-11-22T05:21`.
pub fn minute_key(minute_ms: i64) -> String {
    let s = loglake_core::time::format_rfc3339_ms(minute_ms);
    s.get(..16).unwrap_or(&s).to_string()
}

/// The largest `data` of one window item: DynamoDB's 400 KB item limit,
/// less room for the keys and the expiry.
pub const MAX_ITEM_DATA: usize = 380_000;

/// The windows table.
#[derive(Debug, Clone)]
pub struct DynamoWindows {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
    /// The rules in force: items are kept `retention_hours`, and
    /// fn-alerts summarises an hour `evaluation_delay_minutes` after its
    /// end, so contributions to an hour from then on leave a late marker.
    pub rules: LiveRules,
}

impl DynamoWindows {
    fn delay_ms(&self) -> i64 {
        i64::from(self.rules.get().settings.evaluation_delay_minutes) * 60_000
    }
}

impl WindowStore for DynamoWindows {
    fn put<'a>(
        &'a self,
        source_id: &'a str,
        contributions: &'a [Contribution],
    ) -> BoxFuture<'a, Result<u64, AlertError>> {
        Box::pin(self.put_contributions(source_id, contributions))
    }

    fn load<'a>(&'a self, minutes: &'a [i64]) -> BoxFuture<'a, Result<WindowSums, AlertError>> {
        Box::pin(self.load_minutes(minutes))
    }

    fn summary_progress(&self) -> BoxFuture<'_, Result<Option<i64>, AlertError>> {
        Box::pin(self.get_progress())
    }

    fn set_summary_progress(&self, hour_ms: i64) -> BoxFuture<'_, Result<(), AlertError>> {
        Box::pin(self.put_progress(hour_ms))
    }

    fn late_hours(&self) -> BoxFuture<'_, Result<Vec<(i64, i64)>, AlertError>> {
        Box::pin(self.query_late())
    }

    fn clear_late(&self, hour_ms: i64, at: i64) -> BoxFuture<'_, Result<(), AlertError>> {
        Box::pin(self.delete_late(hour_ms, at))
    }
}

impl DynamoWindows {
    /// Write one source's contributions, one item per minute under the
    /// source's id: a second delivery of the source replaces them.
    async fn put_contributions(
        &self,
        source_id: &str,
        contributions: &[Contribution],
    ) -> Result<u64, AlertError> {
        let table = self.table.clone();
        let expires =
            (now_ms() / 1000) + i64::from(self.rules.get().settings.retention_hours) * 3600;
        let dynamo = |message: String| AlertError::Dynamo {
            op: "BatchWriteItem",
            table: table.clone(),
            message,
        };
        let mut requests = Vec::with_capacity(contributions.len());
        for c in contributions {
            // An item holds 400 KB: a minute with many wide groups is split
            // into parts, each a contribution of its own (summed on load),
            // the first under the source's id and the rest after it, the
            // same parts on every delivery of the source.
            for (i, data) in c.to_json_parts(MAX_ITEM_DATA).into_iter().enumerate() {
                let sk = match i {
                    0 => source_id.to_string(),
                    _ => format!("{source_id}#{i}"),
                };
                let item = HashMap::from([
                    ("pk".to_string(), AttributeValue::S(minute_key(c.minute_ms))),
                    ("sk".to_string(), AttributeValue::S(sk)),
                    ("data".to_string(), AttributeValue::S(data)),
                    (
                        "expires".to_string(),
                        AttributeValue::N(expires.to_string()),
                    ),
                ]);
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| dynamo(e.to_string()))?;
                requests.push(WriteRequest::builder().put_request(put).build());
            }
        }
        let n = requests.len() as u64;
        self.batch_write(requests).await?;
        // Late markers: only after every item is in, so that a summary
        // read of the hour that began before these puts completed is
        // always followed by a marker (see `summary::mark_late`).
        self.mark_late(contributions, expires).await?;
        Ok(n)
    }

    /// BatchWriteItem of `requests`, 25 at a time, unprocessed ones sent
    /// again with backoff.
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), AlertError> {
        let table = &self.table;
        let dynamo = |message: String| AlertError::Dynamo {
            op: "BatchWriteItem",
            table: table.clone(),
            message,
        };
        let mut rng = seed();
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            // Unprocessed items (throttling) are sent again, with backoff.
            for attempt in 0..8u32 {
                if pending.is_empty() {
                    break;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(table, pending.clone())
                    .send()
                    .await
                    .map_err(|e| dynamo(sdk_error(&e)))?;
                pending = out
                    .unprocessed_items()
                    .and_then(|m| m.get(table))
                    .cloned()
                    .unwrap_or_default();
                if !pending.is_empty() {
                    tokio::time::sleep(jitter(&mut rng, Backoff::default(), attempt)).await;
                }
            }
            if !pending.is_empty() {
                return Err(dynamo(format!(
                    "{} items still unprocessed after retries",
                    pending.len()
                )));
            }
        }
        Ok(())
    }

    /// The summed contributions of `minutes`: each minute's items, from
    /// every source, the minutes queried a few at a time.
    async fn load_minutes(&self, minutes: &[i64]) -> Result<WindowSums, AlertError> {
        use futures_util::{StreamExt, TryStreamExt};
        let contributions: Vec<Vec<Contribution>> =
            futures_util::stream::iter(minutes.iter().copied())
                .map(|m| self.load_minute(m))
                .buffer_unordered(MINUTES_IN_FLIGHT)
                .try_collect()
                .await?;
        let mut sums = WindowSums::new();
        for c in contributions.iter().flatten() {
            sums.add(c);
        }
        Ok(sums)
    }

    /// One minute's items.
    async fn load_minute(&self, minute_ms: i64) -> Result<Vec<Contribution>, AlertError> {
        let table = &self.table;
        let mut out = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(table)
            .key_condition_expression("pk = :m")
            .expression_attribute_values(":m", AttributeValue::S(minute_key(minute_ms)))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AlertError::Dynamo {
                op: "Query",
                table: table.clone(),
                message: sdk_error(&e),
            })?;
            for item in page.items() {
                let Some(AttributeValue::S(data)) = item.get("data") else {
                    continue;
                };
                out.push(
                    Contribution::from_json(data).map_err(|message| AlertError::Corrupt {
                        table: table.clone(),
                        message,
                    })?,
                );
            }
        }
        Ok(out)
    }
}

/// Window minutes queried at once (an evaluation reads up to a day of them).
const MINUTES_IN_FLIGHT: usize = 16;

/// The state table.
#[derive(Debug, Clone)]
pub struct DynamoState {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
}

impl StateStore for DynamoState {
    fn transition<'a>(
        &'a self,
        rule: &'a Rule,
        group: &'a GroupKey,
        to: Transition,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<bool, AlertError>> {
        Box::pin(self.transition_state(rule, group, to, now_ms))
    }

    fn undo<'a>(
        &'a self,
        rule: &'a Rule,
        group: &'a GroupKey,
        to: Transition,
        at_ms: i64,
    ) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(self.undo_state(rule, group, to, at_ms))
    }

    fn confirm<'a>(
        &'a self,
        rule: &'a Rule,
        group: &'a GroupKey,
        at_ms: i64,
    ) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(self.confirm_state(rule, group, at_ms))
    }

    fn unannounced(&self, before_ms: i64) -> BoxFuture<'_, Result<Vec<Pending>, AlertError>> {
        Box::pin(self.pending_states(before_ms))
    }

    fn firing(&self) -> BoxFuture<'_, Result<Vec<(String, GroupKey)>, AlertError>> {
        Box::pin(self.firing_groups())
    }

    fn claim_instant<'a>(
        &'a self,
        rule: &'a str,
        group: &'a str,
        minute_ms: i64,
    ) -> BoxFuture<'a, Result<bool, AlertError>> {
        Box::pin(self.claim(rule, group, minute_ms))
    }

    fn release_instant<'a>(
        &'a self,
        rule: &'a str,
        group: &'a str,
        minute_ms: i64,
    ) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(self.release(rule, group, minute_ms))
    }
}

impl DynamoState {
    fn state_key(rule: &str, group: &GroupKey) -> String {
        format!("{rule}#{}={}", group.field, group.value)
    }

    /// Move (rule, group) to `to`. True when this call made the transition
    /// (and so must notify); false when it was already there, or a firing
    /// falls within the rule's cooldown after the last resolution.
    async fn transition_state(
        &self,
        rule: &Rule,
        group: &GroupKey,
        to: Transition,
        now: i64,
    ) -> Result<bool, AlertError> {
        let table = &self.table;
        let req = self
            .client
            .update_item()
            .table_name(table)
            .key("pk", AttributeValue::S(Self::state_key(&rule.name, group)))
            .expression_attribute_names("#s", "state")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":firing", AttributeValue::S("firing".into()))
            .return_values(ReturnValue::None);
        let req = match to {
            Transition::Firing => {
                let edge = now - i64::from(rule.cooldown_minutes) * 60_000;
                req.update_expression(
                    "SET #s = :firing, changed_ms = :now, fired_ms = :now, pending_ms = :now",
                )
                .condition_expression(
                    "attribute_not_exists(pk) OR (#s <> :firing AND changed_ms <= :now AND (attribute_not_exists(resolved_ms) OR resolved_ms <= :edge))",
                )
                    .expression_attribute_values(":edge", AttributeValue::N(edge.to_string()))
            }
            Transition::Resolved => req
                .update_expression(
                    "SET #s = :ok, changed_ms = :now, resolved_ms = :now, pending_ms = :now",
                )
                // Never by an evaluation of an earlier moment than the one
                // that fired it (a late run).
                .condition_expression("#s = :firing AND changed_ms <= :now")
                .expression_attribute_values(":ok", AttributeValue::S("ok".into())),
        };
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(AlertError::Dynamo {
                op: "UpdateItem",
                table: table.clone(),
                message: sdk_error(&e),
            }),
        }
    }

    /// Undo a transition whose notification could not be sent, so the next
    /// evaluation makes (and announces) it again.
    async fn undo_state(
        &self,
        rule: &Rule,
        group: &GroupKey,
        to: Transition,
        at: i64,
    ) -> Result<(), AlertError> {
        let (back, clear) = match to {
            Transition::Firing => ("ok", "fired_ms"),
            Transition::Resolved => ("firing", "resolved_ms"),
        };
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(Self::state_key(&rule.name, group)))
            .update_expression(format!("SET #s = :back REMOVE {clear}, pending_ms"))
            .condition_expression("changed_ms = :at")
            .expression_attribute_names("#s", "state")
            .expression_attribute_values(":back", AttributeValue::S(back.into()))
            .expression_attribute_values(":at", AttributeValue::N(at.to_string()))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => Ok(()),
            Err(e) => Err(AlertError::Dynamo {
                op: "UpdateItem",
                table: self.table.clone(),
                message: sdk_error(&e),
            }),
        }
    }

    /// The notification of the transition made at `at` was sent.
    async fn confirm_state(
        &self,
        rule: &Rule,
        group: &GroupKey,
        at: i64,
    ) -> Result<(), AlertError> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(Self::state_key(&rule.name, group)))
            .update_expression("REMOVE pending_ms")
            .condition_expression("pending_ms = :at")
            .expression_attribute_values(":at", AttributeValue::N(at.to_string()))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => Ok(()),
            Err(e) => Err(AlertError::Dynamo {
                op: "UpdateItem",
                table: self.table.clone(),
                message: sdk_error(&e),
            }),
        }
    }

    /// Transitions made before `before` whose notification was never
    /// confirmed.
    async fn pending_states(&self, before: i64) -> Result<Vec<Pending>, AlertError> {
        let table = &self.table;
        let mut out = Vec::new();
        let mut pages = self
            .client
            .scan()
            .table_name(table)
            .filter_expression("pending_ms < :before")
            .expression_attribute_values(":before", AttributeValue::N(before.to_string()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AlertError::Dynamo {
                op: "Scan",
                table: table.clone(),
                message: sdk_error(&e),
            })?;
            for item in page.items() {
                let (
                    Some(AttributeValue::S(pk)),
                    Some(AttributeValue::S(state)),
                    Some(AttributeValue::N(at)),
                ) = (item.get("pk"), item.get("state"), item.get("pending_ms"))
                else {
                    continue;
                };
                let Some((rule, group)) = Self::split_key(pk) else {
                    continue;
                };
                let Ok(at_ms) = at.parse() else { continue };
                out.push(Pending {
                    rule,
                    group,
                    to: if state == "firing" {
                        Transition::Firing
                    } else {
                        Transition::Resolved
                    },
                    at_ms,
                });
            }
        }
        Ok(out)
    }

    /// `rule#field=value` back into its parts.
    fn split_key(pk: &str) -> Option<(String, GroupKey)> {
        let (rule, group) = pk.split_once('#')?;
        let (field, value) = group.split_once('=')?;
        Some((
            rule.to_string(),
            GroupKey {
                field: field.to_string(),
                value: value.to_string(),
            },
        ))
    }

    /// Every (rule, group) currently firing, so a group that stopped
    /// sending data can be resolved too.
    async fn firing_groups(&self) -> Result<Vec<(String, GroupKey)>, AlertError> {
        let table = &self.table;
        let mut out = Vec::new();
        let mut pages = self
            .client
            .scan()
            .table_name(table)
            .filter_expression("#s = :firing")
            .expression_attribute_names("#s", "state")
            .expression_attribute_values(":firing", AttributeValue::S("firing".into()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AlertError::Dynamo {
                op: "Scan",
                table: table.clone(),
                message: sdk_error(&e),
            })?;
            for item in page.items() {
                let Some(AttributeValue::S(pk)) = item.get("pk") else {
                    continue;
                };
                if let Some(key) = Self::split_key(pk) {
                    out.push(key);
                }
            }
        }
        Ok(out)
    }

    fn instant_key(rule: &str, group: &str, minute_ms: i64) -> String {
        format!("instant#{rule}#{group}#{}", minute_key(minute_ms))
    }

    /// Claim the one notification of an instant rule for (group, minute);
    /// true when this call claimed it.
    ///
    /// The claim carries a token unique to this call, and the condition
    /// accepts it: when the answer to a claim that took effect is lost and
    /// the SDK sends the same request again, the retry finds its own claim
    /// and succeeds, instead of failing the condition and dropping the
    /// alert that nobody else will send.
    async fn claim(&self, rule: &str, group: &str, minute_ms: i64) -> Result<bool, AlertError> {
        static CLAIMS: AtomicU64 = AtomicU64::new(0);
        let table = &self.table;
        let expires = now_ms() / 1000 + 2 * 86_400;
        // Random per process (std's hash keys), then a counter: unique
        // across concurrent instances, whose pids and clocks may agree.
        let token = format!(
            "{:016x}-{}",
            RandomState::new().build_hasher().finish(),
            CLAIMS.fetch_add(1, Ordering::Relaxed)
        );
        let r = self
            .client
            .put_item()
            .table_name(table)
            .item(
                "pk",
                AttributeValue::S(Self::instant_key(rule, group, minute_ms)),
            )
            .item("expires", AttributeValue::N(expires.to_string()))
            .item("claim", AttributeValue::S(token.clone()))
            .condition_expression("attribute_not_exists(pk) OR claim = :token")
            .expression_attribute_values(":token", AttributeValue::S(token))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(AlertError::Dynamo {
                op: "PutItem",
                table: table.clone(),
                message: sdk_error(&e),
            }),
        }
    }

    /// Give back a claim whose notification could not be sent.
    async fn release(&self, rule: &str, group: &str, minute_ms: i64) -> Result<(), AlertError> {
        let r = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(
                "pk",
                AttributeValue::S(Self::instant_key(rule, group, minute_ms)),
            )
            .send()
            .await;
        r.map(drop).map_err(|e| AlertError::Dynamo {
            op: "DeleteItem",
            table: self.table.clone(),
            message: sdk_error(&e),
        })
    }
}
