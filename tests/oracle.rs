//! The oracle itself works: real doveadm saves into and fetches from a
//! maildir under a temporary home.

mod common;

use common::MailHome;

#[test]
fn doveadm_saves_and_fetches() {
    require_dovecot!();
    let home = MailHome::new("maildir:{home}/Maildir");
    home.save(None, b"Subject: hello\r\n\r\nbody\r\n");

    let out = home.doveadm_ok(&["fetch", "uid hdr.subject", "all"]);
    assert_eq!(out, "uid: 1\nhdr.subject: hello\n");
    assert!(home.path().join("Maildir/dovecot-uidlist").exists());
}
