//! MIME parameters with RFC 2231 continuations (lib-mail's
//! `rfc2231-parser.c`), as BODYSTRUCTURE and the part data use them.
//!
//! [`parse`] reads the `; key=value` list after a Content-Type or
//! Content-Disposition value and merges `key*0`, `key*1*`, ... into one
//! `key` (or `key*` when any piece is charset-encoded, the value then
//! keeping its `charset'language'` prefix and `%XX` escapes, as Dovecot
//! returns it). Pieces with a gap in their numbering are returned one
//! by one, renamed `key*N` / `key*N*`.
//!
//! Dovecot quirks kept on purpose, because BODYSTRUCTURE shows them:
//! a `key*` after numbered pieces inherits the previous piece's number
//! (so `t*0*=a; t*1*=b; n*=c` gives `n*1*`), and Debian's 2.3.19.1 reads
//! at most [`MAX_PARAMS`] parameters, counting each attempt to recover
//! from a broken one (one byte at a time) as one.
//!
//! [`decode_extended_value`] goes further than Dovecot 2.3: it turns a
//! `charset'language'%XX` value into UTF-8.

use super::charset::{self, Charset};
use super::rfc822_parser::{NUL_REPLACEMENT, Rfc822Parser};

/// Debian's `RFC2231_MAX_PARAMS` (CVE-2026-27859): parsing attempts per
/// parameter list.
pub const MAX_PARAMS: usize = 128;

/// The parameters, in Dovecot's order: plain ones as they came, then the
/// merged RFC 2231 ones sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pub params: Vec<(Vec<u8>, Vec<u8>)>,
    /// Some parameter was malformed and skipped.
    pub broken: bool,
}

/// One `key*N[*]` piece waiting to be merged.
#[derive(Debug, Clone)]
struct Piece {
    key: Vec<u8>,
    value: Vec<u8>,
    index: u32,
    extended: bool,
}

/// Read `; key=value` parameters up to the end of the parser's input
/// (`rfc2231_parse()`).
pub fn parse(parser: &mut Rfc822Parser<'_>) -> Params {
    let saved_replacement = parser.nul_replacement.replace(NUL_REPLACEMENT);
    let mut out = Params::default();
    let mut pieces = Vec::new();
    let mut last_index = 0;
    let mut value = Vec::new();

    for _ in 0..MAX_PARAMS {
        let key = match parser.parse_content_param(&mut value) {
            Ok(Some(key)) => key,
            Ok(None) => break,
            Err(_) => {
                out.broken = true;
                if parser.at_end() {
                    break;
                }
                parser.advance(1);
                continue;
            }
        };
        match split_rfc2231_key(&key, &mut last_index) {
            Some((name, index, extended)) => pieces.push(Piece {
                key: name.to_vec(),
                value: value.clone(),
                index,
                extended,
            }),
            None => out.params.push((key, value.clone())),
        }
    }
    parser.nul_replacement = saved_replacement;

    merge_pieces(&mut pieces, &mut out.params);
    out
}

/// `name*`, `name*N` or `name*N*`: the name, the piece number and
/// whether it is charset-encoded. A bare `name*` keeps `last_index`, the
/// number of the piece before it, as Dovecot does.
fn split_rfc2231_key<'k>(key: &'k [u8], last_index: &mut u32) -> Option<(&'k [u8], u32, bool)> {
    let star = key.iter().position(|&c| c == b'*')?;
    let mut rest = &key[star..];
    if rest.len() > 1 {
        rest = &rest[1..];
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        *last_index = rest[..digits].iter().fold(0u32, |n, &d| {
            n.wrapping_mul(10).wrapping_add(u32::from(d - b'0'))
        });
        rest = &rest[digits..];
    }
    let extended = rest.first() == Some(&b'*');
    if extended {
        rest = &rest[1..];
    }
    rest.is_empty()
        .then_some((&key[..star], *last_index, extended))
}

/// Merge the numbered pieces of each name into one parameter.
fn merge_pieces(pieces: &mut [Piece], out: &mut Vec<(Vec<u8>, Vec<u8>)>) {
    pieces.sort_by(|a, b| a.key.cmp(&b.key).then(a.index.cmp(&b.index)));
    let mut start = 0;
    while start < pieces.len() {
        let len = pieces[start..]
            .iter()
            .take_while(|p| p.key.eq_ignore_ascii_case(&pieces[start].key))
            .count();
        let group = &pieces[start..start + len];
        let contiguous = group.iter().zip(0u32..).all(|(p, i)| p.index == i);
        if contiguous {
            out.push(merge_group(group));
        } else {
            out.extend(group.iter().map(renamed_piece));
        }
        start += len;
    }
}

fn merge_group(group: &[Piece]) -> (Vec<u8>, Vec<u8>) {
    let any_extended = group.iter().any(|p| p.extended);
    let mut value = Vec::new();
    if any_extended && !group[0].extended {
        // The charset and language the first piece should have had.
        value.extend_from_slice(b"''");
    }
    for piece in group {
        if any_extended && !piece.extended {
            percent_escape(&mut value, &piece.value);
        } else {
            value.extend_from_slice(&piece.value);
        }
    }
    let mut key = group[0].key.clone();
    if any_extended {
        key.push(b'*');
    }
    (key, value)
}

/// A piece of a broken sequence, under its own `key*N[*]` name.
fn renamed_piece(piece: &Piece) -> (Vec<u8>, Vec<u8>) {
    let star = if piece.extended { "*" } else { "" };
    let mut key = piece.key.clone();
    key.extend_from_slice(format!("*{}{star}", piece.index).as_bytes());
    (key, piece.value.clone())
}

fn percent_escape(out: &mut Vec<u8>, value: &[u8]) {
    for &c in value {
        if c == b'%' {
            out.extend_from_slice(b"%25");
        } else {
            out.push(c);
        }
    }
}

/// Decode an extended value, `charset'language'%XX...`, to UTF-8.
/// `None` when it has no charset part; an unknown charset gives the
/// bytes as UTF-8 where they are valid, like header decoding.
pub fn decode_extended_value(value: &[u8]) -> Option<String> {
    let mut parts = value.splitn(3, |&c| c == b'\'');
    let (charset_name, _language, text) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = percent_decode(text);
    let mut out = String::with_capacity(bytes.len());
    let known = std::str::from_utf8(charset_name)
        .ok()
        .filter(|name| !name.is_empty())
        .and_then(|name| Charset::for_name(name).ok());
    match known {
        Some(charset) => {
            charset.to_utf8(&bytes, &mut out);
        }
        None => {
            charset::push_valid_utf8(&bytes, &mut out);
        }
    }
    Some(out)
}

fn percent_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let hex = text.get(i + 1..i + 3).and_then(|h| {
            let h = std::str::from_utf8(h).ok()?;
            u8::from_str_radix(h, 16).ok()
        });
        match (text[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(text: &str) -> Vec<(String, String)> {
        let mut parser = Rfc822Parser::new(text.as_bytes());
        parse(&mut parser)
            .params
            .into_iter()
            .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
            .collect()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn rfc2231_section3_continuations() {
        // RFC 2231 section 3.
        assert_eq!(
            params(
                "; URL*0=\"ftp://\";\r\n URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\""
            ),
            [pair(
                "URL",
                "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"
            )]
        );
    }

    #[test]
    fn rfc2231_section4_charsets() {
        // RFC 2231 section 4; the value keeps its encoding.
        let value = "us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A";
        assert_eq!(
            params(&format!("; title*={value}")),
            [pair("title*", value)]
        );
        assert_eq!(
            decode_extended_value(value.as_bytes()).as_deref(),
            Some("This is ***fun***")
        );
    }

    #[test]
    fn rfc2231_section4_1_mixed_pieces() {
        // RFC 2231 section 4.1: encoded and plain pieces; the plain
        // piece's '%' would be read as an escape, so it is escaped.
        let merged = params(
            "; title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n \
             title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2=\"isn't it!\"",
        );
        assert_eq!(
            merged,
            [pair(
                "title*",
                "us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn't it!"
            )]
        );
        let decoded = decode_extended_value(merged[0].1.as_bytes());
        assert_eq!(
            decoded.as_deref(),
            Some("This is even more ***fun*** isn't it!")
        );
    }

    #[test]
    fn gaps_keep_the_pieces_apart() {
        assert_eq!(
            params("; name*0=a; name*2=c"),
            [pair("name*0", "a"), pair("name*2", "c")]
        );
        assert_eq!(
            params("; name*1=b; name*0=a; plain=x"),
            [pair("plain", "x"), pair("name", "ab")]
        );
    }

    #[test]
    fn broken_parameters_are_skipped() {
        // Recovery skips the ';' after the broken parameter, so the
        // next one is lost too, as in Dovecot.
        let mut parser = Rfc822Parser::new(b"; bad; lost=1; x=y");
        let parsed = parse(&mut parser);
        assert!(parsed.broken);
        assert_eq!(parsed.params, [(b"x".to_vec(), b"y".to_vec())]);
    }

    #[test]
    fn debian_limits_and_quirks() {
        // Both seen in the real doveadm's BODYSTRUCTURE (corpus messages
        // edge-params-many and edge-params-stale-index).
        let many: String = (0..200).map(|i| format!("; p{i}=v")).collect();
        let parsed = params(&many);
        assert_eq!(parsed.len(), MAX_PARAMS);
        assert_eq!(parsed.last(), Some(&pair("p127", "v")));
        assert_eq!(
            params("; title*0*=us-ascii''a; title*1*=b; name*=us-ascii''c"),
            [
                pair("name*1*", "us-ascii''c"),
                pair("title*", "us-ascii''ab")
            ]
        );
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_give_bounded_params(
            value in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)
        ) {
            let mut parser = Rfc822Parser::new(&value);
            let parsed = parse(&mut parser);
            proptest::prop_assert!(parsed.params.len() <= MAX_PARAMS);
            for (_, v) in &parsed.params {
                let _ = decode_extended_value(v);
            }
        }
    }
}
