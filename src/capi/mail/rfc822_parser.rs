//! `rfc822-parser.h`: Dovecot's RFC 822 token reader, over
//! [`crate::mail::rfc822_parser`].
//!
//! The C parser is a pair of pointers (`data`, `end`) the caller owns and
//! may move between calls. Each export rebuilds a Rust parser over
//! `data..end`, runs one step, writes the new `data` back and appends the
//! value to the caller's `string_t` through Dovecot's `str_*` functions.
//! `rfc822_parser_deinit()` is a `static inline` in the header, not an
//! export.
//!
//! TODO(capi-rfc822): when `rfc822_parse_content_param()` fails after
//! reading the key (a broken quoted value), Dovecot still sets `*key_r`
//! to the key; ours leaves it NULL because the Rust parser drops the key
//! with the error.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_uchar};
use std::ptr;

use crate::capi::boundary::{
    DovecotString, bytes_between, c_str_bytes, guard, non_null_mut, t_strndup, write_out,
};
use crate::capi::sys::{self, string_t};
use crate::mail::rfc822_parser::{Next, Result, Rfc822Parser};

/// A parser over `data..end`, as `rfc822_parser_init()` sets it up.
/// `last_comment` (may be NULL) receives the text of the last comment
/// skipped; NULs in quoted strings, comments and domain literals are
/// replaced by `nul_replacement_str` when it is not NULL.
#[repr(C)]
#[derive(Debug)]
pub struct rfc822_parser_context {
    pub data: *const c_uchar,
    pub end: *const c_uchar,
    pub last_comment: *mut string_t,
    pub nul_replacement_str: *const c_char,
}

crate::assert_same_layout!(
    rfc822_parser_context,
    sys::rfc822_parser_context,
    data,
    end,
    last_comment,
    nul_replacement_str,
);

/// How each byte takes part in atoms: 0 = not atext, 1 = atext symbol,
/// 2 = letter, digit or 8-bit byte, 4 = atext that MIME calls a tspecial
/// (`/`, `=`, `?`). `IS_ATEXT()` tests non-zero, `IS_ATEXT_NON_TSPECIAL()`
/// tests `& 3`.
#[unsafe(no_mangle)]
pub static mut rfc822_atext_chars: [c_uchar; 256] = atext_table();

const fn atext_table() -> [c_uchar; 256] {
    let mut table = [0; 256];
    let mut c = 0;
    while c < 256 {
        table[c] = match c as u8 {
            b'/' | b'=' | b'?' => 4,
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | 0x80..=0xff => 2,
            b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' => 1,
            b'^' | b'_' | b'`' | b'{' | b'|' | b'}' | b'~' => 1,
            _ => 0,
        };
        c += 1;
    }
    table
}

/// Runs `run` on a Rust parser over `ctx`'s `data..end` and writes the
/// new position (and the last comment) back to `ctx`.
///
/// # Safety
/// `ctx` must be NULL or a context set up by `rfc822_parser_init()` whose
/// buffer and strings are still valid.
pub(super) unsafe fn with_parser<T>(
    ctx: *mut rfc822_parser_context,
    run: impl FnOnce(&mut Rfc822Parser) -> T,
) -> T {
    // SAFETY: the caller passes a valid context (NULL panics).
    let ctx = unsafe { non_null_mut(ctx, "ctx") };
    // SAFETY: data..end is the caller's buffer (parser contract).
    let input = unsafe { bytes_between(ctx.data, ctx.end) };
    // SAFETY: NULL or a NUL-terminated string the caller keeps alive.
    let nul = unsafe { c_str_bytes(ctx.nul_replacement_str) };
    // SAFETY: NULL or a valid Dovecot string (parser contract).
    let mut comment = unsafe { DovecotString::optional(ctx.last_comment) };

    let mut parser = Rfc822Parser::new(input);
    parser.nul_replacement = nul;
    // Start from the current text, so a step that skips no comment
    // leaves it as it was, as Dovecot does.
    parser.last_comment = comment.as_ref().map(DovecotString::to_vec);
    let result = run(&mut parser);

    ctx.data = ctx.data.wrapping_add(parser.pos());
    if let (Some(comment), Some(text)) = (&mut comment, &parser.last_comment) {
        comment.truncate(0);
        comment.append(text);
    }
    result
}

/// Runs one parser step on `ctx` and maps Dovecot's 1/0/-1 result.
///
/// # Safety
/// As for [`with_parser`].
unsafe fn step(
    ctx: *mut rfc822_parser_context,
    run: impl FnOnce(&mut Rfc822Parser) -> Result<Next>,
) -> c_int {
    // SAFETY: forwarded contract.
    match unsafe { with_parser(ctx, run) } {
        Ok(Next::More) => 1,
        Ok(Next::End) => 0,
        Err(_) => -1,
    }
}

/// Like [`step`], for the readers that append a value to `str`: the
/// value is appended even when the step fails, as Dovecot does.
///
/// # Safety
/// As for [`step`]; `str` must be a valid Dovecot string.
unsafe fn step_into(
    ctx: *mut rfc822_parser_context,
    str: *mut string_t,
    run: impl FnOnce(&mut Rfc822Parser, &mut Vec<u8>) -> Result<Next>,
) -> c_int {
    // SAFETY: a valid Dovecot string (NULL panics).
    let mut out = unsafe { DovecotString::new(str, "str") };
    let mut value = Vec::new();

    // SAFETY: forwarded contract.
    let ret = unsafe { step(ctx, |parser| run(parser, &mut value)) };
    out.append(&value);
    ret
}

/// Sets up `ctx` to parse `size` bytes at `data`. `last_comment` may be
/// NULL; otherwise it receives the text of the last comment skipped.
///
/// # Safety
/// `ctx` must be writable; `data` must point to `size` readable bytes
/// that outlive the parsing; `last_comment` must be NULL or a valid
/// Dovecot string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rfc822_parser_init(
    ctx: *mut rfc822_parser_context,
    data: *const c_uchar,
    size: usize,
    last_comment: *mut string_t,
) {
    guard("rfc822_parser_init", || {
        let init = rfc822_parser_context {
            data,
            end: data.wrapping_add(size),
            last_comment,
            nul_replacement_str: ptr::null(),
        };
        // SAFETY: the caller passes a writable context (NULL panics).
        unsafe { write_out(ctx, "ctx", init) }
    })
}

/// Skips a comment, nested ones included; `ctx` must be at `(`. Returns
/// 1 if input remains, 0 at its end, -1 if the comment is not closed.
///
/// # Safety
/// `ctx` must be a context set up by `rfc822_parser_init()` whose buffer
/// is still valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rfc822_skip_comment(ctx: *mut rfc822_parser_context) -> c_int {
    guard("rfc822_skip_comment", || {
        // SAFETY: forwarded contract.
        unsafe { step(ctx, |p| p.skip_comment()) }
    })
}

/// Skips spaces, tabs, line breaks and comments. Returns 1 if input
/// remains, 0 at its end, -1 on an unclosed comment.
///
/// # Safety
/// `ctx` must be a context set up by `rfc822_parser_init()` whose buffer
/// is still valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rfc822_skip_lwsp(ctx: *mut rfc822_parser_context) -> c_int {
    guard("rfc822_skip_lwsp", || {
        // SAFETY: forwarded contract.
        unsafe { step(ctx, |p| p.skip_lwsp()) }
    })
}

/// Appends an atom to `str` and skips the whitespace after it. Returns
/// 1 if input remains, 0 at its end, -1 if no atom is there.
///
/// # Safety
/// `ctx` must be a context set up by `rfc822_parser_init()` whose buffer
/// is still valid; `str` a valid Dovecot string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rfc822_parse_atom(
    ctx: *mut rfc822_parser_context,
    str: *mut string_t,
) -> c_int {
    guard("rfc822_parse_atom", || {
        // SAFETY: forwarded contract.
        unsafe { step_into(ctx, str, |p, out| p.parse_atom(out)) }
    })
}

/// Appends a dot-atom to `str` (whitespace around the dots allowed and
/// dropped). Returns 1 if input remains, 0 at its end, -1 if invalid.
///
/// # Safety
/// `ctx` must be a context set up by `rfc822_parser_init()` whose buffer
/// is still valid; `str` a valid Dovecot string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rfc822_parse_dot_atom(
    ctx: *mut rfc822_parser_context,
    str: *mut string_t,
) -> c_int {
    guard("rfc822_parse_dot_atom", || {
        // SAFETY: forwarded contract.
        unsafe { step_into(ctx, str, |p, out| p.parse_dot_atom(out)) }
    })
}

/// Appends a MIME token (RFC 2045) to `str`. Returns 1 if input remains,
/// 0 at its end, -1 on an unclosed comment after it.
///
/// # Safety
/// `ctx` must be a context set up by `rfc822_parser_init()` whose buffer
/// is still valid; `str` a valid Dovecot string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rfc822_parse_mime_token(
    ctx: *mut rfc822_parser_context,
    str: *mut string_t,
) -> c_int {
    guard("rfc822_parse_mime_token", || {
        // SAFETY: forwarded contract.
        unsafe { step_into(ctx, str, |p, out| p.parse_mime_token(out)) }
    })
}

/// Appends a quoted string, unescaped and unfolded, to `str`; `ctx` must
/// be at `"`. Returns 1 if input remains, 0 at its end, -1 if unclosed.
///
/// # Safety
/// `ctx` must be a context set up by `rfc822_parser_init()` whose buffer
/// is still valid; `str` a valid Dovecot string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rfc822_parse_quoted_string(
    ctx: *mut rfc822_parser_context,
    str: *mut string_t,
) -> c_int {
    guard("rfc822_parse_quoted_string", || {
        // SAFETY: forwarded contract.
        unsafe { step_into(ctx, str, |p, out| p.parse_quoted_string(out)) }
    })
}

/// Appends a phrase (atoms and quoted strings joined by one space) to
/// `str`. Returns 1 if input remains, 0 at its end, -1 if invalid.
///
/// # Safety
/// `ctx` must be a context set up by `rfc822_parser_init()` whose buffer
/// is still valid; `str` a valid Dovecot string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rfc822_parse_phrase(
    ctx: *mut rfc822_parser_context,
    str: *mut string_t,
) -> c_int {
    guard("rfc822_parse_phrase", || {
        // SAFETY: forwarded contract.
        unsafe { step_into(ctx, str, |p, out| p.parse_phrase(out)) }
    })
}

/// Appends the domain after `@` (a dot-atom or a domain literal) to
/// `str`; `ctx` must be at `@`. Returns 1 if input remains, 0 at its
/// end, -1 if invalid.
///
/// # Safety
/// `ctx` must be a context set up by `rfc822_parser_init()` whose buffer
/// is still valid; `str` a valid Dovecot string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rfc822_parse_domain(
    ctx: *mut rfc822_parser_context,
    str: *mut string_t,
) -> c_int {
    guard("rfc822_parse_domain", || {
        // SAFETY: forwarded contract.
        unsafe { step_into(ctx, str, |p, out| p.parse_domain(out)) }
    })
}

/// Appends a Content-Type's `type/subtype` to `str`. Returns 1 if input
/// remains, 0 at its end, -1 if invalid (a lone main type stays in `str`).
///
/// # Safety
/// `ctx` must be a context set up by `rfc822_parser_init()` whose buffer
/// is still valid; `str` a valid Dovecot string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rfc822_parse_content_type(
    ctx: *mut rfc822_parser_context,
    str: *mut string_t,
) -> c_int {
    guard("rfc822_parse_content_type", || {
        // SAFETY: forwarded contract.
        unsafe { step_into(ctx, str, |p, out| p.parse_content_type(out)) }
    })
}

/// Reads one `; key=value` parameter: `*key_r` gets the key on the data
/// stack, `value` (truncated first) the unquoted value. Returns 1 for a
/// parameter, 0 at the end of input, -1 if invalid.
///
/// # Safety
/// `ctx` must be a context set up by `rfc822_parser_init()` whose buffer
/// is still valid; `key_r` writable; `value` a valid Dovecot string; a
/// data stack frame must be active (Dovecot's `lib_init()` ran).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rfc822_parse_content_param(
    ctx: *mut rfc822_parser_context,
    key_r: *mut *const c_char,
    value: *mut string_t,
) -> c_int {
    guard("rfc822_parse_content_param", || {
        // SAFETY: the caller passes a writable key_r (NULL panics).
        unsafe { write_out(key_r, "key_r", ptr::null()) };
        // SAFETY: a valid Dovecot string (NULL panics).
        let mut out = unsafe { DovecotString::new(value, "value") };
        out.truncate(0);

        let mut key = None;
        let mut text = Vec::new();
        // SAFETY: forwarded contract.
        let ret = unsafe {
            step(ctx, |parser| {
                key = parser.parse_content_param(&mut text)?;
                Ok(if key.is_some() { Next::More } else { Next::End })
            })
        };
        out.append(&text);
        if let Some(key) = key {
            // SAFETY: key_r was checked writable above.
            unsafe { key_r.write(t_strndup(&key)) };
        }
        ret
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::rfc822_parser::{is_atext, is_atext_non_tspecial};

    #[test]
    fn atext_table_agrees_with_the_rust_parser() {
        let table = atext_table();
        for c in 0..=255u8 {
            let class = table[usize::from(c)];
            assert_eq!(class != 0, is_atext(c), "byte {c:#04x}");
            assert_eq!(class & 3 != 0, is_atext_non_tspecial(c), "byte {c:#04x}");
        }
    }
}
