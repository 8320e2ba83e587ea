//! The base subject of RFC 5256 section 2.1, which SORT SUBJECT and
//! THREAD compare (lib-imap's `imap-base-subject.c`).
//!
//! The subject is decoded from RFC 2047, titlecased and decomposed the
//! way Dovecot's `uni_utf8_to_decomposed_titlecase()` does (with the
//! tables of its `unicodemap.c`, regenerated in [`super::unicode_map`]),
//! its whitespace packed, and then the reply/forward leaders and
//! trailers are stripped in the RFC's order.
//!
//! TODO(base-subject): our tables come from Unicode 14.0; Dovecot
//! 2.3.19's were generated from an older UnicodeData.txt, so characters
//! added since then may titlecase here and not in Dovecot.

use super::message_header_decode;
use super::unicode_map::{DECOMP_MULTI, DECOMP_MULTI_VALUES, DECOMP_SINGLE, TITLECASE};

/// A base subject and whether the subject marked a reply or forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseSubject {
    pub subject: String,
    pub is_reply_or_forward: bool,
}

/// The base subject of a raw `Subject:` value
/// (`imap_get_base_subject_cased()`).
pub fn base_subject(raw: &[u8]) -> BaseSubject {
    // (1) Decode encoded words, normalize case, pack whitespace.
    let decoded = message_header_decode::decode_utf8(raw);
    let mut text = pack_whitespace(&titlecase_decomposed(&decoded)).into_bytes();
    let mut start = 0;
    let mut marked = false;

    loop {
        // (2) Trailers, then (3)-(5) leaders and blobs until none remain.
        remove_trailers(&mut text, start, &mut marked);
        loop {
            let leader = remove_leader(&text, &mut start, &mut marked);
            let blob = remove_blob_when_nonempty(&text, &mut start);
            if !leader && !blob {
                break;
            }
        }
        // (6) A "[fwd: ...]" wrapper starts it all over.
        if !remove_fwd_wrapper(&mut text, &mut start, &mut marked) {
            break;
        }
    }

    // (7) What is left is the base subject.
    let base = text.get(start..).unwrap_or_default();
    BaseSubject {
        subject: String::from_utf8_lossy(base).into_owned(),
        is_reply_or_forward: marked,
    }
}

/// Titlecase each character and decompose it one level
/// (`uni_utf8_to_decomposed_titlecase()`).
pub fn titlecase_decomposed(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let title = lookup(&TITLECASE, u32::from(c)).unwrap_or(u32::from(c));
        if (HANGUL_FIRST..=HANGUL_LAST).contains(&title) {
            push_hangul(title, &mut out);
        } else if let Some(single) = lookup(&DECOMP_SINGLE, title) {
            push_code(single, &mut out);
        } else if let Some(parts) = multi_decomposition(title) {
            parts.iter().for_each(|&part| push_code(part, &mut out));
        } else {
            push_code(title, &mut out);
        }
    }
    out
}

const HANGUL_FIRST: u32 = 0xac00;
const HANGUL_LAST: u32 = 0xd7a3;

fn lookup(table: &[(u32, u32)], key: u32) -> Option<u32> {
    let i = table.binary_search_by_key(&key, |&(k, _)| k).ok()?;
    Some(table[i].1)
}

fn multi_decomposition(key: u32) -> Option<&'static [u32]> {
    let i = DECOMP_MULTI
        .binary_search_by_key(&key, |&(k, _, _)| k)
        .ok()?;
    let (_, start, len) = DECOMP_MULTI[i];
    DECOMP_MULTI_VALUES.get(usize::from(start)..usize::from(start) + usize::from(len))
}

fn push_code(code: u32, out: &mut String) {
    out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
}

/// A Hangul syllable as its leading consonant, vowel and optional
/// trailing consonant jamo (Unicode's algorithm, as Dovecot has it).
fn push_hangul(syllable: u32, out: &mut String) {
    const T_COUNT: u32 = 28;
    const N_COUNT: u32 = 21 * T_COUNT;
    let index = syllable - HANGUL_FIRST;
    push_code(0x1100 + index / N_COUNT, out);
    push_code(0x1161 + (index % N_COUNT) / T_COUNT, out);
    if index % T_COUNT != 0 {
        push_code(0x11a7 + index % T_COUNT, out);
    }
}

/// Turn every tab, CR and LF into a space and squeeze runs of them.
///
/// Like Dovecot, the squeezing starts at the first tab, CR, LF or double
/// space, so a single space before a line break survives next to the
/// space the break becomes ("a \r\n b" gives "a  b").
fn pack_whitespace(text: &str) -> String {
    let bytes = text.as_bytes();
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let first = (0..bytes.len()).find(|&i| match bytes[i] {
        b'\t' | b'\r' | b'\n' => true,
        b' ' => matches!(bytes.get(i + 1), Some(b' ' | b'\t')),
        _ => false,
    });
    let Some(first) = first else {
        return text.to_string();
    };

    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..first]);
    let mut last_space = false;
    for c in text[first..].chars() {
        let space = c.is_ascii() && is_space(c as u8);
        if !space {
            out.push(c);
        } else if !last_space {
            out.push(' ');
        }
        last_space = space;
    }
    out
}

/// Strip trailing spaces and "(FWD)" markers (subj-trailer).
fn remove_trailers(text: &mut Vec<u8>, start: usize, marked: &mut bool) {
    let mut end = text.len();
    while end > start {
        if text[end - 1] == b' ' {
            end -= 1;
        } else if end >= 5 && &text[end - 5..end] == b"(FWD)" {
            *marked = true;
            end -= 5;
        } else {
            break;
        }
    }
    text.truncate(end);
}

/// Skip a subj-blob ("[...]" and one space) at the front of `data`.
fn skip_blob(data: &[u8]) -> Option<&[u8]> {
    let rest = data.strip_prefix(b"[")?;
    let close = rest.iter().position(|&b| b == b'[' || b == b']')?;
    if rest[close] != b']' {
        return None;
    }
    let rest = &rest[close + 1..];
    Some(rest.strip_prefix(b" ").unwrap_or(rest))
}

/// Strip one subj-leader: a space, or blobs followed by "Re", "Fw" or
/// "Fwd", an optional blob and a colon.
fn remove_leader(text: &[u8], start: &mut usize, marked: &mut bool) -> bool {
    let mut removed = false;
    let mut data = text.get(*start..).unwrap_or_default();
    if data.first() == Some(&b' ') {
        data = &data[1..];
        *start += 1;
        removed = true;
    }
    let before = data.len();

    while data.first() == Some(&b'[') {
        match skip_blob(data) {
            Some(rest) => data = rest,
            None => return removed,
        }
    }
    let Some(rest) = ["RE", "FWD", "FW"]
        .iter()
        .find_map(|word| data.strip_prefix(word.as_bytes()))
    else {
        return removed;
    };
    data = rest.strip_prefix(b" ").unwrap_or(rest);
    if data.first() == Some(&b'[') {
        match skip_blob(data) {
            Some(rest) => data = rest,
            None => return removed,
        }
    }
    let Some(rest) = data.strip_prefix(b":") else {
        return removed;
    };

    *start += before - rest.len();
    *marked = true;
    true
}

/// Strip a leading subj-blob if something is left after it.
fn remove_blob_when_nonempty(text: &[u8], start: &mut usize) -> bool {
    let data = text.get(*start..).unwrap_or_default();
    match skip_blob(data) {
        Some(rest) if !rest.is_empty() => {
            *start += data.len() - rest.len();
            true
        }
        _ => false,
    }
}

/// Unwrap "[FWD: ... ]" (subj-fwd-hdr and subj-fwd-trl).
fn remove_fwd_wrapper(text: &mut Vec<u8>, start: &mut usize, marked: &mut bool) -> bool {
    let data = text.get(*start..).unwrap_or_default();
    if !data.starts_with(b"[FWD:") || text.last() != Some(&b']') {
        return false;
    }
    *marked = true;
    text.pop();
    *start += 5;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(raw: &str) -> (String, bool) {
        let b = base_subject(raw.as_bytes());
        (b.subject, b.is_reply_or_forward)
    }

    #[test]
    fn rfc5256_leaders_and_trailers() {
        // RFC 5256 section 2.1 steps (2) to (6).
        assert_eq!(base("Re: hello"), ("HELLO".into(), true));
        assert_eq!(base("Fwd: Re: hello"), ("HELLO".into(), true));
        assert_eq!(base("RE [list]: hello (fwd)"), ("HELLO".into(), true));
        assert_eq!(base("[list] Re: hello"), ("HELLO".into(), true));
        assert_eq!(base("[fwd: hello]"), ("HELLO".into(), true));
        assert_eq!(base("[Fwd: Re: [list] hello]"), ("HELLO".into(), true));
        assert_eq!(base("hello"), ("HELLO".into(), false));
    }

    #[test]
    fn a_blob_alone_is_kept() {
        // Step (4): removing the blob must leave a non-empty subject.
        assert_eq!(base("[list]"), ("[LIST]".into(), false));
        assert_eq!(base("[a] [b]"), ("[B]".into(), false));
    }

    #[test]
    fn whitespace_is_packed() {
        assert_eq!(base("a\t\tb   c"), ("A B C".into(), false));
        assert_eq!(base("  Re:  x  "), ("X".into(), true));
    }

    #[test]
    fn encoded_words_are_decoded_and_decomposed() {
        // é titlecases to É, which decomposes to E + U+0301.
        assert_eq!(
            base("Re: =?iso-8859-1?q?caf=e9?="),
            ("CAFE\u{301}".into(), true)
        );
    }

    #[test]
    fn empty_and_odd_subjects() {
        assert_eq!(base(""), ("".into(), false));
        assert_eq!(base("(fwd)"), ("".into(), true));
        assert_eq!(base("re:"), ("".into(), true));
        assert_eq!(base("[]"), ("[]".into(), false));
    }
}
