//! Decoding MIME part bodies to UTF-8 (the body half of Dovecot's
//! `message-decoder.c`).
//!
//! [`BodyDecoder`] follows the parser's blocks: it reads each part's
//! Content-Type (for its charset) and Content-Transfer-Encoding, then
//! undoes the transfer encoding of the part's body blocks and converts
//! them to UTF-8. Bodies with an unknown transfer encoding are skipped,
//! as Dovecot skips them. Header decoding (RFC 2047) is
//! `message_header_decode`'s job and is not done here.
//!
//! TODO(charset-stream): text is converted line by line, so charsets in
//! which a line break byte can be part of a character (UTF-16) come out
//! wrong; Dovecot converts the byte stream.

use crate::mail::base64::Base64Decoder;
use crate::mail::charset::{Charset, push_valid_utf8};
use crate::mail::message_header_parser::HeaderLine;
use crate::mail::message_parser::{self, Block};
use crate::mail::quoted_printable::QpDecoder;
use crate::mail::rfc822_parser::{Next, Rfc822Parser};

/// `enum message_cte`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransferEncoding {
    /// 7bit or 8bit (and the default).
    #[default]
    SevenOrEightBit,
    Binary,
    QuotedPrintable,
    Base64,
    Unknown,
}

/// The Content-Transfer-Encoding value (`message_decoder_parse_cte()`):
/// one token, optionally followed by `;`.
pub fn parse_transfer_encoding(value: &[u8]) -> TransferEncoding {
    let mut parser = Rfc822Parser::new(value);
    let _ = parser.skip_lwsp();
    let mut token = Vec::new();
    if parser.parse_mime_token(&mut token) == Ok(Next::More) {
        let _ = parser.skip_lwsp();
        if parser.peek() != Some(b';') {
            return TransferEncoding::Unknown;
        }
    }
    let lower = token.to_ascii_lowercase();
    match &lower[..] {
        b"7bit" | b"8bit" => TransferEncoding::SevenOrEightBit,
        b"base64" => TransferEncoding::Base64,
        b"binary" => TransferEncoding::Binary,
        b"quoted-printable" => TransferEncoding::QuotedPrintable,
        _ => TransferEncoding::Unknown,
    }
}

/// Decodes one message's parts, block by block.
#[derive(Debug, Default)]
pub struct BodyDecoder {
    part: Option<usize>,
    content_type: Option<Vec<u8>>,
    charset_name: Option<Vec<u8>>,
    encoding: TransferEncoding,
    qp: QpDecoder,
    base64: Base64Decoder,
    base64_done: bool,
    charset: Option<Charset>,
    /// Transfer-decoded bytes not converted yet (an unfinished line).
    pending: Vec<u8>,
}

/// A decoded piece of the current part's body.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Nothing to show (a header, or a body that is skipped).
    Nothing,
    /// The part's header ended.
    EndOfHeader { part: usize },
    /// Body text in UTF-8.
    Text { part: usize, text: String },
}

/// Bodies are decoded this many raw bytes at a time, so a huge part
/// never needs a huge buffer.
const SLICE: usize = 64 * 1024;

impl BodyDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The current part's content type as written (`type/subtype`, or
    /// what could be read of it), if it had one.
    pub fn content_type(&self) -> Option<&[u8]> {
        self.content_type.as_deref()
    }

    /// Decode `block`, handing results to `emit` until it returns false.
    /// Returns false if `emit` asked to stop.
    pub fn decode(&mut self, block: &Block<'_>, emit: &mut dyn FnMut(Decoded) -> bool) -> bool {
        let part = block.part();
        if self.part != Some(part) {
            if !self.flush(emit) {
                return false;
            }
            self.reset(part);
        }
        match block {
            Block::Header { line, .. } => {
                self.header(line);
                true
            }
            Block::EndOfHeader { part } => {
                self.start_body();
                emit(Decoded::EndOfHeader { part: *part })
            }
            Block::Body { part, data } => self.body(*part, data, emit),
        }
    }

    /// Emit what is still waiting for a line end (end of the part).
    pub fn flush(&mut self, emit: &mut dyn FnMut(Decoded) -> bool) -> bool {
        let (Some(part), false) = (self.part, self.pending.is_empty()) else {
            return true;
        };
        let pending = std::mem::take(&mut self.pending);
        let text = self.convert(&pending);
        text.is_empty() || emit(Decoded::Text { part, text })
    }

    fn reset(&mut self, part: usize) {
        *self = BodyDecoder {
            part: Some(part),
            ..BodyDecoder::default()
        };
    }

    fn header(&mut self, line: &HeaderLine<'_>) {
        if line.continues {
            return;
        }
        if line.name.eq_ignore_ascii_case(b"Content-Type") && self.content_type.is_none() {
            self.parse_content_type(&line.full_value);
        }
        if line.name.eq_ignore_ascii_case(b"Content-Transfer-Encoding") {
            self.encoding = parse_transfer_encoding(&line.full_value);
        }
    }

    fn parse_content_type(&mut self, value: &[u8]) {
        let mut parser = Rfc822Parser::new(value);
        let _ = parser.skip_lwsp();
        let mut content_type = Vec::new();
        let parsed = parser.parse_content_type(&mut content_type);
        self.content_type = Some(content_type);
        if parsed.is_ok() {
            self.charset_name = message_parser::content_param(&mut parser, b"charset");
        }
    }

    fn start_body(&mut self) {
        let name = self.charset_name.as_deref().unwrap_or(b"UTF-8");
        let name = String::from_utf8_lossy(name);
        self.charset = Some(Charset::for_name(&name).unwrap_or(Charset::Utf8));
    }
}

impl BodyDecoder {
    fn body(&mut self, part: usize, data: &[u8], emit: &mut dyn FnMut(Decoded) -> bool) -> bool {
        if self.encoding == TransferEncoding::Unknown {
            return true;
        }
        for slice in data.chunks(SLICE) {
            self.transfer_decode(slice);
            let text = self.convert_lines();
            if !text.is_empty() && !emit(Decoded::Text { part, text }) {
                return false;
            }
        }
        true
    }

    /// Undo the transfer encoding of `raw` into `pending`.
    fn transfer_decode(&mut self, raw: &[u8]) {
        match self.encoding {
            TransferEncoding::SevenOrEightBit | TransferEncoding::Binary => {
                self.pending.extend_from_slice(raw)
            }
            TransferEncoding::QuotedPrintable => {
                let _ = self.qp.more(raw, &mut self.pending);
            }
            TransferEncoding::Base64 if !self.base64_done => {
                if self.base64.more(raw, &mut self.pending).is_err() {
                    // The rest of this part is ignored.
                    self.base64_done = true;
                }
            }
            TransferEncoding::Base64 | TransferEncoding::Unknown => {}
        }
    }

    /// Convert the complete lines waiting in `pending`.
    fn convert_lines(&mut self) -> String {
        let Some(lf) = memchr::memrchr(b'\n', &self.pending) else {
            return String::new();
        };
        let rest = self.pending.split_off(lf + 1);
        let lines = std::mem::replace(&mut self.pending, rest);
        self.convert(&lines)
    }

    fn convert(&self, bytes: &[u8]) -> String {
        let mut text = String::with_capacity(bytes.len());
        match self.charset {
            Some(charset) => {
                charset.to_utf8(bytes, &mut text);
            }
            None => {
                push_valid_utf8(bytes, &mut text);
            }
        }
        text
    }
}
