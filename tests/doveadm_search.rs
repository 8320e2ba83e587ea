//! `doveadm search`: every supported search key, doveadm-rs against the
//! real doveadm on homes the real Dovecot wrote.

mod common;

use common::doveadm_mail::{compare, corpus_home, demo_home};

const QUERIES: &[&[&str]] = &[
    &["all"],
    &["mailbox", "INBOX", "SEEN"],
    &["UNSEEN"],
    &["FLAGGED"],
    &["unflagged", "mailbox", "INBOX"],
    &["DELETED"],
    &["ANSWERED"],
    &["DRAFT"],
    &["KEYWORD", "project-x"],
    &["keyword", "$Label1"],
    &["keyword", "work"],
    &["uid", "2:5"],
    &["uid", "4:*"],
    &["mailbox", "INBOX", "2,4:5"],
    &["mailbox", "INBOX", "*"],
    &["since", "2020-01-01"],
    &["before", "2030-01-01"],
    &["on", "2020-01-01"],
    &["since", "1-Jan-2020"],
    &["larger", "250"],
    &["smaller", "270"],
    &["subject", "message 3"],
    &["subject", "DEMO"],
    &["from", "demo"],
    &["to", "alice"],
    &["header", "subject", "Demo"],
    &["header", "x-missing", ""],
    &["body", "demo"],
    &["text", "demo"],
    &["text", "example"],
    &["not", "seen"],
    &["flagged", "or", "answered"],
    &["seen", "flagged", "or", "answered"],
    &["or", "flagged", "answered"],
    &["not", "(", "seen", "or", "flagged", ")"],
    &["(", "seen", "flagged", ")"],
    &["(", ")"],
    &["(", "seen"],
    &["mailbox", "Archive", "all"],
    &["mailbox", "W*", "all"],
    &["mailbox", "Nope", "all"],
    &["FOO"],
];

fn run_all(home: &common::MailHome) {
    for query in QUERIES {
        let mut args = vec!["search"];
        args.extend_from_slice(query);
        compare(home, &args);
    }
}

#[test]
fn demo_search() {
    require_dovecot!();
    run_all(&demo_home());
}

#[test]
fn corpus_search() {
    require_dovecot!();
    run_all(&corpus_home("maildir:{home}/Maildir", &["Work", "Archive"]));
}
