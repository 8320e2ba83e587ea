//! The body snippet: the first words of a message's text (Dovecot's
//! `message-snippet.c`, as lib-storage caches it in `body.snippet`).
//!
//! The first text part is decoded to UTF-8 (HTML through
//! [`Html2Text`]); whitespace runs become one space, quoted lines
//! (starting with `>`) are left out unless there is nothing else, NULs
//! and byte order marks are skipped, and at most `max_chars` characters
//! are kept.

use crate::mail::imap_bodystructure::MessageStructure;
use crate::mail::mail_html2text::{self, Html2Text};
use crate::mail::message_decoder::{BodyDecoder, Decoded};
use crate::mail::message_parser::{Block, MessageParser, ParserSettings};
use crate::mail::message_part::MessageParts;
use crate::mail::message_part_data::MessagePartData;

/// How many characters lib-storage keeps (`BODY_SNIPPET_MAX_CHARS`).
pub const BODY_SNIPPET_MAX_CHARS: u32 = 200;

/// The version byte lib-storage puts before the snippet in the cache
/// (`BODY_SNIPPET_ALGO_V1`).
pub const BODY_SNIPPET_ALGO_V1: u8 = b'1';

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineState {
    /// At the start of a line.
    Newline,
    Normal,
    /// In a line starting with `>`: skipped unless nothing else is found.
    Quoted,
}

#[derive(Debug)]
struct Snippet {
    text: Vec<u8>,
    chars_left: u32,
}

#[derive(Debug)]
struct SnippetContext {
    snippet: Snippet,
    quoted: Snippet,
    state: LineState,
    add_whitespace: bool,
    html: Option<Html2Text>,
}

/// C's `isspace()` in the C locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Length of the UTF-8 sequence a lead byte starts
/// (`uni_utf8_char_bytes()`).
fn utf8_char_bytes(c: u8) -> usize {
    match c {
        0..=0xbf => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        0xf8..=0xfb => 5,
        0xfc..=0xfd => 6,
        _ => 1,
    }
}

impl SnippetContext {
    fn new(max_chars: u32) -> Self {
        SnippetContext {
            snippet: Snippet {
                text: Vec::new(),
                chars_left: max_chars,
            },
            quoted: Snippet {
                text: Vec::new(),
                // One character goes to the '>'.
                chars_left: max_chars.saturating_sub(1),
            },
            state: LineState::Newline,
            add_whitespace: false,
            html: None,
        }
    }

    fn target(&mut self, quoted: bool) -> &mut Snippet {
        if quoted {
            &mut self.quoted
        } else {
            &mut self.snippet
        }
    }

    /// Add the character at the start of `data`; returns the number of
    /// bytes it used (`snippet_add_content()`).
    fn add_content(&mut self, quoted: bool, data: &[u8]) -> usize {
        let Some(&c) = data.first() else {
            return 1;
        };
        if data.starts_with(b"\xef\xbb\xbf") || data.starts_with(b"\xbf\xbb\xef") {
            return 3;
        }
        if c == 0 {
            return 1;
        }
        if is_space(c) {
            if !self.target(quoted).text.is_empty() {
                self.add_whitespace = true;
            }
            if c == b'\n' {
                self.state = LineState::Newline;
            }
            return 1;
        }

        let add_whitespace = self.add_whitespace;
        let target = self.target(quoted);
        if target.chars_left == 0 {
            return 1;
        }
        target.chars_left -= 1;
        if add_whitespace {
            if target.chars_left == 0 {
                // No trailing whitespace.
                return 1;
            }
            target.text.push(b' ');
            target.chars_left -= 1;
            self.add_whitespace = false;
        }
        let target = self.target(quoted);
        let count = utf8_char_bytes(c).min(data.len());
        target.text.extend_from_slice(&data[..count]);
        count
    }

    /// Feed decoded text; false once the snippet is full
    /// (`snippet_generate()`).
    fn generate(&mut self, data: &[u8]) -> bool {
        let mut quoted = self.state == LineState::Quoted;
        let mut i = 0;
        while i < data.len() {
            if self.state == LineState::Newline {
                if data[i] == b'>' {
                    self.state = LineState::Quoted;
                    i += 1;
                    quoted = true;
                } else {
                    self.state = LineState::Normal;
                    quoted = false;
                }
            }
            i += self.add_content(quoted, &data[i..]);
            if self.snippet.chars_left == 0 {
                return false;
            }
        }
        true
    }

    fn feed(&mut self, text: &str) -> bool {
        match &mut self.html {
            Some(html) => {
                let mut plain = Vec::new();
                html.more(text.as_bytes(), &mut plain);
                self.generate(&plain)
            }
            None => self.generate(text.as_bytes()),
        }
    }

    fn finish(self) -> Vec<u8> {
        let trim = |t: &[u8]| t.iter().position(|&c| !is_space(c)).unwrap_or(t.len());
        if !self.snippet.text.is_empty() {
            let start = trim(&self.snippet.text);
            return self.snippet.text[start..].to_vec();
        }
        if self.quoted.text.is_empty() {
            return Vec::new();
        }
        let start = trim(&self.quoted.text);
        [&b">"[..], &self.quoted.text[start..]].concat()
    }
}

/// The snippet of `message`, at most `max_chars` characters of UTF-8
/// (`message_snippet_generate()`).
pub fn message_snippet(message: &[u8], max_chars: u32) -> Vec<u8> {
    // Dovecot parses the snippet's part with no header flags.
    let mut parser = MessageParser::new(message, ParserSettings::default());
    let mut decoder = BodyDecoder::new();
    let mut ctx = SnippetContext::new(max_chars);
    let mut skip_part = None;

    while let Some(block) = parser.next_block() {
        let part = block.part();
        if Some(part) == skip_part {
            continue;
        }
        let mut emit = |decoded: Decoded| match decoded {
            Decoded::Text { part, text } if Some(part) != skip_part => ctx.feed(&text),
            _ => true,
        };
        if !decoder.decode(&block, &mut emit) {
            break;
        }
        if !matches!(block, Block::EndOfHeader { .. }) {
            continue;
        }
        // One text part gives the snippet; otherwise try the next.
        if !ctx.snippet.text.is_empty() || !ctx.quoted.text.is_empty() {
            break;
        }
        skip_part = choose_part(&mut ctx, decoder.content_type(), part);
    }
    let _ = decoder.flush(&mut |decoded| match decoded {
        Decoded::Text { part, text } if Some(part) != skip_part => ctx.feed(&text),
        _ => true,
    });
    ctx.finish()
}

/// At the end of a part's header: use its text (HTML converted), or
/// skip it (returned) if it is not text.
fn choose_part(
    ctx: &mut SnippetContext,
    content_type: Option<&[u8]>,
    part: usize,
) -> Option<usize> {
    let content_type = content_type?;
    if mail_html2text::content_type_match(content_type) {
        ctx.html = Some(Html2Text::new());
        return None;
    }
    let is_text = content_type.len() >= 5 && content_type[..5].eq_ignore_ascii_case(b"text/");
    (!is_text).then_some(part)
}

/// The snippet lib-storage caches as `body.snippet` (without its
/// version byte): that of the first text part, taken as a message of
/// its own (`index_mail_write_body_snippet()`).
pub fn mail_body_snippet(message: &[u8], structure: &MessageStructure) -> Vec<u8> {
    let Some(idx) = first_text_part(&structure.parts, &structure.data, 0) else {
        return Vec::new();
    };
    let part = &structure.parts.as_slice()[idx];
    let start = (part.physical_pos as usize).min(message.len());
    let len = part.header_size.physical_size + part.body_size.physical_size;
    let end = start.saturating_add(len as usize).min(message.len());
    message_snippet(&message[start..end], BODY_SNIPPET_MAX_CHARS)
}

fn is_icase(value: Option<&Vec<u8>>, what: &[u8]) -> bool {
    value.is_some_and(|v| v.eq_ignore_ascii_case(what))
}

/// The part a snippet is made from: a text part, or in a multipart the
/// first child that has one; in multipart/alternative text/plain first,
/// then text/html, then other text
/// (`index_mail_find_first_text_mime_part()`).
fn first_text_part(parts: &MessageParts, data: &[MessagePartData], idx: usize) -> Option<usize> {
    let d = &data[idx];
    if d.content_type.is_none() || is_icase(d.content_type.as_ref(), b"text") {
        return Some(idx);
    }
    if !is_icase(d.content_type.as_ref(), b"multipart") {
        return None;
    }
    if !is_icase(d.content_subtype.as_ref(), b"alternative") {
        return parts
            .children(idx)
            .find_map(|c| first_text_part(parts, data, c));
    }

    let (mut html, mut other) = (None, None);
    for child in parts.children(idx) {
        let c = &data[child];
        if c.content_type.is_some() && !is_icase(c.content_type.as_ref(), b"text") {
            continue;
        }
        if c.content_subtype.is_none() || is_icase(c.content_subtype.as_ref(), b"plain") {
            return Some(child);
        }
        if is_icase(c.content_subtype.as_ref(), b"html") {
            html = Some(child);
        } else {
            other = Some(child);
        }
    }
    html.or(other)
}
