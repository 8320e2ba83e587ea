//! Helpers for the index engine tests: doveadm's fetch output parsed,
//! and our view in the same shape.

use std::path::{Path, PathBuf};

use super::MailHome;
use dovecot_rs::index::mail_index::{Index, OpenFlags};
use dovecot_rs::index::view::View;

/// Small thresholds, so that a few rounds rewrite dovecot.index and
/// rotate the log.
pub const SMALL_THRESHOLDS: &str = "mail_index_rewrite_min_log_bytes = 512\n\
    mail_index_rewrite_max_log_bytes = 1k\n\
    mail_index_log_rotate_min_size = 1k\n\
    mail_index_log_rotate_max_size = 2k\n\
    mail_index_log_rotate_min_age = 0\n";

pub fn message(i: usize) -> Vec<u8> {
    format!("From: a@example.com\r\nSubject: message {i}\r\n\r\nbody {i}\r\n").into_bytes()
}

pub fn sdbox_index_dir(home: &MailHome) -> PathBuf {
    home.path().join("sdbox/mailboxes/INBOX/dbox-Mails")
}

/// One message as `doveadm fetch 'uid flags modseq'` prints it,
/// without `\Recent` (a session's view, not the index's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub uid: u32,
    pub flags: Vec<String>,
    pub modseq: Option<u64>,
}

/// Parse doveadm's fetch output: messages separated by a "\x0c" line.
pub fn parse_fetch(out: &str) -> Vec<Fetched> {
    let mut messages = Vec::new();
    for block in out.split("\x0c\n").filter(|b| !b.trim().is_empty()) {
        let mut msg = Fetched {
            uid: 0,
            flags: Vec::new(),
            modseq: None,
        };
        for line in block.lines() {
            let (key, value) = line
                .split_once(": ")
                .unwrap_or((line.trim_end_matches(':'), ""));
            match key {
                "uid" => msg.uid = value.parse().expect("uid"),
                "flags" => {
                    msg.flags = value
                        .split(' ')
                        .filter(|f| !f.is_empty() && *f != "\\Recent")
                        .map(str::to_string)
                        .collect()
                }
                "modseq" => msg.modseq = Some(value.parse().expect("modseq")),
                _ => {}
            }
        }
        messages.push(msg);
    }
    messages
}

pub fn fetch(home: &MailHome, fields: &str) -> Vec<Fetched> {
    let out = home.doveadm(&["fetch", fields, "mailbox", "INBOX", "all"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("Corrupted"),
        "doveadm complained: {stderr}"
    );
    parse_fetch(&super::check(&out, "doveadm fetch"))
}

/// What our view shows, in the same shape.
pub fn ours(view: &View, with_modseq: bool) -> Vec<Fetched> {
    (1..=view.messages_count())
        .map(|seq| Fetched {
            uid: view.uid(seq).unwrap(),
            flags: view.imap_flags(seq),
            modseq: with_modseq.then(|| view.modseq(seq).unwrap()),
        })
        .collect()
}

pub fn open_index(dir: &Path) -> Index {
    let mut index = Index::alloc(Some(dir), "dovecot.index");
    index.open(OpenFlags::empty()).expect("open index");
    index
}

pub fn doveadm_ok(home: &MailHome, args: &[&str]) {
    let out = home.doveadm(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("Corrupted"), "doveadm {args:?}: {stderr}");
    super::check(&out, &format!("doveadm {args:?}"));
}
