//! Tests of the text kind: determinism, the line and byte limits, every
//! layout in the mix, and every line's time as the ingest path reads it.

use loglake_core::ingest::format::stamp::{self, Context, Layout as Stamp};
use loglake_core::ingest::format::text;
use loglake_core::record::{Record, TextField};

use super::super::{GenOptions, Kind, generate as generate_any};
use super::{Gen, LAYOUTS, Layout, Pools, Rng};

fn opts(lines: Option<u64>, bytes: Option<u64>, seed: u64) -> GenOptions {
    GenOptions {
        lines,
        bytes,
        seed,
        kind: Kind::Text,
        ..GenOptions::default()
    }
}

fn run(o: &GenOptions) -> (Vec<u8>, super::GenStats) {
    let mut out = Vec::new();
    let stats = generate_any(o, &mut out).unwrap();
    assert_eq!(stats.bytes, out.len() as u64);
    assert_eq!(
        stats.lines,
        out.iter().filter(|&&b| b == b'\n').count() as u64
    );
    (out, stats)
}

/// The end of the default span: the reference time `loglake generate`
/// gives the file (its modification time), for year-less layouts.
fn context(stats: &super::GenStats) -> Context {
    Context {
        reference_ms: stats.last_ms,
        ..Context::default()
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = run(&opts(Some(20_000), None, 42)).0;
    assert_eq!(a, run(&opts(Some(20_000), None, 42)).0);
    assert_ne!(a, run(&opts(Some(20_000), None, 43)).0);
    assert!(std::str::from_utf8(&a).is_ok());
}

#[test]
fn lines_option_gives_exactly_n_lines() {
    for n in [0, 1, 7, 2_500, 30_000] {
        let (out, stats) = run(&opts(Some(n), None, 1));
        assert_eq!(stats.lines, n);
        assert!(out.is_empty() || out.ends_with(b"\n"));
        assert_eq!(stats.last_ms.is_some(), n > 0);
    }
}

#[test]
fn bytes_option_stops_at_first_line_boundary_at_or_past_limit() {
    assert_eq!(run(&opts(None, Some(0), 42)).1.lines, 0);
    for limit in [1, 150, 100_000, super::FLUSH_AT as u64 + 3, 3 << 20] {
        let (out, stats) = run(&opts(None, Some(limit), 42));
        assert!(stats.bytes >= limit, "{} < {limit}", stats.bytes);
        assert_eq!(*out.last().unwrap(), b'\n');
        let last_start = out[..out.len() - 1]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        assert!((last_start as u64) < limit);
    }
}

#[test]
fn bytes_mode_spreads_times_over_the_span() {
    let (_, stats) = run(&opts(None, Some(16 << 20), 42));
    let o = GenOptions::default();
    let span = (o.span_hours * 3_600_000.0) as i64;
    let last = stats.last_ms.unwrap() - o.start_ms;
    assert!(
        (last - span).abs() < span / 10,
        "the last line is {last} ms into a {span} ms span: AVG_LINE_BYTES is off"
    );
}

#[test]
fn json_options_are_refused() {
    for o in [
        GenOptions {
            malformed: 0.1,
            ..opts(Some(10), None, 1)
        },
        GenOptions {
            incidents: true,
            ..opts(Some(10), None, 1)
        },
    ] {
        let e = generate_any(&o, &mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    }
}

/// Which of the generator's layouts a first line is written in, from what
/// the line looks like (the stamp's layout and what follows it).
fn layout_of(line: &str) -> Option<Layout> {
    let s = stamp::find(line)?.ok()?;
    let after = &line[s.end..];
    Some(match s.layout {
        Stamp::Iso8601 if line.starts_with('<') => Layout::Syslog5424,
        Stamp::Iso8601 if after.starts_with(" - ") => Layout::Python,
        Stamp::Iso8601 => Layout::Log4j,
        Stamp::Slashed if after.starts_with(" [") => Layout::Nginx,
        Stamp::Slashed => Layout::GoLog,
        Stamp::Rfc3164 => Layout::Syslog,
        Stamp::ApacheError => Layout::Apache,
        Stamp::Klog => Layout::Klog,
        Stamp::Tomcat => Layout::Tomcat,
        _ => return None,
    })
}

#[test]
fn the_output_runs_through_every_layout_in_segments() {
    let (out, _) = run(&opts(Some(120_000), None, 42));
    let text = std::str::from_utf8(&out).unwrap();
    let mut seen = Vec::new();
    let mut runs = 0;
    for line in text.lines() {
        if let Some(l) = layout_of(line) {
            if seen.last() != Some(&l) {
                runs += 1;
            }
            if !seen.contains(&l) {
                seen.push(l);
            }
            // Keep the run's layout last.
            seen.retain(|x| *x != l);
            seen.push(l);
        }
    }
    for l in LAYOUTS {
        assert!(seen.contains(&l), "{l:?} never written");
    }
    // Runs of hundreds of events, not layouts interleaved line by line.
    assert!((9..=60).contains(&runs), "{runs} runs");
}

/// Every first line of an event has a time the ingest path finds, equal
/// to the event's time (to the precision the layout writes); no
/// continuation line has one; and the layouts' own fields come out.
#[test]
fn every_first_line_has_its_time_and_continuations_have_none() {
    let o = opts(None, None, 7);
    let mut rng = Rng::new(o.seed);
    let pools = Pools::build(&mut rng);
    let mut g = Gen::new(rng, pools);
    let ctx = Context {
        reference_ms: Some(o.start_ms + 7 * 3_600_000),
        ..Context::default()
    };
    let mut ev = Vec::new();
    let mut per_layout = [0usize; 9];
    let mut continuations = 0;
    for i in 0..60_000i64 {
        let t_us = o.start_ms * 1000 + i * 350_000 + i % 7;
        g.c.set(t_us);
        ev.clear();
        g.event(&mut ev);
        let layout = g.s.layout;
        per_layout[LAYOUTS.iter().position(|l| *l == layout).unwrap()] += 1;
        let text = std::str::from_utf8(&ev).unwrap();
        for (k, line) in text.split('\n').enumerate() {
            let mut rec = Record::default();
            text::parse(line, &mut rec, &ctx).unwrap();
            if k > 0 {
                assert_eq!(rec.ts, None, "continuation line with a time: {line:?}");
                continuations += 1;
                continue;
            }
            let want = t_us.div_euclid(1000);
            let ts = rec
                .ts
                .unwrap_or_else(|| panic!("{layout:?} line without a time: {line:?}"));
            // Layouts without a fraction write the second.
            assert!(
                ts <= want && ts > want - 1000,
                "{layout:?}: {ts} for {want}: {line:?}"
            );
            assert_eq!(layout_of(line), Some(layout), "{line:?}");
        }
    }
    assert!(per_layout.iter().all(|&n| n > 0), "{per_layout:?}");
    assert!(continuations > 5_000, "{continuations} continuation lines");
}

#[test]
fn syslog_fields_come_out_of_the_header() {
    let (out, stats) = run(&opts(Some(120_000), None, 42));
    let ctx = context(&stats);
    let text = std::str::from_utf8(&out).unwrap();
    let (mut rfc3164, mut rfc5424) = (0, 0);
    for line in text.lines() {
        let layout = layout_of(line);
        if !matches!(layout, Some(Layout::Syslog | Layout::Syslog5424)) {
            continue;
        }
        let mut rec = Record::default();
        text::parse(line, &mut rec, &ctx).unwrap();
        assert!(rec.get(TextField::Host).is_some(), "{line:?}");
        assert!(rec.get(TextField::Service).is_some(), "{line:?}");
        if layout == Some(Layout::Syslog5424) {
            assert!(rec.level.is_some(), "{line:?}");
            rfc5424 += 1;
        } else {
            rfc3164 += 1;
        }
    }
    assert!(rfc3164 > 100 && rfc5424 > 100);
}
