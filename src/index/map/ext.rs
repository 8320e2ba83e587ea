//! Extension and keyword changes applied to a map: introductions,
//! resizes and the record relayout they cause, resets, header and
//! record updates, atomic increments (mail-index-sync-ext.c), and
//! keyword additions and resets (mail-index-sync-keywords.c).

use std::cmp::Reverse;

use super::IndexMap;
use super::sync::{Step, SyncCtx, SyncError};
use crate::index::format::index::{
    self as fmt, ExtHeader, RECORD_BASE_SIZE, RECORD_MIN_SIZE, align8,
};
use crate::index::format::log::{
    EXT_INTRO_FLAG_NO_SHRINK, ExtAtomicInc, ExtIntro, ExtRecUpdate, ExtReset, KeywordModify,
    KeywordUpdate, UidRange,
};

/// Which extension the following ext-* records apply to
/// (`cur_ext_map_idx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurExt {
    /// No introduction seen yet.
    None,
    /// The last introduction was broken: ignore what follows.
    Broken,
    Ext(usize),
}

impl SyncCtx<'_> {
    /// mail_index_sync_ext_intro.
    pub fn ext_intro(&mut self, u: &ExtIntro) -> Step {
        self.cur_ext = CurExt::Broken;
        self.cur_ext_ignore = true;
        self.cur_ext_record_size = 0;

        let known = self.map.extensions.len();
        if u.ext_id != u32::MAX && u.ext_id as usize >= known {
            let msg = format!("Extension introduction for unknown id {}", u.ext_id);
            return self.corrupted(msg);
        }
        if u.ext_id == u32::MAX && u.name.is_empty() {
            return self.corrupted("Extension introduction without id or name".into());
        }
        let (idx, name) = match u.ext_id {
            u32::MAX => {
                let name = String::from_utf8_lossy(&u.name).into_owned();
                (self.map.ext_idx(&name), name)
            }
            id => (
                Some(id as usize),
                self.map.extensions[id as usize].name.clone(),
            ),
        };
        if !self.internal_update && name == fmt::EXT_KEYWORDS {
            return self.corrupted("Extension introduction for keywords".into());
        }

        let mut proposed = ExtHeader::new(&name, u.hdr_size, u.record_size, u.record_align);
        proposed.reset_id = u.reset_id;
        if let Err(e) = fmt::check_ext(&proposed, self.map.hdr.record_size) {
            return self.corrupted(format!("Broken extension introduction: {e}"));
        }
        if !record_layout_fits(&self.map.extensions, idx, u) {
            let msg = "Broken extension introduction: Record fields past 64 KiB";
            return self.corrupted(msg.into());
        }
        self.cur_ext_record_size = u.record_size;
        match idx {
            Some(idx) => self.ext_intro_existing(u, idx),
            None => {
                let idx = self.ext_add(proposed);
                self.cur_ext_ignore = false;
                self.cur_ext = if self.internal_update {
                    CurExt::None
                } else {
                    CurExt::Ext(idx)
                };
                Ok(())
            }
        }
    }

    fn ext_intro_existing(&mut self, u: &ExtIntro, idx: usize) -> Step {
        if u.reset_id == self.map.extensions[idx].reset_id {
            let no_shrink = u.flags & EXT_INTRO_FLAG_NO_SHRINK != 0;
            ext_resize(self.map, idx, u, no_shrink);
            self.cur_ext_ignore = false;
        } else {
            self.cur_ext_ignore = true;
        }
        self.cur_ext = CurExt::Ext(idx);
        Ok(())
    }

    /// mail_index_sync_ext_init_new: append the extension to the header
    /// and make room for its record field.
    fn ext_add(&mut self, ext: ExtHeader) -> usize {
        self.registry
            .register(&ext.name, ext.hdr_size, ext.record_size, ext.record_align);
        self.map.extensions.push(ext);
        self.map.hdr.header_size = self.map.header_size();
        let idx = self.map.extensions.len() - 1;
        ext_reorder(self.map, idx, 0);
        idx
    }

    /// The extension the last introduction selected, or why there is
    /// none; `Ok(None)` when its updates are to be ignored.
    fn cur_ext_for(&self, what: &str) -> Result<Option<usize>, SyncError> {
        match self.cur_ext {
            CurExt::None => {
                let msg = format!("Extension {what} without intro prefix");
                self.corrupted(msg).map(|_| None)
            }
            _ if self.cur_ext_ignore => Ok(None),
            CurExt::Ext(idx) => Ok(Some(idx)),
            CurExt::Broken => Ok(None),
        }
    }

    /// mail_index_sync_ext_reset.
    pub fn ext_reset(&mut self, u: &ExtReset) -> Step {
        let idx = match self.cur_ext {
            CurExt::None => return self.corrupted("Extension reset without intro prefix".into()),
            CurExt::Broken => return self.corrupted("Extension reset after a broken intro".into()),
            CurExt::Ext(idx) => idx,
        };
        let ext = &mut self.map.extensions[idx];
        ext.reset_id = u.new_reset_id;
        if u.preserve_data.unwrap_or(0) != 0 {
            return Ok(());
        }

        ext.header_mut().fill(0);
        if let Some(range) = ext.record_range() {
            for i in 0..self.map.records.len() {
                if let Some(rec) = self.map.records.get_mut(i) {
                    rec[range.clone()].fill(0);
                }
            }
        }
        Ok(())
    }

    /// mail_index_sync_ext_hdr_update.
    pub fn ext_hdr_update(&mut self, offset: u32, data: &[u8]) -> Step {
        let Some(idx) = self.cur_ext_for("header update")? else {
            return Ok(());
        };
        let ext = &mut self.map.extensions[idx];
        let end = offset as u64 + data.len() as u64;
        if end > u64::from(ext.hdr_size) {
            let msg = "Extension header update points outside header size";
            return self.corrupted(msg.into());
        }
        let start = offset as usize;
        ext.header_mut()[start..start + data.len()].copy_from_slice(data);
        if ext.name == super::EXT_MODSEQ {
            self.start_modseq_tracking();
        }
        Ok(())
    }

    /// mail_index_sync_ext_rec_update.
    pub fn ext_rec_update(&mut self, u: &ExtRecUpdate) -> Step {
        let Some(idx) = self.cur_ext_for("record updated")? else {
            return Ok(());
        };
        if u.uid == 0 || u.uid >= self.map.hdr.next_uid {
            let msg = format!("Extension record update for invalid uid={}", u.uid);
            return self.corrupted(msg);
        }
        let Some(seq) = self.map.lookup_uid(u.uid) else {
            return Ok(());
        };
        let Some(range) = self.map.extensions[idx].record_range() else {
            return Ok(());
        };
        let Some(rec) = self.map.records.get_mut(seq) else {
            return Ok(());
        };
        let field = &mut rec[range];
        let n = field.len().min(u.data.len());
        field[..n].copy_from_slice(&u.data[..n]);
        field[n..].fill(0);
        Ok(())
    }

    /// mail_index_sync_ext_atomic_inc.
    pub fn ext_atomic_inc(&mut self, u: &ExtAtomicInc) -> Step {
        let Some(idx) = self.cur_ext_for("record updated")? else {
            return Ok(());
        };
        if u.uid == 0 || u.uid >= self.map.hdr.next_uid {
            let msg = format!("Extension record inc for invalid uid={}", u.uid);
            return self.corrupted(msg);
        }
        let Some(seq) = self.map.lookup_uid(u.uid) else {
            return Ok(());
        };
        let size = usize::from(self.cur_ext_record_size);
        if !matches!(size, 1 | 2 | 4 | 8) {
            let msg = format!("Extension record inc with invalid size={size}");
            return self.corrupted(msg);
        }
        let offset = usize::from(self.map.extensions[idx].record_offset);
        let Some(field) = self
            .map
            .records
            .get_mut(seq)
            .and_then(|rec| rec.get_mut(offset..offset + size))
        else {
            return Ok(());
        };
        match atomic_add(field, u.diff) {
            Ok(()) => Ok(()),
            Err(msg) => self.corrupted(format!("{msg} (uid={}, diff={})", u.uid, u.diff)),
        }
    }

    /// mail_index_sync_keywords.
    pub fn keyword_update(&mut self, u: &KeywordUpdate) -> Step {
        let name = String::from_utf8_lossy(&u.name).into_owned();
        let found = self
            .map
            .keywords
            .iter()
            .position(|k| k.eq_ignore_ascii_case(&name));
        let kw_idx = match found {
            Some(i) => i,
            None => self.keywords_header_add(&name),
        };

        let Some(ext_idx) = self.map.ext_idx(fmt::EXT_KEYWORDS) else {
            return self.corrupted("Keyword extension missing".into());
        };
        if kw_idx / 8 >= usize::from(self.map.extensions[ext_idx].record_size) {
            if u.modify == KeywordModify::Remove {
                return Ok(());
            }
            let ext = &self.map.extensions[ext_idx];
            let (reset_id, hdr_size) = (ext.reset_id, ext.hdr_size);
            let count = self.map.keywords.len();
            self.keywords_ext_register(Some(ext_idx), reset_id, hdr_size, count);
        }

        let range = u
            .uids
            .iter()
            .filter_map(|r| self.map.lookup_range(r.uid1, r.uid2));
        for (first, last) in range.collect::<Vec<_>>() {
            self.bump_modseqs(first, last);
        }
        let add = match u.modify {
            KeywordModify::Add => true,
            KeywordModify::Remove => false,
            KeywordModify::Other(t) => {
                return self.corrupted(format!("Invalid keyword modify type {t}"));
            }
        };
        let offset = usize::from(self.map.extensions[ext_idx].record_offset) + kw_idx / 8;
        let mask = 1u8 << (kw_idx % 8);
        for range in &u.uids {
            self.for_each_record(range, |rec| {
                if add {
                    rec[offset] |= mask;
                } else {
                    rec[offset] &= !mask;
                }
            });
        }
        Ok(())
    }

    /// mail_index_sync_keywords_reset.
    pub fn keyword_reset(&mut self, ranges: &[UidRange]) -> Step {
        let Some(ext_idx) = self.map.ext_idx(fmt::EXT_KEYWORDS) else {
            return Ok(());
        };
        let Some(field) = self.map.extensions[ext_idx].record_range() else {
            return Ok(());
        };
        for range in ranges {
            if let Some((first, last)) = self.map.lookup_range(range.uid1, range.uid2) {
                self.bump_modseqs(first, last);
            }
            self.for_each_record(range, |rec| rec[field.clone()].fill(0));
        }
        Ok(())
    }

    /// Run `f` on the bytes of each record in the UID range.
    pub(super) fn for_each_record(&mut self, range: &UidRange, mut f: impl FnMut(&mut [u8])) {
        let Some((first, last)) = self.map.lookup_range(range.uid1, range.uid2) else {
            return;
        };
        for idx in first..=last {
            if let Some(rec) = self.map.records.get_mut(idx) {
                f(rec);
            }
        }
    }

    /// keywords_header_add: append `name` to the keywords header,
    /// growing the extension if needed. Returns the keyword's index.
    fn keywords_header_add(&mut self, name: &str) -> usize {
        let ext_idx = self.map.ext_idx(fmt::EXT_KEYWORDS);
        let mut names = match ext_idx {
            Some(_) if !self.map.keywords.is_empty() => self.map.keywords.clone(),
            _ => Vec::new(),
        };
        names.push(name.to_string());
        let mut buf = fmt::encode_keywords(&names);

        let ext = ext_idx.map(|i| &self.map.extensions[i]);
        let too_small = ext.is_none_or(|e| {
            buf.len() > e.hdr_size as usize || usize::from(e.record_size) * 8 < names.len()
        });
        if too_small {
            buf.resize(buf.len() + 128, 0);
            let reset_id = ext.map_or(0, |e| e.reset_id);
            self.keywords_ext_register(ext_idx, reset_id, buf.len() as u32, names.len());
        }

        let ext_idx = self
            .map
            .ext_idx(fmt::EXT_KEYWORDS)
            .expect("registered above");
        let header = self.map.extensions[ext_idx].header_mut();
        let n = buf.len().min(header.len());
        header[..n].copy_from_slice(&buf[..n]);
        self.map.keywords = names;
        self.map.keywords.len() - 1
    }

    /// keywords_ext_register: introduce or grow the keywords extension.
    fn keywords_ext_register(
        &mut self,
        idx: Option<usize>,
        reset_id: u32,
        hdr_size: u32,
        count: usize,
    ) {
        let mut record_size = count.div_ceil(8) as u16;
        if record_size % 4 != 0 {
            record_size += 1;
        }
        let intro = ExtIntro {
            ext_id: idx.map_or(u32::MAX, |i| i as u32),
            reset_id,
            hdr_size,
            record_size,
            record_align: 1,
            flags: 0,
            name: match idx {
                Some(_) => Vec::new(),
                None => fmt::EXT_KEYWORDS.as_bytes().to_vec(),
            },
        };
        self.internal_update = true;
        let result = self.ext_intro(&intro);
        self.internal_update = false;
        if result.is_err() {
            log::warn!("growing the keywords extension failed");
        }
    }
}

/// Add `diff` to the little number in `field` unless it would leave
/// the range of its size.
fn atomic_add(field: &mut [u8], diff: i32) -> Result<(), String> {
    let bits = field.len() * 8;
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let mut raw = [0u8; 8];
    let at = if cfg!(target_endian = "little") {
        0
    } else {
        8 - field.len()
    };
    raw[at..at + field.len()].copy_from_slice(field);
    let orig = u64::from_ne_bytes(raw);

    if diff > 0 && max < diff as u64 {
        return Err(format!(
            "Extension record inc diff={diff} larger than max value={max}"
        ));
    }
    let new = if diff >= 0 {
        orig.checked_add(diff as u64).filter(|&n| n <= max)
    } else {
        orig.checked_sub(u64::from(diff.unsigned_abs()))
    };
    let Some(new) = new else {
        let what = if diff < 0 {
            "drops number below zero"
        } else {
            "overflows number"
        };
        return Err(format!("Extension record inc {what} (orig={orig})"));
    };
    field.copy_from_slice(&new.to_ne_bytes()[at..at + field.len()]);
    Ok(())
}

/// sync_ext_resize: apply an introduction's new sizes to an existing
/// extension.
fn ext_resize(map: &mut IndexMap, idx: usize, u: &ExtIntro, no_shrink: bool) {
    let ext = &mut map.extensions[idx];
    let old_padded = align8(ext.hdr_size as usize);
    let mut new_padded = align8(u.hdr_size as usize);
    let record_changed = ext.record_align != u.record_align || ext.record_size != u.record_size;
    if !record_changed && (new_padded < old_padded && no_shrink || ext.hdr_size == u.hdr_size) {
        return;
    }

    if new_padded < old_padded && no_shrink {
        new_padded = old_padded;
    } else {
        ext.hdr_size = u.hdr_size;
    }
    ext.data.resize(new_padded, 0);

    let mut reorder = false;
    if ext.record_align < u.record_align || (ext.record_align > u.record_align && !no_shrink) {
        ext.record_align = u.record_align;
        reorder = true;
    }
    let old_record_size = ext.record_size;
    if ext.record_size < u.record_size || (ext.record_size > u.record_size && !no_shrink) {
        ext.record_size = u.record_size;
        reorder = true;
    }
    map.hdr.header_size = map.header_size();
    if reorder {
        ext_reorder(map, idx, old_record_size);
    }
}

/// sync_ext_reorder: lay the record fields out again, largest alignment
/// first, and move every record's data to the new layout.
fn ext_reorder(map: &mut IndexMap, idx: usize, old_ext_size: u16) {
    let old_offsets: Vec<usize> = map
        .extensions
        .iter()
        .map(|e| usize::from(e.record_offset))
        .collect();
    let mut copy_sizes: Vec<usize> = map
        .extensions
        .iter()
        .map(|e| usize::from(e.record_size))
        .collect();
    copy_sizes[idx] = copy_sizes[idx].min(usize::from(old_ext_size));

    // ext_intro checked with record_layout_fits that the fields fit.
    let Some(new_size) = assign_record_offsets(&mut map.extensions) else {
        return;
    };
    let new_offsets: Vec<usize> = map
        .extensions
        .iter()
        .map(|e| usize::from(e.record_offset))
        .collect();
    let base = RECORD_BASE_SIZE as usize;
    map.records.relayout(new_size, |old, new| {
        new[..base].copy_from_slice(&old[..base]);
        for i in 0..old_offsets.len() {
            let (from, to, n) = (old_offsets[i], new_offsets[i], copy_sizes[i]);
            if let (Some(src), true) = (old.get(from..from + n), to + n <= new.len()) {
                new[to..to + n].copy_from_slice(src);
            }
        }
    });
    map.hdr.record_size = new_size as u32;
}

/// Would the record fields still start below 64 KiB (their offsets are
/// 16 bits) once the introduction `u` is applied to extension `idx`, or
/// added when `idx` is `None`? Dovecot asserts this in sync_ext_reorder
/// and dies on such a log; we refuse the introduction as corrupted.
fn record_layout_fits(extensions: &[ExtHeader], idx: Option<usize>, u: &ExtIntro) -> bool {
    let mut trial: Vec<ExtHeader> = extensions
        .iter()
        .map(|e| ExtHeader::new("", 0, e.record_size, e.record_align))
        .collect();
    match idx {
        None => trial.push(ExtHeader::new("", 0, u.record_size, u.record_align)),
        // A reset extension ignores the introduction's sizes.
        Some(i) if extensions[i].reset_id != u.reset_id => {}
        Some(i) => {
            let e = &mut trial[i];
            let shrink = u.flags & EXT_INTRO_FLAG_NO_SHRINK == 0;
            if e.record_size < u.record_size || shrink {
                e.record_size = u.record_size;
            }
            if e.record_align < u.record_align || shrink {
                e.record_align = u.record_align;
            }
        }
    }
    assign_record_offsets(&mut trial).is_some()
}

/// Give every extension with record data an offset, largest alignment
/// first, filling gaps where a field fits; returns the record size, or
/// `None` when a field would end at or past 65535 (Dovecot's limit for
/// the 16-bit offsets).
fn assign_record_offsets(extensions: &mut [ExtHeader]) -> Option<usize> {
    extensions.iter_mut().for_each(|e| e.record_offset = 0);
    let mut sorted: Vec<usize> = (0..extensions.len()).collect();
    sorted.sort_by_key(|&i| Reverse(extensions[i].record_align));

    let mut offset = usize::from(RECORD_MIN_SIZE);
    let mut max_align = 4usize;
    loop {
        let mut min_align = usize::MAX;
        let mut placed = false;
        for &i in &sorted {
            let e = &mut extensions[i];
            let align = usize::from(e.record_align).max(1);
            max_align = max_align.max(usize::from(e.record_align));
            if e.record_offset != 0 || e.record_size == 0 {
                continue;
            }
            if offset % align == 0 {
                e.record_offset = offset as u16;
                offset += usize::from(e.record_size);
                placed = true;
                break;
            }
            min_align = min_align.min(align);
        }
        if !placed && min_align == usize::MAX {
            break;
        }
        if !placed {
            offset = offset.next_multiple_of(min_align);
        }
        if offset >= usize::from(u16::MAX) {
            return None;
        }
    }
    Some(offset.next_multiple_of(max_align))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_puts_large_alignments_first_and_fills_gaps() {
        let mut exts = vec![
            ExtHeader::new("keywords", 0, 2, 1),
            ExtHeader::new("cache", 0, 4, 4),
            ExtHeader::new("modseq", 16, 8, 8),
        ];
        let size = assign_record_offsets(&mut exts).unwrap();
        // modseq needs 8-alignment: offset 8; the keywords fit at 5.
        assert_eq!(exts[2].record_offset, 8);
        assert_eq!(exts[0].record_offset, 5);
        assert_eq!(exts[1].record_offset, 16);
        assert_eq!(size, 24);
    }

    #[test]
    fn atomic_add_refuses_underflow() {
        let mut field = 1u32.to_ne_bytes();
        assert!(atomic_add(&mut field, -2).is_err());
        atomic_add(&mut field, 5).unwrap();
        assert_eq!(u32::from_ne_bytes(field), 6);
    }
}
