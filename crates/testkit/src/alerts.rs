//! The AWS side of alerts for tests against the local AWS: the windows and
//! state tables, the topic, and an SQS queue subscribed to it to read what
//! was published.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use loglake_handlers::alerts::{AlertConfig, AlertSink};
use loglake_handlers::config::Vars;
use serde_json::Value;

#[derive(Debug)]
pub struct AlertAws {
    sqs: aws_sdk_sqs::Client,
    pub windows: String,
    pub state: String,
    pub topic: String,
    /// The queue subscribed to the topic.
    pub inbox: String,
}

fn key(name: &str, kind: KeyType) -> (AttributeDefinition, KeySchemaElement) {
    (
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap(),
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap(),
    )
}

impl AlertAws {
    /// Tables, topic and inbox named after `id`, as Terraform shapes them.
    pub async fn create(aws: &aws_config::SdkConfig, id: &str) -> AlertAws {
        let ddb = aws_sdk_dynamodb::Client::new(aws);
        let (windows, state) = (format!("windows-{id}"), format!("state-{id}"));
        for (t, keys) in [
            (
                &windows,
                vec![key("pk", KeyType::Hash), key("sk", KeyType::Range)],
            ),
            (&state, vec![key("pk", KeyType::Hash)]),
        ] {
            let mut req = ddb
                .create_table()
                .table_name(t)
                .billing_mode(BillingMode::PayPerRequest);
            for (a, k) in keys {
                req = req.attribute_definitions(a).key_schema(k);
            }
            req.send().await.unwrap();
        }
        let sns = aws_sdk_sns::Client::new(aws);
        let topic = sns
            .create_topic()
            .name(format!("alerts-{id}"))
            .send()
            .await
            .unwrap()
            .topic_arn()
            .unwrap()
            .to_string();
        let sqs = aws_sdk_sqs::Client::new(aws);
        let inbox = sqs
            .create_queue()
            .queue_name(format!("inbox-{id}"))
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_string();
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(format!("arn:aws:sqs:us-east-1:123456789012:inbox-{id}"))
            .send()
            .await
            .unwrap();
        AlertAws {
            sqs,
            windows,
            state,
            topic,
            inbox,
        }
    }

    /// The `ALERT_*` environment a function would get, with these rules.
    pub fn vars(&self, rules: &str) -> HashMap<&'static str, String> {
        HashMap::from([
            ("ALERT_RULES", rules.to_string()),
            ("ALERT_WINDOWS_TABLE", self.windows.clone()),
            ("ALERT_STATE_TABLE", self.state.clone()),
            ("ALERT_TOPIC_ARN", self.topic.clone()),
        ])
    }

    /// The `ALERT_*` environment Terraform gives a function: the rules
    /// in an S3 object, re-read every `refresh_s` seconds.
    pub fn object_vars(&self, uri: &str, refresh_s: u64) -> HashMap<&'static str, String> {
        let mut vars = self.vars("");
        vars.remove("ALERT_RULES");
        vars.insert("ALERT_RULES_URI", uri.to_string());
        vars.insert("ALERT_RULES_REFRESH_S", refresh_s.to_string());
        vars
    }

    /// The configuration fn-ingest and fn-stream read from [`Self::vars`].
    pub fn config(&self, rules: &str) -> AlertConfig {
        let vars = self.vars(rules);
        let get = |k: &str| vars.get(k).cloned();
        AlertConfig::from_vars(Vars::new(&get)).unwrap().unwrap()
    }

    /// The alert sink of a function, on these tables and this topic.
    pub fn sink(&self, aws: &aws_config::SdkConfig, rules: &str) -> AlertSink {
        loglake_aws::alert_sink(aws, self.config(rules))
    }

    /// What was published since the last call (SNS envelopes: `Subject`,
    /// `Message`, `MessageAttributes`), removed from the inbox.
    pub async fn inbox(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut empty = 0;
        while empty < 3 {
            let r = self
                .sqs
                .receive_message()
                .queue_url(&self.inbox)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            for m in r.messages() {
                out.push(serde_json::from_str(m.body().unwrap()).unwrap());
                self.sqs
                    .delete_message()
                    .queue_url(&self.inbox)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
            if r.messages().is_empty() {
                // Nothing more, or nothing yet: wait up to three seconds.
                empty += if out.is_empty() { 1 } else { 3 };
            }
        }
        out
    }
}

/// The subjects of SNS envelopes, sorted.
pub fn subjects(msgs: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = msgs
        .iter()
        .map(|m| m["Subject"].as_str().unwrap_or("").to_string())
        .collect();
    v.sort();
    v
}
