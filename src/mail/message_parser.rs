//! The MIME structure of a message (Dovecot's `message-parser.c`).
//!
//! [`MessageParser`] walks a message held in memory and yields its
//! header lines and body blocks one by one, building the part tree as
//! it goes: multiparts with nested boundaries, message/rfc822 parts,
//! preambles and epilogues, missing end boundaries, and Dovecot's limits
//! on nesting and on the number of parts. Each part gets Dovecot's
//! position, sizes (physical, virtual, lines) and flags.
//!
//! The parser is linear in the message: each byte is looked at a bounded
//! number of times (boundary candidates are compared against at most
//! the open boundaries, whose number the nesting limit bounds), and no
//! body is copied.
//!
//! Not here yet: parsing from preparsed parts
//! (`message_parser_init_from_parts()`), and returning preamble,
//! epilogue and boundary lines as blocks.
//!
//! TODO(all-headers-limit): Debian's 2.3.19.1 also caps the headers of
//! all parts together (`MESSAGE_PARSER_DEFAULT_ALL_HEADERS_MAX_SIZE`,
//! 50 MB); measured, its doveadm starts emptying values somewhere past
//! 40 MB of headers in a way not pinned down yet. Only the 10 MB cap of
//! each header block is applied here.

use crate::mail::message_header_parser::{HeaderLine, HeaderParser, HeaderParserFlags};
use crate::mail::message_part::{MessagePart, MessagePartFlags, MessageParts};
use crate::mail::rfc822_parser::Rfc822Parser;
use crate::mail::rfc2231_parser;

/// RFC 2046 allows 70 bytes; Dovecot keeps a little more.
const BOUNDARY_STRING_MAX_LEN: usize = 70 + 10;
/// Longest boundary line looked at: `--`, boundary, `--`.
const BOUNDARY_END_MAX_LEN: usize = BOUNDARY_STRING_MAX_LEN + 2 + 2;

/// Dovecot's defaults (`MESSAGE_PARSER_DEFAULT_MAX_*`).
pub const DEFAULT_MAX_NESTED_MIME_PARTS: u32 = 100;
pub const DEFAULT_MAX_TOTAL_MIME_PARTS: u32 = 10_000;

/// `struct message_parser_settings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserSettings {
    pub hdr_flags: HeaderParserFlags,
    /// `MESSAGE_PARSER_FLAG_MIME_VERSION_STRICT`: without Mime-Version,
    /// Content-Type does not make a part MIME.
    pub mime_version_strict: bool,
    pub max_nested_mime_parts: u32,
    pub max_total_mime_parts: u32,
}

impl Default for ParserSettings {
    fn default() -> Self {
        ParserSettings {
            hdr_flags: HeaderParserFlags::empty(),
            mime_version_strict: false,
            max_nested_mime_parts: DEFAULT_MAX_NESTED_MIME_PARTS,
            max_total_mime_parts: DEFAULT_MAX_TOTAL_MIME_PARTS,
        }
    }
}

impl ParserSettings {
    /// What lib-storage uses when it parses a mail
    /// (`index-mail-headers.c`).
    pub fn for_mail() -> Self {
        ParserSettings {
            hdr_flags: HeaderParserFlags::SKIP_INITIAL_LWSP | HeaderParserFlags::DROP_CR,
            ..Self::default()
        }
    }
}

/// What the parser returns, in message order (`struct message_block`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block<'a> {
    /// A header line of part `part`.
    Header { part: usize, line: HeaderLine<'a> },
    /// The header of part `part` ended (also when it was cut short).
    EndOfHeader { part: usize },
    /// Body bytes of a part that is not a multipart.
    Body { part: usize, data: &'a [u8] },
}

impl Block<'_> {
    /// The part the block belongs to.
    pub fn part(&self) -> usize {
        match self {
            Block::Header { part, .. } | Block::EndOfHeader { part } | Block::Body { part, .. } => {
                *part
            }
        }
    }
}

/// An open multipart's boundary (`struct message_boundary`).
#[derive(Debug)]
struct Boundary {
    part: usize,
    boundary: Vec<u8>,
    epilogue_found: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    HeaderInit,
    Header,
    BodyToBoundary,
    BodyToEof,
    SkipBoundaryLine,
    MimeHeaderInit,
    Rfc822Init,
    Done,
}

/// Parses one message (`struct message_parser_ctx`).
#[derive(Debug)]
pub struct MessageParser<'a> {
    data: &'a [u8],
    pos: usize,
    settings: ParserSettings,
    state: State,

    parts: Vec<MessagePart>,
    part: usize,
    nested_parts: u32,
    total_parts: u32,

    /// Open boundaries, oldest first.
    boundaries: Vec<Boundary>,
    /// Boundary of the multipart whose header is being read.
    last_boundary: Option<Vec<u8>>,
    /// The byte before `pos` in the current part's body.
    last_chr: u8,

    header: Option<HeaderParser<'a>>,
    part_seen_content_type: bool,
    multipart: bool,
    prev_hdr_newline_size: u64,
}

impl<'a> MessageParser<'a> {
    pub fn new(data: &'a [u8], settings: ParserSettings) -> Self {
        let mut settings = settings;
        if settings.max_nested_mime_parts == 0 {
            settings.max_nested_mime_parts = DEFAULT_MAX_NESTED_MIME_PARTS;
        }
        if settings.max_total_mime_parts == 0 {
            settings.max_total_mime_parts = DEFAULT_MAX_TOTAL_MIME_PARTS;
        }
        MessageParser {
            data,
            pos: 0,
            settings,
            state: State::HeaderInit,
            parts: vec![MessagePart::default()],
            part: 0,
            nested_parts: 0,
            total_parts: 1,
            boundaries: Vec::new(),
            last_boundary: None,
            last_chr: 0,
            header: None,
            part_seen_content_type: false,
            multipart: false,
            prev_hdr_newline_size: 0,
        }
    }

    /// The next header line or body block; `None` once the message is
    /// parsed (`message_parser_parse_next_block()`).
    pub fn next_block(&mut self) -> Option<Block<'a>> {
        loop {
            let block = match self.state {
                State::HeaderInit => self.header_init(),
                State::Header => self.header_line(),
                State::BodyToBoundary => self.body_to_boundary(),
                State::BodyToEof => self.body_to_eof(),
                State::SkipBoundaryLine => self.skip_boundary_line(),
                State::MimeHeaderInit => {
                    self.append_part();
                    self.parts[self.part].flags |= MessagePartFlags::IS_MIME;
                    self.header_init()
                }
                State::Rfc822Init => {
                    self.append_part();
                    self.header_init()
                }
                State::Done => return None,
            };
            if block.is_some() {
                return block;
            }
            if self.state == State::Done {
                self.finish_open_parts();
                return None;
            }
        }
    }

    /// Parse to the end and return the part tree
    /// (`message_parser_deinit()`).
    pub fn finish(mut self) -> MessageParts {
        while self.next_block().is_some() {}
        self.finish_open_parts();
        MessageParts::from_vec(self.parts)
    }

    /// The part tree of `data`, parsed with `settings`.
    pub fn parse(data: &'a [u8], settings: ParserSettings) -> MessageParts {
        MessageParser::new(data, settings).finish()
    }

    /// Flags of part `idx` as parsed so far.
    pub fn flags(&self, idx: usize) -> MessagePartFlags {
        self.parts
            .get(idx)
            .map_or(MessagePartFlags::empty(), |p| p.flags)
    }

    /// Flags of the parent of part `idx` (empty for the root).
    pub fn parent_flags(&self, idx: usize) -> MessagePartFlags {
        let parent = self.parts.get(idx).and_then(|p| p.parent);
        parent.map_or(MessagePartFlags::empty(), |p| self.flags(p))
    }

    fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    fn part_flags(&mut self) -> &mut MessagePartFlags {
        &mut self.parts[self.part].flags
    }

    /// Start a child of the current part (`message_part_append()`).
    fn append_part(&mut self) {
        let parent = &self.parts[self.part];
        let physical_pos =
            parent.physical_pos + parent.header_size.physical_size + parent.body_size.physical_size;
        self.parts.push(MessagePart {
            parent: Some(self.part),
            physical_pos,
            ..MessagePart::default()
        });
        self.part = self.parts.len() - 1;
        self.nested_parts += 1;
        self.total_parts += 1;
    }

    /// Close the current part, adding its sizes to its parent's body
    /// (`message_part_finish()`).
    fn finish_part(&mut self) {
        let child = self.parts[self.part];
        let Some(parent_idx) = child.parent else {
            return;
        };
        let parent = &mut self.parts[parent_idx];
        parent.body_size.add(&child.body_size);
        parent.body_size.add(&child.header_size);
        parent.children_count += 1 + child.children_count;
        self.part = parent_idx;
        self.nested_parts -= 1;
    }

    fn finish_open_parts(&mut self) {
        while self.parts[self.part].parent.is_some() {
            self.finish_part();
        }
    }

    /// Count `len` bytes at the cursor as body of the current part.
    fn add_body(&mut self, len: usize) -> &'a [u8] {
        let data = &self.data[self.pos..self.pos + len];
        let part = &mut self.parts[self.part];
        if memchr::memchr(0, data).is_some() {
            part.flags |= MessagePartFlags::HAS_NULS;
        }
        part.body_size.add_data(data, self.last_chr);
        if let Some(&last) = data.last() {
            self.last_chr = last;
        }
        self.pos += len;
        data
    }

    /// A body block for the caller, unless the part is a multipart
    /// (whose preamble and epilogue are not returned).
    fn body_block(&self, part: usize, data: &'a [u8]) -> Option<Block<'a>> {
        let multipart = self.parts[part].flags.contains(MessagePartFlags::MULTIPART);
        (!multipart && !data.is_empty()).then_some(Block::Body { part, data })
    }
}

/// Body states: finding boundaries.
impl<'a> MessageParser<'a> {
    /// Is there a boundary line of an open multipart at `at`? Returns
    /// its index in `boundaries` (`boundary_line_find()`).
    fn boundary_line_find(&mut self, at: usize) -> Option<usize> {
        let rest = &self.data[at..];
        if !rest.starts_with(b"--") {
            return None;
        }
        if self.total_parts >= self.settings.max_total_mime_parts {
            // No room for more parts: stop looking for boundaries.
            *self.part_flags() |= MessagePartFlags::OVERFLOW;
            return None;
        }

        let line = &rest[2..];
        let (find_len, trailing_dashes) = match memchr::memchr(b'\n', line) {
            Some(lf) => {
                let len = line[..lf].strip_suffix(b"\r").map_or(lf, <[u8]>::len);
                (len, len > 2 && line[..len].ends_with(b"--"))
            }
            None => (line.len().min(BOUNDARY_END_MAX_LEN), false),
        };
        let found = self.boundary_find(&line[..find_len], trailing_dashes)?;

        let b = &mut self.boundaries[found];
        let len = b.boundary.len();
        b.epilogue_found = line.get(len..len + 2) == Some(b"--");
        Some(found)
    }

    /// The open boundary that `line` starts with: the newest one first,
    /// and among prefixes the longest (`boundary_find()`).
    fn boundary_find(&self, line: &[u8], trailing_dashes: bool) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, b) in self.boundaries.iter().enumerate().rev() {
            let len = b.boundary.len();
            let longer = best.is_none_or(|x| self.boundaries[x].boundary.len() < len);
            if !line.starts_with(&b.boundary) || !longer {
                continue;
            }
            best = Some(i);
            // "foo--" is either the end of "foo" or the boundary "foo--".
            if len == line.len() || (trailing_dashes && len + 2 == line.len()) {
                break;
            }
        }
        best
    }

    /// A boundary line was found at the cursor (after its line break
    /// unless `first_line`): close the parts inside its multipart and
    /// count the line in the multipart's body (`parse_part_finish()`).
    fn part_finish(&mut self, found: usize, first_line: bool) {
        let owner = self.boundaries[found].part;
        let len = self.boundaries[found].boundary.len();
        let epilogue = self.boundaries[found].epilogue_found;
        while self.part != owner {
            self.finish_part();
        }
        self.boundaries
            .truncate(if epilogue { found } else { found + 1 });

        let newline = match (first_line, self.rest().first()) {
            (true, _) => 0,
            (false, Some(b'\r')) => 2,
            (false, _) => 1,
        };
        let line_len = newline + 2 + len + if epilogue { 2 } else { 0 };
        self.add_body(line_len.min(self.rest().len()));
        self.state = State::SkipBoundaryLine;
    }

    /// Body up to the next boundary line (`parse_next_body_to_boundary()`).
    fn body_to_boundary(&mut self) -> Option<Block<'a>> {
        let rest = self.rest();
        if rest.is_empty() {
            self.state = State::Done;
            return None;
        }
        if self.last_chr == b'\n' {
            if let Some(found) = self.boundary_line_find(self.pos) {
                self.part_finish(found, true);
                return None;
            }
        }

        let mut found = None;
        for lf in memchr::memchr_iter(b'\n', rest) {
            if let Some(b) = self.boundary_line_find(self.pos + lf + 1) {
                let crlf = lf > 0 && rest[lf - 1] == b'\r';
                found = Some((b, if crlf { lf - 1 } else { lf }));
                break;
            }
        }

        let part = self.part;
        let body_len = found.map_or(rest.len(), |(_, start)| start);
        let data = self.add_body(body_len);
        match found {
            Some((b, _)) => self.part_finish(b, false),
            None => self.state = State::Done,
        }
        self.body_block(part, data)
    }

    fn body_to_eof(&mut self) -> Option<Block<'a>> {
        let part = self.part;
        let data = self.add_body(self.rest().len());
        self.state = State::Done;
        self.body_block(part, data)
    }

    /// The rest of a boundary line, then the next part's header or the
    /// epilogue (`parse_next_body_skip_boundary_line()`).
    fn skip_boundary_line(&mut self) -> Option<Block<'a>> {
        let Some(lf) = memchr::memchr(b'\n', self.rest()) else {
            self.add_body(self.rest().len());
            self.state = State::Done;
            return None;
        };
        self.add_body(lf + 1);

        let ours = self.boundaries.last().is_some_and(|b| b.part == self.part);
        self.state = match (ours, self.boundaries.is_empty()) {
            (true, _) => State::MimeHeaderInit,
            (false, false) => State::BodyToBoundary,
            (false, true) => State::BodyToEof,
        };
        None
    }
}

/// Header states.
impl<'a> MessageParser<'a> {
    fn header_init(&mut self) -> Option<Block<'a>> {
        let flags = self.settings.hdr_flags;
        self.header = Some(HeaderParser::new(self.data, self.pos, flags));
        self.part_seen_content_type = false;
        self.prev_hdr_newline_size = 0;
        self.state = State::Header;
        self.header_line()
    }

    fn too_many_nested_parts(&self) -> bool {
        self.nested_parts + 1 >= self.settings.max_nested_mime_parts
    }

    /// At the empty line ending a multipart's header, open its boundary
    /// already, so `\n--boundary` right after is known to be ours.
    fn open_boundary_at_eoh(&mut self) {
        let rest = self.rest();
        let at_eoh = rest.starts_with(b"\n") || rest.starts_with(b"\r\n");
        let is_mime = self.parts[self.part]
            .flags
            .contains(MessagePartFlags::IS_MIME);
        if !at_eoh || !is_mime || self.last_boundary.is_none() {
            return;
        }
        if self.too_many_nested_parts() {
            let flags = self.part_flags();
            *flags |= MessagePartFlags::OVERFLOW;
            flags.remove(MessagePartFlags::MULTIPART);
            return;
        }
        let boundary = self.last_boundary.take().unwrap_or_default();
        self.boundaries.push(Boundary {
            part: self.part,
            boundary,
            epilogue_found: false,
        });
        self.multipart = true;
    }

    /// A boundary of an enclosing multipart cuts this header short: the
    /// line break before it belongs to the boundary, in the parent.
    fn header_cut_by_boundary(&mut self) {
        let newline = self.prev_hdr_newline_size;
        if newline == 0 {
            return;
        }
        let part = &mut self.parts[self.part];
        part.header_size.lines = part.header_size.lines.wrapping_sub(1);
        part.header_size.physical_size -= newline;
        part.header_size.virtual_size -= 2;
        let Some(parent) = part.parent else {
            return;
        };
        let body = &mut self.parts[parent].body_size;
        body.lines = body.lines.wrapping_add(1);
        body.physical_size += newline;
        body.virtual_size += 2;
    }

    /// One header line, or the end of the header
    /// (`parse_next_header()`).
    fn header_line(&mut self) -> Option<Block<'a>> {
        let at_eof = self.rest().is_empty();
        if !at_eof {
            self.open_boundary_at_eoh();
        }
        let cut = !at_eof
            && !self.boundaries.is_empty()
            && self
                .boundary_line_find(self.pos)
                .is_some_and(|b| self.boundaries[b].part != self.part);

        let line = if cut {
            self.header_cut_by_boundary();
            None
        } else {
            self.read_header_line()
        };
        match line {
            Some(line) => Some(self.header_block(line)),
            None => Some(self.end_of_header()),
        }
    }

    fn read_header_line(&mut self) -> Option<HeaderLine<'a>> {
        let header = self.header.as_mut()?;
        let line = header.next_line();
        self.parts[self.part].header_size = header.size();
        self.pos = header.pos();
        line
    }

    fn header_block(&mut self, line: HeaderLine<'a>) -> Block<'a> {
        if line.eoh {
        } else if line.name_is("Mime-Version") {
            *self.part_flags() |= MessagePartFlags::IS_MIME;
        } else if line.name_is("Content-Type") {
            if !self.settings.mime_version_strict {
                *self.part_flags() |= MessagePartFlags::IS_MIME;
            }
            if !line.continues {
                self.parse_content_type(&line.full_value);
            }
        }
        self.prev_hdr_newline_size = match (line.no_newline, line.crlf_newline) {
            (true, _) => 0,
            (false, true) => 2,
            (false, false) => 1,
        };
        Block::Header {
            part: self.part,
            line,
        }
    }
}

/// End of a header: what the part is, and how its body is read.
impl<'a> MessageParser<'a> {
    fn end_of_header(&mut self) -> Block<'a> {
        let parent_digest = self.parts[self.part].parent.is_some_and(|p| {
            self.parts[p]
                .flags
                .contains(MessagePartFlags::MULTIPART_DIGEST)
        });
        let seen_content_type = self.part_seen_content_type;
        let flags = self.part_flags();
        if !flags.contains(MessagePartFlags::IS_MIME) {
            // Not MIME: whatever Content-Type said does not count.
            *flags = MessagePartFlags::empty();
        }
        if !seen_content_type || !flags.contains(MessagePartFlags::IS_MIME) {
            *flags |= if parent_digest {
                MessagePartFlags::MESSAGE_RFC822
            } else {
                MessagePartFlags::TEXT
            };
        }
        self.last_boundary = None;
        if let Some(header) = self.header.take() {
            if header.has_nuls() {
                *self.part_flags() |= MessagePartFlags::HAS_NULS;
            }
        }

        self.last_chr = b'\n';
        self.state = self.body_state();
        Block::EndOfHeader { part: self.part }
    }

    fn body_state(&mut self) -> State {
        let to_boundary_or_eof = if self.boundaries.is_empty() {
            State::BodyToEof
        } else {
            State::BodyToBoundary
        };
        if self.multipart {
            self.multipart = false;
            return State::BodyToBoundary;
        }
        if !self.parts[self.part]
            .flags
            .contains(MessagePartFlags::MESSAGE_RFC822)
        {
            return to_boundary_or_eof;
        }
        if !self.too_many_nested_parts() && self.total_parts < self.settings.max_total_mime_parts {
            return State::Rfc822Init;
        }
        let flags = self.part_flags();
        *flags |= MessagePartFlags::OVERFLOW;
        flags.remove(MessagePartFlags::MESSAGE_RFC822);
        to_boundary_or_eof
    }

    /// The first Content-Type of a part sets its kind, and a multipart's
    /// boundary (`parse_content_type()`).
    fn parse_content_type(&mut self, value: &[u8]) {
        if self.part_seen_content_type {
            return;
        }
        self.part_seen_content_type = true;

        let mut parser = Rfc822Parser::new(value);
        let _ = parser.skip_lwsp();
        let mut content_type = Vec::new();
        let parsed = parser.parse_content_type(&mut content_type);
        *self.part_flags() |= content_type_flags(&content_type);

        let is_multipart = self.parts[self.part]
            .flags
            .contains(MessagePartFlags::MULTIPART);
        if parsed.is_err() || !is_multipart || self.last_boundary.is_some() {
            return;
        }
        if let Some(mut boundary) = content_param(&mut parser, b"boundary") {
            // A C string: it ends at a NUL; and overlong ones are cut.
            boundary.truncate(memchr::memchr(0, &boundary).unwrap_or(boundary.len()));
            boundary.truncate(BOUNDARY_STRING_MAX_LEN);
            self.last_boundary = Some(boundary);
        }
    }
}

/// The part flags a content type implies.
fn content_type_flags(content_type: &[u8]) -> MessagePartFlags {
    let lower = content_type.to_ascii_lowercase();
    if lower == b"message/rfc822" {
        MessagePartFlags::MESSAGE_RFC822
    } else if lower == b"text" || lower.starts_with(b"text/") {
        MessagePartFlags::TEXT
    } else if let Some(subtype) = lower.strip_prefix(b"multipart/") {
        if subtype == b"digest" {
            MessagePartFlags::MULTIPART | MessagePartFlags::MULTIPART_DIGEST
        } else {
            MessagePartFlags::MULTIPART
        }
    } else {
        MessagePartFlags::empty()
    }
}

/// The first parameter called `name` (case-insensitively) after the
/// content type, RFC 2231 continuations merged.
pub(crate) fn content_param(parser: &mut Rfc822Parser<'_>, name: &[u8]) -> Option<Vec<u8>> {
    let params = rfc2231_parser::parse(parser).params;
    let mut found = params
        .into_iter()
        .filter(|(key, _)| key.eq_ignore_ascii_case(name));
    found.next().map(|(_, value)| value)
}
