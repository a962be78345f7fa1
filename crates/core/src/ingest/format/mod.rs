//! Log formats: detection per object and one parser per format, all filling
//! the same [`Record`].

pub mod alb;
pub mod aws;
pub mod clf;
pub mod cloudfront;
pub mod custom;
pub mod cwlogs;
pub mod json;
pub mod prefix;
pub mod s3access;
pub mod stamp;
pub mod text;
pub mod vpcflow;

use std::str::FromStr;

use self::aws::AwsJson;
use crate::ingest::expand::Expand;
use crate::record::{Record, Reject, SourceFormat};

/// `s` cut to at most `max` bytes on a char boundary.
pub(crate) fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The format of a whole object, as chosen by `--format` or by [`detect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Json,
    Combined,
    Alb,
    Cloudfront,
    /// Amazon VPC Flow Logs delivered to S3 (`vpcflow`).
    VpcFlow,
    /// CloudTrail, WAF, Route 53 Resolver and Network Firewall logs.
    Aws(AwsJson),
    /// Amazon S3 server access logs (`s3access`).
    S3Access,
    /// CloudWatch Logs exported to S3 (`cwlogs`).
    CwLogs,
    Text,
    /// A user-defined format (`formats.toml`); the [`Parser`] holds which.
    Custom,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        self.source_format().as_str()
    }

    fn source_format(self) -> SourceFormat {
        match self {
            Format::Json => SourceFormat::Json,
            Format::Combined => SourceFormat::Combined,
            Format::Alb => SourceFormat::Alb,
            Format::Cloudfront => SourceFormat::Cloudfront,
            Format::VpcFlow => SourceFormat::VpcFlow,
            Format::Aws(AwsJson::CloudTrail) => SourceFormat::CloudTrail,
            Format::Aws(AwsJson::Waf) => SourceFormat::Waf,
            Format::Aws(AwsJson::Resolver) => SourceFormat::Route53Resolver,
            Format::Aws(AwsJson::Firewall) => SourceFormat::NetworkFirewall,
            Format::S3Access => SourceFormat::S3Access,
            Format::CwLogs => SourceFormat::Cwlogs,
            Format::Text => SourceFormat::Text,
            Format::Custom => SourceFormat::Custom,
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "json" | "ndjson" | "jsonl" => Format::Json,
            "combined" | "common" | "clf" | "apache" | "nginx" => Format::Combined,
            "alb" => Format::Alb,
            "cloudfront" => Format::Cloudfront,
            "vpcflow" | "vpc-flow" => Format::VpcFlow,
            "cloudtrail" => Format::Aws(AwsJson::CloudTrail),
            "waf" => Format::Aws(AwsJson::Waf),
            "route53resolver" => Format::Aws(AwsJson::Resolver),
            "networkfirewall" => Format::Aws(AwsJson::Firewall),
            "s3access" => Format::S3Access,
            "cwlogs" => Format::CwLogs,
            "text" => Format::Text,
            _ => {
                return Err(format!(
                    "unknown format {s:?} (expected json, combined, alb, cloudfront, vpcflow, cloudtrail, waf, s3access, cwlogs, route53resolver, networkfirewall or text)"
                ));
            }
        })
    }
}

/// Choose an object's format from a sample of its first lines: the format
/// most non-blank lines look like, with text as the fallback. CloudFront's
/// `#Version`/`#Fields` header and a VPC Flow Logs header decide at once;
/// JSON lines with the fields of an AWS service's log are that service's.
pub fn detect<'a>(lines: impl IntoIterator<Item = &'a str>) -> Format {
    const CANDIDATES: [Format; 7] = [
        Format::Json,
        Format::Alb,
        Format::Cloudfront,
        Format::Combined,
        Format::VpcFlow,
        Format::S3Access,
        Format::CwLogs,
    ];
    let mut votes = [0usize; CANDIDATES.len()];
    let mut n = 0;
    let mut first_json = None;
    for line in lines {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        if line.starts_with("#Version:") || line.starts_with("#Fields:") {
            return Format::Cloudfront;
        }
        if vpcflow::is_header(line) {
            return Format::VpcFlow;
        }
        n += 1;
        let i = if json::looks_like(line) {
            first_json.get_or_insert(line);
            0
        } else if alb::looks_like(line) {
            1
        } else if cloudfront::looks_like(line) {
            2
        } else if clf::looks_like(line) {
            3
        } else if vpcflow::looks_like(line) {
            4
        } else if s3access::looks_like(line) {
            5
        } else if cwlogs::looks_like(line) {
            6
        } else {
            continue;
        };
        votes[i] += 1;
    }
    let (best, count) = votes
        .iter()
        .enumerate()
        .max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))
        .map_or((0, 0), |(i, c)| (i, *c));
    // Half the sample must agree: one JSON-looking line in a text log does not
    // make the object JSON.
    if n == 0 || count * 2 < n {
        return Format::Text;
    }
    match CANDIDATES[best] {
        Format::Json => first_json
            .and_then(AwsJson::detect)
            .map_or(Format::Json, Format::Aws),
        f => f,
    }
}

/// The format AWS's own key layout names (`AWSLogs/<account>/<service>/`,
/// an organization trail's `AWSLogs/<org-id>/<account>/...` too), for the
/// services whose logs have one layout.
pub fn from_key(key: &str) -> Option<Format> {
    let mut parts = key.split('/').skip_while(|p| *p != "AWSLogs").skip(1);
    let mut service = parts.next()?;
    if service.starts_with("o-") {
        service = parts.next()?;
    }
    if !service.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match parts.next()? {
        "CloudTrail" | "CloudTrail-Insight" => Format::Aws(AwsJson::CloudTrail),
        "vpcflowlogs" => Format::VpcFlow,
        "WAFLogs" => Format::Aws(AwsJson::Waf),
        "vpcdnsquerylogs" => Format::Aws(AwsJson::Resolver),
        "network-firewall" => Format::Aws(AwsJson::Firewall),
        _ => return None,
    })
}

/// The user-defined format most of a sample's non-blank lines parse as,
/// if one does for at least half of them (of the lines that start an event,
/// for a multiline format; ties: the first in the file).
pub fn detect_custom<'a>(
    formats: &custom::Formats,
    lines: impl IntoIterator<Item = &'a str>,
    ctx: &stamp::Context,
) -> Option<custom::CustomFormat> {
    if formats.is_empty() {
        return None;
    }
    let lines: Vec<&str> = lines.into_iter().filter(|l| !l.trim().is_empty()).collect();
    let mut best: Option<(usize, &custom::CustomFormat)> = None;
    for f in formats {
        // A field format names its fields itself: any JSON object would
        // "parse". Only a header line of its own recognizes one.
        if f.is_fields() {
            if let Some(prefix) = f.header_prefix()
                && lines.iter().any(|l| l.starts_with(prefix))
            {
                return Some(f.clone());
            }
            continue;
        }
        // A multiline format's continuation lines are not events of their
        // own: only the lines that start one count.
        let starts: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| f.starts_event(l) != Some(false))
            .collect();
        let mut rec = Record::default();
        let n = starts
            .iter()
            .filter(|l| {
                rec.clear();
                f.parse(l, &mut rec, ctx).is_ok()
            })
            .count();
        if n > 0 && n * 2 >= starts.len() && best.is_none_or(|(b, _)| n > b) {
            best = Some((n, f));
        }
    }
    best.map(|(_, f)| f.clone())
}

/// One object's line parser: the chosen format plus the state a format keeps
/// across lines (CloudFront's field order), and what text lines' times need
/// (the zone, the object's time for year-less layouts).
#[derive(Debug)]
pub struct Parser {
    format: Format,
    cloudfront: cloudfront::CloudFront,
    vpcflow: vpcflow::VpcFlow,
    context: stamp::Context,
    /// The user-defined format, for [`Format::Custom`].
    custom: Option<custom::CustomFormat>,
    /// The CloudFront `#Fields:` or flow log header line in force, to
    /// resume elsewhere.
    fields: Option<String>,
    /// JSON lines' top-level field names, by position, from line to line.
    json_keys: json::Keys,
}

/// What a [`Parser`] carries from line to line, to resume it in another
/// run: its format's name and, for CloudFront, the `#Fields:` line in force.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ParserState {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<String>,
}

/// What a line turned into.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A record in this format.
    Row(SourceFormat),
    /// A header or comment line that carries no log record.
    Header,
}

impl Parser {
    pub fn new(format: Format, context: stamp::Context) -> Self {
        Parser {
            format,
            cloudfront: cloudfront::CloudFront::default(),
            vpcflow: vpcflow::VpcFlow::default(),
            context,
            custom: None,
            fields: None,
            json_keys: json::Keys::default(),
        }
    }

    /// A parser for a user-defined format.
    pub fn custom(format: custom::CustomFormat, context: stamp::Context) -> Self {
        Parser {
            custom: Some(format),
            ..Parser::new(Format::Custom, context)
        }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Where this format's records are when they come as one JSON document
    /// (CloudTrail's `Records`): see [`crate::ingest::expand`].
    pub fn expand(&self) -> Option<Expand> {
        match self.format {
            Format::Aws(AwsJson::CloudTrail) => Some(Expand::records()),
            Format::Custom => self.custom.as_ref()?.expand(),
            _ => None,
        }
    }

    /// This parser's state, for [`Parser::restore`].
    pub fn state(&self) -> ParserState {
        ParserState {
            name: self.name(),
            fields: self.fields.clone(),
        }
    }

    /// The parser a [`ParserState`] describes; `None` when it names a
    /// user-defined format that is not in `formats` (or `custom`).
    pub fn restore(
        state: &ParserState,
        formats: &custom::Formats,
        custom: Option<&custom::CustomFormat>,
        context: stamp::Context,
    ) -> Option<Parser> {
        let mut p = match state.name.strip_prefix("custom:") {
            Some(name) => {
                let c = custom
                    .filter(|c| c.name() == name)
                    .or_else(|| formats.get(name))?;
                Parser::custom(c.clone(), context)
            }
            None => Parser::new(state.name.parse().ok()?, context),
        };
        if let Some(line) = &state.fields {
            match p.format {
                Format::VpcFlow => p.vpcflow.header(line),
                _ => p.cloudfront.header(line),
            };
            p.fields = Some(line.clone());
        }
        Some(p)
    }

    /// The user-defined format, when this parser is one.
    pub fn custom_format(&self) -> Option<&custom::CustomFormat> {
        self.custom.as_ref()
    }

    /// The format's name as the manifest reports it: `json`, `text`, ...,
    /// or `custom:<name>`.
    pub fn name(&self) -> String {
        match &self.custom {
            Some(c) => format!("custom:{}", c.name()),
            None => self.format.as_str().to_string(),
        }
    }

    /// Parse one non-blank line. `rec` must be cleared.
    ///
    /// In a JSON object, a line that does not start with `{` is a text record
    /// (a plain logger's line or a stack-trace continuation, written to the
    /// same stream), while a line that starts with `{` but is not valid JSON
    /// is rejected: keeping half an object as text would only hide the loss.
    pub fn parse<'a>(&mut self, line: &'a str, rec: &mut Record<'a>) -> Result<Parsed, Reject> {
        self.parse_found(line, rec, None)
    }

    /// [`Parser::parse`], with what [`stamp::find`] said of `line` when the
    /// caller already asked: the multiline joiner looks for the time of
    /// every line that may start an event, and the text parser would look
    /// again.
    pub fn parse_found<'a>(
        &mut self,
        line: &'a str,
        rec: &mut Record<'a>,
        found: Option<stamp::Found>,
    ) -> Result<Parsed, Reject> {
        match self.format {
            Format::Json => {
                if line.trim_start().starts_with('{') {
                    json::parse_with(line, rec, &mut self.json_keys)?;
                } else {
                    return text::parse_found(line, rec, &self.context, found)
                        .map(|_| Parsed::Row(SourceFormat::Text));
                }
            }
            Format::Combined => clf::parse(line, rec)?,
            Format::Alb => alb::parse(line, rec)?,
            Format::Cloudfront => {
                if self.cloudfront.header(line) {
                    if line.starts_with("#Fields:") && line.len() > "#Fields:".len() {
                        self.fields = Some(line.to_string());
                    }
                    return Ok(Parsed::Header);
                }
                self.cloudfront.parse(line, rec)?;
            }
            Format::VpcFlow => {
                if self.vpcflow.header(line) {
                    self.fields = Some(line.to_string());
                    return Ok(Parsed::Header);
                }
                self.vpcflow.parse(line, rec)?;
            }
            Format::Aws(a) => {
                if a.parse(line, rec)? == aws::Line::Header {
                    return Ok(Parsed::Header);
                }
            }
            Format::S3Access => s3access::parse(line, rec)?,
            Format::CwLogs => cwlogs::parse(line, rec, &self.context)?,
            Format::Text => text::parse_found(line, rec, &self.context, found)?,
            Format::Custom => match &self.custom {
                Some(c) if c.is_fields() => {
                    if c.is_header(line, self.fields.is_none()) {
                        if c.header_prefix().is_some() || self.fields.is_none() {
                            self.fields = c.expand().is_none().then(|| line.to_string());
                        }
                        return Ok(Parsed::Header);
                    }
                    c.parse_with_header(line, self.fields.as_deref(), rec, &self.context)?
                }
                Some(c) => c.parse(line, rec, &self.context)?,
                None => text::parse(line, rec, &self.context)?,
            },
        }
        Ok(Parsed::Row(self.format.source_format()))
    }
}

/// [`parse_line`] for a run of lines: JSON lines read their field names
/// through the names the lines before had at each position (`keys`, kept
/// by the caller from line to line).
pub fn parse_line_with<'a>(
    line: &'a str,
    rec: &mut Record<'a>,
    ctx: &stamp::Context,
    keys: &mut json::Keys,
) -> Result<SourceFormat, Reject> {
    if json::looks_like(line) {
        json::parse_with(line, rec, keys)?;
        return Ok(SourceFormat::Json);
    }
    parse_line(line, rec, ctx)
}

/// Parse one line whose format is not known in advance: JSON if it is an
/// object, else whichever access-log format it looks like, else text (its
/// time resolved with `ctx`).
pub fn parse_line<'a>(
    line: &'a str,
    rec: &mut Record<'a>,
    ctx: &stamp::Context,
) -> Result<SourceFormat, Reject> {
    // Called per line: dispatch straight to the parser, without the
    // per-object state a `Parser` keeps. An object is JSON whatever else
    // `detect` would look for (no header or access-log line starts with
    // `{`), and JSON is what most stream records hold.
    if json::looks_like(line) {
        json::parse(line, rec)?;
        return Ok(SourceFormat::Json);
    }
    Ok(match detect([line]) {
        Format::Json => {
            json::parse(line, rec)?;
            SourceFormat::Json
        }
        Format::Combined => {
            clf::parse(line, rec)?;
            SourceFormat::Combined
        }
        Format::Alb => {
            alb::parse(line, rec)?;
            SourceFormat::Alb
        }
        Format::VpcFlow => {
            vpcflow::VpcFlow::default().parse(line, rec)?;
            SourceFormat::VpcFlow
        }
        Format::S3Access => {
            s3access::parse(line, rec)?;
            SourceFormat::S3Access
        }
        Format::CwLogs => {
            cwlogs::parse(line, rec, ctx)?;
            SourceFormat::Cwlogs
        }
        // Per line, JSON stays JSON: telling AWS's layouts apart costs
        // a search per line, and objects are where those logs come.
        Format::Aws(_) => {
            json::parse(line, rec)?;
            SourceFormat::Json
        }
        // A CloudFront line needs its file's header; alone it is text.
        Format::Cloudfront | Format::Text | Format::Custom => {
            text::parse(line, rec, ctx)?;
            SourceFormat::Text
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Level;

    #[test]
    fn detection() {
        let json = r#"{"timestamp":"2024-03-14T21:00:00Z","level":"INFO"}"#;
        let clf = r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "-" "curl/8""#;
        let alb = r#"http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-""#;
        let text = "2024-03-14 21:00:01 ERROR [main] boom";
        assert_eq!(detect([json, json, "", text]), Format::Json);
        assert_eq!(detect([clf, clf]), Format::Combined);
        assert_eq!(detect([alb]), Format::Alb);
        assert_eq!(
            detect(["#Version: 1.0", "#Fields: date time"]),
            Format::Cloudfront
        );
        assert_eq!(detect([text, text, json]), Format::Text);
        let flow = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK";
        let header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
        assert_eq!(detect([header, flow]), Format::VpcFlow);
        assert_eq!(detect([flow, flow]), Format::VpcFlow);
        assert_eq!(detect(["", "  "]), Format::Text);
        assert_eq!(detect(std::iter::empty()), Format::Text);
    }

    #[test]
    fn access_log_and_text_lines_alone() {
        let mut rec = Record::default();
        let clf =
            r#"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5 "-" "curl/8""#;
        assert_eq!(
            parse_line(clf, &mut rec, &Default::default()).unwrap(),
            SourceFormat::Combined
        );
        let mut rec = Record::default();
        assert_eq!(
            parse_line("ERROR something broke", &mut rec, &Default::default()).unwrap(),
            SourceFormat::Text
        );
        assert_eq!(rec.level, Some(Level::Error));
    }

    #[test]
    fn format_names() {
        assert_eq!("nginx".parse::<Format>(), Ok(Format::Combined));
        assert!("xml".parse::<Format>().is_err());
        assert_eq!(Format::Cloudfront.as_str(), "cloudfront");
        assert_eq!("vpcflow".parse::<Format>(), Ok(Format::VpcFlow));
        assert_eq!(Format::VpcFlow.as_str(), "vpcflow");
    }
}
