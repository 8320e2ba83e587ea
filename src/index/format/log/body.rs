//! Typed record payloads: the structs after each
//! `struct mail_transaction_header` (mail-transaction-log.h), decoded
//! with the layout rules of mail-transaction-log-view.c and
//! mail-index-sync-update.c.
//!
//! Padding bytes are read without being looked at and written as zeros,
//! as Dovecot writes them.

use super::decode::*;
use super::encode::*;
use crate::index::format::{PutNe, Result};

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
pub(super) const EXT_INTRO_SIZE: usize = 20;

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
            TYPE_BOUNDARY => RecordBody::Boundary(p.boundary()?),
            TYPE_ATTRIBUTE_UPDATE => RecordBody::AttributeUpdate(p.attribute_changes()?),
            _ => RecordBody::Unknown {
                type_code,
                payload: payload.to_vec(),
            },
        })
    }

    /// Append the payload's bytes (without the record header) to `out`.
    ///
    /// Padding is relative to the payload's start, wherever `out` ends.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut payload = Vec::new();
        self.encode_aligned(&mut payload);
        out.extend_from_slice(&payload);
    }

    /// [`Self::encode`] into a buffer that starts 4-byte aligned.
    fn encode_aligned(&self, out: &mut Vec<u8>) {
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
