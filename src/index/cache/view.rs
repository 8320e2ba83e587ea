//! What the cache engine needs from the index: per message its UID and
//! its "cache" extension record (the offset of its newest cache record),
//! the extension's reset_id, and two header fields for the decisions.
//!
//! Implemented here for the read-only [`IndexMap`] and for the index
//! engine's [`crate::index::view::View`].

use crate::index::map::{EXT_CACHE, IndexMap};

/// The "cache" extension's value for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheExtRecord {
    /// File offset of the message's newest cache record; 0: none.
    pub offset: u32,
    /// The extension's reset_id: the offset is valid only in the cache
    /// file whose `file_seq` equals it.
    pub reset_id: u32,
}

/// An index view as the cache sees it; sequences start at 1.
pub trait IndexView {
    fn indexid(&self) -> u32;
    fn messages_count(&self) -> u32;
    /// The UID of message `seq`, or `None` past the end.
    fn uid(&self, seq: u32) -> Option<u32>;
    /// The "cache" extension record of message `seq` (zero without the
    /// extension).
    fn cache_record(&self, seq: u32) -> CacheExtRecord;
    /// The "cache" extension's reset_id, `None` without the extension.
    fn cache_reset_id(&self) -> Option<u32>;
    /// The index header's `day_stamp`.
    fn day_stamp(&self) -> u32;
    /// The index header's `day_first_uid[7]`: the first UID that is less
    /// than a week old (0: unknown).
    fn first_new_uid(&self) -> u32;

    /// `mail_cache_get_first_new_seq()`: the first message whose temp
    /// fields a purge keeps.
    fn first_new_seq(&self) -> u32 {
        let first_uid = self.first_new_uid();
        if first_uid == 0 {
            return 1;
        }
        let count = self.messages_count();
        let (mut lo, mut hi) = (1, count + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.uid(mid).unwrap_or(u32::MAX) < first_uid {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

impl IndexView for IndexMap {
    fn indexid(&self) -> u32 {
        self.hdr.indexid
    }

    fn messages_count(&self) -> u32 {
        self.hdr.messages_count
    }

    fn uid(&self, seq: u32) -> Option<u32> {
        let idx = (seq as usize).checked_sub(1)?;
        (seq <= self.hdr.messages_count)
            .then(|| self.records.uid(idx))
            .flatten()
    }

    fn cache_record(&self, seq: u32) -> CacheExtRecord {
        let Some(ext_idx) = self.ext_idx(EXT_CACHE) else {
            return CacheExtRecord::default();
        };
        let reset_id = self.extensions[ext_idx].reset_id;
        let idx = (seq as usize).wrapping_sub(1);
        let offset = self
            .ext_record(idx, ext_idx)
            .and_then(|b| b.get(..4))
            .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        CacheExtRecord { offset, reset_id }
    }

    fn cache_reset_id(&self) -> Option<u32> {
        let ext_idx = self.ext_idx(EXT_CACHE)?;
        Some(self.extensions[ext_idx].reset_id)
    }

    fn day_stamp(&self) -> u32 {
        self.hdr.day_stamp
    }

    fn first_new_uid(&self) -> u32 {
        self.hdr.day_first_uid[7]
    }
}

/// The index engine's views: their map, at the view's log position.
impl IndexView for crate::index::view::View {
    fn indexid(&self) -> u32 {
        self.map().indexid()
    }

    fn messages_count(&self) -> u32 {
        self.map().messages_count()
    }

    fn uid(&self, seq: u32) -> Option<u32> {
        IndexView::uid(self.map(), seq)
    }

    fn cache_record(&self, seq: u32) -> CacheExtRecord {
        self.map().cache_record(seq)
    }

    fn cache_reset_id(&self) -> Option<u32> {
        self.map().cache_reset_id()
    }

    fn day_stamp(&self) -> u32 {
        self.map().day_stamp()
    }

    fn first_new_uid(&self) -> u32 {
        self.map().first_new_uid()
    }
}
