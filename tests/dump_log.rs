//! `dovecot.index.log` codec and `doveadm-rs dump` for log files, against
//! logs written by the real Dovecot: the committed fixtures (with the
//! real `doveadm dump` output saved beside them) and, when Dovecot is
//! installed, logs generated in the test.

mod common;

use std::path::{Path, PathBuf};

use dovecot_rs::index::format::log::LogFile;

/// The committed log fixtures: every `*.log` and `*.log.2` file.
fn log_fixtures() -> Vec<PathBuf> {
    let dir = common::fixtures_dir().join("log");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read tests/fixtures/log")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| is_log_name(p))
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "too few log fixtures in {}",
        dir.display()
    );
    files
}

fn is_log_name(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".log") || name.ends_with(".log.2")
}

fn assert_round_trip(path: &Path) {
    let data = std::fs::read(path).expect("read log");
    let log = LogFile::decode(&data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(!log.records.is_empty(), "{}: no records", path.display());
    let again = log.encode().expect("encode");
    assert!(again == data, "{}: encode(decode) differs", path.display());
}

#[test]
fn fixtures_round_trip_byte_for_byte() {
    for path in log_fixtures() {
        assert_round_trip(&path);
    }
}

/// Our `doveadm-rs dump PATH` (autodetected, as the fixtures were made).
fn our_dump(args: &[&str]) -> (String, String, i32) {
    let out = common::doveadm_rs(args);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn fixtures_dump_like_doveadm() {
    for path in log_fixtures() {
        let expected_path = PathBuf::from(format!("{}.dump", path.display()));
        let expected = std::fs::read_to_string(&expected_path).expect("read .dump");
        let (ours, err, code) = our_dump(&["dump", path.to_str().unwrap()]);
        assert_eq!(code, 0, "{}: {err}", path.display());
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        common::assert_same_output(&ours, &expected, &name);
    }
}
