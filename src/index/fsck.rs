//! Repairing an index whose header disagrees with its records
//! (mail-index-fsck.c): the message, seen and deleted counts, the
//! lowwater UIDs, `next_uid` and `first_recent_uid` are recomputed from
//! the records, and the header is marked `FSCKD`. The repaired map is
//! written to `dovecot.index` when the index is writable.
//!
//! TODO(fsck-extensions): extension and keyword headers are not
//! checked (an index whose extensions do not decode is rebuilt from the
//! log instead).

use std::sync::Arc;

use super::format::Bytes;
use super::format::index::{
    EXT_KEYWORDS, IndexFile, IndexHeader, decode_keywords, hdr_flags, mail_flags,
};
use super::mail_index::Index;
use super::map::IndexMap;

/// Repair the header of `map` from its records. Returns what was wrong.
pub fn fsck_map(map: &mut IndexMap) -> Vec<String> {
    let mut fixed = Vec::new();
    let count = map.records.len() as u32;
    let (mut seen, mut deleted) = (0u32, 0u32);
    let (mut first_unseen, mut first_deleted) = (0u32, 0u32);
    let mut last_uid = 0u32;
    for i in 0..map.records.len() {
        let uid = map.records.uid(i).unwrap_or(0);
        let flags = map.records.flags(i).unwrap_or(0);
        if flags & mail_flags::SEEN != 0 {
            seen += 1;
        } else if first_unseen == 0 {
            first_unseen = uid;
        }
        if flags & mail_flags::DELETED != 0 {
            deleted += 1;
            if first_deleted == 0 {
                first_deleted = uid;
            }
        }
        last_uid = last_uid.max(uid);
    }

    let hdr = &mut map.hdr;
    let mut set = |name: &str, field: &mut u32, value: u32| {
        if *field != value {
            fixed.push(format!("{name} {} -> {value}", *field));
            *field = value;
        }
    };
    let next_uid = hdr.next_uid.max(last_uid + 1);
    set("next_uid", &mut hdr.next_uid, next_uid);
    set("messages_count", &mut hdr.messages_count, count);
    set("seen_messages_count", &mut hdr.seen_messages_count, seen);
    set(
        "deleted_messages_count",
        &mut hdr.deleted_messages_count,
        deleted,
    );
    let unseen = if first_unseen == 0 {
        next_uid
    } else {
        first_unseen
    };
    let low_unseen = hdr.first_unseen_uid_lowwater.min(unseen).max(1);
    set(
        "first_unseen_uid_lowwater",
        &mut hdr.first_unseen_uid_lowwater,
        low_unseen,
    );
    let del = if first_deleted == 0 {
        next_uid
    } else {
        first_deleted
    };
    let low_deleted = hdr.first_deleted_uid_lowwater.min(del).max(1);
    set(
        "first_deleted_uid_lowwater",
        &mut hdr.first_deleted_uid_lowwater,
        low_deleted,
    );
    let recent = hdr.first_recent_uid.clamp(1, next_uid);
    set("first_recent_uid", &mut hdr.first_recent_uid, recent);
    if hdr.uid_validity == 0 && hdr.next_uid != 1 {
        let now = super::mail_index::unix_now();
        set("uid_validity", &mut hdr.uid_validity, now);
    }
    if !fixed.is_empty() {
        hdr.flags |= hdr_flags::FSCKD;
    }
    fixed
}

/// A `dovecot.index` that decodes but whose header fails the checks
/// Dovecot answers with an fsck (mail_index_map_check_header returning
/// 0): the repaired file's bytes, and whether anything was repaired.
/// A sound file is returned as it is, without being decoded here.
pub(crate) fn fsck_file(data: Vec<u8>, errors: &mut Vec<String>) -> (Vec<u8>, bool) {
    if !header_needs_fsck(&data) {
        return (data, false);
    }
    let Ok(file) = IndexFile::decode(&data) else {
        return (data, false);
    };
    let keywords = file
        .ext(EXT_KEYWORDS)
        .and_then(|(_, e)| decode_keywords(e.header()).ok())
        .unwrap_or_default();
    let mut map = IndexMap {
        hdr: file.hdr,
        extensions: file.extensions,
        records: file.records,
        keywords,
    };
    if map.check_header().is_ok() {
        return (data, false);
    }
    let fixed = fsck_map(&mut map);
    errors.extend(fixed.iter().map(|what| format!("fsck: {what}")));
    let mut repaired = map.to_file();
    repaired.trailing = Vec::new();
    (repaired.encode(), !fixed.is_empty())
}

/// The checks of mail_index_map_check_header that lead to an fsck,
/// on the header and the last record's UID only.
fn header_needs_fsck(data: &[u8]) -> bool {
    let b = Bytes::new(data);
    let Ok(h) = IndexHeader::decode(b) else {
        return false;
    };
    let over_next = [
        h.first_recent_uid,
        h.first_unseen_uid_lowwater,
        h.first_deleted_uid_lowwater,
    ]
    .iter()
    .any(|&uid| uid > h.next_uid);
    let bad = (h.uid_validity == 0 && h.next_uid != 1)
        || h.next_uid == 0
        || h.seen_messages_count > h.messages_count
        || h.deleted_messages_count > h.messages_count
        || h.first_recent_uid == 0
        || over_next;
    let Some(last) = h.messages_count.checked_sub(1) else {
        return bad;
    };
    let at = u64::from(h.header_size) + u64::from(last) * u64::from(h.record_size);
    let last_uid = usize::try_from(at)
        .ok()
        .and_then(|at| b.u32(at, "uid").ok());
    bad || last_uid.is_some_and(|uid| uid >= h.next_uid)
}

/// Fsck the head map if its header fails Dovecot's checks, and write
/// the result when we may (also when the file was repaired as read).
pub(crate) fn fsck_if_needed(index: &mut Index, file_fscked: bool) {
    if let Err(e) = index.map.check_header() {
        log::warn!("{}: {e}, fscking", index.filepath.display());
        index.fsck();
    } else if file_fscked {
        index.write_repaired();
    }
}

impl Index {
    /// mail_index_fsck: repair the head map's header and write it.
    pub fn fsck(&mut self) -> Vec<String> {
        let map = Arc::make_mut(&mut self.map);
        let fixed = fsck_map(map);
        for what in &fixed {
            self.errors.push(format!("fsck: {what}"));
        }
        if !fixed.is_empty() {
            self.write_repaired();
        }
        fixed
    }

    /// Write the repaired map under the log lock.
    fn write_repaired(&mut self) {
        if self.readonly || self.in_memory {
            return;
        }
        self.need_recreate = true;
        let locked = self.log_mut().and_then(|log| Ok(log.lock_head()?));
        if locked.is_ok() {
            if let Err(e) = self.write_index_file() {
                log::error!("{}: fsck write failed: {e}", self.filepath.display());
            }
            if !self.sync_locked {
                if let Some(log) = self.log.as_mut() {
                    log.unlock();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_lowwaters_are_recomputed() {
        let mut map = IndexMap::new(1);
        map.records.push(1, mail_flags::SEEN);
        map.records.push(3, mail_flags::DELETED);
        map.hdr.messages_count = 5;
        map.hdr.next_uid = 2;
        map.hdr.seen_messages_count = 0;
        let fixed = fsck_map(&mut map);
        assert!(!fixed.is_empty());
        assert_eq!(map.hdr.messages_count, 2);
        assert_eq!(map.hdr.next_uid, 4);
        assert_eq!(map.hdr.seen_messages_count, 1);
        assert_eq!(map.hdr.deleted_messages_count, 1);
        assert_eq!(map.hdr.first_unseen_uid_lowwater, 1);
        assert!(map.check_header().is_ok());
    }
}
