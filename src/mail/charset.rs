//! Charset conversion to UTF-8, the part of lib-charset
//! (`charset-utf8.c`, `charset-iconv.c`) that lib-mail uses.
//!
//! Dovecot hands charset names to glibc's iconv; we map them onto
//! `encoding_rs`, whose WHATWG labels cover the charsets mail uses.
//! Where a WHATWG label means something else than iconv's charset of the
//! same name (`iso-8859-1`, `us-ascii` and `iso-8859-9` are Windows code
//! pages for WHATWG), we decode the way iconv does.
//!
//! Invalid input is replaced as Dovecot replaces it: one U+FFFD for each
//! run of undecodable bytes with no valid character between them, and
//! no second U+FFFD straight after one already in the output. A
//! truncated multibyte sequence at the very end is dropped, as iconv's
//! `EINVAL` makes Dovecot drop it.
//!
//! TODO(charset): UTF-7, UTF-32 and iconv's BOM-sniffing `UTF-16` are
//! not supported (WHATWG has no UTF-7 or UTF-32); such parts decode as
//! an unknown charset would. They matter for old Outlook mail only.

use encoding_rs::{DecoderResult, Encoding};

/// The replacement character Dovecot puts in place of invalid input.
pub const REPLACEMENT_CHAR: &str = "\u{FFFD}";

/// A charset name that neither Dovecot's UTF-8 aliases nor `encoding_rs`
/// know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown charset {0:?}")]
pub struct UnknownCharset(pub String);

/// How a conversion went (lib-charset's `enum charset_result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharsetResult {
    /// Every byte was converted.
    Ok,
    /// Some bytes were invalid and were replaced with U+FFFD.
    InvalidInput,
    /// The input ended inside a multibyte character; it was dropped.
    IncompleteInput,
}

/// A charset to convert from, as `charset_to_utf8_begin()` opens one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// UTF-8 and the names Dovecot treats as UTF-8 (`us-ascii`, `ascii`).
    Utf8,
    /// iconv's ISO-8859-1: every byte is the code point of its value.
    Latin1,
    /// iconv's ASCII under another name: bytes over 0x7f are invalid.
    Ascii,
    /// Anything `encoding_rs` decodes.
    Other(&'static Encoding),
}

/// Dovecot's `charset_is_utf8()`: the names it does not hand to iconv.
pub fn is_utf8(name: &str) -> bool {
    ["us-ascii", "ascii", "UTF-8", "UTF8"]
        .iter()
        .any(|alias| alias.eq_ignore_ascii_case(name))
}

impl Charset {
    /// Look a charset name up (`charset_to_utf8_begin()`).
    pub fn for_name(name: &str) -> Result<Charset, UnknownCharset> {
        if is_utf8(name) || name == "UTF-8//TEST" {
            return Ok(Charset::Utf8);
        }
        let lower = name.trim().to_ascii_lowercase();
        if let Some(charset) = iconv_special(&lower) {
            return Ok(charset);
        }
        let found = Encoding::for_label_no_replacement(lower.as_bytes())
            .or_else(|| Encoding::for_label_no_replacement(iconv_alias(&lower)?.as_bytes()));
        match found {
            Some(encoding) if encoding == encoding_rs::UTF_8 => Ok(Charset::Utf8),
            Some(encoding) => Ok(Charset::Other(encoding)),
            None => Err(UnknownCharset(name.to_string())),
        }
    }

    /// Convert `input` and append it to `out` (`charset_to_utf8()`).
    pub fn to_utf8(self, input: &[u8], out: &mut String) -> CharsetResult {
        match self {
            Charset::Utf8 => utf8_to_utf8(input, out),
            Charset::Latin1 => {
                out.extend(input.iter().map(|&b| char::from(b)));
                CharsetResult::Ok
            }
            Charset::Ascii => ascii_to_utf8(input, out),
            Charset::Other(encoding) => decode_with(encoding, input, out),
        }
    }
}

/// iconv names whose WHATWG label is a different charset.
fn iconv_special(lower: &str) -> Option<Charset> {
    let latin1 = [
        "iso-8859-1",
        "iso8859-1",
        "iso_8859-1",
        "iso_8859-1:1987",
        "latin1",
        "l1",
        "cp819",
        "ibm819",
        "iso-ir-100",
        "csisolatin1",
    ];
    let ascii = [
        "ansi_x3.4-1968",
        "ansi_x3.4-1986",
        "iso646-us",
        "iso_646.irv:1991",
        "us",
        "ibm367",
        "cp367",
        "csascii",
        "646",
    ];
    if latin1.contains(&lower) {
        Some(Charset::Latin1)
    } else if ascii.contains(&lower) {
        Some(Charset::Ascii)
    } else if lower == "iso-8859-9" || lower == "iso8859-9" || lower == "latin5" {
        // TODO(charset): iconv's ISO-8859-9 keeps C1 controls where
        // windows-1254 has letters; only bytes 0x80-0x9f differ.
        Encoding::for_label(b"windows-1254").map(Charset::Other)
    } else {
        None
    }
}

/// Spellings glibc accepts that WHATWG labels lack: `iso8859-N`,
/// `iso_8859-N`, `cpNNNN`.
fn iconv_alias(lower: &str) -> Option<String> {
    if let Some(part) = lower
        .strip_prefix("iso8859-")
        .or_else(|| lower.strip_prefix("iso_8859-"))
        .or_else(|| lower.strip_prefix("iso8859_"))
    {
        return Some(format!("iso-8859-{part}"));
    }
    if let Some(number) = lower
        .strip_prefix("cp")
        .or_else(|| lower.strip_prefix("cp-"))
    {
        return Some(format!("windows-{number}"));
    }
    None
}

/// UTF-8 input: copy it, replacing invalid sequences the way
/// `uni_utf8_get_valid_data()` does, and hold back a truncated final
/// character (`charset_utf8_to_utf8()`).
fn utf8_to_utf8(input: &[u8], out: &mut String) -> CharsetResult {
    let complete = complete_utf8_len(input);
    let valid = push_valid_utf8(&input[..complete], out);
    if !valid {
        CharsetResult::InvalidInput
    } else if complete < input.len() {
        CharsetResult::IncompleteInput
    } else {
        CharsetResult::Ok
    }
}

/// The length of `input` without a final character that is valid so far
/// but cut short (`uni_utf8_partial_strlen_n()`).
fn complete_utf8_len(input: &[u8]) -> usize {
    let len = input.len();
    for back in 1..=len.min(3) {
        let lead = input[len - back];
        if lead & 0xc0 == 0x80 {
            continue;
        }
        let needed = match lead {
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => 1,
        };
        return if needed > back { len - back } else { len };
    }
    len
}

/// Append `input` to `out`, each run of invalid UTF-8 replaced by one
/// U+FFFD (`uni_utf8_get_valid_data()`). Returns whether all was valid.
pub fn push_valid_utf8(input: &[u8], out: &mut String) -> bool {
    let mut rest = input;
    let mut all_valid = true;
    loop {
        match std::str::from_utf8(rest) {
            Ok(text) => {
                out.push_str(text);
                return all_valid;
            }
            Err(e) => {
                let (valid, bad) = rest.split_at(e.valid_up_to());
                push_str_checked(out, valid);
                push_replacement(out);
                all_valid = false;
                let skip = e.error_len().unwrap_or(bad.len()).max(1);
                rest = &bad[skip..];
            }
        }
    }
}

fn push_str_checked(out: &mut String, valid: &[u8]) {
    if let Ok(text) = std::str::from_utf8(valid) {
        out.push_str(text);
    }
}

/// Add U+FFFD unless the output already ends with one
/// (`output_add_replacement_char()`).
pub fn push_replacement(out: &mut String) {
    if !out.ends_with(REPLACEMENT_CHAR) {
        out.push_str(REPLACEMENT_CHAR);
    }
}

fn ascii_to_utf8(input: &[u8], out: &mut String) -> CharsetResult {
    let mut result = CharsetResult::Ok;
    let mut last_replacement = None;
    for &byte in input {
        if byte.is_ascii() {
            out.push(char::from(byte));
        } else if last_replacement != Some(out.len()) {
            out.push_str(REPLACEMENT_CHAR);
            last_replacement = Some(out.len());
            result = CharsetResult::InvalidInput;
        } else {
            result = CharsetResult::InvalidInput;
        }
    }
    result
}

/// Decode with `encoding_rs`, one U+FFFD per run of malformed bytes
/// (iconv's `EILSEQ` handling in Dovecot), dropping a truncated tail.
fn decode_with(encoding: &'static Encoding, input: &[u8], out: &mut String) -> CharsetResult {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut result = CharsetResult::Ok;
    let mut last_replacement = None;
    let mut rest = input;
    let max = decoder
        .max_utf8_buffer_length_without_replacement(input.len())
        .unwrap_or(input.len().saturating_mul(3).saturating_add(16));
    out.reserve(max.min(1 << 20));

    loop {
        let (status, read) = decoder.decode_to_string_without_replacement(rest, out, false);
        rest = &rest[read..];
        match status {
            DecoderResult::InputEmpty => break,
            DecoderResult::OutputFull => out.reserve(rest.len().saturating_mul(3) + 16),
            DecoderResult::Malformed(_, _) => {
                if last_replacement != Some(out.len()) {
                    out.push_str(REPLACEMENT_CHAR);
                    last_replacement = Some(out.len());
                }
                result = CharsetResult::InvalidInput;
            }
        }
    }

    // Whatever the decoder still holds is an unfinished character.
    let mut tail = String::with_capacity(16);
    let (status, _) = decoder.decode_to_string_without_replacement(b"", &mut tail, true);
    if status != DecoderResult::InputEmpty && result == CharsetResult::Ok {
        result = CharsetResult::IncompleteInput;
    }
    if matches!(status, DecoderResult::InputEmpty) {
        out.push_str(&tail);
    }
    result
}

/// Convert `input` in charset `name` to UTF-8, or report the charset as
/// unknown (`charset_to_utf8_str()`).
pub fn to_utf8_string(name: &str, input: &[u8]) -> Result<(String, CharsetResult), UnknownCharset> {
    let charset = Charset::for_name(name)?;
    let mut out = String::with_capacity(input.len());
    let result = charset.to_utf8(input, &mut out);
    Ok((out, result))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(name: &str, input: &[u8]) -> String {
        to_utf8_string(name, input).expect("known charset").0
    }

    #[test]
    fn utf8_aliases_are_dovecots() {
        // charset_is_utf8() in charset-utf8.c.
        assert!(is_utf8("US-ASCII") && is_utf8("utf8") && is_utf8("Utf-8"));
        assert!(!is_utf8("utf-16"));
        assert_eq!(Charset::for_name("us-ascii"), Ok(Charset::Utf8));
    }

    #[test]
    fn latin1_is_iconvs_not_windows_1252() {
        // ISO-8859-1 maps 0x80 to U+0080; windows-1252 would give U+20AC.
        assert_eq!(convert("ISO-8859-1", b"\xe9\x80"), "\u{e9}\u{80}");
        assert_eq!(convert("windows-1252", b"\x80"), "\u{20ac}");
    }

    #[test]
    fn common_mail_charsets() {
        assert_eq!(convert("iso-8859-15", b"\xa4"), "\u{20ac}");
        assert_eq!(convert("KOI8-R", b"\xf0\xd2\xc9"), "При");
        assert_eq!(convert("ISO-2022-JP", b"\x1b$B$3\x1b(B"), "こ");
        assert_eq!(convert("shift_jis", b"\x82\xa0"), "あ");
        assert_eq!(convert("iso8859-2", b"\xb1"), "ą");
        assert_eq!(convert("cp1251", b"\xc0"), "А");
    }

    #[test]
    fn unknown_charsets_are_errors() {
        assert_eq!(
            Charset::for_name("x-no-such"),
            Err(UnknownCharset("x-no-such".into()))
        );
    }

    #[test]
    fn invalid_utf8_runs_become_one_replacement() {
        let mut out = String::new();
        assert!(!push_valid_utf8(b"a\xff\xfeb\xc3", &mut out));
        assert_eq!(out, "a\u{fffd}b\u{fffd}");
        // No second U+FFFD straight after one already there.
        let mut out = String::from("x\u{fffd}");
        push_valid_utf8(b"\x80", &mut out);
        assert_eq!(out, "x\u{fffd}");
    }

    #[test]
    fn truncated_utf8_tail_is_held_back() {
        let mut out = String::new();
        let result = Charset::Utf8.to_utf8(b"ab\xe2\x82", &mut out);
        assert_eq!(
            (out.as_str(), result),
            ("ab", CharsetResult::IncompleteInput)
        );
    }

    #[test]
    fn malformed_multibyte_input_is_replaced_once_per_run() {
        let mut out = String::new();
        let result = Charset::for_name("shift_jis")
            .unwrap()
            .to_utf8(b"a\xff\xffb", &mut out);
        assert_eq!(result, CharsetResult::InvalidInput);
        assert_eq!(out, "a\u{fffd}b");
    }
}
