//! Adding fields to the cache (mail-cache-transaction.c).
//!
//! [`CacheTransaction`] collects values per message in memory; the
//! commit locks the cache file, appends a field header if some field is
//! new to the file, appends one record per message (linked to the
//! message's previous record through `prev_offset`), updates the
//! header's record counters, and returns the new offsets as
//! [`IndexUpdates`] for the index transaction. When there is no usable
//! cache file, the commit creates one first with a purge.
//!
//! Not done yet:
//! TODO(cache-flush): flushing a large transaction to the file before
//! the commit (`MAIL_CACHE_MAX_WRITE_BUFFER`); all values stay in memory.

use super::lookup::unix_now;
use super::purge::PurgeIf;
use super::{Cache, CacheError, FieldIdx, IndexUpdates, IndexView, Result};
use crate::index::format::FormatError;
use crate::index::format::PutNe;
use crate::index::format::cache::{Decision, RECORD_HEADER_SIZE};

/// A message's sequence and its new record's offset.
type SeqOffset = (u32, u32);

/// One message's new values.
#[derive(Debug, Clone)]
struct PendingRecord {
    seq: u32,
    entries: Vec<(FieldIdx, Vec<u8>)>,
}

impl PendingRecord {
    fn size(&self, cache: &Cache) -> usize {
        let entries: usize = self
            .entries
            .iter()
            .map(|(f, d)| entry_size(cache, *f, d))
            .sum();
        RECORD_HEADER_SIZE + entries
    }
}

/// Bytes an entry takes: field number, size unless fixed, padded data.
fn entry_size(cache: &Cache, field: FieldIdx, data: &[u8]) -> usize {
    let fixed = cache
        .fields
        .get(field)
        .and_then(|f| f.fixed_size())
        .is_some();
    4 + if fixed { 0 } else { 4 } + data.len().next_multiple_of(4)
}

/// `struct mail_cache_transaction_ctx`: values not yet in the file.
#[derive(Debug, Default)]
pub struct CacheTransaction {
    records: Vec<PendingRecord>,
    decisions_refreshed: bool,
}

impl CacheTransaction {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// A value added in this transaction, for lookups before the commit.
    pub fn value(&self, seq: u32, field: FieldIdx) -> Option<&[u8]> {
        self.records
            .iter()
            .rev()
            .filter(|r| r.seq == seq)
            .flat_map(|r| r.entries.iter())
            .find(|(f, _)| *f == field)
            .map(|(_, d)| d.as_slice())
    }
}

impl Cache {
    /// `mail_cache_add()`: cache `data` as the value of `field` for
    /// message `seq`. A forced "no" field is not cached; a value that
    /// would make the record larger than `mail_cache_record_max_size` is
    /// skipped; a fixed-size field's value must have its size.
    pub fn add(
        &mut self,
        t: &mut CacheTransaction,
        view: &dyn IndexView,
        seq: u32,
        field: FieldIdx,
        data: &[u8],
    ) -> Result<()> {
        let def = self
            .fields
            .get(field)
            .cloned()
            .ok_or_else(|| invalid(field, "not registered"))?;
        if def.decision.0 == Decision::NO | Decision::FORCED {
            return Ok(());
        }
        if def
            .fixed_size()
            .is_some_and(|size| size as usize != data.len())
        {
            return Err(invalid(field, "fixed-size value of the wrong size"));
        }
        if !t.decisions_refreshed {
            t.decisions_refreshed = true;
            self.refresh_decisions(view);
        }
        let uid = view.uid(seq).unwrap_or(0);
        self.fields.decision_add(field, uid, unix_now());

        if t.records.last().is_none_or(|r| r.seq != seq) {
            t.records.push(PendingRecord {
                seq,
                entries: Vec::new(),
            });
        }
        let rec_size = t.records.last().expect("pushed").size(self);
        if rec_size + entry_size(self, field, data) > self.set.record_max_size as usize {
            return Ok(());
        }
        let rec = t.records.last_mut().expect("pushed");
        rec.entries.push((field, data.to_vec()));
        self.fields.fields[field].used = true;
        Ok(())
    }

    /// `mail_cache_field_want_add()`: should `field` be cached for
    /// `seq`? Not when the decision is no, not for old messages when it
    /// is temp, and not when it is cached already.
    pub fn want_add(
        &mut self,
        t: &mut CacheTransaction,
        view: &dyn IndexView,
        seq: u32,
        field: FieldIdx,
    ) -> Result<bool> {
        if !t.decisions_refreshed {
            t.decisions_refreshed = true;
            self.refresh_decisions(view);
        }
        let kind = self
            .fields
            .get(field)
            .map_or(Decision::NO, |f| f.decision.kind());
        if kind == Decision::NO || (kind == Decision::TEMP && seq < view.first_new_seq()) {
            return Ok(false);
        }
        Ok(t.value(seq, field).is_none() && !self.field_exists(view, seq, field)?)
    }

    /// `mail_cache_transaction_refresh_decisions()`: take the newest
    /// decisions from the file once per transaction.
    fn refresh_decisions(&mut self, view: &dyn IndexView) {
        let result = match self.opened {
            true => self.refresh(view),
            false => self.open_and_verify(view),
        };
        if let Err(e) = result {
            log::warn!("{e}");
        }
    }

    /// `mail_cache_transaction_commit()`: write the records and return
    /// the index changes. With nothing added, nothing is written.
    pub fn commit(&mut self, view: &dyn IndexView, t: CacheTransaction) -> Result<IndexUpdates> {
        if t.records.is_empty() {
            return Ok(IndexUpdates::default());
        }
        let mut created = IndexUpdates::default();
        let mut tried_purging = false;
        loop {
            if !self.usable(view)? {
                if tried_purging {
                    return Ok(created);
                }
                tried_purging = true;
                let purged = self.purge(view, PurgeIf::Missing, "creating cache")?;
                created = purged.unwrap_or_default();
            }
            let written = self.with_lock(view, |cache| cache.write_records(view, &t, &created))?;
            match written {
                Some(written) => return Ok(created.merge(written)),
                // The file went away before we locked it.
                None if !tried_purging => self.opened = false,
                None => return Ok(created),
            }
        }
    }

    /// Is there a usable file? A corrupted one was just deleted: no.
    fn usable(&mut self, view: &dyn IndexView) -> Result<bool> {
        match self.open_and_verify(view) {
            Err(CacheError::Corrupted { .. }) => Ok(false),
            other => other,
        }
    }

    /// Under the lock: add missing fields, then append the records.
    fn write_records(
        &mut self,
        view: &dyn IndexView,
        t: &CacheTransaction,
        created: &IndexUpdates,
    ) -> Result<IndexUpdates> {
        let file_seq = self.header().expect("locked").file_seq;
        let index_reset_id = created.reset.or(view.cache_reset_id());
        if index_reset_id.is_some_and(|id| id != file_seq) {
            // The index would ignore these offsets (cache-sync TODO).
            log::warn!(
                "{}: index reset_id {index_reset_id:?} != file_seq {file_seq}, not caching",
                self.path.display()
            );
            return Ok(IndexUpdates::default());
        }
        self.add_missing_fields(view)?;

        let write_offset = self.file_size()?;
        let (bytes, offsets) = self.encode_records(view, t, write_offset, created)?;
        let at = self.append(&bytes)?;
        debug_assert_eq!(u64::from(at), write_offset);
        let offsets = offsets
            .into_iter()
            .map(|(seq, off)| (seq, view.uid(seq).unwrap_or(0), off))
            .collect();
        Ok(IndexUpdates {
            reset: None,
            reset_id: file_seq,
            offsets,
        })
    }

    /// `mail_cache_header_rewrite_fields()` when a used field is not in
    /// the file yet.
    fn add_missing_fields(&mut self, view: &dyn IndexView) -> Result<()> {
        let missing = |c: &Cache| {
            (0..c.fields.len()).any(|i| c.fields.fields[i].used && c.fields.file_index(i).is_none())
        };
        if !missing(self) {
            return Ok(());
        }
        let header = self.fields.header();
        self.append_field_header(&header)?;
        self.fields.written();
        self.refresh(view)?;
        if missing(self) {
            let reason = "Unexpectedly lost newly added field";
            return Err(self.set_corrupted(FormatError::new(0, reason)));
        }
        Ok(())
    }

    /// The records' bytes with file field numbers and `prev_offset`
    /// links (`mail_cache_link_records()`), and each message's new
    /// offset. Updates the header counters.
    fn encode_records(
        &mut self,
        view: &dyn IndexView,
        t: &CacheTransaction,
        mut offset: u64,
        created: &IndexUpdates,
    ) -> Result<(Vec<u8>, Vec<SeqOffset>)> {
        let file_seq = self.header().expect("locked").file_seq;
        let mut out = Vec::new();
        let mut offsets: Vec<SeqOffset> = Vec::new();
        for rec in t.records.iter().filter(|r| !r.entries.is_empty()) {
            let prev = match offsets.iter().rev().find(|(s, _)| *s == rec.seq) {
                Some(&(_, off)) => off,
                None if created.reset.is_some() => 0,
                None => self.prev_offset(view, rec.seq, file_seq, offset)?,
            };
            self.count_record(prev != 0);
            self.encode_record(&mut out, rec, prev);
            offsets.push((rec.seq, offset as u32));
            offset += rec.size(self) as u64;
        }
        Ok((out, offsets))
    }

    /// The message's current record in this file, to link to.
    fn prev_offset(
        &mut self,
        view: &dyn IndexView,
        seq: u32,
        file_seq: u32,
        end: u64,
    ) -> Result<u32> {
        let rec = view.cache_record(seq);
        if rec.offset == 0 || rec.reset_id != file_seq {
            return Ok(0);
        }
        if u64::from(rec.offset) >= end {
            let reason = "Cache record offset points outside existing file";
            return Err(self.set_corrupted(FormatError::new(rec.offset, reason)));
        }
        Ok(rec.offset)
    }

    fn count_record(&mut self, continued: bool) {
        let hdr = self.hdr_copy.as_mut().expect("locked");
        match continued {
            true => hdr.continued_record_count += 1,
            false => hdr.record_count += 1,
        }
        self.hdr_modified = true;
    }

    fn encode_record(&self, out: &mut Vec<u8>, rec: &PendingRecord, prev: u32) {
        out.put_u32(prev);
        out.put_u32(rec.size(self) as u32);
        for (field, data) in &rec.entries {
            out.put_u32(self.fields.file_index(*field).expect("fields added"));
            if self
                .fields
                .get(*field)
                .and_then(|f| f.fixed_size())
                .is_none()
            {
                out.put_u32(data.len() as u32);
            }
            out.extend_from_slice(data);
            out.pad_to(4);
        }
    }

    /// `mail_cache_expunge_count()`: `count` messages with cached data
    /// were expunged; their records are now deleted space.
    pub fn expunge_count(&mut self, view: &dyn IndexView, count: u32) -> Result<()> {
        self.with_lock(view, |cache| {
            let hdr = cache.hdr_copy.as_mut().expect("locked");
            hdr.deleted_record_count += count;
            hdr.record_count = hdr.record_count.saturating_sub(count);
            cache.hdr_modified = true;
            Ok(())
        })
        .map(|_| ())
    }

    /// Write the decisions and last_used times changed by lookups and
    /// adds to the file (`mail_cache_header_fields_update()`).
    pub fn flush_decisions(&mut self, view: &dyn IndexView) -> Result<()> {
        if !self.fields.write_pending {
            return Ok(());
        }
        self.with_lock(view, |_| Ok(())).map(|_| ())
    }
}

fn invalid(field: FieldIdx, reason: &str) -> CacheError {
    CacheError::InvalidValue {
        field: field.to_string(),
        reason: reason.to_string(),
    }
}
