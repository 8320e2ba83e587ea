//! `dovecot.index.cache`, cache format 1.1 (mail-cache-private.h): the
//! file header, the chain of field headers and the records, decoded
//! from bytes and encoded back to the same bytes, without I/O.
//!
//! Two ways in:
//!
//! - [`CacheFile`] decodes the whole file as a sequence of regions
//!   (header, field headers, records) and re-encodes it byte for byte.
//!   [`CacheFile::decode`] is strict: every block must decode.
//!   [`CacheFile::decode_lenient`] keeps damage between blocks (a torn
//!   append after a crash, which Dovecot reads around) as
//!   [`Region::Unparsed`].
//! - [`CacheView`] opens a file the way Dovecot does for lookups
//!   (mail-cache.c, mail-cache-fields.c, mail-cache-lookup.c): only the
//!   header, the field header in force and the records reached from an
//!   index's cache offsets are read, each checked as Dovecot checks it.
//!
//! [`CachedValue`] decodes a value the way `doveadm dump` shows it;
//! [`FieldHeader::new`] and [`FieldEntry::new`] lay out new blocks as
//! Dovecot writes them. Appending, purging and caching decisions
//! (mail-cache-transaction.c, mail-cache-purge.c, mail-cache-decisions.c)
//! are the cache engine's, in `crate::index::cache`.

mod fields;
mod header;
mod record;
mod value;
mod view;

use std::collections::{BTreeSet, HashSet};

pub use fields::{Decision, FieldDef, FieldHeader, FieldType, field_header_chain};
pub use header::{CacheHeader, MAJOR_VERSION, MINOR_VERSION, SIZEOF_UOFF_T};
pub use record::{
    CacheRecord, EntryIter, EntryRef, FieldEntry, RECORD_HEADER_SIZE, RecordChain, RecordRef,
};
pub use value::{CachedValue, HeaderValue, number, strip_nul};
pub use view::CacheView;

use super::{Bytes, FormatError, Result};

/// Decode an offset stored in Dovecot's "index offset" form
/// (`mail_index_offset_to_uint32()`): big-endian, 7 bits per byte with
/// the high bit of each byte set, in units of 4 bytes. A value without
/// the marker bits means "no offset" (0).
pub fn offset_to_uint32(stored: u32) -> u32 {
    let v = u32::from_be(stored);
    if v & 0x8080_8080 != 0x8080_8080 {
        return 0;
    }
    ((v & 0x7f)
        | ((v & 0x7f00) >> 8 << 7)
        | ((v & 0x7f_0000) >> 16 << 14)
        | ((v & 0x7f00_0000) >> 24 << 21))
        << 2
}

/// The stored form of `offset` (`mail_index_uint32_to_offset()`), or
/// `None` for an offset that form cannot hold (unaligned, >= 1 GiB).
pub fn uint32_to_offset(offset: u32) -> Option<u32> {
    if offset >= 0x4000_0000 || offset % 4 != 0 {
        return None;
    }
    let v = offset >> 2;
    let packed = 0x8080_8080
        | (v & 0x7f)
        | ((v & 0x3f80) >> 7 << 8)
        | ((v & 0x1f_c000) >> 14 << 16)
        | ((v & 0x0fe0_0000) >> 21 << 24);
    Some(packed.to_be())
}

/// A part of the file after the header, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Region {
    /// A field header of the chain (old ones included), at `offset`.
    FieldHeader { offset: u32, header: FieldHeader },
    /// A record, reachable from the index or not (expunged messages'
    /// records stay until the next purge).
    Record(CacheRecord),
    /// Bytes that are neither, kept as they are; only
    /// [`CacheFile::decode_lenient`] makes these.
    Unparsed { offset: u32, bytes: Vec<u8> },
}

/// A whole cache file: the header and every region after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheFile {
    pub header: CacheHeader,
    pub regions: Vec<Region>,
}

impl CacheFile {
    /// Decode a whole file strictly.
    ///
    /// Dovecot only ever appends whole blocks, so the file after the
    /// header is a sequence of field headers (at the offsets the chain
    /// names) and records; a record's `prev_offset` is 0 or an earlier
    /// record. Anything else is a [`FormatError`].
    pub fn decode(data: &[u8]) -> Result<CacheFile> {
        let file = Self::decode_with(data, false)?;
        check_prev_offsets(&file.regions)?;
        Ok(file)
    }

    /// Decode a file that may hold damage between its blocks, such as a
    /// torn append after a crash, which Dovecot reads around: whatever
    /// is not a field header of the chain or a whole record, up to the
    /// next field header or the end, becomes a [`Region::Unparsed`]. The
    /// header and the field header in force must still be valid.
    pub fn decode_lenient(data: &[u8]) -> Result<CacheFile> {
        Self::decode_with(data, true)
    }

    fn decode_with(data: &[u8], lenient: bool) -> Result<CacheFile> {
        let bytes = Bytes::new(data);
        let header = CacheHeader::decode(bytes)?;
        let chain = field_header_chain(bytes, &header)?;
        let latest = *chain.last().expect("the chain is never empty");
        let fields = FieldHeader::decode(bytes, latest)?.fields;

        let scanner = RegionScanner {
            bytes,
            anchors: chain.iter().copied().collect(),
            fields: &fields,
            lenient,
        };
        let regions = scanner.scan()?;
        Ok(CacheFile { header, regions })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.header.encode(&mut out);
        for region in &self.regions {
            match region {
                Region::FieldHeader { header, .. } => header.encode(&mut out),
                Region::Record(rec) => rec.encode(&mut out),
                Region::Unparsed { bytes, .. } => out.extend_from_slice(bytes),
            }
        }
        out
    }

    /// The field header in force: the last one of the chain.
    pub fn fields(&self) -> &[FieldDef] {
        let latest = self.field_headers().last();
        latest.map_or(&[], |h| &h.fields)
    }

    /// The field headers in file order.
    pub fn field_headers(&self) -> impl Iterator<Item = &FieldHeader> {
        self.regions.iter().filter_map(|r| match r {
            Region::FieldHeader { header, .. } => Some(header),
            _ => None,
        })
    }

    /// The records in file order.
    pub fn records(&self) -> impl Iterator<Item = &CacheRecord> {
        self.regions.iter().filter_map(|r| match r {
            Region::Record(rec) => Some(rec),
            _ => None,
        })
    }
}

/// Splits the file after the header into regions. The field headers of
/// the chain are the anchors: no other block may cross one.
struct RegionScanner<'a> {
    bytes: Bytes<'a>,
    anchors: BTreeSet<usize>,
    fields: &'a [FieldDef],
    lenient: bool,
}

impl RegionScanner<'_> {
    fn scan(mut self) -> Result<Vec<Region>> {
        let mut regions = Vec::new();
        let mut pos = CacheHeader::SIZE;
        while pos < self.bytes.len() {
            let offset = u32::try_from(pos).map_err(|_| FormatError::new(pos, "file too large"))?;
            let block = self.block(pos, offset);
            let region = match block {
                Ok(region) => region,
                Err(_) if self.lenient => self.unparsed(pos, offset),
                Err(e) => return Err(e),
            };
            pos += region_len(&region);
            regions.push(region);
        }
        Ok(regions)
    }

    /// The field header or record at `pos`, if it ends before the next
    /// anchor.
    fn block(&mut self, pos: usize, offset: u32) -> Result<Region> {
        let next_anchor = self.anchors.range(pos + 1..).next().copied();
        let region = if self.anchors.remove(&pos) {
            let header = FieldHeader::decode(self.bytes, pos)?;
            Region::FieldHeader { offset, header }
        } else {
            Region::Record(CacheRecord::decode(self.bytes, offset, self.fields)?)
        };
        match next_anchor {
            Some(anchor) if pos + region_len(&region) > anchor => {
                let reason = format!("block overlaps the field header at {anchor}");
                Err(FormatError::new(pos, reason))
            }
            _ => Ok(region),
        }
    }

    /// The bytes from `pos` to the next anchor or the end of the file.
    fn unparsed(&self, pos: usize, offset: u32) -> Region {
        let end = self.anchors.range(pos + 1..).next().copied();
        let bytes = &self.bytes.as_slice()[pos..end.unwrap_or(self.bytes.len())];
        Region::Unparsed {
            offset,
            bytes: bytes.to_vec(),
        }
    }
}

/// Bytes a region takes in the file.
fn region_len(region: &Region) -> usize {
    match region {
        Region::FieldHeader { header, .. } => header.encoded_len(),
        Region::Record(rec) => rec.size(),
        Region::Unparsed { bytes, .. } => bytes.len(),
    }
}

/// Each record's `prev_offset` must name an earlier record.
fn check_prev_offsets(regions: &[Region]) -> Result<()> {
    let mut seen = HashSet::new();
    for rec in regions.iter().filter_map(|r| match r {
        Region::Record(rec) => Some(rec),
        _ => None,
    }) {
        if rec.prev_offset != 0 && !seen.contains(&rec.prev_offset) {
            let reason = format!("prev_offset {} is not an earlier record", rec.prev_offset);
            return Err(FormatError::new(rec.offset, reason));
        }
        seen.insert(rec.offset);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_translate_like_dovecot() {
        // doveadm dump printed "32 (0x88808080 nontranslated)".
        assert_eq!(offset_to_uint32(0x8880_8080), 32);
        assert_eq!(uint32_to_offset(32), Some(0x8880_8080));
        assert_eq!(offset_to_uint32(0), 0);
        for v in [4, 388, 1220, 0x3fff_fffc] {
            assert_eq!(uint32_to_offset(v).map(offset_to_uint32), Some(v));
        }
        assert_eq!(uint32_to_offset(6), None);
    }
}
