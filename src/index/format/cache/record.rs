//! Cache records (`struct mail_cache_record`) and the field entries in
//! them, read the way mail-cache-lookup.c reads them.
//!
//! A record is `prev_offset`, `size` (the whole record, header
//! included), then entries: the file field index (u32), a u32 size for
//! fields without a fixed size, the data, and zero padding to 4 bytes.
//! A message's newest record is pointed to by the index; older records
//! of the same message follow through `prev_offset`.

use super::FieldDef;
use crate::index::format::{Bytes, FormatError, PutNe, Result};

/// Size of `prev_offset` + `size`.
pub const RECORD_HEADER_SIZE: usize = 8;

/// One record located in a cache file, borrowing its bytes.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    /// File offset of the record.
    pub offset: u32,
    pub prev_offset: u32,
    pub size: u32,
    /// The whole record, header included.
    pub bytes: &'a [u8],
}

impl<'a> RecordRef<'a> {
    /// Locate the record at `offset` with Dovecot's checks
    /// (mail_cache_get_record()): aligned, inside the file, and at least
    /// a record header long.
    pub fn at(bytes: Bytes<'a>, offset: u32) -> Result<RecordRef<'a>> {
        let at = offset as usize;
        if at % 4 != 0 {
            return Err(FormatError::new(at, "invalid record offset"));
        }
        let outside = || FormatError::new(at, "record points outside file");
        let head = bytes
            .slice(at, RECORD_HEADER_SIZE, "record")
            .map_err(|_| outside())?;
        let head = Bytes::new(head);
        let prev_offset = head.u32(0, "prev_offset")?;
        let size = head.u32(4, "size")?;
        if (size as usize) < RECORD_HEADER_SIZE {
            return Err(FormatError::new(at + 4, "invalid record size"));
        }
        let record = bytes
            .slice(at, size as usize, "record")
            .map_err(|_| outside())?;
        Ok(RecordRef {
            offset,
            prev_offset,
            size,
            bytes: record,
        })
    }

    /// The record's field entries, decoded with the file's field table.
    pub fn entries<'f>(&self, fields: &'f [FieldDef]) -> EntryIter<'a, 'f> {
        EntryIter {
            rec: *self,
            fields,
            pos: RECORD_HEADER_SIZE,
            failed: false,
        }
    }
}

/// One field entry of a record, borrowing its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// The file field index (position in the latest field header).
    pub field: u32,
    /// Whether the entry carries its own size (variable-size fields).
    pub size_prefixed: bool,
    pub data: &'a [u8],
    /// The bytes after the data up to the 4-byte boundary.
    pub padding: &'a [u8],
    /// File offset of `data`.
    pub data_offset: u32,
}

/// Iterator over a record's entries; stops after the first error.
#[derive(Debug)]
pub struct EntryIter<'a, 'f> {
    rec: RecordRef<'a>,
    fields: &'f [FieldDef],
    pos: usize,
    failed: bool,
}

impl<'a> EntryIter<'a, '_> {
    fn fail(&mut self, at: usize, reason: String) -> Option<Result<EntryRef<'a>>> {
        self.failed = true;
        let offset = self.rec.offset as usize + at;
        Some(Err(FormatError::new(offset, reason)))
    }

    fn u32_at(&self, pos: usize) -> u32 {
        let b = &self.rec.bytes[pos..pos + 4];
        u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
    }
}

impl<'a> Iterator for EntryIter<'a, '_> {
    type Item = Result<EntryRef<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let rec_size = self.rec.bytes.len();
        if self.failed || self.pos == rec_size {
            return None;
        }
        if self.pos + 4 > rec_size {
            return self.fail(self.pos, "record has invalid size".into());
        }

        let field = self.u32_at(self.pos);
        let Some(def) = self.fields.get(field as usize) else {
            let count = self.fields.len();
            let reason = format!("field index too large ({field} >= {count})");
            return self.fail(self.pos, reason);
        };
        self.pos += 4;

        let (size, size_prefixed) = match def.fixed_size() {
            Some(size) => (size, false),
            None if self.pos + 4 <= rec_size => {
                self.pos += 4;
                (self.u32_at(self.pos - 4), true)
            }
            None => (u32::MAX, false),
        };
        if (rec_size - self.pos) < size as usize {
            let reason = "record continues outside its allocated size".into();
            return self.fail(self.pos, reason);
        }

        // Past the record's end, the next call reports the bad size.
        let start = self.pos;
        let end = start + size as usize;
        self.pos = end.next_multiple_of(4);
        let padded_end = self.pos.min(rec_size);
        Some(Ok(EntryRef {
            field,
            size_prefixed,
            data: &self.rec.bytes[start..end],
            padding: &self.rec.bytes[end..padded_end],
            data_offset: self.rec.offset + start as u32,
        }))
    }
}

/// Walks a message's records from its newest through `prev_offset`,
/// with Dovecot's loop detection (mail_cache_track_loops()): more record
/// bytes seen than the visited area of the file holds means a cycle.
#[derive(Debug)]
pub struct RecordChain<'a> {
    bytes: Bytes<'a>,
    next: u32,
    min_offset: u64,
    max_offset: u64,
    size_sum: u64,
    failed: bool,
}

impl<'a> RecordChain<'a> {
    pub fn new(bytes: Bytes<'a>, newest: u32) -> RecordChain<'a> {
        RecordChain {
            bytes,
            next: newest,
            min_offset: 0,
            max_offset: 0,
            size_sum: 0,
            failed: false,
        }
    }

    /// Returns true when the chain has visited more bytes than its area.
    fn track(&mut self, offset: u32, size: u32) -> bool {
        let (start, end) = (offset as u64, offset as u64 + size as u64);
        if self.size_sum == 0 {
            (self.min_offset, self.max_offset) = (start, end);
        } else {
            self.min_offset = self.min_offset.min(start);
            self.max_offset = self.max_offset.max(end);
        }
        self.size_sum += size as u64;
        self.size_sum > self.max_offset - self.min_offset
    }
}

impl<'a> Iterator for RecordChain<'a> {
    type Item = Result<RecordRef<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.next == 0 {
            return None;
        }
        let rec = RecordRef::at(self.bytes, self.next).and_then(|rec| {
            if self.track(rec.offset, rec.size) {
                let at = rec.offset;
                return Err(FormatError::new(at, "record list is circular"));
            }
            Ok(rec)
        });
        match &rec {
            Ok(r) => self.next = r.prev_offset,
            Err(_) => self.failed = true,
        }
        Some(rec)
    }
}

/// A record decoded into owned values, as [`super::CacheFile`] keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRecord {
    /// File offset of the record.
    pub offset: u32,
    pub prev_offset: u32,
    pub entries: Vec<FieldEntry>,
}

/// One field entry of a [`CacheRecord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldEntry {
    pub field: u32,
    /// Written with a u32 size before the data (variable-size fields).
    pub size_prefixed: bool,
    pub data: Vec<u8>,
    /// Bytes up to the 4-byte boundary, normally zeros.
    pub padding: Vec<u8>,
}

impl FieldEntry {
    /// An entry as Dovecot writes one (mail_cache_add()): `data`, then
    /// zeros to the next 4-byte boundary.
    pub fn new(field: u32, size_prefixed: bool, data: Vec<u8>) -> FieldEntry {
        let padding = vec![0; data.len().next_multiple_of(4) - data.len()];
        FieldEntry {
            field,
            size_prefixed,
            data,
            padding,
        }
    }
}

impl CacheRecord {
    /// Decode the record at `offset` strictly: every entry must decode
    /// and the entries must fill the record exactly.
    pub fn decode(bytes: Bytes<'_>, offset: u32, fields: &[FieldDef]) -> Result<CacheRecord> {
        let rec = RecordRef::at(bytes, offset)?;
        let entries = rec
            .entries(fields)
            .map(|e| {
                e.map(|e| FieldEntry {
                    field: e.field,
                    size_prefixed: e.size_prefixed,
                    data: e.data.to_vec(),
                    padding: e.padding.to_vec(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(CacheRecord {
            offset,
            prev_offset: rec.prev_offset,
            entries,
        })
    }

    /// The record's size field: everything it encodes to.
    pub fn size(&self) -> usize {
        let entries: usize = self
            .entries
            .iter()
            .map(|e| 4 + 4 * e.size_prefixed as usize + e.data.len() + e.padding.len())
            .sum();
        RECORD_HEADER_SIZE + entries
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.prev_offset);
        out.put_u32(self.size() as u32);
        for e in &self.entries {
            out.put_u32(e.field);
            if e.size_prefixed {
                out.put_u32(e.data.len() as u32);
            }
            out.extend_from_slice(&e.data);
            out.extend_from_slice(&e.padding);
        }
    }
}
