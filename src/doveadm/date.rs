//! doveadm's timestamp text (`unixdate2str()` in doveadm-util.c).
//!
//! doveadm prints UNIX timestamps in the local time zone, which the `TZ`
//! environment variable selects; the tests set `TZ=UTC` on both sides.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// `timestamp` as `YYYY-MM-DD HH:MM:SS` in the local time zone, as
/// doveadm's `unixdate2str()` prints it.
pub fn unixdate2str(timestamp: i64) -> String {
    unixdate2str_in(timestamp, &TimeZone::system())
}

/// [`unixdate2str`] in a given time zone.
///
/// A timestamp outside the range the time zone code handles is printed
/// as the bare number, so a corrupt file still gives readable output.
pub fn unixdate2str_in(timestamp: i64, tz: &TimeZone) -> String {
    match Timestamp::from_second(timestamp) {
        Ok(ts) => tz.to_datetime(ts).strftime("%Y-%m-%d %H:%M:%S").to_string(),
        Err(_) => timestamp.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_doveadm_in_utc() {
        // Values seen in real `doveadm dump` output run with TZ=UTC.
        let utc = TimeZone::UTC;
        assert_eq!(unixdate2str_in(0, &utc), "1970-01-01 00:00:00");
        assert_eq!(unixdate2str_in(4294967295, &utc), "2106-02-07 06:28:15");
        assert_eq!(unixdate2str_in(1796318764, &utc), "2026-12-03 17:26:04");
    }
}
