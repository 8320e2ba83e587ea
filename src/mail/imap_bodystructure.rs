//! IMAP BODY and BODYSTRUCTURE (lib-imap's `imap-bodystructure.c`),
//! byte for byte as Dovecot 2.3 writes them.
//!
//! [`MessageStructure::parse`] parses a message the way lib-storage does
//! for these fields (part tree plus each part's [`MessagePartData`]);
//! [`MessageStructure::write`] writes BODYSTRUCTURE (`extended`) or BODY,
//! without the outer parentheses, as `doveadm fetch` prints them.
//!
//! Not here yet: reading BODYSTRUCTURE back (`imap_bodystructure_parse()`)
//! and converting it to BODY (`imap_body_parse_from_bodystructure()`).

use crate::mail::imap_quote::{append_nstring_nolf, append_string};
use crate::mail::message_parser::{Block, MessageParser, ParserSettings};
use crate::mail::message_part::{MessagePart, MessagePartFlags, MessageParts};
use crate::mail::message_part_data::{AttachmentSettings, DEFAULT_CHARSET, MessagePartData, Param};

const EMPTY_BODY: &[u8] = b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)";
const EMPTY_BODYSTRUCTURE: &[u8] =
    b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)";

/// The part tree disagrees with the part data (Dovecot then treats the
/// cached data as corrupted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("part {part}: {reason}")]
pub struct BodystructureError {
    pub part: usize,
    pub reason: &'static str,
}

/// A message's parts with their Content-* data.
#[derive(Debug, Clone)]
pub struct MessageStructure {
    pub parts: MessageParts,
    /// Indexed like `parts`.
    pub data: Vec<MessagePartData>,
}

impl MessageStructure {
    /// Parse `message` with lib-storage's settings.
    pub fn parse(message: &[u8]) -> MessageStructure {
        let mut parser = MessageParser::new(message, ParserSettings::for_mail());
        let mut data: Vec<MessagePartData> = Vec::new();
        while let Some(block) = parser.next_block() {
            let part = block.part();
            if data.len() <= part {
                data.resize_with(part + 1, Default::default);
            }
            match block {
                Block::Header { line, .. } => {
                    let parent_rfc822 = parser
                        .parent_flags(part)
                        .contains(MessagePartFlags::MESSAGE_RFC822);
                    data[part].add_header(&line, parent_rfc822);
                }
                Block::EndOfHeader { .. } => data[part].end_of_header(parser.flags(part)),
                Block::Body { .. } => {}
            }
        }
        let parts = parser.finish();
        data.resize_with(parts.len(), Default::default);
        MessageStructure { parts, data }
    }

    /// BODYSTRUCTURE (`extended`) or BODY, without the outer parentheses
    /// (`imap_bodystructure_write()`).
    pub fn write(&self, extended: bool) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(256);
        Writer {
            parts: &self.parts,
            data: &self.data,
            extended,
            out: &mut out,
        }
        .part(0)?;
        Ok(out)
    }
}

impl MessageStructure {
    /// Is any part an attachment (`mail_message_has_attachment()`, what
    /// sets `$HasAttachment`)? Parts are judged by what BODYSTRUCTURE
    /// says of them, as lib-storage reads it back.
    pub fn has_attachment(&self, settings: &AttachmentSettings) -> bool {
        (0..self.parts.len()).any(|idx| {
            let mut data = self.data[idx].clone();
            let (main, sub) = self.written_type(idx);
            data.content_type = Some(main);
            data.content_subtype = Some(sub);
            data.is_attachment(settings)
        })
    }

    /// The type and subtype BODYSTRUCTURE gives part `idx`.
    fn written_type(&self, idx: usize) -> (Vec<u8>, Vec<u8>) {
        let flags = self.parts.as_slice()[idx].flags;
        let data = &self.data[idx];
        let sub = data.content_subtype.clone().unwrap_or_default();
        let named = |main: &[u8], sub: &[u8]| (main.to_vec(), sub.to_vec());
        if flags.contains(MessagePartFlags::MULTIPART) {
            return (b"multipart".to_vec(), sub);
        }
        if flags.contains(MessagePartFlags::MESSAGE_RFC822) {
            return named(b"message", b"rfc822");
        }
        if is_truncated(&self.parts, &self.data, idx) {
            return named(b"application", b"octet-stream");
        }
        match &data.content_type {
            Some(main) => (main.clone(), sub),
            None => named(b"text", b"plain"),
        }
    }
}

struct Writer<'a> {
    parts: &'a MessageParts,
    data: &'a [MessagePartData],
    extended: bool,
    out: &'a mut Vec<u8>,
}

type Result<T> = std::result::Result<T, BodystructureError>;

impl Writer<'_> {
    fn part(&mut self, idx: usize) -> Result<()> {
        if self.parts.as_slice()[idx]
            .flags
            .contains(MessagePartFlags::MULTIPART)
        {
            self.multipart(idx)
        } else {
            self.body(idx)
        }
    }

    fn siblings(&mut self, parent: usize) -> Result<()> {
        for child in self.parts.children(parent) {
            self.out.push(b'(');
            self.part(child)?;
            self.out.push(b')');
        }
        Ok(())
    }

    fn multipart(&mut self, idx: usize) -> Result<()> {
        let data = &self.data[idx];
        if self.parts.children(idx).next().is_some() {
            self.siblings(idx)?;
        } else if self.extended {
            self.out.extend_from_slice(EMPTY_BODYSTRUCTURE);
        } else {
            self.out.extend_from_slice(EMPTY_BODY);
        }
        self.out.push(b' ');
        append_string(self.out, data.content_subtype.as_deref().unwrap_or(b""));
        if !self.extended {
            return Ok(());
        }
        self.out.push(b' ');
        write_params(self.out, &data.content_type_params, false);
        write_common(self.out, data);
        Ok(())
    }
}

impl Writer<'_> {
    /// A part that is not a multipart (`part_write_body()`).
    fn body(&mut self, idx: usize) -> Result<()> {
        let part = self.parts.as_slice()[idx];
        let data = &self.data[idx];
        let rfc822 = part.flags.contains(MessagePartFlags::MESSAGE_RFC822);
        let text = if rfc822 {
            self.out.extend_from_slice(b"\"message\" \"rfc822\"");
            false
        } else if is_truncated(self.parts, self.data, idx) {
            // Not parsed further because of the part limits.
            self.out
                .extend_from_slice(b"\"application\" \"octet-stream\"");
            false
        } else {
            self.content_type(idx)?
        };

        self.out.push(b' ');
        write_params(self.out, &data.content_type_params, text);
        self.out.push(b' ');
        append_nstring_nolf(self.out, data.content_id.as_deref());
        self.out.push(b' ');
        append_nstring_nolf(self.out, data.content_description.as_deref());
        self.out.push(b' ');
        match &data.content_transfer_encoding {
            Some(cte) => append_string(self.out, cte),
            None => self.out.extend_from_slice(b"\"7bit\""),
        }
        self.out
            .extend_from_slice(format!(" {}", part.body_size.virtual_size).as_bytes());

        if text {
            self.out
                .extend_from_slice(format!(" {}", part.body_size.lines).as_bytes());
        } else if rfc822 {
            self.rfc822_body(idx, &part)?;
        }
        if self.extended {
            self.out.push(b' ');
            append_nstring_nolf(self.out, data.content_md5.as_deref());
            write_common(self.out, data);
        }
        Ok(())
    }

    /// `"type" "subtype"`; returns whether the part is text.
    fn content_type(&mut self, idx: usize) -> Result<bool> {
        let data = &self.data[idx];
        let text = match &data.content_type {
            None => {
                self.out.extend_from_slice(b"\"text\" \"plain\"");
                true
            }
            Some(content_type) => {
                append_string(self.out, content_type);
                self.out.push(b' ');
                append_string(self.out, data.content_subtype.as_deref().unwrap_or(b""));
                content_type.eq_ignore_ascii_case(b"text")
            }
        };
        let flagged_text = self.parts.as_slice()[idx]
            .flags
            .contains(MessagePartFlags::TEXT);
        if text != flagged_text {
            return Err(BodystructureError {
                part: idx,
                reason: "text flag mismatch",
            });
        }
        Ok(text)
    }

    /// Envelope, body structure and line count of the message inside.
    fn rfc822_body(&mut self, idx: usize, part: &MessagePart) -> Result<()> {
        let Some(child) = self.parts.children(idx).next() else {
            return Err(BodystructureError {
                part: idx,
                reason: "message/rfc822 part has no children",
            });
        };
        self.out.extend_from_slice(b" (");
        match &self.data[child].envelope {
            Some(envelope) => envelope.write(self.out),
            None => self
                .out
                .extend_from_slice(b"NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL"),
        }
        self.out.extend_from_slice(b") ");
        self.siblings(idx)?;
        self.out
            .extend_from_slice(format!(" {}", part.body_size.lines).as_bytes());
        Ok(())
    }
}

/// A message/rfc822 or multipart part whose flag was dropped because
/// of the part limits, or a digest part without Content-Type
/// (`part_is_truncated()`).
fn is_truncated(parts: &MessageParts, data: &[MessagePartData], idx: usize) -> bool {
    let data = &data[idx];
    let Some(content_type) = &data.content_type else {
        let parent = parts.as_slice()[idx].parent;
        return parent.is_some_and(|p| {
            let flags = parts.as_slice()[p].flags;
            flags.contains(MessagePartFlags::MULTIPART_DIGEST)
        });
    };
    let subtype = data.content_subtype.as_deref().unwrap_or(b"");
    (content_type.eq_ignore_ascii_case(b"message") && subtype.eq_ignore_ascii_case(b"rfc822"))
        || content_type.eq_ignore_ascii_case(b"multipart")
}

/// `("name" "value" ...)` or NIL; text parts get a default charset
/// (`params_write()`).
fn write_params(out: &mut Vec<u8>, params: &[Param], default_charset: bool) {
    if !default_charset && params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    let mut seen_charset = false;
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        seen_charset |= name.eq_ignore_ascii_case(b"charset");
        append_string(out, name);
        out.push(b' ');
        append_string(out, value);
    }
    if default_charset && !seen_charset {
        if !params.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(b"\"charset\" \"");
        out.extend_from_slice(DEFAULT_CHARSET);
        out.push(b'"');
    }
    out.push(b')');
}

/// Disposition, language and location
/// (`part_write_bodystructure_common()`).
fn write_common(out: &mut Vec<u8>, data: &MessagePartData) {
    out.push(b' ');
    match &data.content_disposition {
        None => out.extend_from_slice(b"NIL"),
        Some(disposition) => {
            out.push(b'(');
            append_string(out, disposition);
            out.push(b' ');
            write_params(out, &data.content_disposition_params, false);
            out.push(b')');
        }
    }

    out.push(b' ');
    match &data.content_language {
        None => out.extend_from_slice(b"NIL"),
        Some(langs) => {
            out.push(b'(');
            for (i, lang) in langs.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                append_string(out, lang);
            }
            out.push(b')');
        }
    }

    out.push(b' ');
    append_nstring_nolf(out, data.content_location.as_deref());
}
