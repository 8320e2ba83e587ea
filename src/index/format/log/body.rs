//! Typed record payloads: the structs after each
//! `struct mail_transaction_header` (mail-transaction-log.h), decoded
//! with the layout rules of mail-transaction-log-view.c and
//! mail-index-sync-update.c.
//!
//! Padding bytes are read without being looked at and written as zeros,
//! as Dovecot writes them.

use crate::index::format::{Bytes, FormatError, PutNe, Result};

/// `MAIL_TRANSACTION_EXPUNGE`.
pub const TYPE_EXPUNGE: u32 = 0x0000_0001;
/// `MAIL_TRANSACTION_APPEND`.
pub const TYPE_APPEND: u32 = 0x0000_0002;
/// `MAIL_TRANSACTION_FLAG_UPDATE`.
pub const TYPE_FLAG_UPDATE: u32 = 0x0000_0004;
/// `MAIL_TRANSACTION_HEADER_UPDATE`.
pub const TYPE_HEADER_UPDATE: u32 = 0x0000_0020;
/// `MAIL_TRANSACTION_EXT_INTRO`.
pub const TYPE_EXT_INTRO: u32 = 0x0000_0040;
/// `MAIL_TRANSACTION_EXT_RESET`.
pub const TYPE_EXT_RESET: u32 = 0x0000_0080;
/// `MAIL_TRANSACTION_EXT_HDR_UPDATE`.
pub const TYPE_EXT_HDR_UPDATE: u32 = 0x0000_0100;
/// `MAIL_TRANSACTION_EXT_REC_UPDATE`.
pub const TYPE_EXT_REC_UPDATE: u32 = 0x0000_0200;
/// `MAIL_TRANSACTION_KEYWORD_UPDATE`.
pub const TYPE_KEYWORD_UPDATE: u32 = 0x0000_0400;
/// `MAIL_TRANSACTION_KEYWORD_RESET`.
pub const TYPE_KEYWORD_RESET: u32 = 0x0000_0800;
/// `MAIL_TRANSACTION_EXT_ATOMIC_INC`.
pub const TYPE_EXT_ATOMIC_INC: u32 = 0x0000_1000;
/// `MAIL_TRANSACTION_EXPUNGE_GUID`.
pub const TYPE_EXPUNGE_GUID: u32 = 0x0000_2000;
/// `MAIL_TRANSACTION_MODSEQ_UPDATE`.
pub const TYPE_MODSEQ_UPDATE: u32 = 0x0000_8000;
/// `MAIL_TRANSACTION_EXT_HDR_UPDATE32`.
pub const TYPE_EXT_HDR_UPDATE32: u32 = 0x0001_0000;
/// `MAIL_TRANSACTION_INDEX_DELETED`.
pub const TYPE_INDEX_DELETED: u32 = 0x0002_0000;
/// `MAIL_TRANSACTION_INDEX_UNDELETED`.
pub const TYPE_INDEX_UNDELETED: u32 = 0x0004_0000;
/// `MAIL_TRANSACTION_BOUNDARY`.
pub const TYPE_BOUNDARY: u32 = 0x0008_0000;
/// `MAIL_TRANSACTION_ATTRIBUTE_UPDATE`.
pub const TYPE_ATTRIBUTE_UPDATE: u32 = 0x0010_0000;
/// `MAIL_TRANSACTION_TYPE_MASK`: the type without the flag bits.
pub const TYPE_MASK: u32 = 0x0fff_ffff;
/// `MAIL_TRANSACTION_EXPUNGE_PROT`: ORed into both expunge types; an
/// expunge without it is taken for corruption.
pub const EXPUNGE_PROT: u32 = 0x0000_cd90;

/// `MAIL_INDEX_MODSEQ_EXT_NAME`: the extension whose introduction starts
/// modseq tracking in a log that had none.
pub const MODSEQ_EXT_NAME: &[u8] = b"modseq";

/// `MAIL_INDEX_FLAGS_MASK`: the flags a client sees (answered, flagged,
/// deleted, seen, draft); the others are internal.
pub const CLIENT_FLAGS_MASK: u8 = 0x1f;

/// The type codes (flag bits removed) this version decodes.
pub const KNOWN_TYPES: [u32; 18] = [
    TYPE_EXPUNGE | EXPUNGE_PROT,
    TYPE_EXPUNGE_GUID | EXPUNGE_PROT,
    TYPE_APPEND,
    TYPE_FLAG_UPDATE,
    TYPE_HEADER_UPDATE,
    TYPE_EXT_INTRO,
    TYPE_EXT_RESET,
    TYPE_EXT_HDR_UPDATE,
    TYPE_EXT_HDR_UPDATE32,
    TYPE_EXT_REC_UPDATE,
    TYPE_EXT_ATOMIC_INC,
    TYPE_KEYWORD_UPDATE,
    TYPE_KEYWORD_RESET,
    TYPE_MODSEQ_UPDATE,
    TYPE_INDEX_DELETED,
    TYPE_INDEX_UNDELETED,
    TYPE_BOUNDARY,
    TYPE_ATTRIBUTE_UPDATE,
];

/// `sizeof(struct mail_transaction_ext_intro)` without the name.
const EXT_INTRO_SIZE: usize = 20;

/// An inclusive range of UIDs, `{ uint32_t uid1, uid2; }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UidRange {
    pub uid1: u32,
    pub uid2: u32,
}

/// `struct mail_transaction_expunge_guid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpungeGuid {
    pub uid: u32,
    pub guid_128: [u8; 16],
}

/// `struct mail_index_record` as appended: the UID and its flags (enum
/// mail_flags | enum mail_index_mail_flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendRecord {
    pub uid: u32,
    pub flags: u8,
}

/// `struct mail_transaction_flag_update`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagUpdate {
    pub uids: UidRange,
    pub add_flags: u8,
    pub remove_flags: u8,
    /// Non-zero when the modseq was raised without a flag change.
    pub modseq_inc_flag: u8,
}

impl FlagUpdate {
    /// `MAIL_TRANSACTION_FLAG_UPDATE_IS_INTERNAL()`: touches no flag a
    /// client sees and does not force a modseq change.
    pub fn is_internal(&self) -> bool {
        (self.add_flags | self.remove_flags) & CLIENT_FLAGS_MASK == 0 && self.modseq_inc_flag == 0
    }
}

/// `struct mail_transaction_header_update` or
/// `struct mail_transaction_ext_hdr_update(32)`: bytes to write at an
/// offset of the (extension) header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderUpdate {
    pub offset: u32,
    pub data: Vec<u8>,
}

/// `struct mail_transaction_ext_intro` with its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtIntro {
    /// The extension's index in the index file, or `u32::MAX` for a new
    /// extension named by `name`.
    pub ext_id: u32,
    pub reset_id: u32,
    pub hdr_size: u32,
    pub record_size: u16,
    pub record_align: u16,
    /// `MAIL_TRANSACTION_EXT_INTRO_FLAG_*`.
    pub flags: u16,
    pub name: Vec<u8>,
}

/// `MAIL_TRANSACTION_EXT_INTRO_FLAG_NO_SHRINK`.
pub const EXT_INTRO_FLAG_NO_SHRINK: u16 = 0x01;

/// `struct mail_transaction_ext_reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtReset {
    pub new_reset_id: u32,
    /// `None` for the old four-byte record that had only the reset id.
    pub preserve_data: Option<u8>,
}

/// One `struct mail_transaction_ext_rec_update` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtRecUpdate {
    pub uid: u32,
    /// The extension record: as many bytes as the `record_size` of the
    /// extension introduced last.
    pub data: Vec<u8>,
}

/// `struct mail_transaction_ext_atomic_inc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtAtomicInc {
    pub uid: u32,
    pub diff: i32,
}

/// `enum modify_type` of a keyword update (mail-index.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeywordModify {
    /// `MODIFY_ADD`.
    Add,
    /// `MODIFY_REMOVE`.
    Remove,
    /// Any other value, kept as written (`MODIFY_REPLACE` is never
    /// written to the log).
    Other(u8),
}

impl KeywordModify {
    pub fn from_u8(v: u8) -> Self {
        match v {
            0 => KeywordModify::Add,
            1 => KeywordModify::Remove,
            v => KeywordModify::Other(v),
        }
    }

    pub fn to_u8(self) -> u8 {
        match self {
            KeywordModify::Add => 0,
            KeywordModify::Remove => 1,
            KeywordModify::Other(v) => v,
        }
    }
}

/// `struct mail_transaction_keyword_update` with its name and UIDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordUpdate {
    pub modify: KeywordModify,
    pub name: Vec<u8>,
    pub uids: Vec<UidRange>,
}

/// `struct mail_transaction_modseq_update`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModseqUpdate {
    pub uid: u32,
    pub modseq: u64,
}

/// One change of a mailbox attribute update record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeChange {
    /// `+`: set; `-`: unset.
    pub set: bool,
    /// `p`: private; `s`: shared.
    pub private: bool,
    pub key: Vec<u8>,
    pub timestamp: u32,
    /// The value's length, for a set.
    pub value_len: Option<u32>,
}

/// A record's payload, by type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordBody {
    Expunge(Vec<UidRange>),
    ExpungeGuid(Vec<ExpungeGuid>),
    Append(Vec<AppendRecord>),
    FlagUpdate(Vec<FlagUpdate>),
    HeaderUpdate(Vec<HeaderUpdate>),
    /// Usually one introduction; Dovecot reads several if written.
    ExtIntro(Vec<ExtIntro>),
    ExtReset(ExtReset),
    ExtHdrUpdate(Vec<HeaderUpdate>),
    ExtHdrUpdate32(Vec<HeaderUpdate>),
    /// Updates of the extension introduced last; `record_size` is that
    /// introduction's, which sets how the payload is cut.
    ExtRecUpdate {
        record_size: u16,
        updates: Vec<ExtRecUpdate>,
    },
    ExtAtomicInc(Vec<ExtAtomicInc>),
    KeywordUpdate(KeywordUpdate),
    KeywordReset(Vec<UidRange>),
    ModseqUpdate(Vec<ModseqUpdate>),
    IndexDeleted,
    IndexUndeleted,
    /// Size of the whole transaction this record starts.
    Boundary(u32),
    AttributeUpdate(Vec<AttributeChange>),
    /// A type this version does not know, carried through untouched.
    /// `type_code` is the type without the flag bits.
    Unknown {
        type_code: u32,
        payload: Vec<u8>,
    },
}

/// What a payload's decoding depends on outside the record itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BodyContext {
    /// `record_size` of the last extension introduction before this
    /// record, if any.
    pub ext_record_size: Option<u16>,
}

impl RecordBody {
    /// The type code without flag bits (expunges with their protection
    /// bits), as it goes into the record header.
    pub fn type_code(&self) -> u32 {
        match self {
            RecordBody::Expunge(_) => TYPE_EXPUNGE | EXPUNGE_PROT,
            RecordBody::ExpungeGuid(_) => TYPE_EXPUNGE_GUID | EXPUNGE_PROT,
            RecordBody::Append(_) => TYPE_APPEND,
            RecordBody::FlagUpdate(_) => TYPE_FLAG_UPDATE,
            RecordBody::HeaderUpdate(_) => TYPE_HEADER_UPDATE,
            RecordBody::ExtIntro(_) => TYPE_EXT_INTRO,
            RecordBody::ExtReset(_) => TYPE_EXT_RESET,
            RecordBody::ExtHdrUpdate(_) => TYPE_EXT_HDR_UPDATE,
            RecordBody::ExtHdrUpdate32(_) => TYPE_EXT_HDR_UPDATE32,
            RecordBody::ExtRecUpdate { .. } => TYPE_EXT_REC_UPDATE,
            RecordBody::ExtAtomicInc(_) => TYPE_EXT_ATOMIC_INC,
            RecordBody::KeywordUpdate(_) => TYPE_KEYWORD_UPDATE,
            RecordBody::KeywordReset(_) => TYPE_KEYWORD_RESET,
            RecordBody::ModseqUpdate(_) => TYPE_MODSEQ_UPDATE,
            RecordBody::IndexDeleted => TYPE_INDEX_DELETED,
            RecordBody::IndexUndeleted => TYPE_INDEX_UNDELETED,
            RecordBody::Boundary(_) => TYPE_BOUNDARY,
            RecordBody::AttributeUpdate(_) => TYPE_ATTRIBUTE_UPDATE,
            RecordBody::Unknown { type_code, .. } => *type_code,
        }
    }

    /// Decode `payload`, found at file offset `at`, for the type code
    /// `type_code` (flag bits already removed).
    pub fn decode(type_code: u32, payload: &[u8], at: u64, ctx: BodyContext) -> Result<Self> {
        let p = Payload::new(payload, at);
        let known = KNOWN_TYPES.contains(&type_code);
        if known && payload.is_empty() {
            return Err(p.error(0, format!("empty payload for type {type_code:#x}")));
        }
        Ok(match type_code {
            c if c == TYPE_EXPUNGE | EXPUNGE_PROT => RecordBody::Expunge(p.uid_ranges()?),
            c if c == TYPE_EXPUNGE_GUID | EXPUNGE_PROT => {
                RecordBody::ExpungeGuid(p.array(20, expunge_guid_at)?)
            }
            TYPE_APPEND => RecordBody::Append(p.array(8, append_at)?),
            TYPE_FLAG_UPDATE => RecordBody::FlagUpdate(p.array(12, flag_update_at)?),
            TYPE_HEADER_UPDATE => RecordBody::HeaderUpdate(p.header_updates(false)?),
            TYPE_EXT_INTRO => RecordBody::ExtIntro(p.ext_intros()?),
            TYPE_EXT_RESET => RecordBody::ExtReset(p.ext_reset()?),
            TYPE_EXT_HDR_UPDATE => RecordBody::ExtHdrUpdate(p.header_updates(false)?),
            TYPE_EXT_HDR_UPDATE32 => RecordBody::ExtHdrUpdate32(p.header_updates(true)?),
            TYPE_EXT_REC_UPDATE => p.ext_rec_updates(ctx)?,
            TYPE_EXT_ATOMIC_INC => RecordBody::ExtAtomicInc(p.array(8, atomic_inc_at)?),
            TYPE_KEYWORD_UPDATE => RecordBody::KeywordUpdate(p.keyword_update()?),
            TYPE_KEYWORD_RESET => RecordBody::KeywordReset(p.uid_ranges()?),
            TYPE_MODSEQ_UPDATE => RecordBody::ModseqUpdate(p.array(12, modseq_update_at)?),
            TYPE_INDEX_DELETED => RecordBody::IndexDeleted,
            TYPE_INDEX_UNDELETED => RecordBody::IndexUndeleted,
            TYPE_BOUNDARY => RecordBody::Boundary(p.bytes.u32(0, "boundary size")?),
            TYPE_ATTRIBUTE_UPDATE => RecordBody::AttributeUpdate(p.attribute_changes()?),
            _ => RecordBody::Unknown {
                type_code,
                payload: payload.to_vec(),
            },
        })
    }

    /// Append the payload's bytes (without the record header) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            RecordBody::Expunge(r) | RecordBody::KeywordReset(r) => put_uid_ranges(out, r),
            RecordBody::ExpungeGuid(v) => v.iter().for_each(|e| {
                out.put_u32(e.uid);
                out.extend_from_slice(&e.guid_128);
            }),
            RecordBody::Append(v) => v.iter().for_each(|a| {
                out.put_u32(a.uid);
                out.put_u8(a.flags);
                out.pad_to(4);
            }),
            RecordBody::FlagUpdate(v) => v.iter().for_each(|u| put_flag_update(out, u)),
            RecordBody::HeaderUpdate(v) | RecordBody::ExtHdrUpdate(v) => {
                put_header_updates(out, v, false)
            }
            RecordBody::ExtHdrUpdate32(v) => put_header_updates(out, v, true),
            RecordBody::ExtIntro(v) => v.iter().for_each(|i| put_ext_intro(out, i)),
            RecordBody::ExtReset(r) => put_ext_reset(out, r),
            RecordBody::ExtRecUpdate {
                record_size,
                updates,
            } => put_ext_rec_updates(out, *record_size, updates),
            RecordBody::ExtAtomicInc(v) => v.iter().for_each(|a| {
                out.put_u32(a.uid);
                out.put_u32(a.diff as u32);
            }),
            RecordBody::KeywordUpdate(k) => put_keyword_update(out, k),
            RecordBody::ModseqUpdate(v) => v.iter().for_each(|m| {
                out.put_u32(m.uid);
                out.put_u32(m.modseq as u32);
                out.put_u32((m.modseq >> 32) as u32);
            }),
            RecordBody::IndexDeleted | RecordBody::IndexUndeleted => out.put_u32(0),
            RecordBody::Boundary(size) => out.put_u32(*size),
            RecordBody::AttributeUpdate(v) => put_attribute_changes(out, v),
            RecordBody::Unknown { payload, .. } => out.extend_from_slice(payload),
        }
    }
}

/// A payload with the file offset it starts at, for errors.
struct Payload<'a> {
    bytes: Bytes<'a>,
    at: u64,
}

impl<'a> Payload<'a> {
    fn new(data: &'a [u8], at: u64) -> Self {
        Payload {
            bytes: Bytes::new(data),
            at,
        }
    }

    fn len(&self) -> usize {
        self.bytes.len()
    }

    fn error(&self, pos: usize, reason: impl Into<String>) -> FormatError {
        FormatError::new(self.at.saturating_add(pos as u64), reason)
    }

    /// Re-anchor a [`Bytes`] error (payload-relative) in the file.
    fn rebase(&self, e: FormatError) -> FormatError {
        FormatError::new(self.at.saturating_add(e.offset), e.reason)
    }

    /// Fixed-size entries filling the whole payload.
    fn array<T>(&self, size: usize, read: fn(&Bytes, usize) -> Result<T>) -> Result<Vec<T>> {
        if self.len() % size != 0 {
            return Err(self.error(
                0,
                format!(
                    "payload of {} bytes is not a whole number of {size}-byte entries",
                    self.len()
                ),
            ));
        }
        (0..self.len())
            .step_by(size)
            .map(|pos| read(&self.bytes, pos).map_err(|e| self.rebase(e)))
            .collect()
    }

    fn uid_ranges(&self) -> Result<Vec<UidRange>> {
        self.array(8, uid_range_at)
    }

    fn header_updates(&self, wide: bool) -> Result<Vec<HeaderUpdate>> {
        let head = if wide { 8 } else { 4 };
        let mut updates = Vec::new();
        let mut pos = 0;
        while pos < self.len() {
            let (offset, size) = if wide {
                let off = self.bytes.u32(pos, "ext hdr update offset");
                let size = self.bytes.u32(pos + 4, "ext hdr update size");
                (
                    off.map_err(|e| self.rebase(e))?,
                    size.map_err(|e| self.rebase(e))?,
                )
            } else {
                let off = self.bytes.u16(pos, "header update offset");
                let size = self.bytes.u16(pos + 2, "header update size");
                let (off, size) = (
                    off.map_err(|e| self.rebase(e))?,
                    size.map_err(|e| self.rebase(e))?,
                );
                (u32::from(off), u32::from(size))
            };
            let data = self
                .bytes
                .slice(pos + head, size as usize, "header update data")
                .map_err(|e| self.error(pos, format!("{} (update size {size})", e.reason)))?;
            updates.push(HeaderUpdate {
                offset,
                data: data.to_vec(),
            });
            pos = (pos + head + size as usize).next_multiple_of(4);
        }
        Ok(updates)
    }

    fn ext_intros(&self) -> Result<Vec<ExtIntro>> {
        let mut intros = Vec::new();
        let mut pos = 0;
        while pos + EXT_INTRO_SIZE <= self.len() {
            let intro = ext_intro_at(&self.bytes, pos).map_err(|e| self.rebase(e))?;
            pos = (pos + EXT_INTRO_SIZE + intro.name.len()).next_multiple_of(4);
            intros.push(intro);
        }
        if intros.is_empty() {
            return Err(self.error(
                0,
                format!(
                    "ext intro of {} bytes, at least {EXT_INTRO_SIZE} needed",
                    self.len()
                ),
            ));
        }
        Ok(intros)
    }

    fn ext_reset(&self) -> Result<ExtReset> {
        let new_reset_id = self
            .bytes
            .u32(0, "ext reset id")
            .map_err(|e| self.rebase(e))?;
        let preserve_data = if self.len() >= 8 {
            Some(
                self.bytes
                    .u8(4, "ext reset preserve_data")
                    .map_err(|e| self.rebase(e))?,
            )
        } else {
            None
        };
        Ok(ExtReset {
            new_reset_id,
            preserve_data,
        })
    }

    fn ext_rec_updates(&self, ctx: BodyContext) -> Result<RecordBody> {
        let record_size = ctx.ext_record_size.ok_or_else(|| {
            self.error(
                0,
                "extension record update without an extension intro before it",
            )
        })?;
        let entry = (4 + usize::from(record_size)).next_multiple_of(4);
        if self.len() % entry != 0 {
            return Err(self.error(
                0,
                format!(
                    "ext rec update of {} bytes is not a whole number of \
                     {entry}-byte entries (record size {record_size})",
                    self.len()
                ),
            ));
        }
        let updates = (0..self.len())
            .step_by(entry)
            .map(|pos| ext_rec_at(&self.bytes, pos, record_size).map_err(|e| self.rebase(e)))
            .collect::<Result<_>>()?;
        Ok(RecordBody::ExtRecUpdate {
            record_size,
            updates,
        })
    }

    fn keyword_update(&self) -> Result<KeywordUpdate> {
        let bytes = &self.bytes;
        let modify = bytes
            .u8(0, "keyword modify type")
            .map_err(|e| self.rebase(e))?;
        let name_size = bytes
            .u16(2, "keyword name size")
            .map_err(|e| self.rebase(e))?;
        if name_size == 0 {
            return Err(self.error(2, "keyword update with an empty name"));
        }
        let name = bytes
            .slice(4, usize::from(name_size), "keyword name")
            .map_err(|e| self.rebase(e))?;
        let uids_at = (4 + usize::from(name_size)).next_multiple_of(4);
        if uids_at > self.len() || (self.len() - uids_at) % 8 != 0 {
            return Err(self.error(
                uids_at.min(self.len()),
                format!(
                    "keyword update of {} bytes: UID ranges at {uids_at} do not fit",
                    self.len()
                ),
            ));
        }
        let uids = (uids_at..self.len())
            .step_by(8)
            .map(|pos| uid_range_at(bytes, pos).map_err(|e| self.rebase(e)))
            .collect::<Result<_>>()?;
        Ok(KeywordUpdate {
            modify: KeywordModify::from_u8(modify),
            name: name.to_vec(),
            uids,
        })
    }

    fn attribute_changes(&self) -> Result<Vec<AttributeChange>> {
        let data = self.bytes.as_slice();
        let mut keys = Vec::new();
        let mut pos = 0;
        loop {
            let Some(rest) = data.get(pos..) else {
                return Err(self.error(pos, "attribute update: keys run past the end"));
            };
            let len = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| self.error(pos, "attribute update doesn't end with NUL"))?;
            if len == 0 {
                break;
            }
            keys.push(self.attribute_key(pos, &rest[..len])?);
            pos += len + 1;
        }

        if keys.is_empty() {
            return Err(self.error(0, "attribute update without any key"));
        }

        let mut at = (pos + 1).next_multiple_of(4);
        let mut changes = Vec::with_capacity(keys.len());
        for (set, private, key) in keys {
            let mut word = |what| {
                let v = self.bytes.u32(at, what).map_err(|e| self.rebase(e));
                at += 4;
                v
            };
            let timestamp = word("attribute timestamp")?;
            let value_len = if set {
                Some(word("attribute value length")?)
            } else {
                None
            };
            changes.push(AttributeChange {
                set,
                private,
                key,
                timestamp,
                value_len,
            });
        }
        if at != self.len() {
            return Err(self.error(at, "attribute update: trailing bytes"));
        }
        Ok(changes)
    }

    fn attribute_key(&self, pos: usize, key: &[u8]) -> Result<(bool, bool, Vec<u8>)> {
        let set = match key.first() {
            Some(b'+') => true,
            Some(b'-') => false,
            other => {
                let b = other.copied().unwrap_or(0);
                return Err(self.error(pos, format!("attribute update: Invalid prefix {b:#04x}")));
            }
        };
        let private = match key.get(1) {
            Some(b'p') => true,
            Some(b's') => false,
            other => {
                let b = other.copied().unwrap_or(0);
                return Err(self.error(pos + 1, format!("attribute update: Invalid type {b:#04x}")));
            }
        };
        if key.len() < 3 {
            return Err(self.error(pos + 2, "attribute update: Empty key"));
        }
        Ok((set, private, key[2..].to_vec()))
    }
}

fn uid_range_at(b: &Bytes, pos: usize) -> Result<UidRange> {
    Ok(UidRange {
        uid1: b.u32(pos, "uid1")?,
        uid2: b.u32(pos + 4, "uid2")?,
    })
}

fn expunge_guid_at(b: &Bytes, pos: usize) -> Result<ExpungeGuid> {
    Ok(ExpungeGuid {
        uid: b.u32(pos, "expunge uid")?,
        guid_128: b.array(pos + 4, "expunge guid")?,
    })
}

fn append_at(b: &Bytes, pos: usize) -> Result<AppendRecord> {
    Ok(AppendRecord {
        uid: b.u32(pos, "append uid")?,
        flags: b.u8(pos + 4, "append flags")?,
    })
}

fn flag_update_at(b: &Bytes, pos: usize) -> Result<FlagUpdate> {
    Ok(FlagUpdate {
        uids: uid_range_at(b, pos)?,
        add_flags: b.u8(pos + 8, "add_flags")?,
        remove_flags: b.u8(pos + 9, "remove_flags")?,
        modseq_inc_flag: b.u8(pos + 10, "modseq_inc_flag")?,
    })
}

fn atomic_inc_at(b: &Bytes, pos: usize) -> Result<ExtAtomicInc> {
    Ok(ExtAtomicInc {
        uid: b.u32(pos, "atomic inc uid")?,
        diff: b.u32(pos + 4, "atomic inc diff")? as i32,
    })
}

fn modseq_update_at(b: &Bytes, pos: usize) -> Result<ModseqUpdate> {
    let low = b.u32(pos + 4, "modseq low32")?;
    let high = b.u32(pos + 8, "modseq high32")?;
    Ok(ModseqUpdate {
        uid: b.u32(pos, "modseq uid")?,
        modseq: u64::from(high) << 32 | u64::from(low),
    })
}

fn ext_intro_at(b: &Bytes, pos: usize) -> Result<ExtIntro> {
    let name_size = b.u16(pos + 18, "ext intro name_size")?;
    let name = b.slice(
        pos + EXT_INTRO_SIZE,
        usize::from(name_size),
        "ext intro name",
    )?;
    Ok(ExtIntro {
        ext_id: b.u32(pos, "ext intro ext_id")?,
        reset_id: b.u32(pos + 4, "ext intro reset_id")?,
        hdr_size: b.u32(pos + 8, "ext intro hdr_size")?,
        record_size: b.u16(pos + 12, "ext intro record_size")?,
        record_align: b.u16(pos + 14, "ext intro record_align")?,
        flags: b.u16(pos + 16, "ext intro flags")?,
        name: name.to_vec(),
    })
}

fn ext_rec_at(b: &Bytes, pos: usize, record_size: u16) -> Result<ExtRecUpdate> {
    Ok(ExtRecUpdate {
        uid: b.u32(pos, "ext rec uid")?,
        data: b
            .slice(pos + 4, usize::from(record_size), "ext rec data")?
            .to_vec(),
    })
}

fn put_uid_ranges(out: &mut Vec<u8>, ranges: &[UidRange]) {
    for r in ranges {
        out.put_u32(r.uid1);
        out.put_u32(r.uid2);
    }
}

fn put_flag_update(out: &mut Vec<u8>, u: &FlagUpdate) {
    out.put_u32(u.uids.uid1);
    out.put_u32(u.uids.uid2);
    out.put_u8(u.add_flags);
    out.put_u8(u.remove_flags);
    out.put_u8(u.modseq_inc_flag);
    out.put_u8(0);
}

fn put_header_updates(out: &mut Vec<u8>, updates: &[HeaderUpdate], wide: bool) {
    for u in updates {
        if wide {
            out.put_u32(u.offset);
            out.put_u32(u.data.len() as u32);
        } else {
            out.put_u16(u.offset as u16);
            out.put_u16(u.data.len() as u16);
        }
        out.extend_from_slice(&u.data);
        out.pad_to(4);
    }
}

fn put_ext_intro(out: &mut Vec<u8>, i: &ExtIntro) {
    out.put_u32(i.ext_id);
    out.put_u32(i.reset_id);
    out.put_u32(i.hdr_size);
    out.put_u16(i.record_size);
    out.put_u16(i.record_align);
    out.put_u16(i.flags);
    out.put_u16(i.name.len() as u16);
    out.extend_from_slice(&i.name);
    out.pad_to(4);
}

fn put_ext_reset(out: &mut Vec<u8>, r: &ExtReset) {
    out.put_u32(r.new_reset_id);
    if let Some(preserve) = r.preserve_data {
        out.put_u8(preserve);
        out.pad_to(4);
    }
}

fn put_ext_rec_updates(out: &mut Vec<u8>, record_size: u16, updates: &[ExtRecUpdate]) {
    for u in updates {
        out.put_u32(u.uid);
        let start = out.len();
        out.extend_from_slice(&u.data);
        out.resize(start + usize::from(record_size), 0);
        out.pad_to(4);
    }
}

fn put_keyword_update(out: &mut Vec<u8>, k: &KeywordUpdate) {
    out.put_u8(k.modify.to_u8());
    out.put_u8(0);
    out.put_u16(k.name.len() as u16);
    out.extend_from_slice(&k.name);
    out.pad_to(4);
    put_uid_ranges(out, &k.uids);
}

fn put_attribute_changes(out: &mut Vec<u8>, changes: &[AttributeChange]) {
    for c in changes {
        out.push(if c.set { b'+' } else { b'-' });
        out.push(if c.private { b'p' } else { b's' });
        out.extend_from_slice(&c.key);
        out.push(0);
    }
    out.push(0);
    out.pad_to(4);
    for c in changes {
        out.put_u32(c.timestamp);
        if let Some(len) = c.value_len {
            out.put_u32(len);
        }
    }
}
