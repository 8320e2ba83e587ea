//! Our sync cycle against the real Dovecot: we sync (as a backend),
//! rotate the log and rewrite dovecot.index, and Dovecot reads the
//! result; appends with the UIDs we assign; recovery of lost files.

mod common;

use std::fs;

use common::MailHome;
use common::engine::*;
use dovecot_rs::index::format::index::mail_flags;
use dovecot_rs::index::mail_index::{Index, OpenFlags, OptimizationSettings};
use dovecot_rs::index::sync::{SyncFlags, SyncType};
use dovecot_rs::index::transaction::{Modify, TransactionFlags};
use dovecot_rs::util::file_lock::LockMethod;

/// Thresholds small enough that the test's writes rotate the log by size
/// alone: between min and max size Dovecot also wants the log to be older
/// than `log_min_age_secs` (strictly, so at least a second old), which a
/// fast run may never reach.
fn small_optimization() -> OptimizationSettings {
    OptimizationSettings {
        rewrite_min_log_bytes: 512,
        rewrite_max_log_bytes: 1024,
        log_min_size: 512,
        log_max_size: 1024,
        log_min_age_secs: 0,
        ..OptimizationSettings::default()
    }
}

fn sdbox_home(messages: usize) -> MailHome {
    let mut home = MailHome::new("sdbox:{home}/sdbox");
    home.set_conf_extra(SMALL_THRESHOLDS);
    save_all(&home, messages);
    home
}

/// An sdbox mailbox with Dovecot's default thresholds: its log goes
/// back to the index's creation.
fn sdbox_home_unrotated(messages: usize) -> MailHome {
    let home = MailHome::new("sdbox:{home}/sdbox");
    save_all(&home, messages);
    home
}

fn save_all(home: &MailHome, messages: usize) {
    for i in 0..messages {
        home.save(None, &message(i));
    }
    fetch(home, "uid flags modseq");
}

/// Run our sync cycle as an sdbox backend would: flag and keyword
/// requests need nothing, expunge requests delete the file and are
/// written back as external expunges.
fn backend_sync(index: &mut Index, mail_dir: &std::path::Path) {
    let mut ctx = index.sync_begin(SyncFlags::empty()).unwrap().expect("sync");
    while let Some(rec) = ctx.next_rec() {
        if let SyncType::Expunge { .. } = rec.kind {
            for uid in rec.uid1..=rec.uid2 {
                let _ = fs::remove_file(mail_dir.join(format!("u.{uid}")));
                if let Some(seq) = ctx.view.lookup_seq(uid) {
                    ctx.transaction.expunge(seq);
                }
            }
        }
    }
    ctx.commit().unwrap();
}

#[test]
fn our_syncs_rotate_and_rewrite_and_dovecot_reads_them() {
    require_dovecot!();
    let home = sdbox_home(8);
    let dir = sdbox_index_dir(&home);
    let mut index = open_index(&dir);
    index.settings.optimization = small_optimization();
    let first_seq = index.log().unwrap().head.hdr.file_seq;

    for round in 0..30u32 {
        let view = index.view();
        let count = view.messages_count();
        let mut t = index.transaction(&view, TransactionFlags::empty());
        let seq = 1 + round % count;
        let flag =
            [mail_flags::SEEN, mail_flags::FLAGGED, mail_flags::ANSWERED][round as usize % 3];
        let modify = if round % 4 == 3 {
            Modify::Remove
        } else {
            Modify::Add
        };
        t.update_flags(seq, modify, flag.into());
        let kw = index.keyword_idx(&format!("k{}", round % 6)).unwrap();
        t.update_keywords(1 + (round * 5) % count, Modify::Add, &[kw]);
        if round % 10 == 9 {
            t.expunge(count);
        }
        index.commit(t).unwrap();
        backend_sync(&mut index, &dir);

        if round % 5 == 4 {
            let theirs = fetch(&home, "uid flags modseq");
            index.refresh().unwrap();
            assert_eq!(ours(&index.view(), true), theirs, "round {round}");
        }
    }
    let log = index.log().unwrap();
    assert!(
        log.head.hdr.file_seq > first_seq + 1,
        "our syncs never rotated"
    );
    assert!(dir.join("dovecot.index.log.2").exists());
    assert_eq!(fetch(&home, "uid").len(), 5);
    for file in ["dovecot.index", "dovecot.index.log", "dovecot.index.log.2"] {
        let out = home.doveadm(&["dump", dir.join(file).to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.is_empty(),
            "dump {file}: {stderr}"
        );
    }

    // An old .log.2 goes at the next sync, and the header says so.
    drop(index);
    let mut index = open_index(&dir);
    index.settings.optimization.log2_max_age_secs = 0;
    backend_sync(&mut index, &dir);
    assert!(!dir.join("dovecot.index.log.2").exists());
    assert_eq!(index.view().header().log2_rotate_time, u32::MAX);
    assert_eq!(fetch(&home, "uid").len(), 5);
}

#[test]
fn appends_get_the_uids_dovecot_gives() {
    require_dovecot!();
    let theirs = sdbox_home(6);
    let home = sdbox_home(3);
    doveadm_ok(&theirs, &["expunge", "mailbox", "INBOX", "uid", "2"]);
    doveadm_ok(&home, &["expunge", "mailbox", "INBOX", "uid", "2"]);
    let (their_dir, dir) = (sdbox_index_dir(&theirs), sdbox_index_dir(&home));
    let mut index = open_index(&dir);

    let mut ctx = index.sync_begin(SyncFlags::empty()).unwrap().unwrap();
    let seqs: Vec<u32> = (0..3).map(|_| ctx.transaction.append(0)).collect();
    ctx.transaction
        .update_flags(seqs[1], Modify::Add, mail_flags::SEEN.into());
    let (first, count) = (4, 3);
    for i in 0..count {
        let uid = first + i;
        fs::copy(
            their_dir.join(format!("u.{uid}")),
            dir.join(format!("u.{uid}")),
        )
        .unwrap();
    }
    ctx.commit().unwrap();
    doveadm_ok(
        &theirs,
        &["flags", "add", "\\Seen", "mailbox", "INBOX", "uid", "5"],
    );

    let expected = fetch(&theirs, "uid flags body");
    assert_eq!(fetch(&home, "uid flags body"), expected);
    index.refresh().unwrap();
    let uids: Vec<u32> = expected.iter().map(|m| m.uid).collect();
    let view = index.view();
    let our_uids: Vec<u32> = (1..=view.messages_count())
        .map(|s| view.uid(s).unwrap())
        .collect();
    assert_eq!(our_uids, uids);
}

#[test]
fn uids_never_wrap() {
    let dir = tempfile::tempdir().unwrap();
    let mut index = Index::alloc(Some(dir.path()), "dovecot.index");
    index.open(OpenFlags::CREATE).unwrap();
    let view = index.view();
    let mut t = index.transaction(&view, TransactionFlags::EXTERNAL);
    t.update_header(24, &1u32.to_ne_bytes(), false);
    t.update_header(28, &(u32::MAX - 1).to_ne_bytes(), false);
    index.commit(t).unwrap();
    assert_eq!(index.view().next_uid(), u32::MAX - 1);

    let view = index.view();
    let mut t = index.transaction(&view, TransactionFlags::EXTERNAL);
    t.append(0);
    let result = index.commit(t).unwrap();
    assert_eq!(result.appended_uids, [u32::MAX - 1]);
    assert_eq!(index.view().next_uid(), u32::MAX);

    let view = index.view();
    let mut t = index.transaction(&view, TransactionFlags::EXTERNAL);
    t.append(0);
    let err = index.commit(t).unwrap_err();
    assert!(err.to_string().contains("2^32"), "{err}");
    assert_eq!(index.view().messages_count(), 1);
}

#[test]
fn lost_index_and_lost_log_are_recovered() {
    require_dovecot!();
    let home = sdbox_home_unrotated(5);
    doveadm_ok(
        &home,
        &[
            "flags",
            "add",
            "\\Seen kw",
            "mailbox",
            "INBOX",
            "uid",
            "2:3",
        ],
    );
    let before = fetch(&home, "uid flags");
    let dir = sdbox_index_dir(&home);

    // dovecot.index gone: the log still starts from the beginning.
    let _ = fs::remove_file(dir.join("dovecot.index"));
    let index = open_index(&dir);
    assert_eq!(ours(&index.view(), false), before);
    drop(index);

    // A corrupted dovecot.index header: rebuilt from the log.
    let mut index = open_index(&dir);
    let rewrite = index.sync_begin(SyncFlags::empty()).unwrap().unwrap();
    rewrite.commit().unwrap();
    index.write_index_file().unwrap();
    drop(index);
    let mut bytes = fs::read(dir.join("dovecot.index")).unwrap();
    bytes[0] = 0x55;
    fs::write(dir.join("dovecot.index"), &bytes).unwrap();
    let index = open_index(&dir);
    assert_eq!(ours(&index.view(), false), before);
    drop(index);

    // The log gone: recreated after the index, which must be current.
    let mut index = open_index(&dir);
    index.write_index_file().unwrap();
    drop(index);
    fs::remove_file(dir.join("dovecot.index.log")).unwrap();
    let mut index = Index::alloc(Some(&dir), "dovecot.index");
    index.open(OpenFlags::CREATE).unwrap();
    assert_eq!(ours(&index.view(), false), before);
    assert_eq!(fetch(&home, "uid flags"), before);
}

#[test]
fn inconsistent_header_counts_are_fscked() {
    require_dovecot!();
    let home = sdbox_home_unrotated(4);
    doveadm_ok(
        &home,
        &["flags", "add", "\\Seen", "mailbox", "INBOX", "uid", "1:2"],
    );
    let before = fetch(&home, "uid flags");
    let dir = sdbox_index_dir(&home);
    let mut index = open_index(&dir);
    index
        .sync_begin(SyncFlags::empty())
        .unwrap()
        .unwrap()
        .commit()
        .unwrap();
    index.write_index_file().unwrap();
    drop(index);

    // seen_messages_count (offset 40) larger than messages_count.
    let path = dir.join("dovecot.index");
    let mut bytes = fs::read(&path).unwrap();
    bytes[40..44].copy_from_slice(&9u32.to_ne_bytes());
    fs::write(&path, &bytes).unwrap();

    // Dovecot's own fsck of the same damage says "Fixed index file
    // ...: seen_messages_count 9 -> 2"; after ours it finds nothing to
    // fix, and (seeing the FSCKD flag both fscks set) sdbox rebuilds.
    let index = open_index(&dir);
    assert_eq!(index.view().header().seen_messages_count, 2);
    let fixed = "seen_messages_count 9 -> 2";
    assert!(
        index.errors.iter().any(|e| e.contains(fixed)),
        "{:?}",
        index.errors
    );
    drop(index);
    let out = home.doveadm(&["fetch", "uid flags", "mailbox", "INBOX", "all"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("fscking") && !stderr.contains("Fixed"),
        "{stderr}"
    );
    assert_eq!(parse_fetch(&common::check(&out, "fetch")), before);
}

#[test]
fn our_sync_lock_blocks_dovecot() {
    require_dovecot!();
    for (method, conf) in [
        (LockMethod::Fcntl, "lock_method = fcntl"),
        (LockMethod::Flock, "lock_method = flock"),
        (LockMethod::Dotlock, "lock_method = dotlock"),
    ] {
        let mut home = sdbox_home(2);
        home.set_conf_extra(&format!("{conf}\nmail_max_lock_timeout = 1s\n"));
        let dir = sdbox_index_dir(&home);
        let mut index = Index::alloc(Some(&dir), "dovecot.index");
        index.settings.lock_method = method;
        index.open(OpenFlags::empty()).unwrap();

        let ctx = index.sync_begin(SyncFlags::empty()).unwrap().unwrap();
        let out = home.doveadm(&["flags", "add", "\\Seen", "mailbox", "INBOX", "all"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("Timeout"), "{method}: {stderr}");
        ctx.rollback();
        doveadm_ok(
            &home,
            &["flags", "add", "\\Seen", "mailbox", "INBOX", "all"],
        );
    }
}
