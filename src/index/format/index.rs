//! `dovecot.index`: the base header, extension headers, records and the
//! keywords extension (mail-index-private.h, mail-index-map-hdr.c).
//!
//! The file is the base header ([`IndexHeader`]), the extension header
//! area (one [`ExtHeader`] per extension, each 64-bit aligned) up to
//! `header_size`, then `messages_count` records of `record_size` bytes
//! ([`Records`]). [`IndexFile::decode`] applies the checks Dovecot makes
//! when it maps the file (mail_index_check_header_compat,
//! mail_index_map_ext_get_next, mail_index_map_ext_hdr_check) plus a few
//! Dovecot leaves out (overlapping record fields, truncated records), so
//! a file that decodes is safe to index into. [`IndexFile::encode`]
//! writes the same bytes back.
//!
//! Not done here: the semantic header checks of
//! mail_index_map_check_header (counts against records, lowwaters); the
//! map does those, as Dovecot does, after it has the records.

use super::{Bytes, FormatError, HOST_COMPAT_FLAGS, PutNe, Result};

/// `MAIL_INDEX_MAJOR_VERSION`: files with another major are not read.
pub const MAJOR_VERSION: u8 = 7;
/// `MAIL_INDEX_MINOR_VERSION` of Dovecot 2.3.
pub const MINOR_VERSION: u8 = 3;
/// `MAIL_INDEX_HEADER_MIN_SIZE`, which is also `sizeof(struct
/// mail_index_header)` in every 2.x release: Dovecot refuses a smaller
/// `base_header_size`.
pub const HEADER_MIN_SIZE: usize = 120;
/// `sizeof(struct mail_index_record)`: uid and flags, padded to 8.
pub const RECORD_BASE_SIZE: u32 = 8;
/// `MAIL_INDEX_RECORD_MIN_SIZE`: the bytes of a record before the first
/// extension field may start.
pub const RECORD_MIN_SIZE: u16 = 5;
/// `MAIL_INDEX_EXT_HEADER_MAX_SIZE`.
pub const EXT_HEADER_MAX_SIZE: u32 = 16 * 1024 * 1024 - 1;
/// `MAIL_INDEX_EXT_NAME_MAX_LENGTH`.
pub const EXT_NAME_MAX_LENGTH: usize = 64;
/// `MAIL_INDEX_EXT_KEYWORDS`.
pub const EXT_KEYWORDS: &str = "keywords";
/// Size of `struct mail_index_ext_header` before the name.
pub const EXT_HEADER_SIZE: usize = 16;

/// `enum mail_index_header_flag`.
pub mod hdr_flags {
    pub const CORRUPTED: u32 = 0x0001;
    pub const HAVE_DIRTY: u32 = 0x0002;
    pub const FSCKD: u32 = 0x0004;
}

/// `enum mail_flags` and `enum mail_index_mail_flags` in a record.
pub mod mail_flags {
    pub const ANSWERED: u8 = 0x01;
    pub const FLAGGED: u8 = 0x02;
    pub const DELETED: u8 = 0x04;
    pub const SEEN: u8 = 0x08;
    pub const DRAFT: u8 = 0x10;
    /// The old `MAIL_RECENT` bit, cleared when upgrading from minor < 2.
    pub const RECENT: u8 = 0x20;
    pub const BACKEND: u8 = 0x40;
    pub const DIRTY: u8 = 0x80;
}

/// `MAIL_INDEX_HEADER_SIZE_ALIGN`: round up to 64 bits.
pub fn align8(size: usize) -> usize {
    size.next_multiple_of(8)
}

/// `struct mail_index_header`, field for field.
///
/// In minor versions before 3 the three words at 76..88 were
/// `sync_size` (64 bits) and `sync_stamp`; they are read into the 7.3
/// fields that replaced them, as Dovecot does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexHeader {
    pub major_version: u8,
    pub minor_version: u8,
    pub base_header_size: u16,
    pub header_size: u32,
    pub record_size: u32,
    pub compat_flags: u8,
    pub unused: [u8; 3],
    pub indexid: u32,
    pub flags: u32,
    pub uid_validity: u32,
    pub next_uid: u32,
    pub messages_count: u32,
    pub unused_old_recent_messages_count: u32,
    pub seen_messages_count: u32,
    pub deleted_messages_count: u32,
    pub first_recent_uid: u32,
    pub first_unseen_uid_lowwater: u32,
    pub first_deleted_uid_lowwater: u32,
    pub log_file_seq: u32,
    pub log_file_tail_offset: u32,
    pub log_file_head_offset: u32,
    pub unused_old_sync_size_part1: u32,
    pub log2_rotate_time: u32,
    pub last_temp_file_scan: u32,
    pub day_stamp: u32,
    pub day_first_uid: [u32; 8],
    /// Base header bytes past the fields above, kept verbatim (a newer
    /// minor version may have added fields).
    pub extra: Vec<u8>,
}

/// Byte offsets of the header fields that transaction log header
/// updates and the map care about.
pub mod hdr_offset {
    pub const MESSAGES_COUNT: usize = 32;
    pub const NEXT_UID: usize = 28;
    pub const LOG_FILE_TAIL_OFFSET: usize = 64;
}

impl IndexHeader {
    /// The header Dovecot starts a new index with
    /// (mail_index_header_init).
    pub fn new(indexid: u32) -> Self {
        IndexHeader {
            major_version: MAJOR_VERSION,
            minor_version: MINOR_VERSION,
            base_header_size: HEADER_MIN_SIZE as u16,
            header_size: HEADER_MIN_SIZE as u32,
            record_size: RECORD_BASE_SIZE,
            compat_flags: HOST_COMPAT_FLAGS,
            indexid,
            log_file_seq: 1,
            next_uid: 1,
            first_recent_uid: 1,
            ..Default::default()
        }
    }

    /// Decode the base header at the start of `b`. Only the version and
    /// size fields are checked here; see [`check_compat`].
    pub fn decode(b: Bytes<'_>) -> Result<Self> {
        if !b.is_empty() && b.u8(0, "major_version")? != MAJOR_VERSION {
            let major = b.u8(0, "major_version")?;
            return Err(FormatError::new(
                0,
                format!("Major version changed ({major} != {MAJOR_VERSION})"),
            ));
        }
        let fixed = b.slice(0, HEADER_MIN_SIZE, "base header")?;
        let base_header_size = b.u16(2, "base_header_size")?;
        let extra = match usize::from(base_header_size) {
            n if n > HEADER_MIN_SIZE => {
                b.slice(HEADER_MIN_SIZE, n - HEADER_MIN_SIZE, "base header")?
            }
            _ => &[],
        };
        Ok(Self::from_fixed(fixed, extra.to_vec()))
    }

    fn from_fixed(fixed: &[u8], extra: Vec<u8>) -> Self {
        let word = |off: usize| {
            let bytes = fixed[off..off + 4].try_into().expect("4 bytes");
            u32::from_ne_bytes(bytes)
        };
        IndexHeader {
            major_version: fixed[0],
            minor_version: fixed[1],
            base_header_size: u16::from_ne_bytes([fixed[2], fixed[3]]),
            header_size: word(4),
            record_size: word(8),
            compat_flags: fixed[12],
            unused: [fixed[13], fixed[14], fixed[15]],
            indexid: word(16),
            flags: word(20),
            uid_validity: word(24),
            next_uid: word(28),
            messages_count: word(32),
            unused_old_recent_messages_count: word(36),
            seen_messages_count: word(40),
            deleted_messages_count: word(44),
            first_recent_uid: word(48),
            first_unseen_uid_lowwater: word(52),
            first_deleted_uid_lowwater: word(56),
            log_file_seq: word(60),
            log_file_tail_offset: word(64),
            log_file_head_offset: word(68),
            unused_old_sync_size_part1: word(72),
            log2_rotate_time: word(76),
            last_temp_file_scan: word(80),
            day_stamp: word(84),
            day_first_uid: std::array::from_fn(|i| word(88 + 4 * i)),
            extra,
        }
    }

    /// The first [`HEADER_MIN_SIZE`] bytes, i.e. every known field.
    pub fn encode_fixed(&self) -> [u8; HEADER_MIN_SIZE] {
        let mut out = Vec::with_capacity(HEADER_MIN_SIZE);
        out.put_u8(self.major_version);
        out.put_u8(self.minor_version);
        out.put_u16(self.base_header_size);
        out.put_u32(self.header_size);
        out.put_u32(self.record_size);
        out.put_u8(self.compat_flags);
        out.extend_from_slice(&self.unused);
        for word in [
            self.indexid,
            self.flags,
            self.uid_validity,
            self.next_uid,
            self.messages_count,
            self.unused_old_recent_messages_count,
            self.seen_messages_count,
            self.deleted_messages_count,
            self.first_recent_uid,
            self.first_unseen_uid_lowwater,
            self.first_deleted_uid_lowwater,
            self.log_file_seq,
            self.log_file_tail_offset,
            self.log_file_head_offset,
            self.unused_old_sync_size_part1,
            self.log2_rotate_time,
            self.last_temp_file_scan,
            self.day_stamp,
        ] {
            out.put_u32(word);
        }
        self.day_first_uid.iter().for_each(|&uid| out.put_u32(uid));
        out.try_into().expect("the fixed header is 120 bytes")
    }

    /// The base header as stored: `base_header_size` bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.encode_fixed().to_vec();
        out.extend_from_slice(&self.extra);
        out
    }

    /// Overwrite `data` at byte `offset` of the fixed fields, as a
    /// transaction log header update does. Bytes past the known fields
    /// go to [`IndexHeader::extra`]; the caller checks the range.
    pub fn write_bytes(&mut self, offset: usize, data: &[u8]) {
        let mut fixed = self.encode_fixed();
        for (i, &byte) in data.iter().enumerate() {
            let at = offset + i;
            if at < HEADER_MIN_SIZE {
                fixed[at] = byte;
            } else if let Some(slot) = self.extra.get_mut(at - HEADER_MIN_SIZE) {
                *slot = byte;
            }
        }
        let extra = std::mem::take(&mut self.extra);
        *self = Self::from_fixed(&fixed, extra);
    }
}

/// Dovecot's mail_index_check_header_compat, without the indexid part:
/// may this host use the file at all?
pub fn check_compat(hdr: &IndexHeader, file_size: u64) -> Result<()> {
    if hdr.major_version != MAJOR_VERSION {
        let reason = format!(
            "Major version changed ({} != {MAJOR_VERSION})",
            hdr.major_version
        );
        return Err(FormatError::new(0, reason));
    }
    if hdr.flags & hdr_flags::CORRUPTED != 0 {
        return Err(FormatError::new(20, "Header's corrupted flag is set"));
    }
    if hdr.compat_flags != HOST_COMPAT_FLAGS {
        return Err(FormatError::new(12, "CPU architecture changed"));
    }
    if usize::from(hdr.base_header_size) < HEADER_MIN_SIZE
        || hdr.header_size < u32::from(hdr.base_header_size)
    {
        let reason = format!(
            "Corrupted header sizes (base {}, full {})",
            hdr.base_header_size, hdr.header_size
        );
        return Err(FormatError::new(2, reason));
    }
    if u64::from(hdr.header_size) > file_size {
        let reason = format!(
            "Header size is larger than file ({} > {file_size})",
            hdr.header_size
        );
        return Err(FormatError::new(4, reason));
    }
    Ok(())
}

/// One extension in the header area: `struct mail_index_ext_header`,
/// its name and its header data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtHeader {
    pub name: String,
    pub reset_id: u32,
    pub record_offset: u16,
    pub record_size: u16,
    pub record_align: u16,
    /// `hdr_size`: how much of [`ExtHeader::data`] is the header.
    pub hdr_size: u32,
    /// The header data and its padding up to the next 64-bit boundary,
    /// as found (padding left over by a shrunk header is kept).
    pub data: Vec<u8>,
}

impl ExtHeader {
    /// A new extension with a zeroed header of `hdr_size` bytes.
    pub fn new(name: &str, hdr_size: u32, record_size: u16, record_align: u16) -> Self {
        ExtHeader {
            name: name.to_string(),
            reset_id: 0,
            record_offset: 0,
            record_size,
            record_align,
            hdr_size,
            data: vec![0; align8(hdr_size as usize)],
        }
    }

    /// The extension's header data (`hdr_size` bytes).
    pub fn header(&self) -> &[u8] {
        &self.data[..self.hdr_size as usize]
    }

    pub fn header_mut(&mut self) -> &mut [u8] {
        &mut self.data[..self.hdr_size as usize]
    }

    /// Bytes this extension takes in the header area
    /// (mail_index_map_ext_hdr_offset plus the padded data).
    pub fn encoded_len(&self) -> usize {
        name_area_len(self.name.len()) + self.data.len()
    }

    /// Byte range in a record, or `None` without record data.
    pub fn record_range(&self) -> Option<std::ops::Range<usize>> {
        let start = usize::from(self.record_offset);
        (self.record_size > 0).then(|| start..start + usize::from(self.record_size))
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u32(self.hdr_size);
        out.put_u32(self.reset_id);
        out.put_u16(self.record_offset);
        out.put_u16(self.record_size);
        out.put_u16(self.record_align);
        out.put_u16(self.name.len() as u16);
        out.extend_from_slice(self.name.as_bytes());
        out.resize(start + name_area_len(self.name.len()), 0);
        out.extend_from_slice(&self.data);
    }
}

/// mail_index_map_ext_hdr_offset: the ext header and name, padded.
fn name_area_len(name_len: usize) -> usize {
    align8(EXT_HEADER_SIZE + name_len)
}

/// mail_index_ext_name_is_valid.
pub fn ext_name_is_valid(name: &str) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ' ');
    name.chars().all(ok) && name.len() < EXT_NAME_MAX_LENGTH
}

/// mail_index_map_ext_hdr_check: is this extension's description sane
/// for records of `record_size` bytes? The error text is Dovecot's.
pub fn check_ext(ext: &ExtHeader, record_size: u32) -> std::result::Result<(), String> {
    if ext.record_size == 0 && ext.hdr_size == 0 {
        return Err("Invalid field values".into());
    }
    if !ext_name_is_valid(&ext.name) {
        return Err("Invalid name".into());
    }
    if ext.record_size != 0 {
        check_ext_record(ext, record_size)?;
    }
    if ext.hdr_size > EXT_HEADER_MAX_SIZE {
        return Err(format!("Headersize too large ({})", ext.hdr_size));
    }
    Ok(())
}

fn check_ext_record(ext: &ExtHeader, record_size: u32) -> std::result::Result<(), String> {
    if ext.record_align == 0 {
        return Err("Record field alignment is zero".into());
    }
    if ext.record_align > 8 {
        return Err("Record alignment is too large".into());
    }
    if ext.record_size >= 32768 {
        return Err("Record size is too large".into());
    }
    if ext.record_offset == 0 {
        return Ok(());
    }

    let end = u32::from(ext.record_offset) + u32::from(ext.record_size);
    if end > record_size {
        return Err(format!(
            "Record field points outside record size ({}+{} > {record_size})",
            ext.record_offset, ext.record_size
        ));
    }
    if ext.record_offset % ext.record_align != 0 {
        return Err(format!(
            "Record field alignment {} not used",
            ext.record_align
        ));
    }
    if record_size % u32::from(ext.record_align) != 0 {
        return Err(format!(
            "Record size not aligned by {} as required by extension",
            ext.record_align
        ));
    }
    Ok(())
}

/// The record array: `count` records of `record_size` bytes each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Records {
    record_size: usize,
    data: Vec<u8>,
}

impl Records {
    pub fn new(record_size: usize) -> Self {
        Records {
            record_size: record_size.max(RECORD_MIN_SIZE as usize),
            data: Vec::new(),
        }
    }

    pub fn record_size(&self) -> usize {
        self.record_size
    }

    pub fn len(&self) -> usize {
        self.data.len() / self.record_size
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The bytes of record `idx` (0-based, i.e. seq - 1).
    pub fn get(&self, idx: usize) -> Option<&[u8]> {
        let start = idx.checked_mul(self.record_size)?;
        self.data.get(start..start + self.record_size)
    }

    pub fn get_mut(&mut self, idx: usize) -> Option<&mut [u8]> {
        let start = idx.checked_mul(self.record_size)?;
        self.data.get_mut(start..start + self.record_size)
    }

    pub fn uid(&self, idx: usize) -> Option<u32> {
        let rec = self.get(idx)?;
        Some(u32::from_ne_bytes(rec[..4].try_into().ok()?))
    }

    pub fn flags(&self, idx: usize) -> Option<u8> {
        self.get(idx).map(|rec| rec[4])
    }

    /// Append a record with `uid` and `flags` and zeroed extension data.
    pub fn push(&mut self, uid: u32, flags: u8) {
        let start = self.data.len();
        self.data.resize(start + self.record_size, 0);
        self.data[start..start + 4].copy_from_slice(&uid.to_ne_bytes());
        self.data[start + 4] = flags;
    }

    /// Remove records `idx1..=idx2`.
    pub fn remove_range(&mut self, idx1: usize, idx2: usize) {
        let start = idx1 * self.record_size;
        let end = ((idx2 + 1) * self.record_size).min(self.data.len());
        self.data.drain(start..end);
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    /// Rebuild every record with a new size: `copy(old, new)` fills
    /// each new (zeroed) record from the old one.
    pub fn relayout(&mut self, new_size: usize, copy: impl Fn(&[u8], &mut [u8])) {
        let count = self.len();
        let mut data = vec![0; count * new_size];
        for (old, new) in self
            .data
            .chunks_exact(self.record_size)
            .zip(data.chunks_exact_mut(new_size))
        {
            copy(old, new);
        }
        self.record_size = new_size;
        self.data = data;
    }
}

/// A whole `dovecot.index` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    pub hdr: IndexHeader,
    /// The extensions in the order the header area lists them.
    pub extensions: Vec<ExtHeader>,
    pub records: Records,
    /// Bytes after the last record, which Dovecot ignores; kept so that
    /// encoding gives back the same file.
    pub trailing: Vec<u8>,
}

impl IndexFile {
    pub fn decode(data: &[u8]) -> Result<Self> {
        let b = Bytes::new(data);
        let hdr = IndexHeader::decode(b)?;
        check_compat(&hdr, data.len() as u64)?;
        if hdr.record_size < RECORD_BASE_SIZE {
            let reason = format!(
                "record_size too small ({} < {RECORD_BASE_SIZE})",
                hdr.record_size
            );
            return Err(FormatError::new(8, reason));
        }

        let extensions = decode_extensions(b, &hdr)?;
        check_record_overlaps(&extensions, 8)?;
        let records = decode_records(b, &hdr)?;
        let end = hdr.header_size as usize + records.data.len();
        let trailing = data[end..].to_vec();
        Ok(IndexFile {
            hdr,
            extensions,
            records,
            trailing,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.hdr.encode();
        out.pad_to(8);
        for ext in &self.extensions {
            ext.encode_into(&mut out);
        }
        out.resize(self.hdr.header_size as usize, 0);
        out.extend_from_slice(self.records.as_bytes());
        out.extend_from_slice(&self.trailing);
        out
    }

    /// The extension called `name`, with its position in the list.
    pub fn ext(&self, name: &str) -> Option<(usize, &ExtHeader)> {
        self.extensions
            .iter()
            .enumerate()
            .find(|(_, e)| e.name == name)
    }
}

/// Walk the extension header area (mail_index_map_parse_extensions).
fn decode_extensions(b: Bytes<'_>, hdr: &IndexHeader) -> Result<Vec<ExtHeader>> {
    let header_size = hdr.header_size as usize;
    let mut offset = align8(usize::from(hdr.base_header_size));
    let mut extensions: Vec<ExtHeader> = Vec::new();
    while offset < header_size {
        let ext = decode_ext(b, offset, header_size, extensions.len())?;
        if let Err(reason) = check_ext(&ext, hdr.record_size) {
            let i = extensions.len();
            let reason = format!("Broken extension #{i} ({}): {reason}", ext.name);
            return Err(FormatError::new(offset, reason));
        }
        if extensions.iter().any(|e| e.name == ext.name) {
            let reason = format!("Duplicate header extension {}", ext.name);
            return Err(FormatError::new(offset, reason));
        }
        offset += ext.encoded_len();
        extensions.push(ext);
    }
    Ok(extensions)
}

/// One extension at `offset` (mail_index_map_ext_get_next).
fn decode_ext(b: Bytes<'_>, offset: usize, header_size: usize, i: usize) -> Result<ExtHeader> {
    let outside = |name: &str| {
        let reason = format!("Header extension #{i} ({name}) goes outside header");
        FormatError::new(offset, reason)
    };
    if offset + EXT_HEADER_SIZE >= header_size {
        return Err(outside(""));
    }
    let name_size = usize::from(b.u16(offset + 14, "ext name_size")?);
    let data_offset = offset + name_area_len(name_size);
    if data_offset > header_size {
        return Err(outside(""));
    }

    let raw_name = b.slice(offset + EXT_HEADER_SIZE, name_size, "ext name")?;
    // Like Dovecot, a name with control characters or invalid UTF-8
    // reads as empty; other names are checked by check_ext.
    let name = match std::str::from_utf8(raw_name) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_string(),
        _ => String::new(),
    };
    let hdr_size = b.u32(offset, "ext hdr_size")?;
    let padded = align8(hdr_size as usize);
    if data_offset + padded > header_size {
        return Err(outside(&name));
    }

    Ok(ExtHeader {
        name,
        reset_id: b.u32(offset + 4, "ext reset_id")?,
        record_offset: b.u16(offset + 8, "ext record_offset")?,
        record_size: b.u16(offset + 10, "ext record_size")?,
        record_align: b.u16(offset + 12, "ext record_align")?,
        hdr_size,
        data: b.slice(data_offset, padded, "ext header data")?.to_vec(),
    })
}

/// Record fields of different extensions must not share bytes, nor
/// overlap the uid and flags. `at` is the offset reported on error.
pub fn check_record_overlaps(extensions: &[ExtHeader], at: usize) -> Result<()> {
    let mut fields: Vec<(usize, usize, &str)> = extensions
        .iter()
        .filter(|e| e.record_offset != 0)
        .filter_map(|e| e.record_range().map(|r| (r.start, r.end, e.name.as_str())))
        .collect();
    fields.sort();
    let mut prev_end = usize::from(RECORD_MIN_SIZE);
    let mut prev_name = "flags";
    for (start, end, name) in fields {
        if start < prev_end {
            let reason = format!("Extension {name} record field overlaps {prev_name}");
            return Err(FormatError::new(at, reason));
        }
        prev_end = end;
        prev_name = name;
    }
    Ok(())
}

/// The record array after the header; a short file is an error.
fn decode_records(b: Bytes<'_>, hdr: &IndexHeader) -> Result<Records> {
    let record_size = hdr.record_size as usize;
    let start = hdr.header_size as usize;
    let avail = b.len().saturating_sub(start);
    let count = hdr.messages_count as usize;
    let fits = count
        .checked_mul(record_size)
        .is_some_and(|size| size <= avail);
    if !fits {
        let reason = format!(
            "messages_count too large ({} > {})",
            hdr.messages_count,
            avail / record_size
        );
        return Err(FormatError::new(hdr_offset::MESSAGES_COUNT, reason));
    }

    let data = b.slice(start, count * record_size, "records")?.to_vec();
    Ok(Records { record_size, data })
}

/// The `keywords` extension header: the keyword names, in index order
/// (mail_index_map_parse_keywords).
pub fn decode_keywords(header: &[u8]) -> Result<Vec<String>> {
    let b = Bytes::new(header);
    let count = b.u32(0, "keywords_count")? as usize;
    let names_start = count
        .checked_mul(8)
        .and_then(|n| n.checked_add(4))
        .filter(|&n| n <= header.len())
        .ok_or_else(|| FormatError::new(0, "keywords_count larger than header size"))?;
    let names = &header[names_start..];
    if count > 0 && names.last() != Some(&0) {
        return Err(FormatError::new(
            names_start,
            "Keyword header doesn't end with NUL",
        ));
    }

    let mut keywords = Vec::with_capacity(count);
    for i in 0..count {
        let name_offset = b.u32(4 + i * 8 + 4, "keyword name_offset")? as usize;
        let name = names
            .get(name_offset..)
            .filter(|_| name_offset < names.len())
            .ok_or_else(|| {
                FormatError::new(4 + i * 8, "name_offset points outside allocated header")
            })?;
        let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
        if end == 0 {
            return Err(FormatError::new(
                names_start + name_offset,
                "Empty keyword name in header",
            ));
        }
        keywords.push(String::from_utf8_lossy(&name[..end]).into_owned());
    }
    Ok(keywords)
}

/// The `keywords` extension header for `keywords`, as Dovecot builds it
/// when adding a keyword (keywords_header_add): count, one record per
/// keyword, the NUL-terminated names, zero padding to 4 bytes.
pub fn encode_keywords(keywords: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    out.put_u32(keywords.len() as u32);
    let mut name_offset = 0u32;
    for kw in keywords {
        out.put_u32(0);
        out.put_u32(name_offset);
        name_offset += kw.len() as u32 + 1;
    }
    for kw in keywords {
        out.extend_from_slice(kw.as_bytes());
        out.push(0);
    }
    out.pad_to(4);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> IndexFile {
        let mut hdr = IndexHeader::new(1234);
        hdr.record_size = 12;
        hdr.messages_count = 2;
        hdr.next_uid = 3;
        let mut cache = ExtHeader::new("cache", 0, 4, 4);
        cache.record_offset = 8;
        let mut kw = ExtHeader::new(EXT_KEYWORDS, 0, 2, 1);
        kw.record_offset = 5;
        let kw_hdr = encode_keywords(&["foo".into(), "$Label1".into()]);
        kw.hdr_size = kw_hdr.len() as u32;
        kw.data = kw_hdr.clone();
        kw.data.resize(align8(kw_hdr.len()), 0);
        let extensions = vec![cache, kw];
        hdr.header_size = (120 + extensions.iter().map(|e| e.encoded_len()).sum::<usize>()) as u32;
        let mut records = Records::new(12);
        records.push(1, mail_flags::SEEN);
        records.push(2, 0);
        IndexFile {
            hdr,
            extensions,
            records,
            trailing: Vec::new(),
        }
    }

    #[test]
    fn encode_then_decode_is_identity() {
        let file = sample();
        let bytes = file.encode();
        assert_eq!(bytes.len(), file.hdr.header_size as usize + 24);
        let back = IndexFile::decode(&bytes).unwrap();
        assert_eq!(back, file);
        assert_eq!(back.encode(), bytes);
        let kw = back.ext(EXT_KEYWORDS).unwrap().1;
        assert_eq!(decode_keywords(kw.header()).unwrap(), ["foo", "$Label1"]);
    }

    #[test]
    fn header_write_bytes_changes_one_field() {
        let mut hdr = IndexHeader::new(1);
        hdr.write_bytes(hdr_offset::NEXT_UID, &7u32.to_ne_bytes());
        assert_eq!(hdr.next_uid, 7);
        assert_eq!(hdr.indexid, 1);
    }

    #[test]
    fn truncations_are_errors_not_panics() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            assert!(IndexFile::decode(&bytes[..len]).is_err(), "len {len}");
        }
    }

    #[test]
    fn overlapping_record_fields_are_refused() {
        let mut file = sample();
        file.extensions[1].record_offset = 8;
        let err = IndexFile::decode(&file.encode()).unwrap_err();
        assert!(err.reason.contains("overlaps"), "{err}");
    }
}
