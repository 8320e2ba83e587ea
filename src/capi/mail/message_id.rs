//! `message-id.h`: Message-IDs out of header values, over
//! [`crate::mail::message_id`].

use std::ffi::c_char;
use std::ptr;

use crate::capi::boundary::{c_str_bytes, guard, non_null_mut, t_strndup};
use crate::mail::message_id;

/// Returns the next valid Message-ID (without `<>`) in the string
/// `*msgid_p` points to and moves `*msgid_p` past it; NULL when none is
/// left (or `*msgid_p` is NULL). The ID is allocated from the data
/// stack.
///
/// # Safety
/// `msgid_p` must be valid for reads and writes and `*msgid_p` NULL or a
/// NUL-terminated string; Dovecot's data stack must be set up.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn message_id_get_next(msgid_p: *mut *const c_char) -> *const c_char {
    guard("message_id_get_next", || {
        // SAFETY: the caller passes a valid pointer (NULL panics).
        let cursor = unsafe { non_null_mut(msgid_p, "msgid_p") };
        // SAFETY: NULL or a NUL-terminated string.
        let Some(value) = (unsafe { c_str_bytes(*cursor) }) else {
            return ptr::null();
        };

        let mut rest = value;
        let id = message_id::next(&mut rest);
        // `rest` is a tail of `value`; with no ID left, Dovecot stops at
        // the terminating NUL.
        let stop = match id {
            Some(_) => rest.as_ptr(),
            None => value.as_ptr_range().end,
        };
        *cursor = stop.cast();
        id.map_or(ptr::null(), |id| t_strndup(&id))
    })
}
