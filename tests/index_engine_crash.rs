//! A writer killed with SIGKILL at random points: this test binary runs
//! itself as the child (the `crash_child` test, which does nothing
//! unless `CRASH_CHILD_DIR` is set), which commits in a loop and reports
//! each finished commit on stdout. After every kill our open and the
//! real `doveadm fetch` must both work and show every reported commit.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::MailHome;
use common::engine::*;
use dovecot_rs::index::mail_index::Index;
use dovecot_rs::index::transaction::{Modify, TransactionFlags};

/// Every this many commits also add a keyword Dovecot can show.
const KEYWORD_EVERY: u32 = 25;
const EXT_NAME: &str = "crash-counter";

fn counter_ext(index: &mut Index) -> usize {
    index.registry.register(EXT_NAME, 0, 4, 4)
}

/// The child's loop: commit i sets the counter record of message 1 to
/// i, and every KEYWORD_EVERY commits adds keyword k{i}.
fn child_loop(dir: &Path, start: u32) {
    let mut index = open_index(dir);
    let ext = counter_ext(&mut index);
    let mut out = std::io::stdout().lock();
    for i in start.. {
        let view = index.view();
        let mut t = index.transaction(&view, TransactionFlags::empty());
        t.update_ext(1, ext, &i.to_ne_bytes());
        if i % KEYWORD_EVERY == 0 {
            let kw = index.keyword_idx(&format!("k{i}")).unwrap();
            t.update_keywords(1 + i % 3, Modify::Add, &[kw]);
        }
        index.commit(t).unwrap();
        writeln!(out, "done {i}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os("CRASH_CHILD_DIR") else {
        return;
    };
    let start = std::env::var("CRASH_CHILD_START").unwrap().parse().unwrap();
    child_loop(Path::new(&dir), start);
}

/// Run the child until killed after `after`; the commits it reported.
fn run_child(dir: &Path, start: u32, after: Duration) -> Vec<u32> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env("CRASH_CHILD_DIR", dir)
        .env("CRASH_CHILD_START", start.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| l.strip_prefix("done ").and_then(|n| n.parse().ok()))
            .collect::<Vec<u32>>()
    });
    std::thread::sleep(after);
    child.kill().expect("SIGKILL the child");
    child.wait().unwrap();
    reader.join().unwrap()
}

#[test]
fn commits_survive_sigkill() {
    require_dovecot!();
    let home = MailHome::new("sdbox:{home}/sdbox");
    for i in 0..3 {
        home.save(None, &message(i));
    }
    fetch(&home, "uid flags");
    let dir = sdbox_index_dir(&home);

    // Kill points spread over the first moments of a run (opening,
    // first commits) and later ones; a fixed pseudo-random sequence
    // keeps failures reproducible.
    let mut seed = 0x2545_f491_u32;
    let mut next_start = 1;
    let mut total = 0;
    for round in 0..6 {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let after = Duration::from_millis(30 + u64::from(seed % 250));
        let done = run_child(&dir, next_start, after);
        total += done.len();
        let Some(&last) = done.last() else {
            continue;
        };

        let mut index = open_index(&dir);
        let ext = counter_ext(&mut index);
        let view = index.view();
        let counter = view
            .ext_record(1, EXT_NAME)
            .map(|r| u32::from_ne_bytes(r.try_into().unwrap()))
            .unwrap_or(0);
        assert!(
            counter >= last,
            "round {round}: counter {counter} < reported {last}"
        );
        let _ = ext;

        let theirs = fetch(&home, "uid flags");
        let keywords: Vec<&String> = theirs.iter().flat_map(|m| &m.flags).collect();
        for i in (KEYWORD_EVERY..=last).step_by(KEYWORD_EVERY as usize) {
            let kw = format!("k{i}");
            assert!(keywords.contains(&&kw), "round {round}: {kw} lost");
        }
        next_start = counter + 1;
    }
    eprintln!("{total} commits reported");
    assert!(total > 0, "the child never committed");
}
