//! `mbox-from.h`: mbox `From ` separator lines, over
//! [`crate::mail::mbox_from`].
//!
//! Both C functions work in the local time zone: a line without a zone
//! is taken as local time (`mktime()`), and created lines show local
//! time.
//!
//! TODO(capi-mbox-from): years past 9999 are written with more digits;
//! Dovecot writes four characters computed digit by digit.

use std::ffi::{c_char, c_int, c_uchar};
use std::ptr;

use libc::time_t;

use crate::capi::boundary::{bytes, c_str_bytes, guard, t_strndup, write_out};
use crate::capi::localtime::{local_gmtoff, local_moment, mktime_local};
use crate::capi::sys;
use crate::mail::mbox_from::{self, MboxTime};

/// Parses what follows `From ` on an mbox separator line (`size` bytes
/// at `msg`). Returns 0 with the receive time in `*time_r`, the zone in
/// minutes east of UTC in `*tz_offset_r` and the envelope sender in
/// `*sender_r` (allocated with `i_malloc()`: the caller frees it), or -1
/// with `*time_r` = -1 and `*sender_r` = NULL.
///
/// # Safety
/// `msg` must point to `size` readable bytes; the out-parameters must be
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mbox_from_parse(
    msg: *const c_uchar,
    size: usize,
    time_r: *mut time_t,
    tz_offset_r: *mut c_int,
    sender_r: *mut *mut c_char,
) -> c_int {
    guard("mbox_from_parse", || {
        // SAFETY: the caller passes writable out-parameters.
        unsafe {
            write_out(time_r, "time_r", -1);
            write_out(sender_r, "sender_r", ptr::null_mut());
        }
        // SAFETY: the caller passes `size` readable bytes.
        let line = unsafe { bytes(msg, size, "msg") };
        let Ok(from) = mbox_from::parse(line) else {
            return -1;
        };

        let (time, tz_offset) = match from.time {
            MboxTime::Zoned {
                timestamp,
                tz_offset,
            } => (timestamp, tz_offset),
            MboxTime::Local(civil) => {
                let time = mktime_local(civil);
                (time, (local_gmtoff(time) / 60) as i32)
            }
        };
        let sender = from.sender.as_ptr_range();
        // SAFETY: checked writable above; i_strdup_until copies the
        // sender's bytes from a live slice into Dovecot's default pool.
        unsafe {
            time_r.write(time);
            tz_offset_r.write(tz_offset);
            sender_r.write(sys::i_strdup_until(sender.start.cast(), sender.end.cast()));
        }
        0
    })
}

/// Writes an mbox separator line for `sender` received at `timestamp`,
/// shown in local time, newline included: `From sender  Thu Nov 29
/// 22:33:52 2001`. The string is allocated from the data stack.
///
/// # Safety
/// `sender` must be a NUL-terminated string; Dovecot's data stack must be
/// set up (`lib_init()` ran).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mbox_from_create(
    sender: *const c_char,
    timestamp: time_t,
) -> *const c_char {
    guard("mbox_from_create", || {
        // SAFETY: the caller passes a NUL-terminated string.
        let sender = unsafe { c_str_bytes(sender) }.expect("sender is NULL");
        let (moment, offset) = local_moment(timestamp);

        // The Rust formatter takes UTF-8; Dovecot copies any bytes, so
        // put the sender between "From " and the date ourselves.
        let dated = mbox_from::create("", moment, offset);
        let mut line = b"From ".to_vec();
        line.extend_from_slice(sender);
        line.extend_from_slice(&dated.as_bytes()["From ".len()..]);
        t_strndup(&line)
    })
}
