//! The index engine against the real Dovecot: Dovecot writes and we
//! read, we write and Dovecot reads, and both at once, on sdbox and
//! Maildir mailboxes whose index files both sides share.

mod common;

use std::path::{Path, PathBuf};

use common::MailHome;
use common::engine::*;
use dovecot_rs::index::format::index::mail_flags;
use dovecot_rs::index::transaction::{Modify, TransactionFlags};
use dovecot_rs::index::view_sync::{ViewSyncFlags, ViewSyncType};

/// A round of changes through the real doveadm: flags, keywords, an
/// expunge now and then, a new message.
fn dovecot_round(home: &MailHome, round: usize) {
    let uid = |n: usize| format!("{}", 1 + n % (round + 3));
    let flag = ["\\Seen", "\\Flagged", "\\Answered", "\\Draft"][round % 4];
    doveadm_ok(
        home,
        &["flags", "add", flag, "mailbox", "INBOX", "uid", &uid(round)],
    );
    let kw = format!("kw{}", round % 5);
    doveadm_ok(
        home,
        &[
            "flags",
            "add",
            &kw,
            "mailbox",
            "INBOX",
            "uid",
            &uid(round * 7),
        ],
    );
    if round % 3 == 2 {
        doveadm_ok(home, &["flags", "remove", flag, "mailbox", "INBOX", "all"]);
    }
    if round % 4 == 3 {
        doveadm_ok(
            home,
            &["expunge", "mailbox", "INBOX", "uid", &uid(round * 3)],
        );
    }
    home.save(None, &message(100 + round));
}

fn dovecot_writes_we_read(location: &str, index_dir: impl Fn(&MailHome) -> PathBuf) {
    let mut home = MailHome::new(location);
    home.set_conf_extra(SMALL_THRESHOLDS);
    for i in 0..4 {
        home.save(None, &message(i));
    }
    fetch(&home, "uid flags modseq");
    let dir = index_dir(&home);
    let mut held = open_index(&dir);
    let mut seqs_seen = std::collections::BTreeSet::new();

    for round in 0..14 {
        dovecot_round(&home, round);
        let theirs = fetch(&home, "uid flags modseq");

        let fresh = open_index(&dir);
        assert_eq!(
            ours(&fresh.view(), true),
            theirs,
            "round {round}: fresh open"
        );
        held.refresh().expect("refresh");
        assert_eq!(ours(&held.view(), true), theirs, "round {round}: refreshed");
        seqs_seen.insert(held.log().unwrap().head.hdr.file_seq);
    }
    assert!(seqs_seen.len() >= 2, "the log never rotated: {seqs_seen:?}");
    assert!(dir.join("dovecot.index.log.2").exists());
}

#[test]
fn dovecot_writes_sdbox_we_read() {
    require_dovecot!();
    dovecot_writes_we_read("sdbox:{home}/sdbox", sdbox_index_dir);
}

#[test]
fn dovecot_writes_maildir_we_read() {
    require_dovecot!();
    dovecot_writes_we_read("maildir:{home}/Maildir", |h| h.path().join("Maildir"));
}

/// Two sdbox mailboxes with the same messages: one changed through
/// doveadm, one through our transactions.
fn twins() -> (MailHome, MailHome) {
    let theirs = MailHome::new("sdbox:{home}/sdbox");
    let ours = MailHome::new("sdbox:{home}/sdbox");
    for i in 0..6 {
        theirs.save(None, &message(i));
        ours.save(None, &message(i));
    }
    fetch(&theirs, "uid flags");
    fetch(&ours, "uid flags");
    (theirs, ours)
}

#[test]
fn we_write_sdbox_dovecot_reads() {
    require_dovecot!();
    let (theirs, home) = twins();
    doveadm_ok(
        &theirs,
        &["flags", "add", "\\Seen", "mailbox", "INBOX", "uid", "1:3"],
    );
    doveadm_ok(
        &theirs,
        &[
            "flags",
            "add",
            "\\Flagged $foo",
            "mailbox",
            "INBOX",
            "uid",
            "2",
        ],
    );
    doveadm_ok(
        &theirs,
        &["flags", "add", "bar", "mailbox", "INBOX", "uid", "5:6"],
    );
    doveadm_ok(
        &theirs,
        &["flags", "remove", "\\Seen", "mailbox", "INBOX", "uid", "3"],
    );
    doveadm_ok(
        &theirs,
        &[
            "flags",
            "replace",
            "\\Answered baz",
            "mailbox",
            "INBOX",
            "uid",
            "6",
        ],
    );
    doveadm_ok(&theirs, &["expunge", "mailbox", "INBOX", "uid", "4"]);
    let expected = fetch(&theirs, "uid flags");

    let dir = sdbox_index_dir(&home);
    let mut index = open_index(&dir);
    let view = index.view();
    let foo = index.keyword_idx("$foo").unwrap();
    let bar = index.keyword_idx("bar").unwrap();
    let baz = index.keyword_idx("baz").unwrap();
    let mut t = index.transaction(&view, TransactionFlags::empty());
    for seq in 1..=3 {
        t.update_flags(seq, Modify::Add, mail_flags::SEEN.into());
    }
    t.update_flags(2, Modify::Add, mail_flags::FLAGGED.into());
    t.update_keywords(2, Modify::Add, &[foo]);
    t.update_keywords(5, Modify::Add, &[bar]);
    t.update_keywords(6, Modify::Add, &[bar]);
    t.update_flags(3, Modify::Remove, mail_flags::SEEN.into());
    t.update_flags(6, Modify::Replace, mail_flags::ANSWERED.into());
    t.update_keywords(6, Modify::Replace, &[baz]);
    t.expunge(4);
    index.commit(t).expect("commit");

    assert_eq!(fetch(&home, "uid flags"), expected);
    index.refresh().unwrap();
    assert_eq!(ours(&index.view(), false), expected);
    for file in ["dovecot.index", "dovecot.index.log"] {
        let out = home.doveadm(&["dump", dir.join(file).to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.is_empty(),
            "dump {file}: {stderr}"
        );
    }
}

#[test]
fn our_log_records_look_like_dovecots() {
    require_dovecot!();
    let (theirs, home) = twins();
    doveadm_ok(
        &theirs,
        &["flags", "add", "\\Seen", "mailbox", "INBOX", "uid", "1:3"],
    );
    let dir = sdbox_index_dir(&home);
    let mut index = open_index(&dir);
    let view = index.view();
    let mut t = index.transaction(&view, TransactionFlags::empty());
    for seq in 1..=3 {
        t.update_flags(seq, Modify::Add, mail_flags::SEEN.into());
    }
    index.commit(t).unwrap();
    fetch(&home, "uid flags");

    let tail = |home: &MailHome, dir: &Path| {
        let path = dir.join("dovecot.index.log");
        let out = home.doveadm_ok(&["dump", path.to_str().unwrap()]);
        let start = out.find("type=flag-update").expect("a flag update");
        out[start..].lines().take(4).collect::<Vec<_>>().join("\n")
    };
    let theirs_dump = tail(&theirs, &sdbox_index_dir(&theirs));
    let ours_dump = tail(&home, &dir);
    common::assert_same_output(
        &strip_offsets(&ours_dump),
        &strip_offsets(&theirs_dump),
        "flag update",
    );
}

fn strip_offsets(dump: &str) -> String {
    dump.lines()
        .map(|l| match l.find("type=") {
            Some(i) if l.starts_with("record:") => l[i..].to_string(),
            _ => l.to_string(),
        })
        .filter(|l| !l.contains("log_file_tail_offset"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn view_sync_sees_what_dovecot_did() {
    require_dovecot!();
    let home = MailHome::new("sdbox:{home}/sdbox");
    for i in 0..4 {
        home.save(None, &message(i));
    }
    fetch(&home, "uid flags");
    let dir = sdbox_index_dir(&home);
    let mut index = open_index(&dir);
    let mut view = index.view();
    let mut kept = index.view();

    doveadm_ok(
        &home,
        &["flags", "add", "\\Seen", "mailbox", "INBOX", "uid", "2"],
    );
    doveadm_ok(&home, &["expunge", "mailbox", "INBOX", "uid", "3"]);
    doveadm_ok(
        &home,
        &[
            "flags",
            "add",
            "\\Flagged",
            "mailbox",
            "INBOX",
            "uid",
            "3:4",
        ],
    );
    home.save(None, &message(9));
    let theirs = fetch(&home, "uid flags");

    let sync = index.view_sync(&mut view, ViewSyncFlags::empty()).unwrap();
    assert_eq!(sync.expunges.len(), 1);
    assert_eq!((sync.expunges[0].uid1, sync.expunges[0].uid2), (3, 3));
    let changed: Vec<(u32, u32)> = sync
        .changes
        .iter()
        .filter(|c| c.kind == ViewSyncType::Flags)
        .map(|c| (c.uid1, c.uid2))
        .collect();
    assert_eq!(changed, [(2, 2), (4, 4)]);
    assert_eq!((sync.old_messages_count, sync.new_messages_count), (4, 4));
    assert_eq!(ours(&view, false), theirs);

    // A view that keeps expunged messages: uid 3 stays, without the
    // \Flagged that was set after it was expunged.
    index
        .view_sync(&mut kept, ViewSyncFlags::NOEXPUNGES)
        .unwrap();
    let seq3 = kept.lookup_seq(3).expect("uid 3 kept");
    assert!(kept.is_expunged(seq3));
    assert_eq!(kept.imap_flags(seq3), Vec::<String>::new());
    let seq4 = kept.lookup_seq(4).unwrap();
    assert_eq!(kept.imap_flags(seq4), ["\\Flagged"]);
}

#[test]
fn alternating_writers() {
    require_dovecot!();
    let mut home = MailHome::new("sdbox:{home}/sdbox");
    home.set_conf_extra(SMALL_THRESHOLDS);
    for i in 0..5 {
        home.save(None, &message(i));
    }
    fetch(&home, "uid flags");
    let dir = sdbox_index_dir(&home);
    let mut index = open_index(&dir);
    let mut view = index.view();

    for round in 0..40u32 {
        let flag = ["\\Seen", "\\Flagged", "\\Answered"][round as usize % 3];
        let uid = 1 + round % 5;
        let had = view.imap_flags(view.lookup_seq(uid).unwrap());
        doveadm_ok(
            &home,
            &[
                "flags",
                "add",
                flag,
                "mailbox",
                "INBOX",
                "uid",
                &uid.to_string(),
            ],
        );
        let sync = index.view_sync(&mut view, ViewSyncFlags::empty()).unwrap();
        let reported = sync
            .changes
            .iter()
            .any(|c| (c.uid1..=c.uid2).contains(&uid));
        assert_eq!(reported, !had.iter().any(|f| f == flag), "round {round}");

        let mut t = index.transaction(&view, TransactionFlags::empty());
        let seq = 1 + (round * 3) % view.messages_count();
        t.update_flags(seq, Modify::Remove, mail_flags::SEEN.into());
        let kw = index.keyword_idx(&format!("k{}", round % 7)).unwrap();
        t.update_keywords(seq, Modify::Add, &[kw]);
        index.commit(t).unwrap();
        view = index.view();
    }
    let theirs = fetch(&home, "uid flags modseq");
    index.refresh().unwrap();
    assert_eq!(ours(&index.view(), true), theirs);
}
