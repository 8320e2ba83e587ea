//! Moving a view forward to the index's head (mail-index-view-sync.c):
//! what changed between the view's log position and the head, reported
//! in Dovecot's order: the expunged UID ranges first, then flag and
//! keyword changes (and modseq-only changes) in log order. Appends show
//! as a higher message count.
//!
//! With [`ViewSyncFlags::NOEXPUNGES`] the expunged messages stay in the
//! view (their UIDs are remembered as pending), and no later change in
//! the log reaches them: a message expunged elsewhere never receives
//! flag updates here.
//!
//! TODO(view-sync-hidden): changes of `HIDE` transactions are reported
//! like any other.
//! TODO(view-sync-lost-log): a view whose log position was rotated away
//! more than once is reset to the head map, with every message reported
//! changed, where Dovecot reads `.log.2` and may do better.

use std::sync::Arc;

use super::format::log::{LogRecord, RecordBody, UidRange};
use super::mail_index::{Index, IndexError, apply_records, records_between};
use super::view::View;

bitflags::bitflags! {
    /// `enum mail_index_view_sync_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct ViewSyncFlags: u32 {
        const NOEXPUNGES = 0x01;
        const FIX_INCONSISTENT = 0x02;
        const SECOND_INDEX = 0x04;
    }
}

/// `enum mail_index_view_sync_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewSyncType {
    /// Flags or keywords changed.
    Flags,
    /// Only the modseq changed.
    Modseq,
}

/// `struct mail_index_view_sync_rec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewSyncRec {
    pub uid1: u32,
    pub uid2: u32,
    pub kind: ViewSyncType,
}

/// What a view sync found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViewSyncResult {
    /// UIDs expunged (already removed from the view unless NOEXPUNGES).
    pub expunges: Vec<UidRange>,
    /// Changes to messages still in the view, in log order.
    pub changes: Vec<ViewSyncRec>,
    /// Messages before and after the sync.
    pub old_messages_count: u32,
    pub new_messages_count: u32,
    /// The view's position could not be followed in the log: the view
    /// was reset to the head.
    pub inconsistent: bool,
}

/// A set of UIDs as sorted, disjoint, non-adjacent ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UidSet {
    ranges: Vec<(u32, u32)>,
}

impl UidSet {
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn contains(&self, uid: u32) -> bool {
        let i = self.ranges.partition_point(|r| r.1 < uid);
        self.ranges.get(i).is_some_and(|r| r.0 <= uid)
    }

    pub fn add(&mut self, uid1: u32, uid2: u32) {
        let (mut lo, mut hi) = (uid1, uid2);
        let start = self.ranges.partition_point(|r| r.1.saturating_add(1) < lo);
        let mut end = start;
        while end < self.ranges.len() && self.ranges[end].0 <= hi.saturating_add(1) {
            lo = lo.min(self.ranges[end].0);
            hi = hi.max(self.ranges[end].1);
            end += 1;
        }
        self.ranges.splice(start..end, [(lo, hi)]);
    }

    /// The parts of `uid1..=uid2` not in the set.
    pub fn subtract(&self, uid1: u32, uid2: u32) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        let mut next = uid1;
        let start = self.ranges.partition_point(|r| r.1 < uid1);
        for &(a, b) in &self.ranges[start..] {
            if a > uid2 {
                break;
            }
            if a > next {
                out.push((next, a - 1));
            }
            next = b.saturating_add(1);
            if b >= uid2 {
                return out;
            }
        }
        if next <= uid2 {
            out.push((next, uid2));
        }
        out
    }

    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges
    }
}

impl Index {
    /// mail_index_view_sync_begin/next/end in one call: refresh the
    /// index, then move `view` to the head and say what changed.
    pub fn view_sync(
        &mut self,
        view: &mut View,
        flags: ViewSyncFlags,
    ) -> Result<ViewSyncResult, IndexError> {
        self.refresh()?;
        let log = self.log.as_ref().expect("refresh needs the log");
        let mut result = ViewSyncResult {
            old_messages_count: view.messages_count(),
            ..Default::default()
        };
        let records = records_between(log, view.log_file_head_seq, view.log_file_head_offset);
        let Some(records) = records else {
            result.inconsistent = true;
            result.changes = all_changed(view);
            *view = View::of_map(self.map.clone());
            result.new_messages_count = view.messages_count();
            return Ok(result);
        };

        let mut expunged = view.pending_expunges.clone();
        collect_changes(&records, &mut expunged, &mut result);
        if flags.contains(ViewSyncFlags::NOEXPUNGES) && !expunged.is_empty() {
            let kept = records_without_expunged(&records, &expunged);
            let mut map = (*view.map).clone();
            let mut registry = self.registry.clone();
            apply_records(&mut map, &mut registry, &kept, &mut Vec::new());
            map.hdr = self.map.hdr.clone();
            map.hdr.messages_count = map.records.len() as u32;
            view.map = Arc::new(map);
            view.pending_expunges = expunged;
        } else {
            view.map = self.map.clone();
            view.pending_expunges = UidSet::default();
        }
        view.log_file_head_seq = self.map.hdr.log_file_seq;
        view.log_file_head_offset = self.map.hdr.log_file_head_offset;
        result.new_messages_count = view.messages_count();
        Ok(result)
    }
}

/// Expunges first, then the other changes in log order, leaving out
/// UIDs that are expunged.
fn collect_changes(records: &[LogRecord], expunged: &mut UidSet, out: &mut ViewSyncResult) {
    let before = expunged.clone();
    for rec in records.iter().filter(|r| r.is_external()) {
        match &rec.body {
            RecordBody::Expunge(ranges) => ranges.iter().for_each(|r| expunged.add(r.uid1, r.uid2)),
            RecordBody::ExpungeGuid(recs) => recs.iter().for_each(|r| expunged.add(r.uid, r.uid)),
            _ => {}
        }
    }
    for &(uid1, uid2) in expunged.ranges() {
        for (a, b) in before.subtract(uid1, uid2) {
            out.expunges.push(UidRange { uid1: a, uid2: b });
        }
    }

    for rec in records {
        for (uid1, uid2, kind) in changed_ranges(rec) {
            for (a, b) in expunged.subtract(uid1, uid2) {
                out.changes.push(ViewSyncRec {
                    uid1: a,
                    uid2: b,
                    kind,
                });
            }
        }
    }
}

/// The UID ranges a record changes flags, keywords or modseqs of.
fn changed_ranges(rec: &LogRecord) -> Vec<(u32, u32, ViewSyncType)> {
    match &rec.body {
        RecordBody::FlagUpdate(updates) => updates
            .iter()
            .map(|u| {
                let kind = if (u.add_flags | u.remove_flags) == 0 {
                    ViewSyncType::Modseq
                } else {
                    ViewSyncType::Flags
                };
                (u.uids.uid1, u.uids.uid2, kind)
            })
            .collect(),
        RecordBody::KeywordUpdate(k) => k
            .uids
            .iter()
            .map(|r| (r.uid1, r.uid2, ViewSyncType::Flags))
            .collect(),
        RecordBody::KeywordReset(ranges) => ranges
            .iter()
            .map(|r| (r.uid1, r.uid2, ViewSyncType::Flags))
            .collect(),
        RecordBody::ModseqUpdate(updates) => updates
            .iter()
            .map(|u| (u.uid, u.uid, ViewSyncType::Modseq))
            .collect(),
        _ => Vec::new(),
    }
}

/// The records with every expunge dropped and every change limited to
/// UIDs not in `expunged`.
fn records_without_expunged(records: &[LogRecord], expunged: &UidSet) -> Vec<LogRecord> {
    let keep = |r: &UidRange| -> Vec<UidRange> {
        expunged
            .subtract(r.uid1, r.uid2)
            .into_iter()
            .map(|(uid1, uid2)| UidRange { uid1, uid2 })
            .collect()
    };
    let mut out = Vec::with_capacity(records.len());
    for rec in records {
        let mut rec = rec.clone();
        match &mut rec.body {
            RecordBody::Expunge(_) | RecordBody::ExpungeGuid(_) => continue,
            RecordBody::FlagUpdate(updates) => {
                *updates = updates
                    .iter()
                    .flat_map(|u| {
                        keep(&u.uids).into_iter().map(move |uids| {
                            let mut u = *u;
                            u.uids = uids;
                            u
                        })
                    })
                    .collect();
            }
            RecordBody::KeywordUpdate(k) => k.uids = k.uids.iter().flat_map(keep).collect(),
            RecordBody::KeywordReset(ranges) => {
                *ranges = ranges.iter().flat_map(keep).collect();
            }
            RecordBody::ExtRecUpdate { updates, .. } => {
                updates.retain(|u| !expunged.contains(u.uid));
            }
            RecordBody::ExtAtomicInc(incs) => incs.retain(|u| !expunged.contains(u.uid)),
            RecordBody::ModseqUpdate(updates) => updates.retain(|u| !expunged.contains(u.uid)),
            _ => {}
        }
        out.push(rec);
    }
    out
}

fn all_changed(view: &View) -> Vec<ViewSyncRec> {
    let (Some(first), Some(last)) = (view.uid(1), view.uid(view.messages_count())) else {
        return Vec::new();
    };
    vec![ViewSyncRec {
        uid1: first,
        uid2: last,
        kind: ViewSyncType::Flags,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_merge_and_subtract() {
        let mut set = UidSet::default();
        set.add(5, 6);
        set.add(1, 2);
        set.add(3, 4);
        set.add(10, 10);
        assert_eq!(set.ranges(), [(1, 6), (10, 10)]);
        assert!(set.contains(4) && !set.contains(7));
        assert_eq!(set.subtract(0, 12), [(0, 0), (7, 9), (11, 12)]);
        assert_eq!(set.subtract(2, 5), []);
    }
}
