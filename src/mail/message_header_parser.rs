//! Splitting a message header into lines (Dovecot's
//! `message-header-parser.c`).
//!
//! [`HeaderParser`] reads one header block from a message held in
//! memory and yields a [`HeaderLine`] per physical line: the name, the
//! separator ("middle"), the value, and on the last line of a folded
//! header the whole unfolded value. It counts the block's size the way
//! Dovecot does (physical bytes, bytes with bare LFs counted as CRLF,
//! lines), handles lines without a colon, NULs, bare LF and CRLF line
//! ends, and a last line without a line end.
//!
//! Differences from Dovecot, on purpose: the whole message is in memory,
//! so a line is never split because an input buffer filled up.
//!
//! Debian's 2.3.19.1 carries the CVE-2024-23185 fix: the values of one
//! header block may add up to 10 MB ([`HEADER_BLOCK_DEFAULT_MAX_SIZE`],
//! `message_parse_header_set_limit()`); the value that reaches the limit
//! is cut one byte short of it and later values are empty, while sizes
//! still count every byte. (Measured against Debian's doveadm.)

use std::borrow::Cow;

use bitflags::bitflags;

use crate::mail::message_part::MessageSize;

/// RFC 5322's line limit; longer names make the whole line a value.
const HEADER_NAME_MAX_LEN: usize = 1000;

/// How many value bytes one header block may have
/// (`MESSAGE_HEADER_BLOCK_DEFAULT_MAX_SIZE`).
pub const HEADER_BLOCK_DEFAULT_MAX_SIZE: usize = 10 * 1024 * 1024;

bitflags! {
    /// `enum message_header_parser_flags` (values are interface).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct HeaderParserFlags: u32 {
        /// Skip all whitespace after `name:`, not only one space.
        const SKIP_INITIAL_LWSP = 0x01;
        /// Leave CRs out of the unfolded value.
        const DROP_CR = 0x02;
        /// Unfold `[CR]LF + whitespace` into one space.
        const CLEAN_ONELINE = 0x04;
    }
}

/// Space or tab (Dovecot's `IS_LWSP`).
pub fn is_lwsp(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// One physical header line (`struct message_header_line`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderLine<'a> {
    /// Empty for lines without a colon (and for overlong names); on
    /// continuation lines, the name of the header they continue.
    pub name: &'a [u8],
    /// What separates name and value: the colon and whitespace (on
    /// continuation lines, that of the header's first line).
    pub middle: &'a [u8],
    /// This line's part of the value, without the line end.
    pub value: &'a [u8],
    /// The unfolded value of the whole header, set on the header's last
    /// line (`continues == false`); empty on earlier lines.
    pub full_value: Cow<'a, [u8]>,
    /// Offsets in the message of the header's first line and value.
    pub name_offset: u64,
    pub full_value_offset: u64,
    /// The next line continues this header.
    pub continues: bool,
    /// This line continues the previous one.
    pub continued: bool,
    /// The empty line ending the header block.
    pub eoh: bool,
    /// The line had no line end (end of input).
    pub no_newline: bool,
    /// The line ended with CRLF.
    pub crlf_newline: bool,
}

impl HeaderLine<'_> {
    /// The name as Dovecot compares it: up to the first NUL.
    pub fn c_name(&self) -> &[u8] {
        let end = memchr::memchr(0, self.name).unwrap_or(self.name.len());
        &self.name[..end]
    }

    /// Case-insensitive name comparison, as Dovecot's `strcasecmp()`.
    pub fn name_is(&self, name: &str) -> bool {
        self.c_name().eq_ignore_ascii_case(name.as_bytes())
    }

    /// The line as it was read, line end included
    /// (`message_header_line_write()`).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        if !self.continued {
            out.extend_from_slice(self.name);
            out.extend_from_slice(self.middle);
        }
        out.extend_from_slice(self.value);
        if !self.no_newline {
            if self.crlf_newline {
                out.push(b'\r');
            }
            out.push(b'\n');
        }
    }
}

/// `message_header_name_is_valid()`: RFC 5322 ftext only.
pub fn header_name_is_valid(name: &[u8]) -> bool {
    name.iter().all(|&c| (33..=126).contains(&c) && c != b':')
}

/// `message_header_strdup()`: the value with each NUL replaced by
/// U+FFFD.
pub fn header_value_without_nuls(value: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(0, value).is_none() {
        return Cow::Borrowed(value);
    }
    let mut out = Vec::with_capacity(value.len() + 2);
    for &c in value {
        match c {
            0 => out.extend_from_slice(crate::mail::rfc822_parser::NUL_REPLACEMENT),
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Where a physical line ends, as found by [`HeaderParser::scan_line`].
struct LineEnd {
    /// Position of the colon in the line, for the header's first line.
    colon: Option<usize>,
    /// Length of the line's content (no line end).
    size: usize,
    /// Bytes consumed, line end included.
    skip: usize,
    crlf: bool,
    no_newline: bool,
    continues: bool,
}

/// Reads the header lines of one header block (`message_parse_header_*`).
#[derive(Debug)]
pub struct HeaderParser<'a> {
    data: &'a [u8],
    pos: usize,
    flags: HeaderParserFlags,
    size: MessageSize,
    has_nuls: bool,
    eoh: bool,

    /// The header being read (for continuation lines).
    name: &'a [u8],
    middle: &'a [u8],
    name_offset: u64,
    full_value_offset: u64,
    continues: bool,
    last_crlf: bool,
    last_no_newline: bool,
    /// The unfolded value so far, when flags or the size limit make it
    /// differ from the input bytes.
    value_buf: Vec<u8>,
    /// The current header's unfolded value is built in `value_buf`.
    header_owned: bool,
    /// End of the previous line's content.
    prev_content_end: usize,

    /// Value bytes allowed in the block, and used so far.
    max_size: usize,
    used: usize,
}

impl<'a> HeaderParser<'a> {
    /// A parser for the header block starting at `start` in `data`.
    pub fn new(data: &'a [u8], start: usize, flags: HeaderParserFlags) -> Self {
        HeaderParser {
            data,
            pos: start.min(data.len()),
            flags,
            size: MessageSize::default(),
            has_nuls: false,
            eoh: false,
            name: b"",
            middle: b"",
            name_offset: 0,
            full_value_offset: 0,
            continues: false,
            last_crlf: false,
            last_no_newline: false,
            value_buf: Vec::new(),
            header_owned: false,
            prev_content_end: 0,
            max_size: HEADER_BLOCK_DEFAULT_MAX_SIZE,
            used: 0,
        }
    }

    /// How many value bytes the block may have
    /// (`message_parse_header_set_limit()`).
    pub fn set_limit(&mut self, max_size: usize) {
        self.max_size = max_size;
    }

    /// Lower the limit, never raise it
    /// (`message_parse_header_lower_limit()`).
    pub fn lower_limit(&mut self, max_size: usize) {
        self.max_size = self.max_size.min(max_size);
    }

    /// Size of the lines read so far.
    pub fn size(&self) -> MessageSize {
        self.size
    }

    /// Offset just after the last line read.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Did any line read so far contain a NUL?
    pub fn has_nuls(&self) -> bool {
        self.has_nuls
    }

    /// Find the end of the line at the cursor, and its colon if `want_colon`.
    fn scan_line(&mut self, want_colon: bool) -> Option<LineEnd> {
        let msg = &self.data[self.pos..];
        let mut colon = None;
        let mut search_colon = want_colon;
        for (i, &c) in msg.iter().enumerate() {
            if c > b':' {
                continue;
            }
            match c {
                b':' if search_colon => {
                    colon = Some(i);
                    search_colon = false;
                }
                0 => self.has_nuls = true,
                b'\n' => return Some(self.line_end(msg, i, colon)),
                _ => {}
            }
        }
        if msg.is_empty() {
            return None;
        }
        Some(LineEnd {
            colon,
            size: msg.len(),
            skip: msg.len(),
            crlf: false,
            no_newline: true,
            continues: false,
        })
    }

    fn line_end(&self, msg: &[u8], lf: usize, colon: Option<usize>) -> LineEnd {
        let crlf = lf > 0 && msg[lf - 1] == b'\r';
        LineEnd {
            colon,
            size: if crlf { lf - 1 } else { lf },
            skip: lf + 1,
            crlf,
            no_newline: false,
            continues: msg.get(lf + 1).copied().is_some_and(is_lwsp),
        }
    }
}

impl<'a> HeaderParser<'a> {
    /// The next line, or `None` after the end of the header block (the
    /// empty line, returned once with `eoh` set) or of the input.
    pub fn next_line(&mut self) -> Option<HeaderLine<'a>> {
        if self.eoh {
            return None;
        }
        let continued = self.continues;
        let start = self.pos;
        if !continued {
            self.name_offset = start as u64;
            self.value_buf.clear();
            self.header_owned = false;
        }
        let end = self.scan_line(!continued)?;
        self.count_line(&end);
        self.pos = start + end.skip;

        let line = &self.data[start..start + end.size];
        let mut hdr = if end.size == 0 && !continued {
            self.end_of_header(&end)
        } else if continued {
            self.continuation(line, &end)
        } else {
            self.first_line(line, &end)
        };
        self.apply_limit(&mut hdr);
        hdr.full_value = self.full_value(&hdr, start);
        self.prev_content_end = start + end.size;

        self.last_crlf = end.crlf && !self.flags.contains(HeaderParserFlags::DROP_CR);
        self.last_no_newline = end.no_newline;
        self.continues = hdr.continues;
        Some(hdr)
    }

    /// Cut the value at the block's size limit. A header cut short has
    /// its unfolded value built in `value_buf` from then on.
    fn apply_limit(&mut self, hdr: &mut HeaderLine<'a>) {
        let len = hdr.value.len();
        if self.used + len < self.max_size {
            self.used += len;
            return;
        }
        let keep = self.max_size.saturating_sub(self.used + 1).min(len);
        self.used = self.max_size;
        if keep == len {
            return;
        }
        hdr.value = &hdr.value[..keep];
        if !self.header_owned && !self.folds_itself() {
            self.header_owned = true;
            self.value_buf.clear();
            if hdr.continued {
                let from = self.full_value_offset as usize;
                let to = self.prev_content_end.max(from);
                self.value_buf.extend_from_slice(&self.data[from..to]);
            }
        }
    }

    fn count_line(&mut self, end: &LineEnd) {
        if !end.no_newline {
            self.size.lines = self.size.lines.wrapping_add(1);
            if !end.crlf {
                self.size.virtual_size += 1;
            }
        }
        self.size.physical_size += end.skip as u64;
        self.size.virtual_size += end.skip as u64;
    }

    fn blank_line(&self, end: &LineEnd) -> HeaderLine<'a> {
        HeaderLine {
            name: b"",
            middle: b"",
            value: b"",
            full_value: Cow::Borrowed(b""),
            name_offset: self.name_offset,
            full_value_offset: self.name_offset,
            continues: end.continues,
            continued: false,
            eoh: false,
            no_newline: end.no_newline,
            crlf_newline: end.crlf,
        }
    }

    fn end_of_header(&mut self, end: &LineEnd) -> HeaderLine<'a> {
        self.eoh = true;
        HeaderLine {
            eoh: true,
            continues: false,
            ..self.blank_line(end)
        }
    }

    fn continuation(&self, line: &'a [u8], end: &LineEnd) -> HeaderLine<'a> {
        HeaderLine {
            name: self.name,
            middle: self.middle,
            value: line,
            full_value_offset: self.full_value_offset,
            continued: true,
            ..self.blank_line(end)
        }
    }

    /// The first line of a header: split name, middle and value.
    fn first_line(&mut self, line: &'a [u8], end: &LineEnd) -> HeaderLine<'a> {
        let whole_line_as_value = HeaderLine {
            value: line,
            ..self.blank_line(end)
        };
        let Some(colon) = end.colon else {
            return self.remember(whole_line_as_value);
        };

        let value = &line[colon + 1..];
        let skip = self.initial_lwsp(value);
        let mut name_end = colon;
        while name_end > 0 && is_lwsp(line[name_end - 1]) {
            name_end -= 1;
        }
        if name_end > HEADER_NAME_MAX_LEN {
            return self.remember(whole_line_as_value);
        }
        self.remember(HeaderLine {
            name: &line[..name_end],
            middle: &line[name_end..colon + 1 + skip],
            value: &value[skip..],
            full_value_offset: self.name_offset + (colon + 1 + skip) as u64,
            ..self.blank_line(end)
        })
    }

    fn remember(&mut self, hdr: HeaderLine<'a>) -> HeaderLine<'a> {
        self.name = hdr.name;
        self.middle = hdr.middle;
        self.full_value_offset = hdr.full_value_offset;
        hdr
    }

    /// How much whitespace after the colon is not part of the value.
    fn initial_lwsp(&self, value: &[u8]) -> usize {
        let starts_lwsp = value.first().copied().is_some_and(is_lwsp);
        if !self.flags.contains(HeaderParserFlags::SKIP_INITIAL_LWSP) {
            return usize::from(starts_lwsp);
        }
        match value.iter().position(|&c| !is_lwsp(c)) {
            Some(n) => n,
            None => usize::from(starts_lwsp),
        }
    }

    /// Do the flags make the unfolded value differ from the input bytes?
    fn folds_itself(&self) -> bool {
        let folding = HeaderParserFlags::DROP_CR | HeaderParserFlags::CLEAN_ONELINE;
        self.flags.intersects(folding)
    }

    /// The unfolded value, on the header's last line.
    fn full_value(&mut self, hdr: &HeaderLine<'a>, line_start: usize) -> Cow<'a, [u8]> {
        let exact = !self.header_owned && !self.folds_itself();
        if exact {
            if hdr.continues || hdr.eoh {
                return Cow::Borrowed(b"");
            }
            if !hdr.continued {
                return Cow::Borrowed(hdr.value);
            }
            let from = self.full_value_offset as usize;
            let to = line_start + hdr.value.len();
            return Cow::Borrowed(&self.data[from..to]);
        }

        self.append_folded(hdr);
        if hdr.continues || hdr.eoh {
            return Cow::Borrowed(b"");
        }
        Cow::Owned(std::mem::take(&mut self.value_buf))
    }

    fn append_folded(&mut self, hdr: &HeaderLine<'a>) {
        if !hdr.continued {
            self.value_buf.extend_from_slice(hdr.value);
            return;
        }
        let clean = self.flags.contains(HeaderParserFlags::CLEAN_ONELINE);
        if !self.last_no_newline && !clean {
            if self.last_crlf {
                self.value_buf.push(b'\r');
            }
            self.value_buf.push(b'\n');
        }
        match hdr.value.first() {
            Some(&c) if clean && c != b' ' && is_lwsp(c) => {
                self.value_buf.push(b' ');
                self.value_buf.extend_from_slice(&hdr.value[1..]);
            }
            _ => self.value_buf.extend_from_slice(hdr.value),
        }
    }
}

impl<'a> Iterator for HeaderParser<'a> {
    type Item = HeaderLine<'a>;

    fn next(&mut self) -> Option<HeaderLine<'a>> {
        self.next_line()
    }
}
