//! Alerts on AWS: per-minute window contributions in DynamoDB, alert state
//! moved with conditional writes, and notifications on SNS.
//!
//! - The windows table holds one item per (minute, source): `pk` is the
//!   minute, `sk` the source's identity hash, `data` its [`Contribution`].
//!   A redelivered source overwrites its own items instead of adding to the
//!   sums, so the counts stay exact under at-least-once delivery.
//! - The state table holds one item per (rule, group): `ok` or `firing`.
//!   A transition is a conditional update, so of two evaluators running at
//!   once (or a retried one) exactly one makes it, and only that one
//!   publishes. Instant alerts are deduplicated per (rule, group, minute)
//!   with a conditional put in the same table.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, ReturnValue, WriteRequest};
use aws_sdk_sns::types::MessageAttributeValue;
use loglake_core::alerts::{
    Contribution, GroupKey, InstantKey, Notification, Rule, Rules, Transition, WindowSums, Windows,
    instant_key, notify_instant,
};
use loglake_core::pipeline::{Observer, Origin};
use loglake_core::record::{Record, SourceFormat};
use tracing::{info, warn};

use crate::put::{self, Backoff};

/// The alert settings of a function, from the environment.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// The rules: `ALERT_RULES` (the TOML of `alerts.toml`, inline, as
    /// Terraform passes it) or `ALERT_RULES_FILE` (a path to it).
    pub rules: Arc<Rules>,
    /// `ALERT_WINDOWS_TABLE`: window contributions (fn-ingest writes,
    /// fn-alerts reads).
    pub windows_table: Option<String>,
    /// `ALERT_STATE_TABLE`: alert state and instant-alert deduplication.
    pub state_table: String,
    /// `ALERT_TOPIC_ARN`: where notifications go.
    pub topic_arn: String,
}

impl AlertConfig {
    /// `None` when neither `ALERT_RULES` nor `ALERT_RULES_FILE` is set
    /// (alerts off).
    pub fn from_env() -> Result<Option<AlertConfig>, String> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// The same, from any lookup.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<AlertConfig>, String> {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let rules = match (var("ALERT_RULES"), var("ALERT_RULES_FILE")) {
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => {
                return Err("set ALERT_RULES (the rules inline) or ALERT_RULES_FILE \
                            (a path to them), not both"
                    .into());
            }
            (Some(text), None) => Rules::parse(&text).map_err(|e| format!("ALERT_RULES: {e}"))?,
            (None, Some(path)) => Rules::from_file(std::path::Path::new(&path))
                .map_err(|e| format!("ALERT_RULES_FILE: {e}"))?,
        };
        let mut rules = rules;
        // The Glue database Terraform created, for the Athena query in each
        // notification (the rules file's `athena_database` is a default).
        if let Some(db) = var("ALERT_ATHENA_DATABASE") {
            if !db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "ALERT_ATHENA_DATABASE: {db:?} is not a Glue database name (letters, digits, _)"
                ));
            }
            rules.settings.athena_database = db;
        }
        let need =
            |k: &str| var(k).ok_or_else(|| format!("alert rules are set, so {k} must be too"));
        Ok(Some(AlertConfig {
            rules: Arc::new(rules),
            windows_table: var("ALERT_WINDOWS_TABLE"),
            state_table: need("ALERT_STATE_TABLE")?,
            topic_arn: need("ALERT_TOPIC_ARN")?,
        }))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("DynamoDB {op} on {table}: {message}")]
    Dynamo {
        op: &'static str,
        table: String,
        message: String,
    },
    #[error("SNS publish to {topic}: {message}")]
    Publish { topic: String, message: String },
    #[error("a window item in {table} is unreadable: {message}")]
    Corrupt { table: String, message: String },
    #[error("alerts need {0}, which is not configured")]
    NotConfigured(&'static str),
}

fn sdk_error<E: std::error::Error + 'static>(e: &aws_sdk_dynamodb::error::SdkError<E>) -> String {
    aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()
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

/// DynamoDB and SNS clients for one function.
#[derive(Debug, Clone)]
pub struct AlertStore {
    pub ddb: aws_sdk_dynamodb::Client,
    pub sns: aws_sdk_sns::Client,
    pub cfg: AlertConfig,
}

/// What delivering one source's alert data did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Delivered {
    pub window_items: u64,
    pub instant_alerts: u64,
}

impl AlertStore {
    pub fn new(aws: &aws_config::SdkConfig, cfg: AlertConfig) -> AlertStore {
        AlertStore {
            ddb: aws_sdk_dynamodb::Client::new(aws),
            sns: aws_sdk_sns::Client::new(aws),
            cfg,
        }
    }

    /// An observer for one source. Without a windows table nothing is
    /// counted: only instant rules are watched.
    pub fn observer(&self, counting: Counting) -> AlertObserver {
        let counting = if self.cfg.windows_table.is_some() {
            counting
        } else {
            Counting::None
        };
        AlertObserver::new(self.cfg.rules.clone(), counting)
    }

    fn windows_table(&self) -> Result<&str, AlertError> {
        self.cfg
            .windows_table
            .as_deref()
            .ok_or(AlertError::NotConfigured("ALERT_WINDOWS_TABLE"))
    }

    /// Write one source's contributions, one item per minute under the
    /// source's id: a second delivery of the source replaces them.
    pub async fn put_contributions(
        &self,
        source_id: &str,
        contributions: &[Contribution],
    ) -> Result<u64, AlertError> {
        let table = self.windows_table()?.to_string();
        let expires =
            (crate::now_ms() / 1000) + i64::from(self.cfg.rules.settings.retention_hours) * 3600;
        let dynamo = |message: String| AlertError::Dynamo {
            op: "BatchWriteItem",
            table: table.clone(),
            message,
        };
        let mut requests = Vec::with_capacity(contributions.len());
        for c in contributions {
            let item = HashMap::from([
                ("pk".to_string(), AttributeValue::S(minute_key(c.minute_ms))),
                ("sk".to_string(), AttributeValue::S(source_id.to_string())),
                ("data".to_string(), AttributeValue::S(c.to_json())),
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
        let n = requests.len() as u64;
        let mut rng = put::seed();
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            // Unprocessed items (throttling) are sent again, with backoff.
            for attempt in 0..8u32 {
                if pending.is_empty() {
                    break;
                }
                let out = self
                    .ddb
                    .batch_write_item()
                    .request_items(&table, pending.clone())
                    .send()
                    .await
                    .map_err(|e| dynamo(sdk_error(&e)))?;
                pending = out
                    .unprocessed_items()
                    .and_then(|m| m.get(&table))
                    .cloned()
                    .unwrap_or_default();
                if !pending.is_empty() {
                    tokio::time::sleep(put::jitter(&mut rng, Backoff::default(), attempt)).await;
                }
            }
            if !pending.is_empty() {
                return Err(dynamo(format!(
                    "{} items still unprocessed after retries",
                    pending.len()
                )));
            }
        }
        Ok(n)
    }

    /// The summed contributions of `minutes`: each minute's items, from
    /// every source.
    pub async fn load(&self, minutes: &[i64]) -> Result<WindowSums, AlertError> {
        let table = self.windows_table()?.to_string();
        let mut sums = WindowSums::new();
        for &m in minutes {
            let mut pages = self
                .ddb
                .query()
                .table_name(&table)
                .key_condition_expression("pk = :m")
                .expression_attribute_values(":m", AttributeValue::S(minute_key(m)))
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
                    let c =
                        Contribution::from_json(data).map_err(|message| AlertError::Corrupt {
                            table: table.clone(),
                            message,
                        })?;
                    sums.add(&c);
                }
            }
        }
        Ok(sums)
    }

    fn state_key(rule: &str, group: &GroupKey) -> String {
        format!("{rule}#{}={}", group.field, group.value)
    }

    /// Move (rule, group) to `to`. True when this call made the transition
    /// (and so must notify); false when it was already there, or a firing
    /// falls within the rule's cooldown after the last resolution.
    pub async fn transition(
        &self,
        rule: &Rule,
        group: &GroupKey,
        to: &Transition,
        now: i64,
    ) -> Result<bool, AlertError> {
        let table = &self.cfg.state_table;
        let req = self
            .ddb
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
                req.update_expression("SET #s = :firing, changed_ms = :now, fired_ms = :now")
                    .condition_expression(
                        "attribute_not_exists(pk) OR (#s <> :firing AND (attribute_not_exists(resolved_ms) OR resolved_ms <= :edge))",
                    )
                    .expression_attribute_values(":edge", AttributeValue::N(edge.to_string()))
            }
            Transition::Resolved => req
                .update_expression("SET #s = :ok, changed_ms = :now, resolved_ms = :now")
                .condition_expression("#s = :firing")
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
    pub async fn undo(
        &self,
        rule: &Rule,
        group: &GroupKey,
        to: &Transition,
        at: i64,
    ) -> Result<(), AlertError> {
        let (back, clear) = match to {
            Transition::Firing => ("ok", "fired_ms"),
            Transition::Resolved => ("firing", "resolved_ms"),
        };
        let r = self
            .ddb
            .update_item()
            .table_name(&self.cfg.state_table)
            .key("pk", AttributeValue::S(Self::state_key(&rule.name, group)))
            .update_expression(format!("SET #s = :back REMOVE {clear}"))
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
                table: self.cfg.state_table.clone(),
                message: sdk_error(&e),
            }),
        }
    }

    /// Every (rule, group) currently firing, so a group that stopped
    /// sending data can be resolved too.
    pub async fn firing(&self) -> Result<Vec<(String, GroupKey)>, AlertError> {
        let table = &self.cfg.state_table;
        let mut out = Vec::new();
        let mut pages = self
            .ddb
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
                let Some((rule, group)) = pk.split_once('#') else {
                    continue;
                };
                let Some((field, value)) = group.split_once('=') else {
                    continue;
                };
                out.push((
                    rule.to_string(),
                    GroupKey {
                        field: field.to_string(),
                        value: value.to_string(),
                    },
                ));
            }
        }
        Ok(out)
    }

    fn instant_key(rule: &str, group: &str, minute_ms: i64) -> String {
        format!("instant#{rule}#{group}#{}", minute_key(minute_ms))
    }

    /// Claim the one notification of an instant rule for (group, minute);
    /// true when this call claimed it.
    pub async fn claim_instant(
        &self,
        rule: &str,
        group: &str,
        minute_ms: i64,
    ) -> Result<bool, AlertError> {
        let table = &self.cfg.state_table;
        let expires = crate::now_ms() / 1000 + 2 * 86_400;
        let r = self
            .ddb
            .put_item()
            .table_name(table)
            .item(
                "pk",
                AttributeValue::S(Self::instant_key(rule, group, minute_ms)),
            )
            .item("expires", AttributeValue::N(expires.to_string()))
            .condition_expression("attribute_not_exists(pk)")
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
    pub async fn release_instant(&self, rule: &str, group: &str, minute_ms: i64) {
        let r = self
            .ddb
            .delete_item()
            .table_name(&self.cfg.state_table)
            .key(
                "pk",
                AttributeValue::S(Self::instant_key(rule, group, minute_ms)),
            )
            .send()
            .await;
        if let Err(e) = r {
            warn!(rule, group, error = %sdk_error(&e), "an instant-alert claim could not be released");
        }
    }

    pub async fn publish(&self, n: &Notification) -> Result<(), AlertError> {
        let err = |message: String| AlertError::Publish {
            topic: self.cfg.topic_arn.clone(),
            message,
        };
        let mut req = self
            .sns
            .publish()
            .topic_arn(&self.cfg.topic_arn)
            .subject(&n.subject)
            .message(n.body.to_string());
        for (k, v) in &n.attributes {
            let a = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| err(e.to_string()))?;
            req = req.message_attributes(k, a);
        }
        req.send()
            .await
            .map_err(|e| err(aws_sdk_sns::error::DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }

    /// Write a source's windows and send its instant alerts (each at most
    /// once per rule, group and minute, whoever else saw it too).
    pub async fn deliver(
        &self,
        source_id: &str,
        observed: AlertObserver,
    ) -> Result<Delivered, AlertError> {
        let mut done = Delivered::default();
        if observed.counting != Counting::None && self.cfg.windows_table.is_some() {
            let contributions = observed.windows.contributions();
            if !contributions.is_empty() {
                done.window_items = self.put_contributions(source_id, &contributions).await?;
            }
        }
        for ((rule, group, minute), n) in observed.instants {
            if !self.claim_instant(&rule, &group, minute).await? {
                continue;
            }
            if let Err(e) = self.publish(&n).await {
                self.release_instant(&rule, &group, minute).await;
                return Err(e);
            }
            info!(rule, group, "instant alert published");
            done.instant_alerts += 1;
        }
        Ok(done)
    }
}

/// Instant alerts kept per source: at most this many distinct (rule, group,
/// minute); beyond it, a storm is already one notification per minute.
const MAX_INSTANTS: usize = 1000;

/// Which records an [`AlertObserver`] counts in the windows. Instant rules
/// see every record in every mode: their notifications are claimed once
/// per (rule, group, minute), whoever sees the record first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Every record (fn-stream: each Kinesis record is counted there, once).
    All,
    /// Every record but those fn-stream already counted: loglake's
    /// normalized NDJSON, which Firehose lands in the raw bucket (they carry
    /// `source_format`). fn-ingest.
    SkipForwarded,
    /// None: instant rules only.
    None,
}

/// Watches a source's records for alerts: window contributions and instant
/// matches (deduplicated per rule, group and minute before any call).
pub struct AlertObserver {
    pub windows: Windows,
    pub instants: BTreeMap<InstantKey, Notification>,
    rules: Arc<Rules>,
    counting: Counting,
    over_limit: u64,
}

impl std::fmt::Debug for AlertObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertObserver")
            .field("instants", &self.instants.len())
            .field("counting", &self.counting)
            .finish()
    }
}

impl AlertObserver {
    pub fn new(rules: Arc<Rules>, counting: Counting) -> Self {
        AlertObserver {
            windows: Windows::new(rules.clone()),
            instants: BTreeMap::new(),
            rules,
            counting,
            over_limit: 0,
        }
    }
}

impl Observer for AlertObserver {
    fn observe(&mut self, rec: &Record<'_>, ts: i64, _: SourceFormat, _: &Origin<'_>) {
        match self.counting {
            Counting::All => self.windows.observe(rec, ts),
            Counting::SkipForwarded if rec.source_format.is_none() => self.windows.observe(rec, ts),
            Counting::SkipForwarded | Counting::None => {}
        }
        for rule in self.windows.instant_matches(rec) {
            let key = instant_key(rule, rec, ts);
            if self.instants.len() >= MAX_INSTANTS && !self.instants.contains_key(&key) {
                self.over_limit += 1;
                if self.over_limit == 1 {
                    warn!(
                        rule = rule.name,
                        "over {MAX_INSTANTS} distinct instant alerts in one source; later ones are not sent"
                    );
                }
                continue;
            }
            self.instants
                .entry(key)
                .or_insert_with(|| notify_instant(rule, rec, ts, &self.rules.settings));
        }
    }
}
