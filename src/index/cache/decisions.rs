//! Caching decisions (mail-cache-decisions.c, and the drop rules of
//! mail-cache-purge.c).
//!
//! A field is cached not at all (no), for new messages only (temp), or
//! for all messages (yes); a forced decision never changes. A field is
//! added as temp the first time something caches it; temp becomes yes
//! when a client reads the field of an old message, or reads messages
//! out of UID order; last_used records when the decision was last
//! confirmed. At purge, a yes field unread for
//! `unaccessed_field_drop_secs` falls back to temp, and any field unread
//! for twice that is dropped.

use super::CacheSettings;
use super::fields::{CacheField, FieldIdx, FieldRegistry};
use crate::index::format::cache::Decision;

/// What a purge does with a field (`enum mail_cache_purge_drop_decision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropDecision {
    None,
    Drop,
    ToTemp,
}

/// The cut-off times of a purge (`struct mail_cache_purge_drop_ctx`).
#[derive(Debug, Clone, Copy, Default)]
pub struct DropCtx {
    max_yes_downgrade_time: i64,
    max_temp_drop_time: i64,
}

impl DropCtx {
    /// `mail_cache_purge_drop_init()`: relative to the index header's
    /// `day_stamp`; an index without one drops nothing.
    pub fn new(day_stamp: u32, set: &CacheSettings) -> Self {
        if day_stamp == 0 {
            return DropCtx::default();
        }
        let drop_secs = i64::from(set.unaccessed_field_drop_secs);
        DropCtx {
            max_yes_downgrade_time: i64::from(day_stamp) - drop_secs,
            max_temp_drop_time: i64::from(day_stamp) - 2 * drop_secs,
        }
    }

    /// `mail_cache_purge_drop_test()`.
    pub fn test(&self, field: &CacheField) -> DropDecision {
        let dec = field.decision;
        let last_used = i64::from(field.last_used);
        if dec.is_forced() {
            return DropDecision::None;
        }
        if dec.0 != Decision::NO && last_used < self.max_temp_drop_time {
            return DropDecision::Drop;
        }
        if dec.0 == Decision::YES && last_used < self.max_yes_downgrade_time {
            return DropDecision::ToTemp;
        }
        DropDecision::None
    }
}

/// One day: last_used is not rewritten more often.
const LAST_USED_INTERVAL: i64 = 3600 * 24;

impl FieldRegistry {
    fn touch_last_used(&mut self, idx: FieldIdx, now: u32) {
        self.fields[idx].field.last_used = now;
        if self.field_file_map[idx].is_some() {
            self.write_pending = true;
        }
    }

    /// `mail_cache_decision_state_update()`: field `idx` was looked up
    /// for the message `uid`; `first_new_uid` is the index header's
    /// `day_first_uid[7]` (messages below it are a week old).
    pub fn decision_state_update(&mut self, idx: FieldIdx, uid: u32, first_new_uid: u32, now: u32) {
        let Some(reg) = self.fields.get(idx) else {
            return;
        };
        let dec = reg.field.decision;
        if dec.0 == Decision::NO | Decision::FORCED {
            return;
        }
        let stale = i64::from(now) - i64::from(reg.field.last_used) > LAST_USED_INTERVAL;

        if dec.0 == Decision::NO || dec.is_forced() {
            if stale {
                self.touch_last_used(idx, now);
            }
            return;
        }
        if dec.0 == Decision::YES && !stale {
            return;
        }
        if dec.0 == Decision::TEMP && stale {
            self.touch_last_used(idx, now);
        }
        self.confirm_or_promote(idx, uid, first_new_uid, now);
    }

    /// The ordering rule: ascending access to new messages keeps temp;
    /// anything else confirms yes or promotes temp to yes.
    fn confirm_or_promote(&mut self, idx: FieldIdx, uid: u32, first_new_uid: u32, now: u32) {
        let reg = &mut self.fields[idx];
        if uid >= reg.uid_highwater && uid >= first_new_uid {
            reg.uid_highwater = uid;
            return;
        }
        if reg.field.decision.0 == Decision::YES {
            self.touch_last_used(idx, now);
            return;
        }
        reg.field.decision = Decision(Decision::YES);
        reg.decision_dirty = true;
        self.write_pending = true;
        let why = if uid < first_new_uid {
            "old_mail"
        } else {
            "unordered_access"
        };
        log::debug!(
            "Changing field {} decision temp -> yes (uid={uid}, {why})",
            reg.field.name
        );
    }

    /// `mail_cache_decision_add()`: field `idx` is being cached for the
    /// message `uid`. The first time, a "no" becomes temp.
    pub fn decision_add(&mut self, idx: FieldIdx, uid: u32, now: u32) {
        let Some(reg) = self.fields.get_mut(idx) else {
            return;
        };
        if reg.field.decision.0 != Decision::NO && reg.field.last_used != 0 {
            return;
        }
        if reg.field.decision.0 == Decision::NO {
            reg.field.decision = Decision(Decision::TEMP);
        }
        reg.field.last_used = now;
        reg.decision_dirty = true;
        reg.uid_highwater = uid;
        self.write_pending = true;
        log::debug!(
            "Adding field {} to cache for the first time (uid={uid})",
            reg.field.name
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::format::cache::FieldType;

    const NOW: u32 = 1_700_000_000;

    fn registry(dec: u8, last_used: u32) -> FieldRegistry {
        let mut reg = FieldRegistry::default();
        let mut f = CacheField::new("imap.envelope", FieldType::String, 0).with_decision(dec);
        f.last_used = last_used;
        reg.register(&[f]);
        reg
    }

    #[test]
    fn first_add_makes_temp() {
        let mut reg = registry(Decision::NO, 0);
        reg.decision_add(0, 5, NOW);
        let f = reg.get(0).unwrap();
        assert_eq!((f.decision.0, f.last_used), (Decision::TEMP, NOW));
        assert!(reg.write_pending);
    }

    #[test]
    fn temp_becomes_yes_on_old_or_unordered_access() {
        let mut reg = registry(Decision::TEMP, NOW);
        reg.decision_state_update(0, 10, 5, NOW);
        reg.decision_state_update(0, 11, 5, NOW);
        assert_eq!(reg.get(0).unwrap().decision.0, Decision::TEMP);
        reg.decision_state_update(0, 7, 5, NOW);
        assert_eq!(reg.get(0).unwrap().decision.0, Decision::YES);

        let mut reg = registry(Decision::TEMP, NOW);
        reg.decision_state_update(0, 3, 5, NOW);
        assert_eq!(reg.get(0).unwrap().decision.0, Decision::YES);
    }

    #[test]
    fn forced_no_is_left_alone() {
        let mut reg = registry(Decision::NO | Decision::FORCED, 0);
        reg.decision_state_update(0, 1, 5, NOW);
        assert_eq!(reg.get(0).unwrap().last_used, 0);
    }

    #[test]
    fn purge_drops_by_age() {
        let set = CacheSettings::default();
        let day = 3600 * 24;
        let ctx = DropCtx::new(NOW, &set);
        let field = |dec: u8, age: u32| {
            let mut f = CacheField::new("x", FieldType::String, 0).with_decision(dec);
            f.last_used = NOW - age;
            f
        };
        assert_eq!(ctx.test(&field(Decision::YES, day)), DropDecision::None);
        assert_eq!(
            ctx.test(&field(Decision::YES, 31 * day)),
            DropDecision::ToTemp
        );
        assert_eq!(
            ctx.test(&field(Decision::TEMP, 61 * day)),
            DropDecision::Drop
        );
        let forced = Decision::YES | Decision::FORCED;
        assert_eq!(ctx.test(&field(forced, 61 * day)), DropDecision::None);
        assert_eq!(
            DropCtx::new(0, &set).test(&field(2, NOW)),
            DropDecision::None
        );
    }
}
