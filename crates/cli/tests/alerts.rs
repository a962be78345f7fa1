//! `loglake generate --incidents` -> `ingest` -> `alerts eval`: the shipped
//! rules find exactly the incidents the generator injects, and nothing in
//! the ordinary traffic; a broken rules file is refused with its rule named.
// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

use std::path::Path;
use std::process::{Command, Output};

fn loglake(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_loglake"))
        .args(args)
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    }
    out
}

fn rules() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../alerts.toml")
        .display()
        .to_string()
}

/// `generate` 200,000 lines (seed 7, with `extra` options) and `ingest`
/// them into `<dir>/<name>`; the lake's path.
fn generated_lake(dir: &Path, name: &str, extra: &[&str]) -> String {
    let input = dir.join(format!("{name}.ndjson.gz")).display().to_string();
    let lake = dir.join(name).display().to_string();
    let mut args = vec![
        "generate", "--lines", "200000", "--seed", "7", "--out", &input,
    ];
    args.extend_from_slice(extra);
    assert!(loglake(&args).status.success());
    assert!(
        loglake(&["ingest", &input, "--lake", &lake])
            .status
            .success()
    );
    lake
}

#[test]
fn the_shipped_rules_find_the_injected_incidents_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let lake = generated_lake(dir.path(), "lake", &["--malformed", "0.01", "--incidents"]);
    let out = loglake(&[
        "alerts",
        "eval",
        "--lake",
        &lake,
        "--rules",
        &rules(),
        "--json",
    ]);
    assert!(out.status.success());
    let fired: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["body"]["state"] != "resolved")
        .collect();
    let mut names: Vec<String> = fired
        .iter()
        .map(|v| v["attributes"]["rule"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "any-fatal",
            "auth-failures-spike",
            "checkout-error-rate",
            "payment-gateway-errors",
            "payment-latency-p95",
            "service-silent"
        ],
        "{fired:#?}"
    );
    for v in &fired {
        assert!(v["subject"].as_str().unwrap().chars().count() < 100);
        assert!(v["body"]["athena_query"].as_str().unwrap().contains("dt"));
    }
    let silent = fired
        .iter()
        .find(|v| v["attributes"]["rule"] == "service-silent")
        .unwrap();
    assert_eq!(silent["attributes"]["service"], "order-api");

    // Without incidents, the same traffic fires nothing.
    let calm = generated_lake(dir.path(), "calm", &[]);
    let out = loglake(&["alerts", "eval", "--lake", &calm, "--rules", &rules()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("0 window alerts fired, 0 instant alerts"),
        "{text}"
    );
}

#[test]
fn a_rules_file_with_a_typo_is_refused_naming_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    for (toml, want) in [
        (
            "[[rule]]\nname = \"slow\"\nkind = \"latency\"\npercentile = 99\nms = 10\nwindw_minutes = 5\n",
            "slow",
        ),
        (
            "[[rule]]\nname = \"bad-re\"\nkind = \"instant\"\nmessage_regex = \"(unclosed\"\n",
            "bad-re",
        ),
        (
            "[[rule]]\nname = \"neg\"\nkind = \"threshold\"\nlevel = \"ERROR\"\nwindow_minutes = -5\ncount = 3\n",
            "neg",
        ),
    ] {
        let p = dir.path().join("rules.toml");
        std::fs::write(&p, toml).unwrap();
        let out = loglake(&["alerts", "check", "--rules", p.to_str().unwrap()]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("rule \"{want}\"")), "{err}");
    }
    let out = loglake(&["alerts", "check", "--rules", &rules()]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("6 rules"));
}
