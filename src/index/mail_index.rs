//! An index's lifecycle (mail-index.c): allocating it, opening its
//! files with Dovecot's open flags, creating a new index, refreshing the
//! head map from the transaction log, and closing.
//!
//! [`Index`] holds what `struct mail_index` holds: the directory and
//! file path, the transaction log, the head [`IndexMap`] (shared with
//! views by `Arc`, copied on write), the extension registry, the
//! index-wide keyword list and where the `dovecot.index` on disk points
//! into the log. `dovecot.index` is read into memory, never mapped
//! (`MAIL_INDEX_OPEN_FLAG_MMAP_DISABLE` is the only mode); the log is
//! read as it grows.
//!
//! TODO(index-open-flags): `NFS_FLUSH`, `KEEP_BACKUPS` and `SAVEONLY`
//! are accepted and ignored.
//! TODO(index-deleted): `mail_index_set_deleted` and the index deletion
//! records are not handled (they are replayed but not acted on).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::format::index::{IndexHeader, hdr_flags};
use super::format::log::{LogFileHeader, LogRecord};
use super::map::sync::{SyncCtx, apply_all};
use super::map::{EXT_MODSEQ, ExtRegistry, IndexFiles, IndexMap, OpenError, open_index};
use super::transaction_log::{FsyncMode, LogError, LogSettings, TransactionLog};
use crate::util::file_lock::LockMethod;

bitflags::bitflags! {
    /// `enum mail_index_open_flags`, same values.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct OpenFlags: u32 {
        const CREATE = 0x01;
        /// Always on here: files are read, not mapped.
        const MMAP_DISABLE = 0x04;
        const DOTLOCK_USE_EXCL = 0x10;
        const NFS_FLUSH = 0x40;
        const READONLY = 0x80;
        const KEEP_BACKUPS = 0x100;
        /// Fail instead of keeping the index in memory when the
        /// directory can't hold it.
        const NEVER_IN_MEMORY = 0x200;
        const SAVEONLY = 0x400;
        const DEBUG = 0x800;
        const NO_DIRTY = 0x1000;
    }
}

bitflags::bitflags! {
    /// `enum mail_index_fsync_mask`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct FsyncMask: u32 {
        const APPENDS = 0x01;
        const EXPUNGES = 0x02;
        const FLAGS = 0x04;
        const KEYWORDS = 0x08;
    }
}

/// `struct mail_index_optimization_settings`: when to rewrite
/// `dovecot.index` and rotate the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptimizationSettings {
    pub rewrite_min_log_bytes: u32,
    pub rewrite_max_log_bytes: u32,
    pub log_min_size: u64,
    pub log_max_size: u64,
    pub log_min_age_secs: u32,
    pub log2_max_age_secs: u32,
}

impl Default for OptimizationSettings {
    /// Dovecot's `default_optimization_set`.
    fn default() -> Self {
        OptimizationSettings {
            rewrite_min_log_bytes: 8 * 1024,
            rewrite_max_log_bytes: 128 * 1024,
            log_min_size: 32 * 1024,
            log_max_size: 1024 * 1024,
            log_min_age_secs: 5 * 60,
            log2_max_age_secs: 3600 * 24 * 2,
        }
    }
}

/// The settings of `mail_index_set_*()`.
#[derive(Debug, Clone, Default)]
pub struct IndexSettings {
    pub lock_method: LockMethod,
    pub max_lock_timeout: Option<Duration>,
    pub fsync_mode: FsyncMode,
    pub fsync_mask: FsyncMask,
    pub optimization: OptimizationSettings,
}

/// Why an index operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    LogFile(#[from] super::transaction_log::LogFileError),
    #[error("{call}({}) failed: {source}", path.display())]
    Io {
        call: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("Index {} does not exist", path.display())]
    NotFound { path: PathBuf },
    #[error("Index {} is not open", path.display())]
    NotOpen { path: PathBuf },
    #[error("Index {}: {reason}", path.display())]
    Open { path: PathBuf, reason: String },
    #[error("Index is read-only: {}", path.display())]
    ReadOnly { path: PathBuf },
    #[error("Corrupted index {}: {reason}", path.display())]
    Corrupted { path: PathBuf, reason: String },
    #[error("{0}")]
    Transaction(String),
}

/// `struct mail_index`.
#[derive(Debug)]
pub struct Index {
    pub dir: Option<PathBuf>,
    pub prefix: String,
    /// `DIR/PREFIX`, i.e. `dovecot.index`.
    pub filepath: PathBuf,
    pub settings: IndexSettings,
    pub flags: OpenFlags,
    pub indexid: u32,
    pub readonly: bool,
    pub in_memory: bool,
    /// `mail_index.extensions`.
    pub registry: ExtRegistry,
    /// `mail_index.keywords`: every keyword name known, the map's first.
    pub keywords: Vec<String>,
    pub(crate) map: Arc<IndexMap>,
    pub(crate) log: Option<TransactionLog>,
    /// Where the `dovecot.index` on disk points into the log.
    pub(crate) main_index_hdr_log_file_seq: u32,
    pub(crate) main_index_hdr_log_file_tail_offset: u32,
    /// (dev, ino) of the `dovecot.index` we read or wrote last.
    pub(crate) index_file_id: Option<(u64, u64)>,
    /// `dovecot.index` must be rewritten at the next sync (it was
    /// corrupted or repaired).
    pub(crate) need_recreate: bool,
    /// `.log.2` was checked for age (`log_2_unlink_checked`).
    pub(crate) log2_checked: bool,
    /// A new `log2_rotate_time` for the next sync to write.
    pub(crate) log2_delayed_update: u32,
    /// The log head is locked by a sync (`log_sync_locked`).
    pub(crate) sync_locked: bool,
    /// Problems found while opening or refreshing, Dovecot's wording.
    pub errors: Vec<String>,
}

impl Index {
    /// mail_index_alloc: nothing is read until [`Index::open`]. `dir`
    /// `None` makes an in-memory index.
    pub fn alloc(dir: Option<&Path>, prefix: &str) -> Self {
        let filepath = match dir {
            Some(dir) => dir.join(prefix),
            None => PathBuf::from(format!("(in-memory index)/{prefix}")),
        };
        Index {
            dir: dir.map(Path::to_path_buf),
            prefix: prefix.to_string(),
            filepath,
            settings: IndexSettings::default(),
            flags: OpenFlags::empty(),
            indexid: 0,
            readonly: false,
            in_memory: dir.is_none(),
            registry: ExtRegistry::new(),
            keywords: Vec::new(),
            map: Arc::new(IndexMap::new(0)),
            log: None,
            main_index_hdr_log_file_seq: 0,
            main_index_hdr_log_file_tail_offset: 0,
            index_file_id: None,
            sync_locked: false,
            need_recreate: false,
            log2_checked: false,
            log2_delayed_update: 0,
            errors: Vec::new(),
        }
    }

    /// The path of one of the index's files: `suffix` "" is
    /// `dovecot.index`, ".log" the log, ".log.2" the old log.
    pub fn file_path(&self, suffix: &str) -> PathBuf {
        let mut path = self.filepath.clone().into_os_string();
        path.push(suffix);
        PathBuf::from(path)
    }

    /// mail_index_open. `Err(NotFound)` when the index does not exist
    /// and `CREATE` was not given.
    pub fn open(&mut self, flags: OpenFlags) -> Result<(), IndexError> {
        self.flags = flags | OpenFlags::MMAP_DISABLE;
        self.readonly = flags.contains(OpenFlags::READONLY);
        if self.in_memory {
            return self.open_in_memory();
        }
        let dir = self.dir.clone().expect("on-disk index has a dir");
        if !self.readonly && !dir_writable(&dir) {
            if flags.contains(OpenFlags::NEVER_IN_MEMORY) && !dir.exists() {
                return Err(IndexError::NotFound { path: dir });
            }
            self.readonly = true;
        }

        let log = match self.open_log()? {
            Some(log) => log,
            None if flags.contains(OpenFlags::CREATE) && !self.readonly => self.create_log()?,
            None => {
                return Err(IndexError::NotFound {
                    path: self.filepath.clone(),
                });
            }
        };
        self.log = Some(log);
        self.read_map()
    }

    fn log_settings(&self) -> LogSettings {
        LogSettings {
            lock_method: self.settings.lock_method,
            max_lock_timeout: self
                .settings
                .max_lock_timeout
                .unwrap_or(super::transaction_log::LOCK_TIMEOUT),
            fsync_mode: self.settings.fsync_mode,
        }
    }

    fn open_log(&self) -> Result<Option<TransactionLog>, IndexError> {
        let path = self.file_path(".log");
        Ok(TransactionLog::open(
            &path,
            self.log_settings(),
            self.readonly,
        )?)
    }

    /// A new log: for a new index (file_seq 2 after the empty map's 1,
    /// as Dovecot numbers it), or after a lost log, continuing the
    /// sequence of the `dovecot.index` that is there.
    fn create_log(&mut self) -> Result<TransactionLog, IndexError> {
        let index_hdr = self.read_index_header();
        let now = unix_now();
        let hdr = match &index_hdr {
            Some(h) => {
                let mut hdr = LogFileHeader::new(h.indexid, h.log_file_seq + 1, now);
                hdr.prev_file_seq = h.log_file_seq;
                hdr.prev_file_offset = h.log_file_head_offset;
                hdr.initial_modseq = 1;
                hdr
            }
            None => {
                let mut hdr = LogFileHeader::new(now, 2, now);
                hdr.initial_modseq = 1;
                hdr
            }
        };
        if index_hdr.is_some() {
            self.errors.push(format!(
                "{}: log file lost, recreated",
                self.filepath.display()
            ));
        }
        let path = self.file_path(".log");
        Ok(TransactionLog::create(
            &path,
            self.log_settings(),
            &hdr,
            false,
        )?)
    }

    fn read_index_header(&self) -> Option<IndexHeader> {
        let data = fs::read(&self.filepath).ok()?;
        let hdr = IndexHeader::decode(super::format::Bytes::new(&data)).ok()?;
        super::format::index::check_compat(&hdr, data.len() as u64).ok()?;
        Some(hdr)
    }

    fn open_in_memory(&mut self) -> Result<(), IndexError> {
        let now = unix_now();
        let mut hdr = LogFileHeader::new(now, 2, now);
        hdr.initial_modseq = 1;
        self.indexid = now;
        let mut map = IndexMap::new(now);
        map.hdr.log_file_seq = 2;
        map.hdr.log_file_head_offset = u32::from(hdr.hdr_size);
        self.map = Arc::new(map);
        self.log = Some(TransactionLog::in_memory(&self.filepath, hdr));
        Ok(())
    }

    /// Read `dovecot.index` and replay the log over it (mail_index_map
    /// with the head handler). A `dovecot.index` that can't be used is
    /// rebuilt from the log.
    fn read_map(&mut self) -> Result<(), IndexError> {
        let log = self.log.as_ref().expect("log opened");
        let index_data = read_optional(&self.filepath)?;
        let (index_data, fscked) = match index_data {
            Some(data) => {
                let (data, fscked) = super::fsck::fsck_file(data, &mut self.errors);
                (Some(data), fscked)
            }
            None => (None, false),
        };
        let log2 = read_optional(&self.file_path(".log.2"))?;
        let log_end = replay_end(index_data.as_deref(), &log.head);
        let index_hdr = index_data
            .as_deref()
            .and_then(|d| IndexHeader::decode(super::format::Bytes::new(d)).ok());
        let files = IndexFiles {
            index: index_data,
            log: Some(log.head.data()[..log_end].to_vec()),
            log2,
        };
        let opened = match open_index(&files) {
            Ok(opened) => opened,
            Err(OpenError::IndexidMismatch { log, index }) => {
                let reason = format!("indexid changed: {log} -> {index}");
                self.errors.push(reason);
                open_index(&IndexFiles {
                    index: None,
                    ..files.clone()
                })
                .map_err(|e| self.open_error(e))?
            }
            Err(e) => return Err(self.open_error(e)),
        };
        let opened = if opened
            .errors
            .iter()
            .any(|e| e.starts_with("Corrupted index file"))
        {
            self.errors.extend(opened.errors);
            self.index_file_id = None;
            let without_index = IndexFiles {
                index: None,
                ..files
            };
            open_index(&without_index).map_err(|e| self.open_error(e))?
        } else {
            opened
        };
        self.errors.extend(opened.errors.iter().cloned());
        self.registry = opened.registry;
        self.keywords = opened.map.keywords.clone();
        self.indexid = opened.map.hdr.indexid;
        self.map = Arc::new(opened.map);
        self.note_index_file(index_hdr);
        self.catch_up_with_log();
        self.sync_map_to_head();
        super::fsck::fsck_if_needed(self, fscked);
        Ok(())
    }

    fn open_error(&self, e: OpenError) -> IndexError {
        IndexError::Open {
            path: self.filepath.clone(),
            reason: e.to_string(),
        }
    }

    /// Remember where the `dovecot.index` we read points into the log.
    fn note_index_file(&mut self, hdr: Option<IndexHeader>) {
        let usable = hdr.as_ref().is_some_and(|h| h.indexid == self.indexid);
        if let Some(hdr) = hdr.filter(|_| usable) {
            self.main_index_hdr_log_file_seq = hdr.log_file_seq;
            self.main_index_hdr_log_file_tail_offset = hdr.log_file_tail_offset;
        }
        let corrupted = self
            .errors
            .iter()
            .any(|e| e.starts_with("Corrupted index file"));
        self.need_recreate = corrupted;
        self.index_file_id = if usable && !corrupted {
            file_id(&self.filepath)
        } else {
            None
        };
    }

    /// After the replay the map should be at the head's end; when the
    /// replay stopped early (a bad record), apply what our log reader
    /// framed after it.
    fn catch_up_with_log(&mut self) {
        let Some(log) = self.log.as_ref() else {
            return;
        };
        let head = &log.head;
        if self.map.hdr.log_file_seq == head.hdr.file_seq {
            let tail = head.max_tail_offset;
            let map = Arc::make_mut(&mut self.map);
            map.hdr.log_file_tail_offset = map.hdr.log_file_tail_offset.max(tail);
        }
    }

    /// The head map (`index->map`).
    pub fn map(&self) -> &Arc<IndexMap> {
        &self.map
    }

    pub fn log(&self) -> Option<&TransactionLog> {
        self.log.as_ref()
    }

    pub(crate) fn log_mut(&mut self) -> Result<&mut TransactionLog, IndexError> {
        let path = self.filepath.clone();
        self.log.as_mut().ok_or(IndexError::NotOpen { path })
    }

    /// mail_index_refresh: read what other processes appended to the
    /// log (following a rotation) and apply it to the head map.
    pub fn refresh(&mut self) -> Result<(), IndexError> {
        let log = self.log_mut()?;
        log.refresh()?;
        log.head.read_more()?;
        self.sync_map_to_head();
        Ok(())
    }

    /// Apply every log record after the map's position up to the head's
    /// end (mail_index_sync_map).
    pub(crate) fn sync_map_to_head(&mut self) {
        let Some(log) = self.log.as_ref() else {
            return;
        };
        let (seq, offset) = (self.map.hdr.log_file_seq, self.map.hdr.log_file_head_offset);
        let (head_seq, head_offset) = log.head_position();
        if (seq, offset) == (head_seq, head_offset) {
            return;
        }
        let Some(parts) = record_slices(log, seq, offset) else {
            let reason = format!("Lost log for seq={seq} offset={offset}");
            log::warn!("{}: {reason}", self.filepath.display());
            self.errors.push(reason);
            return;
        };
        let max_tail = log.head.max_tail_offset;
        let end_modseq = log.head.sync_highest_modseq();
        if parts.iter().all(|p| p.is_empty()) && seq == head_seq {
            return;
        }
        let map = Arc::make_mut(&mut self.map);
        for records in parts {
            apply_records(map, &mut self.registry, records, &mut self.errors);
        }
        let mut ctx = SyncCtx::new(map, &mut self.registry);
        ctx.update_modseq_header(head_seq, head_offset, end_modseq);
        if map.hdr.log_file_seq != head_seq {
            map.hdr.log_file_seq = head_seq;
            map.hdr.log_file_tail_offset = 0;
        }
        map.hdr.log_file_head_offset = head_offset;
        map.hdr.log_file_tail_offset = map.hdr.log_file_tail_offset.max(max_tail);
        self.merge_map_keywords();
    }

    /// New keywords from the map join the index-wide list.
    pub(crate) fn merge_map_keywords(&mut self) {
        for kw in &self.map.keywords {
            if !self.keywords.iter().any(|k| k.eq_ignore_ascii_case(kw)) {
                self.keywords.push(kw.clone());
            }
        }
    }

    /// The highest modseq of the head map.
    pub fn highest_modseq(&self) -> u64 {
        map_highest_modseq(&self.map)
    }

    /// mail_index_close: unlock and drop the files.
    pub fn close(&mut self) {
        self.log = None;
    }
}

/// How much of the head log the first replay needs to see: up to where
/// `dovecot.index` points when it points into the head (the rest is
/// applied from the records our log reader already decoded), else all.
fn replay_end(index: Option<&[u8]>, head: &super::transaction_log::LogFile) -> usize {
    let hdr = index.and_then(|d| IndexHeader::decode(super::format::Bytes::new(d)).ok());
    let len = head.data().len();
    match hdr {
        Some(h) if h.log_file_seq == head.hdr.file_seq => {
            let end = h.log_file_head_offset as usize;
            let starts_record = head
                .records
                .binary_search_by_key(&(end as u64), |r| r.offset)
                .is_ok();
            if end <= head.sync_offset && (starts_record || end == head.sync_offset) {
                end.max(usize::from(head.hdr.hdr_size))
            } else {
                len
            }
        }
        _ => len,
    }
}

/// The log records from (seq, offset) to the head's end, following one
/// rotation: the previous file's part and the head's, without copying
/// them; `None` when that position is no longer in our files.
pub(crate) fn record_slices(
    log: &TransactionLog,
    seq: u32,
    offset: u32,
) -> Option<[&[LogRecord]; 2]> {
    let head = &log.head;
    if seq == head.hdr.file_seq {
        return Some([&[], head.records_from(offset)]);
    }
    let prev = log.prev.as_ref().filter(|p| p.hdr.file_seq == seq);
    let before: &[LogRecord] = match prev {
        Some(prev) => prev.records_from(offset),
        None if head.hdr.prev_file_seq == seq && head.hdr.prev_file_offset == offset => &[],
        None => return None,
    };
    Some([before, &head.records])
}

/// [`record_slices`] as one owned list.
pub(crate) fn records_between(
    log: &TransactionLog,
    seq: u32,
    offset: u32,
) -> Option<Vec<LogRecord>> {
    record_slices(log, seq, offset).map(|parts| parts.concat())
}

/// Apply log records to a map, collecting the corruption found.
pub(crate) fn apply_records(
    map: &mut IndexMap,
    registry: &mut ExtRegistry,
    records: &[LogRecord],
    errors: &mut Vec<String>,
) {
    let had_dirty = map.hdr.flags & hdr_flags::HAVE_DIRTY != 0;
    let mut ctx = SyncCtx::new(map, registry);
    apply_all(&mut ctx, records);
    errors.append(&mut ctx.errors);
    if had_dirty {
        map.hdr.flags |= hdr_flags::HAVE_DIRTY;
    }
}

/// The modseq header's highest modseq, or 0 without modseqs
/// (mail_index_map_modseq_get_highest).
pub fn map_highest_modseq(map: &IndexMap) -> u64 {
    let Some(idx) = map.ext_idx(EXT_MODSEQ) else {
        return 0;
    };
    let h = map.extensions[idx].header();
    h.get(..8)
        .map_or(0, |b| u64::from_ne_bytes(b.try_into().expect("8 bytes")))
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, IndexError> {
    match fs::read(path) {
        Ok(data) => Ok(Some(data)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(IndexError::Io {
            call: "read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

pub(crate) fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).ok().map(|st| (st.dev(), st.ino()))
}

fn dir_writable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access() only reads the NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// `ioloop_time` as Dovecot stores it in headers.
pub(crate) fn unix_now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}
