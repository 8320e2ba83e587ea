//! The in-memory index map: what a process knows of an index after
//! reading `dovecot.index` and replaying the transaction log on top
//! (mail-index-map.c, mail-index-map-hdr.c, mail-index-map-read.c).
//!
//! [`IndexMap`] holds the base header, the extensions with their header
//! data, the records and the keyword names, the way Dovecot's `struct
//! mail_index_map` does (`hdr`, `extensions`, the record map and
//! `keyword_idx_map`). [`ExtRegistry`] is the index-wide list of
//! extension ids (`mail_index.extensions`), which numbers extensions
//! across maps. Applying log records lives in [`sync`], the extension
//! and keyword changes in [`ext`], and opening the files of an index in
//! [`open`].
//!
//! The header and the extension list are plain data so that the C ABI
//! can later present them as Dovecot's `hdr`, `extensions` and
//! `keyword_idx_map` (header offsets follow from the extensions' order
//! and [`ExtHeader::encoded_len`]).
//!
//! Not done yet: memory-mapped reading, sharing records between maps,
//! and fsck.

pub mod ext;
pub mod open;
pub mod sync;

use crate::index::format::index::{
    self as fmt, ExtHeader, IndexFile, IndexHeader, Records, align8, mail_flags,
};

pub use open::{IndexFiles, OpenError, OpenedIndex, open_index};

/// Why a decoded `dovecot.index` cannot be used as a map, in Dovecot's
/// words (mail_index_map_check_header, mail_index_map_parse_keywords).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// Dovecot ignores the file and goes on with an empty index.
    #[error("{0}")]
    Unusable(String),
    /// Dovecot would fsck the index first, which a read-only open
    /// cannot do: the open fails.
    #[error("{0}")]
    NeedsFsck(String),
}

/// One registered extension: its id is its position in
/// [`ExtRegistry::exts`] (`struct mail_index_registered_ext`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredExt {
    pub name: String,
    pub hdr_size: u32,
    pub record_size: u16,
    pub record_align: u16,
}

/// The extensions an index knows, in id order. The sizes are the ones
/// given when the name was first registered, never updated later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtRegistry {
    pub exts: Vec<RegisteredExt>,
}

/// `MAIL_INDEX_MODSEQ_EXT_NAME`.
pub const EXT_MODSEQ: &str = "modseq";
/// The extension mail-cache.c registers for record cache offsets.
pub const EXT_CACHE: &str = "cache";

impl Default for ExtRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl ExtRegistry {
    /// The registrations every index starts with (mail_index_alloc):
    /// keywords, then modseq.
    pub fn new() -> Self {
        let mut registry = ExtRegistry { exts: Vec::new() };
        registry.register(fmt::EXT_KEYWORDS, 128, 2, 1);
        registry.register(EXT_MODSEQ, 16, 8, 8);
        registry
    }

    /// The id of `name`, registering it with these defaults if new.
    pub fn register(&mut self, name: &str, hdr_size: u32, record_size: u16, align: u16) -> usize {
        if let Some(id) = self.lookup(name) {
            return id;
        }
        self.exts.push(RegisteredExt {
            name: name.to_string(),
            hdr_size,
            record_size,
            record_align: align,
        });
        self.exts.len() - 1
    }

    pub fn lookup(&self, name: &str) -> Option<usize> {
        self.exts.iter().position(|e| e.name == name)
    }
}

/// `struct mail_index_map`: header, extensions, records, keywords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexMap {
    pub hdr: IndexHeader,
    /// Extensions in header order; their position is the map's ext id.
    pub extensions: Vec<ExtHeader>,
    /// `messages_count` records of `hdr.record_size` bytes.
    pub records: Records,
    /// The `keywords` extension's names; position is the bit number in
    /// each record's keyword bitmask.
    pub keywords: Vec<String>,
}

impl IndexMap {
    /// An empty index (mail_index_map_alloc).
    pub fn new(indexid: u32) -> Self {
        let hdr = IndexHeader::new(indexid);
        IndexMap {
            records: Records::new(hdr.record_size as usize),
            hdr,
            extensions: Vec::new(),
            keywords: Vec::new(),
        }
    }

    /// The map of a decoded `dovecot.index`: register its extensions,
    /// read its keywords, check its header and upgrade old minor
    /// versions the way Dovecot does when it maps the file.
    pub fn from_file(file: IndexFile, registry: &mut ExtRegistry) -> Result<Self, MapError> {
        let mut map = IndexMap {
            hdr: file.hdr,
            extensions: file.extensions,
            records: file.records,
            keywords: Vec::new(),
        };
        map.hdr.unused_old_recent_messages_count = 0;
        map.upgrade_minor_version();
        map.check_header()?;

        for ext in &map.extensions {
            registry.register(&ext.name, ext.hdr_size, ext.record_size, ext.record_align);
        }
        if let Some(idx) = map.ext_idx(fmt::EXT_KEYWORDS) {
            let header = map.extensions[idx].header();
            let keywords = fmt::decode_keywords(header);
            map.keywords = keywords.map_err(|e| MapError::NeedsFsck(e.reason))?;
        }
        Ok(map)
    }

    /// Back to a `dovecot.index` file with the current header size.
    pub fn to_file(&self) -> IndexFile {
        let mut hdr = self.hdr.clone();
        hdr.header_size = self.header_size();
        IndexFile {
            hdr,
            extensions: self.extensions.clone(),
            records: self.records.clone(),
            trailing: Vec::new(),
        }
    }

    /// The header size the extensions add up to.
    pub fn header_size(&self) -> u32 {
        let base = usize::from(self.hdr.base_header_size);
        let start = if self.extensions.is_empty() {
            base
        } else {
            align8(base)
        };
        let exts: usize = self.extensions.iter().map(|e| e.encoded_len()).sum();
        (start + exts) as u32
    }

    /// Position of the extension called `name`.
    pub fn ext_idx(&self, name: &str) -> Option<usize> {
        self.extensions.iter().position(|e| e.name == name)
    }

    /// The records of messages with UIDs in `uid1..=uid2`, as 0-based
    /// indexes (mail_index_map_lookup_seq_range), or `None`.
    pub fn lookup_range(&self, uid1: u32, uid2: u32) -> Option<(usize, usize)> {
        let uid_at = |i: usize| self.records.uid(i).unwrap_or(u32::MAX);
        let (lo, hi) = self.uid_bounds(uid1);
        let first = partition_point(lo, hi, |i| uid_at(i) < uid1);
        let (lo, hi) = self.uid_bounds(uid2.saturating_add(1));
        let end = match uid2 {
            u32::MAX => self.records.len(),
            _ => partition_point(lo.max(first), hi, |i| uid_at(i) <= uid2),
        };
        (first < end).then(|| (first, end - 1))
    }

    /// Where the first record with a UID of at least `uid` can be: UIDs
    /// grow by at least one per record, so no right of `uid - 1`, and
    /// no left of what the UIDs up to the last record leave room for.
    /// With few expunges this leaves a handful of records to search
    /// (Dovecot bounds its search on the right the same way).
    fn uid_bounds(&self, uid: u32) -> (usize, usize) {
        let len = self.records.len();
        let Some(last_uid) = len.checked_sub(1).and_then(|i| self.records.uid(i)) else {
            return (0, len);
        };
        if uid > last_uid {
            return (len, len);
        }
        let gap = (last_uid - uid) as usize;
        ((len - 1).saturating_sub(gap), len.min(uid as usize))
    }

    /// The record index of `uid`.
    pub fn lookup_uid(&self, uid: u32) -> Option<usize> {
        self.lookup_range(uid, uid).map(|(i, _)| i)
    }

    /// The bytes of extension `ext_idx` in record `idx`.
    pub fn ext_record(&self, idx: usize, ext_idx: usize) -> Option<&[u8]> {
        let range = self.extensions.get(ext_idx)?.record_range()?;
        self.records.get(idx)?.get(range)
    }

    /// mail_index_map_check_header's upgrades of minor versions 0 to 2.
    fn upgrade_minor_version(&mut self) {
        let minor = self.hdr.minor_version;
        if minor == 0 && self.hdr.first_recent_uid == 0 {
            self.hdr.first_recent_uid = 1;
        }
        if minor <= 1 {
            for idx in 0..self.records.len() {
                if let Some(rec) = self.records.get_mut(idx) {
                    rec[4] &= !mail_flags::RECENT;
                }
            }
            self.hdr.minor_version = fmt::MINOR_VERSION;
        }
        if minor <= 2 {
            self.hdr.unused_old_sync_size_part1 = 0;
            self.hdr.log2_rotate_time = 0;
            self.hdr.last_temp_file_scan = 0;
        }
    }

    /// mail_index_map_check_header's consistency checks; the messages
    /// are Dovecot's.
    pub fn check_header(&self) -> Result<(), MapError> {
        let h = &self.hdr;
        let fail = |msg: String| Err(MapError::NeedsFsck(msg));
        if h.uid_validity == 0 && h.next_uid != 1 {
            return fail(format!("uidvalidity=0, but next_uid={}", h.next_uid));
        }
        if h.next_uid == 0 {
            return fail("next_uid=0".into());
        }
        if h.messages_count as usize > self.records.len() {
            return fail(format!(
                "messages_count is higher in header than record map ({} > {})",
                h.messages_count,
                self.records.len()
            ));
        }
        let counts = [
            ("seen_messages_count", h.seen_messages_count),
            ("deleted_messages_count", h.deleted_messages_count),
        ];
        for (name, n) in counts {
            if n > h.messages_count {
                return fail(format!("{name} {n} > messages_count {}", h.messages_count));
            }
        }
        self.check_uid_fields()
    }

    fn check_uid_fields(&self) -> Result<(), MapError> {
        let h = &self.hdr;
        if h.first_recent_uid == 0 {
            return Err(MapError::NeedsFsck("first_recent_uid=0".into()));
        }
        let below_next = [
            ("first_recent_uid", h.first_recent_uid),
            ("first_unseen_uid_lowwater", h.first_unseen_uid_lowwater),
            ("first_deleted_uid_lowwater", h.first_deleted_uid_lowwater),
        ];
        for (name, uid) in below_next {
            if uid > h.next_uid {
                let msg = format!("{name} {uid} > next_uid {}", h.next_uid);
                return Err(MapError::NeedsFsck(msg));
            }
        }
        let Some(last) = (h.messages_count as usize).checked_sub(1) else {
            return Ok(());
        };
        match self.records.uid(last) {
            Some(0) => Err(MapError::Unusable("last message has uid=0".into())),
            Some(uid) if uid >= h.next_uid => Err(MapError::NeedsFsck(format!(
                "last message uid {uid} >= next_uid {}",
                h.next_uid
            ))),
            _ => Ok(()),
        }
    }
}

/// The first index in `lo..hi` for which `pred` is false, given that
/// `pred` is true for a prefix.
fn partition_point(lo: usize, hi: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (lo, hi.max(lo));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_with_uids(uids: &[u32]) -> IndexMap {
        let mut map = IndexMap::new(1);
        for &uid in uids {
            map.records.push(uid, 0);
        }
        map.hdr.messages_count = uids.len() as u32;
        map.hdr.next_uid = uids.last().map_or(1, |u| u + 1);
        map
    }

    #[test]
    fn uid_ranges_map_to_record_indexes() {
        let map = map_with_uids(&[2, 4, 6, 8]);
        assert_eq!(map.lookup_range(1, 100), Some((0, 3)));
        assert_eq!(map.lookup_range(3, 6), Some((1, 2)));
        assert_eq!(map.lookup_range(5, 5), None);
        assert_eq!(map.lookup_range(9, 20), None);
        assert_eq!(map.lookup_uid(8), Some(3));
    }

    #[test]
    fn registry_keeps_first_sizes() {
        let mut reg = ExtRegistry::new();
        assert_eq!(reg.register(fmt::EXT_KEYWORDS, 300, 4, 1), 0);
        assert_eq!(reg.exts[0].record_size, 2);
        assert_eq!(reg.register("cache", 0, 4, 4), 2);
    }
}
