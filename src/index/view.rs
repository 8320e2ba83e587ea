//! Views of an index (mail-index-view.c): a consistent snapshot of the
//! map at one log position, with lookups by sequence and UID, flags,
//! keywords, extension records and headers, and modseqs.
//!
//! A view shares the index's map through an `Arc`; the index copies
//! the map before changing it while a view still holds it, so a view
//! never changes under its reader. [`crate::index::view_sync`] moves a
//! view forward.
//!
//! Sequences are 1-based as in Dovecot; record indexes in the map are
//! `seq - 1`.

use std::sync::Arc;

use super::format::index::{IndexHeader, mail_flags};
use super::mail_index::{Index, map_highest_modseq};
use super::map::{EXT_MODSEQ, IndexMap};

/// `struct mail_index_view`.
#[derive(Debug, Clone)]
pub struct View {
    pub(crate) map: Arc<IndexMap>,
    /// The log position the map reflects (`log_file_head_seq/offset`).
    pub log_file_head_seq: u32,
    pub log_file_head_offset: u32,
    /// Expunges seen in the log but not yet applied to this view
    /// (a view synced with `NOEXPUNGES`), as UIDs.
    pub(crate) pending_expunges: super::view_sync::UidSet,
}

impl Index {
    /// mail_index_view_open: a view of the current head map.
    pub fn view(&self) -> View {
        View::of_map(self.map.clone())
    }
}

impl View {
    pub(crate) fn of_map(map: Arc<IndexMap>) -> Self {
        View {
            log_file_head_seq: map.hdr.log_file_seq,
            log_file_head_offset: map.hdr.log_file_head_offset,
            pending_expunges: Default::default(),
            map,
        }
    }

    pub fn map(&self) -> &IndexMap {
        &self.map
    }

    /// The base header (mail_index_get_header).
    pub fn header(&self) -> &IndexHeader {
        &self.map.hdr
    }

    pub fn messages_count(&self) -> u32 {
        self.map.records.len() as u32
    }

    /// The UID of message `seq`.
    pub fn uid(&self, seq: u32) -> Option<u32> {
        self.map.records.uid(idx(seq)?)
    }

    /// The record flags of message `seq` (mail flags and the internal
    /// dirty/backend bits).
    pub fn flags(&self, seq: u32) -> Option<u8> {
        self.map.records.flags(idx(seq)?)
    }

    /// The sequence of `uid` (mail_index_lookup_seq).
    pub fn lookup_seq(&self, uid: u32) -> Option<u32> {
        self.map.lookup_uid(uid).map(|i| i as u32 + 1)
    }

    /// The sequences of the messages with UIDs in `uid1..=uid2`
    /// (mail_index_lookup_seq_range).
    pub fn lookup_seq_range(&self, uid1: u32, uid2: u32) -> Option<(u32, u32)> {
        let (a, b) = self.map.lookup_range(uid1, uid2)?;
        Some((a as u32 + 1, b as u32 + 1))
    }

    /// The first message from `seq` on with `flags & mask == flags`
    /// (mail_index_lookup_first).
    pub fn lookup_first(&self, flags: u8, mask: u8) -> Option<u32> {
        (0..self.map.records.len())
            .find(|&i| self.map.records.flags(i).unwrap_or(0) & mask == flags)
            .map(|i| i as u32 + 1)
    }

    /// The bit numbers of the keywords message `seq` has
    /// (mail_index_lookup_keywords).
    pub fn keyword_indexes(&self, seq: u32) -> Vec<usize> {
        let Some(bits) = self.keyword_bits(seq) else {
            return Vec::new();
        };
        let count = self.map.keywords.len();
        (0..bits.len() * 8)
            .filter(|&i| i < count && bits[i / 8] & (1 << (i % 8)) != 0)
            .collect()
    }

    /// The names of the keywords message `seq` has.
    pub fn keywords(&self, seq: u32) -> Vec<&str> {
        self.keyword_indexes(seq)
            .into_iter()
            .map(|i| self.map.keywords[i].as_str())
            .collect()
    }

    fn keyword_bits(&self, seq: u32) -> Option<&[u8]> {
        let ext = self.map.ext_idx(super::format::index::EXT_KEYWORDS)?;
        self.map.ext_record(idx(seq)?, ext)
    }

    /// Extension `name`'s record data of message `seq`
    /// (mail_index_lookup_ext).
    pub fn ext_record(&self, seq: u32, name: &str) -> Option<&[u8]> {
        self.map.ext_record(idx(seq)?, self.map.ext_idx(name)?)
    }

    /// Extension `name`'s header data (mail_index_get_header_ext).
    pub fn ext_header(&self, name: &str) -> Option<&[u8]> {
        Some(self.map.extensions[self.map.ext_idx(name)?].header())
    }

    /// The modseq of message `seq` (mail_index_modseq_lookup): its
    /// record's modseq, or the highest modseq without per-message ones.
    pub fn modseq(&self, seq: u32) -> Option<u64> {
        idx(seq).filter(|&i| i < self.map.records.len())?;
        let field = self.ext_record(seq, EXT_MODSEQ);
        let modseq = field
            .and_then(|f| f.try_into().ok())
            .map(u64::from_ne_bytes);
        Some(match modseq {
            Some(m) if m != 0 => m,
            _ => self.highest_modseq().max(1),
        })
    }

    /// mail_index_modseq_get_highest.
    pub fn highest_modseq(&self) -> u64 {
        map_highest_modseq(&self.map)
    }

    /// Is message `seq` marked expunged in the log but still in this
    /// view (mail_index_is_expunged)?
    pub fn is_expunged(&self, seq: u32) -> bool {
        self.uid(seq)
            .is_some_and(|uid| self.pending_expunges.contains(uid))
    }

    /// The next UID an append gets.
    pub fn next_uid(&self) -> u32 {
        self.map.hdr.next_uid
    }

    /// The IMAP flag names of message `seq` plus its keywords, in the
    /// order `doveadm fetch flags` prints them (without `\Recent`).
    pub fn imap_flags(&self, seq: u32) -> Vec<String> {
        let flags = self.flags(seq).unwrap_or(0);
        let names = [
            (mail_flags::ANSWERED, "\\Answered"),
            (mail_flags::FLAGGED, "\\Flagged"),
            (mail_flags::DELETED, "\\Deleted"),
            (mail_flags::SEEN, "\\Seen"),
            (mail_flags::DRAFT, "\\Draft"),
        ];
        let mut out: Vec<String> = names
            .iter()
            .filter(|(bit, _)| flags & bit != 0)
            .map(|(_, name)| name.to_string())
            .collect();
        out.extend(self.keywords(seq).into_iter().map(str::to_string));
        out
    }
}

fn idx(seq: u32) -> Option<usize> {
    (seq as usize).checked_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_by_uid_agree_with_a_scan() {
        let mut map = IndexMap::new(1);
        let uids = [1, 2, 3, 7, 8, 20, 21, 22, 23, 100];
        for uid in uids {
            map.records.push(uid, 0);
        }
        map.hdr.messages_count = uids.len() as u32;
        let view = View::of_map(Arc::new(map));
        for uid in 0..110 {
            let expected = uids.iter().position(|&u| u == uid).map(|i| i as u32 + 1);
            assert_eq!(view.lookup_seq(uid), expected, "uid {uid}");
        }
        for (uid1, uid2) in [(0, 0), (4, 6), (4, 7), (5, 25), (1, u32::MAX), (101, 200)] {
            let inside: Vec<u32> = (1..=10)
                .filter(|&s| (uid1..=uid2).contains(&uids[s as usize - 1]))
                .collect();
            let expected = inside.first().map(|&a| (a, *inside.last().unwrap()));
            assert_eq!(
                view.lookup_seq_range(uid1, uid2),
                expected,
                "{uid1}..{uid2}"
            );
        }
        let empty = View::of_map(Arc::new(IndexMap::new(1)));
        assert_eq!(empty.lookup_seq(1), None);
    }
}
