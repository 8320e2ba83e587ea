//! HTML to plain text, as Dovecot does it for snippets and search
//! (`mail-html2text.c`).
//!
//! [`Html2Text`] drops tags, comments, scripts and styles, decodes
//! HTML 4 entities and numeric references, turns a tag into one space,
//! keeps CDATA text, and marks `<blockquote>` text with `>` (or drops it
//! with [`Html2Text::skip_quoted`]). Input may arrive in pieces of any
//! size: a tag name, entity or end tag cut by the end of a piece waits
//! for the next one, and what is still waiting when the input ends is
//! dropped, as in Dovecot.

use crate::mail::html_entities::HTML_ENTITIES;

fn is_html_whitespace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Is this content type converted by html2text?
/// (`mail_html2text_content_type_match()`)
pub fn content_type_match(content_type: &[u8]) -> bool {
    content_type.eq_ignore_ascii_case(b"text/html")
        || content_type.eq_ignore_ascii_case(b"application/xhtml+xml")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Text,
    Tag,
    TagDquoted,
    TagDquotedEscape,
    TagSquoted,
    TagSquotedEscape,
    Comment,
    CommentEnd,
    Script,
    Style,
    Cdata,
}

/// The converter (`struct mail_html2text`).
#[derive(Debug, Default)]
pub struct Html2Text {
    skip_quoted: bool,
    state: State,
    /// Input that could not be decided yet.
    pending: Vec<u8>,
    quote_level: u32,
    add_newline: bool,
}

/// What a step over the input decided.
enum Parsed {
    /// Skip this many bytes.
    Skip(usize),
    /// Wait for more input.
    NeedMore,
}

fn starts_with_icase(data: &[u8], prefix: &[u8]) -> bool {
    data.len() >= prefix.len() && data[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// `name` followed by whitespace or `>`.
fn tag_is(data: &[u8], name: &[u8]) -> bool {
    starts_with_icase(data, name)
        && data
            .get(name.len())
            .is_some_and(|&c| is_html_whitespace(c) || c == b'>')
}

impl Html2Text {
    pub fn new() -> Self {
        Self::default()
    }

    /// Leave `<blockquote>` text out (`MAIL_HTML2TEXT_FLAG_SKIP_QUOTED`).
    pub fn skip_quoted() -> Self {
        Html2Text {
            skip_quoted: true,
            ..Self::default()
        }
    }

    /// Convert the next piece of HTML, appending text to `output`
    /// (`mail_html2text_more()`).
    pub fn more(&mut self, mut data: &[u8], output: &mut Vec<u8>) {
        while !self.pending.is_empty() {
            let orig = self.pending.len();
            let inc = data.len().min(128);
            self.pending.extend_from_slice(&data[..inc]);
            let mut buf = std::mem::take(&mut self.pending);
            let pos = self.parse(&buf, output);
            if pos == 0 {
                // Still undecided: keep adding input.
                data = &data[inc..];
                self.pending = buf;
                if data.is_empty() {
                    return;
                }
            } else if pos >= orig {
                data = &data[pos - orig..];
            } else {
                buf.truncate(orig);
                buf.drain(..pos);
                self.pending = buf;
            }
        }
        let pos = self.parse(data, output);
        self.pending.extend_from_slice(&data[pos..]);
    }

    /// After `<`: the kind of tag (`parse_tag_name()`).
    fn tag_name(&mut self, data: &[u8]) -> Parsed {
        let entered = |state, skip| (state, Parsed::Skip(skip));
        let (state, parsed) = if data.starts_with(b"!--") {
            entered(State::Comment, 4)
        } else if tag_is(data, b"script") {
            entered(State::Script, 8)
        } else if tag_is(data, b"style") {
            entered(State::Style, 7)
        } else if starts_with_icase(data, b"![CDATA[") {
            entered(State::Cdata, 9)
        } else if tag_is(data, b"blockquote") {
            self.quote_level += 1;
            entered(State::Tag, 1)
        } else if self.quote_level > 0 && starts_with_icase(data, b"/blockquote>") {
            self.quote_level -= 1;
            self.add_newline |= !self.skip_quoted;
            entered(State::Tag, 1)
        } else if data.len() < 12 && !data.iter().any(|&c| is_html_whitespace(c) || c == b'>') {
            return Parsed::NeedMore;
        } else {
            entered(State::Tag, 1)
        };
        self.state = state;
        parsed
    }
}

/// The character an entity name stands for
/// (`html_entity_get_unichar()`).
fn entity_char(name: &[u8]) -> Option<u32> {
    if let Some(&(_, chr)) = HTML_ENTITIES.iter().find(|(n, _)| n.as_bytes() == name) {
        return Some(chr);
    }
    let number = name.strip_prefix(b"#")?;
    let parse = |digits: &[u8], radix| {
        let text = std::str::from_utf8(digits).ok()?;
        let ok = !text.is_empty() && text.chars().all(|c| c.is_digit(radix));
        ok.then(|| u32::from_str_radix(text, radix).ok()).flatten()
    };
    let chr = match number.strip_prefix(b"x") {
        Some(hex) => parse(hex, 16).or_else(|| parse(number, 10)),
        None => parse(number, 10),
    }?;
    let surrogate = (0xd800..=0xdfff).contains(&chr);
    (!surrogate && chr <= 0x10ffff).then_some(chr)
}

/// After `&`: an entity up to `;` (`parse_entity()`).
fn entity(data: &[u8], output: &mut Vec<u8>) -> Parsed {
    const MAX_NAME: usize = 10;
    for (i, &c) in data.iter().enumerate() {
        if is_html_whitespace(c) || i >= MAX_NAME {
            // A broken entity: drop the '&' only.
            return Parsed::Skip(1);
        }
        if c == b';' {
            if let Some(ch) = entity_char(&data[..i]).and_then(char::from_u32) {
                output.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
            }
            return Parsed::Skip(i + 2);
        }
    }
    Parsed::NeedMore
}

/// A space, unless the text already ends in one or in a line break.
fn add_space(output: &mut Vec<u8>) {
    if output.last().is_some_and(|&c| c != b' ' && c != b'\n') {
        output.push(b' ');
    }
}

/// Does `data` start with `end` (case-insensitive)? `None` when it is
/// cut short and might.
fn ends_here(data: &[u8], end: &[u8]) -> Option<bool> {
    let n = data.len().min(end.len());
    if !data[..n].eq_ignore_ascii_case(&end[..n]) {
        return Some(false);
    }
    (n == end.len()).then_some(true)
}

impl Html2Text {
    /// Convert as much of `data` as can be decided; returns how much was
    /// used (`parse_data()`).
    fn parse(&mut self, data: &[u8], output: &mut Vec<u8>) -> usize {
        let mut i = 0;
        while i < data.len() {
            match self.step(data, i, output) {
                Parsed::Skip(n) => i += n,
                Parsed::NeedMore => return i,
            }
        }
        i
    }

    fn quoted_text_hidden(&self) -> bool {
        self.quote_level > 0 && self.skip_quoted
    }

    fn step(&mut self, data: &[u8], i: usize, output: &mut Vec<u8>) -> Parsed {
        let c = data[i];
        let next_state = |this: &mut Self, state| {
            this.state = state;
            Parsed::Skip(1)
        };
        match (self.state, c) {
            (State::Text, b'<') => return self.tag_name(&data[i + 1..]),
            (State::Text, _) if self.quoted_text_hidden() => {}
            (State::Text, b'&') => return entity(&data[i + 1..], output),
            (State::Text, _) => output.push(c),
            (State::Tag, b'"') => return next_state(self, State::TagDquoted),
            (State::Tag, b'\'') => return next_state(self, State::TagSquoted),
            (State::Tag, b'>') => self.tag_end(output),
            (State::TagDquoted, b'"') | (State::TagSquoted, b'\'') => {
                return next_state(self, State::Tag);
            }
            (State::TagDquoted, b'\\') => return next_state(self, State::TagDquotedEscape),
            (State::TagSquoted, b'\\') => return next_state(self, State::TagSquotedEscape),
            (State::TagDquotedEscape, _) => return next_state(self, State::TagDquoted),
            (State::TagSquotedEscape, _) => return next_state(self, State::TagSquoted),
            (State::Comment, b'-') => match data.get(i + 1) {
                None => return Parsed::NeedMore,
                Some(b'-') => {
                    self.state = State::CommentEnd;
                    return Parsed::Skip(2);
                }
                Some(_) => {}
            },
            (State::CommentEnd, b'>') => self.state = State::Text,
            (State::CommentEnd, _) if !is_html_whitespace(c) => self.state = State::Comment,
            (State::Script, b'<') => return self.block_end(data, i, b"</script>", output),
            (State::Style, b'<') => return self.block_end(data, i, b"</style>", output),
            (State::Cdata, _) => return self.cdata(data, i, output),
            _ => {}
        }
        Parsed::Skip(1)
    }

    fn tag_end(&mut self, output: &mut Vec<u8>) {
        self.state = State::Text;
        if self.quote_level > 0 && !self.skip_quoted {
            output.extend_from_slice(b"\n>");
        } else if self.add_newline {
            output.push(b'\n');
        }
        self.add_newline = false;
        add_space(output);
    }

    /// `</script>` or `</style>` ends the block.
    fn block_end(&mut self, data: &[u8], i: usize, end: &[u8], out: &mut Vec<u8>) -> Parsed {
        match ends_here(&data[i..], end) {
            None => Parsed::NeedMore,
            Some(false) => Parsed::Skip(1),
            Some(true) => {
                add_space(out);
                self.state = State::Text;
                Parsed::Skip(end.len())
            }
        }
    }

    fn cdata(&mut self, data: &[u8], i: usize, output: &mut Vec<u8>) -> Parsed {
        if data[i] == b']' {
            match ends_here(&data[i..], b"]]>") {
                None => return Parsed::NeedMore,
                Some(true) => {
                    self.state = State::Text;
                    return Parsed::Skip(3);
                }
                Some(false) => {}
            }
        }
        if !self.quoted_text_hidden() {
            output.push(data[i]);
        }
        Parsed::Skip(1)
    }
}
