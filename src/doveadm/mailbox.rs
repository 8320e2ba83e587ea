//! `doveadm mailbox list` and `doveadm mailbox status`
//! (doveadm-mail-mailbox.c, doveadm-mail-mailbox-status.c), read-only.
//!
//! TODO(status): a mailbox whose uidlist has no GUID shows an empty
//! `guid`; Dovecot would create and store one.

use std::io::Write;

use super::exit;
use super::mail_cmd::CmdError;
use super::print::{Formatter, Printer};
use crate::storage::list::{self, Glob, subscriptions};
use crate::storage::mail_user::MailLocation;
use crate::storage::maildir::filename::MailFlags;
use crate::storage::maildir::mailbox::{Mailbox, MailboxError};

/// The mailboxes matching `masks` in list order; masks without
/// wildcards are listed even when no such mailbox exists, as doveadm
/// does.
pub fn matching_mailboxes(
    loc: &MailLocation,
    masks: &[String],
    subscribed: bool,
) -> Result<Vec<String>, CmdError> {
    let glob = Glob::new(masks, loc.separator());
    let mut names = if subscribed {
        let path = loc.subscriptions_path();
        let subs = subscriptions::read(&path, loc.separator())
            .map_err(|e| CmdError::io(&path.display().to_string(), e))?;
        subs.into_iter().filter(|n| glob.matches(n)).collect()
    } else {
        list::list_mailboxes(loc, &glob)
            .map_err(|e| CmdError::io(&loc.root.display().to_string(), e))?
    };

    let plain = masks.iter().filter(|m| !m.contains(['*', '%']));
    for mask in plain {
        if !subscribed
            && !names
                .iter()
                .any(|n| Glob::new(std::slice::from_ref(mask), loc.separator()).matches(n))
        {
            names.push(mask.clone());
        }
    }
    Ok(names)
}

/// `doveadm mailbox list [-s] [MASK...]`.
pub fn list(
    loc: &MailLocation,
    subscribed: bool,
    masks: &[String],
    formatter: Formatter,
    out: &mut dyn Write,
) -> Result<(), CmdError> {
    let names = matching_mailboxes(loc, masks, subscribed)?;
    let mut printer = Printer::new(out, formatter);
    printer.header("mailbox", true);
    for name in names {
        printer.value(name.as_bytes()).map_err(stdout_err)?;
    }
    printer.flush().map_err(stdout_err)
}

pub fn stdout_err(e: std::io::Error) -> CmdError {
    CmdError::fatal(exit::TEMPFAIL, format!("write(stdout) failed: {e}"))
}

/// The status fields in doveadm's output order.
const FIELDS: [&str; 9] = [
    "messages",
    "recent",
    "uidnext",
    "uidvalidity",
    "unseen",
    "highestmodseq",
    "vsize",
    "guid",
    "firstsaved",
];
/// What `all` selects with `-t`.
const TOTAL_FIELDS: [&str; 4] = ["messages", "recent", "unseen", "vsize"];

/// The requested fields, in output order.
fn parse_fields(fields: &str, total: bool) -> Result<Vec<&'static str>, CmdError> {
    let words: Vec<&str> = fields.split(' ').filter(|w| !w.is_empty()).collect();
    if words.is_empty() {
        return Err(CmdError::fatal(exit::USAGE, "No status fields"));
    }
    let mut wanted = Vec::new();
    for word in words {
        match word {
            "all" if total => wanted.extend(TOTAL_FIELDS),
            "all" => wanted.extend(FIELDS),
            _ => match FIELDS.iter().find(|f| **f == word) {
                Some(field) => wanted.push(*field),
                None => {
                    let msg = format!("Unknown status field: {word}");
                    return Err(CmdError::fatal(exit::USAGE, msg));
                }
            },
        }
        if total && wanted.iter().any(|f| !TOTAL_FIELDS.contains(f)) {
            let msg = format!("Status field {word} can't be used with -t");
            return Err(CmdError::fatal(exit::USAGE, msg));
        }
    }
    Ok(FIELDS.into_iter().filter(|f| wanted.contains(f)).collect())
}

/// One mailbox's values, as numbers and the GUID text.
#[derive(Default)]
struct Status {
    messages: u64,
    recent: u64,
    uidnext: u64,
    uidvalidity: u64,
    unseen: u64,
    highestmodseq: u64,
    vsize: u64,
    guid: String,
    /// The first message's save date (`None`: no messages).
    first_saved: Option<i64>,
}

impl Status {
    fn of(mailbox: &Mailbox) -> std::io::Result<Status> {
        let mut vsize = 0;
        for mail in &mailbox.mails {
            vsize += mail.virtual_size()?;
        }
        let mails = &mailbox.mails;
        let recent = mails.iter().filter(|m| mailbox.is_recent(m.uid));
        let unseen = mails.iter().filter(|m| !m.flags.contains(MailFlags::SEEN));
        Ok(Status {
            messages: mails.len() as u64,
            recent: recent.count() as u64,
            uidnext: u64::from(mailbox.next_uid),
            uidvalidity: u64::from(mailbox.uid_validity),
            unseen: unseen.count() as u64,
            highestmodseq: mailbox.highest_modseq,
            vsize,
            guid: mailbox.guid_hex(),
            first_saved: mails.first().map(|m| m.save_date()).transpose()?,
        })
    }

    fn add(&mut self, other: &Status) {
        self.messages += other.messages;
        self.recent += other.recent;
        self.unseen += other.unseen;
        self.vsize += other.vsize;
    }

    fn field(&self, name: &str) -> String {
        match name {
            "messages" => self.messages.to_string(),
            "recent" => self.recent.to_string(),
            "uidnext" => self.uidnext.to_string(),
            "uidvalidity" => self.uidvalidity.to_string(),
            "unseen" => self.unseen.to_string(),
            "highestmodseq" => self.highestmodseq.to_string(),
            "vsize" => self.vsize.to_string(),
            "firstsaved" => self
                .first_saved
                .map_or_else(|| "never".to_string(), |t| t.to_string()),
            _ => self.guid.clone(),
        }
    }
}

/// `doveadm mailbox status [-t] FIELDS MAILBOX...`.
pub fn status(
    loc: &MailLocation,
    total: bool,
    fields: &str,
    masks: &[String],
    formatter: Formatter,
    out: &mut dyn Write,
) -> Result<(), CmdError> {
    let fields = parse_fields(fields, total)?;
    let mut printer = Printer::new(out, formatter);
    if !total {
        printer.header("mailbox", true);
    }
    fields.iter().for_each(|f| printer.header(f, false));

    let mut sum = Status::default();
    let mut failed = None;
    for name in matching_mailboxes(loc, masks, false)? {
        let status = match Mailbox::open(loc, &name) {
            Ok(mailbox) => Status::of(&mailbox).map_err(|e| CmdError::io(&name, e)),
            Err(e) => Err(open_error(&name, e)),
        };
        let status = match status {
            Ok(status) => status,
            Err(e) => {
                log::error!("{e}");
                failed = Some(e);
                continue;
            }
        };
        if total {
            sum.add(&status);
            continue;
        }
        printer.value(name.as_bytes()).map_err(stdout_err)?;
        for field in &fields {
            printer
                .value(status.field(field).as_bytes())
                .map_err(stdout_err)?;
        }
    }
    if total {
        for field in &fields {
            printer
                .value(sum.field(field).as_bytes())
                .map_err(stdout_err)?;
        }
    }
    printer.flush().map_err(stdout_err)?;
    failed.map_or(Ok(()), Err)
}

/// How doveadm reports a mailbox it cannot open.
pub fn open_error(name: &str, e: MailboxError) -> CmdError {
    match e {
        MailboxError::NotFound(_) => CmdError::error(
            exit::NOTFOUND,
            format!(
                "Mailbox {name}: Failed to lookup mailbox status: Mailbox doesn't exist: {name}"
            ),
        ),
        other => CmdError::error(exit::TEMPFAIL, format!("Mailbox {name}: {other}")),
    }
}
