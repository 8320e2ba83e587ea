//! Reading record payloads: bounds-checked readers for each struct of
//! mail-transaction-log.h, with errors anchored at their file offset.

use super::body::*;
use crate::index::format::{Bytes, FormatError, Result};

/// A payload with the file offset it starts at, for errors.
pub(super) struct Payload<'a> {
    bytes: Bytes<'a>,
    at: u64,
}

impl<'a> Payload<'a> {
    pub(super) fn new(data: &'a [u8], at: u64) -> Self {
        Payload {
            bytes: Bytes::new(data),
            at,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(super) fn error(&self, pos: usize, reason: impl Into<String>) -> FormatError {
        FormatError::new(self.at.saturating_add(pos as u64), reason)
    }

    /// Re-anchor a [`Bytes`] error (payload-relative) in the file.
    fn rebase(&self, e: FormatError) -> FormatError {
        FormatError::new(self.at.saturating_add(e.offset), e.reason)
    }

    /// Fixed-size entries filling the whole payload.
    pub(super) fn array<T>(
        &self,
        size: usize,
        read: fn(&Bytes, usize) -> Result<T>,
    ) -> Result<Vec<T>> {
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

    pub(super) fn boundary(&self) -> Result<u32> {
        let size = self.bytes.u32(0, "boundary size");
        size.map_err(|e| self.rebase(e))
    }

    pub(super) fn uid_ranges(&self) -> Result<Vec<UidRange>> {
        self.array(8, uid_range_at)
    }

    pub(super) fn header_updates(&self, wide: bool) -> Result<Vec<HeaderUpdate>> {
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

    pub(super) fn ext_intros(&self) -> Result<Vec<ExtIntro>> {
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

    pub(super) fn ext_reset(&self) -> Result<ExtReset> {
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

    pub(super) fn ext_rec_updates(&self, ctx: BodyContext) -> Result<RecordBody> {
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

    pub(super) fn keyword_update(&self) -> Result<KeywordUpdate> {
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

    pub(super) fn attribute_changes(&self) -> Result<Vec<AttributeChange>> {
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

pub(super) fn uid_range_at(b: &Bytes, pos: usize) -> Result<UidRange> {
    Ok(UidRange {
        uid1: b.u32(pos, "uid1")?,
        uid2: b.u32(pos + 4, "uid2")?,
    })
}

pub(super) fn expunge_guid_at(b: &Bytes, pos: usize) -> Result<ExpungeGuid> {
    Ok(ExpungeGuid {
        uid: b.u32(pos, "expunge uid")?,
        guid_128: b.array(pos + 4, "expunge guid")?,
    })
}

pub(super) fn append_at(b: &Bytes, pos: usize) -> Result<AppendRecord> {
    Ok(AppendRecord {
        uid: b.u32(pos, "append uid")?,
        flags: b.u8(pos + 4, "append flags")?,
    })
}

pub(super) fn flag_update_at(b: &Bytes, pos: usize) -> Result<FlagUpdate> {
    Ok(FlagUpdate {
        uids: uid_range_at(b, pos)?,
        add_flags: b.u8(pos + 8, "add_flags")?,
        remove_flags: b.u8(pos + 9, "remove_flags")?,
        modseq_inc_flag: b.u8(pos + 10, "modseq_inc_flag")?,
    })
}

pub(super) fn atomic_inc_at(b: &Bytes, pos: usize) -> Result<ExtAtomicInc> {
    Ok(ExtAtomicInc {
        uid: b.u32(pos, "atomic inc uid")?,
        diff: b.u32(pos + 4, "atomic inc diff")? as i32,
    })
}

pub(super) fn modseq_update_at(b: &Bytes, pos: usize) -> Result<ModseqUpdate> {
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
