//! The RFC 822/5322 token reader (Dovecot's `rfc822-parser.c`).
//!
//! [`Rfc822Parser`] walks a header value and pulls out the pieces other
//! parsers are built from: atoms, dot-atoms, MIME tokens, quoted
//! strings, phrases, domains, comments, and the `type/subtype; key=value`
//! shape of `Content-Type` and `Content-Disposition`.
//!
//! Every reader keeps Dovecot's contract: on success it skips the
//! whitespace and comments that follow the value (never those before
//! it) and says whether input remains ([`Next::More`]) or not
//! ([`Next::End`]); on malformed input it fails with an
//! [`Rfc822Error`] naming the offset. Values are appended to a caller's
//! byte buffer, as Dovecot appends to a `string_t`.
//!
//! RFC 2231 parameter merging lives in `rfc2231_parser`, on top of
//! [`Rfc822Parser::parse_content_param`].

use std::fmt;

/// The UTF-8 replacement character, what Dovecot puts in place of NULs.
pub const NUL_REPLACEMENT: &[u8] = "\u{fffd}".as_bytes();

/// Whether input remains after a successfully read value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// More bytes follow (after the skipped whitespace).
    More,
    /// The input is exhausted.
    End,
}

/// Malformed input: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("offset {offset}: {reason}")]
pub struct Rfc822Error {
    pub offset: usize,
    pub reason: &'static str,
}

pub type Result<T> = std::result::Result<T, Rfc822Error>;

/// How a byte takes part in atoms and MIME tokens.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AtextClass {
    /// Not atext: controls, space, specials.
    No,
    /// atext that is also a MIME token character (letters, digits,
    /// 8-bit bytes and the symbols RFC 5322 allows).
    Token,
    /// atext that MIME calls a tspecial: `/`, `=`, `?`.
    MimeSpecial,
}

fn atext_class(c: u8) -> AtextClass {
    match c {
        b'/' | b'=' | b'?' => AtextClass::MimeSpecial,
        b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | 0x80..=0xff => AtextClass::Token,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' => AtextClass::Token,
        b'^' | b'_' | b'`' | b'{' | b'|' | b'}' | b'~' => AtextClass::Token,
        _ => AtextClass::No,
    }
}

/// RFC 5322 atext (Dovecot's `IS_ATEXT`).
pub fn is_atext(c: u8) -> bool {
    atext_class(c) != AtextClass::No
}

/// atext minus MIME's tspecials (Dovecot's `IS_ATEXT_NON_TSPECIAL`).
pub fn is_atext_non_tspecial(c: u8) -> bool {
    atext_class(c) == AtextClass::Token
}

/// A cursor over one header value.
pub struct Rfc822Parser<'a> {
    data: &'a [u8],
    pos: usize,
    /// When set, [`Rfc822Parser::skip_comment`] stores the text of the
    /// last comment here (unescaped, folding removed).
    pub last_comment: Option<Vec<u8>>,
    /// When set, NULs inside quoted strings, comments and domain
    /// literals are replaced by these bytes.
    pub nul_replacement: Option<&'a [u8]>,
}

impl fmt::Debug for Rfc822Parser<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rfc822Parser(at {} of {})", self.pos, self.data.len())
    }
}

impl<'a> Rfc822Parser<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Rfc822Parser {
            data,
            pos: 0,
            last_comment: None,
            nul_replacement: None,
        }
    }

    /// Like [`Rfc822Parser::new`], keeping the last comment's text.
    pub fn with_last_comment(data: &'a [u8]) -> Self {
        let mut parser = Self::new(data);
        parser.last_comment = Some(Vec::new());
        parser
    }

    /// Offset of the cursor in the input.
    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The byte under the cursor, if any.
    pub fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// The unread input.
    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.pos.min(self.data.len())..]
    }

    /// Step over `n` bytes (never past the end).
    pub fn advance(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.data.len());
    }

    /// Move the cursor back to `pos`, an offset [`Rfc822Parser::pos`]
    /// returned earlier, to try another reading of the same input.
    pub fn rewind(&mut self, pos: usize) {
        self.pos = pos.min(self.data.len());
    }

    fn next_state(&self) -> Next {
        if self.at_end() { Next::End } else { Next::More }
    }

    fn error(&self, reason: &'static str) -> Rfc822Error {
        Rfc822Error {
            offset: self.pos,
            reason,
        }
    }

    fn is(&self, c: u8) -> bool {
        self.peek() == Some(c)
    }
}

/// Drop the CR of a CRLF ending `piece` (folding inside a value).
fn without_cr(piece: &[u8]) -> &[u8] {
    piece.strip_suffix(b"\r").unwrap_or(piece)
}

/// A NUL or LF `c` inside a quoted value ends `piece`: append it with
/// the NUL replaced (when a replacement is set) or the folding line
/// break removed. Returns whether `c` was consumed.
fn fold_or_replace(out: &mut Vec<u8>, piece: &[u8], c: u8, nul: Option<&[u8]>) -> bool {
    match (c, nul) {
        (b'\n', _) => out.extend_from_slice(without_cr(piece)),
        (_, Some(replacement)) => {
            out.extend_from_slice(piece);
            out.extend_from_slice(replacement);
        }
        (_, None) => return false,
    }
    true
}

/// Is `c` one of the bytes a quoted-pair may not escape?
fn is_unescapable(c: u8) -> bool {
    matches!(c, b'\r' | b'\n' | 0)
}

impl Rfc822Parser<'_> {
    /// Skip a comment, nested ones included. The cursor must be on `(`.
    pub fn skip_comment(&mut self) -> Result<Next> {
        debug_assert!(self.is(b'('));
        if let Some(comment) = &mut self.last_comment {
            comment.clear();
        }
        let data = self.data;
        let mut level = 1;
        let mut start = self.pos + 1;
        let mut i = start;
        while i < data.len() {
            match data[i] {
                0 => {
                    if let (Some(c), Some(r)) = (&mut self.last_comment, self.nul_replacement) {
                        c.extend_from_slice(&data[start..i]);
                        c.extend_from_slice(r);
                        start = i + 1;
                    }
                }
                b'(' => level += 1,
                b')' => {
                    level -= 1;
                    if level == 0 {
                        if let Some(c) = &mut self.last_comment {
                            c.extend_from_slice(&data[start..i]);
                        }
                        self.pos = i + 1;
                        return Ok(self.next_state());
                    }
                }
                b'\n' => {
                    if let Some(c) = &mut self.last_comment {
                        c.extend_from_slice(without_cr(&data[start..i]));
                        start = i + 1;
                    }
                }
                b'\\' => {
                    i += 1;
                    if i >= data.len() {
                        self.pos = i;
                        return Err(self.error("comment ends in a backslash"));
                    }
                    if !is_unescapable(data[i]) {
                        if let Some(c) = &mut self.last_comment {
                            c.extend_from_slice(&data[start..i - 1]);
                        }
                        start = i;
                    } else {
                        continue;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        self.pos = i;
        Err(self.error("missing ')' after comment"))
    }

    /// Skip spaces, tabs, line breaks and comments.
    pub fn skip_lwsp(&mut self) -> Result<Next> {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'(' => {
                    self.skip_comment()?;
                }
                _ => break,
            }
        }
        Ok(self.next_state())
    }

    /// Append the run of bytes from the cursor for which `accept` holds,
    /// then skip the whitespace after it (unless the input ended).
    fn take_while(&mut self, out: &mut Vec<u8>, accept: fn(u8) -> bool) -> Result<Next> {
        let rest = self.rest();
        let len = rest.iter().position(|&c| !accept(c)).unwrap_or(rest.len());
        out.extend_from_slice(&rest[..len]);
        self.pos += len;
        if self.at_end() {
            return Ok(Next::End);
        }
        self.skip_lwsp()
    }

    /// An atom: one or more atext bytes.
    pub fn parse_atom(&mut self, out: &mut Vec<u8>) -> Result<Next> {
        match self.peek() {
            Some(c) if is_atext(c) => self.take_while(out, is_atext),
            _ => Err(self.error("atom expected")),
        }
    }

    /// A dot-atom; whitespace and comments around the dots are allowed,
    /// as RFC 822 did, and left out of `out`.
    pub fn parse_dot_atom(&mut self, out: &mut Vec<u8>) -> Result<Next> {
        if !self.peek().is_some_and(is_atext) {
            return Err(self.error("dot-atom expected"));
        }
        loop {
            let rest = self.rest();
            let len = rest
                .iter()
                .position(|&c| !is_atext(c))
                .unwrap_or(rest.len());
            if len == 0 {
                return Err(self.error("atext expected after '.'"));
            }
            out.extend_from_slice(&rest[..len]);
            self.pos += len;
            if self.at_end() || self.skip_lwsp()? == Next::End {
                return Ok(Next::End);
            }
            if !self.is(b'.') {
                return Ok(Next::More);
            }

            self.pos += 1;
            out.push(b'.');
            if self.skip_lwsp()? == Next::End {
                return Err(self.error("dot-atom ends in '.'"));
            }
        }
    }

    /// A MIME token (RFC 2045): atext without `/`, `=`, `?`, plus `.`.
    /// May be empty.
    pub fn parse_mime_token(&mut self, out: &mut Vec<u8>) -> Result<Next> {
        self.take_while(out, |c| is_atext_non_tspecial(c) || c == b'.')
    }

    /// A quoted string, unescaped, with folding line breaks removed. The
    /// cursor must be on `"`.
    pub fn parse_quoted_string(&mut self, out: &mut Vec<u8>) -> Result<Next> {
        debug_assert!(self.is(b'"'));
        let data = self.data;
        let mut start = self.pos + 1;
        let mut i = start;
        while i < data.len() {
            match data[i] {
                c @ (0 | b'\n') => {
                    let nul = self.nul_replacement;
                    if fold_or_replace(out, &data[start..i], c, nul) {
                        start = i + 1;
                    }
                }
                b'"' => {
                    out.extend_from_slice(&data[start..i]);
                    self.pos = i + 1;
                    return self.skip_lwsp();
                }
                b'\\' => {
                    i += 1;
                    if i >= data.len() {
                        self.pos = i;
                        return Err(self.error("quoted string ends in a backslash"));
                    }
                    if is_unescapable(data[i]) {
                        continue;
                    }
                    out.extend_from_slice(&data[start..i - 1]);
                    start = i;
                }
                _ => {}
            }
            i += 1;
        }
        self.pos = i;
        Err(self.error("missing '\"' after quoted string"))
    }

    /// An atom or a quoted string, repeated: words are joined with one
    /// space; dots are kept (obs-phrase).
    pub fn parse_phrase(&mut self, out: &mut Vec<u8>) -> Result<Next> {
        match self.peek() {
            None => return Ok(Next::End),
            Some(b'.') => return Err(self.error("phrase starts with '.'")),
            Some(_) => {}
        }
        loop {
            let next = if self.is(b'"') {
                self.parse_quoted_string(out)?
            } else {
                self.take_while(out, |c| is_atext(c) || c == b'.')?
            };
            if next == Next::End {
                return Ok(Next::End);
            }
            let c = self.peek().unwrap_or(0);
            if !is_atext(c) && c != b'"' && c != b'.' {
                return self.skip_lwsp();
            }
            out.push(b' ');
        }
    }

    /// `[...]`, kept whole with its brackets and backslashes; folding
    /// line breaks removed. The cursor must be on `[`.
    fn parse_domain_literal(&mut self, out: &mut Vec<u8>) -> Result<Next> {
        debug_assert!(self.is(b'['));
        let data = self.data;
        let mut start = self.pos;
        let mut i = start + 1;
        while i < data.len() {
            match data[i] {
                c @ (0 | b'\n') => {
                    let nul = self.nul_replacement;
                    if fold_or_replace(out, &data[start..i], c, nul) {
                        start = i + 1;
                    }
                }
                b'[' => {
                    self.pos = i;
                    return Err(self.error("'[' inside a domain literal"));
                }
                b']' => {
                    out.extend_from_slice(&data[start..=i]);
                    self.pos = i + 1;
                    return self.skip_lwsp();
                }
                b'\\' => {
                    i += 1;
                    if i >= data.len() {
                        self.pos = i;
                        return Err(self.error("domain literal ends in a backslash"));
                    }
                    if is_unescapable(data[i]) {
                        out.extend_from_slice(&data[start..i]);
                        start = i;
                        continue;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        self.pos = i;
        Err(self.error("missing ']' after domain literal"))
    }

    /// A domain after `@`: a dot-atom or a domain literal. The cursor
    /// must be on `@`.
    pub fn parse_domain(&mut self, out: &mut Vec<u8>) -> Result<Next> {
        debug_assert!(self.is(b'@'));
        self.pos += 1;
        if self.skip_lwsp()? == Next::End {
            return Err(self.error("domain expected after '@'"));
        }
        if self.is(b'[') {
            self.parse_domain_literal(out)
        } else {
            self.parse_dot_atom(out)
        }
    }

    /// `type/subtype` of a Content-Type value, appended to `out`.
    ///
    /// On failure `out` is put back as it was, except when the main type
    /// was read and nothing follows it: then the main type stays, as in
    /// Dovecot (so `Content-Type: text` still counts as text).
    pub fn parse_content_type(&mut self, out: &mut Vec<u8>) -> Result<Next> {
        let start = out.len();
        if self.skip_lwsp()? == Next::End {
            return Err(self.error("content type expected"));
        }
        if self.parse_mime_token(out)? == Next::End || out.len() == start {
            return Err(self.error("content type needs type/subtype"));
        }
        if !self.is(b'/') {
            out.truncate(start);
            return Err(self.error("'/' expected in content type"));
        }

        self.pos += 1;
        if !matches!(self.skip_lwsp(), Ok(Next::More)) {
            out.truncate(start);
            return Err(self.error("subtype expected in content type"));
        }
        out.push(b'/');
        let sub_start = out.len();
        let next = self.parse_mime_token(out);
        if next.is_err() || out.len() == sub_start || !(self.at_end() || self.is(b';')) {
            out.truncate(start);
            return Err(self.error("bad subtype in content type"));
        }
        next
    }

    /// One `; key=value` parameter. Returns the key with the value in
    /// `value` (unquoted), or `None` at the end of the input.
    pub fn parse_content_param(&mut self, value: &mut Vec<u8>) -> Result<Option<Vec<u8>>> {
        value.clear();
        if self.at_end() {
            return Ok(None);
        }
        if !self.is(b';') {
            return Err(self.error("';' expected before parameter"));
        }
        self.pos += 1;
        if self.skip_lwsp()? == Next::End {
            return Err(self.error("parameter expected after ';'"));
        }

        let mut key = Vec::new();
        if self.parse_mime_token(&mut key)? == Next::End || !self.is(b'=') {
            return Err(self.error("'=' expected after parameter name"));
        }
        self.pos += 1;

        match self.skip_lwsp()? {
            Next::End => {}
            Next::More if self.is(b'"') => {
                self.parse_quoted_string(value)?;
            }
            Next::More if self.is(b'=') => self.take_encoded_word_value(value),
            Next::More => {
                self.parse_mime_token(value)?;
            }
        }
        Ok(Some(key))
    }

    /// Broken senders write `name==?utf-8?b?...?=` unquoted: take the
    /// bytes up to the next `;` or whitespace as they are.
    fn take_encoded_word_value(&mut self, value: &mut Vec<u8>) {
        let rest = self.rest();
        let len = rest
            .iter()
            .position(|c| matches!(c, b';' | b' ' | b'\t' | b'\r' | b'\n'))
            .unwrap_or(rest.len());
        value.extend_from_slice(&rest[..len]);
        self.pos += len;
    }
}
