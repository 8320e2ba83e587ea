//! `doveadm fetch FIELDS SEARCH-QUERY` (doveadm-mail-fetch.c), read-only,
//! and the mailbox and message iteration `search` shares
//! (doveadm-mail-iter.c).
//!
//! TODO(fetch): `text.utf8`, `body.<section>`,
//! `binary.<section>`, `hdr.NAME.address*`, `pop3.order`, `refcount`
//! and `storageid` are not supported; of Dovecot's cache only
//! `date.saved` is read, every other value is computed from the file.

use std::io::Write;

use super::exit;
use super::mail_cmd::CmdError;
use super::mailbox::{matching_mailboxes, stdout_err};
use super::print::{Formatter, Printer};
use crate::doveadm::date::unixdate2str;
use crate::mail::imap_bodystructure::MessageStructure;
use crate::mail::imap_envelope::Envelope;
use crate::mail::message_size;
use crate::mail::{message_date, message_snippet};
use crate::storage::index_mail::raw_headers;
use crate::storage::mail_user::MailLocation;
use crate::storage::maildir::filename::MailFlags;
use crate::storage::maildir::mailbox::{Mail, Mailbox, MailboxError};
use crate::storage::search::{self, Candidate, Key};

/// The fields `fetch` knows, in the order doveadm lists them.
const FIELDS: [&str; 24] = [
    "user",
    "mailbox",
    "mailbox-guid",
    "seq",
    "uid",
    "guid",
    "flags",
    "modseq",
    "hdr",
    "body",
    "body.preview",
    "body.snippet",
    "text",
    "size.physical",
    "size.virtual",
    "date.received",
    "date.sent",
    "date.saved",
    "date.received.unixtime",
    "date.sent.unixtime",
    "date.saved.unixtime",
    "imap.envelope",
    "imap.body",
    "imap.bodystructure",
];
/// Fields after the others in doveadm's list.
const MORE_FIELDS: [&str; 1] = ["pop3.uidl"];

/// The list doveadm prints when a field is unknown.
const AVAILABLE: &str = "Available fetch fields: hdr.<name> body.<section> \
binary.<section> user mailbox mailbox-guid seq uid guid flags modseq hdr body \
body.preview body.snippet text text.utf8 size.physical size.virtual \
date.received date.sent date.saved date.received.unixtime date.sent.unixtime \
date.saved.unixtime imap.envelope imap.body imap.bodystructure pop3.uidl \
pop3.order refcount storageid";

fn parse_fields(fields: &str) -> Result<Vec<String>, CmdError> {
    let mut out = Vec::new();
    for word in fields.split(' ').filter(|w| !w.is_empty()) {
        let name = word.to_ascii_lowercase();
        let known = FIELDS.contains(&name.as_str()) || MORE_FIELDS.contains(&name.as_str());
        let header = name.strip_prefix("hdr.").is_some_and(|h| !h.contains('.'));
        if !known && !header {
            log::info!("{AVAILABLE}");
            let msg = format!("Unknown fetch field: {name}");
            return Err(CmdError::fatal(exit::TEMPFAIL, msg));
        }
        out.push(name);
    }
    Ok(out)
}

/// One mailbox's mails matching a query, with what fields need.
pub(crate) struct Matched<'a> {
    pub mailbox: &'a Mailbox,
    pub mail: &'a Mail,
    pub message: &'a [u8],
}

/// Run `each` on every mail the query matches, mailbox by mailbox in
/// list order. A missing mailbox named without wildcards is an error
/// only when `strict` (search), as in doveadm.
pub(crate) fn for_each_match(
    loc: &MailLocation,
    query: &Key,
    strict: bool,
    each: &mut dyn FnMut(Matched<'_>) -> Result<(), CmdError>,
) -> Result<(), CmdError> {
    let mut patterns = query.mailbox_patterns();
    if patterns.is_empty() {
        patterns.push("*".to_string());
    }
    for name in matching_mailboxes(loc, &patterns, false)? {
        let mailbox = match Mailbox::open(loc, &name) {
            Ok(mailbox) => mailbox,
            Err(MailboxError::NotFound(_)) if !strict => continue,
            Err(MailboxError::NotFound(_)) => {
                let msg =
                    format!("Couldn't get mailbox '{name}' GUID: Mailbox doesn't exist: {name}");
                return Err(CmdError::error(exit::NOTFOUND, msg));
            }
            Err(e) => return Err(CmdError::error(exit::TEMPFAIL, e.to_string())),
        };
        let guid = mailbox.guid_hex();
        let last_seq = mailbox.mails.last().map_or(0, |m| m.seq);
        for mail in &mailbox.mails {
            let message = mail
                .read()
                .map_err(|e| CmdError::io(&mail.path.display().to_string(), e))?;
            let candidate = Candidate {
                mail,
                mailbox: &name,
                mailbox_guid: &guid,
                message: &message,
                last_seq,
            };
            if query.matches(&candidate) {
                each(Matched {
                    mailbox: &mailbox,
                    mail,
                    message: &message,
                })?;
            }
        }
    }
    Ok(())
}

pub(crate) fn parse_query(args: &[String]) -> Result<Key, CmdError> {
    search::parse(args).map_err(|e| CmdError::fatal(exit::TEMPFAIL, e.to_string()))
}

/// `doveadm fetch FIELDS SEARCH-QUERY`.
pub fn fetch(
    loc: &MailLocation,
    fields: &str,
    query: &[String],
    formatter: Formatter,
    out: &mut dyn Write,
) -> Result<(), CmdError> {
    let fields = parse_fields(fields)?;
    let query = parse_query(query)?;
    let mut printer = Printer::new(out, formatter);
    fields.iter().for_each(|f| printer.header(f, false));

    for_each_match(loc, &query, false, &mut |m| {
        for field in &fields {
            print_field(&mut printer, field, &m)?;
        }
        Ok(())
    })?;
    printer.flush().map_err(stdout_err)
}

fn print_field<W: Write>(p: &mut Printer<W>, field: &str, m: &Matched<'_>) -> Result<(), CmdError> {
    let io = |e| CmdError::io(&m.mail.path.display().to_string(), e);
    let (header, body) = split_header(m.message);
    let value: Vec<u8> = match field {
        "hdr" => return p.stream(header).map_err(stdout_err),
        "body" => return p.stream(body).map_err(stdout_err),
        "text" => return p.stream(m.message).map_err(stdout_err),
        "user" => std::env::var("USER").unwrap_or_default().into_bytes(),
        "mailbox" => m.mailbox.vname.clone().into_bytes(),
        "mailbox-guid" => m.mailbox.guid_hex().into_bytes(),
        "seq" => m.mail.seq.to_string().into_bytes(),
        "uid" => m.mail.uid.to_string().into_bytes(),
        "guid" => m.mail.guid.clone().into_bytes(),
        "flags" => flags_text(m).into_bytes(),
        "modseq" => m.mail.modseq.to_string().into_bytes(),
        "size.physical" => m.mail.physical_size().map_err(io)?.to_string().into_bytes(),
        "size.virtual" => m.mail.virtual_size().map_err(io)?.to_string().into_bytes(),
        "date.received" => unixdate2str(m.mail.received_date().map_err(io)?).into_bytes(),
        "date.received.unixtime" => m.mail.received_date().map_err(io)?.to_string().into_bytes(),
        "date.saved" => unixdate2str(m.mail.save_date().map_err(io)?).into_bytes(),
        "date.saved.unixtime" => m.mail.save_date().map_err(io)?.to_string().into_bytes(),
        "date.sent" => date_sent(m.message, false).into_bytes(),
        "date.sent.unixtime" => date_sent(m.message, true).into_bytes(),
        "imap.envelope" => Envelope::from_message(m.message).to_imap(),
        "imap.body" | "imap.bodystructure" => bodystructure(m.message, field)?,
        "body.preview" | "body.snippet" => {
            let structure = MessageStructure::parse(m.message);
            message_snippet::mail_body_snippet(m.message, &structure)
        }
        "pop3.uidl" => m.mail.pop3_uidl.clone().into_bytes(),
        _ => header_values(m.message, &field[4..]),
    };
    p.value(&value).map_err(stdout_err)
}

fn bodystructure(message: &[u8], field: &str) -> Result<Vec<u8>, CmdError> {
    let structure = MessageStructure::parse(message);
    let extended = field == "imap.bodystructure";
    structure
        .write(extended)
        .map_err(|e| CmdError::error(exit::TEMPFAIL, e.to_string()))
}

/// The header block (with its empty line) and the body.
fn split_header(message: &[u8]) -> (&[u8], &[u8]) {
    let (size, _) = message_size::header_size(message);
    let at = (size.physical_size as usize).min(message.len());
    message.split_at(at)
}

/// `imap_write_flags()` with `\Recent` after the system flags.
fn flags_text(m: &Matched<'_>) -> String {
    let names = [
        (MailFlags::ANSWERED, "\\Answered"),
        (MailFlags::FLAGGED, "\\Flagged"),
        (MailFlags::DELETED, "\\Deleted"),
        (MailFlags::SEEN, "\\Seen"),
        (MailFlags::DRAFT, "\\Draft"),
    ];
    let mut words: Vec<&str> = names
        .iter()
        .filter(|(flag, _)| m.mail.flags.contains(*flag))
        .map(|(_, name)| *name)
        .collect();
    if m.mailbox.is_recent(m.mail.uid) {
        words.push("\\Recent");
    }
    words.extend(m.mail.keywords.iter().map(String::as_str));
    words.join(" ")
}

/// The first `Date:` header as doveadm shows it; a missing or invalid
/// date is the epoch.
fn date_sent(message: &[u8], unixtime: bool) -> String {
    let values = raw_headers(message, "Date");
    let date = values.first().and_then(|v| message_date::parse(v));
    let (t, tz) = date.map_or((0, 0), |d| (i64::from(d.index_time()), d.tz_offset));
    if unixtime {
        return t.to_string();
    }
    let sign = if tz < 0 { '-' } else { '+' };
    let tz = tz.unsigned_abs();
    format!("{} ({sign}{:02}{:02})", unixdate2str(t), tz / 60, tz % 60)
}

/// `hdr.NAME`: the values joined by LF.
fn header_values(message: &[u8], name: &str) -> Vec<u8> {
    raw_headers(message, name).join(&b'\n')
}
