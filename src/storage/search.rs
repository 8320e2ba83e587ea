//! doveadm's search queries (mail-search-parser-cmdline.c,
//! mail-search-register-human.c, mail-search-build.c) and their
//! evaluation on read-only mails (index-search.c).
//!
//! Keys: `mailbox`, `mailbox-guid`, `ALL`, the flag keys, `KEYWORD`,
//! `UID`, sequence sets, `BEFORE`/`ON`/`SINCE` (received date),
//! `LARGER`/`SMALLER`, `SUBJECT`/`FROM`/`TO`/`CC`/`BCC`/`HEADER`,
//! `BODY`/`TEXT`, `NOT`, `OR` and parentheses.
//!
//! TODO(search): header keys compare ASCII-uppercased text; Dovecot
//! folds with its Unicode titlecase normalizer and matches address
//! headers against their parsed form.
//! TODO(search): intervals (`30days`), `SENT*`/`SAVED*` dates, `MODSEQ`
//! and `RECENT`/`NEW`/`OLD` are not parsed.

use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::mail::message_header_decode;
use crate::mail::message_header_parser::{HeaderParser, HeaderParserFlags};
use crate::mail::message_search::{SearchFlags, message_search};
use crate::storage::maildir::filename::MailFlags;
use crate::storage::maildir::mailbox::Mail;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    #[error("Unknown argument {0}")]
    UnknownArg(String),
    #[error("Missing parameter for argument {0}")]
    MissingParam(String),
    #[error("Invalid parameter for argument {0}")]
    InvalidParam(String),
    #[error("Missing ')'")]
    MissingParen,
    #[error("Use parenthesis when mixing ANDs and ORs")]
    MixedAndOr,
    #[error("No search parameters inside list")]
    EmptyList,
}

/// A parsed search key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    All,
    Mailbox(String),
    MailboxGuid(String),
    Flag(MailFlags),
    Keyword(String),
    Uid(Vec<(u32, u32)>),
    Seq(Vec<(u32, u32)>),
    /// Received date: `[start, end)` in UNIX seconds.
    Received {
        start: i64,
        end: i64,
    },
    Larger(u64),
    Smaller(u64),
    Header {
        name: String,
        value: String,
    },
    Body(String),
    Text(String),
    Not(Box<Key>),
    Or(Vec<Key>),
    And(Vec<Key>),
}

/// Parse doveadm's command-line search query.
pub fn parse(args: &[String]) -> Result<Key, SearchError> {
    let mut parser = Parser { args, pos: 0 };
    parser.list(false)
}

struct Parser<'a> {
    args: &'a [String],
    pos: usize,
}

impl Parser<'_> {
    fn next_arg(&mut self) -> Option<&str> {
        let arg = self.args.get(self.pos)?;
        self.pos += 1;
        Some(arg)
    }

    fn param(&mut self, key: &str) -> Result<String, SearchError> {
        let arg = self.next_arg();
        arg.map(str::to_string)
            .ok_or_else(|| SearchError::MissingParam(key.to_string()))
    }

    /// Keys up to `)` (`in_group`) or the end: an AND list, or an OR
    /// list once an `OR` appeared (mail_search_build_list). A plain key
    /// after an `OR` is refused.
    fn list(&mut self, in_group: bool) -> Result<Key, SearchError> {
        let (mut keys, mut is_or) = (Vec::new(), false);
        loop {
            let arg = self.args.get(self.pos).map(String::as_str);
            match arg {
                None if in_group => return Err(SearchError::MissingParen),
                Some(")") if in_group => {
                    self.pos += 1;
                    break;
                }
                None => break,
                Some(_) => {}
            }
            let or = arg.is_some_and(|a| a.eq_ignore_ascii_case("OR"));
            if or {
                self.pos += 1;
                is_or = true;
            } else if is_or {
                return Err(SearchError::MixedAndOr);
            }
            keys.push(self.some_key("OR")?);
        }
        if in_group && keys.is_empty() {
            return Err(SearchError::EmptyList);
        }
        Ok(if is_or { Key::Or(keys) } else { Key::And(keys) })
    }

    fn key(&mut self) -> Result<Key, SearchError> {
        let arg = self.next_arg().expect("caller checked").to_string();
        let upper = arg.to_ascii_uppercase();
        if let Some(key) = flag_key(&upper) {
            return Ok(key);
        }
        match upper.as_str() {
            "(" => self.list(true),
            "ALL" => Ok(Key::All),
            "NOT" => Ok(Key::Not(Box::new(self.some_key(&arg)?))),
            "MAILBOX" => Ok(Key::Mailbox(self.param(&arg)?)),
            "MAILBOX-GUID" => Ok(Key::MailboxGuid(self.param(&arg)?)),
            "KEYWORD" => Ok(Key::Keyword(self.param(&arg)?)),
            "UNKEYWORD" => Ok(Key::Not(Box::new(Key::Keyword(self.param(&arg)?)))),
            "UID" => Ok(Key::Uid(self.set(&arg)?)),
            "LARGER" => Ok(Key::Larger(self.number(&arg)?)),
            "SMALLER" => Ok(Key::Smaller(self.number(&arg)?)),
            "BEFORE" | "ON" | "SINCE" => self.date(&arg, &upper),
            "SUBJECT" | "FROM" | "TO" | "CC" | "BCC" => Ok(Key::Header {
                name: upper.clone(),
                value: self.param(&arg)?,
            }),
            "HEADER" => Ok(Key::Header {
                name: self.param(&arg)?.to_ascii_uppercase(),
                value: self.param(&arg)?,
            }),
            "BODY" => Ok(Key::Body(self.param(&arg)?)),
            "TEXT" => Ok(Key::Text(self.param(&arg)?)),
            _ => parse_set(&arg)
                .map(Key::Seq)
                .ok_or(SearchError::UnknownArg(arg)),
        }
    }

    fn some_key(&mut self, after: &str) -> Result<Key, SearchError> {
        if self.pos >= self.args.len() {
            return Err(SearchError::MissingParam(after.to_string()));
        }
        self.key()
    }

    fn set(&mut self, key: &str) -> Result<Vec<(u32, u32)>, SearchError> {
        let value = self.param(key)?;
        parse_set(&value).ok_or_else(|| SearchError::InvalidParam(key.to_string()))
    }

    fn number(&mut self, key: &str) -> Result<u64, SearchError> {
        let value = self.param(key)?;
        value
            .parse()
            .map_err(|_| SearchError::InvalidParam(key.to_string()))
    }

    fn date(&mut self, key: &str, upper: &str) -> Result<Key, SearchError> {
        let value = self.param(key)?;
        let invalid = || SearchError::InvalidParam(key.to_string());
        let (start, exact) = parse_date(&value).ok_or_else(invalid)?;
        let day = if exact { 0 } else { 86400 };
        let (start, end) = match upper {
            "BEFORE" => (i64::MIN, start),
            "SINCE" => (start, i64::MAX),
            _ => (start, start + day.max(1)),
        };
        Ok(Key::Received { start, end })
    }
}

fn flag_key(upper: &str) -> Option<Key> {
    let (negate, name) = match upper.strip_prefix("UN") {
        Some(rest) => (true, rest),
        None => (false, upper),
    };
    let flag = match name {
        "ANSWERED" => MailFlags::ANSWERED,
        "FLAGGED" => MailFlags::FLAGGED,
        "DELETED" => MailFlags::DELETED,
        "SEEN" => MailFlags::SEEN,
        "DRAFT" => MailFlags::DRAFT,
        _ => return None,
    };
    let key = Key::Flag(flag);
    Some(if negate { Key::Not(Box::new(key)) } else { key })
}

/// `1,3:5,7:*` (`*` as `u32::MAX`).
fn parse_set(s: &str) -> Option<Vec<(u32, u32)>> {
    let number = |n: &str| match n {
        "*" => Some(u32::MAX),
        _ if n.bytes().all(|c| c.is_ascii_digit()) => n.parse().ok(),
        _ => None,
    };
    s.split(',')
        .map(|part| {
            let (a, b) = part.split_once(':').unwrap_or((part, part));
            let (a, b) = (number(a)?, number(b)?);
            Some((a.min(b), a.max(b)))
        })
        .collect()
}

/// A date as `YYYY-MM-DD`, IMAP `D-Mon-YYYY` (local midnight), or UNIX
/// seconds (exact); the flag says whether it was exact.
fn parse_date(s: &str) -> Option<(i64, bool)> {
    if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) {
        return Some((s.parse().ok()?, true));
    }
    let date = s
        .parse::<Date>()
        .ok()
        .or_else(|| Date::strptime("%d-%b-%Y", s).ok())?;
    let midnight = date.to_datetime(jiff::civil::Time::midnight());
    let ts = TimeZone::system().to_timestamp(midnight).ok()?;
    Some((ts.as_second(), false))
}

/// The mail and its mailbox, as a search key sees them.
#[derive(Debug)]
pub struct Candidate<'a> {
    pub mail: &'a Mail,
    pub mailbox: &'a str,
    pub mailbox_guid: &'a str,
    pub message: &'a [u8],
    /// The mailbox's last sequence, which `*` stands for in sequence
    /// sets. (In UID sets doveadm leaves `*` as the largest UID number,
    /// so `UID *` alone matches nothing.)
    pub last_seq: u32,
}

impl Key {
    /// Does the key match? I/O problems read as "no match".
    pub fn matches(&self, c: &Candidate<'_>) -> bool {
        match self {
            Key::All => true,
            Key::Mailbox(name) => mailbox_matches(name, c.mailbox),
            Key::MailboxGuid(guid) => guid == c.mailbox_guid,
            Key::Flag(flag) => c.mail.flags.contains(*flag),
            Key::Keyword(kw) => c.mail.keywords.iter().any(|k| k.eq_ignore_ascii_case(kw)),
            Key::Uid(set) => in_set(set, c.mail.uid, u32::MAX),
            Key::Seq(set) => in_set(set, c.mail.seq, c.last_seq),
            Key::Received { start, end } => c
                .mail
                .received_date()
                .is_ok_and(|t| (*start..*end).contains(&t)),
            Key::Larger(n) => c.mail.virtual_size().is_ok_and(|s| s > *n),
            Key::Smaller(n) => c.mail.virtual_size().is_ok_and(|s| s < *n),
            Key::Header { name, value } => header_matches(c.message, name, value),
            Key::Body(text) => message_search(c.message, text, body_only()),
            Key::Text(text) => message_search(c.message, text, SearchFlags::default()),
            Key::Not(key) => !key.matches(c),
            Key::Or(keys) => keys.iter().any(|k| k.matches(c)),
            Key::And(keys) => keys.iter().all(|k| k.matches(c)),
        }
    }

    /// Does the key need the message text?
    pub fn needs_message(&self) -> bool {
        match self {
            Key::Header { .. } | Key::Body(_) | Key::Text(_) => true,
            Key::Not(key) => key.needs_message(),
            Key::Or(keys) | Key::And(keys) => keys.iter().any(Key::needs_message),
            _ => false,
        }
    }

    /// The `mailbox` names and patterns the query restricts itself to at
    /// its top level; empty when it may match any mailbox.
    pub fn mailbox_patterns(&self) -> Vec<String> {
        match self {
            Key::Mailbox(name) => vec![name.clone()],
            Key::And(keys) => keys.iter().flat_map(Key::mailbox_patterns).collect(),
            _ => Vec::new(),
        }
    }
}

fn body_only() -> SearchFlags {
    SearchFlags { skip_headers: true }
}

fn in_set(set: &[(u32, u32)], n: u32, last: u32) -> bool {
    let star = |x: u32| if x == u32::MAX { last } else { x };
    set.iter().any(|&(a, b)| {
        let (a, b) = (star(a), star(b));
        (a.min(b)..=a.max(b)).contains(&n)
    })
}

/// `mailbox` takes a list pattern (`*`, `%`).
fn mailbox_matches(pattern: &str, name: &str) -> bool {
    let glob = crate::storage::list::Glob::new(&[pattern.to_string()], '.');
    glob.matches(name)
}

fn header_matches(message: &[u8], name: &str, value: &str) -> bool {
    let wanted = value.to_uppercase();
    let mut parser = HeaderParser::new(message, 0, HeaderParserFlags::CLEAN_ONELINE);
    while let Some(line) = parser.next_line() {
        if line.eoh {
            break;
        }
        if !line.name_is(name) || line.continues {
            continue;
        }
        let decoded = message_header_decode::decode_utf8(&line.full_value);
        if decoded.to_uppercase().contains(&wanted) {
            return true;
        }
    }
    false
}
