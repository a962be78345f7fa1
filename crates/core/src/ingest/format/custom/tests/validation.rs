//! Tests of reading a `formats.toml`: every refusal names the format (or its
//! position), the field and the line.

use super::*;

/// The error for `toml`, displayed.
fn error(toml: &str) -> String {
    Formats::from_toml(toml).unwrap_err().to_string()
}

const NGINX_REGEX: &str = r#"'(?P<client_ip>\S+) \[(?P<time>[^\]]+)\]'"#;

fn with(extra: &str) -> String {
    format!("[[format]]\nname = \"web\"\nregex = {NGINX_REGEX}\n{extra}\n")
}

#[test]
fn validation_errors_name_the_format_and_the_field() {
    let mut wrong = Vec::new();
    for (toml, want) in [
        (
            "[[format]]\nname = \"web\"\nregex = '(?P<client_ip>\\S+) (foo'\n".to_owned(),
            r#"formats.toml: format "web", field regex: unclosed group at character 20: "(foo" (line 3)"#,
        ),
        (
            "[[format]]\nname = \"web\"\nregex = '\\S+ \\d+'\n".to_owned(),
            r#"formats.toml: format "web", field regex: has no named capture such as (?P<message>.*): nothing would be kept (line 3)"#,
        ),
        (
            "[[format]]\nname = \"web\"\nregex = '(?P<x>a)(?P<x>b)'\n".to_owned(),
            r#"formats.toml: format "web", field regex: duplicate capture group name at character 13: "x>b)" (line 3)"#,
        ),
        (
            "[[format]]\nname = \"web\"\nregex = '(?P<source_uri>\\S+)'\n".to_owned(),
            r#"formats.toml: format "web", field regex: capture "source_uri" names a column loglake fills itself (line 3)"#,
        ),
        (
            "[[format]]\nname = \"web\"\nregex = '(?P<latency_s>\\S+) (?P<latency_ms>\\S+)'\n"
                .to_owned(),
            r#"formats.toml: format "web", field regex: captures latency_s and latency_ms would both fill latency_ms (line 3)"#,
        ),
        (
            "[[format]]\nname = \"web\"\nregex = '(?P<a>\\w{1000}){1000}'\n".to_owned(),
            r#"formats.toml: format "web", field regex: compiles to more than 2048 KiB"#,
        ),
        (
            "[[format]]\nname = \"web\"\n".to_owned(),
            r#"formats.toml: format "web", field regex: missing: a format is a regex with named captures, JSON records (json = true) or values named by a header line (header = "...") (line 1)"#,
        ),
        (
            "[[format]]\nname = \"web\"\nregex = 5\n".to_owned(),
            r#"formats.toml: format "web", field regex: must be a string (got integer) (line 3)"#,
        ),
        (
            with("regexp = 'x'"),
            r#"formats.toml: format "web", field regexp: unknown key (known: name, regex, time_field, time_layout, timezone, multiline_start, sources, service, json, expand, header, separator, fields) (line 4)"#,
        ),
        (
            with("latency_unit = 's'"),
            r#"formats.toml: format "web", field latency_unit: the latency's unit is in its capture's name: latency_ms, latency_s or latency_us (line 4)"#,
        ),
        (
            with("time_field = 'when'"),
            r#"formats.toml: format "web", field time_field: "when" is not a capture of the regex (it has client_ip, time) (line 4)"#,
        ),
        (
            "[[format]]\nname = \"web\"\nregex = '(?P<message>.*)'\ntime_layout = '%F'\n"
                .to_owned(),
            r#"formats.toml: format "web", field time_layout: the regex has no time capture: call one (?P<time>...) or name it in time_field (line 4)"#,
        ),
        (
            with("time_layout = '%d/%b/%Y:%H:%M:%K'"),
            r#"formats.toml: format "web", field time_layout: strftime formatting failed: found unrecognized specifier directive `K` (line 4)"#,
        ),
        (
            with("time_layout = '%H:%M:%S'"),
            r#"formats.toml: format "web", field time_layout: the layout has no date (a year, month and day; a month and day; or %s) (line 4)"#,
        ),
        (
            with("timezone = 'Mars/Olympus'"),
            r#"formats.toml: format "web", field timezone: "Mars/Olympus" is not a time zone (an IANA name such as Europe/Berlin, UTC, or an offset like +01:00) (line 4)"#,
        ),
        (
            with("multiline_start = '[0-9'"),
            r#"formats.toml: format "web", field multiline_start: unclosed character class at character 1: "[0-9" (line 4)"#,
        ),
        (
            with("sources = ['nginx/', '']"),
            r#"formats.toml: format "web", field sources: entry 2: an empty pattern would match nothing (line 4)"#,
        ),
        (
            with("sources = 'nginx/'"),
            r#"formats.toml: format "web", field sources: must be an array of strings such as ["nginx/", "*.access.log"] (got string) (line 4)"#,
        ),
        (
            with("sources = ['logs/[ab]/']"),
            r#"formats.toml: format "web", field sources: entry 1: "logs/[ab]/": '[' is not a wildcard here; * is the only one (line 4)"#,
        ),
        (
            with("service = ' '"),
            r#"formats.toml: format "web", field service: empty: leave it out for no default service (line 4)"#,
        ),
        (
            format!("[[format]]\nregex = {NGINX_REGEX}\n"),
            "formats.toml: format #1, field name: missing: every [[format]] needs a name (line 1)",
        ),
        (
            format!(
                "{}[[format]]\nname = \"Web Logs\"\nregex = {NGINX_REGEX}\n",
                with("")
            ),
            r#"formats.toml: format #2, field name: "Web Logs" is not a name: use a-z, 0-9, _ and -, at most 64 (line 6)"#,
        ),
        (
            format!("[[format]]\nname = \"nginx\"\nregex = {NGINX_REGEX}\n"),
            r#"formats.toml: format #1, field name: "nginx" is a built-in format's name; choose another (line 2)"#,
        ),
        (
            format!("{}{}", with(""), with("")),
            r#"formats.toml: format "web", field name: duplicate name (first defined on line 1) (line 5)"#,
        ),
        (
            "[format]\nname = \"web\"\n".to_owned(),
            "formats.toml: invalid TOML: invalid type: map, expected a sequence (line 1)",
        ),
        (
            "[[formats]]\nname = \"web\"\n".to_owned(),
            "formats.toml: invalid TOML: unknown field `formats`, expected `format` (line 1)",
        ),
        (
            "[[format]\n".to_owned(),
            "formats.toml: invalid TOML: unclosed array table, expected `]` (line 1)",
        ),
    ] {
        let got = error(&toml);
        if !got.starts_with(want) {
            wrong.push(format!("{toml}\n got: {got}\nwant: {want}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

#[test]
fn empty_file_and_file_errors() {
    assert!(Formats::from_toml("").unwrap().is_empty());
    assert!(Formats::from_toml("# nothing yet\n").unwrap().is_empty());
    let e = Formats::load(std::path::Path::new("/nonexistent/formats.toml")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/nonexistent/formats.toml: cannot read: "),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mine.toml");
    std::fs::write(&p, with("timezone = 'Nowhere'")).unwrap();
    let e = Formats::load(&p).unwrap_err();
    assert_eq!(e.path.as_deref(), Some(p.as_path()));
    assert_eq!(e.format.as_deref(), Some("web"));
    assert_eq!(e.field.as_deref(), Some("timezone"));
    assert!(
        e.to_string()
            .starts_with(&format!("{}: format \"web\"", p.display()))
    );
    std::fs::write(&p, SHIPPED).unwrap();
    assert_eq!(Formats::load(&p).unwrap().len(), 2);
}
