//! Our locks exclude the real Dovecot: while we hold a lock, Debian's
//! doveadm waits for it, and goes on once we release it.

mod common;

use std::fs::File;
use std::os::fd::AsFd;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{MailHome, check, repo_dir};
use dovecot_rs::util::file_dotlock::{Dotlock, DotlockSettings};
use dovecot_rs::util::file_lock::{self, LockKind, LockMethod};

/// Start the real doveadm without waiting for it.
fn spawn_doveadm(home: &MailHome, args: &[&str]) -> Child {
    Command::new(repo_dir().join("compat/doveadm"))
        .arg(home.path())
        .arg(home.location())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run compat/doveadm")
}

/// doveadm must still be waiting after a while, then finish cleanly once
/// `release` has run.
fn assert_blocked_until(mut child: Child, release: impl FnOnce()) {
    std::thread::sleep(Duration::from_millis(800));
    let early = child.try_wait().expect("poll doveadm");
    assert!(
        early.is_none(),
        "doveadm did not wait for our lock: {early:?}"
    );

    release();
    let out = child.wait_with_output().expect("wait for doveadm");
    check(&out, "doveadm after our lock was released");
}

#[test]
fn fcntl_lock_on_the_log_blocks_doveadm_writers() {
    require_dovecot!();
    let home = MailHome::new("maildir:{home}/Maildir");
    home.save(None, b"Subject: one\r\n\r\nbody\r\n");

    let log_path = home.path().join("Maildir/dovecot.index.log");
    let log = File::options()
        .read(true)
        .write(true)
        .open(&log_path)
        .unwrap();
    let lock = file_lock::try_lock(log.as_fd(), &log_path, LockKind::Write, LockMethod::Fcntl)
        .unwrap()
        .expect("log not locked by anyone else");

    let child = spawn_doveadm(&home, &["flags", "add", "\\Flagged", "uid", "1"]);
    assert_blocked_until(child, || drop(lock));

    let flags = home.doveadm_ok(&["fetch", "flags", "uid", "1"]);
    assert_eq!(flags, "flags: \\Flagged \\Recent\n");
}

/// Maildir saves don't wait for dovecot-uidlist.lock: the file lands in
/// new/, and gets its UID from whoever next holds the lock. So while we
/// hold it, Dovecot must not assign the UID; after we release, it does.
#[test]
fn dotlock_on_the_uidlist_keeps_doveadm_from_assigning_uids() {
    require_dovecot!();
    let mut home = MailHome::new("maildir:{home}/Maildir");
    // Dovecot waits this long for the uidlist lock before going on
    // without it (the default is two minutes).
    home.set_conf_extra("mail_max_lock_timeout = 1s");
    home.save(None, b"Subject: one\r\n\r\nbody\r\n");

    let uidlist = home.path().join("Maildir/dovecot-uidlist");
    let lock = Dotlock::create(&DotlockSettings::default(), &uidlist).unwrap();
    home.save(None, b"Subject: two\r\n\r\nbody\r\n");
    let during = home.doveadm_ok(&["fetch", "uid hdr.subject", "all"]);
    assert_eq!(during, "uid: 1\nhdr.subject: one\n");

    assert!(lock.delete().unwrap());
    let after = home.doveadm_ok(&["fetch", "uid hdr.subject", "all"]);
    assert_eq!(
        after,
        "uid: 1\nhdr.subject: one\n\x0c\nuid: 2\nhdr.subject: two\n"
    );
}
