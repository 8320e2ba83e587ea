//! Maildir's own files, read by us and by the real Dovecot: the same
//! UIDs, flags and keywords, and the same verdict on corrupted uidlists.

mod common;

use std::fs;
use std::path::Path;

use common::MailHome;
use dovecot_rs::storage::maildir::filename::{self, MailFlags};
use dovecot_rs::storage::maildir::keywords::Keywords;
use dovecot_rs::storage::maildir::uidlist::Uidlist;

/// doveadm's `flags` text for what a file name and dovecot-keywords say.
fn flags_text(name: &[u8], keywords: &Keywords) -> String {
    let parsed = filename::get_flags(name);
    let mut words = Vec::new();
    let names = [
        (MailFlags::ANSWERED, "\\Answered"),
        (MailFlags::FLAGGED, "\\Flagged"),
        (MailFlags::DELETED, "\\Deleted"),
        (MailFlags::SEEN, "\\Seen"),
        (MailFlags::DRAFT, "\\Draft"),
    ];
    for (flag, word) in names {
        if parsed.flags.contains(flag) {
            words.push(word.to_string());
        }
    }
    words.push("\\Recent".to_string());
    let mut kws: Vec<usize> = parsed.keywords.iter().map(|&k| k as usize).collect();
    kws.sort();
    for k in kws {
        if let Some(name) = keywords.name(k) {
            words.push(name.to_string());
        }
    }
    words.join(" ")
}

/// Our reading of a maildir: `uid: N\nflags: ...` per message, in the
/// form `doveadm fetch 'uid flags' all` prints.
fn our_fetch(maildir: &Path) -> String {
    let uidlist = Uidlist::parse(&fs::read(maildir.join("dovecot-uidlist")).unwrap()).unwrap();
    let keywords = Keywords::parse(&fs::read(maildir.join("dovecot-keywords")).unwrap_or_default());

    let mut files = Vec::new();
    for dir in ["new", "cur"] {
        for entry in fs::read_dir(maildir.join(dir)).unwrap() {
            let name = entry.unwrap().file_name().into_encoded_bytes();
            if !name.starts_with(b".") {
                files.push(name);
            }
        }
    }

    let mut out = Vec::new();
    for rec in &uidlist.records {
        let Some(name) = files
            .iter()
            .find(|f| filename::base(f) == rec.filename.as_slice())
        else {
            continue;
        };
        out.push(format!(
            "uid: {}\nflags: {}\n",
            rec.uid,
            flags_text(name, &keywords)
        ));
    }
    out.join("\x0c\n")
}

#[test]
fn uids_flags_and_keywords_read_like_dovecot() {
    require_dovecot!();
    let home = MailHome::new("maildir:{home}/Maildir");
    for i in 1..=6 {
        home.save(None, format!("Subject: m{i}\r\n\r\nbody\r\n").as_bytes());
    }
    home.doveadm_ok(&["flags", "add", "\\Seen kw-one", "uid", "1:3"]);
    home.doveadm_ok(&[
        "flags",
        "add",
        "\\Draft \\Answered kw-two $Label1",
        "uid",
        "2,5",
    ]);
    home.doveadm_ok(&["flags", "add", "\\Deleted \\Flagged", "uid", "6"]);
    home.doveadm_ok(&["flags", "remove", "kw-one", "uid", "2"]);
    home.doveadm_ok(&["expunge", "mailbox", "INBOX", "uid", "4"]);
    let theirs = home.doveadm_ok(&["fetch", "uid flags", "all"]);

    let ours = our_fetch(&home.path().join("Maildir"));
    common::assert_same_output(&ours, &theirs, "maildir uid flags");
}

#[test]
fn our_uidlist_and_keywords_encoding_is_dovecots() {
    require_dovecot!();
    let home = MailHome::new("maildir:{home}/Maildir");
    for i in 1..=3 {
        home.save(None, format!("Subject: m{i}\r\n\r\nbody\r\n").as_bytes());
    }
    home.doveadm_ok(&["flags", "add", "a-keyword b-keyword", "uid", "2"]);
    let maildir = home.path().join("Maildir");

    let uidlist = fs::read(maildir.join("dovecot-uidlist")).unwrap();
    assert_eq!(Uidlist::parse(&uidlist).unwrap().encode(), uidlist);
    let keywords = fs::read(maildir.join("dovecot-keywords")).unwrap();
    assert_eq!(Keywords::parse(&keywords).encode(), keywords);
}

/// Each corrupted uidlist: Dovecot logs the same reason we report.
#[test]
fn corrupted_uidlists_are_corrupted_for_dovecot_too() {
    require_dovecot!();
    let cases: &[(&str, &str)] = &[
        ("x V1 N2\n", "Corrupted header (invalid version number)"),
        ("2 V1 N2\n", "Unsupported version 2"),
        ("3 V0 N2\n", "Broken header (uidvalidity = 0, next_uid=2)"),
        ("3 V1 N9 G123\n", "Invalid mailbox GUID: 123"),
        ("3 V1 N9\n5 :a\n5 :b\n", "UIDs not ordered (5 >= 5)"),
        ("3 V1 N9\nx :a\n", "Invalid data: x :a"),
    ];
    for (text, reason) in cases {
        let err = Uidlist::parse(text.as_bytes()).unwrap_err();
        assert_eq!(err.reason, *reason);

        let home = MailHome::new("maildir:{home}/Maildir");
        home.save(None, b"Subject: m\r\n\r\nbody\r\n");
        fs::write(home.path().join("Maildir/dovecot-uidlist"), text).unwrap();
        fs::remove_file(home.path().join("Maildir/dovecot.index.log")).unwrap();
        let out = home.doveadm(&["fetch", "uid", "all"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(reason), "dovecot said: {stderr}");
    }
}
