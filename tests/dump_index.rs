//! `doveadm-rs dump` of indexes against the real `doveadm dump`, on
//! mailboxes the real Dovecot writes in the test and on the committed
//! fixtures in tests/fixtures/index (see its README); and the
//! dovecot.index codec on the same files: exact round trips, and typed
//! errors for damaged copies.

mod common;

use std::path::{Path, PathBuf};

use common::{MailHome, assert_same_output, check, doveadm_rs, fixtures_dir};
use dovecot_rs::index::format::index::IndexFile;
use dovecot_rs::index::map::{IndexFiles, open_index};

/// Run the real doveadm on `home` with extra config lines.
fn adm(home: &MailHome, conf: &str, args: &[&str], stdin: &[u8]) -> String {
    oracle(home, conf, "doveadm", args, stdin)
}

/// Run `bin` (doveadm, or the imap binary) through compat/doveadm.
fn oracle(home: &MailHome, conf: &str, bin: &str, args: &[&str], stdin: &[u8]) -> String {
    let out = home.run_oracle_with(conf, bin, args, stdin);
    check(&out, &format!("doveadm {args:?}"))
}

fn message(n: u32) -> Vec<u8> {
    format!(
        "From: Sender {n} <s{n}@example.com>\r\nTo: rcpt@example.org\r\n\
         Subject: Test message {n}\r\nMessage-ID: <t{n}@example.org>\r\n\
         Date: Thu, {n} Apr 2021 09:00:00 +0000\r\n\r\nBody {n}.\r\n"
    )
    .into_bytes()
}

/// Saves, flags, keywords, an expunge and cache-filling fetches.
fn populate(home: &MailHome, conf: &str, count: u32) {
    for n in 1..=count {
        adm(home, conf, &["save"], &message(n));
    }
    adm(home, conf, &["flags", "add", "\\Seen", "1:3"], b"");
    adm(
        home,
        conf,
        &["flags", "add", "\\Flagged $Important", "2"],
        b"",
    );
    adm(
        home,
        conf,
        &["flags", "add", "\\Deleted \\Answered", "4"],
        b"",
    );
    adm(home, conf, &["flags", "add", "project-x", "5"], b"");
    adm(
        home,
        conf,
        &["expunge", "mailbox", "INBOX", "uid", "3"],
        b"",
    );
    let fields = "imap.envelope imap.bodystructure body.snippet";
    adm(home, conf, &["fetch", fields, "all"], b"");
}

/// Our dump of `path` must equal the real one.
fn compare_dump(home: &MailHome, path: &Path, args: &[&str], name: &str) {
    let path_arg = path.to_str().expect("utf-8 path");
    let mut full = vec!["dump", path_arg];
    full.extend_from_slice(args);
    let theirs = home.doveadm_ok(&full);
    let ours = check(&doveadm_rs(&full), "doveadm-rs dump");
    assert!(theirs.contains("-- INDEX:") || !args.is_empty(), "{theirs}");
    assert_same_output(&ours, &theirs, name);
}

/// Every dovecot.index and dovecot.map.index under `dir` decodes and
/// encodes back to the same bytes; returns how many were checked.
fn round_trip_all(dir: &Path) -> usize {
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            checked += round_trip_all(&path);
            continue;
        }
        let name = entry.file_name();
        if name == "dovecot.index" || name == "dovecot.map.index" {
            let data = std::fs::read(&path).expect("read index");
            let file =
                IndexFile::decode(&data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(file.encode(), data, "{}", path.display());
            checked += 1;
        }
    }
    checked
}

const REWRITE: &str = "mail_index_rewrite_min_log_bytes = 1";

#[test]
fn maildir_log_only() {
    require_dovecot!();
    let home = MailHome::new("maildir:{home}/Maildir");
    populate(&home, "", 5);
    let dir = home.path().join("Maildir");
    assert!(!dir.join("dovecot.index").exists());
    compare_dump(&home, &dir, &[], "maildir_log_only");
    compare_dump(&home, &dir, &["2"], "maildir_log_only_uid");
}

#[test]
fn maildir_with_index_rotated_log_and_many_keywords() {
    require_dovecot!();
    let home = MailHome::new("maildir:{home}/Maildir");
    // Equal min and max sizes: rotation by size alone, not by the log's
    // age (which a fast run may never let pass a second).
    let conf = format!(
        "{REWRITE}\nmail_index_log_rotate_min_size = 1k\n\
         mail_index_log_rotate_max_size = 1k\nmail_index_log_rotate_min_age = 0"
    );
    populate(&home, &conf, 8);
    for k in 1..=18u32 {
        let uid = (k % 7 + 1).to_string();
        adm(
            &home,
            &conf,
            &["flags", "add", &format!("kw{k}"), &uid],
            b"",
        );
    }
    let dir = home.path().join("Maildir");
    assert!(dir.join("dovecot.index").exists());
    assert!(dir.join("dovecot.index.log.2").exists());
    compare_dump(&home, &dir, &[], "maildir_index");
    compare_dump(&home, &dir.join("dovecot.index"), &[], "maildir_index_file");
    compare_dump(
        &home,
        &dir.join("dovecot.list.index"),
        &[],
        "maildir_list_index",
    );
    assert_eq!(round_trip_all(home.path()), 1);
}

#[test]
fn sdbox_after_force_resync() {
    require_dovecot!();
    let home = MailHome::new("sdbox:{home}/sdbox");
    populate(&home, REWRITE, 6);
    adm(&home, REWRITE, &["force-resync", "INBOX"], b"");
    adm(&home, REWRITE, &["flags", "remove", "\\Seen", "1"], b"");
    let dir = home.path().join("sdbox/mailboxes/INBOX/dbox-Mails");
    compare_dump(&home, &dir, &[], "sdbox");
    round_trip_all(home.path());
    assert_replay_matches_index(&dir);
}

#[test]
fn mdbox_mailbox_and_map_index() {
    require_dovecot!();
    let home = MailHome::new("mdbox:{home}/mdbox");
    populate(&home, REWRITE, 6);
    let mdbox = home.path().join("mdbox");
    let inbox = mdbox.join("mailboxes/INBOX/dbox-Mails");
    compare_dump(&home, &inbox, &[], "mdbox_inbox");
    compare_dump(&home, &mdbox.join("storage"), &[], "mdbox_map");
    assert!(round_trip_all(home.path()) >= 1);
    assert_replay_matches_index(&inbox);
}

#[test]
fn mbox_inbox() {
    require_dovecot!();
    let home = MailHome::new("mbox:{home}/mail:INBOX={home}/mail/inbox");
    populate(&home, "", 4);
    let dir = home.path().join("mail/.imap/INBOX");
    compare_dump(&home, &dir, &[], "mbox");
}

/// CONDSTORE through a real IMAP session: the modseq extension and
/// per-message modseqs.
#[test]
fn maildir_condstore_via_imap() {
    require_dovecot!();
    let home = MailHome::new("maildir:{home}/Maildir");
    populate(&home, REWRITE, 5);
    let session = "a ENABLE CONDSTORE\r\nb SELECT INBOX\r\n\
                   c STORE 1:2 +FLAGS (\\Seen foo)\r\n\
                   d UID STORE 4 +FLAGS.SILENT (\\Flagged)\r\n\
                   e STORE 2 -FLAGS (foo)\r\nf EXPUNGE\r\ng LOGOUT\r\n";
    let imap = "/usr/lib/dovecot/imap";
    let out = oracle(&home, REWRITE, imap, &[], session.as_bytes());
    assert!(out.contains("g OK"), "{out}");

    let dir = home.path().join("Maildir");
    let dump = home.doveadm_ok(&["dump", dir.to_str().unwrap()]);
    assert!(dump.contains("name ........ = modseq"), "{dump}");
    compare_dump(&home, &dir, &[], "maildir_condstore");
    assert_replay_matches_index(&dir);
}

/// Copy a fixture index directory into `home` under `name`.
fn copy_fixture(home: &MailHome, fixture: &str, name: &str) -> PathBuf {
    let src = fixtures_dir().join("index").join(fixture);
    let dest = home.path().join(name);
    std::fs::create_dir_all(&dest).expect("mkdir");
    for entry in std::fs::read_dir(&src).expect("fixture").flatten() {
        std::fs::copy(entry.path(), dest.join(entry.file_name())).expect("copy");
    }
    dest
}

/// Older 7.x minor versions as Dovecot upgrades them while reading:
/// 0 and 1 lose the old \Recent flag bits and become 7.3 (0 also gets
/// first_recent_uid 1 and the old offset names), 2 keeps its version
/// but loses the old sync fields.
#[test]
fn old_minor_versions_read_like_dovecot() {
    require_dovecot!();
    let home = MailHome::new("maildir:{home}/Maildir");
    for minor in [0u8, 1, 2] {
        let dir = copy_fixture(&home, "maildir-index", &format!("minor{minor}"));
        let path = dir.join("dovecot.index");
        let mut index = std::fs::read(&path).expect("read");
        let header_size = u32::from_ne_bytes(index[4..8].try_into().unwrap()) as usize;
        index[1] = minor;
        index[header_size + 4] |= 0x20;
        if minor == 0 {
            index[48..52].copy_from_slice(&0u32.to_ne_bytes());
        }
        index[72..76].copy_from_slice(&77u32.to_ne_bytes());
        index[76..80].copy_from_slice(&78u32.to_ne_bytes());
        std::fs::write(&path, index).expect("write");
        compare_dump(&home, &dir, &[], &format!("minor_version_{minor}"));
    }
}

#[test]
fn errors_match_doveadm() {
    require_dovecot!();
    let home = MailHome::new("maildir:{home}/Maildir");
    populate(&home, "", 1);
    let dir = home.path().join("Maildir");
    let dir = dir.to_str().expect("utf-8");
    let empty = home.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let empty = empty.to_str().expect("utf-8");
    let other = copy_fixture(&home, "maildir-index", "other-indexid");
    let mut index = std::fs::read(other.join("dovecot.index")).expect("read");
    index[16] ^= 0x10;
    std::fs::write(other.join("dovecot.index"), index).expect("write");
    let other = other.to_str().expect("utf-8");
    let cases: [&[&str]; 5] = [
        &["dump", "-t", "index", dir, "x5"],
        &["dump", "-t", "index", empty],
        &["dump", empty],
        &["dump", other],
        &["dump", "-t", "index", other],
    ];
    for args in cases {
        let theirs = home.doveadm(args);
        let ours = doveadm_rs(args);
        assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}");
        let fatal = |err: &[u8]| {
            let text = String::from_utf8_lossy(err).into_owned();
            text.lines()
                .find(|l| l.contains("Fatal: "))
                .map(str::to_string)
        };
        let (ours, theirs) = (fatal(&ours.stderr), fatal(&theirs.stderr));
        let strip = |s: Option<String>| s.map(|s| s[s.find("Fatal: ").unwrap()..].to_string());
        assert_eq!(strip(ours), strip(theirs), "{args:?}");
    }
}

/// The committed fixtures: index directories the real Dovecot wrote,
/// with the real `doveadm dump` output beside them.
fn fixture_dirs() -> Vec<PathBuf> {
    let root = fixtures_dir().join("index");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/fixtures/index")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("dump.txt").exists())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 4, "fixtures missing under {}", root.display());
    dirs
}

#[test]
fn fixtures_dump_like_doveadm() {
    for dir in fixture_dirs() {
        let expected = std::fs::read_to_string(dir.join("dump.txt")).expect("dump.txt");
        let path = dir.to_str().expect("utf-8");
        let ours = check(&doveadm_rs(&["dump", path]), "doveadm-rs dump");
        let ours = ours.replace(path, "@DIR@");
        let name = format!("fixture_{}", dir.file_name().unwrap().to_string_lossy());
        assert_same_output(&ours, &expected, &name);
    }
}

#[test]
fn fixtures_round_trip() {
    let checked: usize = fixture_dirs().iter().map(|d| round_trip_all(d)).sum();
    assert!(checked >= 2, "only {checked} dovecot.index files");
}

/// Damaged copies of every fixture index: each truncation and each
/// corrupted size or count field gives an error or a valid file, never
/// a panic; opening the index with a damaged dovecot.index or log must
/// not panic either.
#[test]
fn damaged_fixtures_fail_cleanly() {
    for dir in fixture_dirs() {
        let files = IndexFiles::read(&dir, "dovecot.index").expect("read fixture");
        let Some(index) = files.index.clone() else {
            continue;
        };
        for len in 0..index.len() {
            assert!(IndexFile::decode(&index[..len]).is_err(), "{len}");
            let damaged = IndexFiles {
                index: Some(index[..len].to_vec()),
                ..files.clone()
            };
            let _ = open_index(&damaged);
        }
        for (offset, value) in size_field_damage(&index) {
            let mut bad = index.clone();
            bad[offset..offset + 4].copy_from_slice(&value.to_ne_bytes());
            let _ = IndexFile::decode(&bad);
            let _ = open_index(&IndexFiles {
                index: Some(bad),
                ..files.clone()
            });
        }
        let log = files.log.clone().expect("log");
        for len in (0..log.len()).step_by(7) {
            let _ = open_index(&IndexFiles {
                log: Some(log[..len].to_vec()),
                ..files.clone()
            });
        }
    }
}

/// Offsets of size and count fields (header_size, record_size,
/// messages_count, every extension's sizes) with values to put there.
fn size_field_damage(index: &[u8]) -> Vec<(usize, u32)> {
    let file = IndexFile::decode(index).expect("fixture decodes");
    let mut fields = vec![4, 8, 32];
    let mut offset = 120;
    for ext in &file.extensions {
        fields.extend([offset, offset + 8, offset + 12]);
        offset += ext.encoded_len();
    }
    let values = [0, 1, 7, 0xffff, 0x7fff_ffff, u32::MAX];
    fields
        .into_iter()
        .flat_map(|f| values.iter().map(move |&v| (f, v)))
        .collect()
}

/// The committed fixture files, read once: (index, log) per directory.
fn fixture_files() -> &'static [IndexFiles] {
    static FILES: std::sync::OnceLock<Vec<IndexFiles>> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        let read = |d: &PathBuf| {
            let map = d.join("dovecot.map.index.log").exists();
            let prefix = if map {
                "dovecot.map.index"
            } else {
                "dovecot.index"
            };
            IndexFiles::read(d, prefix).expect("fixture")
        };
        fixture_dirs().iter().map(read).collect()
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// Random byte changes and truncations of a fixture's dovecot.index
    /// and log: opening and dumping never panics.
    #[test]
    fn random_damage_never_panics(
        which in 0usize..16,
        in_log in proptest::bool::ANY,
        flips in proptest::collection::vec((0usize..1 << 16, proptest::num::u8::ANY), 1..6),
        cut in 0usize..1 << 16,
    ) {
        let all = fixture_files();
        let mut files = all[which % all.len()].clone();
        let target = match (in_log, files.index.as_mut()) {
            (false, Some(index)) => index,
            _ => files.log.as_mut().expect("log"),
        };
        for (at, byte) in flips {
            let len = target.len().max(1);
            if let Some(b) = target.get_mut(at % len) {
                *b = byte;
            }
        }
        if cut % 3 == 0 {
            target.truncate(cut % (target.len() + 1));
        }
        if let Some(index) = &files.index {
            let _ = IndexFile::decode(index);
        }
        if let Ok(opened) = open_index(&files) {
            let _ = opened.map.to_file().encode();
        }
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, data) in [("dovecot.index", &files.index), ("dovecot.index.log", &files.log)] {
            if let Some(data) = data {
                std::fs::write(dir.path().join(name), data).expect("write");
            }
        }
        let out = doveadm_rs(&["dump", "-t", "index", dir.path().to_str().unwrap()]);
        proptest::prop_assert!(matches!(out.status.code(), Some(0) | Some(75)), "{out:?}");
    }
}

#[test]
fn damaged_index_errors_name_offset_and_reason() {
    let dir = fixtures_dir().join("index/maildir-index");
    let index = std::fs::read(dir.join("dovecot.index")).expect("fixture");

    let mut bad = index.clone();
    bad[0] = 6;
    let err = IndexFile::decode(&bad).unwrap_err();
    assert_eq!(
        (err.offset, err.reason.as_str()),
        (0, "Major version changed (6 != 7)")
    );

    let mut bad = index.clone();
    bad[32..36].copy_from_slice(&1000u32.to_ne_bytes());
    let err = IndexFile::decode(&bad).unwrap_err();
    assert_eq!(err.offset, 32);
    assert!(
        err.reason.starts_with("messages_count too large (1000 > "),
        "{err}"
    );

    let err = IndexFile::decode(&index[..index.len() - 1]).unwrap_err();
    assert!(err.reason.contains("messages_count too large"), "{err}");
}

/// The map rebuilt from the log alone, up to the position dovecot.index
/// was written at, is what Dovecot wrote into dovecot.index.
fn assert_replay_matches_index(dir: &Path) {
    let files = IndexFiles::read(dir, "dovecot.index").expect("read index");
    let index = files.index.clone().expect("dovecot.index");
    let written = IndexFile::decode(&index).expect("decode");
    let head = written.hdr.log_file_head_offset as usize;
    let mut log = files.log.clone().expect("log");
    log.truncate(head);
    let replayed = open_index(&IndexFiles {
        index: None,
        log: Some(log),
        log2: None,
    })
    .expect("open from log");
    assert_eq!(replayed.errors, Vec::<String>::new());

    let mut ours = replayed.map.to_file();
    ours.trailing = written.trailing.clone();
    // The syncing process that wrote the file also moved the tail offset
    // to what it had synced into the mailbox; a read-only open cannot
    // know that.
    assert!(ours.hdr.log_file_tail_offset <= written.hdr.log_file_tail_offset);
    ours.hdr.log_file_tail_offset = written.hdr.log_file_tail_offset;
    assert_eq!(ours.extensions, written.extensions, "{}", dir.display());
    assert_eq!(ours.records, written.records, "{}", dir.display());
    assert_eq!(ours.hdr, written.hdr, "{}", dir.display());
}

#[test]
fn replayed_log_equals_dovecot_index() {
    require_dovecot!();
    let home = MailHome::new("maildir:{home}/Maildir");
    populate(&home, REWRITE, 8);
    for k in 1..=18u32 {
        let uid = (k % 7 + 1).to_string();
        adm(
            &home,
            REWRITE,
            &["flags", "add", &format!("kw{k}"), &uid],
            b"",
        );
    }
    adm(
        &home,
        REWRITE,
        &["flags", "add", "\\Seen \\Deleted", "2:6"],
        b"",
    );
    assert_replay_matches_index(&home.path().join("Maildir"));
}

/// Append to the log in `dir` `count` introductions of new extensions,
/// each with a record field of `record_size` bytes.
fn append_ext_intros(dir: &Path, count: usize, record_size: u16) {
    use dovecot_rs::index::format::log::{ExtIntro, LogRecord, RecordBody, RecordFlags};
    let path = dir.join("dovecot.index.log");
    let mut log = std::fs::read(&path).expect("read log");
    for i in 0..count {
        let intro = ExtIntro {
            ext_id: u32::MAX,
            reset_id: 0,
            hdr_size: 0,
            record_size,
            record_align: 1,
            flags: 0,
            name: format!("wide{i}").into_bytes(),
        };
        let rec = LogRecord {
            offset: 0,
            flags: RecordFlags::empty(),
            body: RecordBody::ExtIntro(vec![intro]),
            modseq: 0,
            modseq_changed: false,
        };
        rec.encode(&mut log).expect("encode intro");
    }
    std::fs::write(&path, log).expect("write log");
}

/// Record fields that would end past 64 KiB: Dovecot dies on an
/// assertion (sync_ext_reorder); we refuse those introductions as
/// corrupted, so the dump shows the index as Dovecot shows it with only
/// the introductions that fit (the log offsets aside).
#[test]
fn ext_intros_past_64k_records_are_refused() {
    require_dovecot!();
    let home = MailHome::new("maildir:{home}/Maildir");
    let fits = copy_fixture(&home, "maildir-index", "fits");
    let past = copy_fixture(&home, "maildir-index", "past");
    append_ext_intros(&fits, 2, 30000);
    append_ext_intros(&past, 12, 30000);

    let (fits, past) = (fits.to_str().unwrap(), past.to_str().unwrap());
    let dies = home.doveadm(&["dump", past]);
    let stderr = String::from_utf8_lossy(&dies.stderr);
    assert!(stderr.contains("sync_ext_reorder"), "{stderr}");

    let theirs = home.doveadm_ok(&["dump", fits]);
    let ours = check(&doveadm_rs(&["dump", past]), "doveadm-rs dump").replace(past, fits);
    let offsets = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.contains("log file head offset") && !l.contains(" - log_offset"))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    assert_same_output(&offsets(&ours), &offsets(&theirs), "ext_intros_past_64k");
}

/// The first `Error:` line a run printed.
fn first_error(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    text.lines()
        .find_map(|l| l.find("Error: ").map(|at| l[at..].to_string()))
}

/// A dovecot.index that needs an fsck: doveadm says why before giving
/// up, and so must we (the reason used to go to a logger nobody set).
/// doveadm then tries the fsck and sometimes dies on an assertion
/// (mail_index_unmap), so only the reason is compared, and our exit
/// code with the 65 (EX_DATAERR) doveadm gives when it survives.
#[test]
fn corrupted_index_reason_is_printed_like_doveadm() {
    require_dovecot!();
    let home = MailHome::new("maildir:{home}/Maildir");
    let dir = copy_fixture(&home, "maildir-index", "corrupted");
    let path = dir.join("dovecot.index");
    let mut index = std::fs::read(&path).expect("read");
    index[32..36].copy_from_slice(&999_999u32.to_ne_bytes());
    std::fs::write(&path, index).expect("write");

    let dir = dir.to_str().expect("utf-8");
    let theirs = first_error(&home.doveadm(&["dump", dir]).stderr);
    let ours = doveadm_rs(&["dump", dir]);
    assert!(theirs.is_some(), "doveadm printed no error");
    assert_eq!(first_error(&ours.stderr), theirs);
    assert_eq!(ours.status.code(), Some(65));
}

/// Autodetecting a log tries it as an index first: that attempt must
/// stay as quiet as doveadm's; a changed indexid is reported as
/// doveadm reports it.
#[test]
fn autodetection_errors_match_doveadm() {
    require_dovecot!();
    let home = MailHome::new("maildir:{home}/Maildir");
    let plain = copy_fixture(&home, "maildir-index", "plain");
    let other = copy_fixture(&home, "maildir-index", "other-indexid");
    let index = other.join("dovecot.index");
    let mut data = std::fs::read(&index).expect("read");
    data[16] ^= 0x10;
    std::fs::write(&index, data).expect("write");

    for path in [plain.join("dovecot.index.log"), other] {
        let path = path.to_str().expect("utf-8");
        let theirs = home.doveadm(&["dump", path]);
        let ours = doveadm_rs(&["dump", path]);
        assert_eq!(
            first_error(&ours.stderr),
            first_error(&theirs.stderr),
            "{path}"
        );
    }
}
