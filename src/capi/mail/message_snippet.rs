//! `message-snippet.h`: the body snippet, over
//! [`crate::mail::message_snippet`].
//!
//! TODO(capi-snippet): the whole message is read before the snippet is
//! made; Dovecot stops reading once the snippet is full, so the stream
//! is left at a different offset (callers drop it afterwards).

use std::ffi::{c_int, c_uint};

use crate::capi::boundary::{DovecotString, guard};
use crate::capi::istream::read_to_end;
use crate::capi::sys::{istream, string_t};
use crate::mail::message_snippet::message_snippet;

/// Appends to `snippet` up to `max_snippet_chars` characters of UTF-8
/// text from the first text part of the message read from `input`
/// (which starts at the part's headers). Returns 0, or -1 if reading
/// failed.
///
/// # Safety
/// `input` must be a valid istream; `snippet` a valid Dovecot string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn message_snippet_generate(
    input: *mut istream,
    max_snippet_chars: c_uint,
    snippet: *mut string_t,
) -> c_int {
    guard("message_snippet_generate", || {
        // SAFETY: a valid Dovecot string (NULL panics).
        let mut out = unsafe { DovecotString::new(snippet, "snippet") };
        // SAFETY: a valid istream (NULL panics).
        let Ok(message) = (unsafe { read_to_end(input) }) else {
            return -1;
        };

        out.append(&message_snippet(&message, max_snippet_chars));
        0
    })
}
