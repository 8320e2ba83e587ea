//! The cache part of `doveadm dump` on an index (doveadm-dump-index.c):
//! the "-- CACHE:" section (`dump_cache_hdr()`) and each record's cache
//! lines (`dump_cache()`).
//!
//! The index dump owns the file and the index; it calls, in doveadm's
//! order:
//!
//! 1. [`CacheDump::open`] with the bytes of `dovecot.index.cache` (or
//!    `None` when the file is missing or unreadable) and the index
//!    header's indexid;
//! 2. after printing `"\n-- CACHE: {path}\n"`, [`CacheDump::write_header`];
//! 3. after each `RECORD:` line and its extension lines,
//!    [`CacheDump::write_record`] with the record's "cache" extension
//!    value (the offset of the message's newest cache record, 0 when the
//!    record has none or the index has no "cache" extension) and the
//!    "cache" extension's reset_id.
//!
//! Like Dovecot, a corruption found while dumping a record prints
//! " - broken cache" and makes the cache unusable for the records that
//! follow; a reset_id that does not match the file's file_seq prints
//! " - broken cache" for that record only.
//!
//! One difference on purpose: a record that runs past the end of the file
//! is "broken cache" here, where Dovecot reads on past the end (zeros
//! from the mapping's last page) and prints made-up fields.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::Path;

use jiff::tz::TimeZone;

use crate::doveadm::date::{unixdate2str, unixdate2str_in};
use crate::doveadm::dump::{DumpError, DumpResult, Dumper};
use crate::index::format::FormatError;
use crate::index::format::cache::{
    CacheFile, CacheRecord, CacheView, EntryRef, FieldDef, FieldType, HeaderValue, RecordRef,
    Region, number, offset_to_uint32, strip_nul,
};
use crate::mail::message_part::MessagePart;
use crate::mail::message_part_serialize;
use crate::util::hex::push_hex;

/// The cache file of an index being dumped, and whether it is usable.
#[derive(Debug)]
pub struct CacheDump<'a> {
    view: Option<CacheView<'a>>,
}

impl<'a> CacheDump<'a> {
    /// Open the cache as doveadm does: `data` is the cache file's bytes
    /// (`None`: no file), `indexid` the index header's. A file that
    /// fails Dovecot's checks, or belongs to another index, is unusable.
    pub fn open(data: Option<&'a [u8]>, indexid: u32) -> CacheDump<'a> {
        let view = data.and_then(|data| match CacheView::open(data) {
            Ok(view) if view.header.indexid == indexid => Some(view),
            Ok(_) => None,
            Err(e) => {
                log::error!("Corrupted index cache file: {e}");
                None
            }
        });
        CacheDump { view }
    }

    /// Whether the cache can be used (doveadm then prints its header).
    pub fn is_usable(&self) -> bool {
        self.view.is_some()
    }

    /// What `dump_cache_hdr()` prints: the cache header and the field
    /// table, or "cache is unusable".
    pub fn write_header(&self, out: &mut dyn Write) -> io::Result<()> {
        let Some(view) = &self.view else {
            return writeln!(out, "cache is unusable");
        };
        let hdr = &view.header;
        let purges = hdr.file_seq.wrapping_sub(hdr.indexid) as i32;
        writeln!(out, "major version ........ = {}", hdr.major_version)?;
        writeln!(out, "minor version ........ = {}", hdr.minor_version)?;
        writeln!(
            out,
            "indexid .............. = {} ({})",
            hdr.indexid,
            date(hdr.indexid)
        )?;
        writeln!(
            out,
            "file_seq ............. = {} ({}) ({purges} purges)",
            hdr.file_seq,
            date(hdr.file_seq)
        )?;
        writeln!(
            out,
            "continued_record_count = {}",
            hdr.continued_record_count
        )?;
        writeln!(out, "record_count ......... = {}", hdr.record_count)?;
        writeln!(
            out,
            "used_file_size (old) . = {}",
            hdr.backwards_compat_used_file_size
        )?;
        writeln!(out, "deleted_record_count . = {}", hdr.deleted_record_count)?;
        writeln!(
            out,
            "field_header_offset .. = {} (0x{:08x} nontranslated)",
            offset_to_uint32(hdr.field_header_offset),
            hdr.field_header_offset
        )?;
        write_fields(out, &view.fields)
    }

    /// What `dump_cache()` prints for one index record: its cache
    /// records, newest first, and their fields. `cache_offset` is the
    /// record's "cache" extension value, `reset_id` that extension's
    /// reset_id.
    pub fn write_record(
        &mut self,
        out: &mut dyn Write,
        cache_offset: u32,
        reset_id: u32,
    ) -> io::Result<()> {
        let Some(view) = &self.view else {
            return Ok(());
        };
        if cache_offset == 0 {
            return Ok(());
        }
        if reset_id != view.header.file_seq {
            // Dovecot tries to resync and, read-only, fails this lookup.
            return writeln!(out, " - broken cache");
        }
        match write_records(out, view, cache_offset)? {
            Ok(()) => Ok(()),
            Err(e) => {
                log::error!("Corrupted index cache file: {e}");
                self.view = None;
                writeln!(out, " - broken cache")
            }
        }
    }
}

fn date(timestamp: u32) -> String {
    unixdate2str(timestamp as i64)
}

fn date_in(timestamp: u32, tz: &TimeZone) -> String {
    unixdate2str_in(timestamp as i64, tz)
}

/// The "-- Cache fields --" table.
fn write_fields(out: &mut dyn Write, fields: &[FieldDef]) -> io::Result<()> {
    writeln!(out, "-- Cache fields --")?;
    writeln!(
        out,
        " #  Name                                         Type Size Dec  Last used"
    )?;
    let tz = TimeZone::system();
    for (i, field) in fields.iter().enumerate() {
        write!(out, "{i:2}: ")?;
        out.write_all(&field.name)?;
        let pad = 44usize.saturating_sub(field.name.len());
        write!(out, "{:pad$} {:<4} ", "", type_name(field.field_type))?;
        match field.fixed_size() {
            Some(size) => write!(out, "{size:4} ")?,
            None if field.field_type.is_fixed_size() => write!(out, "{:4} ", field.size)?,
            None => write!(out, "   - ")?,
        }
        let last_used = date_in(field.last_used, &tz);
        let minutes = last_used.get(..16).unwrap_or(&last_used);
        writeln!(out, "{:<4} {minutes}", decision_name(field.decision.kind()))?;
    }
    Ok(())
}

/// `cache_type2str()`.
fn type_name(t: FieldType) -> &'static str {
    match t {
        FieldType::FixedSize => "fix",
        FieldType::VariableSize => "var",
        FieldType::String => "str",
        FieldType::Bitmask => "bit",
        FieldType::Header => "hdr",
    }
}

/// `cache_decision2str()` for a decision read from a file, where the
/// forced bit is dropped and only valid values get this far.
fn decision_name(kind: u8) -> &'static str {
    match kind {
        0 => "no",
        1 => "tmp",
        _ => "yes",
    }
}

/// Print the chain of records from `newest`; the inner error is the
/// corruption that stopped it.
fn write_records(
    out: &mut dyn Write,
    view: &CacheView<'_>,
    newest: u32,
) -> io::Result<Result<(), FormatError>> {
    for rec in view.records(newest) {
        let rec = match rec {
            Ok(rec) => rec,
            Err(e) => return Ok(Err(e)),
        };
        for (n, entry) in view.entries(&rec).enumerate() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => return Ok(Err(e)),
            };
            if n == 0 {
                write_record_line(out, &rec)?;
            }
            let def = &view.fields[entry.field as usize];
            write_entry(out, def, &entry)?;
        }
    }
    Ok(Ok(()))
}

fn write_record_line(out: &mut dyn Write, rec: &RecordRef<'_>) -> io::Result<()> {
    writeln!(
        out,
        " - cache offset={} size={}, prev_offset = {}",
        rec.offset, rec.size, rec.prev_offset
    )
}

/// One field line, as `dump_cache()` formats it by type and name.
fn write_entry(out: &mut dyn Write, def: &FieldDef, entry: &EntryRef<'_>) -> io::Result<()> {
    let data = entry.data;
    let mut line = Vec::new();
    line.extend_from_slice(b"    - ");
    line.extend_from_slice(&def.name);
    line.extend_from_slice(b": ");
    match def.field_type {
        FieldType::FixedSize | FieldType::VariableSize | FieldType::Bitmask => {
            binary_value(&mut line, def, data);
        }
        FieldType::String => line.extend_from_slice(strip_nul(data)),
        FieldType::Header => header_value(&mut line, &HeaderValue::decode(data)),
    }
    line.push(b'\n');
    out.write_all(&line)
}

/// Fixed-size numbers, then the hex of the value, then the decoded form
/// of `mime.parts` and `body.snippet`.
fn binary_value(line: &mut Vec<u8>, def: &FieldDef, data: &[u8]) {
    if def.field_type == FieldType::FixedSize {
        match (data.len(), number(data)) {
            (4, Some(n)) => line.extend_from_slice(format!("{n} ").as_bytes()),
            (8, Some(n)) => line.extend_from_slice(n.to_string().as_bytes()),
            _ => {}
        }
    }
    line.push(b'(');
    push_hex(line, data);
    line.push(b')');
    match def.name.as_slice() {
        b"mime.parts" => mime_parts(line, data),
        b"body.snippet" if !data.is_empty() => {
            line.extend_from_slice(format!(" (version={}: ", data[0]).as_bytes());
            line.extend_from_slice(strip_nul(&data[1..]));
            line.push(b')');
        }
        _ => {}
    }
}

/// `dump_cache_mime_parts()`: the deserialized part tree, or why it
/// could not be deserialized.
fn mime_parts(line: &mut Vec<u8>, data: &[u8]) {
    line.push(b' ');
    match message_part_serialize::deserialize(data) {
        Ok(parts) => push_parts(line, parts.as_slice()),
        Err(e) => line.extend_from_slice(format!("error: {}", e.reason).as_bytes()),
    }
}

/// `dump_message_part()` over the parts in message order: each part in
/// parentheses, its children inside after a space. Iterative, so a deep
/// tree cannot exhaust the stack.
fn push_parts(line: &mut Vec<u8>, parts: &[MessagePart]) {
    let mut open_ends: Vec<usize> = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let text = format!(
            "(pos={} hdr.p={} hdr.v={} body.p={} body.v={} flags={:x}",
            part.physical_pos,
            part.header_size.physical_size,
            part.header_size.virtual_size,
            part.body_size.physical_size,
            part.body_size.virtual_size,
            part.flags.bits()
        );
        line.extend_from_slice(text.as_bytes());
        if part.children_count > 0 {
            line.push(b' ');
            open_ends.push(i + 1 + part.children_count as usize);
        } else {
            line.push(b')');
        }
        while open_ends.last().is_some_and(|&end| end <= i + 1) {
            open_ends.pop();
            line.push(b')');
        }
    }
    for _ in open_ends {
        line.push(b')');
    }
}

/// Line numbers, then ": " and the text, which C's "%.*s" ends at a NUL.
fn header_value(line: &mut Vec<u8>, value: &HeaderValue<'_>) {
    let numbers: Vec<String> = value.lines.iter().map(u32::to_string).collect();
    line.extend_from_slice(numbers.join(", ").as_bytes());
    if !value.terminated {
        line.extend_from_slice(b"\n - BROKEN: header field doesn't end with 0 line");
        return;
    }

    let mut text = value.text;
    if value.lines.len() == 1 {
        text = text.strip_suffix(b"\n").unwrap_or(text);
    }
    if !text.is_empty() {
        line.extend_from_slice(b": ");
        line.extend(text.iter().take_while(|&&c| c != 0));
    }
}

/// `doveadm-rs dump -t cache FILE`: the cache file alone.
///
/// Real doveadm has no such type (it shows the cache only inside an
/// index dump), so this is an extension: never autodetected, and its
/// name is not in doveadm's list of types. It prints the same
/// "-- CACHE:" section as the index dump, then each chain of records
/// (newest record first, as a message's lookup walks it) in the same
/// form as the index dump's per-record cache lines, one blank line
/// after each chain.
pub const DUMPER: Dumper = Dumper {
    name: "cache",
    test: |_| false,
    dump: dump_cache_file,
};

fn dump_cache_file(path: &Path, _args: &[String], out: &mut dyn Write) -> DumpResult {
    let data = std::fs::read(path)
        .map_err(|e| DumpError::fatal(format!("open({}) failed: {e}", path.display())))?;
    let file = CacheFile::decode_lenient(&data)
        .map_err(|e| DumpError::fatal(format!("{}", e.in_file(path))))?;

    writeln!(out, "-- CACHE: {}", path.display())?;
    let mut dump = CacheDump::open(Some(&data), file.header.indexid);
    dump.write_header(out)?;

    let heads = chain_heads(&file);
    writeln!(out, "\n-- RECORD CHAINS: {}", heads.len())?;
    for head in heads {
        dump.write_record(out, head, file.header.file_seq)?;
        writeln!(out)?;
    }
    Ok(())
}

/// Offsets of the records no other record points back to: the newest
/// record of each message's chain, in file order.
fn chain_heads(file: &CacheFile) -> Vec<u32> {
    let records: Vec<&CacheRecord> = file
        .regions
        .iter()
        .filter_map(|r| match r {
            Region::Record(rec) => Some(rec),
            _ => None,
        })
        .collect();
    let pointed: HashSet<u32> = records.iter().map(|r| r.prev_offset).collect();
    records
        .iter()
        .map(|r| r.offset)
        .filter(|offset| !pointed.contains(offset))
        .collect()
}
