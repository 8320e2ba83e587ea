//! The `mime.parts` cache field (Dovecot's `message-part-serialize.c`).
//!
//! Parts are stored in message order, each as: flags (u32); the
//! position (u64, not for the root); header physical and virtual size,
//! body physical and virtual size (u64 each); the body's line count
//! (u32) for text and message/rfc822 parts; the number of direct
//! children (u32) for multipart and message/rfc822 parts, whose records
//! follow. Integers are in host byte order. Header line counts are not
//! stored, nor body line counts of other parts: they read back as 0.
//!
//! The reader checks what Dovecot checks, with Dovecot's error texts,
//! and is iterative, so a hostile record cannot exhaust the stack.

use crate::index::format::{Bytes, FormatError, PutNe, Result};
use crate::mail::message_part::{MessagePart, MessagePartFlags, MessageParts, MessageSize};

fn has_lines(flags: MessagePartFlags) -> bool {
    flags.intersects(MessagePartFlags::TEXT | MessagePartFlags::MESSAGE_RFC822)
}

fn has_children(flags: MessagePartFlags) -> bool {
    flags.intersects(MessagePartFlags::MULTIPART | MessagePartFlags::MESSAGE_RFC822)
}

/// `message_part_serialize()`.
pub fn serialize(parts: &MessageParts) -> Vec<u8> {
    let mut out = Vec::new();
    for (idx, part) in parts.as_slice().iter().enumerate() {
        out.put_u32(part.flags.bits());
        if idx != 0 {
            out.put_u64(part.physical_pos);
        }
        out.put_u64(part.header_size.physical_size);
        out.put_u64(part.header_size.virtual_size);
        out.put_u64(part.body_size.physical_size);
        out.put_u64(part.body_size.virtual_size);
        if has_lines(part.flags) {
            out.put_u32(part.body_size.lines);
        }
        if has_children(part.flags) {
            out.put_u32(parts.children(idx).count() as u32);
        }
    }
    out
}

/// Siblings still to read under one parent.
struct Level {
    parent: Option<usize>,
    remaining: u32,
    /// Where the parent ends: its children must end before.
    end: u64,
}

/// Reads records in order, keeping Dovecot's position checks.
struct Reader<'a> {
    bytes: Bytes<'a>,
    offset: usize,
    /// Children may not start before this.
    min_pos: u64,
}

impl Reader<'_> {
    fn u32(&mut self) -> Result<u32> {
        let v = self
            .bytes
            .u32(self.offset, "mime.parts")
            .map_err(|_| self.short())?;
        self.offset += 4;
        Ok(v)
    }

    fn u64(&mut self) -> Result<u64> {
        let v = self
            .bytes
            .u64(self.offset, "mime.parts")
            .map_err(|_| self.short())?;
        self.offset += 8;
        Ok(v)
    }

    fn short(&self) -> FormatError {
        FormatError::new(self.offset, "Not enough data")
    }

    fn size(&mut self, what: &'static str) -> Result<MessageSize> {
        let physical_size = self.u64()?;
        let virtual_size = self.u64()?;
        if virtual_size < physical_size {
            return Err(FormatError::new(self.offset, what));
        }
        Ok(MessageSize {
            physical_size,
            virtual_size,
            lines: 0,
        })
    }

    /// One part's record; returns it with its number of children.
    fn part(&mut self, parent: Option<usize>) -> Result<(MessagePart, u32)> {
        let flags = MessagePartFlags::from_bits_retain(self.u32()?);
        let physical_pos = if parent.is_some() { self.u64()? } else { 0 };
        if physical_pos < self.min_pos {
            return Err(FormatError::new(
                self.offset,
                "physical_pos less than expected",
            ));
        }
        let header_size = self.size("header_size.virtual_size too small")?;
        let mut body_size = MessageSize {
            physical_size: self.u64()?,
            virtual_size: self.u64()?,
            lines: 0,
        };
        if has_lines(flags) {
            body_size.lines = self.u32()?;
        }
        if body_size.virtual_size < body_size.physical_size {
            return Err(FormatError::new(
                self.offset,
                "body_size.virtual_size too small",
            ));
        }
        let children = if has_children(flags) { self.u32()? } else { 0 };
        self.check_rfc822_children(flags, children)?;
        let part = MessagePart {
            parent,
            physical_pos,
            header_size,
            body_size,
            children_count: 0,
            flags,
        };
        Ok((part, children))
    }

    fn check_rfc822_children(&self, flags: MessagePartFlags, children: u32) -> Result<()> {
        if !flags.contains(MessagePartFlags::MESSAGE_RFC822) {
            return Ok(());
        }
        match children {
            0 => Err(FormatError::new(
                self.offset,
                "message/rfc822 part has no children",
            )),
            1 => Ok(()),
            _ => Err(FormatError::new(
                self.offset,
                "message/rfc822 part has multiple children",
            )),
        }
    }
}

/// `message_part_deserialize()`: the part tree from a `mime.parts`
/// record, or what is wrong with it and where.
pub fn deserialize(data: &[u8]) -> Result<MessageParts> {
    let mut reader = Reader {
        bytes: Bytes::new(data),
        offset: 0,
        min_pos: 0,
    };
    let mut parts: Vec<MessagePart> = Vec::new();
    let mut levels = vec![Level {
        parent: None,
        remaining: 1,
        end: u64::MAX,
    }];

    while let Some(level) = levels.last_mut() {
        if level.remaining == 0 {
            let Level { parent, end, .. } = *level;
            levels.pop();
            if let Some(p) = parent {
                parts[p].children_count = (parts.len() - p - 1) as u32;
                if reader.min_pos > end {
                    let reason = "child part location exceeds our size";
                    return Err(FormatError::new(reader.offset, reason));
                }
                reader.min_pos = end;
            }
            continue;
        }

        level.remaining -= 1;
        let (part, children) = reader.part(level.parent)?;
        parts.push(part);
        if children > 0 {
            let start = part
                .physical_pos
                .wrapping_add(part.header_size.physical_size);
            reader.min_pos = start;
            levels.push(Level {
                parent: Some(parts.len() - 1),
                remaining: children,
                end: start.wrapping_add(part.body_size.physical_size),
            });
        }
    }

    if reader.offset != data.len() {
        return Err(FormatError::new(reader.offset, "Too much data"));
    }
    Ok(MessageParts::from_vec(parts))
}
