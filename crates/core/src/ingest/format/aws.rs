//! The JSON logs AWS services write: CloudTrail records, AWS WAF logs,
//! Route 53 Resolver query logs and AWS Network Firewall logs. Each is read
//! by the one JSON scanner ([`super::json`]) with the service's own field
//! table instead of the generic aliases (CloudTrail's `eventType` is not
//! our `event_type`, its `eventName` is), then given a level, a service and
//! a readable message from what the record says. Every field without a
//! column is kept in `attributes` under its flattened name
//! (`userIdentity.type`, `additionalEventData.MFAUsed`,
//! `httpRequest.country`), as the generic JSON format keeps them.
//!
//! The mappings follow the field lists of each service's documentation and
//! what SIEM on OpenSearch extracts from the same logs.

use std::borrow::Cow;

use super::json::{self, Column};
use crate::record::{Level, Record, Reject, TextField as T};

/// One of the JSON layouts of AWS's own logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AwsJson {
    /// CloudTrail records, one per line (from a `Records` document through
    /// [`crate::ingest::expand`], or NDJSON of events).
    CloudTrail,
    /// AWS WAF (v2) web ACL traffic logs.
    Waf,
    /// Route 53 Resolver query logs.
    Resolver,
    /// AWS Network Firewall alert, flow and TLS logs.
    Firewall,
}

/// What a line was.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Row,
    /// A document's own member around its records (`"Records":`).
    Header,
}

impl AwsJson {
    /// The service column of every row of the format (CloudTrail's is the
    /// record's `eventSource`).
    pub fn service(self) -> &'static str {
        match self {
            AwsJson::CloudTrail => "cloudtrail",
            AwsJson::Waf => "waf",
            AwsJson::Resolver => "route53-resolver",
            AwsJson::Firewall => "network-firewall",
        }
    }

    fn columns(self) -> json::Columns {
        match self {
            AwsJson::CloudTrail => cloudtrail,
            AwsJson::Waf => waf,
            AwsJson::Resolver => resolver,
            AwsJson::Firewall => firewall,
        }
    }

    /// Parse one line (`rec` cleared).
    pub fn parse<'a>(self, line: &'a str, rec: &mut Record<'a>) -> Result<Line, Reject> {
        let t = line.trim_start();
        if self == AwsJson::CloudTrail && t.starts_with('"') {
            // `"Records":` or another top-level member of the document.
            return Ok(Line::Header);
        }
        if !t.starts_with('{') {
            return Err(Reject::Malformed(format!(
                "a {} record is a JSON object",
                self.service()
            )));
        }
        json::parse_mapped(line, rec, self.columns())?;
        match self {
            AwsJson::CloudTrail => finish_cloudtrail(rec),
            AwsJson::Waf => finish_waf(rec),
            AwsJson::Resolver => finish_resolver(rec),
            AwsJson::Firewall => finish_firewall(rec),
        }
        if rec.get(T::Service).is_none() {
            rec.set(T::Service, self.service());
        }
        Ok(Line::Row)
    }

    /// Recognize a format from one JSON line, by fields only it has.
    pub fn detect(line: &str) -> Option<AwsJson> {
        let has = |k: &str| line.contains(k);
        if has("\"eventVersion\"") && has("\"eventSource\"") && has("\"eventName\"") {
            Some(AwsJson::CloudTrail)
        } else if has("\"webaclId\"") && has("\"httpRequest\"") {
            Some(AwsJson::Waf)
        } else if has("\"query_name\"") && has("\"query_timestamp\"") {
            Some(AwsJson::Resolver)
        } else if has("\"firewall_name\"") && has("\"event\"") {
            Some(AwsJson::Firewall)
        } else {
            None
        }
    }
}

fn cloudtrail(key: &str) -> Option<Column> {
    Some(match key {
        "eventTime" => Column::Ts,
        "eventSource" => Column::Text(T::Service),
        "eventName" => Column::Text(T::EventType),
        "errorCode" => Column::Text(T::ErrorType),
        "sourceIPAddress" => Column::Text(T::ClientIp),
        "userAgent" => Column::Text(T::UserAgent),
        "userIdentity.arn" => Column::Text(T::UserId),
        "awsRegion" => Column::Text(T::Region),
        "requestID" => Column::Text(T::RequestId),
        _ => return None,
    })
}

/// The attribute's value, cloned for a column (borrowed when it was).
fn attr_cow<'a>(rec: &Record<'a>, key: &str) -> Option<Cow<'a, str>> {
    rec.attributes
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
}

/// A failed call (any `errorCode`: AccessDenied, a throttle) is a warning:
/// the request was refused, nothing of ours broke. The message says who
/// did what: `s3.amazonaws.com DeleteBucket by IAMUser
/// arn:aws:iam::111122223333:user/Mary: AccessDenied`.
fn finish_cloudtrail(rec: &mut Record<'_>) {
    if rec.get(T::UserId).is_none() {
        // Service-made calls and other accounts have no ARN of their own.
        let who = attr_cow(rec, "userIdentity.invokedBy")
            .or_else(|| attr_cow(rec, "userIdentity.principalId"));
        if let Some(who) = who {
            rec.text[T::UserId as usize] = Some(who);
        }
    }
    rec.level = Some(if rec.get(T::ErrorType).is_some() {
        Level::Warn
    } else {
        Level::Info
    });
    let mut m = String::new();
    for part in [rec.get(T::Service), rec.get(T::EventType)]
        .into_iter()
        .flatten()
    {
        push_word(&mut m, part);
    }
    let kind = rec.attribute("userIdentity.type");
    if kind.is_some() || rec.get(T::UserId).is_some() {
        push_word(&mut m, "by");
        for part in [kind, rec.get(T::UserId)].into_iter().flatten() {
            push_word(&mut m, part);
        }
    }
    if let Some(e) = rec.get(T::ErrorType) {
        m.push_str(": ");
        m.push_str(e);
        if let Some(detail) = rec.attribute("errorMessage") {
            m.push_str(": ");
            m.push_str(super::clip(detail, 200));
        }
    }
    rec.set(T::Message, m);
}

fn push_word(m: &mut String, w: &str) {
    if !m.is_empty() {
        m.push(' ');
    }
    m.push_str(w);
}

fn waf(key: &str) -> Option<Column> {
    Some(match key {
        "timestamp" => Column::Ts,
        "action" => Column::Text(T::EventType),
        "httpRequest.clientIp" => Column::Text(T::ClientIp),
        "httpRequest.httpMethod" => Column::Text(T::HttpMethod),
        "httpRequest.uri" => Column::Text(T::HttpPath),
        "httpRequest.requestId" => Column::Text(T::RequestId),
        "responseCodeSent" => Column::HttpStatus,
        _ => return None,
    })
}

/// A request header of WAF's `httpRequest.headers` list.
#[derive(serde::Deserialize)]
struct Header {
    name: String,
    value: String,
}

/// BLOCK is a warning. `Host` and `User-Agent` come out of the header list
/// (kept whole in `httpRequest.headers`). The message: `BLOCK GET
/// /login by AWS-AWSManagedRulesSQLiRuleSet`.
fn finish_waf(rec: &mut Record<'_>) {
    rec.level = Some(match rec.get(T::EventType) {
        Some("BLOCK") => Level::Warn,
        _ => Level::Info,
    });
    let headers: Vec<Header> = rec
        .attribute("httpRequest.headers")
        .and_then(|raw| serde_json::from_str(raw).ok())
        .unwrap_or_default();
    {
        for h in headers {
            let field = if h.name.eq_ignore_ascii_case("host") {
                T::Host
            } else if h.name.eq_ignore_ascii_case("user-agent") {
                T::UserAgent
            } else {
                continue;
            };
            if rec.get(field).is_none() {
                rec.set(field, h.value);
            }
        }
    }
    let mut m = String::new();
    for part in [
        rec.get(T::EventType),
        rec.get(T::HttpMethod),
        rec.get(T::HttpPath),
    ]
    .into_iter()
    .flatten()
    {
        push_word(&mut m, part);
    }
    if let Some(rule) = rec.attribute("terminatingRuleId") {
        push_word(&mut m, "by");
        push_word(&mut m, rule);
    }
    rec.set(T::Message, m);
}

fn resolver(key: &str) -> Option<Column> {
    Some(match key {
        "query_timestamp" => Column::Ts,
        "region" => Column::Text(T::Region),
        "srcaddr" => Column::Text(T::ClientIp),
        "query_type" => Column::Text(T::EventType),
        "srcids.instance" => Column::Text(T::Host),
        _ => return None,
    })
}

/// An answer other than NOERROR is the error type; SERVFAIL, REFUSED and a
/// query the DNS Firewall blocked are warnings. The message: `A
/// example.com. NXDOMAIN`.
fn finish_resolver(rec: &mut Record<'_>) {
    let rcode = attr_cow(rec, "rcode");
    let blocked = rec.attribute("firewall_rule_action") == Some("BLOCK");
    let bad = matches!(rcode.as_deref(), Some("SERVFAIL" | "REFUSED"));
    rec.level = Some(if bad || blocked {
        Level::Warn
    } else {
        Level::Info
    });
    let mut m = String::new();
    for part in [rec.get(T::EventType), rec.attribute("query_name")]
        .into_iter()
        .flatten()
    {
        push_word(&mut m, part);
    }
    if let Some(r) = rcode.as_deref() {
        push_word(&mut m, r);
    }
    if blocked {
        push_word(&mut m, "(blocked by DNS Firewall)");
    }
    rec.set(T::Message, m);
    if let Some(r) = rcode.filter(|r| r != "NOERROR") {
        rec.text[T::ErrorType as usize] = Some(r);
    }
}

fn firewall(key: &str) -> Option<Column> {
    Some(match key {
        "event.timestamp" => Column::Ts,
        "firewall_name" => Column::Text(T::Host),
        "event.src_ip" => Column::Text(T::ClientIp),
        "event.event_type" => Column::Text(T::EventType),
        "event.http.http_method" => Column::Text(T::HttpMethod),
        "event.http.url" => Column::Text(T::HttpPath),
        "event.http.http_user_agent" => Column::Text(T::UserAgent),
        "event.http.status" => Column::HttpStatus,
        _ => return None,
    })
}

/// A blocked flow (`event.alert.action` blocked) is a warning. The message:
/// `alert blocked TCP 10.0.0.5:49157 -> 8.8.8.8:53 ET POLICY ...`.
fn finish_firewall(rec: &mut Record<'_>) {
    let action = rec.attribute("event.alert.action");
    let level = if action == Some("blocked") {
        Level::Warn
    } else {
        Level::Info
    };
    let mut m = String::new();
    for part in [rec.get(T::EventType), action, rec.attribute("event.proto")]
        .into_iter()
        .flatten()
    {
        push_word(&mut m, part);
    }
    let end = |ip: Option<&str>, port: Option<&str>| match (ip, port) {
        (Some(ip), Some(p)) => Some(format!("{ip}:{p}")),
        (Some(ip), None) => Some(ip.to_string()),
        _ => None,
    };
    let src = end(rec.get(T::ClientIp), rec.attribute("event.src_port"));
    let dst = end(
        rec.attribute("event.dest_ip"),
        rec.attribute("event.dest_port"),
    );
    if let (Some(s), Some(d)) = (src, dst) {
        push_word(&mut m, &format!("{s} -> {d}"));
    }
    if let Some(sig) = rec
        .attribute("event.alert.signature")
        .filter(|s| !s.is_empty())
    {
        push_word(&mut m, sig);
    }
    rec.level = Some(level);
    rec.set(T::Message, m);
}

#[cfg(test)]
mod tests;
