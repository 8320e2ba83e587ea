//! The transaction log of an index (mail-transaction-log.c,
//! mail-transaction-log-append.c and the writing half of
//! mail-transaction-log-file.c): opening and creating `dovecot.index.log`,
//! locking its head as Dovecot locks it, appending transactions, and
//! rotating the log to `.log.2`.
//!
//! The head lock is a whole-file write lock on `dovecot.index.log` with
//! `lock_method` (fcntl or flock), or `dovecot.index.log.lock` with
//! dotlock. A new log file is written under `dovecot.index.log.newlock`
//! and renamed into place; the old one is first hard-linked to
//! `.log.2`. Appends go to the end of the head with `O_APPEND` while
//! the head is locked, and are `fdatasync`ed as `fsync_mode` says.
//!
//! TODO(index-nfs): NFS attribute cache flushing and `dotlock_use_excl`
//! are not implemented; they matter only on NFS.
//! TODO(index-to-memory): after a write error Dovecot moves the log to
//! memory and goes on; we return the error.

pub mod file;

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use file::{LogFile, LogFileError};

use crate::index::format::log::LogFileHeader;
use crate::util::file_dotlock::{Dotlock, DotlockError, DotlockSettings};
use crate::util::file_lock::{self, LockError, LockKind, LockMethod, OwnedFileLock};

/// `MAIL_TRANSACTION_LOG_LOCK_TIMEOUT`.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(3 * 60);
/// `MAIL_TRANSACTION_LOG_DOTLOCK_CHANGE_TIMEOUT`.
pub const DOTLOCK_CHANGE_TIMEOUT: Duration = Duration::from_secs(3 * 60);
/// `LOG_NEW_DOTLOCK_SUFFIX`: the lock a new log file is written under.
pub const NEW_DOTLOCK_SUFFIX: &str = ".newlock";

/// `fsync_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsyncMode {
    /// fdatasync only the changes in the fsync mask.
    #[default]
    Optimized,
    Always,
    Never,
}

/// What the log needs to know of the index settings.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub lock_method: LockMethod,
    /// `mail_max_lock_timeout` (Dovecot caps it at [`LOCK_TIMEOUT`]).
    pub max_lock_timeout: Duration,
    pub fsync_mode: FsyncMode,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            lock_method: LockMethod::Fcntl,
            max_lock_timeout: LOCK_TIMEOUT,
            fsync_mode: FsyncMode::Optimized,
        }
    }
}

impl LogSettings {
    fn lock_timeout(&self) -> Duration {
        self.max_lock_timeout.min(LOCK_TIMEOUT)
    }

    fn dotlock_settings(&self, suffix: &str) -> DotlockSettings {
        DotlockSettings {
            lock_suffix: suffix.to_string(),
            timeout: self.lock_timeout(),
            stale_timeout: DOTLOCK_CHANGE_TIMEOUT,
            ..DotlockSettings::default()
        }
    }
}

/// Why a log operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    File(#[from] LogFileError),
    #[error("Timeout while waiting for lock for transaction log file {}: {source}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: LockError,
    },
    #[error("dotlock for transaction log file {}: {source}", path.display())]
    Dotlock {
        path: PathBuf,
        #[source]
        source: DotlockError,
    },
    #[error("Transaction log {} lost while it was open", path.display())]
    Lost { path: PathBuf },
    #[error("Index is read-only, can't write-lock {}", path.display())]
    ReadOnly { path: PathBuf },
    #[error("transaction log {} is not locked", path.display())]
    NotLocked { path: PathBuf },
}

/// The held head lock; dropping it unlocks.
#[derive(Debug)]
enum HeadLock {
    File(#[allow(dead_code)] OwnedFileLock),
    Dot(Dotlock),
    Memory,
}

/// `struct mail_transaction_log`: the head file, the one before it
/// (kept after a rotation for views still reading it), and the lock.
#[derive(Debug)]
pub struct TransactionLog {
    pub filepath: PathBuf,
    pub settings: LogSettings,
    pub head: LogFile,
    /// The previous head, while someone may still need its records.
    pub prev: Option<LogFile>,
    lock: Option<HeadLock>,
    readonly: bool,
}

impl TransactionLog {
    /// Open `path`; `Ok(None)` when there is no log yet.
    pub fn open(
        path: &Path,
        settings: LogSettings,
        readonly: bool,
    ) -> Result<Option<Self>, LogError> {
        let Some(head) = LogFile::open(path, !readonly)? else {
            return Ok(None);
        };
        Ok(Some(Self::with_head(path, settings, head, readonly)))
    }

    fn with_head(path: &Path, settings: LogSettings, head: LogFile, readonly: bool) -> Self {
        TransactionLog {
            filepath: path.to_path_buf(),
            settings,
            head,
            prev: None,
            lock: None,
            readonly,
        }
    }

    /// A log that lives in memory only (`MAIL_INDEX_OPEN_FLAG_NEVER_IN_MEMORY`
    /// unset and no directory).
    pub fn in_memory(path: &Path, hdr: LogFileHeader) -> Self {
        let mut data = Vec::new();
        hdr.encode(&mut data);
        let head = LogFile::with_header(path, hdr, data);
        Self::with_head(path, LogSettings::default(), head, false)
    }

    /// Create the log file with `hdr` (mail_transaction_log_file_create):
    /// written under the `.newlock` dotlock and renamed into place. When
    /// `keep_old` and a log exists, it is linked to `.log.2` first.
    pub fn create(
        path: &Path,
        settings: LogSettings,
        hdr: &LogFileHeader,
        keep_old: bool,
    ) -> Result<Self, LogError> {
        let head = create_file(path, &settings, hdr, keep_old, None)?;
        Ok(Self::with_head(path, settings, head, false))
    }

    pub fn is_locked(&self) -> bool {
        self.lock.is_some()
    }

    /// Lock the head (mail_transaction_log_lock_head): lock the file we
    /// have, then make sure it is still the head; if another process
    /// rotated it meanwhile, move to the new head and lock again. The
    /// head's new records are read under the lock.
    pub fn lock_head(&mut self) -> Result<(), LogError> {
        if self.lock.is_some() {
            return Ok(());
        }
        loop {
            let lock = self.lock_file()?;
            if self.refresh()? {
                drop(lock);
                continue;
            }
            self.lock = Some(lock);
            self.head.read_more()?;
            return Ok(());
        }
    }

    fn lock_file(&self) -> Result<HeadLock, LogError> {
        let path = &self.head.path;
        let Some(file) = self.head.file.as_ref() else {
            return Ok(HeadLock::Memory);
        };
        let method = self.settings.lock_method;
        if method == LockMethod::Dotlock {
            let set = self.settings.dotlock_settings(".lock");
            return Dotlock::create(&set, path)
                .map(HeadLock::Dot)
                .map_err(|source| LogError::Dotlock {
                    path: path.clone(),
                    source,
                });
        }
        if self.readonly {
            return Err(LogError::ReadOnly { path: path.clone() });
        }
        let timeout = self.settings.lock_timeout();
        file_lock::wait_lock_owned(file, path, LockKind::Write, method, timeout)
            .map(HeadLock::File)
            .map_err(|source| LogError::Lock {
                path: path.clone(),
                source,
            })
    }

    pub fn unlock(&mut self) {
        if let Some(HeadLock::Dot(dotlock)) = self.lock.take() {
            if let Err(e) = dotlock.delete() {
                log::warn!("{}: {e}", self.head.path.display());
            }
        }
    }

    /// mail_transaction_log_refresh: if `dovecot.index.log` is now
    /// another file, read the old head to its end, keep it as `prev`,
    /// and open the new one. Returns whether the head changed.
    pub fn refresh(&mut self) -> Result<bool, LogError> {
        if self.head.is_in_memory() {
            return Ok(false);
        }
        let st = match fs::metadata(&self.filepath) {
            Ok(st) => st,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(LogError::Lost {
                    path: self.filepath.clone(),
                });
            }
            Err(e) => return Err(LogFileError::io("stat", &self.filepath, e).into()),
        };
        if (st.dev(), st.ino()) == (self.head.dev, self.head.ino) {
            return Ok(false);
        }
        let Some(new_head) = LogFile::open(&self.filepath, !self.readonly)? else {
            return Err(LogError::Lost {
                path: self.filepath.clone(),
            });
        };
        self.head.read_more()?;
        self.prev = Some(std::mem::replace(&mut self.head, new_head));
        Ok(true)
    }

    /// Append one transaction's bytes to the locked head
    /// (log_buffer_write): drop garbage after the last complete
    /// transaction, write, `fdatasync` as configured, and take the new
    /// records in. Returns the offset the transaction starts at.
    pub fn append(&mut self, bytes: &[u8], want_fsync: bool) -> Result<u32, LogError> {
        if self.lock.is_none() {
            return Err(LogError::NotLocked {
                path: self.filepath.clone(),
            });
        }
        let head = &mut self.head;
        let start = head.sync_offset;
        if let Some(file) = head.file.as_mut() {
            if head.data.len() > start {
                log::warn!("{}: dropping garbage at {start}", head.path.display());
                file.set_len(start as u64)
                    .map_err(|e| LogFileError::io("ftruncate", &head.path, e))?;
            }
            file.write_all(bytes)
                .map_err(|e| LogFileError::io("write", &head.path, e))?;
            let fsync = match self.settings.fsync_mode {
                FsyncMode::Always => true,
                FsyncMode::Optimized => want_fsync,
                FsyncMode::Never => false,
            };
            if fsync {
                file.sync_data()
                    .map_err(|e| LogFileError::io("fdatasync", &head.path, e))?;
            }
        }
        head.data.truncate(start);
        head.data.extend_from_slice(bytes);
        head.sync_records();
        Ok(start as u32)
    }

    /// mail_transaction_log_rotate: create a new head after the locked
    /// one with `hdr` (file_seq, prev_file_seq/offset, initial_modseq
    /// already set), keeping the old file as `.log.2`. The new head is
    /// locked in place of the old one.
    pub fn rotate(&mut self, hdr: &LogFileHeader) -> Result<(), LogError> {
        if self.lock.is_none() {
            return Err(LogError::NotLocked {
                path: self.filepath.clone(),
            });
        }
        if self.head.is_in_memory() {
            let mut data = Vec::new();
            hdr.encode(&mut data);
            let new_head = LogFile::with_header(&self.filepath, hdr.clone(), data);
            self.prev = Some(std::mem::replace(&mut self.head, new_head));
            return Ok(());
        }
        let old = (self.head.dev, self.head.ino);
        let new_head = create_file(&self.filepath, &self.settings, hdr, true, Some(old))?;
        let old_lock = self.lock.take();
        self.prev = Some(std::mem::replace(&mut self.head, new_head));
        let new_lock = self.lock_file()?;
        self.lock = Some(new_lock);
        drop(old_lock);
        Ok(())
    }

    /// The head file's sequence and end of its complete transactions.
    pub fn head_position(&self) -> (u32, u32) {
        (self.head.hdr.file_seq, self.head.sync_offset as u32)
    }

    /// The file with sequence `seq`, if we still have it.
    pub fn file(&self, seq: u32) -> Option<&LogFile> {
        std::iter::once(&self.head)
            .chain(self.prev.as_ref())
            .find(|f| f.hdr.file_seq == seq)
    }
}

impl Drop for TransactionLog {
    fn drop(&mut self) {
        self.unlock();
    }
}

/// Write a new log file under the `.newlock` dotlock. With `keep_old`,
/// an existing log becomes `.log.2` by a hard link before the rename,
/// so that the name never points nowhere. `expect_old` is the (dev,
/// ino) of the head we rotate: if the file at `path` is another one,
/// someone recreated it and we use theirs (as Dovecot does).
fn create_file(
    path: &Path,
    settings: &LogSettings,
    hdr: &LogFileHeader,
    keep_old: bool,
    expect_old: Option<(u64, u64)>,
) -> Result<LogFile, LogError> {
    let set = settings.dotlock_settings(NEW_DOTLOCK_SUFFIX);
    let dotlock_err = |source| LogError::Dotlock {
        path: path.to_path_buf(),
        source,
    };
    let mut dotlock = Dotlock::open(&set, path).map_err(dotlock_err)?;

    if let (Some(old), Ok(st)) = (expect_old, fs::metadata(path)) {
        if (st.dev(), st.ino()) != old {
            drop(dotlock);
            return LogFile::open(path, true)?.ok_or_else(|| LogError::Lost {
                path: path.to_path_buf(),
            });
        }
    }

    let mut bytes = Vec::new();
    hdr.encode(&mut bytes);
    let file = dotlock.file();
    file.write_all(&bytes)
        .map_err(|e| LogFileError::io("write", path, e))?;
    if settings.fsync_mode == FsyncMode::Always {
        file.sync_data()
            .map_err(|e| LogFileError::io("fdatasync", path, e))?;
    }
    let fd = file
        .try_clone()
        .map_err(|e| LogFileError::io("dup", path, e))?;

    if keep_old && path.exists() {
        link_to_log2(path);
    }
    dotlock.replace(false).map_err(dotlock_err)?;
    Ok(LogFile::from_file(path, reopen_append(fd, path)?)?)
}

/// `path` → `path.2` by a hard link, replacing an old `.2`. Failures
/// are logged only: the second log file is a convenience.
fn link_to_log2(path: &Path) {
    let mut path2 = path.as_os_str().to_owned();
    path2.push(".2");
    let path2 = PathBuf::from(path2);
    match fs::remove_file(&path2) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            log::warn!("unlink({}) failed: {e}", path2.display());
        }
        _ => {}
    }
    if let Err(e) = fs::hard_link(path, &path2) {
        log::warn!("link({}, {}) failed: {e}", path.display(), path2.display());
    }
}

/// The dotlock's descriptor was opened for writing; appends need
/// `O_APPEND` on it (Dovecot sets it with fcntl).
fn reopen_append(fd: fs::File, path: &Path) -> Result<fs::File, LogFileError> {
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl(F_GETFL/F_SETFL) on a descriptor we own changes only
    // its status flags.
    let ret = unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_APPEND)
    };
    if ret < 0 {
        return Err(LogFileError::io(
            "fcntl(O_APPEND)",
            path,
            io::Error::last_os_error(),
        ));
    }
    Ok(fd)
}
