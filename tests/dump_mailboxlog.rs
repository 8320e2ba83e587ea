//! `doveadm-rs dump` of `dovecot.mailbox.log` against the real
//! `doveadm dump`, on a log the real Dovecot writes in the test, on a
//! copy cut inside a record and on paths that are not such logs.

mod common;

use common::{MailHome, assert_same_output, doveadm_rs};

/// stdout, the Fatal line and the exit code of a run.
fn outcome(out: &std::process::Output) -> (String, Option<String>, Option<i32>) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let fatal = stderr
        .lines()
        .find_map(|l| l.find("Fatal: ").map(|at| l[at..].to_string()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (stdout, fatal, out.status.code())
}

#[test]
fn mailbox_logs_dump_like_doveadm() {
    require_dovecot!();
    let home = MailHome::new("maildir:{home}/Maildir");
    for args in [
        &["mailbox", "create", "a", "b", "c.d"][..],
        &["mailbox", "rename", "a", "a2"],
        &["mailbox", "delete", "b"],
        &["mailbox", "subscribe", "a2"],
        &["mailbox", "unsubscribe", "a2"],
        &["mailbox", "delete", "c.d"],
    ] {
        home.doveadm_ok(args);
    }
    let log = home.path().join("Maildir/dovecot.mailbox.log");
    let data = std::fs::read(&log).expect("Dovecot wrote dovecot.mailbox.log");
    assert!(data.len() >= 3 * 24, "only {} bytes", data.len());
    let cut = home.path().join("cut.log");
    std::fs::write(&cut, &data[..data.len() - 5]).expect("write cut copy");
    let dir = home.path().join("dir.log");
    std::fs::create_dir(&dir).expect("mkdir");

    let (log, cut, dir) = (
        log.to_str().unwrap(),
        cut.to_str().unwrap(),
        dir.to_str().unwrap(),
    );
    let cases: [&[&str]; 6] = [
        &["dump", log],
        &["dump", "-t", "mailboxlog", log],
        &["dump", cut],
        &["dump", "-t", "mailboxlog", dir],
        &["dump", dir],
        &["dump", "-t", "mailboxlog", "/nonexistent/x.log"],
    ];
    for args in cases {
        let theirs = outcome(&home.doveadm(args));
        let ours = outcome(&doveadm_rs(args));
        let name = format!("{args:?}");
        assert_same_output(&ours.0, &theirs.0, &name);
        assert_eq!((ours.1, ours.2), (theirs.1, theirs.2), "{name}");
    }
}
