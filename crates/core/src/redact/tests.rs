//! The redactor on records: which column gets which detector, the counts,
//! what stays borrowed, and the memo tables giving the checks' answers.

use super::*;

#[test]
fn options_parse() {
    let o = |c, e, i, x| RedactOptions {
        cards: c,
        emails: e,
        ips: i,
        secrets: x,
    };
    for (spec, want) in [
        ("", o(false, false, false, false)),
        ("none", o(false, false, false, false)),
        (" NONE ", o(false, false, false, false)),
        ("all", o(true, true, true, true)),
        ("cards", o(true, false, false, false)),
        ("Emails, cards", o(true, true, false, false)),
        ("ips,emails,cards", o(true, true, true, false)),
        (" ip , email ", o(false, true, true, false)),
        ("cards,", o(true, false, false, false)),
        ("all,cards", o(true, true, true, true)),
        ("secrets", o(false, false, false, true)),
        ("Secret, card", o(true, false, false, true)),
    ] {
        assert_eq!(RedactOptions::parse(spec), Ok(want), "{spec:?}");
    }
    let err = RedactOptions::parse("cards,phones").unwrap_err();
    assert!(
        err.contains("`phones`") && err.contains("cards, emails, secrets, ips"),
        "{err}"
    );
    assert!(RedactOptions::parse("none,cards").is_err());
    assert_eq!(RedactOptions::default(), o(true, true, false, true));
    assert!(RedactOptions::parse("none").unwrap().is_off());
    assert!(!RedactOptions::default().is_off());
}

#[test]
fn counts_add_and_total() {
    let mut a = RedactCounts {
        cards: 1,
        emails: 2,
        ips: 3,
        secrets: 4,
    };
    a.add(&RedactCounts {
        cards: 10,
        emails: 20,
        ips: 30,
        secrets: 40,
    });
    assert_eq!(
        a,
        RedactCounts {
            cards: 11,
            emails: 22,
            ips: 33,
            secrets: 44
        }
    );
    assert_eq!(a.total(), 110);
    let mut m = RedactCounts {
        cards: u64::MAX,
        ..Default::default()
    };
    m.add(&a);
    assert_eq!(m.total(), u64::MAX);
}

/// The memos give the answers the checks give: a user agent holding a
/// card is masked each time it comes back, a clean one stays as it is,
/// and a key's class holds for every record it is in.
#[test]
fn memos_answer_as_the_checks_do() {
    let clean = "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0";
    let carded = "Mozilla/5.0 (card 4111 1111 1111 1111) Gecko/20100101 Firefox/123.0";
    fn fresh<'a>(agent: &'a str, key: &'a str, value: &'a str) -> Record<'a> {
        let mut r = Record::default();
        r.set(TextField::UserAgent, agent);
        r.attr(key, value);
        r
    }
    let mut red = Redactor::new(RedactOptions::default());
    for round in 1..=3u64 {
        let mut r = fresh(clean, "api_token", "abcdefgh12345678");
        red.apply(&mut r);
        assert_eq!(r.get(TextField::UserAgent), Some(clean));
        assert!(is_borrowed(&r.text[TextField::UserAgent as usize]));
        assert_eq!(r.attributes[0].1, "****");

        let mut r = fresh(carded, "span_id", "4111111111111111");
        red.apply(&mut r);
        assert_eq!(
            r.get(TextField::UserAgent),
            Some("Mozilla/5.0 (card **** **** **** 1111) Gecko/20100101 Firefox/123.0")
        );
        // An identifier key: a whole-value card is masked.
        assert_eq!(r.attributes[0].1, "************1111");

        let mut r = fresh(clean, "note", "order 4111111111111111 paid");
        red.apply(&mut r);
        assert_eq!(r.attributes[0].1, "order ************1111 paid");
        assert_eq!(
            red.counts(),
            RedactCounts {
                cards: 3 * round,
                secrets: round,
                ..RedactCounts::default()
            }
        );
    }
    // The same records through a redactor that has seen nothing.
    let mut once = Redactor::new(RedactOptions::default());
    let mut r = fresh(carded, "span_id", "4111111111111111");
    once.apply(&mut r);
    assert_eq!(once.counts().cards, 2);
    // A redactor's first record fills no table: one made per record (an
    // HTTP event) allocates none.
    let mut r = fresh(clean, "span_id", "x");
    let mut first = Redactor::new(RedactOptions::default());
    first.apply(&mut r);
    assert!(!first.keys.allocated() && !first.clean_agents.allocated());
    first.apply(&mut r);
    assert!(first.keys.allocated() && first.clean_agents.allocated());
}

fn is_borrowed(c: &Option<Cow<'_, str>>) -> bool {
    matches!(c, Some(Cow::Borrowed(_)))
}

#[test]
fn apply_record() {
    let line = String::from(
        "checkout failed for jane@example.com card 4111 1111 1111 1111 trace 4bf92f3577b34da6",
    );
    let mut rec = Record::default();
    rec.set(TextField::Message, line.as_str());
    rec.set(
        TextField::HttpPath,
        "/v1/pay?email=bob%40example.org&card=5555555555554444",
    );
    rec.set(
        TextField::UserAgent,
        "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
    );
    rec.set(TextField::UserId, "carol@example.net");
    rec.set(TextField::ClientIp, "203.0.113.77");
    rec.set(TextField::TraceId, "4111111111111111");
    rec.set(TextField::OrderId, "4111111111111111");
    rec.set(TextField::Service, "pay@example.com");
    rec.attr("note", "card 378282246310005 on file");
    rec.attr("span_id", "4000000000000002");
    rec.attr("X-Forwarded-For", "198.51.100.23, 10.0.0.7");
    rec.attr("quantity", "2");
    let original = rec.clone();

    // Options off: nothing changes, everything stays borrowed.
    let mut off = Redactor::new(RedactOptions::parse("none").unwrap());
    let mut r = original.clone();
    off.apply(&mut r);
    assert_eq!(r, original);
    assert!(
        r.text
            .iter()
            .flatten()
            .all(|c| matches!(c, Cow::Borrowed(_)))
    );
    assert_eq!(off.counts(), RedactCounts::default());

    // Cards only.
    let mut red = Redactor::new(RedactOptions::parse("cards").unwrap());
    let mut r = original.clone();
    red.apply(&mut r);
    assert_eq!(
        r.get(TextField::Message),
        Some(
            "checkout failed for jane@example.com card **** **** **** 1111 trace 4bf92f3577b34da6"
        )
    );
    assert_eq!(
        r.get(TextField::HttpPath),
        Some("/v1/pay?email=bob%40example.org&card=************4444")
    );
    assert_eq!(r.get(TextField::UserId), Some("carol@example.net"));
    // A card is a card whatever the column or key is called.
    assert_eq!(r.get(TextField::TraceId), Some("************1111"));
    assert_eq!(r.get(TextField::OrderId), Some("************1111"));
    assert_eq!(r.get(TextField::ClientIp), Some("203.0.113.77"));
    assert_eq!(r.attributes[0].1, "card ***********0005 on file");
    assert_eq!(
        r.attributes[1].1, "************0002",
        "identifier attribute"
    );
    assert!(is_borrowed(&r.text[TextField::UserAgent as usize]));
    assert!(is_borrowed(&r.text[TextField::UserId as usize]));
    assert!(is_borrowed(&r.text[TextField::ClientIp as usize]));
    assert!(matches!(r.attributes[2].1, Cow::Borrowed(_)));
    assert_eq!(
        red.counts(),
        RedactCounts {
            cards: 6,
            emails: 0,
            ips: 0,
            secrets: 0
        }
    );

    // Everything.
    let mut all = Redactor::new(RedactOptions::ALL);
    let mut r = original.clone();
    all.apply(&mut r);
    assert_eq!(
        r.get(TextField::Message),
        Some(
            "checkout failed for j***@example.com card **** **** **** 1111 trace 4bf92f3577b34da6"
        )
    );
    assert_eq!(
        r.get(TextField::HttpPath),
        Some("/v1/pay?email=b***%40example.org&card=************4444")
    );
    assert_eq!(r.get(TextField::UserId), Some("c***@example.net"));
    assert_eq!(r.get(TextField::Service), Some("pay@example.com"));
    assert_eq!(r.get(TextField::ClientIp), Some("203.0.113.0"));
    assert_eq!(r.attributes[2].1, "198.51.100.0, 10.0.0.0");
    assert!(is_borrowed(&r.text[TextField::UserAgent as usize]));
    assert!(matches!(r.attributes[3].1, Cow::Borrowed(_)));
    let c = all.counts();
    assert_eq!(
        c,
        RedactCounts {
            cards: 6,
            emails: 3,
            ips: 3,
            secrets: 0
        }
    );
    // Counts accumulate over records.
    let mut r = original.clone();
    all.apply(&mut r);
    assert_eq!(all.counts().total(), 2 * c.total());
    // Redacting twice changes nothing more.
    let before = r.clone();
    let mut again = Redactor::new(RedactOptions::ALL);
    again.apply(&mut r);
    assert_eq!(r, before);
    assert_eq!(again.counts().total(), 0);
}

#[test]
fn never_panics() {
    // Every prefix/suffix split of tricky inputs, including cuts inside
    // multi-byte characters avoided by char boundaries.
    let inputs = [
        "a@b.cd%40ef.gh\\u00e9@x.io %4 %z@a.bc \\ \\u12 4111 1111 1111 1111 1",
        "é@é.é ü4111111111111111ü 🎉@🎉.com +4111-1111-1111-1111 .4111111111111111",
        "%%%@@@...---   4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\\\\\\u00@a.bc",
        "::ffff:1.2.3.4,,, [::1]:99999, 1.2.3.4:, [1.2.3.4]:5",
    ];
    for s in inputs {
        for (i, _) in s.char_indices() {
            for part in [&s[..i], &s[i..]] {
                let _ = mask_cards(part);
                let _ = mask_emails(part);
                let _ = truncate_ip(part);
                let _ = mask_cards_scan(part);
                let _ = mask_emails_scan(part);
            }
        }
    }
    let long_digits = "4".repeat(10_000);
    assert_eq!(mask_cards(&long_digits), None);
    let many_at = "@".repeat(10_000);
    assert_eq!(mask_emails(&many_at), None);
}
