//! Committing a transaction (mail_index_transaction_commit_real,
//! mail-index-transaction-export.c, mail_transaction_log_append_*):
//! lock the log head, read what others appended, turn sequences into
//! UIDs, and write the records in Dovecot's order: extension
//! introductions with their resets and header updates, the "prepend"
//! header update, appends, flag updates, extension record updates and
//! atomic increments (each after an introduction), keyword updates (add
//! then remove, per keyword), modseq updates, expunges, the other header
//! update. A boundary record giving the transaction's size comes first
//! unless there is only one record.

use std::collections::BTreeSet;

use super::{ExtChange, FLAG_UPDATE_MODSEQ, Transaction, TransactionFlags};
use crate::index::format::index::hdr_offset;
use crate::index::format::log::{
    AppendRecord, EXT_INTRO_FLAG_NO_SHRINK, ExpungeGuid, ExtAtomicInc, ExtIntro, ExtRecUpdate,
    ExtReset, FlagUpdate, HeaderUpdate, KeywordModify, KeywordUpdate, LogRecord, ModseqUpdate,
    RecordBody, RecordFlags, UidRange,
};
use crate::index::mail_index::{Index, IndexError};
use crate::index::map::IndexMap;

/// `struct mail_index_transaction_commit_result`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitResult {
    /// The head position after the commit.
    pub log_file_seq: u32,
    pub log_file_offset: u32,
    /// Bytes this commit wrote to the log.
    pub commit_size: u32,
    /// UIDs the appends got, in append order.
    pub appended_uids: Vec<u32>,
}

/// Offset of `day_stamp` and `day_first_uid` in the base header.
const DAY_STAMP_OFFSET: usize = 84;
const DAY_FIRST_UID_OFFSET: usize = 88;
/// The highest UID Dovecot hands out: `next_uid` must stay below 2^32-1.
const MAX_UID: u32 = u32::MAX - 1;

impl Index {
    /// mail_index_transaction_commit. Writes nothing for a transaction
    /// without changes.
    pub fn commit(&mut self, mut t: Transaction) -> Result<CommitResult, IndexError> {
        if !t.has_changes() {
            let (seq, offset) = self.log_mut()?.head_position();
            return Ok(CommitResult {
                log_file_seq: seq,
                log_file_offset: offset,
                ..Default::default()
            });
        }
        if self.readonly {
            return Err(IndexError::ReadOnly {
                path: self.filepath.clone(),
            });
        }
        self.log_mut()?.lock_head()?;
        let result = self.commit_locked(&mut t);
        // The transaction's view shares the map: drop it first so the
        // map is not copied to apply our own records.
        drop(t);
        if !self.sync_locked {
            self.log_mut()?.unlock();
        }
        let result = result?;
        if !self.sync_locked {
            self.sync_map_to_head();
        }
        Ok(result)
    }

    fn commit_locked(&mut self, t: &mut Transaction) -> Result<CommitResult, IndexError> {
        self.sync_map_to_head();
        let appended_uids = assign_uids(t, self.map.hdr.next_uid)?;
        if !t.appends.is_empty() {
            add_day_headers(t, &self.map);
        }

        let records = self.export(t);
        let mut bytes = Vec::new();
        for rec in &records {
            rec.encode(&mut bytes)
                .map_err(|e| IndexError::Transaction(format!("transaction too large: {e}")))?;
        }
        let want_fsync = self.settings.fsync_mask.intersects(t.fsync_changes())
            || t.flags.contains(TransactionFlags::FSYNC);
        let log = self.log_mut()?;
        let start = log.append(&bytes, want_fsync)?;
        let (seq, offset) = log.head_position();
        Ok(CommitResult {
            log_file_seq: seq,
            log_file_offset: offset,
            commit_size: offset - start,
            appended_uids,
        })
    }

    /// Commit the external transaction of a sync under the sync lock,
    /// followed by the new tail offset when `update_tail`
    /// (log_append_sync_offset_if_needed): the tail then covers this
    /// write too, when everything before it was synced.
    pub(crate) fn commit_sync(
        &mut self,
        mut t: Transaction,
        update_tail: bool,
    ) -> Result<(), IndexError> {
        self.sync_map_to_head();
        let mut bytes = Vec::new();
        if t.has_changes() {
            assign_uids(&mut t, self.map.hdr.next_uid)?;
            if !t.appends.is_empty() {
                add_day_headers(&mut t, &self.map);
            }
            for rec in &self.export(&t) {
                rec.encode(&mut bytes)
                    .map_err(|e| IndexError::Transaction(format!("transaction too large: {e}")))?;
            }
        }
        let map_tail = self.map.hdr.log_file_tail_offset;
        let want_fsync = self.settings.fsync_mask.intersects(t.fsync_changes())
            || t.flags.contains(TransactionFlags::FSYNC);
        let log = self.log_mut()?;
        if update_tail {
            let head = &mut log.head;
            head.max_tail_offset = head.max_tail_offset.max(head.sync_offset as u32);
            let mut tail = head.max_tail_offset;
            if tail as usize == head.sync_offset {
                tail = (head.sync_offset + bytes.len() + TAIL_UPDATE_SIZE) as u32;
            }
            if tail != head.last_read_hdr_tail_offset() && tail > map_tail {
                tail_update(tail).encode(&mut bytes).expect("small record");
            }
        }
        if !bytes.is_empty() {
            log.append(&bytes, want_fsync)?;
        }
        Ok(())
    }

    /// The transaction's log records, boundary first.
    fn export(&self, t: &Transaction) -> Vec<LogRecord> {
        let mut out = Exporter {
            index: self,
            t,
            flags: t.record_flags(),
            records: Vec::new(),
        };
        out.ext_intros();
        out.header_update(&t.pre_hdr);
        if !t.appends.is_empty() {
            out.push(RecordBody::Append(t.appends.clone()));
        }
        out.flag_updates();
        out.ext_records();
        out.keyword_updates();
        out.modseq_updates();
        out.expunges();
        out.header_update(&t.post_hdr);
        out.finish()
    }
}

/// Give appends without a UID the next free ones; refuse UIDs that
/// would make `next_uid` reach 2^32-1 or go backwards.
fn assign_uids(t: &mut Transaction, head_next_uid: u32) -> Result<Vec<u32>, IndexError> {
    let mut next = t
        .appends
        .iter()
        .map(|a| a.uid.saturating_add(1))
        .fold(head_next_uid, u32::max);
    for rec in &mut t.appends {
        if rec.uid != 0 && rec.uid < head_next_uid {
            return Err(IndexError::Transaction(format!(
                "Append with UID {}, but next_uid = {head_next_uid}",
                rec.uid
            )));
        }
        if rec.uid == 0 {
            if next > MAX_UID {
                return Err(IndexError::Transaction(
                    "UIDs exhausted: next_uid would reach 2^32".into(),
                ));
            }
            rec.uid = next;
            next += 1;
        }
    }
    if t.appends.iter().any(|a| a.uid > MAX_UID) {
        return Err(IndexError::Transaction(
            "UIDs exhausted: next_uid would reach 2^32".into(),
        ));
    }
    Ok(t.appends.iter().map(|a| a.uid).collect())
}

/// mail_index_update_day_headers: the first UID appended each day.
fn add_day_headers(t: &mut Transaction, map: &IndexMap) {
    let stamp = local_day_start();
    let hdr = &map.hdr;
    if hdr.day_stamp >= stamp {
        return;
    }
    let max_days = hdr.day_first_uid.len();
    let days = (((stamp - hdr.day_stamp) / (3600 * 24)) as usize).min(max_days);
    let mut uids = hdr.day_first_uid;
    if days > 0 && days < max_days {
        uids.copy_within(0..max_days - days, days);
    }
    for i in 1..days {
        uids[i] = uids[0];
    }
    uids[0] = t.appends[0].uid;
    let bytes: Vec<u8> = uids.iter().flat_map(|u| u.to_ne_bytes()).collect();
    t.update_header(DAY_STAMP_OFFSET, &stamp.to_ne_bytes(), false);
    t.update_header(DAY_FIRST_UID_OFFSET, &bytes, false);
}

/// The start of today in local time (time_to_local_day_start).
fn local_day_start() -> u32 {
    let now = libc::time_t::from(crate::index::mail_index::unix_now());
    // SAFETY: an all-zero tm is a valid value of this plain C struct.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r reads `now` and writes only into `tm`.
    let ok = !unsafe { libc::localtime_r(&now, &mut tm) }.is_null();
    let into_day = if ok {
        i64::from(tm.tm_hour) * 3600 + i64::from(tm.tm_min) * 60 + i64::from(tm.tm_sec)
    } else {
        now % 86400
    };
    (now - into_day).max(0) as u32
}

struct Exporter<'a> {
    index: &'a Index,
    t: &'a Transaction,
    flags: RecordFlags,
    records: Vec<LogRecord>,
}

impl Exporter<'_> {
    fn push(&mut self, body: RecordBody) {
        self.records.push(LogRecord {
            offset: 0,
            flags: self.flags,
            body,
            modseq: 0,
            modseq_changed: false,
        });
    }

    /// The boundary goes first when there is more than one record.
    fn finish(mut self) -> Vec<LogRecord> {
        if self.records.len() < 2 {
            return self.records;
        }
        let mut size = 12u32;
        for rec in &self.records {
            let mut buf = Vec::new();
            let _ = rec.encode(&mut buf);
            size += buf.len() as u32;
        }
        let boundary = LogRecord {
            offset: 0,
            flags: self.flags | RecordFlags::EXTERNAL,
            body: RecordBody::Boundary(size),
            modseq: 0,
            modseq_changed: false,
        };
        self.records.insert(0, boundary);
        self.records
    }

    /// The UID of `seq`: from the view, or from the appends.
    fn uid(&self, seq: u32) -> Option<u32> {
        if seq >= self.t.first_new_seq {
            let i = (seq - self.t.first_new_seq) as usize;
            return self.t.appends.get(i).map(|a: &AppendRecord| a.uid);
        }
        self.t.view.uid(seq)
    }

    fn uid_ranges(&self, seqs: &BTreeSet<u32>) -> Vec<UidRange> {
        let uids = seqs.iter().filter_map(|&s| self.uid(s));
        merge_uids(uids.map(|u| (u, ())))
            .into_iter()
            .map(|(uid1, uid2, ())| UidRange { uid1, uid2 })
            .collect()
    }

    fn header_update(&mut self, change: &super::HeaderChange) {
        let updates = masked_runs(&change.data, &change.mask);
        if !updates.is_empty() {
            self.push(RecordBody::HeaderUpdate(updates));
        }
    }

    /// mail_transaction_log_append_ext_intros.
    fn ext_intros(&mut self) {
        for (&ext_id, change) in &self.t.ext_changes {
            let hdr_changed = change.hdr_mask.iter().any(|&m| m);
            if change.resize.is_none() && change.reset_id.is_none() && !hdr_changed {
                continue;
            }
            let hdr_size = self.ext_intro(ext_id, change);
            if let Some(new_reset_id) = change.reset_id {
                self.push(RecordBody::ExtReset(ExtReset {
                    new_reset_id,
                    preserve_data: Some(0),
                }));
            }
            if hdr_changed {
                let mut updates = masked_runs(&change.hdr_data, &change.hdr_mask);
                updates.retain(|u| u.offset as usize + u.data.len() <= hdr_size as usize);
                let body = if change.hdr_data.len() >= 65536 {
                    RecordBody::ExtHdrUpdate32(updates)
                } else {
                    RecordBody::ExtHdrUpdate(updates)
                };
                self.push(body);
            }
        }
    }

    /// log_append_ext_intro; returns the header size it announces.
    fn ext_intro(&mut self, ext_id: usize, change: &ExtChange) -> u32 {
        let rext = &self.index.registry.exts[ext_id];
        let map = &self.index.map;
        let map_idx = map.ext_idx(&rext.name).filter(|_| !self.t.reset);
        let mut intro = ExtIntro {
            ext_id: map_idx.map_or(u32::MAX, |i| i as u32),
            reset_id: 0,
            hdr_size: rext.hdr_size,
            record_size: rext.record_size,
            record_align: rext.record_align,
            flags: EXT_INTRO_FLAG_NO_SHRINK,
            name: Vec::new(),
        };
        if let Some(i) = map_idx {
            intro.hdr_size = map.extensions[i].hdr_size;
            intro.reset_id = map.extensions[i].reset_id;
        } else {
            intro.name = rext.name.as_bytes().to_vec();
        }
        if let Some((hdr_size, record_size, align)) = change.resize {
            (intro.hdr_size, intro.record_size, intro.record_align) =
                (hdr_size, record_size, align);
            intro.flags = 0;
        } else {
            let used = change
                .hdr_mask
                .iter()
                .rposition(|&m| m)
                .map_or(0, |i| i + 1);
            intro.hdr_size = intro.hdr_size.max(used as u32);
        }
        let hdr_size = intro.hdr_size;
        self.push(RecordBody::ExtIntro(vec![intro]));
        hdr_size
    }

    fn flag_updates(&mut self) {
        let changes = self
            .t
            .flag_updates
            .iter()
            .filter_map(|(&seq, &c)| Some((self.uid(seq)?, c)));
        let updates: Vec<FlagUpdate> = merge_uids(changes)
            .into_iter()
            .map(|(uid1, uid2, c)| FlagUpdate {
                uids: UidRange { uid1, uid2 },
                add_flags: c.add as u8,
                remove_flags: c.remove as u8,
                modseq_inc_flag: u8::from(c.add & FLAG_UPDATE_MODSEQ != 0),
            })
            .collect();
        if !updates.is_empty() {
            self.push(RecordBody::FlagUpdate(updates));
        }
    }

    /// log_append_ext_recs for record updates, then atomic increments.
    fn ext_records(&mut self) {
        for (&ext_id, change) in &self.t.ext_changes {
            let record_size = self.index.registry.exts[ext_id].record_size;
            let updates: Vec<ExtRecUpdate> = change
                .rec_updates
                .iter()
                .filter_map(|(&seq, data)| {
                    Some(ExtRecUpdate {
                        uid: self.uid(seq)?,
                        data: data.clone(),
                    })
                })
                .collect();
            if !updates.is_empty() {
                self.ext_intro(ext_id, &ExtChange::default());
                self.push(RecordBody::ExtRecUpdate {
                    record_size,
                    updates,
                });
            }
        }
        for (&ext_id, change) in &self.t.ext_changes {
            let incs: Vec<ExtAtomicInc> = change
                .atomic_incs
                .iter()
                .filter_map(|(&seq, &diff)| {
                    Some(ExtAtomicInc {
                        uid: self.uid(seq)?,
                        diff,
                    })
                })
                .collect();
            if !incs.is_empty() {
                self.ext_intro(ext_id, &ExtChange::default());
                self.push(RecordBody::ExtAtomicInc(incs));
            }
        }
    }

    fn keyword_updates(&mut self) {
        for (&kw, change) in &self.t.keyword_updates {
            let name = self.index.keywords[kw].as_bytes().to_vec();
            for (modify, seqs) in [
                (KeywordModify::Add, &change.add),
                (KeywordModify::Remove, &change.remove),
            ] {
                let uids = self.uid_ranges(seqs);
                if !uids.is_empty() {
                    self.push(RecordBody::KeywordUpdate(KeywordUpdate {
                        modify,
                        name: name.clone(),
                        uids,
                    }));
                }
            }
        }
    }

    fn modseq_updates(&mut self) {
        let updates: Vec<ModseqUpdate> = self
            .t
            .modseq_updates
            .iter()
            .filter_map(|&(seq, modseq)| {
                Some(ModseqUpdate {
                    uid: self.uid(seq)?,
                    modseq,
                })
            })
            .collect();
        if !updates.is_empty() {
            self.push(RecordBody::ModseqUpdate(updates));
        }
    }

    fn expunges(&mut self) {
        let recs: Vec<ExpungeGuid> = self
            .t
            .expunges
            .iter()
            .filter_map(|(&seq, &guid_128)| {
                Some(ExpungeGuid {
                    uid: self.uid(seq)?,
                    guid_128,
                })
            })
            .collect();
        if !recs.is_empty() {
            self.push(RecordBody::ExpungeGuid(recs));
        }
    }
}

/// Runs of set bytes as header updates (log_get_hdr_update_buffer).
fn masked_runs(data: &[u8], mask: &[bool]) -> Vec<HeaderUpdate> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < mask.len() {
        if !mask[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < mask.len() && mask[i] {
            i += 1;
        }
        out.push(HeaderUpdate {
            offset: start as u32,
            data: data[start..i].to_vec(),
        });
    }
    out
}

/// Merge (uid, value) pairs sorted by UID into runs of consecutive
/// UIDs with the same value.
fn merge_uids<T: PartialEq + Copy>(items: impl Iterator<Item = (u32, T)>) -> Vec<(u32, u32, T)> {
    let mut out: Vec<(u32, u32, T)> = Vec::new();
    for (uid, value) in items {
        match out.last_mut() {
            Some(last) if last.1.checked_add(1) == Some(uid) && last.2 == value => last.1 = uid,
            _ => out.push((uid, uid, value)),
        }
    }
    out
}

/// A tail offset header update's size: record header, offset and size
/// words, the 4-byte value.
const TAIL_UPDATE_SIZE: usize = 16;

/// The external header update setting `log_file_tail_offset`.
fn tail_update(tail: u32) -> LogRecord {
    LogRecord {
        offset: 0,
        flags: RecordFlags::EXTERNAL,
        body: RecordBody::HeaderUpdate(vec![HeaderUpdate {
            offset: hdr_offset::LOG_FILE_TAIL_OFFSET as u32,
            data: tail.to_ne_bytes().to_vec(),
        }]),
        modseq: 0,
        modseq_changed: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_merge_only_consecutive_equal_values() {
        let merged = merge_uids([(1, 'a'), (2, 'a'), (3, 'b'), (5, 'b'), (6, 'b')].into_iter());
        assert_eq!(merged, [(1, 2, 'a'), (3, 3, 'b'), (5, 6, 'b')]);
    }

    #[test]
    fn masked_runs_split_at_gaps() {
        let data = [1, 2, 3, 4];
        let mask = [true, true, false, true];
        let runs = masked_runs(&data, &mask);
        assert_eq!(runs.len(), 2);
        assert_eq!((runs[1].offset, runs[1].data.clone()), (3, vec![4]));
    }
}
