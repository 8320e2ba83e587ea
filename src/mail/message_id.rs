//! Message-IDs out of `Message-ID:`, `In-Reply-To:` and `References:`
//! values (lib-mail's `message-id.c`), normalized the way THREAD and the
//! index compare them.
//!
//! [`next`] finds the next `<id-left@id-right>`: a plain one is taken as
//! it is with whitespace removed; one with quotes or comments is read
//! with the RFC 822 tokenizer. Anything without an `@` is skipped.
//!
//! A Dovecot quirk kept: when a quoted or commented candidate fails and
//! a later one in the same call succeeds, the later one comes back with
//! the failed one's pieces in front (Dovecot reuses its buffer). It only
//! happens with malformed IDs, and THREAD must group them as Dovecot
//! does.

use super::rfc822_parser::{Next, Rfc822Parser};

/// The next message ID in `*rest`, advancing `*rest` past it
/// (`message_id_get_next()`). The input ends at its first NUL, as the C
/// string it is in Dovecot.
pub fn next(rest: &mut &[u8]) -> Option<Vec<u8>> {
    let end = memchr::memchr(0, rest).unwrap_or(rest.len());
    *rest = &rest[..end];
    let mut slow = Vec::new();

    loop {
        let open = memchr::memchr(b'<', rest)?;
        let id = &rest[open + 1..];
        let stop = id.iter().position(|&c| matches!(c, b'>' | b'"' | b'('));
        let Some(stop) = stop else {
            *rest = &rest[rest.len()..];
            return None;
        };

        if id[stop] == b'>' {
            *rest = &id[stop + 1..];
            if id[..stop].contains(&b'@') {
                return Some(without_whitespace(&id[..stop]));
            }
        } else {
            *rest = id;
            if let Some(used) = tokenized_id(id, &mut slow) {
                *rest = &id[used..];
                return Some(slow);
            }
        }
    }
}

/// All message IDs of a header value, in order.
pub fn all(value: &[u8]) -> Vec<Vec<u8>> {
    let mut rest = value;
    std::iter::from_fn(|| next(&mut rest)).collect()
}

fn without_whitespace(id: &[u8]) -> Vec<u8> {
    id.iter()
        .copied()
        .filter(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
        .collect()
}

/// Read `id-left "@" id-right ">"` with the tokenizer, appending to
/// `out`; returns how much of `id` it used.
fn tokenized_id(id: &[u8], out: &mut Vec<u8>) -> Option<usize> {
    let mut parser = Rfc822Parser::new(id);
    let _ = parser.skip_lwsp();
    let left = if parser.peek() == Some(b'"') {
        parser.parse_quoted_string(out)
    } else {
        parser.parse_dot_atom(out)
    };
    if left != Ok(Next::More) || parser.peek() != Some(b'@') {
        return None;
    }
    out.push(b'@');
    parser.advance(1);
    let _ = parser.skip_lwsp();
    let right = parser.parse_dot_atom(out);
    if right != Ok(Next::More) || parser.peek() != Some(b'>') {
        return None;
    }
    Some(parser.pos() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(value: &str) -> Vec<String> {
        all(value.as_bytes())
            .into_iter()
            .map(|id| String::from_utf8(id).unwrap())
            .collect()
    }

    #[test]
    fn rfc5322_appendix_a_ids() {
        // RFC 5322 A.2 and A.6.3 (folding inside references).
        assert_eq!(
            ids("<1234@local.machine.example>"),
            ["1234@local.machine.example"]
        );
        assert_eq!(
            ids("<1234@local.machine.example>\r\n <3456@example.net>"),
            ["1234@local.machine.example", "3456@example.net"]
        );
        assert_eq!(ids("<78910@example.net> (comment)"), ["78910@example.net"]);
    }

    #[test]
    fn whitespace_is_removed_and_ids_without_at_skipped() {
        assert_eq!(ids("< a @ b >"), ["a@b"]);
        assert_eq!(ids("<nodomain> <x@y>"), ["x@y"]);
        assert_eq!(ids("no ids here"), Vec::<String>::new());
        assert_eq!(ids("<unterminated@x"), Vec::<String>::new());
    }

    #[test]
    fn quoted_and_commented_ids_use_the_tokenizer() {
        assert_eq!(
            ids("<\"quoted local\"@example.com>"),
            ["quoted local@example.com"]
        );
        assert_eq!(ids("<a(comment)@b>"), ["a@b"]);
    }

    proptest::proptest! {
        #[test]
        fn every_id_has_an_at(
            value in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)
        ) {
            for id in all(&value) {
                proptest::prop_assert!(id.contains(&b'@'));
            }
        }
    }
}
