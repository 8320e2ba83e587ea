//! How IMAP responses write strings (lib-imap's `imap-quote.c`): NIL,
//! quoted strings and literals, chosen the way Dovecot chooses them, so
//! ENVELOPE and BODYSTRUCTURE come out byte for byte as Dovecot's.
//!
//! The inputs are C strings in Dovecot; a NUL ends them there, and ends
//! them here too (header values reach these functions with NULs already
//! replaced by U+FFFD).

/// Literal instead of quoted string after this many `"` or `\`.
const QUOTED_MAX_ESCAPE_CHARS: usize = 4;

/// `src` up to its first NUL, as C sees it.
fn c_str(src: &[u8]) -> &[u8] {
    let end = memchr::memchr(0, src).unwrap_or(src.len());
    &src[..end]
}

fn append_literal(out: &mut Vec<u8>, src: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", src.len()).as_bytes());
    out.extend_from_slice(src);
}

/// A string: quoted when it can be, a literal when it holds CR, LF,
/// 8-bit bytes or too many quoted-specials (`imap_append_string()`).
pub fn append_string(out: &mut Vec<u8>, src: &[u8]) {
    let src = c_str(src);
    let mut escapes = 0;
    for &c in src {
        let literal = match c {
            b'"' | b'\\' => {
                escapes += 1;
                escapes > QUOTED_MAX_ESCAPE_CHARS
            }
            b'\r' | b'\n' => true,
            c => c >= 0x80,
        };
        if literal {
            append_literal(out, src);
            return;
        }
    }
    append_quoted(out, src);
}

/// NIL or a string (`imap_append_nstring()`).
pub fn append_nstring(out: &mut Vec<u8>, src: Option<&[u8]>) {
    match src {
        None => out.extend_from_slice(b"NIL"),
        Some(src) => append_string(out, src),
    }
}

/// An atom when it can be one, otherwise a string; never an atom that
/// reads as NIL (`imap_append_astring()`).
pub fn append_astring(out: &mut Vec<u8>, src: &[u8]) {
    let src = c_str(src);
    let atom = !src.is_empty()
        && src.iter().all(|&c| is_astring_char(c))
        && !src.eq_ignore_ascii_case(b"NIL");
    if atom {
        out.extend_from_slice(src);
    } else {
        append_string(out, src);
    }
}

/// RFC 3501 ASTRING-CHAR (Dovecot's `IS_ASTRING_CHAR`).
fn is_astring_char(c: u8) -> bool {
    let atom_special = matches!(c, b'(' | b')' | b'{' | b' ' | b'%' | b'*' | b'"' | b'\\');
    c > 0x20 && c < 0x7f && !atom_special
}

/// NIL or a string with line breaks taken out; a break not followed by
/// whitespace becomes a space (`imap_append_nstring_nolf()`).
pub fn append_nstring_nolf(out: &mut Vec<u8>, src: Option<&[u8]>) {
    let Some(src) = src.map(c_str) else {
        return append_nstring(out, None);
    };
    if !src.iter().any(|&c| c == b'\r' || c == b'\n') {
        return append_string(out, src);
    }
    let mut joined = Vec::with_capacity(src.len());
    for (i, &c) in src.iter().enumerate() {
        if c != b'\r' && c != b'\n' {
            joined.push(c);
        } else if !matches!(src.get(i + 1), None | Some(b' ' | b'\t' | b'\r' | b'\n')) {
            joined.push(b' ');
        }
    }
    append_string(out, &joined);
}

/// A quoted string; CR, LF and 8-bit bytes are dropped, `"` and `\`
/// escaped (`imap_append_quoted()`).
pub fn append_quoted(out: &mut Vec<u8>, src: &[u8]) {
    out.push(b'"');
    for &c in c_str(src) {
        match c {
            b'\r' | b'\n' => {}
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', c]),
            c if c >= 0x80 => {}
            c => out.push(c),
        }
    }
    out.push(b'"');
}

/// A string meant for people (subjects, display names): whitespace runs
/// squeezed to one space, leading and trailing whitespace dropped, NUL
/// shown as byte 0x80; a literal unless it was already clean
/// (`imap_append_string_for_humans()`).
pub fn append_string_for_humans(out: &mut Vec<u8>, src: &[u8]) {
    let (modify, removed) = humanize_plan(src);
    if !modify {
        out.push(b'"');
        out.extend_from_slice(src);
        out.push(b'"');
        return;
    }
    if removed == src.len() {
        out.extend_from_slice(b"\"\"");
        return;
    }

    out.extend_from_slice(format!("{{{}}}\r\n", src.len() - removed).as_bytes());
    let start = out.len();
    let mut last_space = true;
    for &c in src {
        match c {
            0 => out.push(0x80),
            b'\r' | b'\n' | b'\t' | b' ' if last_space => continue,
            b'\r' | b'\n' | b'\t' | b' ' => {
                out.push(b' ');
                last_space = true;
                continue;
            }
            c => out.push(c),
        }
        last_space = false;
    }
    if last_space && out.len() > start {
        out.pop();
    }
}

/// Whether `src` needs rewriting for humans, and how many bytes that
/// removes.
fn humanize_plan(src: &[u8]) -> (bool, usize) {
    let mut modify = false;
    let mut removed = 0;
    let mut last_space = true;
    let mut only_spaces = true;
    for &c in src {
        match c {
            0 | b'"' | b'\\' => {
                modify = true;
                last_space = false;
            }
            b'\r' | b'\n' | b'\t' | b' ' => {
                if c != b' ' || last_space {
                    modify = true;
                }
                if last_space {
                    removed += 1;
                }
                last_space = true;
            }
            c => {
                modify |= c >= 0x80;
                last_space = false;
            }
        }
        only_spaces &= last_space;
    }
    if last_space && !src.is_empty() && !only_spaces {
        modify = true;
        removed += 1;
    }
    (modify, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn rfc3501_string_forms() {
        // RFC 3501 4.3: quoted strings escape '"' and '\'; anything with
        // CR, LF or 8-bit data must be a literal.
        assert_eq!(written(|o| append_string(o, b"a \"b\"")), "\"a \\\"b\\\"\"");
        assert_eq!(written(|o| append_string(o, b"a\r\nb")), "{4}\r\na\r\nb");
        assert_eq!(written(|o| append_string(o, "é".as_bytes())), "{2}\r\né");
        assert_eq!(written(|o| append_nstring(o, None)), "NIL");
    }

    #[test]
    fn astrings_never_read_as_nil() {
        assert_eq!(written(|o| append_astring(o, b"INBOX")), "INBOX");
        assert_eq!(written(|o| append_astring(o, b"nil")), "\"nil\"");
        assert_eq!(written(|o| append_astring(o, b"")), "\"\"");
        assert_eq!(written(|o| append_astring(o, b"a b")), "\"a b\"");
    }

    #[test]
    fn humans_get_squeezed_whitespace() {
        assert_eq!(
            written(|o| append_string_for_humans(o, b"plain")),
            "\"plain\""
        );
        assert_eq!(
            written(|o| append_string_for_humans(o, b" a\r\n\tb  ")),
            "{3}\r\na b"
        );
        assert_eq!(written(|o| append_string_for_humans(o, b"   ")), "\"\"");
        assert_eq!(written(|o| append_string_for_humans(o, b"")), "\"\"");
    }

    #[test]
    fn nolf_joins_lines() {
        assert_eq!(
            written(|o| append_nstring_nolf(o, Some(b"<a@b>\r\n <c@d>"))),
            "\"<a@b> <c@d>\""
        );
        assert_eq!(
            written(|o| append_nstring_nolf(o, Some(b"<a@b>\n<c@d>"))),
            "\"<a@b> <c@d>\""
        );
    }

    proptest::proptest! {
        #[test]
        fn strings_are_quoted_or_literal(
            value in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100)
        ) {
            for f in [append_string as fn(&mut Vec<u8>, &[u8]), append_string_for_humans] {
                let mut out = Vec::new();
                f(&mut out, &value);
                let quoted = out.starts_with(b"\"");
                let literal = out.first() == Some(&b'{');
                proptest::prop_assert!(quoted || literal);
                if literal {
                    let close = out.iter().position(|&c| c == b'}').unwrap();
                    let len: usize = std::str::from_utf8(&out[1..close]).unwrap().parse().unwrap();
                    proptest::prop_assert_eq!(out.len(), close + 3 + len);
                }
            }
        }
    }
}
