//! `doveadm dump -t log`: print a transaction log's header and records
//! as doveadm-dump-log.c does, on the codec in
//! [`crate::index::format::log`].
//!
//! doveadm's log dump is a debugging aid that reads raw bytes: it stops
//! quietly at a record whose size field is broken, fails at a truncated
//! one, and for some types prints from bytes past a short payload. We
//! print the same for every file whose records decode, and for the
//! malformed payloads that doveadm handles on purpose ("too large",
//! "broken entry"); where doveadm would read past the end of a payload
//! that our decoder refuses, we stop with a fatal error naming the
//! offset instead, and also at a record without payload, where doveadm
//! 2.3.19 aborts on an assertion.

use std::io::Write;
use std::path::Path;

use super::date::unixdate2str;
use super::dump::{DumpError, DumpResult, Dumper};
use crate::index::format::log::{
    BodyContext, HEADER_MIN_SIZE, HEADER_SIZE, LogFileHeader, MAJOR_VERSION, RECORD_HEADER_SIZE,
    RecordBody, RecordFlags, TYPE_MASK, UidRange, next_modseq, unpack_size,
};
use crate::index::format::log::{
    EXPUNGE_PROT, TYPE_APPEND, TYPE_ATTRIBUTE_UPDATE, TYPE_BOUNDARY, TYPE_EXPUNGE,
    TYPE_EXPUNGE_GUID, TYPE_EXT_ATOMIC_INC, TYPE_EXT_HDR_UPDATE, TYPE_EXT_HDR_UPDATE32,
    TYPE_EXT_INTRO, TYPE_EXT_REC_UPDATE, TYPE_EXT_RESET, TYPE_FLAG_UPDATE, TYPE_HEADER_UPDATE,
    TYPE_INDEX_DELETED, TYPE_INDEX_UNDELETED, TYPE_KEYWORD_RESET, TYPE_KEYWORD_UPDATE,
    TYPE_MODSEQ_UPDATE,
};
use crate::index::format::{Bytes, FormatError};

/// The `log` entry of `doveadm dump`'s type table.
pub const DUMPER: Dumper = Dumper {
    name: "log",
    test: is_log_file,
    dump: dump_log_file,
};

/// doveadm's autodetection test: the name's first `.log` ends the name
/// or is followed by a dot, and the file starts with a plausible header
/// (major version 1, `hdr_size` at least 24, 24 bytes readable).
pub fn is_log_file(path: &Path) -> bool {
    let name = path.as_os_str().as_encoded_bytes();
    let base = match name.iter().rposition(|&b| b == b'/') {
        Some(slash) => &name[slash..],
        None => name,
    };
    let Some(at) = base.windows(4).position(|w| w == b".log") else {
        return false;
    };
    if !matches!(base.get(at + 4), None | Some(b'.')) {
        return false;
    }
    has_log_header(path)
}

fn has_log_header(path: &Path) -> bool {
    use std::io::Read;
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut head = Vec::with_capacity(HEADER_SIZE);
    if file
        .take(HEADER_SIZE as u64)
        .read_to_end(&mut head)
        .is_err()
    {
        return false;
    }
    let hdr_size = Bytes::new(&head).u16(2, "hdr_size").unwrap_or(0);
    head.len() >= HEADER_MIN_SIZE
        && head[0] == MAJOR_VERSION
        && usize::from(hdr_size) >= HEADER_MIN_SIZE
}

fn dump_log_file(path: &Path, _args: &[String], out: &mut dyn Write) -> DumpResult {
    let data = std::fs::read(path).map_err(|e| read_error(path, &e))?;
    dump_log(&data, out)
}

/// doveadm's message for a file it cannot read.
// TODO(dump-log-errors): doveadm adds the euid, egid and the missing
// permission to an EACCES message (eacces_error_get()); we print only
// strerror, which differs for files the caller may not read.
fn read_error(path: &Path, e: &std::io::Error) -> DumpError {
    let text = e.to_string();
    let strerror = text.split(" (os error").next().unwrap_or(&text);
    let what = if e.raw_os_error() == Some(libc::EISDIR) {
        "pread(size=8192 offset=0)".to_string()
    } else {
        format!("open({})", path.display())
    };
    DumpError::fatal(format!("read() failed: {what} failed: {strerror}"))
}

/// Print the dump of a log file's bytes.
pub fn dump_log(data: &[u8], out: &mut dyn Write) -> DumpResult {
    let hdr = LogFileHeader::decode_lenient(data).map_err(|_| {
        DumpError::fatal(format!("file hdr read() {} != {HEADER_SIZE}", data.len()))
    })?;
    print_header(&hdr, out)?;

    let mut state = DumpState {
        data,
        version: hdr.version(),
        modseq: hdr.initial_modseq,
        intro_record_size: 0,
    };
    let mut offset = usize::from(hdr.hdr_size);
    while let Some(next) = state.dump_record(offset, out)? {
        offset = next;
    }
    Ok(())
}

fn print_header(hdr: &LogFileHeader, out: &mut dyn Write) -> DumpResult {
    writeln!(out, "version = {}.{}", hdr.major_version, hdr.minor_version)?;
    writeln!(out, "hdr size = {}", hdr.hdr_size)?;
    writeln!(out, "index id = {}", hdr.indexid)?;
    writeln!(out, "file seq = {}", hdr.file_seq)?;
    writeln!(
        out,
        "prev file = {}/{}",
        hdr.prev_file_seq, hdr.prev_file_offset
    )?;
    writeln!(out, "create stamp = {}", hdr.create_stamp)?;
    writeln!(out, "initial modseq = {}", hdr.initial_modseq)?;
    writeln!(out, "compat flags = {:x}", hdr.compat_flags)?;
    Ok(())
}

/// doveadm's name for a record type, flags included.
pub fn record_type_name(type_bits: u32) -> String {
    let name = match type_bits & TYPE_MASK {
        t if t == TYPE_EXPUNGE | EXPUNGE_PROT => "expunge",
        t if t == TYPE_EXPUNGE_GUID | EXPUNGE_PROT => "expunge-guid",
        TYPE_APPEND => "append",
        TYPE_FLAG_UPDATE => "flag-update",
        TYPE_HEADER_UPDATE => "header-update",
        TYPE_EXT_INTRO => "ext-intro",
        TYPE_EXT_RESET => "ext-reset",
        TYPE_EXT_HDR_UPDATE => "ext-hdr",
        TYPE_EXT_HDR_UPDATE32 => "ext-hdr32",
        TYPE_EXT_REC_UPDATE => "ext-rec",
        TYPE_KEYWORD_UPDATE => "keyword-update",
        TYPE_KEYWORD_RESET => "keyword-reset",
        TYPE_EXT_ATOMIC_INC => "ext-atomic-inc",
        TYPE_MODSEQ_UPDATE => "modseq-update",
        TYPE_INDEX_DELETED => "index-deleted",
        TYPE_INDEX_UNDELETED => "index-undeleted",
        TYPE_BOUNDARY => "boundary",
        TYPE_ATTRIBUTE_UPDATE => "attribute-update",
        _ => "",
    };
    let mut name = if name.is_empty() {
        format!("unknown: {type_bits:x}")
    } else {
        name.to_string()
    };
    if type_bits & RecordFlags::EXTERNAL.bits() != 0 {
        name.push_str(" (ext)");
    }
    if type_bits & RecordFlags::SYNC.bits() != 0 {
        name.push_str(" (sync)");
    }
    name
}

/// What the dump carries from one record to the next.
struct DumpState<'a> {
    data: &'a [u8],
    version: u16,
    modseq: u64,
    /// `record_size` of the first intro of the last ext-intro record:
    /// doveadm cuts ext-rec payloads with it.
    intro_record_size: u16,
}

/// One record being printed.
struct Rec<'a> {
    offset: usize,
    type_bits: u32,
    payload: &'a [u8],
    /// The file from the payload on: doveadm reads past short payloads.
    tail: &'a [u8],
}

impl<'a> DumpState<'a> {
    /// Print the record at `offset`; the next record's offset, or
    /// `None` at the end.
    fn dump_record(
        &mut self,
        offset: usize,
        out: &mut dyn Write,
    ) -> Result<Option<usize>, DumpError> {
        let left = self.data.len().saturating_sub(offset);
        if left == 0 {
            return Ok(None);
        }
        if left < RECORD_HEADER_SIZE {
            return Err(DumpError::fatal(format!(
                "rec hdr read() {left} != {RECORD_HEADER_SIZE}"
            )));
        }
        let head = Bytes::new(self.data);
        let packed = head.u32(offset, "size").map_err(corrupt)?;
        let type_bits = head.u32(offset + 4, "type").map_err(corrupt)?;
        let type_name = record_type_name(type_bits);

        let size = unpack_size(packed).unwrap_or(0) as usize;
        if size < RECORD_HEADER_SIZE {
            writeln!(
                out,
                "record: offset={offset}, type={type_name}, size=broken ({packed:x})"
            )?;
            return Ok(None);
        }
        write!(
            out,
            "record: offset={offset}, type={type_name}, size={size}"
        )?;

        let data_size = size - RECORD_HEADER_SIZE;
        if data_size == 0 {
            // doveadm 2.3.19 aborts here (it asks its stream for zero
            // bytes); stopping with an error is the closest we can do.
            return Err(DumpError::fatal(format!(
                "record at offset {offset} has no payload"
            )));
        }
        let avail = left - RECORD_HEADER_SIZE;
        if avail < data_size {
            return Err(DumpError::fatal(format!(
                "rec data read() {avail} != {data_size}"
            )));
        }
        let start = offset + RECORD_HEADER_SIZE;
        let rec = Rec {
            offset,
            type_bits,
            payload: &self.data[start..start + data_size],
            tail: &self.data[start..],
        };
        self.print_record(&rec, out)?;
        Ok(Some(offset + size))
    }

    fn print_record(&mut self, rec: &Rec, out: &mut dyn Write) -> DumpResult {
        let body = self.decode(rec);
        let before = self.modseq;
        self.modseq = self.modseq_after(rec, &body)?;
        if self.modseq > before {
            write!(out, ", modseq={}", self.modseq)?;
        }
        writeln!(out)?;

        self.format_body(rec, body, out)
    }

    fn decode(&self, rec: &Rec) -> Result<RecordBody, FormatError> {
        let type_code = rec.type_bits & TYPE_MASK;
        let at = (rec.offset + RECORD_HEADER_SIZE) as u64;
        let ctx = BodyContext {
            ext_record_size: Some(self.intro_record_size),
        };
        RecordBody::decode(type_code, rec.payload, at, ctx)
    }

    /// The modseq after `rec`; a record whose effect on it depends on a
    /// payload we cannot decode is an error.
    fn modseq_after(
        &self,
        rec: &Rec,
        body: &Result<RecordBody, FormatError>,
    ) -> Result<u64, DumpError> {
        match body {
            Ok(body) => Ok(next_modseq(self.modseq, rec.type_bits, body, self.version)),
            Err(e) => match placeholder_body(rec.type_bits & TYPE_MASK, self.modseq) {
                Some(b) => Ok(next_modseq(self.modseq, rec.type_bits, &b, self.version)),
                None => Err(corrupt(e.clone())),
            },
        }
    }

    fn format_body(
        &mut self,
        rec: &Rec,
        body: Result<RecordBody, FormatError>,
        out: &mut dyn Write,
    ) -> DumpResult {
        match rec.type_bits & TYPE_MASK {
            TYPE_HEADER_UPDATE => header_update(rec, out),
            TYPE_EXT_INTRO => self.ext_intro(rec, out),
            TYPE_EXT_RESET => ext_reset(rec, out),
            TYPE_EXT_HDR_UPDATE => ext_hdr_update(rec, false, out),
            TYPE_EXT_HDR_UPDATE32 => ext_hdr_update(rec, true, out),
            TYPE_EXT_REC_UPDATE => self.ext_rec_update(rec, out),
            TYPE_ATTRIBUTE_UPDATE => attribute_update(rec, out),
            _ => typed_body(&body.map_err(corrupt)?, out),
        }
    }

    fn ext_intro(&mut self, rec: &Rec, out: &mut dyn Write) -> DumpResult {
        let b = Bytes::new(rec.payload);
        let field = |off, what| b.u32(off, what).map_err(|e| corrupt_at(rec, e));
        let half = |off, what| b.u16(off, what).map_err(|e| corrupt_at(rec, e));
        let record_size = half(12, "ext intro record_size")?;
        let name_size = half(18, "ext intro name_size")?;
        let name = b
            .slice(20, usize::from(name_size), "ext intro name")
            .map_err(|e| corrupt_at(rec, e))?;

        self.intro_record_size = record_size;
        writeln!(out, " - ext_id = {}", field(0, "ext intro ext_id")?)?;
        writeln!(out, " - reset_id = {}", field(4, "ext intro reset_id")?)?;
        writeln!(out, " - hdr_size = {}", field(8, "ext intro hdr_size")?)?;
        writeln!(out, " - record_size = {record_size}")?;
        writeln!(
            out,
            " - record_align = {}",
            half(14, "ext intro record_align")?
        )?;
        writeln!(out, " - flags = {}", half(16, "ext intro flags")?)?;
        writeln!(out, " - name_size = {name_size}")?;
        if name_size > 0 {
            out.write_all(b" - name = '")?;
            out.write_all(c_str(name))?;
            out.write_all(b"'\n")?;
        }
        Ok(())
    }

    fn ext_rec_update(&self, rec: &Rec, out: &mut dyn Write) -> DumpResult {
        let record_size = usize::from(self.intro_record_size);
        let stride = (4 + record_size).next_multiple_of(4);
        let b = Bytes::new(rec.payload);
        let mut pos = 0;
        while pos < rec.payload.len() {
            let uid = b.u32(pos, "ext rec uid").map_err(|e| corrupt_at(rec, e))?;
            write!(out, " - uid={uid}: ")?;
            match rec.payload.get(pos + 4..pos + 4 + record_size) {
                Some(data) => print_data(out, data)?,
                None => out.write_all(b"(record_size too large)")?,
            }
            out.write_all(b"\n")?;
            pos += stride;
        }
        Ok(())
    }
}

fn corrupt(e: FormatError) -> DumpError {
    DumpError::fatal(format!("Corrupted log record: {e}"))
}

/// A payload-relative error re-anchored at the record's payload.
fn corrupt_at(rec: &Rec, e: FormatError) -> DumpError {
    let at = (rec.offset + RECORD_HEADER_SIZE) as u64 + e.offset;
    corrupt(FormatError::new(at, e.reason))
}

/// A stand-in body for a payload that did not decode, when the type
/// alone decides the modseq; `None` when the payload would matter.
fn placeholder_body(type_code: u32, modseq: u64) -> Option<RecordBody> {
    let tracking = modseq != 0;
    match type_code {
        TYPE_EXT_INTRO if tracking => Some(RecordBody::ExtIntro(Vec::new())),
        TYPE_FLAG_UPDATE | TYPE_MODSEQ_UPDATE | TYPE_EXT_INTRO => None,
        TYPE_ATTRIBUTE_UPDATE => Some(RecordBody::AttributeUpdate(Vec::new())),
        TYPE_KEYWORD_UPDATE | TYPE_APPEND | TYPE_KEYWORD_RESET => {
            Some(RecordBody::Append(Vec::new()))
        }
        t if t == TYPE_EXPUNGE | EXPUNGE_PROT || t == TYPE_EXPUNGE_GUID | EXPUNGE_PROT => {
            Some(RecordBody::Expunge(Vec::new()))
        }
        _ => Some(RecordBody::Boundary(0)),
    }
}

/// The bodies doveadm prints from their decoded entries.
fn typed_body(body: &RecordBody, out: &mut dyn Write) -> DumpResult {
    match body {
        RecordBody::Expunge(ranges) => uid_ranges(out, b" - uids=", ranges, ",")?,
        RecordBody::ExpungeGuid(entries) => {
            for e in entries {
                write!(out, " - uid={} (guid ", e.uid)?;
                print_data(out, &e.guid_128)?;
                out.write_all(b")\n")?;
            }
        }
        RecordBody::Append(recs) => {
            out.write_all(b" - uids=")?;
            for r in recs {
                write!(out, "{}", r.uid)?;
                if r.flags != 0 {
                    write!(out, " (flags={:x})", r.flags)?;
                }
                out.write_all(b",")?;
            }
            out.write_all(b"\n")?;
        }
        RecordBody::FlagUpdate(updates) => {
            for u in updates {
                writeln!(
                    out,
                    " - uids={}-{} (flags +{:x}-{:x}, modseq_inc_flag={})",
                    u.uids.uid1, u.uids.uid2, u.add_flags, u.remove_flags, u.modseq_inc_flag
                )?;
            }
        }
        RecordBody::ExtAtomicInc(incs) => {
            for i in incs {
                let sign = if i.diff > 0 { "+" } else { "" };
                writeln!(out, " - uid={}: {sign}{}", i.uid, i.diff)?;
            }
        }
        RecordBody::KeywordUpdate(k) => {
            write!(out, " - modify={}, name=", k.modify.to_u8())?;
            out.write_all(c_str(&k.name))?;
            uid_ranges(out, b", uids=", &k.uids, ",")?;
        }
        RecordBody::KeywordReset(ranges) => uid_ranges(out, b" - uids=", ranges, ", ")?,
        RecordBody::ModseqUpdate(updates) => {
            for u in updates {
                writeln!(out, " - uid={} modseq={}", u.uid, u.modseq)?;
            }
        }
        RecordBody::Boundary(size) => {
            writeln!(out, " - size={size}")?;
        }
        _ => {}
    }
    Ok(())
}

/// A line of UID ranges, each followed by `sep`.
fn uid_ranges(out: &mut dyn Write, prefix: &[u8], ranges: &[UidRange], sep: &str) -> DumpResult {
    out.write_all(prefix)?;
    for r in ranges {
        write!(out, "{}-{}{sep}", r.uid1, r.uid2)?;
    }
    out.write_all(b"\n")?;
    Ok(())
}

/// `struct mail_index_header` fields doveadm names in header updates:
/// (name, offset, size).
const HEADER_FIELDS: [(&str, usize, usize); 20] = [
    ("minor_version", 1, 1),
    ("base_header_size", 2, 2),
    ("header_size", 4, 4),
    ("record_size", 8, 4),
    ("compat_flags", 12, 1),
    ("indexid", 16, 4),
    ("flags", 20, 4),
    ("uid_validity", 24, 4),
    ("next_uid", 28, 4),
    ("messages_count", 32, 4),
    ("unused_old_recent_messages_count", 36, 4),
    ("seen_messages_count", 40, 4),
    ("deleted_messages_count", 44, 4),
    ("first_recent_uid", 48, 4),
    ("first_unseen_uid_lowwater", 52, 4),
    ("first_deleted_uid_lowwater", 56, 4),
    ("log_file_seq", 60, 4),
    ("log_file_tail_offset", 64, 4),
    ("log_file_head_offset", 68, 4),
    ("day_stamp", 84, 4),
];

/// The first update of a header-update record, field by field.
fn header_update(rec: &Rec, out: &mut dyn Write) -> DumpResult {
    let b = Bytes::new(rec.payload);
    let mut offset = usize::from(
        b.u16(0, "header update offset")
            .map_err(|e| corrupt_at(rec, e))?,
    );
    let mut size = usize::from(
        b.u16(2, "header update size")
            .map_err(|e| corrupt_at(rec, e))?,
    );
    if 4 + size > rec.payload.len() {
        writeln!(out, " - offset = {offset}, size = {size} (too large)")?;
        return Ok(());
    }

    let mut pos = 4;
    while size > 0 {
        let field = HEADER_FIELDS.iter().find(|f| f.1 == offset && f.2 <= size);
        let Some(&(name, _, field_size)) = field else {
            write!(out, " - offset = {offset}, size = {size}: ")?;
            print_data(out, &rec.payload[pos..pos + size])?;
            out.write_all(b"\n")?;
            break;
        };
        writeln!(out, " - {name} = {}", try_uint(rec, pos, field_size)?)?;
        pos += field_size;
        offset += field_size;
        size -= field_size;
    }
    Ok(())
}

/// doveadm's `print_try_uint()` for the header fields (one, two or four
/// bytes); a two-byte field is read as four bytes there, which may reach
/// past the update into the bytes after it.
fn try_uint(rec: &Rec, pos: usize, size: usize) -> Result<u32, DumpError> {
    let b = Bytes::new(rec.tail);
    let value = if size == 1 {
        b.u8(pos, "header field").map(u32::from)
    } else {
        b.u32(pos, "header field")
    };
    value.map_err(|e| corrupt_at(rec, e))
}

fn ext_hdr_update(rec: &Rec, wide: bool, out: &mut dyn Write) -> DumpResult {
    let b = Bytes::new(rec.payload);
    let err = |e| corrupt_at(rec, e);
    let (head, offset, size) = if wide {
        (
            8,
            b.u32(0, "ext hdr offset").map_err(err)? as usize,
            b.u32(4, "ext hdr size").map_err(err)? as usize,
        )
    } else {
        let off = b.u16(0, "ext hdr offset").map_err(err)?;
        (
            4,
            usize::from(off),
            usize::from(b.u16(2, "ext hdr size").map_err(err)?),
        )
    };
    write!(out, " - offset = {offset}, size = {size}")?;
    match rec.payload.get(head..).and_then(|d| d.get(..size)) {
        Some(data) => {
            out.write_all(b": ")?;
            print_data(out, data)?;
        }
        None => out.write_all(b" (too large)")?,
    }
    out.write_all(b"\n")?;
    Ok(())
}

fn ext_reset(rec: &Rec, out: &mut dyn Write) -> DumpResult {
    // doveadm reads the full struct even from an old four-byte record.
    let b = Bytes::new(rec.tail);
    let err = |e| corrupt_at(rec, e);
    writeln!(
        out,
        " - new_reset_id = {}",
        b.u32(0, "ext reset id").map_err(err)?
    )?;
    writeln!(
        out,
        " - preserve_data = {}",
        b.u8(4, "ext reset preserve_data").map_err(err)?
    )?;
    Ok(())
}

/// Attribute updates, walked the way doveadm walks them (including its
/// reading of the padding after the keys).
fn attribute_update(rec: &Rec, out: &mut dyn Write) -> DumpResult {
    let keys = rec.payload;
    let size = keys.len();
    let mut i = 0;
    let mut extra_count = 0usize;
    while i < size && keys[i] != 0 {
        extra_count += 1 + usize::from(keys[i] == b'+');
        i += c_strlen(rec.tail, i) + 1;
    }
    if i % 4 != 0 {
        i += 4 - i % 4;
    }
    if i > size || size - i != extra_count * 4 {
        out.write_all(b" - broken entry\n")?;
        return Ok(());
    }

    let extra = Bytes::new(&keys[i..]);
    let mut word = 0;
    let mut next = || {
        let v = extra.u32(word * 4, "attribute value");
        word += 1;
        v.unwrap_or(0)
    };
    let mut i = 0;
    while i < size && keys[i] != 0 {
        let op = match keys[i] {
            b'+' => "add",
            b'-' => "remove",
            _ => "?",
        };
        let kind = match rec.tail.get(i + 1) {
            Some(b'p') => "private",
            Some(b's') => "shared",
            _ => "?error?",
        };
        let key_at = (i + 2).min(rec.tail.len());
        let key = &rec.tail[key_at..key_at + c_strlen(rec.tail, key_at)];
        let stamp = unixdate2str(i64::from(next()));
        write!(out, " - {op}: {kind}/")?;
        out.write_all(key)?;
        write!(out, " : timestamp={stamp}")?;
        if keys[i] == b'+' {
            write!(out, " value_len={}", next())?;
        }
        out.write_all(b"\n")?;
        i += c_strlen(rec.tail, i) + 1;
    }
    Ok(())
}

/// `strlen()` from `at`, bounded by the end of `data`.
fn c_strlen(data: &[u8], at: usize) -> usize {
    let rest = data.get(at..).unwrap_or_default();
    rest.iter().position(|&b| b == 0).unwrap_or(rest.len())
}

/// Bytes printed with `%.*s`: up to the first NUL.
fn c_str(bytes: &[u8]) -> &[u8] {
    &bytes[..c_strlen(bytes, 0)]
}

/// doveadm's `print_data()`: hex, and the value of a four-byte field.
fn print_data(out: &mut dyn Write, data: &[u8]) -> DumpResult {
    out.write_all(crate::util::hex::binary_to_hex(data).as_bytes())?;
    if let Ok(four) = <[u8; 4]>::try_from(data) {
        write!(out, " (dec={})", u32::from_ne_bytes(four))?;
    }
    Ok(())
}
