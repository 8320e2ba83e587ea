//! Field headers (`struct mail_cache_header_fields`): the table that
//! gives each cached field its file index, type, size, caching decision
//! and last-used time (mail-cache-fields.c).
//!
//! A file holds a chain of them: each new header is appended and the
//! previous one's `next_offset` pointed at it; the last one is in force.
//! Within a header the arrays follow each other unaligned (u32
//! last_used[], u32 sizes[], u8 types[], u8 decisions[], then the
//! NUL-terminated names), and the whole header is padded to 4 bytes.

use std::collections::HashSet;

use super::{CacheHeader, offset_to_uint32};
use crate::index::format::{Bytes, FormatError, PutNe, Result};

/// `enum mail_cache_field_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A fixed-size value; the size is in the field header only.
    FixedSize,
    /// Variable-size binary data.
    VariableSize,
    /// A variable-size string, usually NUL-terminated.
    String,
    /// A fixed-size bitmask; several entries are ORed together.
    Bitmask,
    /// Header lines: 0-terminated u32 line numbers, then the text.
    Header,
}

impl FieldType {
    /// The type for a stored byte. Dovecot's check lets 5
    /// (`MAIL_CACHE_FIELD_COUNT`) through and then aborts on it; here it
    /// is refused like the larger values.
    pub fn from_u8(v: u8) -> Option<FieldType> {
        Some(match v {
            0 => FieldType::FixedSize,
            1 => FieldType::VariableSize,
            2 => FieldType::String,
            3 => FieldType::Bitmask,
            4 => FieldType::Header,
            _ => return None,
        })
    }

    pub fn to_u8(self) -> u8 {
        self as u8
    }

    /// Whether the size comes from the field header (no size prefix in
    /// records).
    pub fn is_fixed_size(self) -> bool {
        matches!(self, FieldType::FixedSize | FieldType::Bitmask)
    }
}

/// `enum mail_cache_decision_type` as stored: no/temp/yes, plus the
/// "forced" bit, kept as the raw byte so re-encoding is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision(pub u8);

impl Decision {
    pub const NO: u8 = 0x00;
    pub const TEMP: u8 = 0x01;
    pub const YES: u8 = 0x02;
    pub const FORCED: u8 = 0x80;

    /// The decision without the forced bit.
    pub fn kind(self) -> u8 {
        self.0 & !Self::FORCED
    }

    pub fn is_forced(self) -> bool {
        self.0 & Self::FORCED != 0
    }

    pub fn is_valid(self) -> bool {
        self.kind() <= Self::YES
    }
}

/// One cached field as a field header describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    /// The field's name, e.g. `hdr.subject` (bytes, as stored).
    pub name: Vec<u8>,
    pub field_type: FieldType,
    /// The size as stored: the value size for fixed-size types,
    /// normally `u32::MAX` for the others.
    pub size: u32,
    pub decision: Decision,
    /// UNIX time the field was last read by a client.
    pub last_used: u32,
}

impl FieldDef {
    /// The size every value of this field has, or `None` when each
    /// record entry carries its own size, as Dovecot decides it.
    pub fn fixed_size(&self) -> Option<u32> {
        let fixed = self.field_type.is_fixed_size() && self.size != u32::MAX;
        fixed.then_some(self.size)
    }

    /// The name for printing (lossy for names that are not UTF-8).
    pub fn name_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.name)
    }
}

/// One `struct mail_cache_header_fields` with its arrays and names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldHeader {
    /// The next (newer) field header's offset, as stored.
    pub next_offset: u32,
    /// The header's size as stored, without the padding that follows.
    pub size: u32,
    pub fields: Vec<FieldDef>,
    /// Bytes after the last name up to the end of the padded header,
    /// normally the zero padding; kept so re-encoding is exact.
    pub trailing: Vec<u8>,
}

/// Size of the fixed part: next_offset, size, fields_count.
const FIXED_PART: usize = 12;
/// Bytes per field in the four arrays (two u32, two u8).
const PER_FIELD: usize = 10;

impl FieldHeader {
    /// A header holding `fields`, laid out as Dovecot writes one
    /// (mail_cache_header_fields_get()): `size` without the padding, then
    /// zeros to the next 4-byte boundary.
    pub fn new(next_offset: u32, fields: Vec<FieldDef>) -> FieldHeader {
        let names: usize = fields.iter().map(|f| f.name.len() + 1).sum();
        let size = FIXED_PART + PER_FIELD * fields.len() + names;
        FieldHeader {
            next_offset,
            size: size as u32,
            fields,
            trailing: vec![0; size.next_multiple_of(4) - size],
        }
    }

    /// The newer header's offset (0: this one is the latest).
    pub fn next(&self) -> u32 {
        offset_to_uint32(self.next_offset)
    }

    /// Decode and validate the field header at `offset`, with Dovecot's
    /// checks (mail_cache_header_fields_read()). The header's padding is
    /// taken up to the next 4-byte boundary or the end of the file.
    pub fn decode(bytes: Bytes<'_>, offset: usize) -> Result<FieldHeader> {
        let next_offset = bytes.u32(offset, "field header next_offset")?;
        let size = bytes.u32(offset + 4, "field header size")?;
        let count = bytes.u32(offset + 8, "field header fields_count")?;

        let body_len = (size as usize).max(FIXED_PART);
        let body = bytes
            .slice(offset, body_len, "field header")
            .map_err(|_| FormatError::new(offset, "header field size outside file"))?;
        let names_at = names_offset(count)
            .filter(|&n| n <= size as usize && count <= i32::MAX as u32 / 22)
            .ok_or_else(|| FormatError::new(offset, "invalid field header size"))?;

        let fields = decode_fields(body, offset, count as usize, names_at)?;
        let names_end = names_at + fields.iter().map(|f| f.name.len() + 1).sum::<usize>();
        let padded_end = (offset + body_len).next_multiple_of(4).min(bytes.len());
        let trailing = bytes.as_slice()[offset + names_end..padded_end].to_vec();
        Ok(FieldHeader {
            next_offset,
            size,
            fields,
            trailing,
        })
    }

    /// Bytes this header takes in the file, padding included.
    pub fn encoded_len(&self) -> usize {
        let names: usize = self.fields.iter().map(|f| f.name.len() + 1).sum();
        FIXED_PART + PER_FIELD * self.fields.len() + names + self.trailing.len()
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.next_offset);
        out.put_u32(self.size);
        out.put_u32(self.fields.len() as u32);
        for f in &self.fields {
            out.put_u32(f.last_used);
        }
        for f in &self.fields {
            out.put_u32(f.size);
        }
        for f in &self.fields {
            out.put_u8(f.field_type.to_u8());
        }
        for f in &self.fields {
            out.put_u8(f.decision.0);
        }
        for f in &self.fields {
            out.extend_from_slice(&f.name);
            out.put_u8(0);
        }
        out.extend_from_slice(&self.trailing);
    }
}

/// `MAIL_CACHE_FIELD_NAMES(count)`: where the names start.
fn names_offset(count: u32) -> Option<usize> {
    (count as usize)
        .checked_mul(PER_FIELD)?
        .checked_add(FIXED_PART)
}

/// The fields of a header whose bytes (`size` long, at least the arrays)
/// are `body`, found at file offset `base`.
fn decode_fields(body: &[u8], base: usize, count: usize, names_at: usize) -> Result<Vec<FieldDef>> {
    let b = Bytes::new(body);
    let mut fields = Vec::with_capacity(count);
    let mut seen = HashSet::with_capacity(count);
    let mut name_pos = names_at;
    for i in 0..count {
        let name = field_name(body, name_pos)
            .ok_or_else(|| FormatError::new(base + name_pos, "field header names corrupted"))?;
        let type_at = FIXED_PART + 8 * count + i;
        let raw_type = b.u8(type_at, "field type")?;
        let field_type = FieldType::from_u8(raw_type)
            .ok_or_else(|| FormatError::new(base + type_at, "field type corrupted"))?;
        let decision = Decision(b.u8(type_at + count, "field decision")?);
        if !decision.is_valid() {
            let at = base + type_at + count;
            return Err(FormatError::new(at, "field decision type corrupted"));
        }
        if !seen.insert(name.to_ascii_lowercase()) {
            let reason = format!(
                "Duplicated field in header: {}",
                String::from_utf8_lossy(name)
            );
            return Err(FormatError::new(base + name_pos, reason));
        }

        fields.push(FieldDef {
            name: name.to_vec(),
            field_type,
            size: b.u32(FIXED_PART + 4 * count + 4 * i, "field size")?,
            decision,
            last_used: b.u32(FIXED_PART + 4 * i, "field last_used")?,
        });
        name_pos += name.len() + 1;
    }
    Ok(fields)
}

/// The NUL-terminated, non-empty name at `pos`, if it ends inside `body`.
fn field_name(body: &[u8], pos: usize) -> Option<&[u8]> {
    let rest = body.get(pos..)?;
    let len = memchr_nul(rest)?;
    (len > 0).then(|| &rest[..len])
}

fn memchr_nul(s: &[u8]) -> Option<usize> {
    s.iter().position(|&c| c == 0)
}

/// The offsets of all field headers, oldest first, following
/// `next_offset` from the file header as Dovecot does
/// (mail_cache_header_fields_get_offset()).
///
/// Fails on a chain that points outside the file, loops, or (in files of
/// minor version 1 and later) goes backwards, and on a file without any
/// field header.
pub fn field_header_chain(bytes: Bytes<'_>, hdr: &CacheHeader) -> Result<Vec<usize>> {
    let mut chain: Vec<usize> = Vec::new();
    let mut next = hdr.first_field_header() as usize;
    let mut at = 28;
    let max_len = bytes.len() / FIXED_PART;
    while next != 0 {
        let offset = chain.last().copied().unwrap_or(0);
        if next == offset || chain.len() > max_len {
            return Err(FormatError::new(at, "next_offset in field header loops"));
        }
        if next < offset && hdr.minor_version != 0 {
            let reason = "next_offset in field header decreases";
            return Err(FormatError::new(at, reason));
        }
        bytes
            .slice(next, FIXED_PART, "field header")
            .map_err(|_| FormatError::new(at, "header field next_offset points outside file"))?;
        chain.push(next);
        at = next;
        next = offset_to_uint32(bytes.u32(next, "next_offset")?) as usize;
    }
    if chain.is_empty() {
        return Err(FormatError::new(28, "missing header fields"));
    }
    Ok(chain)
}
