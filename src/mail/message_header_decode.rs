//! RFC 2047 encoded-words in header values, decoded to UTF-8
//! (lib-mail's `message-header-decode.c`, with the Q decoding of
//! `quoted-printable.c` and the lenient base64 of lib's `base64.c`).
//!
//! An encoded word is `=?charset?Q|B?text?=`. Like Dovecot we do not
//! insist on the word being separated from its neighbours, take the
//! encoding from the first letter after the charset, and drop the
//! whitespace between two adjacent encoded words. Undecodable parts are
//! handled as Dovecot handles them: a word with an unknown encoding or
//! without its closing `?=` stays as raw text, an unknown charset gives
//! the decoded bytes as UTF-8 when they are valid, and decoding stops at
//! the first byte that is not base64.
//!
//! One deliberate difference: when whitespace is followed by something
//! that starts like an encoded word but is not one, Dovecot drops the
//! whitespace (it had already decided to skip it); we keep it, so
//! `=?utf-8?q?a?= =?broken` decodes to `a =?broken`, not `a=?broken`.

use super::base64;
use super::charset::{self, Charset};

/// One piece of a header value as [`decode`] splits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Bytes outside encoded words, as they were.
    Text(&'a [u8]),
    /// The decoded bytes of one encoded word and its charset name.
    Encoded { charset: &'a [u8], data: &'a [u8] },
}

/// Split `value` into text and decoded encoded words, handing each to
/// `emit` in order; `emit` returns false to stop
/// (`message_header_decode()`).
pub fn decode(value: &[u8], mut emit: impl FnMut(Chunk<'_>) -> bool) {
    let mut decoded = Vec::new();
    let mut text_start = 0;
    let mut pos = 0;

    while pos + 1 < value.len() {
        if value[pos] != b'=' || value[pos + 1] != b'?' {
            pos += 1;
            continue;
        }
        decoded.clear();
        let Some(word) = decode_word(&value[pos + 2..], &mut decoded) else {
            // Not an encoded word: it stays part of the text.
            pos += 2;
            continue;
        };

        let before = &value[text_start..pos];
        if !before.is_empty() && !is_only_lwsp(before) && !emit(Chunk::Text(before)) {
            return;
        }
        let charset = &value[pos + 2..pos + 2 + word.charset_len];
        if !decoded.is_empty()
            && !emit(Chunk::Encoded {
                charset,
                data: &decoded,
            })
        {
            return;
        }
        pos += 2 + word.len;
        text_start = pos;
    }

    if text_start < value.len() {
        emit(Chunk::Text(&value[text_start..]));
    }
}

/// Decode `value` to UTF-8 (`message_header_decode_utf8()` without a
/// normalizer). Invalid bytes become U+FFFD.
pub fn decode_utf8(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len());
    decode(value, |chunk| {
        match chunk {
            Chunk::Text(text) => {
                charset::push_valid_utf8(text, &mut out);
            }
            Chunk::Encoded { charset, data } => push_in_charset(charset, data, &mut out),
        }
        true
    });
    out
}

fn push_in_charset(name: &[u8], data: &[u8], out: &mut String) {
    let name = std::str::from_utf8(name).ok();
    if name.is_some_and(charset::is_utf8) {
        // Checked as UTF-8 directly, a cut-short character included.
        charset::push_valid_utf8(data, out);
        return;
    }
    let charset = name.and_then(|name| Charset::for_name(name).ok());
    match charset {
        Some(charset) => {
            charset.to_utf8(data, out);
        }
        None => {
            // Unknown charset: what is valid UTF-8 (often just ASCII) is
            // still worth showing.
            charset::push_valid_utf8(data, out);
        }
    }
}

fn is_only_lwsp(text: &[u8]) -> bool {
    text.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// Where an encoded word's parts were found, counted from after `=?`.
struct EncodedWord {
    charset_len: usize,
    /// Up to and including the closing `?=`.
    len: usize,
}

/// Decode `charset?X?text?=` (the part after `=?`) into `out`; `None`
/// when it is not a complete encoded word with a known encoding.
fn decode_word(word: &[u8], out: &mut Vec<u8>) -> Option<EncodedWord> {
    let mut marks = memchr::memchr_iter(b'?', word);
    let charset_end = marks.next()?;
    let encoding_end = marks.next()?;
    let text_end = marks.next()?;
    if word.get(text_end + 1) != Some(&b'=') {
        return None;
    }

    let text = &word[encoding_end + 1..text_end];
    match word[charset_end + 1] {
        b'q' | b'Q' => {
            q_decode(text, out);
        }
        b'b' | b'B' => out.extend_from_slice(&base64::decode(text)),
        _ => return None,
    }
    Some(EncodedWord {
        charset_len: charset_end,
        len: text_end + 2,
    })
}

/// RFC 2047's Q encoding: `_` is a space, `=XX` a byte; anything that is
/// not a valid escape is kept as it was (`quoted_printable_q_decode()`).
/// Returns false if an invalid escape was kept.
pub fn q_decode(text: &[u8], out: &mut Vec<u8>) -> bool {
    let mut valid = true;
    let mut pos = 0;
    while pos < text.len() {
        match text[pos] {
            b'_' => out.push(b' '),
            b'=' if pos + 2 >= text.len() => {
                out.extend_from_slice(&text[pos..]);
                return valid;
            }
            b'=' => match hex_pair(text[pos + 1], text[pos + 2]) {
                HexPair::Byte(byte) => {
                    out.push(byte);
                    pos += 2;
                }
                // hex_to_binary() sees an empty string: nothing, no error.
                HexPair::Empty => pos += 2,
                HexPair::Invalid => {
                    valid = false;
                    out.push(b'=');
                }
            },
            byte => out.push(byte),
        }
        pos += 1;
    }
    valid
}

enum HexPair {
    Byte(u8),
    Empty,
    Invalid,
}

fn hex_pair(high: u8, low: u8) -> HexPair {
    if high == 0 {
        return HexPair::Empty;
    }
    match (hex_value(high), hex_value(low)) {
        (Some(h), Some(l)) => HexPair::Byte(h << 4 | l),
        _ => HexPair::Invalid,
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).map(|v| v as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2047_section8_examples() {
        // The display examples of RFC 2047 section 8.
        let cases: [(&[u8], &str); 9] = [
            (b"=?ISO-8859-1?Q?a?=", "a"),
            (b"=?ISO-8859-1?Q?a?= b", "a b"),
            (b"=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab"),
            (b"=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=", "ab"),
            (b"=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=", "ab"),
            (b"=?ISO-8859-1?Q?a_b?=", "a b"),
            (b"=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=", "a b"),
            (b"(=?ISO-8859-1?Q?a?=)", "(a)"),
            (b"(=?ISO-8859-1?Q?a?= b)", "(a b)"),
        ];
        for (input, expected) in cases {
            assert_eq!(decode_utf8(input), expected, "{input:?}");
        }
    }

    #[test]
    fn rfc2047_section8_header_examples() {
        // From: and Subject: examples of RFC 2047 section 8.
        assert_eq!(decode_utf8(b"=?US-ASCII?Q?Keith_Moore?="), "Keith Moore");
        assert_eq!(
            decode_utf8(b"=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?="),
            "Keld J\u{f8}rn Simonsen"
        );
        assert_eq!(
            decode_utf8(b"=?ISO-8859-1?Q?Andr=E9?= Pirard"),
            "Andr\u{e9} Pirard"
        );
        assert_eq!(
            decode_utf8(
                b"=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n \
                  =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?="
            ),
            "If you can read this you understand the example."
        );
    }

    #[test]
    fn broken_words_stay_raw() {
        assert_eq!(decode_utf8(b"=?utf-8?x?abc?="), "=?utf-8?x?abc?=");
        assert_eq!(decode_utf8(b"=?utf-8?q?abc"), "=?utf-8?q?abc");
        assert_eq!(decode_utf8(b"a =?b"), "a =?b");
    }

    #[test]
    fn whitespace_before_a_broken_word_is_kept() {
        // Dovecot gives "a=?broken" here: it has dropped the space before
        // it finds the second word broken. We keep the text.
        assert_eq!(decode_utf8(b"=?utf-8?q?a?= =?broken"), "a =?broken");
    }

    #[test]
    fn q_decoding_keeps_invalid_escapes() {
        assert_eq!(decode_utf8(b"=?utf-8?q?a=ZZb=4?="), "a=ZZb=4");
        assert_eq!(decode_utf8(b"=?utf-8?q?=c3=a9?="), "\u{e9}");
    }

    #[test]
    fn base64_stops_at_invalid_input() {
        assert_eq!(decode_utf8(b"=?utf-8?b?YWJj*ZGVm?="), "abc");
        // Partial groups still give the bytes they complete.
        assert_eq!(decode_utf8(b"=?utf-8?b?YWI?="), "ab");
    }

    #[test]
    fn unknown_charset_shows_valid_utf8() {
        assert_eq!(decode_utf8(b"=?x-unknown?q?abc=ff?="), "abc\u{fffd}");
        assert_eq!(decode_utf8(b"=?utf-8*en?q?hello?="), "hello");
    }

    #[test]
    fn raw_8bit_text_is_checked() {
        assert_eq!(decode_utf8(b"caf\xc3\xa9 \xff"), "caf\u{e9} \u{fffd}");
    }

    #[test]
    fn chunks_name_their_charset() {
        let mut seen = Vec::new();
        decode(b"x =?iso-8859-1?q?=e9?=", |chunk| {
            seen.push(format!("{chunk:?}"));
            true
        });
        assert_eq!(
            seen,
            [
                "Text([120, 32])",
                "Encoded { charset: [105, 115, 111, 45, 56, 56, 53, 57, 45, 49], data: [233] }"
            ]
        );
    }

    #[test]
    fn ten_megabyte_header_decodes_in_bounds() {
        let word: &[u8] = b"=?utf-8?q?a?= =?x?= =?iso-8859-1?b?6Q==?= \xff ";
        let value = word.repeat(10 * 1024 * 1024 / word.len());
        let decoded = decode_utf8(&value);
        assert!(decoded.len() <= 3 * value.len());
        assert!(decoded.starts_with("a =?x?= \u{e9} \u{fffd} a"));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_decode_to_bounded_utf8(
            value in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)
        ) {
            let decoded = decode_utf8(&value);
            proptest::prop_assert!(decoded.len() <= 3 * value.len());
        }

        #[test]
        fn encoded_word_soup_never_panics(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "=?", "?=", "?", "utf-8", "iso-2022-jp", "q", "B", "=C3",
                    "=A9", "_", " ", "\r\n ", "YWJj", "=", "\u{0}", "\u{1b}$B",
                ]),
                0..40,
            )
        ) {
            let value = parts.concat();
            let _ = decode_utf8(value.as_bytes());
        }
    }
}
