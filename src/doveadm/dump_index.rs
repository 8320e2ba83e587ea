//! `doveadm dump` of an index (doveadm-dump-index.c): the header, the
//! extensions with their headers decoded, the keywords, the cache (from
//! [`super::dump_cache`]), and every record with its extension data and
//! cache fields, or only the record of one UID.
//!
//! The index is opened as Dovecot opens it read-only: `dovecot.index`
//! (or `dovecot.map.index`) plus the transaction log replayed on top.
//! When dovecot.index is unusable, doveadm dumps an empty index and so
//! does this, except on purpose where doveadm crashes: a record area
//! shorter than messages_count makes Debian's doveadm try to fsck a
//! read-only index and abort; here it is an unusable file like any
//! other.

use std::io::Write;
use std::path::Path;

use super::date::unixdate2str;
use super::dump::{DumpError, DumpResult, Dumper};
use super::dump_cache::CacheDump;
use crate::index::format::index::{ExtHeader, IndexHeader, mail_flags};
use crate::index::map::{EXT_CACHE, IndexFiles, IndexMap, OpenError, OpenedIndex, open_index};

/// The `index` entry of doveadm's dump types.
pub const DUMPER: Dumper = Dumper {
    name: "index",
    test: test_dump_index,
    dump: cmd_dump_index,
};

/// Where an index lives: its directory and file name prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IndexPath {
    dir: String,
    prefix: String,
}

impl IndexPath {
    /// `dir/prefix`, as Dovecot names the index (`index->filepath`).
    fn filepath(&self) -> String {
        format!("{}/{}", self.dir, self.prefix)
    }
}

/// path_open_index: a directory holding `dovecot.index` or
/// `dovecot.map.index` (or only their logs), or the index file itself.
fn index_path(path: &Path) -> Option<IndexPath> {
    let text = path.to_string_lossy();
    if path.is_dir() {
        let has =
            |name: &str| path.join(name).exists() || path.join(format!("{name}.log")).exists();
        let prefix = ["dovecot.index", "dovecot.map.index"]
            .into_iter()
            .find(|name| has(name))?;
        return Some(IndexPath {
            dir: text.into_owned(),
            prefix: prefix.to_string(),
        });
    }
    let (dir, prefix) = match text.rfind('/') {
        Some(slash) => (&text[..slash], &text[slash + 1..]),
        None => (".", &text[..]),
    };
    Some(IndexPath {
        dir: dir.to_string(),
        prefix: prefix.to_string(),
    })
}

fn open(path: &IndexPath) -> Option<OpenedIndex> {
    let files = IndexFiles::read(Path::new(&path.dir), &path.prefix)
        .inspect_err(|e| log::error!("{e}"))
        .ok()?;
    match open_index(&files) {
        Ok(opened) => {
            for e in &opened.errors {
                log::error!("Index {}: {e}", path.filepath());
            }
            Some(opened)
        }
        // Like Dovecot's read-only open, a missing log is no error.
        Err(OpenError::NoLog) => None,
        Err(e @ OpenError::IndexidMismatch { .. }) => {
            log::error!("Index file {}: {e}", path.filepath());
            None
        }
        Err(OpenError::NeedsFsck(reason)) => {
            log::error!("Corrupted index file {}: {reason}", path.filepath());
            None
        }
        Err(e) => {
            log::error!("Index {}: {e}", path.filepath());
            None
        }
    }
}

/// test_dump_index: can the path be opened as an index?
fn test_dump_index(path: &Path) -> bool {
    index_path(path).and_then(|p| open(&p)).is_some()
}

/// cmd_dump_index.
fn cmd_dump_index(path: &Path, args: &[String], out: &mut dyn Write) -> DumpResult {
    let index_path = index_path(path);
    let opened = index_path
        .as_ref()
        .and_then(open)
        .ok_or_else(|| DumpError::fatal(format!("Couldn't open index {}", path.display())))?;
    let index_path = index_path.expect("opened");
    let uid = match args.first() {
        Some(arg) => arg
            .parse::<u32>()
            .ok()
            .filter(|_| arg.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| DumpError::fatal(format!("Invalid uid number {arg}")))?,
        None => 0,
    };

    let filepath = index_path.filepath();
    let cache_data = std::fs::read(format!("{filepath}.cache")).ok();
    write_dump(out, &filepath, &opened, cache_data.as_deref(), uid)?;
    Ok(())
}

/// What `doveadm dump` prints for an opened index named `filepath`
/// (`dir/prefix`), with the bytes of its cache file: everything when
/// `uid` is 0, else only that message's record.
pub fn write_dump(
    out: &mut dyn Write,
    filepath: &str,
    opened: &OpenedIndex,
    cache_data: Option<&[u8]>,
    uid: u32,
) -> std::io::Result<()> {
    let map = &opened.map;
    let mut cache = CacheDump::open(cache_data, map.hdr.indexid);
    if uid == 0 {
        writeln!(out, "-- INDEX: {filepath}")?;
        dump_hdr(out, &map.hdr)?;
        dump_extensions(out, map)?;
        dump_keywords(out, map)?;
        writeln!(out, "\n-- CACHE: {filepath}.cache")?;
        cache.write_header(out)?;
        writeln!(out, "\n-- RECORDS: {}", map.hdr.messages_count)?;
    }
    for idx in 0..map.hdr.messages_count as usize {
        if uid == 0 || map.records.uid(idx) == Some(uid) {
            dump_record(out, opened, idx)?;
            let (offset, reset_id) = cache_offset(map, idx);
            cache.write_record(out, offset, reset_id)?;
            writeln!(out)?;
        }
    }
    Ok(())
}

/// The record's offset in the cache file and the cache extension's
/// reset_id; offset 0 when the index has no cache extension.
fn cache_offset(map: &IndexMap, idx: usize) -> (u32, u32) {
    let Some(ext_idx) = map.ext_idx(EXT_CACHE) else {
        return (0, 0);
    };
    let ext = &map.extensions[ext_idx];
    let offset = match ext.record_offset {
        0 => 0,
        _ => ext_records::u32_at(&record_field(map, idx, ext, 4), 0),
    };
    (offset, ext.reset_id)
}

fn date(timestamp: u32) -> String {
    unixdate2str(i64::from(timestamp))
}

/// dump_hdr.
fn dump_hdr(out: &mut dyn Write, h: &IndexHeader) -> std::io::Result<()> {
    writeln!(
        out,
        "version .................. = {}.{}",
        h.major_version, h.minor_version
    )?;
    writeln!(out, "base header size ......... = {}", h.base_header_size)?;
    writeln!(out, "header size .............. = {}", h.header_size)?;
    writeln!(out, "record size .............. = {}", h.record_size)?;
    writeln!(out, "compat flags ............. = {}", h.compat_flags)?;
    writeln!(
        out,
        "index id ................. = {} ({})",
        h.indexid,
        date(h.indexid)
    )?;
    writeln!(out, "flags .................... = {}", h.flags)?;
    let uidv = h.uid_validity;
    writeln!(out, "uid validity ............. = {uidv} ({})", date(uidv))?;
    writeln!(out, "next uid ................. = {}", h.next_uid)?;
    writeln!(out, "messages count ........... = {}", h.messages_count)?;
    writeln!(
        out,
        "seen messages count ...... = {}",
        h.seen_messages_count
    )?;
    writeln!(
        out,
        "deleted messages count ... = {}",
        h.deleted_messages_count
    )?;
    writeln!(out, "first recent uid ......... = {}", h.first_recent_uid)?;
    writeln!(
        out,
        "first unseen uid lowwater  = {}",
        h.first_unseen_uid_lowwater
    )?;
    writeln!(
        out,
        "first deleted uid lowwater = {}",
        h.first_deleted_uid_lowwater
    )?;
    writeln!(out, "log file seq ............. = {}", h.log_file_seq)?;
    let (tail, head) = match h.minor_version {
        0 => ("log file int offset ......", "log file ext offset ......"),
        _ => ("log file tail offset .....", "log file head offset ....."),
    };
    writeln!(out, "{tail} = {}", h.log_file_tail_offset)?;
    writeln!(out, "{head} = {}", h.log_file_head_offset)?;
    if h.minor_version >= 3 {
        let (rotate, scan) = (h.log2_rotate_time, h.last_temp_file_scan);
        writeln!(
            out,
            "log2 rotate time ......... = {rotate} ({})",
            date(rotate)
        )?;
        writeln!(out, "last temp file scan ...... = {scan} ({})", date(scan))?;
    }
    writeln!(
        out,
        "day stamp ................ = {} ({})",
        h.day_stamp,
        date(h.day_stamp)
    )?;
    for (i, uid) in h.day_first_uid.iter().enumerate() {
        writeln!(out, "day first uid[{i}] ......... = {uid}")?;
    }
    Ok(())
}

/// dump_extensions.
fn dump_extensions(out: &mut dyn Write, map: &IndexMap) -> std::io::Result<()> {
    if map.extensions.is_empty() {
        return writeln!(out, "no extensions");
    }
    for (i, ext) in map.extensions.iter().enumerate() {
        writeln!(out, "-- Extension {i} --")?;
        writeln!(out, "name ........ = {}", ext.name)?;
        writeln!(out, "hdr_size .... = {}", ext.hdr_size)?;
        writeln!(out, "reset_id .... = {}", ext.reset_id)?;
        writeln!(out, "record_offset = {}", ext.record_offset)?;
        writeln!(out, "record_size . = {}", ext.record_size)?;
        writeln!(out, "record_align  = {}", ext.record_align)?;
        if ext.hdr_size > 0 {
            ext_headers::dump(out, ext)?;
        }
    }
    Ok(())
}

/// dump_keywords.
fn dump_keywords(out: &mut dyn Write, map: &IndexMap) -> std::io::Result<()> {
    writeln!(out, "-- Keywords --")?;
    for (i, name) in map.keywords.iter().enumerate() {
        writeln!(out, "{i:3} = {name}")?;
    }
    Ok(())
}

/// flags2str.
fn flags2str(flags: u8) -> String {
    let names = [
        (mail_flags::SEEN, "Seen"),
        (mail_flags::ANSWERED, "Answered"),
        (mail_flags::FLAGGED, "Flagged"),
        (mail_flags::DELETED, "Deleted"),
        (mail_flags::DRAFT, "Draft"),
    ];
    let set: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    match set.is_empty() {
        true => String::new(),
        false => format!("({})", set.join(" ")),
    }
}

/// dump_record: the record line and one line per registered extension
/// with data in this record.
fn dump_record(out: &mut dyn Write, opened: &OpenedIndex, idx: usize) -> std::io::Result<()> {
    let map = &opened.map;
    let uid = map.records.uid(idx).unwrap_or(0);
    let flags = map.records.flags(idx).unwrap_or(0);
    let seq = idx + 1;
    writeln!(
        out,
        "RECORD: seq={seq}, uid={uid}, flags=0x{flags:02x} {}",
        flags2str(flags)
    )?;

    for (id, reg) in opened.registry.exts.iter().enumerate() {
        let Some(ext) = map.ext_idx(&reg.name).map(|i| &map.extensions[i]) else {
            continue;
        };
        if ext.record_offset == 0 || reg.record_size == 0 {
            continue;
        }
        let data = record_field(map, idx, ext, usize::from(reg.record_size));
        let value = match (data.len(), reg.record_align) {
            (2, 2) => format!("{:10}", u16::from_ne_bytes([data[0], data[1]])),
            (4, 4) => format!("{:10}", ext_records::u32_at(&data, 0)),
            (8, 8) => format!("{:10}", ext_records::u64_at(&data, 0)),
            _ => " ".repeat(10),
        };
        let hex = ext_records::hex(&data);
        writeln!(out, " - ext {id} {:<10}: {value} ({hex})", reg.name)?;
        ext_records::dump(out, &reg.name, &data)?;
    }
    Ok(())
}

/// `size` bytes of the record from the extension's offset; bytes past
/// the record (a registered size larger than the map's) read as zero.
fn record_field(map: &IndexMap, idx: usize, ext: &ExtHeader, size: usize) -> Vec<u8> {
    let rec = map.records.get(idx).unwrap_or(&[]);
    let start = usize::from(ext.record_offset);
    let mut data: Vec<u8> = rec.iter().skip(start).take(size).copied().collect();
    data.resize(size, 0);
    data
}

/// The extension headers doveadm knows how to show.
mod ext_headers {
    use std::io::{Result, Write};

    use super::date;
    use super::ext_records::{guid, hex, u32_at, u64_at};
    use crate::index::format::index::{EXT_KEYWORDS, ExtHeader};

    /// dump_extension_header. Doveadm reads the header from a copy with
    /// 128 zero bytes after it, so short headers read as zeros.
    pub fn dump(out: &mut dyn Write, ext: &ExtHeader) -> Result<()> {
        if ext.name == EXT_KEYWORDS {
            return Ok(());
        }
        let raw = ext.header();
        let mut d = raw.to_vec();
        d.resize(raw.len() + 128, 0);
        let d = &d[..];
        match ext.name.as_str() {
            "hdr-vsize" => {
                writeln!(out, "header")?;
                writeln!(out, " - highest uid . = {}", u32_at(d, 8))?;
                writeln!(out, " - message count = {}", u32_at(d, 12))?;
                writeln!(out, " - vsize ....... = {}", u64_at(d, 0))
            }
            "maildir" => maildir(out, d),
            "mbox" => {
                writeln!(out, "header")?;
                writeln!(out, " - sync_mtime . = {}", date(u32_at(d, 8)))?;
                writeln!(out, " - sync_size .. = {}", u64_at(d, 0))?;
                writeln!(out, " - dirty_flag . = {}", d[12])?;
                writeln!(out, " - mailbox_guid = {}", guid(d, 16))
            }
            "mdbox-hdr" => {
                writeln!(out, "header")?;
                writeln!(out, " - map_uid_validity .. = {}", u32_at(d, 0))?;
                writeln!(out, " - mailbox_guid ...... = {}", guid(d, 4))?;
                writeln!(out, " - flags ............. = 0x{:x}", d[20])
            }
            "dbox-hdr" => {
                writeln!(out, "header")?;
                writeln!(out, " - rebuild_count . = {}", u32_at(d, 0))?;
                writeln!(out, " - mailbox_guid .. = {}", guid(d, 4))?;
                writeln!(out, " - flags ......... = 0x{:x}", d[20])
            }
            "mobox-hdr" => {
                writeln!(out, "header")?;
                writeln!(out, " - rebuild_count    .. = {}", u32_at(d, 0))?;
                writeln!(out, " - map_uid_validity .. = {}", u32_at(d, 4))?;
                writeln!(out, " - mailbox_guid ...... = {}", guid(d, 12))
            }
            "mobox-map" => {
                writeln!(out, "header")?;
                writeln!(out, " - rebuild_count    .. = {}", u32_at(d, 0))
            }
            "modseq" => {
                writeln!(out, "header")?;
                writeln!(out, " - highest_modseq = {}", u64_at(d, 0))?;
                writeln!(out, " - log_seq ...... = {}", u32_at(d, 8))?;
                writeln!(out, " - log_offset ... = {}", u32_at(d, 12))
            }
            "fts" => {
                writeln!(out, "header")?;
                writeln!(out, " - last_indexed_uid ..... = {}", u32_at(d, 0))?;
                writeln!(out, " - settings_checksum .... = {}", u32_at(d, 4))
            }
            "virtual" => virtual_header(out, d),
            "list" => {
                writeln!(out, "header ........ = {}", hex(raw))?;
                list_header(out, raw)
            }
            "box-name" => {
                writeln!(out, "header ........ = {}", hex(raw))?;
                box_name_header(out, raw)
            }
            "hdr-pop3-uidl" => {
                writeln!(out, "header")?;
                writeln!(out, " - max_uid_with_pop3_uidl = {}", u32_at(d, 0))
            }
            _ => writeln!(out, "header ........ = {}", hex(raw)),
        }
    }

    fn maildir(out: &mut dyn Write, d: &[u8]) -> Result<()> {
        let w = |i: usize| u32_at(d, 4 * i);
        writeln!(out, "header")?;
        writeln!(out, " - new_check_time .... = {}", date(w(0)))?;
        writeln!(out, " - new_mtime ......... = {}", date(w(1)))?;
        writeln!(out, " - new_mtime_nsecs ... = {}", w(2))?;
        writeln!(out, " - cur_check_time .... = {}", date(w(3)))?;
        writeln!(out, " - cur_mtime ......... = {}", date(w(4)))?;
        writeln!(out, " - cur_mtime_nsecs.... = {}", w(5))?;
        writeln!(out, " - uidlist_mtime ..... = {}", date(w(6)))?;
        writeln!(out, " - uidlist_mtime_nsecs = {}", w(7))?;
        writeln!(out, " - uidlist_size ...... = {}", w(8))
    }

    /// The virtual mailbox header: counters, then one record per
    /// backend mailbox and their names. Doveadm trusts mailbox_count;
    /// here the listing stops where the header's bytes end.
    fn virtual_header(out: &mut dyn Write, d: &[u8]) -> Result<()> {
        let count = u32_at(d, 4) as usize;
        writeln!(out, "header")?;
        writeln!(out, " - change_counter ... = {}", u32_at(d, 0))?;
        writeln!(out, " - mailbox_count .... = {count}")?;
        writeln!(out, " - highest_mailbox_id = {}", u32_at(d, 8))?;
        writeln!(out, " - search_args_crc32  = {}", u32_at(d, 12))?;

        let Some(mut name_at) = count.checked_mul(24).and_then(|n| n.checked_add(16)) else {
            return Ok(());
        };
        for i in 0..count {
            let rec = 16 + i * 24;
            if rec + 24 > d.len() {
                break;
            }
            let name_len = u32_at(d, rec + 4) as usize;
            let name = d.get(name_at..).unwrap_or(&[]);
            let name = &name[..name_len.min(name.len())];
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            writeln!(out, "mailbox {}:", String::from_utf8_lossy(&name[..end]))?;
            writeln!(out, " - id ........... = {}", u32_at(d, rec))?;
            writeln!(out, " - uid_validity . = {}", u32_at(d, rec + 8))?;
            writeln!(out, " - next_uid ..... = {}", u32_at(d, rec + 12))?;
            writeln!(out, " - highest_modseq = {}", u64_at(d, rec + 16))?;
            name_at = name_at.saturating_add(name_len);
        }
        Ok(())
    }

    /// dump_list_header: the refresh flag, then `{ id, name NUL }`
    /// pairs until an id of 0.
    fn list_header(out: &mut dyn Write, d: &[u8]) -> Result<()> {
        writeln!(out, " - refresh_flag = {}", d.first().copied().unwrap_or(0))?;
        let mut i = 1;
        while i < d.len() {
            if i + 4 > d.len() {
                return writeln!(out, " - corrupted");
            }
            let id = u32_at(d, i) as i32;
            i += 4;
            if id == 0 {
                break;
            }
            let Some(len) = d[i..].iter().position(|&b| b == 0) else {
                return writeln!(out, " - corrupted");
            };
            let name = String::from_utf8_lossy(&d[i..i + len]);
            writeln!(out, " - {id} : {name}")?;
            i += len + 1;
        }
        Ok(())
    }

    /// dump_box_name_header: the names, NULs as line breaks, each line
    /// indented by one space.
    fn box_name_header(out: &mut dyn Write, d: &[u8]) -> Result<()> {
        let mut text = vec![b' '];
        for &b in d {
            match b {
                0 | b'\n' => text.extend_from_slice(b"\n "),
                b => text.push(b),
            }
        }
        text.push(b'\n');
        out.write_all(&text)
    }
}

/// The record data doveadm decodes by extension name.
mod ext_records {
    use std::io::{Result, Write};

    use super::date;

    /// binary_to_hex: lowercase hex.
    pub fn hex(data: &[u8]) -> String {
        crate::util::hex::binary_to_hex(data)
    }

    /// guid_128_to_string of the 16 bytes at `at`.
    pub fn guid(d: &[u8], at: usize) -> String {
        hex(d.get(at..at + 16).unwrap_or(&[]))
    }

    /// `N` bytes at `at`; missing bytes read as zero.
    fn bytes_at<const N: usize>(d: &[u8], at: usize) -> [u8; N] {
        std::array::from_fn(|i| d.get(at + i).copied().unwrap_or(0))
    }

    /// Host-order integers; missing bytes read as zero.
    pub fn u32_at(d: &[u8], at: usize) -> u32 {
        u32::from_ne_bytes(bytes_at(d, at))
    }

    pub fn u64_at(d: &[u8], at: usize) -> u64 {
        u64::from_ne_bytes(bytes_at(d, at))
    }

    const PAD: &str = "                   :";

    /// The extra lines dump_record prints for known record layouts.
    pub fn dump(out: &mut dyn Write, name: &str, d: &[u8]) -> Result<()> {
        let w = |i: usize| u32_at(d, 4 * i);
        match name {
            "virtual" => {
                writeln!(out, "{PAD} mailbox_id = {}", w(0))?;
                writeln!(out, "{PAD} real_uid   = {}", w(1))
            }
            "map" => {
                writeln!(out, "{PAD} file_id = {}", w(0))?;
                writeln!(out, "{PAD} offset  = {}", w(1))?;
                writeln!(out, "{PAD} size    = {}", w(2))
            }
            "mdbox" | "mobox" => {
                writeln!(out, "{PAD} map_uid   = {}", w(0))?;
                writeln!(out, "{PAD} save_date = {} ({})", w(1), date(w(1)))
            }
            "obox" => {
                writeln!(out, "{PAD} guid = {}", guid(d, 0))?;
                writeln!(out, "{PAD} oid  = {}", hex(d.get(16..).unwrap_or(&[])))
            }
            "mobox-map" => {
                writeln!(out, "{PAD} offset = {}", w(0))?;
                writeln!(out, "{PAD} size   = {}", w(1))?;
                writeln!(out, "{PAD} oid    = {}", guid(d, 8))
            }
            "list" => {
                writeln!(out, "{PAD} name_id      = {}", w(0))?;
                writeln!(out, "{PAD} parent_uid   = {}", w(1))?;
                writeln!(out, "{PAD} guid         = {}", guid(d, 8))?;
                writeln!(out, "{PAD} uid_validity = {}", w(6))
            }
            "msgs" => {
                writeln!(out, "{PAD} messages = {}", w(0))?;
                writeln!(out, "{PAD} unseen   = {}", w(1))?;
                writeln!(out, "{PAD} recent   = {}", w(2))?;
                writeln!(out, "{PAD} uidnext  = {}", w(3))
            }
            "vsize" if d.len() >= 16 => {
                writeln!(out, "{PAD} vsize         = {}", u64_at(d, 0))?;
                writeln!(out, "{PAD} highest_uid   = {}", w(2))?;
                writeln!(out, "{PAD} message_count = {}", w(3))
            }
            _ => Ok(()),
        }
    }
}
