//! Opening, re-reading, locking and writing the cache file (mail-cache.c
//! and the field header writes of mail-cache-fields.c).
//!
//! The bytes are always copied out of the file: other processes append
//! records and rewrite the header and field header in place, so a copy
//! is decoded and checked as a whole, never a live mapping.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileExt, MetadataExt};

use super::decisions::DropCtx;
use super::{Cache, IndexView, Result, io_error};
use crate::index::format::cache::{
    CacheHeader, FieldDef, FieldHeader, field_header_chain, uint32_to_offset,
};
use crate::index::format::{Bytes, FormatError, PutNe};
use crate::util::file_dotlock::{Dotlock, DotlockSettings};
use crate::util::file_lock::{FileLock, LockKind, LockMethod, try_lock, wait_lock};

/// An open cache file and a checked copy of its bytes.
#[derive(Debug)]
pub(super) struct OpenFile {
    pub file: File,
    pub ino: u64,
    pub dev: u64,
    /// The file's bytes when last read.
    pub data: Vec<u8>,
    pub hdr: CacheHeader,
    /// Offset of the field header in force, and the number of field
    /// headers in the chain.
    pub field_header_offset: usize,
    pub field_header_count: usize,
    /// The field table in force, by file field number.
    pub defs: Vec<FieldDef>,
}

/// A held cache lock, of whichever `lock_method`.
#[derive(Debug)]
#[allow(dead_code)]
enum Guard<'fd> {
    Fd(FileLock<'fd>),
    Dot(Dotlock),
}

impl Cache {
    /// `mail_cache_open_and_verify()`: `Ok(true)` when a usable file is
    /// open, `Ok(false)` when there is none. A file that fails its
    /// checks is deleted and reported.
    pub fn open_and_verify(&mut self, view: &dyn IndexView) -> Result<bool> {
        if self.opened && self.file.is_some() {
            return Ok(true);
        }
        self.file = None;
        self.opened = true;

        let file = match self.open_fd() {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.need_purge = None;
                return Ok(false);
            }
            Err(e) => return Err(io_error("open", &self.path)(e)),
        };
        let st = file.metadata().map_err(io_error("fstat", &self.path))?;
        let data = read_whole(&file).map_err(io_error("read", &self.path))?;
        self.install(file, st.ino(), st.dev(), data, view)
    }

    fn open_fd(&self) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(!self.set.readonly)
            .open(&self.path)
    }

    /// Check `data` as the new contents of the open file.
    fn install(
        &mut self,
        file: File,
        ino: u64,
        dev: u64,
        data: Vec<u8>,
        view: &dyn IndexView,
    ) -> Result<bool> {
        let checked = check_file(&data);
        let (hdr, chain) = match checked {
            Ok(parts) => parts,
            Err(e) => return Err(self.set_corrupted(e)),
        };
        if hdr.indexid != self.indexid {
            log::debug!("{}: belongs to another index", self.path.display());
            self.unlink();
            return Ok(false);
        }
        let bytes = Bytes::new(&data);
        let latest = *chain.last().expect("the chain is never empty");
        let defs = match FieldHeader::decode(bytes, latest) {
            Ok(h) => h.fields,
            Err(e) => return Err(self.set_corrupted(e)),
        };
        self.file = Some(OpenFile {
            file,
            ino,
            dev,
            data,
            hdr,
            field_header_offset: latest,
            field_header_count: chain.len(),
            defs,
        });
        self.read_fields(view)?;
        self.update_need_purge(view);
        Ok(true)
    }

    /// `mail_cache_header_fields_read()` on the copy just read.
    fn read_fields(&mut self, view: &dyn IndexView) -> Result<()> {
        let drop = DropCtx::new(view.day_stamp(), &self.set);
        let file = self.file.as_ref().expect("file open");
        let (defs, count) = (file.defs.clone(), file.field_header_count);
        match self.fields.read_file_fields(&defs, &drop) {
            Ok(reasons) => {
                if count > self.set.purge_header_continue_count as usize {
                    self.purge_later(format!("Too many continued headers ({count})"));
                }
                reasons.into_iter().for_each(|r| self.purge_later(r));
                Ok(())
            }
            Err(reason) => Err(self.set_corrupted(FormatError::new(0, reason))),
        }
    }

    /// `mail_cache_update_need_purge()`: too many continued or deleted
    /// records in a file big enough to bother.
    fn update_need_purge(&mut self, view: &dyn IndexView) {
        let Some(file) = &self.file else { return };
        let hdr = &file.hdr;
        if hdr.minor_version == 0 {
            self.purge_later("Minor version too old".into());
            return;
        }
        let msgs = view.messages_count();
        let records = match msgs {
            0 => 1,
            _ if hdr.record_count == 0 || hdr.record_count / 2 > msgs => msgs.max(1),
            _ => hdr.record_count,
        };
        let (cont, deleted) = (hdr.continued_record_count, hdr.deleted_record_count);
        let mut reason = None;
        if u64::from(cont) * 100 / u64::from(records)
            >= u64::from(self.set.purge_continued_percentage)
        {
            reason = Some(format!("Too many continued records ({cont}/{records})"));
        }
        let total = u64::from(records) + u64::from(deleted);
        if u64::from(deleted) * 100 / total >= u64::from(self.set.purge_delete_percentage) {
            reason = Some(format!("Too many deleted records ({deleted}/{records})"));
        }
        if let Some(reason) = reason {
            if file.data.len() as u64 >= self.set.purge_min_size {
                self.purge_later(reason);
            }
        }
    }

    /// `mail_cache_need_reopen()`: has the path been replaced (or
    /// removed) since we opened it?
    pub fn need_reopen(&self) -> bool {
        let Some(file) = &self.file else { return true };
        match std::fs::metadata(&self.path) {
            Ok(st) => st.ino() != file.ino || st.dev() != file.dev,
            Err(_) => true,
        }
    }

    /// `mail_cache_reopen()`.
    pub fn reopen(&mut self, view: &dyn IndexView) -> Result<bool> {
        self.file = None;
        self.opened = false;
        self.open_and_verify(view)
    }

    /// Re-read the open file (it may have grown, or its header and
    /// field header changed) and check it again (`mail_cache_map_all()`
    /// and `mail_cache_header_fields_read()`).
    pub(super) fn refresh(&mut self, view: &dyn IndexView) -> Result<bool> {
        let Some(open) = self.file.take() else {
            return Ok(false);
        };
        let data = read_whole(&open.file).map_err(io_error("read", &self.path))?;
        self.install(open.file, open.ino, open.dev, data, view)
    }

    /// Run `f` with the cache file locked (`mail_cache_lock()`, then
    /// `mail_cache_flush_and_unlock()`): the newest file, freshly read,
    /// its header changes written when `f` is done. `Ok(None)` when there
    /// is no usable file to lock.
    pub(super) fn with_lock<T>(
        &mut self,
        view: &dyn IndexView,
        f: impl FnOnce(&mut Cache) -> Result<T>,
    ) -> Result<Option<T>> {
        if self.set.readonly || !self.open_and_verify(view)? {
            return Ok(None);
        }
        loop {
            let fd = self.lock_fd()?;
            let guard = self.lock_file(&fd)?;
            if !self.need_reopen() {
                let result = self.locked(view, f);
                drop(guard);
                return result;
            }
            drop(guard);
            if !self.reopen(view)? {
                return Ok(None);
            }
        }
    }

    /// A second descriptor of the open file, sharing its open file
    /// description (and so its locks).
    fn lock_fd(&self) -> Result<File> {
        let file = &self.file.as_ref().expect("file open").file;
        file.try_clone().map_err(io_error("dup", &self.path))
    }

    fn locked<T>(
        &mut self,
        view: &dyn IndexView,
        f: impl FnOnce(&mut Cache) -> Result<T>,
    ) -> Result<Option<T>> {
        if !self.refresh(view)? {
            return Ok(None);
        }
        self.hdr_copy = self.file.as_ref().map(|f| f.hdr.clone());
        self.hdr_modified = false;
        let result = f(self);
        let flushed = self.flush_locked(view);
        self.hdr_copy = None;
        let value = result?;
        flushed?;
        Ok(Some(value))
    }

    /// `mail_cache_lock_file()`, with the index's lock method.
    fn lock_file<'fd>(&mut self, fd: &'fd File) -> Result<Guard<'fd>> {
        let timeout = match self.last_lock_failed {
            true => std::time::Duration::ZERO,
            false => self.set.lock_timeout(),
        };
        let result = match self.set.lock_method {
            LockMethod::Dotlock => self.dotlock(timeout),
            method => self.fd_lock(fd, method, timeout),
        };
        self.last_lock_failed = result.is_err();
        result
    }

    fn fd_lock<'fd>(
        &self,
        fd: &'fd File,
        method: LockMethod,
        timeout: std::time::Duration,
    ) -> Result<Guard<'fd>> {
        let (fd, path) = (fd.as_fd(), &self.path);
        let lock = match timeout.is_zero() {
            true => try_lock(fd, path, LockKind::Write, method)?.ok_or_else(|| {
                crate::util::file_lock::LockError::Timeout {
                    path: path.clone(),
                    secs: 0,
                }
            })?,
            false => wait_lock(fd, path, LockKind::Write, method, timeout)?,
        };
        Ok(Guard::Fd(lock))
    }

    fn dotlock<'fd>(&self, timeout: std::time::Duration) -> Result<Guard<'fd>> {
        let set = DotlockSettings {
            timeout,
            stale_timeout: super::LOCK_STALE_TIMEOUT,
            ..DotlockSettings::default()
        };
        Ok(Guard::Dot(Dotlock::create(&set, &self.path)?))
    }

    /// The pending field header and header changes, written while the
    /// lock is held.
    fn flush_locked(&mut self, view: &dyn IndexView) -> Result<()> {
        if self.file.is_none() {
            return Ok(());
        }
        if self.fields.write_pending {
            self.write_field_decisions(view)?;
        }
        if self.hdr_modified {
            self.hdr_modified = false;
            let hdr = self.hdr_copy.clone().expect("locked");
            let mut out = Vec::with_capacity(CacheHeader::SIZE);
            hdr.encode(&mut out);
            self.write_at(&out, 0)?;
            if let Some(file) = &mut self.file {
                file.data[..CacheHeader::SIZE].copy_from_slice(&out);
                file.hdr = hdr;
            }
            self.update_need_purge(view);
        }
        Ok(())
    }

    /// `mail_cache_header_fields_update_locked()`: overwrite the
    /// last_used and decision arrays of the field header in force.
    fn write_field_decisions(&mut self, view: &dyn IndexView) -> Result<()> {
        self.refresh(view)?;
        let Some(file) = &self.file else {
            return Ok(());
        };
        let offset = file.field_header_offset;
        let count = self.fields.file_field_map.len();
        let (mut last_used, mut decisions) = (Vec::new(), Vec::new());
        for &idx in &self.fields.file_field_map {
            let f = &self.fields.fields[idx].field;
            last_used.put_u32(f.last_used);
            decisions.put_u8(f.decision.0);
        }
        self.write_at(&last_used, (offset + 12) as u64)?;
        self.write_at(&decisions, (offset + 12 + 9 * count) as u64)?;
        self.fields.written();
        self.refresh(view).map(|_| ())
    }

    /// `mail_cache_write()`: bytes at `offset` of the locked file.
    pub(super) fn write_at(&self, data: &[u8], offset: u64) -> Result<()> {
        let file = &self.file.as_ref().expect("file open").file;
        file.write_all_at(data, offset)
            .map_err(io_error("pwrite_full", &self.path))
    }

    /// The file's current size (`fstat()`), where appends go.
    pub(super) fn file_size(&self) -> Result<u64> {
        let file = &self.file.as_ref().expect("file open").file;
        let st = file.metadata().map_err(io_error("fstat", &self.path))?;
        Ok(st.len())
    }

    /// `mail_cache_append()`: `data` at the end of the file, refused
    /// past `mail_cache_max_size`. Returns the offset written at.
    pub(super) fn append(&mut self, data: &[u8]) -> Result<u32> {
        let size = self.file_size()?;
        let end = size.checked_add(data.len() as u64);
        let too_large = end.is_none_or(|end| end > self.set.max_size || end >= 1 << 30);
        if too_large || size % 4 != 0 {
            let reason = match too_large {
                true => "Cache file too large",
                false => "Cache file size is not 32-bit aligned",
            };
            return Err(self.set_corrupted(FormatError::new(size, reason)));
        }
        self.write_at(data, size)?;
        Ok(size as u32)
    }

    /// `mail_cache_header_fields_write()`: append `header` and link it
    /// from the field header in force.
    pub(super) fn append_field_header(&mut self, header: &FieldHeader) -> Result<()> {
        let mut out = Vec::new();
        header.encode(&mut out);
        let offset = self.append(&out)?;
        let link = uint32_to_offset(offset).expect("appends are aligned and below 1 GiB");

        let file = self.file.as_ref().expect("file open");
        let prev = file.field_header_offset;
        self.write_at(&link.to_ne_bytes(), prev as u64)?;
        Ok(())
    }
}

/// The header and the field header chain of a whole file.
fn check_file(data: &[u8]) -> std::result::Result<(CacheHeader, Vec<usize>), FormatError> {
    let bytes = Bytes::new(data);
    let hdr = CacheHeader::decode(bytes)?;
    let chain = field_header_chain(bytes, &hdr)?;
    Ok((hdr, chain))
}

/// The whole file from offset 0; the buffer grows with what is really
/// read, never with a size taken from the file.
fn read_whole(file: &File) -> io::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut f = file;
    f.seek(SeekFrom::Start(0))?;
    f.read_to_end(&mut data)?;
    Ok(data)
}
