//! Test helpers shared by the integration tests: the real Dovecot as the
//! oracle (through `compat/doveadm`), and our own `doveadm-rs`.
#![allow(dead_code)]

pub mod doveadm_mail;
pub mod engine;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Is Debian's doveadm installed? Under `CI` its absence fails the test
/// instead of skipping it: CI must exercise the oracle.
pub fn dovecot_available() -> bool {
    let found = Path::new("/usr/bin/doveadm").exists();
    if !found && std::env::var_os("CI").is_some() {
        panic!("CI is set but /usr/bin/doveadm is missing: run compat/setup");
    }
    if !found {
        eprintln!("skipping: the real Dovecot is not installed (compat/setup)");
    }
    found
}

/// Skip the calling test (return) when the oracle is not installed.
#[macro_export]
macro_rules! require_dovecot {
    () => {
        if !$crate::common::dovecot_available() {
            return;
        }
    };
}

pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures_dir() -> PathBuf {
    repo_dir().join("tests/fixtures")
}

/// A mail home in a temporary directory, shared by the real doveadm and
/// by our code.
pub struct MailHome {
    dir: tempfile::TempDir,
    location: String,
    conf_extra: String,
}

impl MailHome {
    /// `location` may use `{home}`, e.g. `"maildir:{home}/Maildir"`.
    pub fn new(location: &str) -> MailHome {
        let dir = tempfile::Builder::new()
            .prefix("dovecot-rs-test")
            .tempdir()
            .expect("create temp dir");
        let home = dir.path().to_str().expect("utf-8 temp path");
        let location = location.replace("{home}", home);
        MailHome {
            dir,
            location,
            conf_extra: String::new(),
        }
    }

    /// Extra dovecot.conf lines for every later doveadm run, e.g.
    /// `"mail_max_lock_timeout = 1s"`.
    pub fn set_conf_extra(&mut self, lines: &str) {
        self.conf_extra = lines.to_string();
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    /// Run the real doveadm with `args`; panics if it cannot be started.
    pub fn doveadm(&self, args: &[&str]) -> Output {
        self.doveadm_with_stdin(args, b"")
    }

    pub fn doveadm_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        self.run_oracle("doveadm", args, stdin)
    }

    /// Run the real `imap` pre-authenticated on this home with
    /// `commands` (CRLF-terminated IMAP commands) on its stdin.
    pub fn imap(&self, commands: &str) -> Output {
        self.run_oracle("/usr/lib/dovecot/imap", &[], commands.as_bytes())
    }

    fn run_oracle(&self, bin: &str, args: &[&str], stdin: &[u8]) -> Output {
        self.run_oracle_with(&self.conf_extra, bin, args, stdin)
    }

    /// Run `bin` (doveadm, or e.g. `/usr/lib/dovecot/imap`) through
    /// compat/doveadm with `conf_extra` as the extra config lines.
    pub fn run_oracle_with(
        &self,
        conf_extra: &str,
        bin: &str,
        args: &[&str],
        stdin: &[u8],
    ) -> Output {
        let mut child = Command::new(repo_dir().join("compat/doveadm"))
            .arg(self.path())
            .arg(&self.location)
            .args(args)
            .env("ORACLE_CONF_EXTRA", conf_extra)
            .env("ORACLE_BIN", bin)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run compat/doveadm");
        let mut pipe = child.stdin.take().expect("stdin pipe");
        pipe.write_all(stdin).expect("write doveadm stdin");
        drop(pipe);
        child.wait_with_output().expect("wait for doveadm")
    }

    /// Run the real doveadm and return its stdout; panics with its
    /// stderr when it fails.
    pub fn doveadm_ok(&self, args: &[&str]) -> String {
        let out = self.doveadm(args);
        check(&out, &format!("doveadm {args:?}"))
    }

    /// `doveadm save` the message into `mailbox` (INBOX if `None`).
    pub fn save(&self, mailbox: Option<&str>, message: &[u8]) {
        let mut args = vec!["save"];
        if let Some(m) = mailbox {
            args.extend(["-m", m]);
        }
        let out = self.doveadm_with_stdin(&args, message);
        check(&out, "doveadm save");
    }
}

/// stdout of a successful run; a panic naming `what` and stderr otherwise.
pub fn check(out: &Output, what: &str) -> String {
    if !out.status.success() {
        panic!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout.clone()).expect("utf-8 output")
}

/// Run our `doveadm-rs` with `args` (TZ fixed to UTC like the oracle's).
pub fn doveadm_rs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_doveadm-rs"))
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("run doveadm-rs")
}

/// Compare two outputs line by line; on a difference, write both next to
/// each other under `target/` and panic with the first differing line.
pub fn assert_same_output(ours: &str, theirs: &str, name: &str) {
    if ours == theirs {
        return;
    }
    let dir = repo_dir().join("target/output-diffs");
    std::fs::create_dir_all(&dir).expect("create diff dir");
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let ours_path = dir.join(format!("{safe}.ours"));
    let theirs_path = dir.join(format!("{safe}.dovecot"));
    std::fs::write(&ours_path, ours).expect("write ours");
    std::fs::write(&theirs_path, theirs).expect("write theirs");

    let mismatch = ours
        .lines()
        .zip(theirs.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b);
    let detail = match mismatch {
        Some((n, (a, b))) => format!("line {}: ours {a:?}, dovecot {b:?}", n + 1),
        None => format!(
            "ours has {} lines, dovecot {}",
            ours.lines().count(),
            theirs.lines().count()
        ),
    };
    panic!(
        "{name}: output differs from Dovecot's; {detail}\n  diff -u {} {}",
        theirs_path.display(),
        ours_path.display()
    );
}
