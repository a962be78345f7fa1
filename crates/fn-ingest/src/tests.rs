//! fn-ingest's settings: defaults, and every bad value refused naming its
//! variable (and its range).
use super::*;

fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_vars(Vars::new(&loglake_testkit::vars(pairs)))
}

fn refused(pairs: &[(&str, &str)]) -> ConfigError {
    let all = [&[("CURATED_BUCKET", "curated")], pairs].concat();
    config(&all).unwrap_err()
}

#[test]
fn defaults_need_only_the_curated_bucket() {
    let c = config(&[("CURATED_BUCKET", "curated")]).unwrap();
    assert_eq!(c.ingest.memory_budget_mb, 64);
    assert!(c.ingest.service_from_key);
    assert!(c.sinks.search.is_none() && c.sinks.alerts.is_none());
    assert_eq!(config(&[]).unwrap_err().variable, "CURATED_BUCKET");
}

#[test]
fn every_bad_setting_names_its_variable_and_value() {
    for (var, value) in [
        ("MEMORY_BUDGET_MB", "lots"),
        ("MAX_LINE_BYTES", "-1"),
        ("SERVICE_FROM_KEY", "maybe"),
        ("REDACT", "cards,faces"),
        ("FORMAT_BY_PREFIX", "alb/=xml"),
        ("FORMAT_BY_PREFIX", "no-equals-sign"),
        ("FORMAT_BY_PREFIX", "s3://no-slash=cloudtrail"),
        ("CANARY_PREFIX", "canary"),
        ("SEARCH_AUTH", "kerberos"),
        ("SEARCH_MIN_LEVEL", "LOUD"),
        ("SEARCH_INDEX_PREFIX", "Logs-"),
        ("SEARCH_CONCURRENCY", "two"),
        ("TIMEZONE", "Mars/Olympus"),
        ("MULTILINE_MAX_LINES", "0"),
        ("MULTILINE_MAX_BYTES", "1GiB"),
        ("FORMATS_FILE", "/no/such/formats.toml"),
        ("MESSAGE_CONCURRENCY", "0"),
    ] {
        let search = [("SEARCH_ENDPOINT", "http://127.0.0.1:9200"), (var, value)];
        let pairs: &[(&str, &str)] = if var.starts_with("SEARCH_") {
            &search
        } else {
            &search[1..]
        };
        let e = refused(pairs);
        assert_eq!(e.variable, var, "{e}");
        assert_eq!(e.value.as_deref(), Some(value), "{e}");
        assert!(e.to_string().starts_with(var), "{e}");
    }
}

#[test]
fn sizes_out_of_range_are_refused_naming_the_range() {
    for (var, value, range) in [
        ("MAX_LINE_BYTES", "4294967297", "from 256 to 67108864"),
        ("MAX_LINE_BYTES", "10", "from 256 to 67108864"),
        (
            "MEMORY_BUDGET_MB",
            "18446744073709551615",
            "from 4 to 10240",
        ),
        ("MEMORY_BUDGET_MB", "0", "from 4 to 10240"),
    ] {
        let e = refused(&[(var, value)]);
        assert_eq!(e.variable, var, "{e}");
        assert!(e.to_string().contains(range), "{e}");
    }
    for (endpoint, auth) in [
        ("http://search.example.com", "basic"),
        ("HTTP://search.example.com:9200/", "sigv4"),
        ("http://10.0.0.5:9200", "sigv4"),
    ] {
        let e = refused(&[
            ("SEARCH_ENDPOINT", endpoint),
            ("SEARCH_AUTH", auth),
            ("SEARCH_USERNAME", "u"),
            ("SEARCH_PASSWORD", "p"),
        ]);
        assert_eq!(e.variable, "SEARCH_ENDPOINT", "{e}");
        assert!(e.to_string().contains("https://"), "{e}");
    }
    for (endpoint, auth) in [
        ("http://127.0.0.1:9200", "basic"),
        ("http://localhost:9200", "sigv4"),
        ("http://[::1]:9200", "basic"),
        ("https://search.example.com", "basic"),
        ("http://search.example.com", "none"),
    ] {
        let c = config(&[
            ("CURATED_BUCKET", "c"),
            ("SEARCH_ENDPOINT", endpoint),
            ("SEARCH_AUTH", auth),
            ("SEARCH_USERNAME", "u"),
            ("SEARCH_PASSWORD", "p"),
        ]);
        assert!(c.is_ok(), "{endpoint} {auth}: {c:?}");
    }
}

#[test]
fn a_bad_formats_file_names_the_format_and_the_field() {
    let e = refused(&[(
        "FORMATS",
        "[[format]]\nname = \"web\"\nregex = '(?P<time>'\n",
    )]);
    assert_eq!(e.variable, "FORMATS", "{e}");
    assert!(
        e.reason.contains("\"web\"") && e.reason.contains("regex"),
        "{e}"
    );
    let ok = config(&[
        ("CURATED_BUCKET", "curated"),
        ("FORMATS", include_str!("../../../examples/formats.toml")),
    ])
    .unwrap();
    assert_eq!(ok.ingest.formats.get().len(), 2);
    assert_eq!(ok.formats, None);

    // Kept in S3: read by the function, re-read every FORMATS_REFRESH_S.
    let uri = "s3://curated/_config/formats.toml";
    let c = config(&[("CURATED_BUCKET", "curated"), ("FORMATS_URI", uri)]).unwrap();
    let object = c.formats.unwrap();
    assert_eq!((object.uri().as_str(), object.refresh.as_secs()), (uri, 60));
    assert!(
        c.ingest.formats.get().is_empty(),
        "none before the first read"
    );
    let e = refused(&[("FORMATS_URI", uri), ("FORMATS_REFRESH_S", "-1")]);
    assert_eq!(e.variable, "FORMATS_REFRESH_S", "{e}");
    let e = refused(&[("FORMATS_URI", "curated/formats.toml")]);
    assert_eq!(e.variable, "FORMATS_URI", "{e}");
    let e = refused(&[("FORMATS", "x = 1"), ("FORMATS_URI", uri)]);
    assert!(e.reason.contains("not FORMATS and FORMATS_URI"), "{e}");
}

#[test]
fn alert_settings_are_checked_together() {
    let rules = "[[rule]]\nname = \"f\"\nkind = \"instant\"\nlevel = \"FATAL\"\n";
    let e = refused(&[("ALERT_RULES", rules)]);
    assert_eq!(e.variable, "ALERT_STATE_TABLE", "{e}");
    let e = refused(&[
        ("ALERT_RULES", rules),
        ("ALERT_STATE_TABLE", "s"),
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:t"),
    ]);
    assert_eq!(e.variable, "ALERT_WINDOWS_TABLE", "{e}");
    let e = refused(&[("ALERT_RULES", "[[rule]]\nname = 1\n")]);
    assert_eq!(e.variable, "ALERT_RULES", "{e}");
    let e = refused(&[
        ("ALERT_RULES", rules),
        ("ALERT_STATE_TABLE", "s"),
        ("ALERT_TOPIC_ARN", "t"),
        ("ALERT_WINDOWS_TABLE", "w"),
        ("ALERT_ATHENA_DATABASE", "no spaces please"),
    ]);
    assert_eq!(e.variable, "ALERT_ATHENA_DATABASE", "{e}");
}

#[test]
fn formats_by_key_prefix_and_by_bucket() {
    let c = config(&[
        ("CURATED_BUCKET", "lake"),
        (
            "FORMAT_BY_PREFIX",
            "alb/=alb, s3://trails/AWSLogs/=cloudtrail,logs/dt==json",
        ),
    ])
    .unwrap();
    let names: Vec<(&str, &str)> = c
        .ingest
        .format_by_prefix
        .iter()
        .map(|(p, f)| (p.as_str(), f.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("alb/", "alb"),
            ("s3://trails/AWSLogs/", "cloudtrail"),
            ("logs/dt=", "json")
        ]
    );
}
