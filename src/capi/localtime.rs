//! The local time zone, read the way Dovecot's lib-mail reads it
//! (`localtime()`, `mktime()`, `utc_offset()`), for the exports whose C
//! originals print or parse local time.

use libc::time_t;

use crate::mail::message_date::CivilTime;

/// Seconds east of UTC of the local zone at `timestamp`
/// (`localtime()->tm_gmtoff`, which Dovecot's `utc_offset()` reads).
pub fn local_gmtoff(timestamp: time_t) -> i64 {
    // SAFETY: an all-zero `struct tm` is a valid value to overwrite.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };

    // SAFETY: both pointers are to live locals; localtime_r is the
    // thread-safe localtime().
    let local = unsafe { libc::localtime_r(&timestamp, &mut tm) };
    assert!(!local.is_null(), "localtime({timestamp}) failed");
    tm.tm_gmtoff
}

/// The moment to format so that UTC fields shifted by whole minutes
/// (what the Rust formatters take) show `localtime()`'s fields: old
/// zones (LMT) have offsets with seconds, which Dovecot prints in the
/// fields but cuts from the offset. Returns the moment and the offset
/// in minutes.
pub fn local_moment(timestamp: time_t) -> (i64, i32) {
    let gmtoff = local_gmtoff(timestamp);
    (timestamp + gmtoff % 60, (gmtoff / 60) as i32)
}

/// `mktime()` of a calendar time in the local zone, daylight saving
/// time decided by the zone (`tm_isdst = -1`), as Dovecot calls it.
pub fn mktime_local(time: CivilTime) -> time_t {
    // SAFETY: an all-zero `struct tm` is a valid value to fill.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = (time.year - 1900) as i32;
    tm.tm_mon = time.month as i32;
    tm.tm_mday = time.day as i32;
    tm.tm_hour = time.hour as i32;
    tm.tm_min = time.minute as i32;
    tm.tm_sec = time.second as i32;
    tm.tm_isdst = -1;

    // SAFETY: a live, initialized local.
    unsafe { libc::mktime(&mut tm) }
}
