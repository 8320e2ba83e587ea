//! lib-mail's core parsers: the RFC 822 tokenizer, the header parser,
//! the MIME parser and what IMAP shows of a message, checked against
//! RFC examples and against the real Dovecot (live, or through the
//! fixtures under `tests/fixtures/mail/parse/` saved from it).

mod common;

use dovecot_rs::mail::message_header_parser::{HeaderParser, HeaderParserFlags};
use dovecot_rs::mail::rfc822_parser::{Next, Rfc822Parser};

fn phrase(input: &[u8]) -> (Vec<u8>, Option<Next>) {
    let mut parser = Rfc822Parser::new(input);
    let mut out = Vec::new();
    let next = parser.parse_phrase(&mut out).ok();
    (out, next)
}

#[test]
fn rfc822_phrase_joins_words_and_unquotes() {
    // RFC 5322 3.2.5: a phrase is words; quoted-pairs are unescaped.
    let (out, next) = phrase(b"Joe  \"Q. \\\"Public\\\"\" <john@example.com>");
    assert_eq!(out, b"Joe Q. \"Public\"");
    assert_eq!(next, Some(Next::More));
}

#[test]
fn rfc822_comments_nest_and_are_kept() {
    // RFC 5322 3.2.2: comments nest; quoted-pairs inside are unescaped.
    let mut parser = Rfc822Parser::with_last_comment(b"(a (nested) \\) c) x");
    assert_eq!(parser.skip_lwsp(), Ok(Next::More));
    assert_eq!(parser.last_comment.as_deref(), Some(&b"a (nested) ) c"[..]));
    assert_eq!(parser.peek(), Some(b'x'));

    let mut broken = Rfc822Parser::new(b"(never closed");
    assert!(broken.skip_lwsp().is_err());
}

#[test]
fn rfc822_dot_atom_and_domain_literal() {
    // RFC 822 allowed whitespace around the dots of a domain.
    let mut parser = Rfc822Parser::new(b"@example . com");
    let mut out = Vec::new();
    assert_eq!(parser.parse_domain(&mut out), Ok(Next::End));
    assert_eq!(out, b"example.com");

    let mut parser = Rfc822Parser::new(b"@[192.0.2.1] rest");
    let mut out = Vec::new();
    assert_eq!(parser.parse_domain(&mut out), Ok(Next::More));
    assert_eq!(out, b"[192.0.2.1]");

    let mut parser = Rfc822Parser::new(b"@example.");
    assert!(parser.parse_domain(&mut Vec::new()).is_err());
}

#[test]
fn rfc822_content_type_and_params() {
    // RFC 2045 5.1: type "/" subtype *(";" parameter); value is a token
    // or a quoted string; comments may appear anywhere.
    let input = b" Text/Plain (comment) ; charset=\"us-ascii\" ;format = flowed";
    let mut parser = Rfc822Parser::new(input);
    let mut ctype = Vec::new();
    assert_eq!(parser.parse_content_type(&mut ctype), Ok(Next::More));
    assert_eq!(ctype, b"Text/Plain");

    let mut value = Vec::new();
    let key = parser.parse_content_param(&mut value).unwrap();
    assert_eq!(
        (key.as_deref(), &value[..]),
        (Some(&b"charset"[..]), &b"us-ascii"[..])
    );
    let key = parser.parse_content_param(&mut value).unwrap();
    assert_eq!(
        (key.as_deref(), &value[..]),
        (Some(&b"format"[..]), &b"flowed"[..])
    );
    assert_eq!(parser.parse_content_param(&mut value), Ok(None));
}

#[test]
fn rfc822_content_type_without_subtype_keeps_main_type() {
    let mut parser = Rfc822Parser::new(b"text");
    let mut ctype = Vec::new();
    assert!(parser.parse_content_type(&mut ctype).is_err());
    assert_eq!(ctype, b"text");

    let mut parser = Rfc822Parser::new(b"text/ plain x");
    let mut ctype = Vec::new();
    assert!(parser.parse_content_type(&mut ctype).is_err());
    assert_eq!(ctype, b"");
}

fn header_lines(input: &[u8], flags: HeaderParserFlags) -> Vec<(String, String, String)> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    HeaderParser::new(input, 0, flags)
        .map(|h| (text(h.name), text(h.value), text(&h.full_value)))
        .collect()
}

#[test]
fn header_lines_fold_and_split() {
    let input = b"Subject: a\r\n\tb\r\nX-No-Colon\r\nTo:  x\r\n\r\nbody";
    let lines = header_lines(input, HeaderParserFlags::empty());
    let expected = [
        ("Subject", "a", ""),
        ("Subject", "\tb", "a\r\n\tb"),
        ("", "X-No-Colon", "X-No-Colon"),
        ("To", " x", " x"),
        ("", "", ""),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(lines, expected);

    let clean = HeaderParserFlags::CLEAN_ONELINE | HeaderParserFlags::SKIP_INITIAL_LWSP;
    let lines = header_lines(input, clean);
    assert_eq!(lines[1].2, "a b");
    assert_eq!(lines[3].1, "x");
}

#[test]
fn header_size_counts_lf_as_crlf() {
    let input = b"A: 1\nB: 2\r\n\nbody\n";
    let mut parser = HeaderParser::new(input, 0, HeaderParserFlags::empty());
    let eoh = parser.by_ref().last().unwrap();
    assert!(eoh.eoh);
    let size = parser.size();
    assert_eq!(
        (size.physical_size, size.virtual_size, size.lines),
        (12, 14, 3)
    );
    assert_eq!(parser.pos(), 12);
}
