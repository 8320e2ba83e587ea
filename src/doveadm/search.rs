//! `doveadm search SEARCH-QUERY` (doveadm-mail-search.c): the mailbox
//! GUID and UID of every matching message, read-only.
//!
//! TODO(search): without a `mailbox` key, doveadm turns a sequence set
//! into UIDs once and reuses them in later mailboxes; here each mailbox
//! resolves the set itself.

use std::io::Write;

use super::fetch::{for_each_match, parse_query};
use super::mail_cmd::CmdError;
use super::mailbox::stdout_err;
use super::print::{Formatter, Printer};
use crate::storage::mail_user::MailLocation;

/// `doveadm search SEARCH-QUERY`: `MAILBOX-GUID UID` lines.
pub fn search(
    loc: &MailLocation,
    query: &[String],
    formatter: Formatter,
    out: &mut dyn Write,
) -> Result<(), CmdError> {
    let query = parse_query(query)?;
    let mut printer = Printer::new(out, formatter);
    printer.header("mailbox-guid", true);
    printer.header("uid", true);
    for_each_match(loc, &query, true, &mut |m| {
        let guid = m.mailbox.guid_hex();
        printer.value(guid.as_bytes()).map_err(stdout_err)?;
        printer
            .value(m.mail.uid.to_string().as_bytes())
            .map_err(stdout_err)
    })?;
    printer.flush().map_err(stdout_err)
}
