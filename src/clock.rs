//! Wall-clock helpers. WeChat Pay speaks RFC 3339 in China Standard Time (`+08:00`, no
//! daylight saving), and so do our events and receipts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// China Standard Time.
pub const CST: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("valid offset"),
};

/// Milliseconds since the Unix epoch, as stored in the journal.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `ms` as RFC 3339 in `+08:00`, to the second: `2026-11-26T12:00:05+08:00`.
pub fn rfc3339(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(CST);
    t.format(&Rfc3339).unwrap_or_default()
}

/// `ms` as a receipt shows it: `2026-11-26 12:00:05`.
pub fn receipt_time(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(CST);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parse an RFC 3339 time into epoch milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// A duration as milliseconds (saturating).
pub fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_china_standard_time() {
        // 2026-11-26T04:00:05Z
        let ms = 1_795_665_605_000;
        assert_eq!(rfc3339(ms), "2026-11-26T12:00:05+08:00");
        assert_eq!(receipt_time(ms), "2026-11-26 12:00:05");
        assert_eq!(parse_rfc3339("2026-11-26T12:00:05+08:00"), Some(ms));
        assert_eq!(parse_rfc3339("2026-11-26T04:00:05Z"), Some(ms));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
