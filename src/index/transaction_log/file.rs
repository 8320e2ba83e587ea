//! One transaction log file as a process holds it open
//! (mail-transaction-log-file.c): its header, the bytes read so far,
//! where complete transactions end (`sync_offset`), the tail offset the
//! file says the mailbox is synced to (`max_tail_offset`) and the modseq
//! its records lead to.
//!
//! The file is read with `read(2)` into memory, never mapped: other
//! processes append to it in place, so every new byte is copied out and
//! framed before it is trusted. Records are decoded once and kept, for
//! replaying them into maps and for view syncs.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::index::format::FormatError;
use crate::index::format::index::hdr_offset;
use crate::index::format::log::{
    LogFileHeader, LogRecord, RawRecord, ReadState, RecordBody, RecordFlags, TYPE_BOUNDARY,
    TYPE_HEADER_UPDATE, TYPE_MASK, frame_at,
};

/// An open log file, or an in-memory one (`file` is `None`).
#[derive(Debug)]
pub struct LogFile {
    pub path: PathBuf,
    pub(super) file: Option<File>,
    pub hdr: LogFileHeader,
    /// The file's bytes from offset 0, as far as read.
    pub(super) data: Vec<u8>,
    /// End of the last complete transaction.
    pub sync_offset: usize,
    /// Where the mailbox is known to be synced to in this file.
    pub max_tail_offset: u32,
    last_read_hdr_tail_offset: u32,
    /// Decoding state at `sync_offset`.
    state: ReadState,
    /// Every complete record, in file order.
    pub records: Vec<LogRecord>,
    pub(super) dev: u64,
    pub(super) ino: u64,
}

impl LogFile {
    /// Open and read the file at `path`; `Ok(None)` when it does not
    /// exist.
    pub fn open(path: &Path, writable: bool) -> Result<Option<Self>, LogFileError> {
        let opened = File::options().read(true).append(writable).open(path);
        let file = match opened {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied && writable => {
                return Self::open(path, false);
            }
            Err(e) => return Err(LogFileError::io("open", path, e)),
        };
        Self::from_file(path, file).map(Some)
    }

    /// Read a newly opened (or created) file from its start.
    pub(super) fn from_file(path: &Path, mut file: File) -> Result<Self, LogFileError> {
        let st = file
            .metadata()
            .map_err(|e| LogFileError::io("fstat", path, e))?;
        let mut data = Vec::new();
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.read_to_end(&mut data))
            .map_err(|e| LogFileError::io("read", path, e))?;
        let hdr = LogFileHeader::decode(&data).map_err(|e| LogFileError::corrupt(path, e))?;
        if hdr.indexid == 0 {
            let e = FormatError::new(4, "indexid=0: marked corrupted");
            return Err(LogFileError::corrupt(path, e));
        }
        let mut log = LogFile::with_header(path, hdr, data);
        log.file = Some(file);
        (log.dev, log.ino) = (st.dev(), st.ino());
        log.sync_records();
        Ok(log)
    }

    /// A file of `hdr` and `data` (starting with the header's bytes)
    /// that is not read yet.
    pub(super) fn with_header(path: &Path, hdr: LogFileHeader, data: Vec<u8>) -> Self {
        let state = ReadState::at_start(&hdr);
        LogFile {
            path: path.to_path_buf(),
            file: None,
            sync_offset: usize::from(hdr.hdr_size),
            max_tail_offset: 0,
            last_read_hdr_tail_offset: 0,
            state,
            records: Vec::new(),
            hdr,
            data,
            dev: 0,
            ino: 0,
        }
    }

    pub fn is_in_memory(&self) -> bool {
        self.file.is_none()
    }

    /// The modseq after the last complete record.
    pub fn sync_highest_modseq(&self) -> u64 {
        self.state.modseq
    }

    /// The bytes of the file as read.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Read what was appended since the last read and frame the new
    /// complete transactions. Returns how many records were added.
    pub fn read_more(&mut self) -> Result<usize, LogFileError> {
        let Some(file) = self.file.as_mut() else {
            return Ok(0);
        };
        let old_len = self.data.len();
        let read = file
            .seek(SeekFrom::Start(old_len as u64))
            .and_then(|_| file.read_to_end(&mut self.data));
        if let Err(e) = read {
            self.data.truncate(old_len);
            return Err(LogFileError::io("read", &self.path, e));
        }
        Ok(self.sync_records())
    }

    /// Advance `sync_offset` over the complete transactions after it
    /// (mail_transaction_log_file_sync). A record that does not frame
    /// or decode stops the reading there, as Dovecot stops.
    pub(super) fn sync_records(&mut self) -> usize {
        let before = self.records.len();
        while let Ok(raw) = frame_at(&self.data, self.sync_offset) {
            if !self.transaction_complete(&raw) {
                break;
            }
            let mut state = self.state;
            let Ok(rec) = state.decode(&raw) else {
                log::warn!("{}: bad record at {}", self.path.display(), raw.offset);
                break;
            };
            let size = raw.size();
            self.track_sync(&rec, size as u32);
            self.state = state;
            self.sync_offset += size;
            self.records.push(rec);
        }
        self.records.len() - before
    }

    /// A boundary announces its transaction's size: until all of it is
    /// there, the transaction is still being written.
    fn transaction_complete(&self, raw: &RawRecord<'_>) -> bool {
        if raw.type_bits & TYPE_MASK != TYPE_BOUNDARY {
            return true;
        }
        let size = raw.payload.get(..4).map_or(0, |b| {
            u32::from_ne_bytes(b.try_into().expect("4 bytes")) as usize
        });
        raw.offset as usize + size <= self.data.len()
    }

    /// log_file_track_sync: external transactions move the tail offset
    /// along, and header updates of the tail offset set it.
    fn track_sync(&mut self, rec: &LogRecord, size: u32) {
        if !rec.flags.contains(RecordFlags::EXTERNAL) {
            return;
        }
        let offset = rec.offset as u32;
        if rec.body.type_code() == TYPE_HEADER_UPDATE {
            if let Some(tail) = tail_offset_update(&rec.body) {
                if tail < self.last_read_hdr_tail_offset {
                    return;
                }
                if tail <= offset + size {
                    self.last_read_hdr_tail_offset = tail;
                    self.max_tail_offset = self.max_tail_offset.max(tail);
                    return;
                }
            }
        }
        if self.max_tail_offset == offset {
            self.max_tail_offset += size;
        }
    }

    /// The last tail offset a header update in this file wrote.
    pub fn last_read_hdr_tail_offset(&self) -> u32 {
        self.last_read_hdr_tail_offset
    }

    /// Records from `offset` (a record start) to `sync_offset`.
    pub fn records_from(&self, offset: u32) -> &[LogRecord] {
        let at = self
            .records
            .partition_point(|r| r.offset < u64::from(offset));
        &self.records[at..]
    }

    /// The modseq at `offset`: after the last record before it.
    pub fn modseq_at(&self, offset: u32) -> u64 {
        let at = self
            .records
            .partition_point(|r| r.offset < u64::from(offset));
        match at.checked_sub(1) {
            Some(i) => self.records[i].modseq,
            None => self.hdr.initial_modseq,
        }
    }
}

/// The new `log_file_tail_offset` a header update sets, if it covers
/// the whole field.
pub fn tail_offset_update(body: &RecordBody) -> Option<u32> {
    let RecordBody::HeaderUpdate(updates) = body else {
        return None;
    };
    let field = hdr_offset::LOG_FILE_TAIL_OFFSET;
    updates.iter().rev().find_map(|u| {
        let (start, end) = (u.offset as usize, u.offset as usize + u.data.len());
        if start > field || end < field + 4 {
            return None;
        }
        let at = field - start;
        Some(u32::from_ne_bytes(u.data[at..at + 4].try_into().ok()?))
    })
}

/// Why a log file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LogFileError {
    #[error("{call}({}) failed: {source}", path.display())]
    Io {
        call: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("Corrupted transaction log file {}: {error}", path.display())]
    Corrupt { path: PathBuf, error: FormatError },
}

impl LogFileError {
    pub fn io(call: &'static str, path: &Path, source: io::Error) -> Self {
        LogFileError::Io {
            call,
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn corrupt(path: &Path, error: FormatError) -> Self {
        LogFileError::Corrupt {
            path: path.to_path_buf(),
            error,
        }
    }
}
