//! Amazon VPC Flow Logs, as delivered to S3: one space-separated record per
//! line, after a header line that names the fields (`version account-id
//! interface-id srcaddr ...`). The default format is version 2's fourteen
//! fields; a custom format picks any of the documented fields (versions 2
//! to 8) in any order, and the header says which. A field this parser does
//! not know (one AWS adds later) becomes an attribute under its own name;
//! `-` is a missing value.
//!
//! What each record becomes: the time is `start` (the window's first
//! second), `client_ip` is `srcaddr`, `region` is `region`, the level is
//! WARN for a `REJECT` and INFO otherwise, `service` is `vpc-flow-logs`,
//! and the message reads `ACCEPT tcp 10.0.1.5:443 -> 10.0.2.9:51512` (or
//! the log status of a record with no traffic: `NODATA`, `SKIPDATA`).
//! Every other field is an attribute (`account_id`, `interface_id`,
//! `dstaddr`, `dstport`, `bytes`, ...).

use std::borrow::Cow;

use super::clf::{attr_opt, clip, extra_key};
use crate::record::{Level, Record, Reject, TextField};

/// What a field feeds; everything else is an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Start,
    SrcAddr,
    DstAddr,
    SrcPort,
    DstPort,
    Protocol,
    Action,
    LogStatus,
    Region,
    Attr,
}

/// Every documented field, in the default order first (version 2).
const KNOWN: [(&str, &str, Role); 14] = [
    ("version", "version", Role::Attr),
    ("account-id", "account_id", Role::Attr),
    ("interface-id", "interface_id", Role::Attr),
    ("srcaddr", "srcaddr", Role::SrcAddr),
    ("dstaddr", "dstaddr", Role::DstAddr),
    ("srcport", "srcport", Role::SrcPort),
    ("dstport", "dstport", Role::DstPort),
    ("protocol", "protocol", Role::Protocol),
    ("packets", "packets", Role::Attr),
    ("bytes", "bytes", Role::Attr),
    ("start", "start", Role::Start),
    ("end", "end", Role::Attr),
    ("action", "action", Role::Action),
    ("log-status", "log_status", Role::LogStatus),
];

/// The other documented fields (versions 3 to 8), all attributes but
/// `region`.
const LATER: [(&str, &str, Role); 22] = [
    ("vpc-id", "vpc_id", Role::Attr),
    ("subnet-id", "subnet_id", Role::Attr),
    ("instance-id", "instance_id", Role::Attr),
    ("tcp-flags", "tcp_flags", Role::Attr),
    ("type", "type", Role::Attr),
    ("pkt-srcaddr", "pkt_srcaddr", Role::Attr),
    ("pkt-dstaddr", "pkt_dstaddr", Role::Attr),
    ("region", "region", Role::Region),
    ("az-id", "az_id", Role::Attr),
    ("sublocation-type", "sublocation_type", Role::Attr),
    ("sublocation-id", "sublocation_id", Role::Attr),
    ("pkt-src-aws-service", "pkt_src_aws_service", Role::Attr),
    ("pkt-dst-aws-service", "pkt_dst_aws_service", Role::Attr),
    ("flow-direction", "flow_direction", Role::Attr),
    ("traffic-path", "traffic_path", Role::Attr),
    ("ecs-cluster-arn", "ecs_cluster_arn", Role::Attr),
    ("ecs-cluster-name", "ecs_cluster_name", Role::Attr),
    (
        "ecs-container-instance-arn",
        "ecs_container_instance_arn",
        Role::Attr,
    ),
    (
        "ecs-container-instance-id",
        "ecs_container_instance_id",
        Role::Attr,
    ),
    ("ecs-container-id", "ecs_container_id", Role::Attr),
    ("ecs-service-name", "ecs_service_name", Role::Attr),
    ("reject-reason", "reject_reason", Role::Attr),
];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    role: Role,
    key: Cow<'static, str>,
}

impl Field {
    fn from_name(name: &str) -> Field {
        match KNOWN
            .iter()
            .chain(LATER.iter())
            .find(|(n, _, _)| *n == name)
        {
            Some(&(_, key, role)) => Field {
                role,
                key: Cow::Borrowed(key),
            },
            None => Field {
                role: Role::Attr,
                key: Cow::Owned(name.replace('-', "_").to_ascii_lowercase()),
            },
        }
    }
}

/// A flow log reader's state: the field order of the current object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcFlow {
    fields: Vec<Field>,
}

impl Default for VpcFlow {
    /// Version 2's default format, for objects without a header.
    fn default() -> Self {
        VpcFlow {
            fields: KNOWN
                .iter()
                .map(|&(_, key, role)| Field {
                    role,
                    key: Cow::Borrowed(key),
                })
                .collect(),
        }
    }
}

/// Whether `line` is a header line: field names only, `version` or
/// `account-id` among them (S3 delivery writes the names of the format).
pub fn is_header(line: &str) -> bool {
    let mut names = line.split_ascii_whitespace().peekable();
    names.peek().is_some()
        && line
            .split_ascii_whitespace()
            .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
        && names.any(|n| n == "srcaddr" || n == "interface-id" || n == "log-status")
}

/// Whether `line` looks like a record of the default format: version,
/// twelve-digit account, an interface id (or `-`).
pub fn looks_like(line: &str) -> bool {
    let mut t = line.split_ascii_whitespace();
    let (Some(version), Some(account), Some(eni)) = (t.next(), t.next(), t.next()) else {
        return false;
    };
    version.len() <= 2
        && version.bytes().all(|b| b.is_ascii_digit())
        && (account == "-" || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())))
        && (eni == "-" || eni.starts_with("eni-"))
        && t.count() >= 11
}

impl VpcFlow {
    /// Take a header line: its names become the field order. Returns
    /// whether the line was one, so the caller skips it.
    pub fn header(&mut self, line: &str) -> bool {
        if !is_header(line) {
            return false;
        }
        self.fields = line
            .split_ascii_whitespace()
            .map(Field::from_name)
            .collect();
        true
    }

    /// Parse one record into `rec` (already cleared).
    pub fn parse<'a>(&self, line: &'a str, rec: &mut Record<'a>) -> Result<(), Reject> {
        let line = line.trim_end_matches(['\r', '\n']);
        let found = line.split_ascii_whitespace().count();
        if found < self.fields.len() {
            return Err(Reject::Malformed(format!(
                "expected {} space-separated flow log fields, found {found}",
                self.fields.len()
            )));
        }
        let mut values = line.split_ascii_whitespace();
        let (mut src, mut dst, mut sport, mut dport, mut proto) = ("-", "-", "-", "-", "-");
        let (mut action, mut status) = ("-", "-");
        for field in &self.fields {
            let v = values.next().unwrap_or("-");
            match field.role {
                Role::SrcAddr => rec.set_opt(TextField::ClientIp, v),
                Role::Region => rec.set_opt(TextField::Region, v),
                // Every other field is an attribute, the ones the time and
                // the message are made of too.
                _ => attr_opt(rec, field.key.clone(), v),
            }
            match field.role {
                Role::Start if v != "-" => {
                    let secs: i64 = v.parse().map_err(|_| {
                        Reject::InvalidTimestamp(format!(
                            "flow log start {:?} is not epoch seconds",
                            clip(v)
                        ))
                    })?;
                    rec.ts = Some(secs.saturating_mul(1000));
                }
                Role::SrcAddr => src = v,
                Role::DstAddr => dst = v,
                Role::SrcPort => sport = v,
                Role::DstPort => dport = v,
                Role::Protocol => proto = v,
                Role::Action => action = v,
                Role::LogStatus => status = v,
                _ => {}
            }
        }
        for (i, v) in values.enumerate() {
            attr_opt(rec, extra_key(i + 1), v);
        }
        rec.level = Some(if action == "REJECT" {
            Level::Warn
        } else {
            Level::Info
        });
        rec.set(TextField::Service, "vpc-flow-logs");
        let message = if action == "-" {
            status.to_string()
        } else {
            format!(
                "{action} {} {}{} -> {}{}",
                protocol_name(proto),
                src,
                port(sport),
                dst,
                port(dport)
            )
        };
        rec.set(TextField::Message, message);
        Ok(())
    }
}

fn port(p: &str) -> String {
    if p == "-" {
        String::new()
    } else {
        format!(":{p}")
    }
}

/// IANA protocol numbers people read by name.
fn protocol_name(p: &str) -> &str {
    match p {
        "1" => "icmp",
        "6" => "tcp",
        "17" => "udp",
        "47" => "gre",
        "50" => "esp",
        "58" => "icmpv6",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<'a>(p: &VpcFlow, line: &'a str) -> Result<Record<'a>, Reject> {
        let mut rec = Record::default();
        p.parse(line, &mut rec).map(|()| rec)
    }

    // Records from the examples of the VPC Flow Logs user guide.
    const ACCEPTED: &str = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK";
    const REJECTED: &str = "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK";
    const NODATA: &str =
        "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA";

    #[test]
    fn the_default_format_maps_time_source_and_action() {
        let p = VpcFlow::default();
        let r = parse(&p, ACCEPTED).unwrap();
        assert_eq!(r.ts, Some(1_418_530_010_000));
        assert_eq!(r.get(TextField::ClientIp), Some("172.31.16.139"));
        assert_eq!(r.get(TextField::Service), Some("vpc-flow-logs"));
        assert_eq!(r.level, Some(Level::Info));
        assert_eq!(
            r.get(TextField::Message),
            Some("ACCEPT tcp 172.31.16.139:20641 -> 172.31.16.21:22")
        );
        for (k, v) in [
            ("account_id", "123456789010"),
            ("interface_id", "eni-1235b8ca123456789"),
            ("dstaddr", "172.31.16.21"),
            ("dstport", "22"),
            ("bytes", "4249"),
            ("end", "1418530070"),
            ("log_status", "OK"),
        ] {
            assert_eq!(r.attribute(k), Some(v), "{k}");
        }
        let r = parse(&p, REJECTED).unwrap();
        assert_eq!(r.level, Some(Level::Warn));
        let r = parse(&p, NODATA).unwrap();
        assert_eq!(r.get(TextField::ClientIp), None, "- is no value");
        assert_eq!(r.get(TextField::Message), Some("NODATA"));
        assert_eq!(r.attribute("dstaddr"), None);
        assert_eq!(r.ts, Some(1_431_280_876_000));
    }

    #[test]
    fn a_header_sets_the_fields_and_unknown_newer_fields_are_kept() {
        let mut p = VpcFlow::default();
        let header = "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status region flow-direction traffic-path some-future-field";
        assert!(is_header(header));
        assert!(p.header(header));
        let line = "5 vpc-12345678 subnet-012345678 i-0123456789 eni-1235b8ca123456789 123456789010 IPv4 52.213.180.42 10.0.0.62 43416 5001 52.213.180.42 10.0.0.62 6 568 8 1566848875 1566848933 ACCEPT 2 OK eu-west-1 ingress - future-value";
        let r = parse(&p, line).unwrap();
        assert_eq!(r.get(TextField::Region), Some("eu-west-1"));
        assert_eq!(r.attribute("vpc_id"), Some("vpc-12345678"));
        assert_eq!(r.attribute("flow_direction"), Some("ingress"));
        assert_eq!(r.attribute("traffic_path"), None);
        assert_eq!(r.attribute("some_future_field"), Some("future-value"));
        assert_eq!(r.ts, Some(1_566_848_875_000));
        // Too few values for the header is malformed, not misaligned.
        let err = parse(&p, ACCEPTED).unwrap_err();
        assert!(matches!(err, Reject::Malformed(_)), "{err:?}");
        assert!(!is_header(ACCEPTED));
        assert!(looks_like(ACCEPTED) && looks_like(NODATA));
        assert!(!looks_like("2024-03-15 INFO something happened here ok"));
    }

    #[test]
    fn a_start_that_is_not_a_number_is_an_invalid_timestamp() {
        let line = ACCEPTED.replace("1418530010", "yesterday");
        let err = parse(&VpcFlow::default(), &line).unwrap_err();
        assert!(matches!(err, Reject::InvalidTimestamp(_)), "{err:?}");
    }
}
