//! Syncing an index with its mailbox (mail-index-sync.c): the
//! begin/next/commit cycle a storage backend runs to apply the changes
//! other processes requested in the log (non-external records after the
//! tail offset) and to write back what it did.
//!
//! [`Index::sync_begin`] takes the log head lock and keeps it until
//! [`IndexSyncCtx::commit`] or the context is dropped. The commit
//! writes the backend's external transaction with the new tail offset
//! (as a header update after the transaction, as Dovecot writes it),
//! then rotates the log and rewrites `dovecot.index` when Dovecot would
//! (mail_transaction_log_want_rotate, mail_index_sync_want_index_write).
//!
//! The first sync also deletes `.log.2` once it is older than
//! `log2_max_age_secs`, recording that in `log2_rotate_time`.
//!
//! TODO(sync-handlers): expunge handlers (the cache's) are not called;
//! `FLUSH_DIRTY` is accepted and ignored.

use std::collections::BTreeMap;

use super::format::log::{LogRecord, RecordBody};
use super::mail_index::{Index, IndexError, map_highest_modseq, records_between, unix_now};
use super::transaction::{Transaction, TransactionFlags};
use super::view::View;

bitflags::bitflags! {
    /// `enum mail_index_sync_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct SyncFlags: u32 {
        const FLUSH_DIRTY = 0x01;
        const DROP_RECENT = 0x02;
        const AVOID_FLAG_UPDATES = 0x04;
        const REQUIRE_CHANGES = 0x08;
        const FSYNC = 0x10;
        const DELETING_INDEX = 0x20;
        const TRY_DELETING_INDEX = 0x40;
        const UPDATE_TAIL_OFFSET = 0x80;
    }
}

/// `enum mail_index_sync_type` with its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncType {
    Expunge { guid_128: [u8; 16] },
    Flags { add: u8, remove: u8 },
    KeywordAdd { keyword: String },
    KeywordRemove { keyword: String },
}

/// `struct mail_index_sync_rec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRec {
    pub uid1: u32,
    pub uid2: u32,
    pub kind: SyncType,
}

/// `struct mail_index_sync_ctx`.
#[derive(Debug)]
pub struct IndexSyncCtx<'a> {
    index: &'a mut Index,
    flags: SyncFlags,
    /// The view the backend reads while syncing.
    pub view: View,
    /// The backend's changes: an external transaction.
    pub transaction: Transaction,
    records: Vec<SyncRec>,
    next: usize,
    seen_nonexternal: bool,
    finished: bool,
}

impl Index {
    /// mail_index_sync_begin. `Ok(None)` with `REQUIRE_CHANGES` when
    /// there is nothing to sync.
    pub fn sync_begin(&mut self, flags: SyncFlags) -> Result<Option<IndexSyncCtx<'_>>, IndexError> {
        if self.readonly {
            return Err(IndexError::ReadOnly {
                path: self.filepath.clone(),
            });
        }
        if !self.log2_checked {
            self.log2_checked = true;
            self.log2_unlink_old();
        }
        self.log_mut()?.lock_head()?;
        self.sync_locked = true;
        self.sync_map_to_head();

        let requests = self.sync_requests();
        let seen_nonexternal = !requests.is_empty();
        if flags.contains(SyncFlags::REQUIRE_CHANGES) && requests.is_empty() {
            self.sync_end();
            return Ok(None);
        }
        let records = sync_records(&requests);
        let view = self.view();
        let mut tflags = TransactionFlags::EXTERNAL;
        if flags.contains(SyncFlags::FSYNC) {
            tflags |= TransactionFlags::FSYNC;
        }
        let transaction = Transaction::new(view.clone(), tflags);
        Ok(Some(IndexSyncCtx {
            index: self,
            flags,
            view,
            transaction,
            records,
            next: 0,
            seen_nonexternal,
            finished: false,
        }))
    }

    /// mail_transaction_log_2_unlink_old: delete a `.log.2` older than
    /// `log2_max_age_secs`; a changed `log2_rotate_time` is written by
    /// the next sync commit.
    fn log2_unlink_old(&mut self) {
        use std::os::unix::fs::MetadataExt;
        if self.in_memory {
            return;
        }
        let path2 = self.file_path(".log.2");
        let mut rotated = self.map.hdr.log2_rotate_time;
        if rotated == 0 {
            rotated = match std::fs::metadata(&path2) {
                Ok(st) => st.mtime().clamp(0, i64::from(u32::MAX - 1)) as u32,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => u32::MAX,
                Err(_) => return,
            };
        }
        let max_age = i64::from(self.settings.optimization.log2_max_age_secs);
        let old = i64::from(unix_now()) - i64::from(rotated) >= max_age;
        if rotated != u32::MAX && old && !self.readonly {
            if let Err(e) = std::fs::remove_file(&path2) {
                log::warn!("unlink({}) failed: {e}", path2.display());
            }
            rotated = u32::MAX;
        }
        if rotated != self.map.hdr.log2_rotate_time {
            self.log2_delayed_update = rotated;
        }
    }

    /// The non-external records between the tail offset and the head.
    fn sync_requests(&self) -> Vec<LogRecord> {
        let log = self.log.as_ref().expect("locked log");
        let hdr = &self.map.hdr;
        let from = hdr.log_file_tail_offset;
        let records = records_between(log, hdr.log_file_seq, from).unwrap_or_default();
        records.into_iter().filter(|r| !r.is_external()).collect()
    }

    fn sync_end(&mut self) {
        self.sync_locked = false;
        if let Some(log) = self.log.as_mut() {
            log.unlock();
        }
    }

    /// mail_transaction_log_want_rotate.
    pub(crate) fn log_wants_rotate(&self) -> bool {
        let Some(log) = self.log.as_ref() else {
            return false;
        };
        let head = &log.head;
        let opt = &self.settings.optimization;
        let size = head.sync_offset as u64;
        if head.hdr.version() < super::format::log::version_full(1, 3) || size > opt.log_max_size {
            return true;
        }
        if size < opt.log_min_size {
            return false;
        }
        i64::from(head.hdr.create_stamp) < i64::from(unix_now()) - i64::from(opt.log_min_age_secs)
    }

    /// mail_index_sync_want_index_write.
    pub(crate) fn wants_index_write(&self) -> bool {
        let hdr = &self.map.hdr;
        let seq = self.main_index_hdr_log_file_seq;
        if (seq != 0 && seq != hdr.log_file_seq)
            || self.index_file_id.is_none()
            || self.need_recreate
        {
            return true;
        }
        let log_diff = hdr
            .log_file_tail_offset
            .wrapping_sub(self.main_index_hdr_log_file_tail_offset);
        log_diff > self.settings.optimization.rewrite_max_log_bytes
    }

    /// mail_index_write's rotation half: start a new log after the
    /// map's position and point the map at it.
    pub(crate) fn rotate_log(&mut self) -> Result<(), IndexError> {
        let now = unix_now();
        let highest = map_highest_modseq(&self.map);
        let log = self.log_mut()?;
        let head = &log.head;
        let mut hdr = head.hdr.clone();
        hdr.file_seq = head.hdr.file_seq + 1;
        hdr.prev_file_seq = head.hdr.file_seq;
        hdr.prev_file_offset = head.sync_offset as u32;
        hdr.create_stamp = now;
        hdr.initial_modseq = highest.max(head.sync_highest_modseq()).max(1);
        hdr.extra.clear();
        hdr.hdr_size = super::format::log::HEADER_SIZE as u16;
        log.rotate(&hdr)?;
        let hdr_size = u32::from(log.head.hdr.hdr_size);
        let file_seq = log.head.hdr.file_seq;

        let map = std::sync::Arc::make_mut(&mut self.map);
        map.hdr.log_file_seq = file_seq;
        map.hdr.log_file_head_offset = hdr_size;
        map.hdr.log_file_tail_offset = hdr_size;
        map.hdr.log2_rotate_time = now;
        Ok(())
    }
}

/// The sync records of the requests, in Dovecot's order: by type as
/// mail_index_sync_next merges them (expunges, flags, keywords), each
/// in log order.
fn sync_records(requests: &[LogRecord]) -> Vec<SyncRec> {
    let mut expunges: BTreeMap<u32, [u8; 16]> = BTreeMap::new();
    let mut out = Vec::new();
    for rec in requests {
        match &rec.body {
            RecordBody::Expunge(ranges) => {
                for r in ranges {
                    for uid in r.uid1..=r.uid2.min(r.uid1.saturating_add(1 << 20)) {
                        expunges.entry(uid).or_insert([0; 16]);
                    }
                }
            }
            RecordBody::ExpungeGuid(recs) => {
                for r in recs {
                    expunges.insert(r.uid, r.guid_128);
                }
            }
            RecordBody::FlagUpdate(updates) => out.extend(updates.iter().map(|u| SyncRec {
                uid1: u.uids.uid1,
                uid2: u.uids.uid2,
                kind: SyncType::Flags {
                    add: u.add_flags,
                    remove: u.remove_flags,
                },
            })),
            RecordBody::KeywordUpdate(k) => {
                let keyword = String::from_utf8_lossy(&k.name).into_owned();
                out.extend(k.uids.iter().map(|r| SyncRec {
                    uid1: r.uid1,
                    uid2: r.uid2,
                    kind: match k.modify {
                        super::format::log::KeywordModify::Remove => SyncType::KeywordRemove {
                            keyword: keyword.clone(),
                        },
                        _ => SyncType::KeywordAdd {
                            keyword: keyword.clone(),
                        },
                    },
                }));
            }
            _ => {}
        }
    }
    let mut all: Vec<SyncRec> = expunges
        .into_iter()
        .map(|(uid, guid_128)| SyncRec {
            uid1: uid,
            uid2: uid,
            kind: SyncType::Expunge { guid_128 },
        })
        .collect();
    all.extend(out);
    all
}

impl IndexSyncCtx<'_> {
    /// mail_index_sync_next.
    pub fn next_rec(&mut self) -> Option<SyncRec> {
        let rec = self.records.get(self.next).cloned();
        self.next += 1;
        rec
    }

    /// mail_index_sync_have_any: were there requests to sync?
    pub fn have_any(&self) -> bool {
        !self.records.is_empty()
    }

    /// The index being synced (for keyword lookups and the like).
    pub fn index(&mut self) -> &mut Index {
        self.index
    }

    /// mail_index_sync_commit: write the backend's transaction and the
    /// new tail offset, refresh, and rotate the log and rewrite
    /// `dovecot.index` when wanted.
    pub fn commit(mut self) -> Result<(), IndexError> {
        self.finished = true;
        let mut t = std::mem::replace(
            &mut self.transaction,
            Transaction::new(self.view.clone(), TransactionFlags::EXTERNAL),
        );
        self.add_commit_header_updates(&mut t);
        let update_tail = self.seen_nonexternal
            || self.flags.contains(SyncFlags::UPDATE_TAIL_OFFSET)
            || !t.expunges.is_empty();
        let result = self.index.commit_sync(t, update_tail);
        let result = result.and_then(|()| self.finish_index());
        self.index.sync_end();
        result
    }

    /// The header updates a sync commit adds: `DROP_RECENT`'s
    /// `first_recent_uid`, and a delayed `log2_rotate_time`.
    fn add_commit_header_updates(&mut self, t: &mut Transaction) {
        const FIRST_RECENT_UID: usize = 48;
        const LOG2_ROTATE_TIME: usize = 76;
        let hdr = &self.index.map.hdr;
        if self.flags.contains(SyncFlags::DROP_RECENT) {
            let next_uid = hdr.next_uid + t.appends.len() as u32;
            if hdr.first_recent_uid < next_uid {
                t.update_header(FIRST_RECENT_UID, &next_uid.to_ne_bytes(), false);
            }
        }
        let log2 = std::mem::take(&mut self.index.log2_delayed_update);
        if log2 != 0 {
            t.update_header(LOG2_ROTATE_TIME, &log2.to_ne_bytes(), true);
        }
    }

    fn finish_index(&mut self) -> Result<(), IndexError> {
        let index = &mut *self.index;
        index.sync_map_to_head();
        let want_rotate = index.log_wants_rotate();
        if want_rotate {
            index.rotate_log()?;
        }
        if want_rotate || index.wants_index_write() {
            index.write_index_file_after_sync(want_rotate)?;
        }
        Ok(())
    }

    /// mail_index_sync_rollback: unlock without writing.
    pub fn rollback(mut self) {
        self.finished = true;
        self.index.sync_end();
    }
}

impl Drop for IndexSyncCtx<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.index.sync_end();
        }
    }
}
