//! Index transactions (mail-index-transaction.c,
//! mail-index-transaction-update.c, mail-index-transaction-finish.c):
//! changes collected against a view, then written to the transaction
//! log as one transaction by [`Index::commit`].
//!
//! Changes are kept by sequence as Dovecot keeps them, and turned into
//! UIDs at commit. Appends get their UIDs at commit from the head's
//! `next_uid`; a UID that would reach 2^32 fails the commit. Flag
//! changes combine per message the way Dovecot combines them (a later
//! add cancels an earlier remove and the other way round); keywords are
//! named by their index in the index-wide keyword list.
//!
//! TODO(transaction-modseq-conflicts): `max_modseq` conflict detection
//! (mail_index_transaction_set_max_modseq) and `min_highest_modseq`.
//! TODO(transaction-view): lookups that see the transaction's own
//! changes (mail_index_transaction_open_updated_view).
//! TODO(transaction-attributes): attribute update records.

mod export;

use std::collections::{BTreeMap, BTreeSet};

use super::format::index::HEADER_MIN_SIZE;
use super::format::log::{AppendRecord, CLIENT_FLAGS_MASK, RecordFlags};
use super::mail_index::{FsyncMask, Index, IndexError};
use super::view::View;

pub use export::CommitResult;

bitflags::bitflags! {
    /// `enum mail_index_transaction_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct TransactionFlags: u32 {
        const HIDE = 0x01;
        const EXTERNAL = 0x02;
        const AVOID_FLAG_UPDATES = 0x04;
        const FSYNC = 0x08;
        const SYNC = 0x10;
    }
}

/// `enum modify_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modify {
    Add,
    Remove,
    Replace,
}

/// `MAIL_INDEX_MAIL_FLAG_UPDATE_MODSEQ`: raise the modseq without a
/// flag change.
pub const FLAG_UPDATE_MODSEQ: u16 = 0x100;

/// Dovecot keeps keyword bits in an extension whose record grows with
/// the count; past this many names the header gets unwieldy. Keyword
/// indexes are bounded so a record can never need more than 4 KiB.
pub const MAX_KEYWORDS: usize = 4096 * 8;

/// One message's pending flag change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FlagChange {
    pub add: u16,
    pub remove: u16,
}

/// Pending keyword changes of one keyword, by sequence.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeywordChange {
    pub add: BTreeSet<u32>,
    pub remove: BTreeSet<u32>,
}

/// An extension's pending introduction, reset and header update.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExtChange {
    /// A resize: (hdr_size, record_size, record_align).
    pub resize: Option<(u32, u16, u16)>,
    pub reset_id: Option<u32>,
    /// Header bytes written and which of them are set.
    pub hdr_data: Vec<u8>,
    pub hdr_mask: Vec<bool>,
    pub rec_updates: BTreeMap<u32, Vec<u8>>,
    pub atomic_incs: BTreeMap<u32, i32>,
}

/// `struct mail_index_transaction`.
#[derive(Debug, Clone)]
pub struct Transaction {
    pub view: View,
    pub flags: TransactionFlags,
    pub(crate) first_new_seq: u32,
    pub(crate) appends: Vec<AppendRecord>,
    pub(crate) flag_updates: BTreeMap<u32, FlagChange>,
    pub(crate) keyword_updates: BTreeMap<usize, KeywordChange>,
    pub(crate) expunges: BTreeMap<u32, [u8; 16]>,
    pub(crate) pre_hdr: HeaderChange,
    pub(crate) post_hdr: HeaderChange,
    /// By registered extension id.
    pub(crate) ext_changes: BTreeMap<usize, ExtChange>,
    pub(crate) modseq_updates: Vec<(u32, u64)>,
    pub(crate) reset: bool,
}

/// Bytes to write over the base header, and which are set.
#[derive(Debug, Clone)]
pub(crate) struct HeaderChange {
    pub data: [u8; HEADER_MIN_SIZE],
    pub mask: [bool; HEADER_MIN_SIZE],
}

impl Default for HeaderChange {
    fn default() -> Self {
        HeaderChange {
            data: [0; HEADER_MIN_SIZE],
            mask: [false; HEADER_MIN_SIZE],
        }
    }
}

impl HeaderChange {
    pub fn is_set(&self) -> bool {
        self.mask.iter().any(|&m| m)
    }

    fn write(&mut self, offset: usize, data: &[u8]) {
        self.data[offset..offset + data.len()].copy_from_slice(data);
        self.mask[offset..offset + data.len()].fill(true);
    }
}

impl Index {
    /// mail_index_transaction_begin on a view of this index.
    pub fn transaction(&self, view: &View, flags: TransactionFlags) -> Transaction {
        Transaction::new(view.clone(), flags)
    }

    /// mail_index_keyword_lookup_or_create: the index-wide number of
    /// `name`, which gets one if it is new.
    pub fn keyword_idx(&mut self, name: &str) -> Result<usize, IndexError> {
        if let Some(i) = self.keywords.iter().position(|k| k == name) {
            return Ok(i);
        }
        if name.is_empty() || self.keywords.len() >= MAX_KEYWORDS {
            return Err(IndexError::Transaction(format!(
                "Can't add keyword {name:?}: invalid name or too many keywords"
            )));
        }
        self.keywords.push(name.to_string());
        Ok(self.keywords.len() - 1)
    }
}

impl Transaction {
    pub fn new(view: View, flags: TransactionFlags) -> Self {
        Transaction {
            first_new_seq: view.messages_count() + 1,
            view,
            flags,
            appends: Vec::new(),
            flag_updates: BTreeMap::new(),
            keyword_updates: BTreeMap::new(),
            expunges: BTreeMap::new(),
            pre_hdr: HeaderChange::default(),
            post_hdr: HeaderChange::default(),
            ext_changes: BTreeMap::new(),
            modseq_updates: Vec::new(),
            reset: false,
        }
    }

    /// mail_index_append: a new message; `uid` 0 gets one at commit.
    /// Returns its sequence in this transaction.
    pub fn append(&mut self, uid: u32) -> u32 {
        self.appends.push(AppendRecord { uid, flags: 0 });
        self.first_new_seq + self.appends.len() as u32 - 1
    }

    fn is_existing(&self, seq: u32) -> bool {
        seq >= 1 && seq < self.first_new_seq
    }

    /// mail_index_update_flags.
    pub fn update_flags(&mut self, seq: u32, modify: Modify, flags: u16) {
        if let Some(rec) = self.appended_mut(seq) {
            rec.flags = modify_flags(rec.flags, modify, flags as u8);
            return;
        }
        if !self.is_existing(seq) {
            return;
        }
        let (add, remove) = match modify {
            Modify::Replace => (flags, !flags & u16::from(CLIENT_FLAGS_MASK)),
            Modify::Add if flags == 0 => return,
            Modify::Add => (flags, 0),
            Modify::Remove if flags == 0 => return,
            Modify::Remove => (0, flags),
        };
        if self.flags.contains(TransactionFlags::AVOID_FLAG_UPDATES)
            && !self.changes(seq, add, remove)
        {
            return;
        }
        let change = self.flag_updates.entry(seq).or_default();
        change.add = (change.add | add) & !remove;
        change.remove = (change.remove | remove) & !add;
        if change.add == 0 && change.remove == 0 {
            self.flag_updates.remove(&seq);
        }
    }

    /// Would the change do anything to the message as the view sees it?
    fn changes(&self, seq: u32, add: u16, remove: u16) -> bool {
        let cur = u16::from(self.view.flags(seq).unwrap_or(0));
        cur & add != add & 0xff || cur & remove != 0 || add & FLAG_UPDATE_MODSEQ != 0
    }

    fn appended_mut(&mut self, seq: u32) -> Option<&mut AppendRecord> {
        let i = seq.checked_sub(self.first_new_seq)?;
        self.appends.get_mut(i as usize)
    }

    /// mail_index_update_keywords, with keywords as index-wide numbers
    /// from [`Index::keyword_idx`].
    pub fn update_keywords(&mut self, seq: u32, modify: Modify, keywords: &[usize]) {
        let (add, remove): (Vec<usize>, Vec<usize>) = match modify {
            Modify::Add => (keywords.to_vec(), Vec::new()),
            Modify::Remove => (Vec::new(), keywords.to_vec()),
            Modify::Replace => {
                let current = self.current_keywords(seq);
                let remove = current
                    .into_iter()
                    .filter(|k| !keywords.contains(k))
                    .collect();
                (keywords.to_vec(), remove)
            }
        };
        for kw in add {
            self.keyword_change(seq, kw, true);
        }
        for kw in remove {
            self.keyword_change(seq, kw, false);
        }
    }

    /// The keywords message `seq` has in the view, as index-wide
    /// numbers (the map's numbering is a prefix of the index's).
    fn current_keywords(&self, seq: u32) -> Vec<usize> {
        let mut current = if self.is_existing(seq) {
            self.view.keyword_indexes(seq)
        } else {
            Vec::new()
        };
        let pending = self
            .keyword_updates
            .iter()
            .filter(|(_, c)| c.add.contains(&seq))
            .map(|(&kw, _)| kw);
        current.extend(pending);
        current
    }

    fn keyword_change(&mut self, seq: u32, kw: usize, add: bool) {
        if kw >= MAX_KEYWORDS {
            return;
        }
        if self.flags.contains(TransactionFlags::AVOID_FLAG_UPDATES) && self.is_existing(seq) {
            let has = self.view.keyword_indexes(seq).contains(&kw);
            if has == add {
                let change = self.keyword_updates.entry(kw).or_default();
                change.add.remove(&seq);
                change.remove.remove(&seq);
                return;
            }
        }
        let change = self.keyword_updates.entry(kw).or_default();
        if add {
            change.remove.remove(&seq);
            change.add.insert(seq);
        } else {
            change.add.remove(&seq);
            change.remove.insert(seq);
        }
    }

    /// mail_index_expunge_guid.
    pub fn expunge_guid(&mut self, seq: u32, guid_128: [u8; 16]) {
        if seq >= self.first_new_seq {
            if seq + 1 == self.first_new_seq + self.appends.len() as u32 {
                self.appends.pop();
            }
            return;
        }
        if self.is_existing(seq) {
            self.expunges.insert(seq, guid_128);
        }
    }

    /// mail_index_expunge.
    pub fn expunge(&mut self, seq: u32) {
        self.expunge_guid(seq, [0; 16]);
    }

    /// mail_index_update_header: bytes at `offset` of the base header,
    /// applied before the other changes (`prepend`) or after them.
    pub fn update_header(&mut self, offset: usize, data: &[u8], prepend: bool) -> bool {
        if offset + data.len() > HEADER_MIN_SIZE {
            return false;
        }
        let change = if prepend {
            &mut self.pre_hdr
        } else {
            &mut self.post_hdr
        };
        change.write(offset, data);
        true
    }

    /// mail_index_ext_resize: change an extension's sizes.
    pub fn ext_resize(&mut self, ext_id: usize, hdr_size: u32, record_size: u16, align: u16) {
        let change = self.ext_changes.entry(ext_id).or_default();
        change.resize = Some((hdr_size, record_size, align));
    }

    /// mail_index_ext_reset: give the extension a new reset id (its
    /// data is cleared).
    pub fn ext_reset(&mut self, ext_id: usize, reset_id: u32) {
        self.ext_changes.entry(ext_id).or_default().reset_id = Some(reset_id);
    }

    /// mail_index_update_header_ext.
    pub fn update_header_ext(&mut self, ext_id: usize, offset: usize, data: &[u8]) {
        let change = self.ext_changes.entry(ext_id).or_default();
        let end = offset + data.len();
        if change.hdr_data.len() < end {
            change.hdr_data.resize(end, 0);
            change.hdr_mask.resize(end, false);
        }
        change.hdr_data[offset..end].copy_from_slice(data);
        change.hdr_mask[offset..end].fill(true);
    }

    /// mail_index_update_ext: the record data of message `seq`.
    pub fn update_ext(&mut self, seq: u32, ext_id: usize, data: &[u8]) {
        let change = self.ext_changes.entry(ext_id).or_default();
        change.rec_updates.insert(seq, data.to_vec());
    }

    /// mail_index_atomic_inc_ext.
    pub fn atomic_inc_ext(&mut self, seq: u32, ext_id: usize, diff: i32) {
        let change = self.ext_changes.entry(ext_id).or_default();
        *change.atomic_incs.entry(seq).or_default() += diff;
    }

    /// mail_index_update_modseq: raise message `seq`'s modseq to at
    /// least `min_modseq`.
    pub fn update_modseq(&mut self, seq: u32, min_modseq: u64) {
        self.modseq_updates.push((seq, min_modseq));
    }

    /// MAIL_INDEX_TRANSACTION_HAS_CHANGES.
    pub fn has_changes(&self) -> bool {
        !self.appends.is_empty()
            || !self.flag_updates.is_empty()
            || self
                .keyword_updates
                .values()
                .any(|k| !k.add.is_empty() || !k.remove.is_empty())
            || !self.expunges.is_empty()
            || self.pre_hdr.is_set()
            || self.post_hdr.is_set()
            || !self.ext_changes.is_empty()
            || !self.modseq_updates.is_empty()
    }

    /// mail_index_transaction_rollback: nothing was written; dropping
    /// the transaction is the same.
    pub fn rollback(self) {}

    /// The record flag bits of the log records this transaction writes.
    pub(crate) fn record_flags(&self) -> RecordFlags {
        let mut flags = RecordFlags::empty();
        if self.flags.contains(TransactionFlags::EXTERNAL) {
            flags |= RecordFlags::EXTERNAL;
        }
        if self.flags.contains(TransactionFlags::SYNC) {
            flags |= RecordFlags::SYNC;
        }
        flags
    }

    /// The fsync mask bits this transaction's changes touch.
    pub(crate) fn fsync_changes(&self) -> FsyncMask {
        let mut mask = FsyncMask::empty();
        mask.set(FsyncMask::APPENDS, !self.appends.is_empty());
        mask.set(FsyncMask::FLAGS, !self.flag_updates.is_empty());
        mask.set(FsyncMask::KEYWORDS, !self.keyword_updates.is_empty());
        let external = self.flags.contains(TransactionFlags::EXTERNAL);
        mask.set(FsyncMask::EXPUNGES, external && !self.expunges.is_empty());
        mask
    }
}

/// mail_index_record_modify_flags.
fn modify_flags(cur: u8, modify: Modify, flags: u8) -> u8 {
    match modify {
        Modify::Replace => flags,
        Modify::Add => cur | flags,
        Modify::Remove => cur & !flags,
    }
}
