//! What the values of the standard cached fields hold, decoded from an
//! entry's bytes as `doveadm dump` shows them (doveadm-dump-index.c).
//!
//! The field type says how to read a value; two field names have their
//! own layout inside a variable-size value: `body.snippet` (a version
//! byte, then the text) and `mime.parts` (lib-mail's serialized message
//! part tree, decoded by `crate::mail`, not here).

use super::{FieldDef, FieldType};

/// A cached value, decoded by its field's type and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CachedValue<'a> {
    /// A fixed-size value of 4 or 8 bytes read as a host-order number
    /// (`date.received`, `size.virtual`, `date.sent`, ...).
    Number(u64),
    /// Another fixed-size value, or variable-size binary data.
    Bytes(&'a [u8]),
    /// Bitmask bytes (`flags`).
    Bitmask(&'a [u8]),
    /// A string, its terminating NUL removed.
    String(&'a [u8]),
    /// Header lines with their line numbers.
    Header(HeaderValue<'a>),
    /// `body.snippet`: the snippet format version, then the text.
    Snippet { version: u8, text: &'a [u8] },
    /// `mime.parts`: the serialized message part tree.
    MimeParts(&'a [u8]),
}

/// A `MAIL_CACHE_FIELD_HEADER` value: u32 line numbers ending with a 0,
/// then the header lines' text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderValue<'a> {
    /// Line numbers of the header's occurrences in the message.
    pub lines: Vec<u32>,
    /// The header text after the line numbers.
    pub text: &'a [u8],
    /// False when the line numbers ran to the end of the value without
    /// their terminating 0 (doveadm prints "BROKEN").
    pub terminated: bool,
}

impl<'a> CachedValue<'a> {
    /// Decode `data`, an entry of the field `def`.
    pub fn decode(def: &FieldDef, data: &'a [u8]) -> CachedValue<'a> {
        let by_name = !matches!(def.field_type, FieldType::String | FieldType::Header);
        match def.name.as_slice() {
            b"mime.parts" if by_name => return CachedValue::MimeParts(data),
            b"body.snippet" if by_name && !data.is_empty() => {
                let text = strip_nul(&data[1..]);
                return CachedValue::Snippet {
                    version: data[0],
                    text,
                };
            }
            _ => {}
        }
        match def.field_type {
            FieldType::FixedSize => {
                number(data).map_or(CachedValue::Bytes(data), CachedValue::Number)
            }
            FieldType::VariableSize => CachedValue::Bytes(data),
            FieldType::Bitmask => CachedValue::Bitmask(data),
            FieldType::String => CachedValue::String(strip_nul(data)),
            FieldType::Header => CachedValue::Header(HeaderValue::decode(data)),
        }
    }
}

/// A 4 or 8 byte value as a host-order number.
pub fn number(data: &[u8]) -> Option<u64> {
    match *data {
        [a, b, c, d] => Some(u32::from_ne_bytes([a, b, c, d]) as u64),
        [a, b, c, d, e, f, g, h] => Some(u64::from_ne_bytes([a, b, c, d, e, f, g, h])),
        _ => None,
    }
}

/// A cached string without its terminating NUL (strings are stored
/// with one; the NUL is not part of the value).
pub fn strip_nul(data: &[u8]) -> &[u8] {
    data.strip_suffix(&[0]).unwrap_or(data)
}

impl<'a> HeaderValue<'a> {
    pub fn decode(data: &'a [u8]) -> HeaderValue<'a> {
        let mut lines = Vec::new();
        let mut rest = data;
        loop {
            let Some((word, tail)) = rest.split_first_chunk::<4>() else {
                let terminated = rest.is_empty() && lines.is_empty();
                return HeaderValue {
                    lines,
                    text: &[],
                    terminated,
                };
            };
            rest = tail;
            match u32::from_ne_bytes(*word) {
                0 => break,
                line => lines.push(line),
            }
        }
        HeaderValue {
            lines,
            text: rest,
            terminated: true,
        }
    }

    /// The header is absent from the message (an empty value).
    pub fn is_absent(&self) -> bool {
        self.lines.is_empty() && self.text.is_empty() && self.terminated
    }
}
