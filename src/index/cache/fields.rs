//! The cache fields a process knows (mail-cache-fields.c): fields
//! registered by name with their type, size and caching decision, the
//! mapping between those registration numbers and each cache file's own
//! field numbers, and the field header written to the file.
//!
//! Registration numbers ([`FieldIdx`]) stay valid for the life of a
//! [`super::Cache`]; file field numbers change with every purge.

use std::collections::HashMap;

use super::decisions::{DropCtx, DropDecision};
use crate::index::format::cache::{Decision, FieldDef, FieldHeader, FieldType};

/// A field's registration number (`mail_cache_field.idx`).
pub type FieldIdx = usize;

/// A cache field as registered (`struct mail_cache_field`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheField {
    /// Unique name, compared without case (e.g. `hdr.Subject`).
    pub name: String,
    pub field_type: FieldType,
    /// The value size of fixed-size types; `u32::MAX` for the others.
    pub size: u32,
    pub decision: Decision,
    /// UNIX time the field was last read on purpose (by a client).
    pub last_used: u32,
}

impl CacheField {
    /// A field with no caching decision yet.
    pub fn new(name: &str, field_type: FieldType, size: u32) -> Self {
        CacheField {
            name: name.to_string(),
            field_type,
            size,
            decision: Decision(Decision::NO),
            last_used: 0,
        }
    }

    /// The field with `decision` (a `Decision::*` value, maybe forced).
    pub fn with_decision(mut self, decision: u8) -> Self {
        self.decision = Decision(decision);
        self
    }

    /// The size every value has, or `None` for variable-size fields.
    pub fn fixed_size(&self) -> Option<u32> {
        (self.size != u32::MAX).then_some(self.size)
    }
}

/// `struct mail_cache_field_private`: the field and its session state.
#[derive(Debug, Clone)]
pub(super) struct Registered {
    pub field: CacheField,
    /// Highest UID whose value of this field was looked up this session.
    pub uid_highwater: u32,
    /// Wanted in the cache file (present in it, or added this session).
    pub used: bool,
    /// The decision or last_used changed here and must reach the file.
    pub decision_dirty: bool,
}

/// The registered fields and their mapping to the open file's fields.
#[derive(Debug, Default)]
pub struct FieldRegistry {
    pub(super) fields: Vec<Registered>,
    by_name: HashMap<String, FieldIdx>,
    /// Registration number -> file field number.
    pub(super) field_file_map: Vec<Option<u32>>,
    /// File field number -> registration number.
    pub(super) file_field_map: Vec<FieldIdx>,
    /// Some decision or last_used must be written to the field header.
    pub(super) write_pending: bool,
    /// A registration whose type or size differs from the field's
    /// (Dovecot then treats the cache as corrupted).
    pub(super) mismatch: Option<String>,
}

impl FieldRegistry {
    /// `mail_cache_register_lookup()`.
    pub fn lookup(&self, name: &str) -> Option<FieldIdx> {
        self.by_name.get(&name.to_ascii_lowercase()).copied()
    }

    /// `mail_cache_register_get_field()`.
    pub fn get(&self, idx: FieldIdx) -> Option<&CacheField> {
        self.fields.get(idx).map(|r| &r.field)
    }

    /// All registered fields, in registration order.
    pub fn list(&self) -> impl Iterator<Item = &CacheField> {
        self.fields.iter().map(|r| &r.field)
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The open file's number for `idx`, if the file has the field.
    pub fn file_index(&self, idx: FieldIdx) -> Option<u32> {
        self.field_file_map.get(idx).copied().flatten()
    }

    /// `mail_cache_register_fields()`: register `new` fields (names
    /// compared without case) and return their numbers. A known field
    /// takes a forced decision, or a higher one unless its own is
    /// forced, and a newer last_used.
    pub fn register(&mut self, new: &[CacheField]) -> Vec<FieldIdx> {
        let initial = self.file_field_map.is_empty();
        let mut out = Vec::with_capacity(new.len());
        for field in new {
            let key = field.name.to_ascii_lowercase();
            let idx = match self.by_name.get(&key) {
                Some(&idx) => {
                    self.update(idx, field, initial);
                    idx
                }
                None => self.insert(key, field),
            };
            out.push(idx);
        }
        out
    }

    fn insert(&mut self, key: String, field: &CacheField) -> FieldIdx {
        let mut field = field.clone();
        if !field.field_type.is_fixed_size() {
            field.size = u32::MAX;
        }
        let idx = self.fields.len();
        self.fields.push(Registered {
            field,
            uid_highwater: 0,
            used: false,
            decision_dirty: false,
        });
        self.field_file_map.push(None);
        self.by_name.insert(key, idx);
        idx
    }

    /// `mail_cache_field_update()`.
    fn update(&mut self, idx: FieldIdx, new: &CacheField, initial: bool) {
        let orig = &mut self.fields[idx];
        let takes = new.decision.is_forced()
            || (!orig.field.decision.is_forced() && new.decision.0 > orig.field.decision.0);
        if takes {
            orig.field.decision = new.decision;
            orig.decision_dirty |= !initial;
        }
        if orig.field.last_used < new.last_used {
            orig.field.last_used = new.last_used;
            orig.decision_dirty |= !initial;
        }
        self.write_pending |= orig.decision_dirty;
        if let Err(reason) = self.verify_type(idx, new.field_type, new.size) {
            self.mismatch = Some(reason);
        }
    }

    /// `field_type_verify()`: a field keeps its type and fixed size.
    fn verify_type(&self, idx: FieldIdx, field_type: FieldType, size: u32) -> Result<(), String> {
        let field = &self.fields[idx].field;
        if field.field_type != field_type {
            return Err(format!("registered field {} type changed", field.name));
        }
        if field.size != size && field_type.is_fixed_size() {
            return Err(format!("registered field {} size changed", field.name));
        }
        Ok(())
    }

    /// `mail_cache_header_fields_read()` after the header was decoded:
    /// map the file's fields to ours (registering unknown ones), take
    /// the file's decisions unless ours are forced or newer, and return
    /// the purges the fields' ages ask for. `Err` is a corruption.
    pub(super) fn read_file_fields(
        &mut self,
        defs: &[FieldDef],
        drop: &DropCtx,
    ) -> Result<Vec<String>, String> {
        self.field_file_map.iter_mut().for_each(|m| *m = None);
        self.file_field_map.clear();
        let mut purge_reasons = Vec::new();

        for (i, def) in defs.iter().enumerate() {
            let idx = self.map_file_field(def)?;
            if self.field_file_map[idx].is_some() {
                let name = def.name_str();
                return Err(format!("Duplicated field in header: {name}"));
            }
            let reg = &mut self.fields[idx];
            reg.used = true;
            reg.field.last_used = reg.field.last_used.max(def.last_used);
            self.field_file_map[idx] = Some(i as u32);
            self.file_field_map.push(idx);
            if let Some(reason) = drop_reason(&reg.field, drop) {
                purge_reasons.push(reason);
            }
        }
        Ok(purge_reasons)
    }

    /// The registration of one field of the file.
    fn map_file_field(&mut self, def: &FieldDef) -> Result<FieldIdx, String> {
        let name = String::from_utf8_lossy(&def.name).into_owned();
        let file_dec = Decision(def.decision.kind());
        let Some(idx) = self.lookup(&name) else {
            let field = CacheField {
                name,
                field_type: def.field_type,
                size: def.size,
                decision: file_dec,
                last_used: 0,
            };
            return Ok(self.register(&[field])[0]);
        };

        let reg = &mut self.fields[idx];
        if reg.field.decision.is_forced() {
            self.write_pending |= reg.field.decision.kind() != file_dec.0;
        } else if !reg.decision_dirty {
            reg.field.decision = file_dec;
        }
        self.verify_type(idx, def.field_type, def.size)?;
        Ok(idx)
    }

    /// Fields used here that the file does not have yet
    /// (`CACHE_FIELD_IS_NEWLY_WANTED`).
    fn newly_wanted(&self) -> impl Iterator<Item = FieldIdx> + '_ {
        (0..self.fields.len()).filter(|&i| self.field_file_map[i].is_none() && self.fields[i].used)
    }

    /// `mail_cache_header_fields_get()`: the field header for the file,
    /// its fields in file order, then the newly wanted ones.
    pub(super) fn header(&self) -> FieldHeader {
        let order: Vec<FieldIdx> = self
            .file_field_map
            .iter()
            .copied()
            .chain(self.newly_wanted())
            .collect();
        let fields: Vec<FieldDef> = order.iter().map(|&i| self.def(i)).collect();
        let names: usize = fields.iter().map(|f| f.name.len() + 1).sum();
        let size = 12 + 10 * fields.len() + names;
        FieldHeader {
            next_offset: 0,
            size: size as u32,
            fields,
            trailing: vec![0; size.next_multiple_of(4) - size],
        }
    }

    /// One field as the field header stores it.
    pub(super) fn def(&self, idx: FieldIdx) -> FieldDef {
        let f = &self.fields[idx].field;
        FieldDef {
            name: f.name.as_bytes().to_vec(),
            field_type: f.field_type,
            size: f.size,
            decision: f.decision,
            last_used: f.last_used,
        }
    }

    /// Forget the dirty marks once the file has the values.
    pub(super) fn written(&mut self) {
        self.write_pending = false;
        for reg in &mut self.fields {
            reg.decision_dirty = false;
        }
    }
}

/// The purge a field's age asks for, as Dovecot words it.
fn drop_reason(field: &CacheField, drop: &DropCtx) -> Option<String> {
    let (name, last_used) = (&field.name, field.last_used);
    match drop.test(field) {
        DropDecision::None => None,
        DropDecision::Drop => Some(format!("Drop old field {name} (last_used={last_used})")),
        DropDecision::ToTemp => Some(format!(
            "Change cache decision to temp for old field {name} (last_used={last_used})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, dec: u8) -> CacheField {
        CacheField::new(name, FieldType::String, 0).with_decision(dec)
    }

    #[test]
    fn names_are_case_insensitive_and_sizes_normalised() {
        let mut reg = FieldRegistry::default();
        let ids = reg.register(&[field("hdr.Subject", 0), field("imap.envelope", 0)]);
        assert_eq!(ids, vec![0, 1]);
        assert_eq!(reg.lookup("HDR.SUBJECT"), Some(0));
        assert_eq!(reg.get(1).unwrap().size, u32::MAX);
        assert_eq!(reg.register(&[field("hdr.subject", 0)]), vec![0]);
    }

    #[test]
    fn forced_decisions_win_and_stay() {
        let mut reg = FieldRegistry::default();
        reg.register(&[field("a", Decision::YES | Decision::FORCED)]);
        reg.register(&[field("a", Decision::TEMP)]);
        assert_eq!(
            reg.get(0).unwrap().decision.0,
            Decision::YES | Decision::FORCED
        );
        reg.register(&[field("a", Decision::NO | Decision::FORCED)]);
        assert_eq!(reg.get(0).unwrap().decision.0, Decision::FORCED);
    }

    #[test]
    fn type_changes_are_mismatches() {
        let mut reg = FieldRegistry::default();
        reg.register(&[field("a", 0)]);
        reg.register(&[CacheField::new("a", FieldType::Header, 0)]);
        assert_eq!(
            reg.mismatch.as_deref(),
            Some("registered field a type changed")
        );
    }
}
