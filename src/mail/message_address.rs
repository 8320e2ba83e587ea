//! Address lists of `From:`, `To:` and the other address headers
//! (lib-mail's `message-address.c`).
//!
//! [`parse`] turns a header value into the flat list Dovecot builds:
//! mailboxes, and groups as a start marker (the group's display name in
//! `mailbox`, no domain), their members and an end marker (all fields
//! empty). Broken input is never rejected: each address is repaired the
//! way Dovecot repairs it and flagged `invalid_syntax`, and with
//! [`ParseFlags::FILL_MISSING`] the holes get Dovecot's placeholders
//! (`MISSING_MAILBOX`, `MISSING_DOMAIN`, `SYNTAX_ERROR`,
//! `INVALID_ROUTE`), which is what IMAP ENVELOPE shows.
//!
//! Parsing is one pass over the input (a failed reading as a group or a
//! name-addr is retried from the same place at most twice), so its time
//! is linear in the header's length; `max_addresses` bounds the work per
//! header like Dovecot's parameter of the same name.
//!
//! The C ABI's `struct message_address` (with Debian's `prev` pointer)
//! and `message_address_list` are built from [`MessageAddress`] values in
//! `src/capi`; they carry the same fields.

use bitflags::bitflags;

use super::rfc822_parser::{NUL_REPLACEMENT, Next, Rfc822Error, Rfc822Parser, is_atext};

/// Dovecot's placeholder for a missing local part.
pub const MISSING_MAILBOX: &[u8] = b"MISSING_MAILBOX";
/// Dovecot's placeholder for a missing domain.
pub const MISSING_DOMAIN: &[u8] = b"MISSING_DOMAIN";
/// Dovecot's domain for a `name <...>` whose angle address is broken.
pub const SYNTAX_ERROR: &[u8] = b"SYNTAX_ERROR";
/// Dovecot's route for a source route not followed by `:`.
pub const INVALID_ROUTE: &[u8] = b"INVALID_ROUTE";

bitflags! {
    /// `enum message_address_parse_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct ParseFlags: u32 {
        /// Fill missing mailboxes and domains with the placeholders
        /// instead of empty strings.
        const FILL_MISSING = 1 << 0;
        /// Reject local parts with leading, trailing or double dots.
        const STRICT_DOTS = 1 << 1;
    }
}

/// One entry of an address list (`struct message_address`).
///
/// A group is a start entry (`mailbox` = the group's name, `domain`
/// `None`), its members, and an end entry with every field `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageAddress {
    /// The display name (phrase, or the comment after an addr-spec).
    pub name: Option<Vec<u8>>,
    /// The obsolete source route, `@` included (`@a,@b`).
    pub route: Option<Vec<u8>>,
    /// The local part, or the group name of a group start.
    pub mailbox: Option<Vec<u8>>,
    pub domain: Option<Vec<u8>>,
    /// Something was wrong with this address and had to be repaired.
    pub invalid_syntax: bool,
}

impl MessageAddress {
    /// Is this the start of a group?
    pub fn is_group_start(&self) -> bool {
        self.domain.is_none() && self.mailbox.is_some()
    }

    /// Is this the end of a group?
    pub fn is_group_end(&self) -> bool {
        self.domain.is_none() && self.mailbox.is_none()
    }
}

/// How a reading step ended (the -1/0/1 of Dovecot's parsers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Malformed input.
    Broken,
    /// Fine, and the input is exhausted.
    End,
    /// Fine, and more input follows.
    More,
}

impl Step {
    fn ok(self) -> bool {
        self == Step::More
    }
}

impl From<Result<Next, Rfc822Error>> for Step {
    fn from(result: Result<Next, Rfc822Error>) -> Step {
        match result {
            Ok(Next::More) => Step::More,
            Ok(Next::End) => Step::End,
            Err(_) => Step::Broken,
        }
    }
}

/// Parse an address header value (`message_address_parse()`), reading
/// at most `max_addresses` addresses (a group counts as one).
pub fn parse(value: &[u8], max_addresses: usize, flags: ParseFlags) -> Vec<MessageAddress> {
    let mut ctx = Context::new(value, flags);
    if Step::from(ctx.parser.skip_lwsp()).ok() {
        ctx.address_list(max_addresses);
    }
    ctx.list
}

/// Parse a `Return-Path:` value (`message_address_parse_path()`). The
/// address comes back even when it is invalid; `Err` carries it then,
/// or `None` when the value is empty (Dovecot returns no address).
pub fn parse_path(value: &[u8]) -> Result<MessageAddress, Option<MessageAddress>> {
    let mut ctx = Context::new(value, ParseFlags::empty());
    ctx.parser.last_comment = None;
    ctx.parser.nul_replacement = None;
    let valid = ctx.path();
    match ctx.list.pop() {
        Some(addr) if valid => Ok(addr),
        addr => Err(addr),
    }
}

struct Context<'a> {
    parser: Rfc822Parser<'a>,
    /// The address being built.
    addr: MessageAddress,
    /// Scratch buffer for the token being read.
    text: Vec<u8>,
    list: Vec<MessageAddress>,
    fill_missing: bool,
    strict_dots: bool,
}

impl<'a> Context<'a> {
    fn new(value: &'a [u8], flags: ParseFlags) -> Self {
        let mut parser = Rfc822Parser::with_last_comment(value);
        parser.nul_replacement = Some(NUL_REPLACEMENT);
        Context {
            parser,
            addr: MessageAddress::default(),
            text: Vec::new(),
            list: Vec::new(),
            fill_missing: flags.contains(ParseFlags::FILL_MISSING),
            strict_dots: flags.contains(ParseFlags::STRICT_DOTS),
        }
    }

    /// The byte under the cursor; NUL at the end, where Dovecot reads
    /// its buffer's terminator.
    fn cur(&self) -> u8 {
        self.parser.peek().unwrap_or(0)
    }

    fn skip_lwsp(&mut self) -> Step {
        self.parser.skip_lwsp().into()
    }

    fn placeholder(&self, text: &'static [u8]) -> Vec<u8> {
        if self.fill_missing {
            text.to_vec()
        } else {
            Vec::new()
        }
    }

    fn push_address(&mut self) {
        let addr = std::mem::take(&mut self.addr);
        self.list.push(addr);
    }

    /// Fill a missing mailbox or domain, then add the address.
    fn push_fixed_address(&mut self) {
        if self.addr.mailbox.is_none() {
            self.addr.mailbox = Some(self.placeholder(MISSING_MAILBOX));
            self.addr.invalid_syntax = true;
        }
        if self.addr.domain.as_ref().is_none_or(|d| d.is_empty()) {
            self.addr.domain = Some(self.placeholder(MISSING_DOMAIN));
            self.addr.invalid_syntax = true;
        }
        self.push_address();
    }

    /// address-list = address *("," address), garbage tolerated.
    fn address_list(&mut self, max_addresses: usize) {
        for _ in 0..max_addresses {
            if self.address() == Step::End {
                return;
            }
            if self.cur() != b',' {
                return;
            }
            self.parser.advance(1);
            match self.skip_lwsp() {
                Step::More => {}
                Step::End => return,
                Step::Broken => {
                    // A broken comment after the comma.
                    self.push_fixed_address();
                    return;
                }
            }
        }
    }

    /// address = group / mailbox
    fn address(&mut self) -> Step {
        let start = self.parser.pos();
        match self.group() {
            Some(step) => step,
            None => {
                self.parser.rewind(start);
                self.mailbox()
            }
        }
    }

    /// group = display-name ":" [mailbox-list] ";". `None` when this is
    /// not a group; once the colon is seen it is one, however broken.
    fn group(&mut self) -> Option<Step> {
        self.text.clear();
        let phrase = Step::from(self.parser.parse_phrase(&mut self.text));
        if !phrase.ok() || self.cur() != b':' {
            return None;
        }
        self.parser.advance(1);
        let mut step = self.skip_lwsp();
        if !step.ok() {
            self.addr.invalid_syntax = true;
        }
        self.addr.mailbox = Some(self.text.clone());
        self.push_address();

        if step.ok() && self.cur() != b';' {
            step = self.group_members();
        }
        if step != Step::Broken {
            step = if self.cur() == b';' && !self.parser.at_end() {
                self.parser.advance(1);
                self.skip_lwsp()
            } else {
                Step::Broken
            };
        }
        if step == Step::Broken {
            self.addr.invalid_syntax = true;
        }
        self.push_address();
        Some(if step == Step::End {
            Step::End
        } else {
            Step::More
        })
    }

    /// The mailboxes of a group, broken ones included.
    fn group_members(&mut self) -> Step {
        loop {
            self.mailbox();
            if self.parser.at_end() || self.cur() != b',' {
                return Step::More;
            }
            self.parser.advance(1);
            if !self.skip_lwsp().ok() {
                return Step::Broken;
            }
        }
    }

    /// mailbox = name-addr / addr-spec
    fn mailbox(&mut self) -> Step {
        let start = self.parser.pos();
        let mut step = self.name_addr();
        if step == Step::Broken {
            self.parser.rewind(start);
            step = self.addr_spec();
            let a = &mut self.addr;
            if a.invalid_syntax && a.name.is_none() && a.mailbox.is_some() && a.domain.is_none() {
                // A lone word is more likely a name than a mailbox.
                a.name = a.mailbox.take();
            }
        }
        if step == Step::Broken {
            self.addr.invalid_syntax = true;
        }
        self.push_fixed_address();
        step
    }

    /// name-addr = [display-name] angle-addr
    fn name_addr(&mut self) -> Step {
        self.text.clear();
        let phrase = Step::from(self.parser.parse_phrase(&mut self.text));
        if !phrase.ok() || self.cur() != b'<' {
            return Step::Broken;
        }
        self.addr.name = (!self.text.is_empty()).then(|| self.text.clone());
        if self.angle_addr(false) == Step::Broken {
            if self.fill_missing {
                self.addr.domain = Some(SYNTAX_ERROR.to_vec());
            }
            self.addr.invalid_syntax = true;
        }
        if self.parser.at_end() {
            Step::End
        } else {
            Step::More
        }
    }

    /// angle-addr = "<" [route ":"] [local-part ["@" domain]] ">"
    fn angle_addr(&mut self, parsing_path: bool) -> Step {
        self.parser.advance(1);
        if !self.skip_lwsp().ok() {
            return Step::Broken;
        }
        if self.cur() == b'@' {
            if self.domain_list() == Step::More && self.cur() == b':' {
                self.parser.advance(1);
            } else if parsing_path && self.cur() != b':' {
                return Step::Broken;
            } else {
                if self.fill_missing {
                    self.addr.route = Some(INVALID_ROUTE.to_vec());
                }
                if self.parser.at_end() {
                    return Step::Broken;
                }
            }
            if !self.skip_lwsp().ok() {
                return Step::Broken;
            }
        }

        // "<>" has neither local part nor domain.
        if self.cur() != b'>' {
            if !self.local_part().ok() {
                return Step::Broken;
            }
            if self.cur() == b'@' && !self.domain().ok() {
                return Step::Broken;
            }
        }
        if self.cur() != b'>' {
            return Step::Broken;
        }
        self.parser.advance(1);
        self.skip_lwsp()
    }

    /// obs-domain-list: "@a,@b" stored as the route.
    fn domain_list(&mut self) -> Step {
        self.text.clear();
        loop {
            if self.parser.at_end() {
                return Step::End;
            }
            if self.cur() != b'@' {
                break;
            }
            if !self.text.is_empty() {
                self.text.push(b',');
            }
            self.text.push(b'@');
            let step = Step::from(self.parser.parse_domain(&mut self.text));
            if !step.ok() {
                return step;
            }
            while self.skip_lwsp().ok() && self.cur() == b',' {
                self.parser.advance(1);
            }
        }
        self.addr.route = Some(self.text.clone());
        Step::More
    }

    /// addr-spec = local-part "@" domain, with Dovecot's guesses when it
    /// is not one.
    fn addr_spec(&mut self) -> Step {
        if let Some(comment) = &mut self.parser.last_comment {
            comment.clear();
        }
        let quoted = self.cur() == b'"';
        let mut step = self.local_part();
        if !step.ok() {
            self.addr.invalid_syntax = true;
        }
        let mut tried_domain = false;
        if step != Step::End && !self.parser.at_end() && self.cur() == b'@' {
            tried_domain = true;
            let domain = self.domain();
            if !domain.ok() {
                step = domain;
            }
        }

        let comment = self.parser.last_comment.as_ref().filter(|c| !c.is_empty());
        if let Some(comment) = comment {
            self.addr.name = Some(comment.clone());
        } else if !tried_domain {
            // "user" alone is a mailbox, but "user more words" is a name.
            self.text.push(b' ');
            let before = self.text.len();
            let _ = self.parser.parse_phrase(&mut self.text);
            if self.text.len() != before {
                self.addr.mailbox = None;
                self.addr.name = Some(self.text.clone());
            } else if !quoted {
                self.addr.domain = Some(Vec::new());
            }
            self.addr.invalid_syntax = true;
            step = Step::Broken;
        }
        step
    }

    /// local-part = dot-atom / quoted-string / obs-local-part
    fn local_part(&mut self) -> Step {
        self.text.clear();
        let step = if self.cur() == b'"' {
            self.parser.parse_quoted_string(&mut self.text).into()
        } else if self.strict_dots {
            self.parser.parse_dot_atom(&mut self.text).into()
        } else {
            self.lenient_dot_atom()
        };
        if step == Step::Broken {
            return Step::Broken;
        }
        self.addr.mailbox = Some(self.text.clone());
        step
    }

    /// A dot-atom that allows leading, trailing and repeated dots, which
    /// Japanese mobile carriers are known for.
    fn lenient_dot_atom(&mut self) -> Step {
        let mut step = Step::Broken;
        loop {
            while self.cur() == b'.' && !self.parser.at_end() {
                self.text.push(b'.');
                self.parser.advance(1);
                if self.parser.at_end() {
                    return Step::End;
                }
                step = Step::More;
            }
            if self.cur() == b'@' {
                return step;
            }
            step = self.parser.parse_atom(&mut self.text).into();
            if !(step.ok() && self.cur() == b'.') {
                return step;
            }
        }
    }

    fn domain(&mut self) -> Step {
        self.text.clear();
        let step = Step::from(self.parser.parse_domain(&mut self.text));
        if step == Step::Broken {
            return Step::Broken;
        }
        self.addr.domain = Some(self.text.clone());
        step
    }

    /// path = "<" [route ":"] addr-spec ">" / "<>", or a bare addr-spec.
    fn path(&mut self) -> bool {
        if !self.skip_lwsp().ok() {
            return false;
        }
        let mut step = if self.cur() != b'<' {
            let step = self.local_part();
            if step.ok() && self.cur() == b'@' {
                self.domain()
            } else {
                step
            }
        } else {
            self.angle_addr(true)
        };
        if step != Step::Broken {
            step = self.skip_lwsp();
        }
        let a = &self.addr;
        let half_address = match (&a.mailbox, &a.domain) {
            (Some(_), domain) => domain.as_ref().is_none_or(|d| d.is_empty()),
            (None, domain) => domain.is_some(),
        };
        let valid = step != Step::Broken && self.parser.at_end() && !half_address;
        self.addr.invalid_syntax |= !valid;
        self.push_address();
        valid
    }
}

/// Is `name` one of the headers that hold addresses
/// (`message_header_is_address()`)?
pub fn header_is_address(name: &str) -> bool {
    const ADDRESS_HEADERS: [&str; 11] = [
        "From",
        "Sender",
        "Reply-To",
        "To",
        "Cc",
        "Bcc",
        "Resent-From",
        "Resent-Sender",
        "Resent-To",
        "Resent-Cc",
        "Resent-Bcc",
    ];
    ADDRESS_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// Write `text` as an atom, or quoted and escaped when it must be
/// (`str_append_maybe_escape()`). Dots need no quotes when `dots_ok`.
fn write_maybe_quoted(out: &mut Vec<u8>, text: &[u8], dots_ok: bool) {
    if text.iter().all(|&c| is_atext(c) || (dots_ok && c == b'.')) {
        out.extend_from_slice(text);
        return;
    }
    out.push(b'"');
    for &c in text {
        if matches!(c, b'"' | b'\\' | b'\'') {
            out.push(b'\\');
        }
        out.push(c);
    }
    out.push(b'"');
}

/// A phrase as written back: encoded words must stay outside quotes.
fn write_phrase(out: &mut Vec<u8>, phrase: &[u8]) {
    if memchr::memmem::find(phrase, b"=?").is_some() {
        out.extend_from_slice(phrase);
    } else {
        write_maybe_quoted(out, phrase, false);
    }
}

/// Write an address list back as header text (`message_address_write()`).
pub fn write(out: &mut Vec<u8>, list: &[MessageAddress]) {
    if let [only] = list {
        if only.mailbox.is_none() && only.domain.is_none() {
            out.extend_from_slice(b"<>");
            return;
        }
    }
    let mut first = true;
    let mut in_group = false;
    for addr in list {
        if !first {
            out.extend_from_slice(b", ");
        }
        first = false;
        if addr.domain.is_none() {
            if !in_group {
                write_group_start(out, addr.mailbox.as_deref().unwrap_or_default());
                first = true;
            } else {
                write_group_end(out);
            }
            in_group = !in_group;
        } else {
            write_mailbox(out, addr);
        }
    }
}

fn write_group_start(out: &mut Vec<u8>, name: &[u8]) {
    if name.is_empty() {
        out.extend_from_slice(b"\"\"");
    } else {
        write_phrase(out, name);
    }
    out.extend_from_slice(b": ");
}

/// Replace the ", " or ": " written before the end marker with ";".
fn write_group_end(out: &mut Vec<u8>) {
    if out.ends_with(b", ") {
        out.truncate(out.len() - 2);
    } else if out.ends_with(b": ") {
        out.truncate(out.len() - 1);
    }
    out.push(b';');
}

fn write_mailbox(out: &mut Vec<u8>, addr: &MessageAddress) {
    let mailbox = addr.mailbox.as_deref().unwrap_or_default();
    let domain = addr.domain.as_deref().unwrap_or_default();
    let name = addr.name.as_deref();
    if let Some(name) = name {
        write_phrase(out, name);
    }
    if addr.route.is_none() && mailbox.is_empty() && domain.is_empty() {
        return;
    }
    if name.is_some_and(|n| !n.is_empty()) {
        out.push(b' ');
    }
    out.push(b'<');
    if let Some(route) = &addr.route {
        out.extend_from_slice(route);
        out.push(b':');
    }
    if mailbox.is_empty() {
        out.extend_from_slice(b"\"\"");
    } else {
        write_maybe_quoted(out, mailbox, true);
    }
    if !domain.is_empty() {
        out.push(b'@');
        out.extend_from_slice(domain);
    }
    out.push(b'>');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(name: Option<&str>, mailbox: Option<&str>, domain: Option<&str>) -> MessageAddress {
        MessageAddress {
            name: name.map(|s| s.as_bytes().to_vec()),
            route: None,
            mailbox: mailbox.map(|s| s.as_bytes().to_vec()),
            domain: domain.map(|s| s.as_bytes().to_vec()),
            invalid_syntax: false,
        }
    }

    fn filled(value: &str) -> Vec<MessageAddress> {
        parse(value.as_bytes(), usize::MAX, ParseFlags::FILL_MISSING)
    }

    #[test]
    fn rfc5322_appendix_a1_addresses() {
        // RFC 5322 A.1.1 and A.1.2.
        assert_eq!(
            filled("John Doe <jdoe@machine.example>"),
            [addr(
                Some("John Doe"),
                Some("jdoe"),
                Some("machine.example")
            )]
        );
        assert_eq!(
            filled("\"Joe Q. Public\" <john.q.public@example.com>"),
            [addr(
                Some("Joe Q. Public"),
                Some("john.q.public"),
                Some("example.com")
            )]
        );
        assert_eq!(
            filled("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>"),
            [
                addr(Some("Mary Smith"), Some("mary"), Some("x.test")),
                addr(None, Some("jdoe"), Some("example.org")),
                addr(Some("Who?"), Some("one"), Some("y.test")),
            ]
        );
    }

    #[test]
    fn rfc5322_appendix_a1_groups() {
        // RFC 5322 A.1.3.
        assert_eq!(
            filled("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;"),
            [
                addr(None, Some("A Group"), None),
                addr(Some("Ed Jones"), Some("c"), Some("a.test")),
                addr(None, Some("joe"), Some("where.test")),
                addr(Some("John"), Some("jdoe"), Some("one.test")),
                addr(None, None, None),
            ]
        );
        assert_eq!(
            filled("Undisclosed recipients:;"),
            [
                addr(None, Some("Undisclosed recipients"), None),
                addr(None, None, None)
            ]
        );
    }

    #[test]
    fn rfc5322_appendix_a5_comments() {
        // RFC 5322 A.5: the comment after an addr-spec is its name.
        assert_eq!(
            filled("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>"),
            [addr(Some("Pete"), Some("pete"), Some("silly.test"))]
        );
        assert_eq!(
            filled("c@(Chris's host.)public.example"),
            [addr(
                Some("Chris's host."),
                Some("c"),
                Some("public.example")
            )]
        );
    }

    #[test]
    fn route_addresses_keep_the_route() {
        let list = filled("<@a.test,@b.test:user@c.test>");
        assert_eq!(list[0].route.as_deref(), Some(&b"@a.test,@b.test"[..]));
        assert_eq!(list[0].mailbox.as_deref(), Some(&b"user"[..]));
    }

    #[test]
    fn written_lists_parse_back_the_same() {
        // message_address_write() output is an address list again.
        for text in [
            "\"Joe Q. Public\" <john.q.public@example.com>",
            "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
            "Undisclosed recipients:;",
            "<@route1.test,@route2.test:user@final.test>",
            "\"us\\\"er\"@example.com, =?utf-8?q?J=C3=B6rg?= <j@x.test>",
        ] {
            let list = filled(text);
            let mut out = Vec::new();
            write(&mut out, &list);
            assert_eq!(filled(std::str::from_utf8(&out).unwrap()), list, "{text}");
        }
    }

    #[test]
    fn path_parsing() {
        let ok = parse_path(b"<user@example.com>").unwrap();
        assert_eq!(ok.mailbox.as_deref(), Some(&b"user"[..]));
        let empty = parse_path(b"<>").unwrap();
        assert_eq!((empty.mailbox, empty.domain), (None, None));
        assert!(parse_path(b"<user>").is_err());
        assert!(parse_path(b"user@example.com").is_ok());
    }

    #[test]
    fn address_headers() {
        assert!(header_is_address("reply-to") && header_is_address("Resent-Bcc"));
        assert!(!header_is_address("Subject"));
    }

    #[test]
    fn half_a_million_addresses() {
        let value: String = (0..500_000).map(|i| format!("u{i}@d.test, ")).collect();
        let list = parse(value.as_bytes(), usize::MAX, ParseFlags::FILL_MISSING);
        assert_eq!(list.len(), 500_000);
        assert_eq!(list[499_999].mailbox.as_deref(), Some(&b"u499999"[..]));
        // max_addresses bounds the work.
        assert_eq!(
            parse(value.as_bytes(), 1000, ParseFlags::empty()).len(),
            1000
        );
    }

    #[test]
    fn ten_megabytes_of_garbage() {
        // Balanced comments, so every piece is tried as group, name-addr
        // and addr-spec.
        let value = "a:<b@(c)\"d\\\",;@[e],x y,".repeat(10 * 1024 * 1024 / 24);
        let list = parse(value.as_bytes(), usize::MAX, ParseFlags::FILL_MISSING);
        assert!(list.len() <= value.len());
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_give_complete_addresses(
            value in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)
        ) {
            let list = parse(&value, usize::MAX, ParseFlags::FILL_MISSING);
            for a in list.iter().filter(|a| a.domain.is_some()) {
                proptest::prop_assert!(a.mailbox.is_some());
                proptest::prop_assert!(!a.domain.as_ref().unwrap().is_empty());
            }
            let mut out = Vec::new();
            write(&mut out, &list);
            let _ = parse_path(&value);
        }
    }
}
