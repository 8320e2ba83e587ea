//! `quoted-printable.h`: RFC 2047's "Q" encoding, over
//! [`crate::mail::message_header_decode::q_decode`].

use std::ffi::{c_int, c_uchar};

use crate::capi::boundary::{DovecotString, bytes, guard};
use crate::capi::sys::buffer_t;
use crate::mail::message_header_decode::q_decode;

/// Decodes `src_size` bytes of MIME "Q" encoding at `src` (`_` is a
/// space, `=XX` a byte), appending to `dest`. Invalid escapes are copied
/// as they are; the return value is then -1, otherwise 0.
///
/// # Safety
/// `src` must point to `src_size` readable bytes (it may be NULL if
/// `src_size` is 0); `dest` must be a valid, writable Dovecot buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn quoted_printable_q_decode(
    src: *const c_uchar,
    src_size: usize,
    dest: *mut buffer_t,
) -> c_int {
    guard("quoted_printable_q_decode", || {
        // SAFETY: the caller passes `src_size` readable bytes.
        let encoded = unsafe { bytes(src, src_size, "src") };
        // SAFETY: the caller passes a valid buffer (NULL panics).
        let mut dest = unsafe { DovecotString::new(dest, "dest") };

        let mut decoded = Vec::with_capacity(encoded.len());
        let valid = q_decode(encoded, &mut decoded);
        dest.append(&decoded);
        if valid { 0 } else { -1 }
    })
}
