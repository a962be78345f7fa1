//! How the cluster is set up: the index template and the ISM policy from
//! the repository's `search/` folder (shared with Terraform), filled in for
//! the options ([`index_template`], [`ism_policy`], [`render`]).

use serde_json::{Value, json};

use super::SearchOptions;

/// The composable index template, as applied by `loglake search setup` and
/// by Terraform (infra/modules/search): explicit mappings, `dynamic: false`,
/// and `attributes` as a `flat_object`, so arbitrary keys never add fields.
pub const INDEX_TEMPLATE: &str = include_str!("../../../../../search/index-template.json");
/// The ISM policy, with `${delete_after_days}`, `${hot_actions}` and
/// `${index_patterns}` filled in by [`ism_policy`] (or Terraform's
/// `templatefile`).
pub const ISM_POLICY_TEMPLATE: &str = include_str!("../../../../../search/ism-policy.json.tpl");

/// The index template for these options: the repository's template with
/// its index pattern, and data stream mode when one is configured.
pub fn index_template(opts: &SearchOptions) -> Result<Value, String> {
    let mut t: Value = serde_json::from_str(INDEX_TEMPLATE)
        .map_err(|e| format!("search/index-template.json: {e}"))?;
    t["index_patterns"] = json!([opts.index_pattern()]);
    if opts.data_stream.is_some() {
        t["data_stream"] = json!({ "timestamp_field": { "name": "ts" } });
    }
    Ok(t)
}

/// The ISM policy for these options: indices are deleted `delete_after_days`
/// after creation; a data stream's write index also rolls over at
/// `rollover_size` (daily indices are already bounded by the day).
pub fn ism_policy(
    opts: &SearchOptions,
    delete_after_days: u32,
    rollover_size: &str,
) -> Result<Value, String> {
    if delete_after_days == 0 {
        return Err("retention must be at least 1 day".into());
    }
    let hot_actions = match opts.data_stream {
        Some(_) => json!([{ "rollover": { "min_size": rollover_size } }]),
        None => json!([]),
    };
    let patterns = match &opts.data_stream {
        Some(ds) => json!([format!(".ds-{ds}-*")]),
        None => json!([opts.index_pattern()]),
    };
    let text = render(
        ISM_POLICY_TEMPLATE,
        &[
            ("delete_after_days", delete_after_days.to_string()),
            ("hot_actions", hot_actions.to_string()),
            ("index_patterns", patterns.to_string()),
        ],
    )?;
    serde_json::from_str(&text).map_err(|e| format!("search/ism-policy.json.tpl: {e}"))
}

/// Fill `${name}` placeholders, as Terraform's `templatefile` does; an
/// unknown placeholder is an error rather than left in place.
pub fn render(template: &str, vars: &[(&str, String)]) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "an unclosed ${ in the template".to_string())?;
        let name = &after[..end];
        let v = vars
            .iter()
            .find(|(k, _)| *k == name)
            .ok_or_else(|| format!("the template uses ${{{name}}}, which has no value"))?;
        out.push_str(&v.1);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::record::{Level, SourceFormat, TextField};
    use crate::sinks::search::tests::{TS, rec};
    use crate::sinks::search::write_doc;

    #[test]
    fn template_fields_are_the_schema() {
        let t = index_template(&SearchOptions::default()).unwrap();
        assert_eq!(t["index_patterns"], json!(["logs-*"]));
        let props = t["template"]["mappings"]["properties"].as_object().unwrap();
        let schema: Vec<&str> = crate::schema::COLUMNS.iter().map(|(n, _)| *n).collect();
        let mapped: Vec<&str> = props.keys().map(String::as_str).collect();
        let mut a = schema.clone();
        a.sort();
        let mut b = mapped.clone();
        b.sort();
        assert_eq!(a, b, "index template fields vs schema::COLUMNS");
        use crate::schema::ColumnType as C;
        for (name, ty) in crate::schema::COLUMNS {
            let mt = props[*name]["type"].as_str().unwrap();
            let ok: &[&str] = match ty {
                C::TimestampMs => &["date"],
                C::Utf8 => &["keyword", "text", "ip"],
                C::Int16 => &["short", "integer", "long"],
                C::Int64 => &["long"],
                C::Float64 => &["double"],
                C::StringMap => &["flat_object"],
            };
            assert!(ok.contains(&mt), "{name}: {mt}");
        }
        assert_eq!(t["template"]["mappings"]["dynamic"], "false");
        let ds = index_template(&SearchOptions {
            data_stream: Some("logs-shop".into()),
            ..SearchOptions::default()
        })
        .unwrap();
        assert_eq!(ds["index_patterns"], json!(["logs-shop"]));
        assert_eq!(ds["data_stream"]["timestamp_field"]["name"], "ts");
    }

    #[test]
    fn documents_fit_the_template_types() {
        // Every field a document can carry is mapped, with a JSON type its
        // mapping accepts.
        let t = index_template(&SearchOptions::default()).unwrap();
        let props = t["template"]["mappings"]["properties"].clone();
        let mut r = rec(Some(Level::Warn), Some(404));
        r.ts = Some(TS);
        r.latency_ms = Some(12.5);
        r.bytes_sent = Some(512);
        r.amount = Some(19.99);
        for f in TextField::ALL {
            if r.get(f).is_none() {
                r.set(f, Cow::Borrowed("x"));
            }
        }
        let mut out = Vec::new();
        write_doc(
            &r,
            TS,
            SourceFormat::Alb,
            "s3://b/k",
            7,
            "0123abcd-7",
            &mut out,
        );
        let doc: Value = serde_json::from_slice(&out).unwrap();
        for (k, v) in doc.as_object().unwrap() {
            let ty = props[k]["type"]
                .as_str()
                .unwrap_or_else(|| panic!("{k} unmapped"));
            let fits = match ty {
                "keyword" | "text" | "ip" | "date" => v.is_string(),
                "short" | "long" => v.is_i64(),
                "double" => v.is_number(),
                "flat_object" => v.is_object(),
                _ => false,
            };
            assert!(fits, "{k}: {v} does not fit {ty}");
        }
        assert_eq!(doc.as_object().unwrap().len(), crate::schema::COLUMNS.len());
    }

    #[test]
    fn ism_policy_renders() {
        let p = ism_policy(&SearchOptions::default(), 14, "30gb").unwrap();
        let states = p["policy"]["states"].as_array().unwrap();
        assert_eq!(states[0]["actions"], json!([]));
        assert_eq!(
            states[0]["transitions"][0]["conditions"]["min_index_age"],
            "14d"
        );
        assert_eq!(
            p["policy"]["ism_template"][0]["index_patterns"],
            json!(["logs-*"])
        );
        let ds = ism_policy(
            &SearchOptions {
                data_stream: Some("logs-shop".into()),
                ..SearchOptions::default()
            },
            7,
            "30gb",
        )
        .unwrap();
        assert_eq!(
            ds["policy"]["states"][0]["actions"][0]["rollover"]["min_size"],
            "30gb"
        );
        assert!(ism_policy(&SearchOptions::default(), 0, "1gb").is_err());
        assert!(render("${nope}", &[]).is_err());
        assert_eq!(render("a${x}b", &[("x", "1".into())]).unwrap(), "a1b");
    }
}
