//! The MIME part tree (Dovecot's `message-part.h`, `message-part.c` and
//! `struct message_size` from `message-size.h`).
//!
//! Dovecot links parts with parent/next/children pointers. Here the
//! parts of one message live in one vector, in the order they appear in
//! the message (the order `message_part_to_idx()` numbers them): a
//! part's descendants are the `children_count` parts right after it.
//! That layout needs no pointers, drops without recursion however deep
//! the tree is, and is the order the `mime.parts` cache field stores.
//!
//! Not here yet: `message_part_data` (see `message_part_data`).

use bitflags::bitflags;

bitflags! {
    /// `enum message_part_flags`. The values are stored in
    /// `mime.parts`, so they are interface.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
    pub struct MessagePartFlags: u32 {
        const MULTIPART = 0x01;
        const MULTIPART_DIGEST = 0x02;
        const MESSAGE_RFC822 = 0x04;
        /// `Content-Type: text/...` (or no Content-Type).
        const TEXT = 0x08;
        const UNUSED = 0x10;
        /// The part's header or body contains NULs.
        const HAS_NULS = 0x20;
        /// A Mime-Version header exists (or Content-Type, leniently).
        const IS_MIME = 0x40;
        /// Parsing stopped at this part because of the MIME part limits.
        const OVERFLOW = 0x80;
    }
}

/// `struct message_size`: a header's or body's size three ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct MessageSize {
    /// Bytes as stored.
    pub physical_size: u64,
    /// Bytes with every bare LF counted as CRLF.
    pub virtual_size: u64,
    /// Number of LFs.
    pub lines: u32,
}

impl MessageSize {
    /// `message_size_add()`.
    pub fn add(&mut self, other: &MessageSize) {
        self.physical_size += other.physical_size;
        self.virtual_size += other.virtual_size;
        self.lines = self.lines.wrapping_add(other.lines);
    }

    /// Count `data` as more bytes of the same stream; `last_chr` is the
    /// byte before it (for a CR ending the previous piece).
    pub fn add_data(&mut self, data: &[u8], last_chr: u8) {
        let mut missing_cr = 0u64;
        for lf in memchr::memchr_iter(b'\n', data) {
            let before = if lf == 0 { last_chr } else { data[lf - 1] };
            if before != b'\r' {
                missing_cr += 1;
            }
            self.lines = self.lines.wrapping_add(1);
        }
        self.physical_size += data.len() as u64;
        self.virtual_size += data.len() as u64 + missing_cr;
    }
}

/// One MIME part (`struct message_part` without its links).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MessagePart {
    /// Index of the parent part; `None` for the root.
    pub parent: Option<usize>,
    /// Offset of the part's header from the start of the message.
    pub physical_pos: u64,
    pub header_size: MessageSize,
    /// The body, including all child parts.
    pub body_size: MessageSize,
    /// Number of descendants (children, their children, ...).
    pub children_count: u32,
    pub flags: MessagePartFlags,
}

/// All parts of one message, root first, in message order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageParts {
    parts: Vec<MessagePart>,
}

impl MessageParts {
    /// A tree from parts in message order. The caller guarantees the
    /// `parent` and `children_count` links agree (the parser and the
    /// deserializer do).
    pub(crate) fn from_vec(parts: Vec<MessagePart>) -> Self {
        debug_assert!(!parts.is_empty());
        MessageParts { parts }
    }

    pub fn root(&self) -> &MessagePart {
        &self.parts[0]
    }

    /// All parts in message order: index `i` is `message_part_to_idx()`.
    pub fn as_slice(&self) -> &[MessagePart] {
        &self.parts
    }

    /// `message_part_by_idx()`.
    pub fn get(&self, idx: usize) -> Option<&MessagePart> {
        self.parts.get(idx)
    }

    pub fn len(&self) -> usize {
        self.parts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Indexes of the direct children of part `idx`, in order.
    pub fn children(&self, idx: usize) -> Children<'_> {
        let end = self
            .parts
            .get(idx)
            .map_or(0, |p| idx + 1 + p.children_count as usize);
        Children {
            parts: &self.parts,
            next: idx + 1,
            end: end.min(self.parts.len()),
        }
    }
}

/// Iterator over a part's direct children (see [`MessageParts::children`]).
#[derive(Debug)]
pub struct Children<'a> {
    parts: &'a [MessagePart],
    next: usize,
    end: usize,
}

impl Iterator for Children<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.next >= self.end {
            return None;
        }
        let idx = self.next;
        self.next = idx + 1 + self.parts[idx].children_count as usize;
        Some(idx)
    }
}
