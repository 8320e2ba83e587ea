//! A cache file opened for lookups the way Dovecot opens it
//! (mail_cache_open_and_verify()): the header verified, the field header
//! chain followed to the newest header, and that header's field table
//! read. Records are then reached only from the offsets the index gives,
//! so damage elsewhere in the file does not matter, as in Dovecot.

use super::{CacheHeader, EntryIter, FieldDef, FieldHeader, RecordChain, field_header_chain};
use crate::index::format::{Bytes, Result};

/// A verified cache file and its field table, borrowing the file bytes.
#[derive(Debug, Clone)]
pub struct CacheView<'a> {
    bytes: Bytes<'a>,
    pub header: CacheHeader,
    /// Offset of the field header in force.
    pub field_header_offset: usize,
    /// The field table in force, indexed by file field index.
    pub fields: Vec<FieldDef>,
}

impl<'a> CacheView<'a> {
    /// Verify the header and read the newest field header.
    pub fn open(data: &'a [u8]) -> Result<CacheView<'a>> {
        let bytes = Bytes::new(data);
        let header = CacheHeader::decode(bytes)?;
        let chain = field_header_chain(bytes, &header)?;
        let latest = *chain.last().expect("the chain is never empty");
        let fields = FieldHeader::decode(bytes, latest)?.fields;
        Ok(CacheView {
            bytes,
            header,
            field_header_offset: latest,
            fields,
        })
    }

    pub fn bytes(&self) -> Bytes<'a> {
        self.bytes
    }

    /// The records of one message, newest first, from the cache offset
    /// the index holds for it.
    pub fn records(&self, newest: u32) -> RecordChain<'a> {
        RecordChain::new(self.bytes, newest)
    }

    /// Shorthand for a record's entries with this file's field table.
    pub fn entries<'s>(&'s self, rec: &super::RecordRef<'a>) -> EntryIter<'a, 's> {
        rec.entries(&self.fields)
    }
}
