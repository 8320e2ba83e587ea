//! `message-date.h`: `Date:` header values, over
//! [`crate::mail::message_date`].
//!
//! TODO(capi-message-date): when parsing fails after the zone was read
//! (an impossible date such as 31 Feb), Dovecot has already stored the
//! zone and -1 in the out-parameters; ours leaves them untouched because
//! the Rust parser reports only failure. Dovecot's callers reset both on
//! failure, so only a caller reading them after `FALSE` would notice.

use std::ffi::{c_char, c_int, c_uchar};

use libc::time_t;

use crate::capi::boundary::{bytes, guard, t_strndup, write_out};
use crate::capi::localtime::local_moment;
use crate::mail::message_date;

/// Parses an RFC 2822 date of `size` bytes at `data`. On success returns
/// true, with the UTC timestamp in `*timestamp_r` and the zone's offset
/// from UTC in minutes in `*timezone_offset_r`.
///
/// # Safety
/// `data` must point to `size` readable bytes (it may be NULL if `size`
/// is 0); both out-parameters must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn message_date_parse(
    data: *const c_uchar,
    size: usize,
    timestamp_r: *mut time_t,
    timezone_offset_r: *mut c_int,
) -> bool {
    guard("message_date_parse", || {
        // SAFETY: the caller passes `size` readable bytes.
        let value = unsafe { bytes(data, size, "data") };
        let Some(date) = message_date::parse(value) else {
            return false;
        };

        // SAFETY: the caller passes writable out-parameters.
        unsafe {
            write_out(timestamp_r, "timestamp_r", date.timestamp as time_t);
            write_out(timezone_offset_r, "timezone_offset_r", date.tz_offset);
        }
        true
    })
}

/// Formats `timestamp` as an RFC 2822 date in the local time zone. The
/// string is allocated from the data stack.
///
/// # Safety
/// Dovecot's data stack must be set up (`lib_init()` ran).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn message_date_create(timestamp: time_t) -> *const c_char {
    guard("message_date_create", || {
        let (moment, offset) = local_moment(timestamp);
        t_strndup(message_date::create(moment, offset).as_bytes())
    })
}
