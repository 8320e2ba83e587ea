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
//! Names glibc's iconv does not know are unknown here too, even where
//! WHATWG has a label for them (`ks_c_5601-1987`, `x-mac-roman`, ...):
//! Dovecot shows such text as if it were UTF-8, and so do we. UTF-7,
//! which WHATWG lacks, is decoded here.
//!
//! TODO(charset): iconv charsets WHATWG lacks besides UTF-7 (UTF-32,
//! UCS-2, IBM and other legacy code pages), glibc-only spellings
//! (`eucjp`, `utf16le`) and `//TRANSLIT` suffixes decode as unknown
//! charsets here while Dovecot converts them; they are rare in mail.

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
    /// An ISO 8859 charset that WHATWG replaced with a Windows code page:
    /// the code page's bytes except 0x80-0x9f, which are C1 controls, or
    /// invalid when `c1_invalid` (iconv's TIS-620).
    SingleByte {
        encoding: &'static Encoding,
        c1_invalid: bool,
    },
    /// UTF-7 (RFC 2152).
    Utf7,
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
        if GLIBC_UNKNOWN.contains(&lower.as_str()) {
            return Err(UnknownCharset(name.to_string()));
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
            Charset::SingleByte {
                encoding,
                c1_invalid,
            } => single_byte_to_utf8(encoding, c1_invalid, input, out),
            Charset::Utf7 => utf7_to_utf8(input, out),
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
    let single_byte = |label: &[u8], c1_invalid| {
        Encoding::for_label(label).map(|encoding| Charset::SingleByte {
            encoding,
            c1_invalid,
        })
    };
    match lower {
        _ if latin1.contains(&lower) => Some(Charset::Latin1),
        _ if ascii.contains(&lower) => Some(Charset::Ascii),
        "iso-8859-9" | "iso8859-9" | "iso_8859-9" | "latin5" | "l5" => {
            single_byte(b"windows-1254", false)
        }
        "iso-8859-11" | "iso8859-11" | "iso_8859-11" => single_byte(b"windows-874", false),
        "tis-620" | "tis620" => single_byte(b"windows-874", true),
        "utf-7" | "utf7" | "unicode-1-1-utf-7" => Some(Charset::Utf7),
        _ => None,
    }
}

/// WHATWG labels glibc's iconv rejects (checked with `iconv -f LABEL`
/// for every label `encoding_rs` knows).
const GLIBC_UNKNOWN: [&str; 56] = [
    "l9",
    "koi",
    "x-gbk",
    "csbig5",
    "visual",
    "korean",
    "koi8_r",
    "x-sjis",
    "ksc5601",
    "gb_2312",
    "dos-874",
    "chinese",
    "logical",
    "x-cp1250",
    "ksc_5601",
    "x-cp1251",
    "x-cp1252",
    "x-cp1253",
    "x-cp1254",
    "x-cp1255",
    "x-x-big5",
    "x-cp1256",
    "x-cp1257",
    "x-cp1258",
    "x-euc-jp",
    "iso-ir-58",
    "gb_2312-80",
    "hz-gb-2312",
    "iso-ir-149",
    "windows-949",
    "csisolatin9",
    "csiso88596e",
    "csiso88598e",
    "unicodefffe",
    "unicodefeff",
    "csiso88596i",
    "csiso88598i",
    "x-mac-roman",
    "replacement",
    "iso-8859-6-e",
    "iso-8859-8-e",
    "iso-8859-6-i",
    "iso-8859-8-i",
    "sun_eu_greek",
    "csksc56011987",
    "unicode20utf8",
    "unicode11utf8",
    "ks_c_5601-1987",
    "ks_c_5601-1989",
    "x-mac-cyrillic",
    "x-user-defined",
    "csiso58gb231280",
    "iso-10646-ucs-2",
    "x-unicode20utf8",
    "x-mac-ukrainian",
    "unicode-1-1-utf-8",
];

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
    let mut replacer = Replacer::default();
    for &byte in input {
        if byte.is_ascii() {
            out.push(char::from(byte));
        } else {
            replacer.replace(out);
        }
    }
    replacer.result()
}

/// Appends U+FFFD for invalid input, once per run of invalid bytes
/// (iconv's `EILSEQ` handling in Dovecot).
#[derive(Default)]
struct Replacer {
    last: Option<usize>,
    invalid: bool,
}

impl Replacer {
    fn replace(&mut self, out: &mut String) {
        if self.last != Some(out.len()) {
            out.push_str(REPLACEMENT_CHAR);
            self.last = Some(out.len());
        }
        self.invalid = true;
    }

    fn result(&self) -> CharsetResult {
        if self.invalid {
            CharsetResult::InvalidInput
        } else {
            CharsetResult::Ok
        }
    }
}

fn single_byte_to_utf8(
    encoding: &'static Encoding,
    c1_invalid: bool,
    input: &[u8],
    out: &mut String,
) -> CharsetResult {
    let mut high = ['\0'; 128];
    let mut valid = [false; 128];
    for byte in 0x80..=0xffu8 {
        let i = usize::from(byte - 0x80);
        let one = [byte];
        let decoded = encoding.decode_without_bom_handling_and_without_replacement(&one);
        if let Some(c) = decoded.and_then(|text| text.chars().next()) {
            (high[i], valid[i]) = (c, true);
        }
        if (0x80..0xa0).contains(&byte) {
            (high[i], valid[i]) = (char::from(byte), !c1_invalid);
        }
    }

    let mut replacer = Replacer::default();
    for &byte in input {
        match byte {
            0..=0x7f => out.push(char::from(byte)),
            _ if valid[usize::from(byte - 0x80)] => out.push(high[usize::from(byte - 0x80)]),
            _ => replacer.replace(out),
        }
    }
    replacer.result()
}

/// UTF-7 (RFC 2152): `+` starts modified base64 of UTF-16, ended by any
/// other byte (a `-` is absorbed); `+-` is a plus sign.
fn utf7_to_utf8(input: &[u8], out: &mut String) -> CharsetResult {
    let mut replacer = Replacer::default();
    let mut units = Vec::new();
    let mut i = 0;
    while i < input.len() {
        let byte = input[i];
        i += 1;
        if byte >= 0x80 {
            replacer.replace(out);
        } else if byte != b'+' {
            out.push(char::from(byte));
        } else if input.get(i) == Some(&b'-') {
            out.push('+');
            i += 1;
        } else {
            units.clear();
            i += utf7_base64(&input[i..], &mut units);
            push_utf16(&units, out, &mut replacer);
            if input.get(i) == Some(&b'-') {
                i += 1;
            }
        }
    }
    replacer.result()
}

/// Decode base64 up to the first byte outside its alphabet into 16-bit
/// units; returns how many bytes were read.
fn utf7_base64(input: &[u8], units: &mut Vec<u16>) -> usize {
    let mut bits = 0u32;
    let mut count = 0;
    let mut read = 0;
    for &byte in input {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => break,
        };
        read += 1;
        bits = bits << 6 | u32::from(value);
        count += 6;
        if count >= 16 {
            count -= 16;
            units.push((bits >> count) as u16);
            bits &= (1 << count) - 1;
        }
    }
    read
}

fn push_utf16(units: &[u16], out: &mut String, replacer: &mut Replacer) {
    for decoded in char::decode_utf16(units.iter().copied()) {
        match decoded {
            Ok(c) => out.push(c),
            Err(_) => replacer.replace(out),
        }
    }
}

/// Decode with `encoding_rs`, one U+FFFD per run of malformed bytes
/// (iconv's `EILSEQ` handling in Dovecot), dropping a truncated tail.
fn decode_with(encoding: &'static Encoding, input: &[u8], out: &mut String) -> CharsetResult {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut replacer = Replacer::default();
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
            DecoderResult::Malformed(_, _) => replacer.replace(out),
        }
    }

    // Whatever the decoder still holds is an unfinished character.
    let mut tail = String::with_capacity(16);
    let (status, _) = decoder.decode_to_string_without_replacement(b"", &mut tail, true);
    match status {
        DecoderResult::InputEmpty => {
            out.push_str(&tail);
            replacer.result()
        }
        _ if replacer.invalid => CharsetResult::InvalidInput,
        _ => CharsetResult::IncompleteInput,
    }
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

    #[test]
    fn iconv_charsets_whatwg_relabels() {
        // As the real Dovecot decodes them (corpus edge-subject-45..51).
        assert_eq!(convert("iso-8859-9", b"\x80\xdd"), "\u{80}\u{130}");
        assert_eq!(convert("iso-8859-11", b"\x80\xa1"), "\u{80}\u{e01}");
        assert_eq!(convert("tis-620", b"\xa1\x80"), "\u{e01}\u{fffd}");
        assert_eq!(convert("utf-7", b"+AOk-t+AOk-"), "\u{e9}t\u{e9}");
        assert!(Charset::for_name("ks_c_5601-1987").is_err());
    }

    #[test]
    fn utf7_rfc2152_examples() {
        // RFC 2152 section "Examples".
        assert_eq!(convert("UTF-7", b"A+ImIDkQ."), "A\u{2262}\u{391}.");
        assert_eq!(convert("UTF-7", b"Hi Mom -+Jjo--!"), "Hi Mom -\u{263a}-!");
        assert_eq!(convert("UTF-7", b"+ZeVnLIqe-"), "\u{65e5}\u{672c}\u{8a9e}");
        assert_eq!(convert("UTF-7", b"1 +- 1"), "1 + 1");
    }
}
