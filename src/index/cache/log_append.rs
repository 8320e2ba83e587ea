//! Writing [`IndexUpdates`] to `dovecot.index.log` as one transaction,
//! the way Dovecot's index transaction commit writes the "cache"
//! extension changes (mail-index-transaction-export.c,
//! mail-transaction-log-append.c): under the log lock, an extension
//! intro, the reset if any, an intro with the reset_id the offsets
//! belong to and the record updates, preceded by a boundary record,
//! appended after the last complete transaction.
//!
//! This is a stand-in until the index engine's transactions exist; it
//! knows only the "cache" extension.
//! TODO(cache-index-wiring): replace with the index transaction API
//! (mail_index_ext_reset, mail_index_ext_using_reset_id,
//! mail_index_update_ext) and its commit.

use std::fs::{File, OpenOptions};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{CacheError, IndexUpdates, Result, io_error};
use crate::index::format::log::{
    EXT_INTRO_FLAG_NO_SHRINK, ExtIntro, ExtRecUpdate, ExtReset, LogFileHeader, LogRecord,
    RecordBody, RecordFlags,
};
use crate::index::map::open::sync_end;
use crate::index::map::{EXT_CACHE, IndexFiles, IndexMap, open_index};
use crate::util::file_dotlock::{Dotlock, DotlockSettings};
use crate::util::file_lock::{LockKind, LockMethod, wait_lock};

/// `MAIL_TRANSACTION_LOG_LOCK_TIMEOUT`-like default wait for the log.
pub const LOG_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// The head transaction log, locked.
#[derive(Debug)]
pub struct LockedLog<'a> {
    file: &'a File,
    path: &'a Path,
    index_path: &'a Path,
}

/// Run `f` with the transaction log of the index at `index_path`
/// (`dovecot.index`) locked with `method` (`mail_transaction_log_sync_lock()`
/// as far as the cache needs it).
pub fn with_log_lock<T>(
    index_path: &Path,
    method: LockMethod,
    f: impl FnOnce(&mut LockedLog<'_>) -> Result<T>,
) -> Result<T> {
    let mut log_path = index_path.as_os_str().to_owned();
    log_path.push(".log");
    let path = PathBuf::from(log_path);
    loop {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_error("open", &path))?;
        let _guard = lock(&file, &path, method)?;
        if replaced(&file, &path)? {
            // Rotated between our open and the lock.
            continue;
        }
        let mut log = LockedLog {
            file: &file,
            path: &path,
            index_path,
        };
        return f(&mut log);
    }
}

/// Either kind of held lock, released when dropped.
#[derive(Debug)]
#[allow(dead_code)]
enum Held<'fd> {
    Fd(crate::util::file_lock::FileLock<'fd>),
    Dot(Dotlock),
}

fn lock<'fd>(file: &'fd File, path: &Path, method: LockMethod) -> Result<Held<'fd>> {
    Ok(match method {
        LockMethod::Dotlock => {
            let set = DotlockSettings {
                timeout: LOG_LOCK_TIMEOUT,
                ..DotlockSettings::default()
            };
            Held::Dot(Dotlock::create(&set, path)?)
        }
        m => Held::Fd(wait_lock(
            file.as_fd(),
            path,
            LockKind::Write,
            m,
            LOG_LOCK_TIMEOUT,
        )?),
    })
}

fn replaced(file: &File, path: &Path) -> Result<bool> {
    let ours = file.metadata().map_err(io_error("fstat", path))?;
    let now = std::fs::metadata(path).map_err(io_error("stat", path))?;
    Ok(ours.ino() != now.ino() || ours.dev() != now.dev())
}

impl LockedLog<'_> {
    /// The index as it is now, read while the log is locked.
    pub fn read_index(&self) -> Result<IndexMap> {
        let dir = self.index_path.parent().unwrap_or(Path::new("."));
        let prefix = self.index_path.file_name().unwrap_or_default();
        let files = IndexFiles::read(dir, &prefix.to_string_lossy())
            .map_err(io_error("read", self.index_path))?;
        let opened = open_index(&files).map_err(|e| self.error(e.to_string()))?;
        Ok(opened.map)
    }

    /// Append `updates` for the index whose current map is `map`.
    pub fn append(&mut self, updates: &IndexUpdates, map: &IndexMap) -> Result<()> {
        if updates.is_empty() {
            return Ok(());
        }
        let records = cache_records(updates, map);
        let mut out = Vec::new();
        let boundary = LogRecord {
            offset: 0,
            flags: RecordFlags::EXTERNAL,
            body: RecordBody::Boundary(0),
            modseq: 0,
            modseq_changed: false,
        };
        boundary
            .encode(&mut out)
            .map_err(|e| self.error(e.to_string()))?;
        for body in records {
            let rec = LogRecord {
                body,
                ..boundary.clone()
            };
            rec.encode(&mut out)
                .map_err(|e| self.error(e.to_string()))?;
        }
        let size = out.len() as u32;
        out[8..12].copy_from_slice(&size.to_ne_bytes());
        self.write_at_end(&out)
    }

    /// Append after the last complete transaction, dropping any torn
    /// write after it as Dovecot does.
    fn write_at_end(&self, out: &[u8]) -> Result<()> {
        let data = std::fs::read(self.path).map_err(io_error("read", self.path))?;
        let hdr = LogFileHeader::decode(&data).map_err(|e| self.error(e.to_string()))?;
        let end = sync_end(&data, usize::from(hdr.hdr_size));
        if end < data.len() {
            self.file
                .set_len(end as u64)
                .map_err(io_error("ftruncate", self.path))?;
        }
        self.file
            .write_all_at(out, end as u64)
            .map_err(io_error("write", self.path))
    }

    fn error(&self, reason: String) -> CacheError {
        CacheError::Log {
            path: self.path.to_path_buf(),
            reason,
        }
    }
}

/// The log records for `updates` (`log_append_ext_intro()`, the reset,
/// `log_append_ext_recs()`).
fn cache_records(updates: &IndexUpdates, map: &IndexMap) -> Vec<RecordBody> {
    let mut records = Vec::new();
    if let Some(new_reset_id) = updates.reset {
        records.push(RecordBody::ExtIntro(vec![intro(map, 0)]));
        records.push(RecordBody::ExtReset(ExtReset {
            new_reset_id,
            preserve_data: Some(0),
        }));
    }
    if updates.offsets.is_empty() {
        return records;
    }
    let mut by_uid: Vec<(u32, u32)> = Vec::new();
    for &(_, uid, offset) in &updates.offsets {
        match by_uid.iter_mut().find(|(u, _)| *u == uid) {
            Some(entry) => entry.1 = offset,
            None => by_uid.push((uid, offset)),
        }
    }
    by_uid.sort_unstable();
    let rec_updates = by_uid
        .into_iter()
        .map(|(uid, offset)| ExtRecUpdate {
            uid,
            data: offset.to_ne_bytes().to_vec(),
        })
        .collect();
    records.push(RecordBody::ExtIntro(vec![intro(map, updates.reset_id)]));
    records.push(RecordBody::ExtRecUpdate {
        record_size: 4,
        updates: rec_updates,
    });
    records
}

/// The "cache" extension's intro: by its number in the index if it has
/// one, else by name as a new extension.
fn intro(map: &IndexMap, reset_id: u32) -> ExtIntro {
    let existing = map.ext_idx(EXT_CACHE);
    let hdr_size = existing.map_or(0, |i| map.extensions[i].hdr_size);
    ExtIntro {
        ext_id: existing.map_or(u32::MAX, |i| i as u32),
        reset_id,
        hdr_size,
        record_size: 4,
        record_align: 4,
        flags: EXT_INTRO_FLAG_NO_SHRINK,
        name: match existing {
            Some(_) => Vec::new(),
            None => EXT_CACHE.as_bytes().to_vec(),
        },
    }
}
