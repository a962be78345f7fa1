//! IP addresses: truncation to /24 (IPv4) and /48 (IPv6), one address or a
//! comma-separated list such as X-Forwarded-For (see [`truncate_ip`]).
//! Which attribute keys hold client addresses is decided in `keys.rs`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::bytes::push_range;

/// Truncate an IP address: IPv4 to /24 (`203.0.113.77` -> `203.0.113.0`),
/// IPv6 to /48 (`2001:db8:85a3:8d3:1319:8a2e:370:7348` -> `2001:db8:85a3::`),
/// IPv4-mapped IPv6 (`::ffff:203.0.113.77`) to the IPv4 /24 written as IPv4.
/// An address with a port (`203.0.113.77:443`, `[2001:db8::1]:443`) keeps
/// its port. A comma-separated list (X-Forwarded-For) is truncated element by
/// element, keeping the separators and the elements that are not addresses
/// (`unknown`, `-`). Returns `None` when nothing changed, including an
/// address that is already truncated.
pub fn truncate_ip(s: &str) -> Option<String> {
    truncate_ip_counted(s).map(|(o, _)| o)
}

/// [`truncate_ip`] and how many addresses it truncated.
pub(super) fn truncate_ip_counted(s: &str) -> Option<(String, u64)> {
    let mut out: Option<String> = None;
    let mut last = 0usize;
    let mut n = 0u64;
    let mut pos = 0usize;
    for part in s.split(',') {
        let lead = part.len() - part.trim_start().len();
        let t = part.trim();
        let start = pos + lead;
        pos += part.len() + 1;
        let Some(new) = truncate_one(t) else {
            continue;
        };
        let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
        push_range(o, s, last, start);
        o.push_str(&new);
        last = start + t.len();
        n += 1;
    }
    let mut o = out?;
    push_range(&mut o, s, last, s.len());
    Some((o, n))
}

/// Truncate one address (possibly with a port), `None` if it is not one or
/// is already truncated.
fn truncate_one(t: &str) -> Option<String> {
    let first = *t.as_bytes().first()?;
    if t.len() > 64 || !(first.is_ascii_hexdigit() || first == b':' || first == b'[') {
        return None;
    }
    match t.parse::<IpAddr>() {
        // The common case without the formatting machinery: a parsed IPv4
        // address is canonical (no leading zeros), so its /24 is the text up
        // to the last dot, then `0`.
        Ok(IpAddr::V4(v4)) => {
            let [.., last] = v4.octets();
            if last == 0 {
                return None;
            }
            let dot = t.rfind('.')?;
            let mut o = String::with_capacity(dot + 2);
            o.push_str(t.get(..=dot)?);
            o.push('0');
            return Some(o);
        }
        Ok(ip) => return truncate_addr(ip).map(|ip| ip.to_string()),
        Err(_) => {}
    }
    let sa = t.parse::<SocketAddr>().ok()?;
    truncate_addr(sa.ip()).map(|ip| SocketAddr::new(ip, sa.port()).to_string())
}

/// The truncated address, `None` if truncating changes nothing.
fn truncate_addr(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            (d != 0).then(|| IpAddr::V4(Ipv4Addr::new(a, b, c, 0)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                let [a, b, c, _] = v4.octets();
                // Written as IPv4 even when the last octet was already 0.
                return Some(IpAddr::V4(Ipv4Addr::new(a, b, c, 0)));
            }
            let [s0, s1, s2, ..] = v6.segments();
            let t = Ipv6Addr::new(s0, s1, s2, 0, 0, 0, 0, 0);
            (t != v6).then_some(IpAddr::V6(t))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ips_truncated() {
        for (input, want) in [
            ("203.0.113.77", Some("203.0.113.0")),
            ("203.0.113.0", None),
            (
                "2001:db8:85a3:8d3:1319:8a2e:370:7348",
                Some("2001:db8:85a3::"),
            ),
            ("2001:db8:85a3::", None),
            ("2a02:123a:5ca8::5b65", Some("2a02:123a:5ca8::")),
            ("::1", Some("::")),
            ("::ffff:203.0.113.77", Some("203.0.113.0")),
            ("::ffff:cb00:714d", Some("203.0.113.0")),
            ("1.2.3.4, 5.6.7.8", Some("1.2.3.0, 5.6.7.0")),
            ("1.2.3.4,5.6.7.8", Some("1.2.3.0,5.6.7.0")),
            ("unknown, 10.0.0.7", Some("unknown, 10.0.0.0")),
            ("10.0.0.0, 2001:db8::1", Some("10.0.0.0, 2001:db8::")),
            (" 198.51.100.23 ", Some(" 198.51.100.0 ")),
            ("203.0.113.77:443", Some("203.0.113.0:443")),
            ("[2001:db8:1:2::1]:8443", Some("[2001:db8:1::]:8443")),
            ("unknown", None),
            ("-", None),
            ("", None),
            (",", None),
            ("1.2.3", None),
            ("999.1.1.1", None),
            ("1.2.3.4.5", None),
            ("h.example.com", None),
            ("fe80::1%eth0", None),
            ("dead:beef", None),
        ] {
            assert_eq!(truncate_ip(input).as_deref(), want, "{input:?}");
        }
    }
}
