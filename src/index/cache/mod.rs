//! The `dovecot.index.cache` engine (mail-cache.c, mail-cache-fields.c,
//! mail-cache-lookup.c, mail-cache-transaction.c, mail-cache-purge.c,
//! mail-cache-decisions.c, mail-cache-sync-update.c), sharing the file
//! with running C Dovecot processes.
//!
//! A [`Cache`] is one index's cache file: the open file and a copy of
//! its bytes, the registered fields ([`FieldRegistry`]) and the purge
//! Dovecot would schedule. Other processes append to the file in place
//! and replace it by rename when they purge, so every read works on a
//! private copy of the bytes, checked by the codec in
//! [`crate::index::format::cache`]; a file replaced under us is noticed
//! by its inode and reopened. A corrupted file is deleted (as Dovecot
//! does) and reported as [`CacheError::Corrupted`]; the next access
//! finds no cache, and a purge creates a new one.
//!
//! The index is reached through [`IndexView`]: per message, the "cache"
//! extension record and the extension's reset_id. Writes give back
//! [`IndexUpdates`], the extension changes the caller's index
//! transaction must write; [`log_append`] writes them to the
//! transaction log until the index engine's transactions do.
//!
//! Wiring into the index engine ([`crate::index::transaction`]): at
//! commit, apply [`IndexUpdates`] to the index transaction as
//! `ext_reset("cache", reset)` if any, then `update_ext(seq, "cache",
//! offset)` per message, with the "cache" extension registered as
//! (hdr 0, record 4, align 4); the intro of those record updates must
//! carry `reset_id` (mail_index_ext_using_reset_id), not the head map's,
//! so that offsets written for a file another process has since purged
//! are ignored by every reader. The sync's expunge handler calls
//! [`Cache::expunge_count`] with the number of expunged messages that
//! had a cache offset.
//!
//! Not done yet:
//! TODO(cache-index-wiring): the engine's transactions have no
//! ext_using_reset_id yet; until then [`log_append`] writes the updates.
//! TODO(cache-sync): the reset_id resync of mail_cache_sync_reset_id()
//! (refreshing the index under the log lock when the index's reset_id
//! and the file's file_seq differ); such records are reported absent.
//! TODO(cache-mmap): the whole file is copied into memory on open and
//! when it grows; large caches want reads of only the records used.
//! TODO(cache-inmemory): in-memory indexes and the SAVEONLY read mode.

pub mod decisions;
pub mod fields;
mod file;
pub mod log_append;
pub mod lookup;
pub mod purge;
pub mod transaction;
pub mod view;

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use decisions::{DropCtx, DropDecision};
pub use fields::{CacheField, FieldIdx, FieldRegistry};
pub use purge::PurgeIf;
pub use transaction::CacheTransaction;
pub use view::{CacheExtRecord, IndexView};

use crate::index::format::FormatError;
use crate::util::file_dotlock::DotlockError;
use crate::util::file_lock::{LockError, LockMethod};

/// `MAIL_CACHE_LOCK_TIMEOUT`.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(10);
/// `MAIL_CACHE_LOCK_CHANGE_TIMEOUT`: a cache dot-lock older than this
/// is stale.
pub const LOCK_STALE_TIMEOUT: Duration = Duration::from_secs(300);

/// The cache parts of `struct mail_index_optimization_settings` and the
/// index settings the cache uses, with Dovecot's defaults.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    pub lock_method: LockMethod,
    /// `mail_max_lock_timeout`; the cache waits at most 10 seconds.
    pub max_lock_timeout: Duration,
    /// `mail_cache_unaccessed_field_drop`.
    pub unaccessed_field_drop_secs: u32,
    /// `mail_cache_record_max_size`.
    pub record_max_size: u32,
    /// `mail_cache_max_size`.
    pub max_size: u64,
    /// `mail_cache_purge_min_size`.
    pub purge_min_size: u64,
    /// `mail_cache_purge_delete_percentage`.
    pub purge_delete_percentage: u32,
    /// `mail_cache_purge_continued_percentage`.
    pub purge_continued_percentage: u32,
    /// `mail_cache_purge_header_continue_count`.
    pub purge_header_continue_count: u32,
    /// Opened read-only: nothing is written, corrupted files stay.
    pub readonly: bool,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            lock_method: LockMethod::Fcntl,
            max_lock_timeout: Duration::from_secs(u64::from(u32::MAX)),
            unaccessed_field_drop_secs: 3600 * 24 * 30,
            record_max_size: 64 * 1024,
            max_size: 1024 * 1024 * 1024,
            purge_min_size: 32 * 1024,
            purge_delete_percentage: 20,
            purge_continued_percentage: 200,
            purge_header_continue_count: 4,
            readonly: false,
        }
    }
}

impl CacheSettings {
    fn lock_timeout(&self) -> Duration {
        LOCK_TIMEOUT.min(self.max_lock_timeout)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The file failed a check; it has been deleted (unless read-only).
    #[error("Corrupted index cache file {}: {error}", path.display())]
    Corrupted {
        path: PathBuf,
        #[source]
        error: FormatError,
    },
    #[error("{call}({}) failed: {source}", path.display())]
    Io {
        call: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Dotlock(#[from] DotlockError),
    /// The transaction log could not take the cache's index changes.
    #[error("transaction log {}: {reason}", path.display())]
    Log { path: PathBuf, reason: String },
    /// A caller error: a value that does not fit its field.
    #[error("cache field {field}: {reason}")]
    InvalidValue { field: String, reason: String },
}

pub type Result<T> = std::result::Result<T, CacheError>;

fn io_error<'a>(call: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> CacheError + 'a {
    move |source| CacheError::Io {
        call,
        path: path.to_path_buf(),
        source,
    }
}

/// The "cache" extension changes an index transaction must write after
/// a cache write or purge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexUpdates {
    /// `mail_index_ext_reset()`: the extension is reset to this reset_id
    /// (a purge created a new file), clearing every message's offset.
    pub reset: Option<u32>,
    /// `mail_index_ext_using_reset_id()`: the file_seq the offsets
    /// belong to; the index ignores them if its reset_id differs.
    pub reset_id: u32,
    /// `mail_index_update_ext()` per message: (seq, uid, new offset).
    pub offsets: Vec<(u32, u32, u32)>,
}

impl IndexUpdates {
    pub fn is_empty(&self) -> bool {
        self.reset.is_none() && self.offsets.is_empty()
    }

    /// These updates followed by `later` ones, as one transaction.
    pub fn merge(mut self, later: IndexUpdates) -> IndexUpdates {
        if later.reset.is_some() {
            self.reset = later.reset;
            self.offsets.clear();
        }
        self.reset_id = later.reset_id;
        self.offsets.extend(later.offsets);
        self
    }
}

/// A purge Dovecot would schedule (`need_purge_file_seq` and reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedPurge {
    pub file_seq: u32,
    pub reason: String,
}

/// `struct mail_cache`: one index's cache file and fields.
#[derive(Debug)]
pub struct Cache {
    path: PathBuf,
    indexid: u32,
    set: CacheSettings,
    /// `None`: no usable file (missing, or found corrupted and dropped).
    file: Option<file::OpenFile>,
    opened: bool,
    fields: FieldRegistry,
    need_purge: Option<NeedPurge>,
    /// The previous lock attempt failed: try only once next time.
    last_lock_failed: bool,
    /// The header as it will be written at unlock (`hdr_copy`).
    hdr_copy: Option<crate::index::format::cache::CacheHeader>,
    hdr_modified: bool,
}

impl Cache {
    /// `mail_cache_open_or_create_path()`: nothing is read yet.
    pub fn new(path: impl Into<PathBuf>, indexid: u32, set: CacheSettings) -> Cache {
        Cache {
            path: path.into(),
            indexid,
            set,
            file: None,
            opened: false,
            fields: FieldRegistry::default(),
            need_purge: None,
            last_lock_failed: false,
            hdr_copy: None,
            hdr_modified: false,
        }
    }

    /// The cache of the index at `index_path` (`dovecot.index` path):
    /// `INDEX.cache`, as mail_cache_open_or_create() names it.
    pub fn for_index(index_path: &Path, indexid: u32, set: CacheSettings) -> Cache {
        let mut path = index_path.as_os_str().to_owned();
        path.push(".cache");
        Cache::new(PathBuf::from(path), indexid, set)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn settings(&self) -> &CacheSettings {
        &self.set
    }

    pub fn fields(&self) -> &FieldRegistry {
        &self.fields
    }

    /// `mail_cache_register_fields()`; a field whose type or size
    /// differs from the file's makes the cache corrupted, as in Dovecot.
    pub fn register_fields(&mut self, fields: &[CacheField]) -> Result<Vec<FieldIdx>> {
        let ids = self.fields.register(fields);
        match self.fields.mismatch.take() {
            Some(reason) => Err(self.set_corrupted(FormatError::new(0, reason))),
            None => Ok(ids),
        }
    }

    /// `mail_cache_register_lookup()`.
    pub fn field_lookup(&self, name: &str) -> Option<FieldIdx> {
        self.fields.lookup(name)
    }

    /// `mail_cache_field_get_decision()`.
    pub fn decision(&self, idx: FieldIdx) -> Option<u8> {
        self.fields.get(idx).map(|f| f.decision.0)
    }

    /// `mail_cache_exists()`: is a usable file open?
    pub fn exists(&self) -> bool {
        self.file.is_some()
    }

    /// The open file's header, if one is open.
    pub fn header(&self) -> Option<&crate::index::format::cache::CacheHeader> {
        self.file.as_ref().map(|f| &f.hdr)
    }

    /// `mail_cache_need_purge()`: the purge asked for while reading the
    /// file, unless read-only.
    pub fn need_purge(&self) -> Option<&NeedPurge> {
        self.need_purge.as_ref().filter(|_| !self.set.readonly)
    }

    /// `mail_cache_purge_later()`.
    fn purge_later(&mut self, reason: String) {
        if let Some(file) = &self.file {
            log::debug!("{}: purge wanted: {reason}", self.path.display());
            self.need_purge = Some(NeedPurge {
                file_seq: file.hdr.file_seq,
                reason,
            });
        }
    }

    /// `mail_cache_set_corrupted()`: log, delete the file (unless
    /// read-only) and forget it; returns the error to report.
    pub fn set_corrupted(&mut self, error: FormatError) -> CacheError {
        log::error!(
            "{}: Deleting corrupted cache: {}",
            self.path.display(),
            error
        );
        self.unlink();
        CacheError::Corrupted {
            path: self.path.clone(),
            error,
        }
    }

    fn unlink(&mut self) {
        if !self.set.readonly {
            if let Err(e) = std::fs::remove_file(&self.path) {
                if e.kind() != io::ErrorKind::NotFound {
                    log::error!("unlink({}) failed: {e}", self.path.display());
                }
            }
        }
        self.file = None;
    }
}
