//! `dovecot.index.log` and `.log.2`: the transaction log's file header
//! and records (mail-transaction-log.h), read as
//! mail-transaction-log-file.c and mail-transaction-log-view.c read
//! them, with the modseq each record leads to
//! (`mail_transaction_update_modseq()`).
//!
//! This is a codec only: it decodes bytes into a [`LogFileHeader`] and
//! [`LogRecord`]s and encodes them back, byte for byte for every file
//! Dovecot writes. Locking, appending, rotation and applying records to
//! an index live in the engine above.
//!
//! ```no_run
//! # let data: Vec<u8> = Vec::new();
//! use dovecot_rs::index::format::log::LogFile;
//! let log = LogFile::decode(&data)?;
//! for rec in &log.records {
//!     println!("{} {:?} modseq={}", rec.offset, rec.body, rec.modseq);
//! }
//! assert_eq!(log.encode()?, data);
//! # Ok::<(), dovecot_rs::index::format::FormatError>(())
//! ```
//!
//! TODO(log-padding): padding bytes are written as zeros and trailing
//! padding after the last extension introduction of a record is dropped;
//! a file with other bytes there decodes, but does not re-encode to the
//! same bytes. Dovecot always writes zeros.
//!
//! Header and extension header updates are cut as Dovecot reads them
//! (mail-index-sync-update.c), each update padded to four bytes, though
//! Dovecot's writer pads only the record's end: a record with several
//! updates of sizes not multiple of four is misread by Dovecot itself,
//! and by us the same way. Dovecot's own updates are whole 32-bit fields
//! or larger aligned runs, as in every fixture.

mod body;
mod decode;
mod encode;
mod frame;
mod header;

pub use body::*;
pub use frame::{
    MAX_RECORD_SIZE, RECORD_HEADER_SIZE, RawRecord, RawRecords, frame_at, pack_size, unpack_size,
};
pub use header::{
    HEADER_MIN_SIZE, HEADER_SIZE, LogFileHeader, MAJOR_VERSION, MINOR_VERSION,
    VERSION_COMPAT_FLAGS, VERSION_HIDE_INTERNAL_MODSEQS, version_full,
};

use super::{FormatError, PutNe, Result};

bitflags::bitflags! {
    /// The flag bits of a record's type field (above `TYPE_MASK`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct RecordFlags: u32 {
        /// `MAIL_TRANSACTION_EXTERNAL`: a change that already happened
        /// (e.g. an expunge done), not a request for the next sync.
        const EXTERNAL = 0x1000_0000;
        /// `MAIL_TRANSACTION_SYNC`: a change made to sync with another
        /// mailbox (dsync), not requested by the user.
        const SYNC = 0x2000_0000;
        const _ = !TYPE_MASK;
    }
}

/// One record of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Offset of the record header in the file.
    pub offset: u64,
    /// The type field's flag bits; unknown ones are kept.
    pub flags: RecordFlags,
    pub body: RecordBody,
    /// The log's modseq after this record (0 while the log does not
    /// track modseqs).
    pub modseq: u64,
    /// Did this record raise the modseq? `doveadm dump` shows the
    /// modseq only then.
    pub modseq_changed: bool,
}

impl LogRecord {
    /// The whole type field: the body's type code and the flags.
    pub fn type_bits(&self) -> u32 {
        self.body.type_code() | self.flags.bits()
    }

    pub fn is_external(&self) -> bool {
        self.flags.contains(RecordFlags::EXTERNAL)
    }

    /// Append the record, header included, to `out`. Fails when the
    /// record is too large for the log's size field.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        out.put_u32(0);
        out.put_u32(self.type_bits());
        self.body.encode(out);

        let size = u32::try_from(out.len() - start)
            .ok()
            .and_then(pack_size)
            .ok_or_else(|| {
                FormatError::new(
                    self.offset,
                    format!("record of {} bytes cannot be written", out.len() - start),
                )
            })?;
        out[start..start + 4].copy_from_slice(&size.to_ne_bytes());
        Ok(())
    }
}

/// What reading a record depends on from the records before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadState {
    /// `MAIL_TRANSACTION_LOG_HDR_VERSION()` of the file.
    pub version: u16,
    /// The modseq before the next record.
    pub modseq: u64,
    /// Context for payloads that depend on an earlier extension intro.
    pub body: BodyContext,
}

impl ReadState {
    /// The state at the first record of a file with this header.
    pub fn at_start(hdr: &LogFileHeader) -> Self {
        ReadState {
            version: hdr.version(),
            modseq: hdr.initial_modseq,
            body: BodyContext::default(),
        }
    }

    /// Decode one framed record and advance the state past it.
    pub fn decode(&mut self, raw: &RawRecord) -> Result<LogRecord> {
        let type_code = raw.type_bits & TYPE_MASK;
        let at = raw.offset + RECORD_HEADER_SIZE as u64;
        let body = RecordBody::decode(type_code, raw.payload, at, self.body)?;

        if let RecordBody::ExtIntro(intros) = &body {
            self.body.ext_record_size = intros.last().map(|i| i.record_size);
        }
        let before = self.modseq;
        self.modseq = next_modseq(before, raw.type_bits, &body, self.version);
        Ok(LogRecord {
            offset: raw.offset,
            flags: RecordFlags::from_bits_retain(raw.type_bits & !TYPE_MASK),
            body,
            modseq: self.modseq,
            modseq_changed: self.modseq > before,
        })
    }
}

/// The modseq after a record (`mail_transaction_update_modseq()`).
///
/// A log that does not track modseqs yet starts at 1 with the
/// introduction of the `modseq` extension; then appends, keyword
/// changes, attribute changes, external expunges and flag updates that
/// touch client-visible flags each raise it by one, and modseq updates
/// raise it to their highest value.
pub fn next_modseq(cur: u64, type_bits: u32, body: &RecordBody, version: u16) -> u64 {
    if cur == 0 {
        let starts = match body {
            RecordBody::ExtIntro(intros) => {
                intros.first().is_some_and(|i| i.name == MODSEQ_EXT_NAME)
            }
            _ => false,
        };
        return u64::from(starts);
    }

    let external = type_bits & RecordFlags::EXTERNAL.bits() != 0;
    let raises = match body {
        RecordBody::Expunge(_) | RecordBody::ExpungeGuid(_) => external,
        RecordBody::Append(_)
        | RecordBody::KeywordUpdate(_)
        | RecordBody::KeywordReset(_)
        | RecordBody::AttributeUpdate(_) => true,
        RecordBody::FlagUpdate(updates) => {
            version < VERSION_HIDE_INTERNAL_MODSEQS || updates.iter().any(|u| !u.is_internal())
        }
        RecordBody::ModseqUpdate(updates) => {
            let highest = updates.iter().map(|u| u.modseq).max().unwrap_or(0);
            return cur.max(highest);
        }
        _ => false,
    };
    // Dovecot's uint64_t wraps; so does ours (back to "not tracking").
    cur.wrapping_add(u64::from(raises))
}

/// Iterates over the decoded records of a log file; stops after the
/// first error.
#[derive(Debug, Clone)]
pub struct LogRecords<'a> {
    raw: RawRecords<'a>,
    state: ReadState,
}

impl<'a> LogRecords<'a> {
    /// Records of `data` (the whole file) from its header's end.
    pub fn new(data: &'a [u8], hdr: &LogFileHeader) -> Self {
        Self::from_offset(data, usize::from(hdr.hdr_size), ReadState::at_start(hdr))
    }

    /// Records from `offset`, which must be a record's start, with the
    /// state the records before it left (e.g. for reading from the
    /// index's log tail offset at a transaction boundary).
    pub fn from_offset(data: &'a [u8], offset: usize, state: ReadState) -> Self {
        LogRecords {
            raw: RawRecords::new(data, offset),
            state,
        }
    }

    /// The state before the next record.
    pub fn state(&self) -> ReadState {
        self.state
    }

    /// Where the next record starts.
    pub fn offset(&self) -> usize {
        self.raw.offset()
    }
}

impl Iterator for LogRecords<'_> {
    type Item = Result<LogRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        let raw = match self.raw.next()? {
            Ok(raw) => raw,
            Err(e) => return Some(Err(e)),
        };
        let rec = self.state.decode(&raw);
        if rec.is_err() {
            // Stop here: a record we cannot read leaves no safe place
            // to continue from.
            self.raw = RawRecords::new(&[], 0);
        }
        Some(rec)
    }
}

/// A whole log file, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    pub header: LogFileHeader,
    pub records: Vec<LogRecord>,
}

impl LogFile {
    /// Decode a whole file; the first error found is returned.
    pub fn decode(data: &[u8]) -> Result<Self> {
        let header = LogFileHeader::decode(data)?;
        let records = LogRecords::new(data, &header).collect::<Result<_>>()?;
        Ok(LogFile { header, records })
    }

    /// The file's bytes. Fails only for a record too large for the
    /// size field, which a decoded file never has.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.header.encode(&mut out);
        for rec in &self.records {
            rec.encode(&mut out)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
