//! Searching a message's text for a string, as IMAP SEARCH BODY and
//! TEXT do without a full-text index (Dovecot's `message-search.c`, with
//! the `str-find.c` matching it uses).
//!
//! Headers are searched decoded (RFC 2047) and normalized the way
//! Dovecot's default normalizer does it (titlecase, one-level
//! decomposition): name, separator, unfolded value and line end, as one
//! stream per part. Bodies of text and message parts are searched after
//! undoing the transfer encoding and converting to UTF-8, normalized the
//! same way. A match never spans two parts. HTML is searched as written
//! (tags included), as in Dovecot.

use crate::mail::imap_base_subject::titlecase_decomposed;
use crate::mail::message_decoder::{BodyDecoder, Decoded};
use crate::mail::message_header_decode;
use crate::mail::message_header_parser::{HeaderLine, HeaderParserFlags};
use crate::mail::message_parser::{Block, MessageParser, ParserSettings};
use crate::mail::rfc822_parser::Rfc822Parser;

/// A streaming substring search (`struct str_find_context`): the key is
/// found even when it is split over the pieces fed to it.
#[derive(Debug)]
struct StrFind {
    key: Vec<u8>,
    /// The last `key.len() - 1` bytes fed, where a match may begin.
    tail: Vec<u8>,
}

impl StrFind {
    fn new(key: &[u8]) -> Self {
        StrFind {
            key: key.to_vec(),
            tail: Vec::new(),
        }
    }

    fn reset(&mut self) {
        self.tail.clear();
    }

    /// Feed `data`; true when the key has been seen.
    fn more(&mut self, data: &[u8]) -> bool {
        if data.is_empty() {
            return false;
        }
        let keep = self.key.len() - 1;
        let overlap = self.tail.len().min(keep);
        let mut window = Vec::with_capacity(overlap + data.len().min(keep));
        window.extend_from_slice(&self.tail[self.tail.len() - overlap..]);
        window.extend_from_slice(&data[..data.len().min(keep)]);
        if memchr::memmem::find(&window, &self.key).is_some()
            || memchr::memmem::find(data, &self.key).is_some()
        {
            return true;
        }

        if data.len() >= keep {
            self.tail.clear();
            self.tail.extend_from_slice(&data[data.len() - keep..]);
        } else {
            self.tail.extend_from_slice(data);
            let excess = self.tail.len().saturating_sub(keep);
            self.tail.drain(..excess);
        }
        false
    }
}

/// Dovecot's default normalizer (`uni_utf8_to_decomposed_titlecase()`),
/// with a fast path for ASCII, which it only uppercases.
fn normalize(text: &str) -> std::borrow::Cow<'_, str> {
    if text.is_ascii() {
        if !text.bytes().any(|c| c.is_ascii_lowercase()) {
            return std::borrow::Cow::Borrowed(text);
        }
        return std::borrow::Cow::Owned(text.to_ascii_uppercase());
    }
    std::borrow::Cow::Owned(titlecase_decomposed(text))
}

/// What is searched (`enum message_search_flags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SearchFlags {
    /// Bodies only (SEARCH BODY); otherwise headers too (SEARCH TEXT).
    pub skip_headers: bool,
}

/// Does `message` contain `key` (`message_search_msg()`)? The key is
/// normalized first; a key that normalizes to nothing matches nothing.
pub fn message_search(message: &[u8], key: &str, flags: SearchFlags) -> bool {
    let key = normalize(key);
    if key.is_empty() {
        return false;
    }
    let mut search = MessageSearch::new(key.as_bytes(), flags);
    let settings = ParserSettings {
        hdr_flags: HeaderParserFlags::CLEAN_ONELINE,
        ..ParserSettings::default()
    };
    let mut parser = MessageParser::new(message, settings);
    while let Some(block) = parser.next_block() {
        if search.more(&block) {
            return true;
        }
    }
    search.flush()
}

/// The search over one message's blocks (`struct message_search_context`).
#[derive(Debug)]
struct MessageSearch {
    flags: SearchFlags,
    find: StrFind,
    decoder: BodyDecoder,
    part: Option<usize>,
    /// The current part is text/* or message/* (or has no Content-Type).
    content_type_text: bool,
}

impl MessageSearch {
    fn new(key: &[u8], flags: SearchFlags) -> Self {
        MessageSearch {
            flags,
            find: StrFind::new(key),
            decoder: BodyDecoder::new(),
            part: None,
            content_type_text: true,
        }
    }

    /// Feed one block; true on a match (`message_search_more()`).
    fn more(&mut self, block: &Block<'_>) -> bool {
        if self.part != Some(block.part()) {
            // The previous part's last line is still its own.
            if self.flush() {
                return true;
            }
            // A new part: nothing carries over.
            self.part = Some(block.part());
            self.content_type_text = matches!(block, Block::Header { .. });
            self.find.reset();
        }
        match block {
            Block::Header { line, .. } => self.header(block, line),
            Block::EndOfHeader { .. } => {
                self.decode(block);
                false
            }
            Block::Body { .. } if !self.content_type_text => false,
            Block::Body { .. } => self.decode(block),
        }
    }

    fn header(&mut self, block: &Block<'_>, line: &HeaderLine<'_>) -> bool {
        let content_type = line.name.eq_ignore_ascii_case(b"Content-Type");
        if content_type && !line.continues {
            self.content_type_text = is_text_content_type(&line.full_value);
        }
        if self.flags.skip_headers {
            // The decoder still needs Content-Type and -Transfer-Encoding.
            self.decode(block);
            return false;
        }
        self.decode(block);
        !line.continues && self.search_header(line)
    }

    /// Name, separator, decoded value and line end, normalized
    /// (`search_header()` on what `message_decode_header()` made).
    fn search_header(&mut self, line: &HeaderLine<'_>) -> bool {
        let name = String::from_utf8_lossy(line.name);
        let value = message_header_decode::decode_utf8(&line.full_value);
        self.find.more(normalize(&name).as_bytes())
            || self.find.more(line.middle)
            || self.find.more(normalize(&value).as_bytes())
            || (!line.no_newline && self.find.more(b"\r\n"))
    }

    /// Run the block through the body decoder, searching its text.
    fn decode(&mut self, block: &Block<'_>) -> bool {
        let mut found = false;
        self.decoder
            .decode(block, &mut search_text(&mut self.find, &mut found));
        found
    }

    /// Search the text the decoder still holds (a last line without a
    /// line end).
    fn flush(&mut self) -> bool {
        let mut found = false;
        self.decoder
            .flush(&mut search_text(&mut self.find, &mut found));
        found
    }
}

/// A decoder callback feeding normalized body text to `find`; sets
/// `found` and stops on a match.
fn search_text<'f>(find: &'f mut StrFind, found: &'f mut bool) -> impl FnMut(Decoded) -> bool + 'f {
    move |decoded| {
        if let Decoded::Text { text, .. } = decoded {
            *found = find.more(normalize(&text).as_bytes());
        }
        !*found
    }
}

/// text/* or message/* by what could be read of the content type.
fn is_text_content_type(value: &[u8]) -> bool {
    let mut parser = Rfc822Parser::new(value);
    let _ = parser.skip_lwsp();
    let mut content_type = Vec::new();
    let _ = parser.parse_content_type(&mut content_type);
    let starts = |prefix: &[u8]| {
        content_type.len() >= prefix.len()
            && content_type[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    starts(b"text/") || starts(b"message/")
}
