//! Running a doveadm mail command through both implementations on the
//! same mail home.

use super::{MailHome, assert_same_output, doveadm_rs, repo_dir};

/// Run `args` with our doveadm-rs (first, so it sees the home before the
/// real doveadm syncs it) and with the real doveadm; stdout and the exit
/// code must be the same.
pub fn compare(home: &MailHome, args: &[&str]) {
    let location = format!("mail_location={}", home.location());
    let mut ours_args = vec!["-o", &location];
    ours_args.extend_from_slice(args);
    let ours = doveadm_rs(&ours_args);
    let theirs = home.doveadm(args);

    let name = format!("doveadm {}", args.join(" "));
    let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    assert_same_output(&text(&ours), &text(&theirs), &name);
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "{name}: exit codes differ; ours said {:?}, dovecot {:?}",
        String::from_utf8_lossy(&ours.stderr),
        String::from_utf8_lossy(&theirs.stderr)
    );
}

/// Have the real doveadm cache every message's save date. Uncached,
/// Maildir's save date is the file's ctime, which every oracle run moves
/// (compat/doveadm chowns the home), so only cached dates compare
/// reliably.
pub fn cache_save_dates(home: &MailHome) {
    home.doveadm_ok(&["fetch", "date.saved", "all"]);
}

/// A home holding a copy of the committed demo Maildir (written by the
/// real Dovecot).
pub fn demo_home() -> MailHome {
    let home = MailHome::new("maildir:{home}/Maildir");
    let src = repo_dir().join("tests/fixtures/demo/Maildir");
    copy_dir(&src, &home.path().join("Maildir"));
    home
}

fn copy_dir(src: &std::path::Path, dst: &std::path::Path) {
    std::fs::create_dir_all(dst).expect("create dir");
    for entry in std::fs::read_dir(src).expect("read fixture dir") {
        let entry = entry.expect("fixture entry");
        let to = dst.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).expect("copy fixture file");
        }
    }
}

/// A home the real Dovecot builds: folders, a subscription, corpus
/// messages (some saved, most dropped into new/ and synced), flags,
/// keywords and expunges.
pub fn corpus_home(location: &str, folders: &[&str]) -> MailHome {
    let home = MailHome::new(location);
    for folder in folders {
        home.doveadm_ok(&["mailbox", "create", folder]);
    }
    home.doveadm_ok(&["mailbox", "subscribe", folders[0]]);

    let corpus = repo_dir().join("tests/fixtures/mail/corpus");
    let mut names: Vec<_> = std::fs::read_dir(&corpus)
        .expect("corpus dir")
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| is_picked(p))
        .collect();
    names.sort();

    for path in names.iter().take(3) {
        home.save(Some(folders[0]), &std::fs::read(path).expect("read corpus"));
    }
    let new_dir = home.path().join("Maildir/new");
    std::fs::create_dir_all(&new_dir).expect("create new/");
    for (i, path) in names.iter().enumerate().skip(3) {
        let to = new_dir.join(format!("1700000{i:03}.M{i}P1.dovecot-rs"));
        std::fs::copy(path, to).expect("copy corpus message");
    }
    home.doveadm_ok(&["mailbox", "status", "messages", "INBOX"]);

    home.doveadm_ok(&["flags", "add", "\\Seen", "mailbox", "INBOX", "uid", "1:20"]);
    home.doveadm_ok(&[
        "flags",
        "add",
        "\\Flagged $Label1 work",
        "mailbox",
        "INBOX",
        "uid",
        "3:6",
    ]);
    home.doveadm_ok(&[
        "flags",
        "add",
        "\\Answered \\Draft",
        "mailbox",
        "INBOX",
        "uid",
        "8",
    ]);
    home.doveadm_ok(&[
        "flags",
        "add",
        "\\Deleted",
        "mailbox",
        "INBOX",
        "uid",
        "9:10",
    ]);
    home.doveadm_ok(&["expunge", "mailbox", "INBOX", "uid", "10:11"]);
    home
}

/// The corpus messages the tests use: the multipart Python corpus and
/// the header edge cases (folding, repeats, missing dates, 8-bit).
fn is_picked(path: &std::path::Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.starts_with("py-msg-")
        || name.starts_with("edge-subject-")
            && (name.contains("folded") || name.contains("two") || name.ends_with("-01.eml"))
        || name.starts_with("edge-date-") && !name.as_bytes()[10].is_ascii_digit()
        || name.starts_with("edge-addr-") && !name.as_bytes()[10].is_ascii_digit()
        || matches!(
            name,
            "edge-empty.eml" | "edge-headers-only.eml" | "edge-no-colon.eml"
        )
}
