//! `rfc2231-parser.h`: MIME parameters with RFC 2231 continuations, over
//! [`crate::mail::rfc2231_parser`].

use std::ffi::{c_char, c_int};
use std::mem::size_of;

use crate::capi::boundary::{guard, t_strndup, write_out};
use crate::capi::mail::rfc822_parser::{rfc822_parser_context, with_parser};
use crate::capi::sys;
use crate::mail::rfc2231_parser;

/// Parses the `; key=value` parameters from `ctx` to the end of its input,
/// merging RFC 2231 continuations, into a NULL-terminated array of
/// key, value, key, value... on the data stack (`*result_r`). NULs become
/// U+FFFD. Returns -1 if some input was invalid (the valid parameters are
/// still returned), else 0.
///
/// # Safety
/// `ctx` must be a context set up by `rfc822_parser_init()` whose buffer
/// is still valid; `result_r` writable; Dovecot's data stack set up.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rfc2231_parse(
    ctx: *mut rfc822_parser_context,
    result_r: *mut *const *const c_char,
) -> c_int {
    guard("rfc2231_parse", || {
        // SAFETY: forwarded contract.
        let params = unsafe { with_parser(ctx, rfc2231_parser::parse) };

        let strings: Vec<&[u8]> = params
            .params
            .iter()
            .flat_map(|(key, value)| [key.as_slice(), value.as_slice()])
            .collect();
        let array = data_stack_array(&strings);
        // SAFETY: the caller passes a writable result_r (NULL panics).
        unsafe { write_out(result_r, "result_r", array) };
        if params.broken { -1 } else { 0 }
    })
}

/// A NULL-terminated array of C strings, all on the data stack.
fn data_stack_array(strings: &[&[u8]]) -> *const *const c_char {
    let slots = strings.len() + 1;
    let size = slots
        .checked_mul(size_of::<*const c_char>())
        .expect("array size");
    // SAFETY: t_malloc0 returns `size` zeroed bytes from the data stack,
    // aligned for any type (or panics through Dovecot on failure).
    let array = unsafe { sys::t_malloc0(size) }.cast::<*const c_char>();

    for (i, string) in strings.iter().enumerate() {
        // SAFETY: i < slots - 1, inside the allocation; the last slot
        // stays NULL.
        unsafe { array.add(i).write(t_strndup(string)) };
    }
    array.cast_const()
}
