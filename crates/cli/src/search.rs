//! `loglake search setup|bulk` and `ingest --search-endpoint`: the same
//! search sink the functions run, pointed at any OpenSearch-compatible
//! endpoint from a laptop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use loglake_aws::opensearch::SearchClient;
use loglake_core::ingest::Keys;
use loglake_core::ingest::source::name_stem;
use loglake_core::sinks::search::{BulkBuilder, SearchCounts, index_template, ism_policy};
use loglake_core::{IngestOptions, LocalStore, Manifest, OutputStore, Source};
use loglake_handlers::config::{ConfigError, Vars};
use loglake_handlers::search::session::{DeadLetters, Retry};
use loglake_handlers::search::{Indexed, SearchConfig, SearchSink};
use serde_json::Value;

use crate::args::{LevelArg, SearchAuth, SearchService};

/// Where to index: flags over the `SEARCH_*` environment the functions use.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SearchArgs {
    /// OpenSearch endpoint, e.g. https://search-shop-abc.us-east-1.es.amazonaws.com or http://127.0.0.1:9200
    #[arg(long = "search-endpoint", value_name = "URL", env = "SEARCH_ENDPOINT")]
    search_endpoint: Option<String>,
    /// How to authenticate [default: sigv4]
    #[arg(long = "search-auth", value_enum, env = "SEARCH_AUTH")]
    search_auth: Option<SearchAuth>,
    /// The SigV4 service [default: from the endpoint]
    #[arg(long = "search-service", value_enum, env = "SEARCH_SERVICE")]
    search_service: Option<SearchService>,
    /// Basic auth user; the password comes from SEARCH_PASSWORD
    #[arg(long = "search-user", value_name = "USER", env = "SEARCH_USERNAME")]
    search_user: Option<String>,
    /// Daily indices are PREFIX + YYYY.MM.DD [default: logs-]
    #[arg(
        long = "search-index-prefix",
        value_name = "PREFIX",
        env = "SEARCH_INDEX_PREFIX"
    )]
    search_index_prefix: Option<String>,
    /// Write to this data stream instead of daily indices
    #[arg(
        long = "search-data-stream",
        value_name = "NAME",
        env = "SEARCH_DATA_STREAM"
    )]
    search_data_stream: Option<String>,
    /// Index only records at or above this level
    #[arg(
        long = "search-min-level",
        value_enum,
        env = "SEARCH_MIN_LEVEL",
        ignore_case = true
    )]
    search_min_level: Option<LevelArg>,
}

impl SearchArgs {
    /// The settings, or `None` when no endpoint is given anywhere.
    pub fn config(&self) -> Result<Option<SearchConfig>, ConfigError> {
        // The flags (clap already fell back to their variables), read by
        // the functions' own parser; the rest (the password, timeouts)
        // from the environment as the functions read it.
        let flag = |k: &str| -> Option<String> {
            match k {
                "SEARCH_ENDPOINT" => self.search_endpoint.clone(),
                "SEARCH_AUTH" => self.search_auth.map(|a| a.word().into()),
                "SEARCH_SERVICE" => self.search_service.map(|s| s.word().into()),
                "SEARCH_USERNAME" => self.search_user.clone(),
                "SEARCH_INDEX_PREFIX" => self.search_index_prefix.clone(),
                "SEARCH_DATA_STREAM" => self.search_data_stream.clone(),
                "SEARCH_MIN_LEVEL" => self.search_min_level.map(|l| l.word().into()),
                _ => std::env::var(k).ok(),
            }
        };
        let get = |k: &str| flag(k);
        SearchConfig::from_vars(Vars::new(&get))
    }
}

/// A search sink for the CLI: a small runtime for the indexer, the client.
#[derive(Debug)]
pub struct Sink {
    rt: tokio::runtime::Runtime,
    client: SearchClient,
    sink: SearchSink,
}

impl Sink {
    pub fn new(cfg: SearchConfig) -> anyhow::Result<Sink> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the indexer's runtime")?;
        let aws = rt.block_on(loglake_aws::load_config());
        let client = loglake_aws::opensearch::search_client(&cfg, &aws)?;
        let sink = SearchSink {
            sender: Arc::new(client.clone()),
            config: cfg,
        };
        Ok(Sink { rt, client, sink })
    }

    pub fn config(&self) -> &SearchConfig {
        &self.sink.config
    }

    /// Ingest `source` into `store`, indexing every row as it goes; dead
    /// letters go to `dlq` under the search dead-letter prefix.
    pub fn ingest(
        &self,
        source: Source,
        store: &dyn OutputStore,
        dlq: Arc<dyn OutputStore>,
        opts: &IngestOptions,
    ) -> anyhow::Result<(Manifest, Indexed)> {
        let name = Keys::new(opts, &source.name, &source.identity, source.modified_ms).name;
        let mut session = {
            let _rt = self.rt.enter();
            self.sink.session(far(), Retry::ByCaller)
        };
        let mut feed = session.feed(false);
        let manifest = loglake_core::ingest_observed(source, store, opts, &mut feed);
        let fed = feed.finish();
        let at_ms = manifest
            .as_ref()
            .ok()
            .and_then(|m| m.source.modified.as_deref())
            .and_then(loglake_core::time::parse_iso8601);
        let indexed = self.rt.block_on(session.settle(
            fed,
            DeadLetters {
                store: dlq,
                name,
                at_ms,
            },
        ))?;
        Ok((manifest?, indexed))
    }
}

/// No Lambda deadline on a laptop: retries are bounded by attempts.
fn far() -> Instant {
    Instant::now() + Duration::from_secs(24 * 3600)
}

#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Apply the index template and the ISM policy, import the Dashboards
    /// saved objects (idempotent)
    Setup(SetupArgs),
    /// Index log files (or dead-letter files) without writing a lake
    Bulk(BulkArgs),
}

#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    #[command(flatten)]
    search: SearchArgs,
    /// Days an index is kept before ISM deletes it
    #[arg(long, default_value_t = 30)]
    retention_days: u32,
    /// A data stream's write index rolls over at this size
    #[arg(long, default_value = "30gb")]
    rollover_size: String,
    /// Print the template, policy and saved objects instead of applying them
    #[arg(long)]
    dry_run: bool,
    /// Do not import the OpenSearch Dashboards saved objects
    /// (search/dashboards.ndjson); skipped anyway for OpenSearch Serverless
    #[arg(long)]
    no_dashboards: bool,
}

#[derive(Debug, clap::Args)]
pub struct BulkArgs {
    /// Log files (any format `ingest` reads), or with --dead-letters the
    /// dead-letter files a search sink wrote
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    #[command(flatten)]
    search: SearchArgs,
    /// The inputs are dead-letter files: send their documents again, with
    /// the same index and id
    #[arg(long)]
    dead_letters: bool,
    /// Where dead letters are written (under search-dlq/)
    #[arg(long, default_value = "./lake")]
    lake: PathBuf,
    #[command(flatten)]
    redact: crate::args::RedactArg,
    /// Print one JSON object per input
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Setup(a) => setup(a),
        Cmd::Bulk(a) => bulk(a),
    }
}

fn need(args: &SearchArgs) -> anyhow::Result<SearchConfig> {
    args.config()?
        .context("no endpoint: give --search-endpoint URL or set SEARCH_ENDPOINT")
}

/// The name the index template is stored under.
pub fn template_name(cfg: &SearchConfig) -> String {
    match &cfg.options.data_stream {
        Some(ds) => format!("loglake-{ds}"),
        None => format!(
            "loglake-{}",
            cfg.options.index_prefix.trim_end_matches(['-', '_', '.'])
        ),
    }
}

/// The OpenSearch Dashboards saved objects (an index pattern, saved
/// searches, visualizations and the `loglake-overview` dashboard), as
/// exported by Dashboards; Terraform imports the same file.
pub const DASHBOARDS_NDJSON: &str = include_str!("../../../search/dashboards.ndjson");

/// [`DASHBOARDS_NDJSON`] over this configuration's indices: the file's
/// `logs-*` (the index pattern's title, the TSVB visualization's index) is
/// replaced by the configured pattern, as Terraform does with `replace()`.
pub fn dashboards_ndjson(cfg: &SearchConfig) -> String {
    DASHBOARDS_NDJSON.replace("logs-*", &cfg.options.index_pattern())
}

fn setup(a: SetupArgs) -> anyhow::Result<ExitCode> {
    let cfg = need(&a.search)?;
    let template = index_template(&cfg.options).map_err(anyhow::Error::msg)?;
    let policy =
        ism_policy(&cfg.options, a.retention_days, &a.rollover_size).map_err(anyhow::Error::msg)?;
    let name = template_name(&cfg);
    let dashboards = (!a.no_dashboards && cfg.service != "aoss").then(|| dashboards_ndjson(&cfg));
    if a.dry_run {
        println!("PUT /_index_template/{name}\n{template:#}");
        println!("PUT /_plugins/_ism/policies/{name}\n{policy:#}");
        if let Some(d) = &dashboards {
            println!(
                "POST {} (multipart file dashboards.ndjson)\n{d}",
                loglake_aws::opensearch::DASHBOARDS_IMPORT_PATH
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let sink = Sink::new(cfg.clone())?;
    let c = &sink.client;
    sink.rt.block_on(async {
        apply_template_and_policy(c, &cfg, &name, &template, &policy, a.retention_days).await?;
        match &dashboards {
            Some(ndjson) => {
                let done = c
                    .import_saved_objects("dashboards.ndjson", ndjson.as_bytes())
                    .await?;
                let dashboards: Vec<String> = done
                    .objects
                    .iter()
                    .filter(|(t, _, _)| t == "dashboard")
                    .map(|(_, id, title)| format!("{title:?} ({id})"))
                    .collect();
                let mut kinds: Vec<(&str, usize)> = Vec::new();
                for (t, _, _) in &done.objects {
                    match kinds.iter_mut().find(|(k, _)| k == t) {
                        Some((_, n)) => *n += 1,
                        None => kinds.push((t, 1)),
                    }
                }
                let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
                println!(
                    "Dashboards saved objects: imported {} ({}; {} overwritten); dashboard {}",
                    done.objects.len(),
                    kinds.join(", "),
                    done.overwritten,
                    dashboards.join(", ")
                );
            }
            None if cfg.service == "aoss" => println!(
                "Dashboards saved objects: skipped; OpenSearch Serverless has no saved objects import \
                 API on the collection endpoint (import search/dashboards.ndjson in its Dashboards: \
                 Dashboards Management > Saved objects > Import)"
            ),
            None => println!("Dashboards saved objects: skipped (--no-dashboards)"),
        }
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// PUT the index template, then create or update the ISM policy (not on
/// Serverless); both are no-ops when already applied.
async fn apply_template_and_policy(
    c: &SearchClient,
    cfg: &SearchConfig,
    name: &str,
    template: &Value,
    policy: &Value,
    retention_days: u32,
) -> anyhow::Result<()> {
    let r = c
        .request(
            "PUT",
            &format!("/_index_template/{name}"),
            Some((template.to_string().into_bytes(), "application/json")),
        )
        .await?;
    if !r.is_success() {
        bail!("index template {name}: HTTP {}: {}", r.status, r.excerpt());
    }
    println!(
        "index template {name}: applied (patterns {})",
        template["index_patterns"]
    );
    if cfg.service == "aoss" {
        println!(
            "ISM policy: skipped; OpenSearch Serverless manages retention with data lifecycle policies"
        );
        return Ok(());
    }
    // ISM refuses to overwrite a policy without its current sequence
    // number: read it first, so running setup twice is harmless.
    let path = format!("/_plugins/_ism/policies/{name}");
    let current = c.request("GET", &path, None).await?;
    let put_path = match current.status {
        200 => {
            let v: Value = serde_json::from_slice(&current.body)
                .context("the ISM policy response is not JSON")?;
            if v["policy"]["states"] == policy["policy"]["states"]
                && v["policy"]["ism_template"][0]["index_patterns"]
                    == policy["policy"]["ism_template"][0]["index_patterns"]
            {
                println!("ISM policy {name}: already up to date");
                return Ok(());
            }
            format!(
                "{path}?if_seq_no={}&if_primary_term={}",
                v["_seq_no"], v["_primary_term"]
            )
        }
        404 => path.clone(),
        s => bail!("ISM policy {name}: HTTP {s}: {}", current.excerpt()),
    };
    let r = c
        .request(
            "PUT",
            &put_path,
            Some((policy.to_string().into_bytes(), "application/json")),
        )
        .await?;
    if !r.is_success() {
        bail!("ISM policy {name}: HTTP {}: {}", r.status, r.excerpt());
    }
    println!(
        "ISM policy {name}: {} (delete after {} days)",
        if current.status == 404 {
            "created"
        } else {
            "updated"
        },
        retention_days
    );
    Ok(())
}

fn bulk(a: BulkArgs) -> anyhow::Result<ExitCode> {
    let cfg = need(&a.search)?;
    let sink = Sink::new(cfg)?;
    let dlq: Arc<dyn OutputStore> = Arc::new(
        LocalStore::new(&a.lake).with_context(|| format!("cannot create {}", a.lake.display()))?,
    );
    let opts = IngestOptions {
        redact: a.redact.options()?,
        ..IngestOptions::default()
    };
    let mut failed = false;
    for input in &a.inputs {
        let (what, indexed) = if a.dead_letters {
            (
                format!("{} (dead letters)", input.display()),
                resend(&sink, input, dlq.clone())?,
            )
        } else {
            let source = crate::sources::file_source(input)?;
            let (m, indexed) = sink.ingest(source, &loglake_core::NullStore, dlq.clone(), &opts)?;
            (
                format!(
                    "{} ({} rows, {} quarantined)",
                    m.source.uri, m.rows_out, m.quarantined
                ),
                indexed,
            )
        };
        failed |= indexed.failure.is_some();
        report(&what, &indexed, a.json)?;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Print what indexing one input did.
pub fn report(what: &str, i: &Indexed, json: bool) -> anyhow::Result<()> {
    if json {
        println!(
            "{}",
            serde_json::json!({
                "input": what, "search": i.counts, "failure": i.failure,
                "dead_letters": i.dead_letters,
            })
        );
        return Ok(());
    }
    let c = &i.counts;
    println!(
        "{what}: {} documents: {} indexed, {} already indexed, {} dead letters, {} failed{}",
        c.docs,
        c.indexed,
        c.already_indexed,
        c.dead_lettered,
        c.failed,
        if c.filtered > 0 {
            format!(" ({} below the level filter)", c.filtered)
        } else {
            String::new()
        }
    );
    if let Some(p) = &i.dead_letters {
        println!("  refused documents, with the reason: {p}");
    }
    if let Some(f) = &i.failure {
        eprintln!("loglake: error: not indexed: {f}");
    }
    Ok(())
}

/// Send a dead-letter file's documents again, under their own index and id
/// (so nothing indexed meanwhile is duplicated).
fn resend(sink: &Sink, path: &PathBuf, dlq: Arc<dyn OutputStore>) -> anyhow::Result<Indexed> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader: Box<dyn std::io::Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut builder = BulkBuilder::new(&sink.config().options);
    let mut bulks = Vec::new();
    let mut fed = SearchCounts::default();
    for (n, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: not a dead-letter record", path.display(), n + 1))?;
        let (Some(index), Some(id), Some(doc)) =
            (v["index"].as_str(), v["id"].as_str(), v.get("doc"))
        else {
            bail!(
                "{}:{}: a dead letter has index, id and doc",
                path.display(),
                n + 1
            );
        };
        fed.docs += 1;
        bulks.extend(builder.push(index, id, doc.to_string().as_bytes()));
    }
    bulks.extend(builder.finish());
    let stem = name_stem(&path.display().to_string());
    let dlq = DeadLetters {
        store: dlq,
        name: format!("{stem}-resent"),
        at_ms: None,
    };
    Ok(sink.rt.block_on(async {
        let mut session = sink.sink.session(far(), Retry::ByCaller);
        session.send(bulks).await;
        session.settle(fed, dlq).await
    })?)
}
