//! `doveadm mailbox list` and `mailbox status`: doveadm-rs against the
//! real doveadm on homes the real Dovecot wrote.

mod common;

use common::doveadm_mail::{cache_save_dates, compare, corpus_home, demo_home};

const STATUS_FIELDS: &str = "messages recent uidnext uidvalidity unseen highestmodseq vsize guid";

#[test]
fn demo_mailbox_commands() {
    require_dovecot!();
    let home = demo_home();
    cache_save_dates(&home);
    for args in [
        &["mailbox", "list"][..],
        &["mailbox", "list", "-s"],
        &["mailbox", "list", "W*"],
        &["mailbox", "list", "%"],
        &["mailbox", "list", "INBOX", "*s"],
        &["mailbox", "list", "Nope"],
        &["-f", "tab", "mailbox", "list"],
        &["mailbox", "status", STATUS_FIELDS, "INBOX"],
        &["mailbox", "status", STATUS_FIELDS, "*"],
        &[
            "mailbox",
            "status",
            "vsize unseen messages",
            "Archive",
            "INBOX",
        ],
        &["mailbox", "status", "all", "*"],
        &["mailbox", "status", "firstsaved", "Work"],
        &["mailbox", "status", "-t", "all", "*"],
        &["mailbox", "status", "-t", "messages vsize", "W*"],
        &["mailbox", "status", "-t", "messages guid", "*"],
        &["-f", "tab", "mailbox", "status", "messages unseen", "*"],
        &["mailbox", "status", "messages", "Nope"],
        &["mailbox", "status", "bogus", "INBOX"],
        &["mailbox", "status", "messages"],
    ] {
        compare(&home, args);
    }
}

#[test]
fn corpus_mailbox_commands() {
    require_dovecot!();
    let home = corpus_home(
        "maildir:{home}/Maildir",
        &["Work", "Work.Projects", "Archive"],
    );
    for args in [
        &["mailbox", "list"][..],
        &["mailbox", "list", "-s"],
        // firstsaved is compared on the demo only: here Dovecot does not
        // always cache the save dates of freshly saved mails, and their
        // ctime moves with every oracle run.
        &["mailbox", "status", STATUS_FIELDS, "*"],
        &["mailbox", "status", "-t", "all", "*"],
    ] {
        compare(&home, args);
    }
}

#[test]
fn fs_layout_mailbox_commands() {
    require_dovecot!();
    let home = corpus_home(
        "maildir:{home}/Maildir:LAYOUT=fs",
        &["Work", "Work/Projects"],
    );
    for args in [
        &["mailbox", "list"][..],
        &["mailbox", "list", "Work/%"],
        &["mailbox", "status", STATUS_FIELDS, "*"],
    ] {
        compare(&home, args);
    }
}
