//! URLs and addresses: just what the checks need, no URL crate.
//!
//! Splits `scheme://host[:port]rest` and `host:port` (IPv6 in brackets) and tells loopback
//! hosts apart. It knows nothing of keys or messages beyond a short reason for a bad URL.

use std::net::{Ipv4Addr, Ipv6Addr};

/// An absolute URL split as `scheme://host[:port]rest`.
pub(super) struct Url<'a> {
    /// Lowercase.
    pub(super) scheme: String,
    /// Without the brackets of an IPv6 address.
    pub(super) host: &'a str,
    /// Path, query and fragment.
    pub(super) rest: &'a str,
}

/// Split an absolute URL, or say in a few words what is wrong with it.
pub(super) fn parse_url(text: &str) -> Result<Url<'_>, &'static str> {
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains spaces or control characters");
    }
    let (scheme, after) = text.split_once("://").ok_or("not an absolute URL")?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    if authority.contains('@') {
        return Err("a user name or password does not belong in the URL");
    }
    let (host, _port) = split_host_port(authority).ok_or("no valid host[:port] in the URL")?;
    Ok(Url {
        scheme: scheme.to_ascii_lowercase(),
        host,
        rest,
    })
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` → the host (without brackets) and the port.
pub(super) fn split_host_port(text: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(inner) = text.strip_prefix('[') {
        let (host, after) = inner.split_once(']')?;
        host.parse::<Ipv6Addr>().ok()?;
        let port = if after.is_empty() {
            None
        } else {
            Some(after.strip_prefix(':')?)
        };
        (host, port)
    } else {
        let (host, port) = match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        };
        let valid_name = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !valid_name {
            return None;
        }
        (host, port)
    };
    let port = match port {
        None => None,
        Some(digits) => {
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(digits.parse::<u16>().ok().filter(|&port| port != 0)?)
        }
    };
    Some((host, port))
}

/// `localhost`, 127.0.0.0/8 or ::1.
pub(super) fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        || host.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use crate::config::keys::toml_string;
    use crate::config::testing::load_text;

    #[test]
    fn urls_and_addresses() {
        for (base, ok) in [
            ("https://api.mch.weixin.qq.com", true),
            ("HTTPS://api.mch.weixin.qq.com/", true),
            ("https://sim.example:8443/prefix/", true),
            ("http://127.0.0.1:8080", true),
            ("http://127.9.9.9", true),
            ("http://localhost:1", true),
            ("http://[::1]:8080/", true),
            ("http://128.0.0.1", false),
            ("http://[::2]", false),
            ("http://localhost.example", false),
            ("https://user:pw@x.example", false),
            ("https://x.example#f", false),
            ("https://a b", false),
        ] {
            let text = format!("[wechatpay]\napi_base = {}", toml_string(base));
            let result = load_text(&text, true);
            assert_eq!(result.is_ok(), ok, "{base}: {result:?}");
            if let Ok(s) = result {
                assert!(!s.wechatpay.api_base.ends_with('/'), "{base}");
            }
        }
        for (address, ok) in [
            ("printer.local:9100", true),
            ("[2001:db8::9]:9100", true),
            ("printer.local:0", false),
            (":9100", false),
            ("2001:db8::9:9100", false),
            ("printer.local:x", false),
        ] {
            let text = format!("[printer]\ntransport = \"tcp\"\naddress = \"{address}\"");
            assert_eq!(load_text(&text, true).is_ok(), ok, "{address}");
        }
    }
}
