//! The index engine side by side with Debian's C lib-index, on the same
//! files in the same run: a 100,000-message index opened (with and
//! without 100,000 log records to replay), 1,000,000 lookups, and one
//! commit of 10,000 flag changes.
//!
//! `cargo bench --bench index_engine` (release build). The C side is
//! `benches/c/index_bench.c`, compiled here against
//! libdovecot-storage.so.0; without gcc or Dovecot's headers only our
//! side runs. Each figure is the median of several runs on fresh copies
//! of the files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use dovecot_rs::index::format::index::mail_flags;
use dovecot_rs::index::mail_index::{Index, OpenFlags};
use dovecot_rs::index::sync::SyncFlags;
use dovecot_rs::index::transaction::{Modify, TransactionFlags};

const MESSAGES: u32 = 100_000;
const LOG_RECORDS: u32 = 100_000;
const LOOKUPS: u32 = 1_000_000;
const FLAG_CHANGES: u32 = 10_000;
const RUNS: usize = 5;

fn open(dir: &Path) -> Index {
    let mut index = Index::alloc(Some(dir), "dovecot.index");
    index.open(OpenFlags::CREATE).expect("open");
    index
}

/// A 100,000-message index written to dovecot.index, with a short log.
fn prepare_index(dir: &Path) {
    let mut index = open(dir);
    let view = index.view();
    let mut t = index.transaction(&view, TransactionFlags::EXTERNAL);
    t.update_header(24, &1u32.to_ne_bytes(), true);
    for _ in 0..MESSAGES {
        t.append(0);
    }
    drop(view);
    index.commit(t).expect("append");
    let ctx = index.sync_begin(SyncFlags::empty()).unwrap().unwrap();
    ctx.commit().unwrap();
    index.write_index_file().unwrap();
}

/// The same index with 100,000 single-record transactions in the log
/// after the position dovecot.index points to.
fn prepare_log(dir: &Path) {
    let mut index = open(dir);
    for i in 0..LOG_RECORDS {
        let view = index.view();
        let mut t = index.transaction(&view, TransactionFlags::empty());
        drop(view);
        let modify = if i % 2 == 0 {
            Modify::Add
        } else {
            Modify::Remove
        };
        t.update_flags(1 + i % MESSAGES, modify, mail_flags::SEEN.into());
        index.commit(t).unwrap();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ours_open(dir: &Path) -> Duration {
    let start = Instant::now();
    let index = open(dir);
    let took = start.elapsed();
    assert_eq!(index.view().messages_count(), MESSAGES);
    took
}

fn ours_lookups(dir: &Path) -> Duration {
    let index = open(dir);
    let view = index.view();
    let count = view.messages_count();
    let start = Instant::now();
    let (mut x, mut sum) = (0x2545_f491u32, 0u32);
    for _ in 0..LOOKUPS {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if let Some(seq) = view.lookup_seq(1 + x % (count + 1)) {
            sum = sum.wrapping_add(u32::from(view.flags(seq).unwrap_or(0)));
        }
    }
    let took = start.elapsed();
    std::hint::black_box(sum);
    took
}

fn ours_commit(dir: &Path) -> Duration {
    let mut index = open(dir);
    let start = Instant::now();
    let view = index.view();
    let mut t = index.transaction(&view, TransactionFlags::empty());
    drop(view);
    for i in 0..FLAG_CHANGES {
        t.update_flags(1 + 2 * i, Modify::Add, mail_flags::FLAGGED.into());
    }
    index.commit(t).unwrap();
    start.elapsed()
}

/// Compile the C side; `None` when that is not possible here.
fn build_c(work: &Path) -> Option<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/c/index_bench.c");
    let bin = work.join("index_bench");
    let status = Command::new("gcc")
        .args(["-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .args(["-I/usr/include/dovecot", "-include", "config.h"])
        .args(["-L/usr/lib/dovecot", "-Wl,-rpath,/usr/lib/dovecot"])
        .args(["-ldovecot-storage", "-ldovecot"])
        .status()
        .ok()?;
    status.success().then_some(bin)
}

fn theirs(bin: &Path, dir: &Path, mode: &str) -> Duration {
    let out = Command::new(bin).arg(dir).arg(mode).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let secs: f64 = text.split_whitespace().next().unwrap().parse().unwrap();
    Duration::from_secs_f64(secs)
}

/// A measurement: its name, the files, the C side's mode, our side.
type Case<'a> = (&'a str, &'a Path, &'a str, fn(&Path) -> Duration);

fn main() {
    let work = tempfile::tempdir().unwrap();
    let (base, with_log) = (work.path().join("base"), work.path().join("log"));
    std::fs::create_dir_all(&base).unwrap();
    eprintln!("preparing a {MESSAGES}-message index and {LOG_RECORDS} log records...");
    prepare_index(&base);
    copy_dir(&base, &with_log);
    prepare_log(&with_log);
    let c = build_c(work.path());
    if c.is_none() {
        eprintln!("gcc or Dovecot's headers missing: C side skipped");
    }

    let run = work.path().join("run");
    let cases: [Case; 4] = [
        ("open+map 100k messages", &base, "open", ours_open),
        (
            "open + apply 100k log records",
            &with_log,
            "open",
            ours_open,
        ),
        (
            "1M lookups (uid->seq, flags)",
            &base,
            "lookups",
            ours_lookups,
        ),
        ("commit 10k flag changes", &base, "commit", ours_commit),
    ];
    println!("{:<34} {:>12} {:>12} {:>8}", "", "ours", "C", "C/ours");
    for (name, dir, mode, ours) in cases {
        let mut rust = Vec::new();
        let mut cside = Vec::new();
        for _ in 0..RUNS {
            copy_dir(dir, &run);
            rust.push(ours(&run));
            if let Some(bin) = &c {
                copy_dir(dir, &run);
                cside.push(theirs(bin, &run, mode));
            }
        }
        let r = median(rust);
        match cside.is_empty() {
            true => println!("{name:<34} {r:>12.2?}"),
            false => {
                let c = median(cside);
                let ratio = c.as_secs_f64() / r.as_secs_f64();
                println!("{name:<34} {r:>12.2?} {c:>12.2?} {ratio:>8.2}");
            }
        }
    }
}
