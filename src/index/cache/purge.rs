//! Purging (mail-cache-purge.c): a new cache file with only the records
//! still wanted, written beside the old one and renamed over it.
//!
//! For each message the purge keeps one entry per field (bitmasks ORed
//! together), only of fields whose decision keeps them: yes for every
//! message, temp only for messages newer than a week. Fields unread for
//! too long are dropped or downgraded first ([`super::DropCtx`]). The
//! new file's `file_seq` is one more than the index's reset_id, and the
//! returned [`IndexUpdates`] reset the index's "cache" extension to it
//! with the new offsets.
//!
//! The caller must hold the transaction log lock, as Dovecot requires:
//! the index changes must be written before another process can look
//! at the new file through the index.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use super::decisions::{DropCtx, DropDecision};
use super::lookup::{FieldValue, unix_now};
use super::{Cache, FieldIdx, IndexUpdates, IndexView, Result, io_error};
use crate::index::format::PutNe;
use crate::index::format::cache::{
    CacheHeader, Decision, FieldType, MAJOR_VERSION, MINOR_VERSION, SIZEOF_UOFF_T, uint32_to_offset,
};

/// When to purge (the `purge_file_seq` argument of mail_cache_purge()).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurgeIf {
    /// Always (`(uint32_t)-1`).
    Always,
    /// Only if the file on disk still has this `file_seq`; another
    /// process may just have purged it.
    FileSeq(u32),
    /// Only if there is no usable file (`0`): creates the cache.
    Missing,
}

impl Cache {
    /// `mail_cache_purge_with_trans()`: returns the index changes, or
    /// `None` when another process's purge made this one unneeded. The
    /// transaction log must be locked by the caller.
    pub fn purge(
        &mut self,
        view: &dyn IndexView,
        when: PurgeIf,
        reason: &str,
    ) -> Result<Option<IndexUpdates>> {
        if self.set.readonly {
            return Ok(None);
        }
        let usable = self.open_and_verify(view).unwrap_or(false);
        if !usable {
            // Missing or just dropped as corrupted: create it.
            if matches!(when, PurgeIf::FileSeq(_)) && self.file_on_disk_changed(when) {
                return Ok(None);
            }
            return self.purge_write(view, reason).map(Some);
        }
        let purged = self.with_lock(view, |cache| {
            if cache.file_on_disk_changed(when) {
                cache.need_purge = None;
                return Ok(None);
            }
            cache.purge_write(view, reason).map(Some)
        })?;
        match purged {
            Some(Some(updates)) => Ok(Some(updates)),
            Some(None) => {
                self.reopen(view)?;
                Ok(None)
            }
            // The file went away while we locked it.
            None => self.purge_write(view, reason).map(Some),
        }
    }

    /// `mail_cache_purge_has_file_changed()`.
    fn file_on_disk_changed(&self, when: PurgeIf) -> bool {
        let seq = match std::fs::read(&self.path) {
            Ok(data) if data.len() >= CacheHeader::SIZE => {
                u32::from_ne_bytes([data[8], data[9], data[10], data[11]])
            }
            _ => return false,
        };
        match when {
            PurgeIf::Always => false,
            PurgeIf::Missing => true,
            PurgeIf::FileSeq(expected) => seq != expected,
        }
    }

    /// `mail_cache_purge_write()`: the new file, renamed into place.
    fn purge_write(&mut self, view: &dyn IndexView, reason: &str) -> Result<IndexUpdates> {
        let file_seq = self.next_file_seq(view);
        log::debug!(
            "{}: Purging (new file_seq={file_seq}): {reason}",
            self.path.display()
        );
        let new_map = self.purge_field_map(view);
        let (body, offsets, record_count) = self.copy_records(view, &new_map);
        let bytes = self.new_file_bytes(file_seq, body, &new_map, record_count);

        let (tmp_path, tmp) = self.create_temp()?;
        let written = write_and_rename(&tmp, &bytes, &tmp_path, &self.path);
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp_path);
            return Err(e);
        }
        self.file = None;
        self.opened = false;
        self.need_purge = None;
        self.open_and_verify(view)?;

        let offsets = offsets
            .into_iter()
            .filter(|&(_, off)| off != 0)
            .map(|(seq, off)| (seq, view.uid(seq).unwrap_or(0), off))
            .collect();
        Ok(IndexUpdates {
            reset: Some(file_seq),
            reset_id: file_seq,
            offsets,
        })
    }

    /// `get_next_file_seq()`.
    fn next_file_seq(&self, view: &dyn IndexView) -> u32 {
        let mut seq = match view.cache_reset_id() {
            Some(reset_id) => reset_id.wrapping_add(1),
            None => unix_now(),
        };
        if let Some(hdr) = self.header() {
            if seq <= hdr.file_seq {
                seq = hdr.file_seq.wrapping_add(1);
            }
        }
        seq.max(1)
    }

    /// The new file's field numbers by registration number, after
    /// dropping fields unread for too long
    /// (`mail_cache_purge_check_field()`).
    fn purge_field_map(&mut self, view: &dyn IndexView) -> Vec<Option<u32>> {
        let count = self.fields.len();
        if self.fields.file_field_map.is_empty() {
            return (0..count as u32).map(Some).collect();
        }
        let drop = DropCtx::new(view.day_stamp(), &self.set);
        let mut next = 0;
        let mut map = Vec::with_capacity(count);
        for idx in 0..count {
            let reg = &mut self.fields.fields[idx];
            match drop.test(&reg.field) {
                DropDecision::None => {}
                DropDecision::Drop => reg.field.decision = Decision(Decision::NO),
                DropDecision::ToTemp => reg.field.decision = Decision(Decision::TEMP),
            }
            if reg.field.decision.kind() == Decision::NO {
                reg.used = false;
                reg.field.last_used = 0;
            }
            map.push(reg.used.then(|| {
                next += 1;
                next - 1
            }));
        }
        map
    }

    /// The kept records, each message's new offset (relative to the end
    /// of the header; 0: nothing kept) and the record count.
    fn copy_records(
        &mut self,
        view: &dyn IndexView,
        map: &[Option<u32>],
    ) -> (Vec<u8>, Vec<(u32, u32)>, u32) {
        let first_new = view.first_new_seq();
        let mut body = Vec::new();
        let mut offsets = Vec::new();
        let mut count = 0;
        for seq in 1..=view.messages_count() {
            let values = match self.lookup_all(view, seq) {
                Ok(values) => values,
                Err(e) => {
                    log::warn!("{e}");
                    Vec::new()
                }
            };
            let rec = self.purged_record(&values, map, seq >= first_new);
            let keep = rec.len() > 8 && rec.len() <= self.set.record_max_size as usize;
            let offset = match keep {
                true => (CacheHeader::SIZE + body.len()) as u32,
                false => 0,
            };
            if keep {
                body.extend_from_slice(&rec);
                count += 1;
            }
            offsets.push((seq, offset));
        }
        (body, offsets, count)
    }

    /// One message's record in the new file (`mail_cache_purge_field()`
    /// for each value).
    fn purged_record(&self, values: &[FieldValue], map: &[Option<u32>], new_msg: bool) -> Vec<u8> {
        let mut rec = Vec::new();
        rec.put_u32(0);
        rec.put_u32(0);
        let mut seen: Vec<(FieldIdx, Option<usize>)> = Vec::new();
        for v in values {
            let Some(file_idx) = map.get(v.field).copied().flatten() else {
                continue;
            };
            let field = self.fields.get(v.field).expect("registered");
            if let Some(&(_, pos)) = seen.iter().find(|(f, _)| *f == v.field) {
                if let (FieldType::Bitmask, Some(pos)) = (field.field_type, pos) {
                    let dest = rec[pos..].iter_mut().take(field.size as usize);
                    dest.zip(&v.data).for_each(|(d, s)| *d |= s);
                }
                continue;
            }
            let kind = field.decision.kind();
            let wanted = if new_msg {
                kind != Decision::NO
            } else {
                kind == Decision::YES
            };
            if !wanted {
                seen.push((v.field, None));
                continue;
            }
            rec.put_u32(file_idx);
            if field.fixed_size().is_none() {
                rec.put_u32(v.data.len() as u32);
            }
            seen.push((v.field, Some(rec.len())));
            rec.extend_from_slice(&v.data);
            rec.pad_to(4);
        }
        let size = rec.len() as u32;
        rec[4..8].copy_from_slice(&size.to_ne_bytes());
        rec
    }

    /// Header, records and field header of the new file; the registry
    /// now maps to the new file's field numbers.
    fn new_file_bytes(
        &mut self,
        file_seq: u32,
        body: Vec<u8>,
        map: &[Option<u32>],
        records: u32,
    ) -> Vec<u8> {
        self.fields.field_file_map = map.to_vec();
        let mut file_fields: Vec<(u32, FieldIdx)> = map
            .iter()
            .enumerate()
            .filter_map(|(idx, m)| m.map(|f| (f, idx)))
            .collect();
        file_fields.sort_unstable();
        self.fields.file_field_map = file_fields.into_iter().map(|(_, idx)| idx).collect();
        let fields = self.fields.header();
        self.fields.written();

        let field_offset = CacheHeader::SIZE + body.len();
        let mut out = Vec::with_capacity(field_offset + 256);
        let mut hdr = CacheHeader {
            major_version: MAJOR_VERSION,
            compat_sizeof_uoff_t: SIZEOF_UOFF_T,
            minor_version: MINOR_VERSION,
            unused: 0,
            indexid: self.indexid,
            file_seq,
            continued_record_count: 0,
            record_count: records,
            backwards_compat_used_file_size: 0,
            deleted_record_count: 0,
            field_header_offset: uint32_to_offset(field_offset as u32).unwrap_or(0),
        };
        hdr.encode(&mut out);
        out.extend_from_slice(&body);
        fields.encode(&mut out);
        hdr.backwards_compat_used_file_size = out.len() as u32;
        let mut head = Vec::with_capacity(CacheHeader::SIZE);
        hdr.encode(&mut head);
        out[..CacheHeader::SIZE].copy_from_slice(&head);
        out
    }

    /// `mail_index_create_tmp_file()`: `PATH.tmp`, a stale one replaced.
    fn create_temp(&self) -> Result<(PathBuf, File)> {
        let mut tmp = self.path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mode = self.file_mode();
        let open = || {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&tmp)
        };
        let file = match open() {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                std::fs::remove_file(&tmp).map_err(io_error("unlink", &tmp))?;
                open()
            }
            other => other,
        };
        let file = file.map_err(io_error("creat", &tmp))?;
        // Keep the old file's mode despite the umask.
        let perms = std::fs::Permissions::from_mode(mode);
        file.set_permissions(perms)
            .map_err(io_error("fchmod", &tmp))?;
        Ok((tmp, file))
    }

    /// The mode of the file replaced, else of the index directory's
    /// files (0600).
    fn file_mode(&self) -> u32 {
        let current = std::fs::metadata(&self.path).ok();
        current.map_or(0o600, |st| st.mode() & 0o7777)
    }
}

fn write_and_rename(mut tmp: &File, bytes: &[u8], from: &PathBuf, to: &PathBuf) -> Result<()> {
    tmp.write_all(bytes).map_err(io_error("write", from))?;
    std::fs::rename(from, to).map_err(io_error("rename", from))
}
