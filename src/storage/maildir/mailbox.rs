//! A Maildir mailbox opened read-only (maildir-storage.c, maildir-sync.c,
//! maildir-mail.c): the files of new/ and cur/, joined by base name with
//! `dovecot-uidlist`, and the index as the authority for flags,
//! keywords and modseqs.
//!
//! Nothing is written: where Dovecot would sync first (assign UIDs to new
//! files, rename, update the index), the mailbox is shown as it is on
//! disk.
//!
//! Files missing from `dovecot-uidlist` are shown with the UIDs Dovecot's
//! sync would give them: the next ones, in file name order
//! (maildir_filename_sort_cmp).
//!
//! TODO(maildir-sync): messages beyond the index get their flags from
//! the file name and the modseq after the index's highest, which is what
//! one sync transaction gives them; keywords in their names raise
//! Dovecot's modseq once more, which is not followed here; a Maildir without `dovecot-uidlist`
//! (never opened by Dovecot) has no UID validity and is shown empty.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::index::format::cache::CacheView;
use crate::index::format::index::EXT_KEYWORDS;
use crate::index::format::log::{LogFileHeader, LogRecords};
use crate::index::map::{EXT_CACHE, EXT_MODSEQ, IndexFiles, IndexMap, open_index};
use crate::storage::mail_user::MailLocation;
use crate::storage::maildir::filename::{self, MailFlags};
use crate::storage::maildir::keywords::Keywords;
use crate::storage::maildir::uidlist::Uidlist;

#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error("Mailbox {0} doesn't exist")]
    NotFound(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: {reason}")]
    Corrupted { path: PathBuf, reason: String },
}

/// One message as the mailbox shows it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub seq: u32,
    pub uid: u32,
    pub flags: MailFlags,
    pub keywords: Vec<String>,
    pub modseq: u64,
    /// The file in new/ or cur/.
    pub path: PathBuf,
    /// The uidlist record's `G` field, or else the base file name
    /// (maildir_get_guid).
    pub guid: String,
    /// `pop3.uidl`: the uidlist's `P` field, the base name when that is
    /// empty, or nothing.
    pub pop3_uidl: String,
    /// `date.save` from `dovecot.index.cache`, if cached.
    pub cached_save_date: Option<i64>,
}

impl Mail {
    /// The file name without directory.
    pub fn file_name(&self) -> &str {
        self.path.file_name().and_then(|n| n.to_str()).unwrap_or("")
    }

    /// `,S=` from the name, or the file's size.
    pub fn physical_size(&self) -> io::Result<u64> {
        match filename::get_size(self.file_name().as_bytes(), b'S') {
            Some(size) => Ok(size),
            None => Ok(std::fs::metadata(&self.path)?.len()),
        }
    }

    /// `,W=` from the name, or the size with every LF counted as CRLF.
    pub fn virtual_size(&self) -> io::Result<u64> {
        if let Some(size) = filename::get_size(self.file_name().as_bytes(), b'W') {
            return Ok(size);
        }
        let data = self.read()?;
        let bare_lfs = data
            .iter()
            .enumerate()
            .filter(|&(i, &c)| c == b'\n' && (i == 0 || data[i - 1] != b'\r'))
            .count();
        Ok((data.len() + bare_lfs) as u64)
    }

    /// The received date: the file's mtime (maildir_mail_get_received_date).
    pub fn received_date(&self) -> io::Result<i64> {
        use std::os::unix::fs::MetadataExt;
        Ok(std::fs::metadata(&self.path)?.mtime())
    }

    /// The save date: cached, or the file's ctime
    /// (maildir_mail_get_save_date).
    pub fn save_date(&self) -> io::Result<i64> {
        use std::os::unix::fs::MetadataExt;
        match self.cached_save_date {
            Some(date) => Ok(date),
            None => Ok(std::fs::metadata(&self.path)?.ctime()),
        }
    }

    pub fn read(&self) -> io::Result<Vec<u8>> {
        std::fs::read(&self.path)
    }
}

/// A mailbox's state.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub vname: String,
    pub uid_validity: u32,
    pub next_uid: u32,
    /// The mailbox GUID from the uidlist header.
    pub guid: Option<[u8; 16]>,
    pub highest_modseq: u64,
    pub first_recent_uid: u32,
    pub mails: Vec<Mail>,
    /// The index has no modseq extension: modseqs are the log head's.
    modseq_from_head: bool,
}

impl Mailbox {
    /// Open mailbox `vname` of `loc` read-only.
    pub fn open(loc: &MailLocation, vname: &str) -> Result<Mailbox, MailboxError> {
        let dir = loc.mailbox_dir(vname);
        if !dir.is_dir() {
            return Err(MailboxError::NotFound(vname.to_string()));
        }
        let control = loc.control_dir(vname);
        let uidlist = read_uidlist(&control.join("dovecot-uidlist"))?;
        let files = scan_files(&dir)?;
        let index = read_index(&loc.index_dir(vname))?;
        let keywords = read_keywords(&control.join("dovecot-keywords"))?;

        let mut mailbox = Mailbox {
            vname: vname.to_string(),
            uid_validity: uidlist.as_ref().map_or(0, |u| u.uid_validity),
            next_uid: uidlist.as_ref().map_or(1, |u| u.next_uid),
            guid: uidlist.as_ref().and_then(|u| u.guid),
            highest_modseq: 0,
            first_recent_uid: 1,
            mails: Vec::new(),
            modseq_from_head: false,
        };
        if let Some((map, head_modseq)) = &index {
            mailbox.apply_index_header(map, *head_modseq);
        }
        if let Some(uidlist) = &uidlist {
            let map = index.as_ref().map(|(map, _)| map);
            mailbox.join(uidlist, &files, map, &keywords);
            mailbox.add_unlisted(uidlist, &files, &keywords);
        }
        if let Some((map, _)) = &index {
            let cache_path = loc.index_dir(vname).join("dovecot.index.cache");
            mailbox.read_cached_save_dates(map, &cache_path);
        }
        Ok(mailbox)
    }

    fn join(
        &mut self,
        uidlist: &Uidlist,
        files: &HashMap<Vec<u8>, PathBuf>,
        index: Option<&IndexMap>,
        keywords: &Keywords,
    ) {
        for rec in &uidlist.records {
            let Some(path) = files.get(filename::base(&rec.filename)) else {
                continue;
            };
            let from_index = index.and_then(|map| index_state(map, rec.uid));
            let from_index = from_index.map(|(f, k, modseq)| match modseq {
                0 => (f, k, self.highest_modseq),
                _ => (f, k, modseq),
            });
            let indexed_until = index.map_or(0, |map| map.hdr.next_uid);
            let (flags, kws, modseq) = match from_index {
                Some(state) => state,
                None if rec.uid < indexed_until => continue,
                None => name_state(path, keywords),
            };
            let guid = rec.field(b'G').map_or_else(
                || String::from_utf8_lossy(filename::base(&rec.filename)).into_owned(),
                |g| String::from_utf8_lossy(g).into_owned(),
            );
            let pop3_uidl = match rec.field(b'P') {
                Some([]) => String::from_utf8_lossy(filename::base(&rec.filename)).into_owned(),
                Some(uidl) => String::from_utf8_lossy(uidl).into_owned(),
                None => String::new(),
            };
            self.mails.push(Mail {
                seq: self.mails.len() as u32 + 1,
                uid: rec.uid,
                flags,
                keywords: kws,
                modseq,
                path: path.clone(),
                guid,
                pop3_uidl,
                cached_save_date: None,
            });
        }
    }

    /// Files the uidlist does not name, as the next sync would number
    /// them.
    fn add_unlisted(
        &mut self,
        uidlist: &Uidlist,
        files: &HashMap<Vec<u8>, PathBuf>,
        keywords: &Keywords,
    ) {
        let listed: std::collections::HashSet<&[u8]> = uidlist
            .records
            .iter()
            .map(|r| filename::base(&r.filename))
            .collect();
        let mut unlisted: Vec<(&Vec<u8>, &PathBuf)> = files
            .iter()
            .filter(|(base, _)| !listed.contains(base.as_slice()))
            .collect();
        unlisted.sort_by(|a, b| filename_sort_cmp(a.0, b.0));

        let modseq = self.highest_modseq + 1;
        for (base, path) in unlisted {
            let (flags, kws, _) = name_state(path, keywords);
            let base = String::from_utf8_lossy(base).into_owned();
            self.mails.push(Mail {
                seq: self.mails.len() as u32 + 1,
                uid: self.next_uid,
                flags,
                keywords: kws,
                modseq,
                path: path.clone(),
                guid: base,
                pop3_uidl: String::new(),
                cached_save_date: None,
            });
            self.next_uid += 1;
        }
        if self.mails.last().is_some_and(|m| m.modseq == modseq) {
            self.raise_modseq(modseq);
        }
    }

    /// Fill `cached_save_date` from the cache file, when it belongs to
    /// this index (its `file_seq` is the cache extension's reset id).
    fn read_cached_save_dates(&mut self, map: &IndexMap, path: &Path) {
        let Some(ext) = map.ext_idx(EXT_CACHE) else {
            return;
        };
        let Ok(data) = std::fs::read(path) else {
            return;
        };
        let Ok(view) = CacheView::open(&data) else {
            log::warn!("{}: cache not used", path.display());
            return;
        };
        if view.header.file_seq != map.extensions[ext].reset_id {
            return;
        }
        for mail in &mut self.mails {
            let Some(idx) = map.lookup_uid(mail.uid) else {
                continue;
            };
            let offset = map.ext_record(idx, ext).and_then(|b| b.get(..4));
            let offset = offset.map_or(0, |b| u32::from_ne_bytes(b.try_into().expect("4 bytes")));
            mail.cached_save_date = cached_u32(&view, offset, "date.save").map(i64::from);
        }
    }

    /// A sync raised the highest modseq: without the modseq extension
    /// every message reports the new head modseq.
    fn raise_modseq(&mut self, modseq: u64) {
        if !self.modseq_from_head {
            self.highest_modseq = modseq;
            return;
        }
        self.highest_modseq = modseq;
        self.mails.iter_mut().for_each(|m| m.modseq = modseq);
    }

    /// Header values; without the modseq extension Dovecot reports the
    /// log's head modseq (mail_index_modseq_get_head).
    fn apply_index_header(&mut self, map: &IndexMap, head_modseq: u64) {
        if map.hdr.uid_validity != 0 {
            self.uid_validity = map.hdr.uid_validity;
        }
        self.next_uid = self.next_uid.max(map.hdr.next_uid);
        self.first_recent_uid = map.hdr.first_recent_uid;
        self.highest_modseq = match map.ext_idx(EXT_MODSEQ) {
            Some(idx) => map.extensions[idx]
                .header()
                .get(..8)
                .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes"))),
            None => head_modseq,
        };
        self.modseq_from_head = map.ext_idx(EXT_MODSEQ).is_none();
    }

    /// The GUID as 32 hex digits, or the empty string.
    pub fn guid_hex(&self) -> String {
        self.guid.map(|g| hex(&g)).unwrap_or_default()
    }

    /// Messages with the `\Recent` flag: UIDs from the index's
    /// `first_recent_uid` on (a read-only open never takes them).
    pub fn is_recent(&self, uid: u32) -> bool {
        uid >= self.first_recent_uid
    }
}

/// The newest cached value of the 4-byte `field` in the record chain at
/// `offset` (lib-storage caches `date.save` as a 32-bit time).
fn cached_u32(view: &CacheView<'_>, offset: u32, field: &str) -> Option<u32> {
    if offset == 0 {
        return None;
    }
    for rec in view.records(offset) {
        let rec = rec.ok()?;
        for entry in view.entries(&rec) {
            let entry = entry.ok()?;
            let def = view.fields.get(entry.field as usize)?;
            if def.name_str() == field {
                let bytes = entry.data.get(..4)?;
                return Some(u32::from_ne_bytes(bytes.try_into().ok()?));
            }
        }
    }
    None
}

/// maildir_filename_sort_cmp: by the leading timestamp, then by the
/// microseconds of `.M<usecs>` when both have them, then by base name.
fn filename_sort_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let (secs_a, rest_a) = leading_number(a);
    let (secs_b, rest_b) = leading_number(b);
    let by_usecs = match (usecs(rest_a), usecs(rest_b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => std::cmp::Ordering::Equal,
    };
    secs_a.cmp(&secs_b).then(by_usecs).then_with(|| a.cmp(b))
}

fn leading_number(s: &[u8]) -> (u64, &[u8]) {
    let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let value = s[..digits].iter().fold(0u64, |n, &c| {
        n.wrapping_mul(10).wrapping_add(u64::from(c - b'0'))
    });
    (value, &s[digits..])
}

/// The number after `M` in the uniqueness part `.…M<usecs>…`.
fn usecs(rest: &[u8]) -> Option<u64> {
    let part = rest.strip_prefix(b".")?;
    let end = part
        .iter()
        .position(|&c| c == b'.' || c == filename::INFO_SEP)
        .unwrap_or(part.len());
    let at = part[..end].iter().position(|&c| c == b'M')?;
    Some(leading_number(&part[at + 1..]).0)
}

pub fn hex(bytes: &[u8]) -> String {
    crate::util::hex::binary_to_hex(bytes)
}

type State = (MailFlags, Vec<String>, u64);

/// Flags, keywords and modseq of `uid` in the index.
fn index_state(map: &IndexMap, uid: u32) -> Option<State> {
    let idx = map.lookup_uid(uid)?;
    let flags = MailFlags::from_bits_truncate(map.records.flags(idx)?);
    let mut keywords = Vec::new();
    if let Some(ext) = map.ext_idx(EXT_KEYWORDS) {
        let bits = map.ext_record(idx, ext).unwrap_or(&[]);
        for (i, name) in map.keywords.iter().enumerate() {
            if bits.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0) {
                keywords.push(name.clone());
            }
        }
    }
    let modseq = map
        .ext_idx(EXT_MODSEQ)
        .and_then(|ext| map.ext_record(idx, ext))
        .and_then(|b| b.get(..8))
        .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    Some((flags, keywords, modseq))
}

/// Flags and keywords from the file name alone.
fn name_state(path: &Path, keywords: &Keywords) -> State {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let parsed = filename::get_flags(name.as_bytes());
    let kws = parsed
        .keywords
        .iter()
        .filter_map(|&i| keywords.name(usize::from(i)).map(str::to_string))
        .collect();
    (parsed.flags, kws, 0)
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> MailboxError + '_ {
    move |source| MailboxError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn read_uidlist(path: &Path) -> Result<Option<Uidlist>, MailboxError> {
    let data = match std::fs::read(path) {
        Ok(data) => data,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    let uidlist = Uidlist::parse(&data).map_err(|e| MailboxError::Corrupted {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(Some(uidlist))
}

fn read_keywords(path: &Path) -> Result<Keywords, MailboxError> {
    match std::fs::read(path) {
        Ok(data) => Ok(Keywords::parse(&data)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Keywords::parse(b"")),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// The index map and the log's head modseq, or `None` when there is no
/// usable index.
fn read_index(dir: &Path) -> Result<Option<(IndexMap, u64)>, MailboxError> {
    let files = IndexFiles::read(dir, "dovecot.index").map_err(io_err(dir))?;
    let head_modseq = files.log.as_deref().map_or(1, log_head_modseq);
    match open_index(&files) {
        Ok(opened) => Ok(Some((opened.map, head_modseq))),
        Err(e) => {
            log::warn!("{}: index not used: {e}", dir.display());
            Ok(None)
        }
    }
}

/// The modseq after the log's last readable record, at least 1
/// (mail_index_modseq_get_head).
fn log_head_modseq(log: &[u8]) -> u64 {
    let Ok(hdr) = LogFileHeader::decode(log) else {
        return 1;
    };
    let mut records = LogRecords::new(log, &hdr);
    let mut modseq = records.state().modseq;
    while let Some(Ok(_)) = records.next() {
        modseq = records.state().modseq;
    }
    modseq.max(1)
}

/// Base name to path of every file in new/ and cur/.
fn scan_files(dir: &Path) -> Result<HashMap<Vec<u8>, PathBuf>, MailboxError> {
    use std::os::unix::ffi::OsStrExt;

    let mut files = HashMap::new();
    for sub in ["new", "cur"] {
        let sub_dir = dir.join(sub);
        let entries = match std::fs::read_dir(&sub_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(&sub_dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err(&sub_dir))?;
            let name = entry.file_name();
            if name.as_bytes().starts_with(b".") {
                continue;
            }
            files.insert(filename::base(name.as_bytes()).to_vec(), entry.path());
        }
    }
    Ok(files)
}
