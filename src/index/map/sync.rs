//! Applying transaction log records to a map (mail-index-sync-update.c):
//! appends, expunges, flag and header updates, and the header fields
//! Dovecot maintains while doing so (messages_count, next_uid, the seen
//! and deleted counters and their lowwaters). Extension and keyword
//! records are in [`super::ext`].
//!
//! As in Dovecot, a record that does not fit the map (an append below
//! next_uid, a counter going wrong) is reported as corruption and the
//! replay goes on with the next record.
//!
//! Once the `modseq` extension exists, each changed message's modseq
//! and the extension header follow the log (mail-index-modseq.c).
//!
//! TODO(modseq): when modseq tracking starts, Dovecot also replays the
//! log between the modseq header's position and the current one to
//! give messages changed by modseq-unaware writers their modseqs; here
//! those messages only get the header's highest modseq. The per-flag
//! and per-keyword modseqs Dovecot keeps in memory are not kept.

use super::ext::CurExt;
use super::{EXT_MODSEQ, ExtRegistry, IndexMap};
use crate::index::format::index::{IndexHeader, hdr_flags, mail_flags};
use crate::index::format::log::{
    AppendRecord, ExpungeGuid, FlagUpdate, HeaderUpdate, LogRecord, ModseqUpdate, RecordBody,
    UidRange,
};

/// Corruption that stops applying the current record, in Dovecot's
/// words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SyncError(pub String);

/// The outcome of applying one record or one part of it.
pub type Step = Result<(), SyncError>;

/// The state of one replay (`struct mail_index_sync_map_ctx`).
#[derive(Debug)]
pub struct SyncCtx<'a> {
    pub map: &'a mut IndexMap,
    pub registry: &'a mut ExtRegistry,
    pub(super) cur_ext: CurExt,
    pub(super) cur_ext_ignore: bool,
    pub(super) cur_ext_record_size: u16,
    pub(super) internal_update: bool,
    /// Are per-message modseqs maintained (Dovecot's `mmap`)?
    modseq_tracking: bool,
    /// The log's modseq after the record being applied.
    cur_modseq: u64,
    /// The corruption found, in Dovecot's words, in order.
    pub errors: Vec<String>,
}

impl<'a> SyncCtx<'a> {
    pub fn new(map: &'a mut IndexMap, registry: &'a mut ExtRegistry) -> Self {
        SyncCtx {
            cur_ext: CurExt::None,
            cur_ext_ignore: false,
            cur_ext_record_size: 0,
            internal_update: false,
            modseq_tracking: map.ext_idx(EXT_MODSEQ).is_some(),
            cur_modseq: 0,
            map,
            registry,
            errors: Vec::new(),
        }
    }

    /// Stop the current record because of corruption.
    pub(super) fn corrupted(&self, msg: String) -> Step {
        Err(SyncError(msg))
    }

    /// Note corruption but go on with the record.
    fn note(&mut self, msg: String) {
        log::warn!("index sync: {msg}");
        self.errors.push(msg);
    }

    /// Apply one log record (mail_index_sync_record).
    pub fn apply(&mut self, rec: &LogRecord) -> Step {
        self.cur_modseq = rec.modseq;
        let external = rec.is_external();
        match &rec.body {
            RecordBody::Append(recs) => recs.iter().try_for_each(|r| self.append(r)),
            RecordBody::Expunge(ranges) if external => {
                self.expunge_uid_ranges(ranges);
                Ok(())
            }
            RecordBody::ExpungeGuid(recs) if external => {
                self.expunge_guids(recs);
                Ok(())
            }
            RecordBody::FlagUpdate(updates) => {
                updates.iter().for_each(|u| self.flag_update(u));
                Ok(())
            }
            RecordBody::HeaderUpdate(updates) => {
                updates.iter().try_for_each(|u| self.header_update(u))
            }
            RecordBody::ExtIntro(intros) => intros.iter().try_for_each(|u| self.ext_intro(u)),
            RecordBody::ExtReset(u) => self.ext_reset(u),
            RecordBody::ExtHdrUpdate(updates) | RecordBody::ExtHdrUpdate32(updates) => updates
                .iter()
                .try_for_each(|u| self.ext_hdr_update(u.offset, &u.data)),
            RecordBody::ExtRecUpdate { updates, .. } => {
                updates.iter().try_for_each(|u| self.ext_rec_update(u))
            }
            RecordBody::ExtAtomicInc(incs) => incs.iter().try_for_each(|u| self.ext_atomic_inc(u)),
            RecordBody::KeywordUpdate(u) => self.keyword_update(u),
            RecordBody::KeywordReset(ranges) => self.keyword_reset(ranges),
            RecordBody::ModseqUpdate(updates) => {
                updates.iter().try_for_each(|u| self.modseq_set(u))
            }
            RecordBody::Unknown { type_code, .. } => {
                self.corrupted(format!("Unknown transaction record type 0x{type_code:x}"))
            }
            _ => Ok(()),
        }
    }

    /// sync_append.
    fn append(&mut self, rec: &AppendRecord) -> Step {
        let hdr = &self.map.hdr;
        if rec.uid < hdr.next_uid {
            let msg = format!(
                "Append with UID {}, but next_uid = {}",
                rec.uid, hdr.next_uid
            );
            return self.corrupted(msg);
        }
        self.map.records.push(rec.uid, rec.flags);
        let idx = self.map.records.len() - 1;
        self.bump_modseqs(idx, idx);
        let hdr = &mut self.map.hdr;
        hdr.messages_count += 1;
        hdr.next_uid = rec.uid.wrapping_add(1);
        if rec.flags & mail_flags::DIRTY != 0 {
            hdr.flags |= hdr_flags::HAVE_DIRTY;
        }

        update_lowwaters(hdr, rec.uid, rec.flags);
        self.update_counts(rec.uid, 0, rec.flags);
        Ok(())
    }

    /// sync_flag_update.
    fn flag_update(&mut self, u: &FlagUpdate) {
        let Some((first, last)) = self.map.lookup_range(u.uids.uid1, u.uids.uid2) else {
            return;
        };
        if !u.is_internal() {
            self.bump_modseqs(first, last);
        }
        if u.add_flags & mail_flags::DIRTY != 0 {
            self.map.hdr.flags |= hdr_flags::HAVE_DIRTY;
        }

        let counted = (u.add_flags | u.remove_flags) & (mail_flags::SEEN | mail_flags::DELETED);
        for idx in first..=last {
            let Some(rec) = self.map.records.get_mut(idx) else {
                continue;
            };
            let old = rec[4];
            rec[4] = (old & !u.remove_flags) | u.add_flags;
            let (new, uid) = (rec[4], self.map.records.uid(idx).unwrap_or(0));
            if counted != 0 {
                update_lowwaters(&mut self.map.hdr, uid, new);
                if uid < self.map.hdr.next_uid {
                    self.update_counts(uid, old, new);
                }
            }
        }
    }

    /// sync_header_update: write into the base header. next_uid never
    /// shrinks and the tail offset is left to the end of the replay, as
    /// in Dovecot. Unlike Dovecot, the fields that describe the map's
    /// layout (versions, sizes, messages_count) are not taken from the
    /// log: they must keep matching the extensions and records.
    fn header_update(&mut self, u: &HeaderUpdate) -> Step {
        let base = u32::from(self.map.hdr.base_header_size);
        let end = u.offset as u64 + u.data.len() as u64;
        if u.offset >= base || end > u64::from(base) {
            let msg = format!(
                "Header update outside range: {} + {} > {base}",
                u.offset,
                u.data.len()
            );
            return self.corrupted(msg);
        }

        let before = self.map.hdr.clone();
        self.map.hdr.write_bytes(u.offset as usize, &u.data);
        let hdr = &mut self.map.hdr;
        hdr.next_uid = hdr.next_uid.max(before.next_uid);
        hdr.log_file_tail_offset = before.log_file_tail_offset;
        keep_layout_fields(hdr, &before);
        Ok(())
    }

    fn expunge_uid_ranges(&mut self, ranges: &[UidRange]) {
        let seqs = ranges
            .iter()
            .filter_map(|r| self.map.lookup_range(r.uid1, r.uid2))
            .collect();
        self.expunge(seqs);
    }

    fn expunge_guids(&mut self, recs: &[ExpungeGuid]) {
        let seqs = recs
            .iter()
            .filter_map(|r| self.map.lookup_uid(r.uid).map(|i| (i, i)))
            .collect();
        self.expunge(seqs);
    }

    /// sync_expunge_range: drop the records in the (unsorted, possibly
    /// overlapping) index ranges.
    fn expunge(&mut self, mut ranges: Vec<(usize, usize)>) {
        ranges.sort_unstable();
        let merged = merge_ranges(ranges);
        for &(first, last) in merged.iter().rev() {
            for idx in first..=last {
                let uid = self.map.records.uid(idx).unwrap_or(0);
                let flags = self.map.records.flags(idx).unwrap_or(0);
                self.update_counts(uid, flags, 0);
            }
            self.map.records.remove_range(first, last);
            let n = (last - first + 1) as u32;
            self.map.hdr.messages_count = self.map.hdr.messages_count.saturating_sub(n);
        }
    }

    /// mail_index_sync_header_update_counts.
    fn update_counts(&mut self, uid: u32, old: u8, new: u8) {
        if uid >= self.map.hdr.next_uid {
            let msg = format!("uid {uid} >= next_uid {}", self.map.hdr.next_uid);
            return self.note(msg);
        }
        if let Err(msg) = update_counts(&mut self.map.hdr, old, new) {
            self.note(msg.into());
        }
    }
}

impl SyncCtx<'_> {
    /// The modseq field of record `idx`, if the map has modseqs.
    fn modseq_field(&mut self, idx: usize) -> Option<&mut [u8]> {
        let range = self.map.extensions[self.map.ext_idx(EXT_MODSEQ)?].record_range()?;
        let rec = self.map.records.get_mut(idx)?;
        rec.get_mut(range).filter(|f| f.len() == 8)
    }

    /// mail_index_modseq_update_to_highest: records `first..=last`
    /// changed at the current modseq.
    pub(super) fn bump_modseqs(&mut self, first: usize, last: usize) {
        if !self.modseq_tracking {
            return;
        }
        let modseq = self.cur_modseq;
        for idx in first..=last {
            if let Some(field) = self.modseq_field(idx) {
                let old = u64::from_ne_bytes(field.try_into().expect("8 bytes"));
                if old < modseq {
                    field.copy_from_slice(&modseq.to_ne_bytes());
                }
            }
        }
    }

    /// Modseq tracking starts when the modseq header is first written
    /// (mail_index_modseq_hdr_update): messages without a modseq get
    /// the header's highest modseq.
    pub(super) fn start_modseq_tracking(&mut self) {
        if self.modseq_tracking {
            return;
        }
        self.modseq_tracking = true;
        let Some(highest) = self.modseq_header().map(|h| h.0) else {
            return;
        };
        for idx in 0..self.map.records.len() {
            if let Some(field) = self.modseq_field(idx) {
                if field.iter().all(|&b| b == 0) {
                    field.copy_from_slice(&highest.to_ne_bytes());
                }
            }
        }
    }

    /// The modseq header: highest modseq, log seq and log offset.
    fn modseq_header(&self) -> Option<(u64, u32, u32)> {
        let ext = &self.map.extensions[self.map.ext_idx(EXT_MODSEQ)?];
        let h = ext.header();
        let word = |at: usize| Some(u32::from_ne_bytes(h.get(at..at + 4)?.try_into().ok()?));
        let highest = u64::from_ne_bytes(h.get(..8)?.try_into().ok()?);
        Some((highest, word(8)?, word(12)?))
    }

    /// sync_modseq_update: raise messages' modseqs to the given values.
    fn modseq_set(&mut self, u: &ModseqUpdate) -> Step {
        let Some(idx) = self.map.lookup_uid(u.uid).filter(|_| u.uid != 0) else {
            return Ok(());
        };
        if !self.modseq_tracking || self.modseq_field(idx).is_none() {
            return self.corrupted("modseqs updated before they were enabled".into());
        }
        let field = self.modseq_field(idx).expect("checked above");
        let old = u64::from_ne_bytes((&*field).try_into().expect("8 bytes"));
        if old <= u.modseq {
            field.copy_from_slice(&u.modseq.to_ne_bytes());
        }
        Ok(())
    }

    /// mail_index_modseq_update_header at the end of the replay: the
    /// header records how far modseqs are known.
    pub fn update_modseq_header(&mut self, seq: u32, offset: u32, modseq: u64) {
        let Some((_, old_seq, old_offset)) = self.modseq_header() else {
            return;
        };
        if (old_seq, old_offset) >= (seq, offset) {
            return;
        }
        let idx = self.map.ext_idx(EXT_MODSEQ).expect("modseq header exists");
        let header = self.map.extensions[idx].header_mut();
        header[..8].copy_from_slice(&modseq.to_ne_bytes());
        header[8..12].copy_from_slice(&seq.to_ne_bytes());
        header[12..16].copy_from_slice(&offset.to_ne_bytes());
    }
}

/// Apply every record of `records`, in order.
pub fn apply_all<'r>(ctx: &mut SyncCtx<'_>, records: impl IntoIterator<Item = &'r LogRecord>) {
    for rec in records {
        if let Err(SyncError(msg)) = ctx.apply(rec) {
            ctx.note(msg);
        }
    }
}

/// mail_index_header_update_counts: the seen and deleted counters.
fn update_counts(hdr: &mut IndexHeader, old: u8, new: u8) -> Result<(), &'static str> {
    let changed = old ^ new;
    if changed & mail_flags::SEEN != 0 {
        if old & mail_flags::SEEN != 0 {
            if hdr.seen_messages_count == 0 {
                return Err("Seen counter wrong");
            }
            hdr.seen_messages_count -= 1;
        } else {
            if hdr.seen_messages_count >= hdr.messages_count {
                return Err("Seen counter wrong");
            }
            hdr.seen_messages_count += 1;
            if hdr.seen_messages_count == hdr.messages_count {
                hdr.first_unseen_uid_lowwater = hdr.next_uid;
            }
        }
    }

    if changed & mail_flags::DELETED != 0 {
        if old & mail_flags::DELETED == 0 {
            hdr.deleted_messages_count += 1;
            if hdr.deleted_messages_count > hdr.messages_count {
                return Err("Deleted counter wrong");
            }
        } else {
            if hdr.deleted_messages_count == 0 || hdr.deleted_messages_count > hdr.messages_count {
                return Err("Deleted counter wrong");
            }
            hdr.deleted_messages_count -= 1;
            if hdr.deleted_messages_count == 0 {
                hdr.first_deleted_uid_lowwater = hdr.next_uid;
            }
        }
    }
    Ok(())
}

/// mail_index_header_update_lowwaters.
fn update_lowwaters(hdr: &mut IndexHeader, uid: u32, flags: u8) {
    if flags & mail_flags::SEEN == 0 && uid < hdr.first_unseen_uid_lowwater {
        hdr.first_unseen_uid_lowwater = uid;
    }
    if flags & mail_flags::DELETED != 0 && uid < hdr.first_deleted_uid_lowwater {
        hdr.first_deleted_uid_lowwater = uid;
    }
}

/// Undo header updates of the fields that describe the map's layout.
fn keep_layout_fields(hdr: &mut IndexHeader, before: &IndexHeader) {
    hdr.major_version = before.major_version;
    hdr.base_header_size = before.base_header_size;
    hdr.header_size = before.header_size;
    hdr.record_size = before.record_size;
    hdr.messages_count = before.messages_count;
}

/// Merge sorted, inclusive ranges that overlap or touch.
fn merge_ranges(ranges: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (first, last) in ranges {
        match merged.last_mut() {
            Some(prev) if first <= prev.1 + 1 => prev.1 = prev.1.max(last),
            _ => merged.push((first, last)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_follow_seen_and_deleted() {
        let mut hdr = IndexHeader::new(1);
        hdr.messages_count = 2;
        hdr.next_uid = 3;
        update_counts(&mut hdr, 0, mail_flags::SEEN).unwrap();
        update_counts(&mut hdr, 0, mail_flags::SEEN | mail_flags::DELETED).unwrap();
        assert_eq!(hdr.seen_messages_count, 2);
        assert_eq!(hdr.first_unseen_uid_lowwater, 3);
        update_counts(&mut hdr, mail_flags::DELETED, 0).unwrap();
        assert_eq!(hdr.deleted_messages_count, 0);
        assert_eq!(hdr.first_deleted_uid_lowwater, 3);
        assert!(update_counts(&mut hdr, mail_flags::DELETED, 0).is_err());
    }

    #[test]
    fn ranges_merge() {
        let merged = merge_ranges(vec![(0, 1), (2, 2), (5, 6), (6, 8)]);
        assert_eq!(merged, [(0, 2), (5, 8)]);
    }
}
