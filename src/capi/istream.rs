//! Reading a caller's Dovecot `struct istream` from Rust, through
//! Dovecot's own `i_stream_*` functions.

use std::ptr;

use super::boundary::bytes;
use super::sys;

/// Reads `input` to its end and returns the bytes, or the stream's
/// `stream_errno` when reading failed. A non-blocking stream that has no
/// more data yet ends the reading as its end would.
///
/// # Safety
/// `input` must be a valid, readable istream not used elsewhere
/// meanwhile.
pub unsafe fn read_to_end(input: *mut sys::istream) -> Result<Vec<u8>, i32> {
    assert!(!input.is_null(), "input is NULL");
    let mut all = Vec::new();
    loop {
        let mut data = ptr::null();
        let mut size = 0;
        // SAFETY: a valid istream; the out-parameters are live locals.
        let ret = unsafe { sys::i_stream_read_more(input, &mut data, &mut size) };
        if ret <= 0 {
            break;
        }
        // SAFETY: i_stream_read_more returned `size` readable bytes at
        // `data`, valid until the next read or skip.
        all.extend_from_slice(unsafe { bytes(data, size, "istream data") });
        // SAFETY: skipping what was just read from a valid istream.
        unsafe { sys::i_stream_skip(input, size as sys::uoff_t) };
    }

    // SAFETY: a valid istream; reading its error field.
    match unsafe { (*input).stream_errno } {
        0 => Ok(all),
        errno => Err(errno),
    }
}
