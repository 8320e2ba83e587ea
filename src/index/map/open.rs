//! Opening an index read-only: `dovecot.index` if there is one, then the
//! transaction log replayed from the position its header records
//! (mail_index_open, mail_index_map, mail_index_sync_map; the log view
//! of mail-transaction-log-view.c and the tail offset tracking of
//! mail-transaction-log-file.c).
//!
//! Files are read whole into memory by [`IndexFiles::read`]; everything
//! else works on those bytes.
//!
//! Not done yet: locking, fsck of an index that fails its checks after
//! the replay (the errors are returned instead), and reading `.log.2`
//! when the log's previous file is named anything else.

use std::io;
use std::path::Path;

use super::sync::{SyncCtx, apply_all};
use super::{EXT_MODSEQ, ExtRegistry, IndexMap, MapError};
use crate::index::format::index::{
    IndexFile, IndexHeader, RECORD_BASE_SIZE, check_compat, hdr_flags, mail_flags,
};
use crate::index::format::log::{
    LogFileHeader, LogRecord, RawRecords, ReadState, RecordFlags, TYPE_BOUNDARY,
    TYPE_HEADER_UPDATE, TYPE_MASK,
};
use crate::index::format::{Bytes, FormatError};

/// `mmap_get_page_size()`: logs smaller than this are read whole when
/// opened.
const PAGE_SIZE: usize = 4096;

/// The bytes of an index's files (absent files are `None`).
#[derive(Debug, Clone, Default)]
pub struct IndexFiles {
    pub index: Option<Vec<u8>>,
    pub log: Option<Vec<u8>>,
    pub log2: Option<Vec<u8>>,
}

impl IndexFiles {
    /// Read `DIR/PREFIX`, `DIR/PREFIX.log` and `DIR/PREFIX.log.2`.
    pub fn read(dir: &Path, prefix: &str) -> io::Result<Self> {
        let read = |suffix: &str| read_optional(&dir.join(format!("{prefix}{suffix}")));
        Ok(IndexFiles {
            index: read("")?,
            log: read(".log")?,
            log2: read(".log.2")?,
        })
    }
}

fn read_optional(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(data) => Ok(Some(data)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => {
            let msg = format!("open({}) failed: {e}", path.display());
            Err(io::Error::new(e.kind(), msg))
        }
    }
}

/// Why an index could not be opened at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Without a transaction log Dovecot does not open an index
    /// read-only.
    #[error("transaction log not found")]
    NoLog,
    #[error("transaction log: {0}")]
    Log(FormatError),
    /// dovecot.index belongs to another log.
    #[error("indexid changed: {log} -> {index}")]
    IndexidMismatch { log: u32, index: u32 },
    /// dovecot.index fails a check after which Dovecot would fsck it,
    /// which a read-only open cannot.
    #[error("Corrupted index file: {0}")]
    NeedsFsck(String),
}

/// An index as a read-only open leaves it.
#[derive(Debug, Clone)]
pub struct OpenedIndex {
    pub map: IndexMap,
    pub registry: ExtRegistry,
    /// Problems Dovecot would log while opening, in order.
    pub errors: Vec<String>,
}

/// One log file and how far it can be read.
#[derive(Debug)]
struct LogFileView<'a> {
    hdr: LogFileHeader,
    data: &'a [u8],
    /// Where complete transactions end (`sync_offset`).
    sync_offset: usize,
}

impl<'a> LogFileView<'a> {
    fn new(data: &'a [u8]) -> Result<Self, FormatError> {
        let hdr = LogFileHeader::decode(data)?;
        if hdr.indexid == 0 {
            return Err(FormatError::new(4, "corrupted, indexid=0"));
        }
        let sync_offset = sync_end(data, usize::from(hdr.hdr_size));
        Ok(LogFileView {
            hdr,
            data,
            sync_offset,
        })
    }

    fn hdr_size(&self) -> usize {
        usize::from(self.hdr.hdr_size)
    }
}

/// Where the complete transactions from `start` end: an unfinished
/// record or a boundary pointing past the end stops the reading.
pub(crate) fn sync_end(data: &[u8], start: usize) -> usize {
    let mut end = start;
    for raw in RawRecords::new(data, start) {
        let Ok(raw) = raw else { break };
        if raw.type_bits & TYPE_MASK == TYPE_BOUNDARY {
            let size = raw.payload.get(..4).map_or(0, |b| {
                u32::from_ne_bytes(b.try_into().expect("4 bytes")) as usize
            });
            if raw.offset as usize + size > data.len() {
                break;
            }
        }
        end = raw.offset as usize + raw.size();
    }
    end
}

/// Open the index in `files` the way `mail_index_open(READONLY)` does.
pub fn open_index(files: &IndexFiles) -> Result<OpenedIndex, OpenError> {
    let log_data = files.log.as_deref().ok_or(OpenError::NoLog)?;
    let head = LogFileView::new(log_data).map_err(OpenError::Log)?;
    let log2 = files
        .log2
        .as_deref()
        .and_then(|data| LogFileView::new(data).ok())
        .filter(|f| f.hdr.file_seq < head.hdr.file_seq);
    let mut logs: Vec<LogFileView<'_>> = log2.into_iter().collect();
    logs.push(head);

    let mut registry = ExtRegistry::new();
    let mut errors = Vec::new();
    let indexid = logs.last().expect("head").hdr.indexid;
    let (map, usable) = read_index_file(files, indexid, &mut registry, &mut errors)?;
    if !usable {
        return Ok(OpenedIndex {
            map,
            registry,
            errors,
        });
    }

    let mut opened = OpenedIndex {
        map,
        registry,
        errors,
    };
    sync_map(&mut opened, &logs)?;
    Ok(opened)
}

/// The map of dovecot.index, or an empty one when there is none.
/// `false` when the file exists but cannot be used: Dovecot then keeps
/// the empty map and does not replay the log. The checks come in
/// Dovecot's order: what reading the file checks (versions, sizes,
/// indexid), then the extensions, keywords and header contents, whose
/// failures would need an fsck.
fn read_index_file(
    files: &IndexFiles,
    indexid: u32,
    registry: &mut ExtRegistry,
    errors: &mut Vec<String>,
) -> Result<(IndexMap, bool), OpenError> {
    let Some(data) = files.index.as_deref() else {
        return Ok((IndexMap::new(indexid), true));
    };
    let unusable = |errors: &mut Vec<String>, e: String| {
        errors.push(format!("Corrupted index file: {e}"));
        Ok((IndexMap::new(indexid), false))
    };
    let hdr = IndexHeader::decode(Bytes::new(data)).and_then(|hdr| {
        check_compat(&hdr, data.len() as u64)?;
        Ok(hdr)
    });
    match hdr {
        Err(e) => return unusable(errors, e.reason),
        Ok(hdr) if hdr.indexid != indexid => {
            return Err(OpenError::IndexidMismatch {
                log: indexid,
                index: hdr.indexid,
            });
        }
        Ok(hdr) if hdr.record_size < RECORD_BASE_SIZE => {
            let e = format!("record_size too small ({} < 8)", hdr.record_size);
            return unusable(errors, e);
        }
        Ok(_) => {}
    }

    let file = IndexFile::decode(data).map_err(|e| OpenError::NeedsFsck(e.reason))?;
    match IndexMap::from_file(file, registry) {
        Ok(map) => Ok((map, true)),
        Err(MapError::Unusable(e)) => unusable(errors, e),
        Err(MapError::NeedsFsck(e)) => Err(OpenError::NeedsFsck(e)),
    }
}

/// Where the replay starts and what it found there.
#[derive(Debug)]
struct ViewStart {
    /// Index into the log files of the first file to read.
    file: usize,
    offset: usize,
    /// The log starts over there: the index is rebuilt from scratch.
    reset: bool,
}

/// mail_transaction_log_view_set for (log_file_seq, head_offset) up to
/// the end of the head file.
fn view_start(logs: &[LogFileView<'_>], seq: u32, offset: u32) -> Result<ViewStart, String> {
    let (mut min_seq, mut min_offset) = (seq, offset as usize);
    let next = logs.iter().find(|f| f.hdr.prev_file_seq == min_seq);
    if let Some(f) = next.filter(|f| min_offset == f.hdr.prev_file_offset as usize) {
        min_seq = f.hdr.file_seq;
        min_offset = f.hdr_size();
    }

    let tail = view_tail(logs, min_seq)?;
    let tail_hdr_size = logs[tail].hdr_size();
    if min_offset == 0 {
        min_offset = tail_hdr_size;
    }
    if min_offset < tail_hdr_size {
        return Err(format!(
            "Invalid min_file_offset: file_seq={min_seq}, \
             min_file_offset ({min_offset}) < hdr_size ({tail_hdr_size})"
        ));
    }
    let head = logs.last().expect("head");
    if min_seq == head.hdr.file_seq && min_offset > head.sync_offset {
        return Err(format!(
            "Invalid offset: file_seq={min_seq}, \
             min_file_offset ({min_offset}) > sync_offset ({})",
            head.sync_offset
        ));
    }

    let offset = match logs[tail].hdr.file_seq == min_seq {
        true => min_offset,
        false => tail_hdr_size,
    };
    Ok(reset_point(logs, tail, offset))
}

/// The first file to read for `min_seq`: that file, or a later one
/// that starts the log over when files in between are missing.
fn view_tail(logs: &[LogFileView<'_>], min_seq: u32) -> Result<usize, String> {
    let missing = |seq: u32| format!("Missing middle file seq={seq}");
    let mut tail = match logs.iter().position(|f| f.hdr.file_seq == min_seq) {
        Some(i) => i,
        None => logs
            .iter()
            .position(|f| f.hdr.file_seq >= min_seq && f.hdr.prev_file_seq == 0)
            .ok_or_else(|| missing(min_seq))?,
    };
    let head = logs.len() - 1;
    let head_prev = logs[head].hdr.prev_file_seq;
    if tail < head && head_prev != logs[tail].hdr.file_seq {
        if head_prev != 0 {
            return Err(missing(head_prev));
        }
        tail = head;
    }
    Ok(tail)
}

/// A file of the view that starts the log over (prev_file_seq 0) makes
/// the replay start there and rebuild the index, unless the view starts
/// inside that very file.
fn reset_point(logs: &[LogFileView<'_>], tail: usize, offset: usize) -> ViewStart {
    for i in (tail..logs.len()).rev() {
        let f = &logs[i];
        if f.hdr.prev_file_seq == 0 && (tail != i || offset == f.hdr_size()) {
            return ViewStart {
                file: i,
                offset: f.hdr_size(),
                reset: true,
            };
        }
    }
    ViewStart {
        file: tail,
        offset,
        reset: false,
    }
}

/// mail_index_sync_map(HEAD): replay the log from the map's head offset.
fn sync_map(opened: &mut OpenedIndex, logs: &[LogFileView<'_>]) -> Result<(), OpenError> {
    let map = &opened.map;
    let start = match view_start(logs, map.hdr.log_file_seq, map.hdr.log_file_head_offset) {
        Ok(start) => start,
        Err(reason) => {
            let seq = map.hdr.log_file_seq;
            opened
                .errors
                .push(format!("Lost log for seq={seq}: {reason}"));
            return Ok(());
        }
    };
    let head = logs.last().expect("head");
    let max_tail = max_tail_offset(head, map, logs.len() - 1 == start.file, start.offset);

    if start.reset {
        let mut fresh = IndexMap::new(map.hdr.indexid);
        fresh.hdr.flags |= map.hdr.flags & hdr_flags::FSCKD;
        fresh.hdr.log_file_seq = logs[start.file].hdr.file_seq;
        fresh.hdr.log_file_tail_offset = 0;
        opened.map = fresh;
    }
    let had_dirty = opened.map.hdr.flags & hdr_flags::HAVE_DIRTY != 0;
    opened.map.hdr.flags &= !hdr_flags::HAVE_DIRTY;

    let view = read_view(logs, &start);
    let (end_seq, end_offset) = (view.end_seq, view.end_offset);
    let mut ctx = SyncCtx::new(&mut opened.map, &mut opened.registry);
    apply_all(&mut ctx, &view.records);
    ctx.update_modseq_header(end_seq, end_offset, view.end_modseq);
    let errors = std::mem::take(&mut ctx.errors);
    opened.errors.extend(errors);

    let map = &mut opened.map;
    if had_dirty && any_dirty(map) {
        map.hdr.flags |= hdr_flags::HAVE_DIRTY;
    }
    if map.hdr.log_file_seq != end_seq {
        map.hdr.log_file_seq = end_seq;
        map.hdr.log_file_tail_offset = 0;
    }
    map.hdr.log_file_head_offset = end_offset;
    map.hdr.log_file_tail_offset = map.hdr.log_file_tail_offset.max(max_tail);
    if let Err(e) = map.check_header() {
        let msg = format!("Synchronization corrupted index header: {e}");
        opened.errors.push(msg);
    }
    Ok(())
}

fn any_dirty(map: &IndexMap) -> bool {
    (0..map.records.len()).any(|i| map.records.flags(i).unwrap_or(0) & mail_flags::DIRTY != 0)
}

/// What reading the log view gave: the records, and the position and
/// modseq after the last one.
#[derive(Debug)]
struct ViewRead {
    records: Vec<LogRecord>,
    end_seq: u32,
    end_offset: u32,
    end_modseq: u64,
}

/// The records from `start` to the end of the head file. A record that
/// does not decode ends the view there, as in Dovecot. Records before
/// the start are read only for the modseq they lead to.
fn read_view(logs: &[LogFileView<'_>], start: &ViewStart) -> ViewRead {
    let mut view = ViewRead {
        records: Vec::new(),
        end_seq: logs[start.file].hdr.file_seq,
        end_offset: start.offset as u32,
        end_modseq: 0,
    };
    for (i, file) in logs.iter().enumerate().skip(start.file) {
        let from = if i == start.file {
            start.offset
        } else {
            file.hdr_size()
        };
        view.end_seq = file.hdr.file_seq;
        view.end_offset = from as u32;
        let data = &file.data[..file.sync_offset.max(from).min(file.data.len())];
        let mut state = ReadState::at_start(&file.hdr);
        view.end_modseq = state.modseq;
        for raw in RawRecords::new(data, file.hdr_size()) {
            let Ok(raw) = raw else { break };
            let rec = state.decode(&raw);
            if (raw.offset as usize) < from {
                view.end_modseq = state.modseq;
                continue;
            }
            view.end_offset = raw.offset as u32;
            let Ok(rec) = rec.inspect_err(|e| log::warn!("log seq={}: {e}", view.end_seq)) else {
                return view;
            };
            view.end_modseq = rec.modseq;
            view.end_offset += raw.size() as u32;
            view.records.push(rec);
        }
    }
    view
}

/// The head file's `max_tail_offset` after reading it: where the
/// mailbox is known to be synced up to, from header updates of the
/// tail offset and the external transactions that follow it.
fn max_tail_offset(
    head: &LogFileView<'_>,
    map: &IndexMap,
    head_is_start: bool,
    start: usize,
) -> u32 {
    let (mut scan_from, mut max_tail) = (head.hdr_size(), 0u32);
    // A log smaller than a page is read whole when opened, before the
    // index: its tracking then starts at the beginning, knowing nothing.
    let read_at_open = head.data.len() < PAGE_SIZE;
    let skip_to_head = !read_at_open
        && head_is_start
        && start > head.hdr_size()
        && head.hdr.file_seq == map.hdr.log_file_seq
        && map.hdr.log_file_head_offset != 0;
    if skip_to_head {
        max_tail = map.hdr.log_file_tail_offset;
        scan_from = tracking_start(head, map);
    }
    let mut last_read = max_tail;

    let data = &head.data[..head.sync_offset];
    for raw in RawRecords::new(data, scan_from) {
        let Ok(raw) = raw else { break };
        if raw.type_bits & RecordFlags::EXTERNAL.bits() == 0 {
            continue;
        }
        let (offset, size) = (raw.offset as u32, raw.size() as u32);
        if raw.type_bits & TYPE_MASK == TYPE_HEADER_UPDATE {
            match tail_update(raw.payload) {
                Some(tail) if tail < last_read => continue,
                Some(tail) if tail <= offset + size => {
                    last_read = tail;
                    max_tail = max_tail.max(tail);
                    continue;
                }
                _ => {}
            }
        }
        if max_tail == offset {
            max_tail += size;
        }
    }
    max_tail
}

/// Where mail_transaction_log_file_skip_to_head starts reading: the
/// index's head offset, or where modseqs were last tracked.
fn tracking_start(head: &LogFileView<'_>, map: &IndexMap) -> usize {
    let head_offset = map.hdr.log_file_head_offset as usize;
    let modseq = map
        .ext_idx(EXT_MODSEQ)
        .map(|i| &map.extensions[i])
        .filter(|e| e.hdr_size == 16)
        .map(|e| {
            let h = e.header();
            let word = |at: usize| u32::from_ne_bytes(h[at..at + 4].try_into().expect("4"));
            (word(8), word(12) as usize)
        });
    match modseq {
        _ if head_offset < head.hdr_size() => head.hdr_size(),
        None if head.hdr.initial_modseq == 0 => head_offset,
        Some((seq, offset)) if seq == head.hdr.file_seq && offset <= head_offset => offset,
        _ => head.hdr_size(),
    }
}

/// The new tail offset a header update record sets, if it covers the
/// whole field.
fn tail_update(payload: &[u8]) -> Option<u32> {
    let field = crate::index::format::index::hdr_offset::LOG_FILE_TAIL_OFFSET;
    let offset = usize::from(u16::from_ne_bytes(payload.get(..2)?.try_into().ok()?));
    let size = usize::from(u16::from_ne_bytes(payload.get(2..4)?.try_into().ok()?));
    let data = payload.get(4..4 + size)?;
    if offset > field || offset + size < field + 4 {
        return None;
    }
    let at = field - offset;
    Some(u32::from_ne_bytes(data.get(at..at + 4)?.try_into().ok()?))
}
