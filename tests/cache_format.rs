//! `dovecot.index.cache`: our codec and our cache dump against files and
//! `doveadm dump` output from the real Dovecot.
//!
//! Each case is a cache file written by Dovecot plus the text real
//! `doveadm dump INDEX-DIR` printed for it. The committed cases under
//! `tests/fixtures/cache/` run without Dovecot; the live tests build the
//! same kind of mailboxes with the real Dovecot and compare at once
//! (`DOVECOT_RS_WRITE_FIXTURES=1` also saves them as the fixtures).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{MailHome, assert_same_output, fixtures_dir, repo_dir};
use dovecot_rs::doveadm::dump_cache::CacheDump;
use dovecot_rs::index::format::cache::{
    CacheFile, CacheView, Decision, FieldEntry, FieldHeader, Region, offset_to_uint32,
    uint32_to_offset,
};

// ---------------------------------------------------------------------
// Real doveadm dump output, split into what the cache dump prints.

/// The parts of a real `doveadm dump` of an index that concern the
/// cache.
struct RealDump {
    indexid: u32,
    /// The "cache" extension's reset_id (0 without the extension).
    reset_id: u32,
    /// Everything `dump_cache_hdr()` printed.
    header: String,
    /// Each record's "cache" extension value and the cache lines
    /// `dump_cache()` printed for it.
    records: Vec<(u32, String)>,
}

fn number_after(line: &str, prefix: &str) -> Option<u32> {
    let rest = line.strip_prefix(prefix)?.trim_start();
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn parse_dump(text: &str) -> RealDump {
    let indexid = text
        .lines()
        .find_map(|l| number_after(l, "index id ................. ="))
        .expect("index id line");
    let reset_id = text
        .split("-- Extension ")
        .find(|ext| ext.contains("\nname ........ = cache\n"))
        .and_then(|ext| ext.lines().find_map(|l| number_after(l, "reset_id .... =")))
        .unwrap_or(0);

    let cache_start = text.find("\n-- CACHE: ").expect("-- CACHE: line") + 1;
    let header_start = cache_start + text[cache_start..].find('\n').unwrap() + 1;
    let header_end = text.find("\n-- RECORDS: ").expect("-- RECORDS: line");
    let header = text[header_start..header_end].to_string();

    // Each record ends with a blank line: drop the last one, the others
    // go with the split.
    let records_text = &text[header_end..];
    let records_text = records_text.strip_suffix('\n').unwrap_or(records_text);
    let records = records_text
        .split("\nRECORD: seq=")
        .skip(1)
        .map(parse_record)
        .collect();
    RealDump {
        indexid,
        reset_id,
        header,
        records,
    }
}

/// One "RECORD:" block: the cache offset from its "cache" extension line
/// and the lines after the extension lines.
fn parse_record(block: &str) -> (u32, String) {
    let mut offset = 0;
    let mut rest = &block[block.find('\n').unwrap() + 1..];
    while rest.starts_with(" - ext ") || rest.starts_with("                   : ") {
        let (line, tail) = rest.split_once('\n').unwrap_or((rest, ""));
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.get(3) == Some(&"cache") {
            offset = words[5].parse().expect("cache offset");
        }
        rest = tail;
    }
    (offset, rest.to_string())
}

// ---------------------------------------------------------------------
// Our side of each comparison.

fn our_header(cache: Option<&[u8]>, indexid: u32) -> String {
    let mut out = Vec::new();
    CacheDump::open(cache, indexid)
        .write_header(&mut out)
        .unwrap();
    String::from_utf8(out).unwrap()
}

fn our_records(cache: Option<&[u8]>, real: &RealDump) -> Vec<String> {
    let mut dump = CacheDump::open(cache, real.indexid);
    let mut texts = Vec::new();
    for (offset, _) in &real.records {
        let mut out = Vec::new();
        dump.write_record(&mut out, *offset, real.reset_id).unwrap();
        texts.push(String::from_utf8(out).unwrap());
    }
    texts
}

/// Our header section and record lines equal real doveadm's.
fn check_dump(name: &str, cache: Option<&[u8]>, dump_text: &str) {
    let real = parse_dump(dump_text);
    assert_same_output(
        &our_header(cache, real.indexid),
        &real.header,
        &format!("{name}-header"),
    );

    let ours = our_records(cache, &real).concat();
    let theirs: String = real.records.iter().map(|(_, t)| t.as_str()).collect();
    assert_same_output(&ours, &theirs, &format!("{name}-records"));
}

fn check_round_trip(name: &str, bytes: &[u8]) -> CacheFile {
    let file = CacheFile::decode(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(file.encode() == bytes, "{name}: re-encoding differs");
    file
}

// ---------------------------------------------------------------------
// The committed cases.

fn fixture_cases() -> Vec<PathBuf> {
    let dir = fixtures_dir().join("cache");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/cache")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("doveadm-dump.txt").exists())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases under {}", dir.display());
    cases
}

fn read_case(dir: &Path) -> (Vec<u8>, String) {
    let cache = std::fs::read(dir.join("dovecot.index.cache")).unwrap();
    let dump = std::fs::read_to_string(dir.join("doveadm-dump.txt")).unwrap();
    (cache, dump)
}

fn case_name(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn fixtures_round_trip_byte_for_byte() {
    let (mut forced, mut appended, mut purged) = (false, false, false);
    for dir in fixture_cases() {
        let (cache, _) = read_case(&dir);
        let file = check_round_trip(&case_name(&dir), &cache);
        assert!(file.records().count() > 0);
        let fields = file.fields();
        assert!(fields.iter().any(|f| f.decision.kind() == Decision::YES));

        forced |= fields.iter().any(|f| f.decision.is_forced());
        appended |= file.field_headers().count() > 1;
        purged |= file.header.file_seq != file.header.indexid;
    }
    // What the cases were made to cover (see the README).
    assert!(forced && appended && purged, "{forced} {appended} {purged}");
}

/// Headers and entries built from their values lay out exactly as the
/// ones Dovecot wrote.
#[test]
fn fixtures_lay_out_like_dovecot_writes() {
    for dir in fixture_cases() {
        let (cache, _) = read_case(&dir);
        let file = CacheFile::decode(&cache).unwrap();
        for header in file.field_headers() {
            let built = FieldHeader::new(header.next_offset, header.fields.clone());
            assert_eq!(&built, header, "{}", dir.display());
        }
        for entry in file.records().flat_map(|r| &r.entries) {
            let built = FieldEntry::new(entry.field, entry.size_prefixed, entry.data.clone());
            assert_eq!(&built, entry, "{}", dir.display());
        }
    }
}

#[test]
fn fixtures_dump_like_doveadm() {
    for dir in fixture_cases() {
        let (cache, dump) = read_case(&dir);
        check_dump(&case_name(&dir), Some(&cache), &dump);
    }
}

// ---------------------------------------------------------------------
// Bad input: every cut and many flipped words give errors, not panics.

/// Decode and dump `bytes` every way we can: nothing panics, and what
/// decodes re-encodes to the same bytes.
fn exercise(bytes: &[u8], real: &RealDump) {
    let decoded = [CacheFile::decode(bytes), CacheFile::decode_lenient(bytes)];
    for file in decoded.into_iter().flatten() {
        assert!(
            file.encode() == bytes,
            "decoded, but re-encodes differently"
        );
    }
    let _ = CacheView::open(bytes);
    let mut out = Vec::new();
    let mut dump = CacheDump::open(Some(bytes), real.indexid);
    dump.write_header(&mut out).unwrap();
    for (offset, _) in &real.records {
        dump.write_record(&mut out, *offset, real.reset_id).unwrap();
    }
}

#[test]
fn truncated_files_fail_cleanly() {
    for dir in fixture_cases() {
        let (cache, dump) = read_case(&dir);
        let real = parse_dump(&dump);
        for cut in 0..cache.len() {
            exercise(&cache[..cut], &real);
        }
    }
}

#[test]
fn flipped_words_fail_cleanly() {
    for dir in fixture_cases() {
        let (cache, dump) = read_case(&dir);
        let real = parse_dump(&dump);
        for at in (0..cache.len() - 3).step_by(4) {
            let own = at as u32;
            for value in [0, 7, 0xffff_ffff, own] {
                let mut bad = cache.clone();
                bad[at..at + 4].copy_from_slice(&value.to_ne_bytes());
                exercise(&bad, &real);
            }
        }
    }
}

fn first_fixture() -> (Vec<u8>, CacheFile) {
    let (cache, _) = read_case(&fixture_cases()[0]);
    let file = CacheFile::decode(&cache).unwrap();
    (cache, file)
}

fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

fn decode_error(bytes: &[u8]) -> (u64, String) {
    let e = CacheFile::decode(bytes).expect_err("decoding should fail");
    (e.offset, e.reason)
}

/// Offsets of the newest field header and of the last record.
fn landmarks(file: &CacheFile) -> (usize, usize) {
    let latest = file
        .regions
        .iter()
        .filter_map(|r| match r {
            Region::FieldHeader { offset, .. } => Some(*offset as usize),
            _ => None,
        })
        .next_back()
        .unwrap();
    let last_rec = file.records().last().unwrap().offset as usize;
    (latest, last_rec)
}

#[test]
fn header_errors_name_offset_and_reason() {
    let (cache, _) = first_fixture();

    let mut bad = cache.clone();
    bad[0] = 2;
    assert_eq!(
        decode_error(&bad),
        (0, "Unsupported major version (2)".into())
    );

    let mut bad = cache.clone();
    bad[1] = 4;
    assert_eq!(
        decode_error(&bad),
        (1, "Unsupported uoff_t size (4)".into())
    );

    assert_eq!(decode_error(&cache[..31]), (0, "File too small".into()));

    let mut bad = cache.clone();
    let outside = uint32_to_offset((cache.len() as u32 + 64) & !3).unwrap();
    put_u32(&mut bad, 28, outside);
    let (at, reason) = decode_error(&bad);
    assert_eq!(
        (at, reason.as_str()),
        (28, "header field next_offset points outside file")
    );

    let mut bad = cache.clone();
    put_u32(&mut bad, 28, 0);
    assert_eq!(decode_error(&bad), (28, "missing header fields".into()));
}

#[test]
fn field_header_errors_name_offset_and_reason() {
    let (cache, file) = first_fixture();
    let (latest, _) = landmarks(&file);
    let own = uint32_to_offset(latest as u32).unwrap();

    let mut bad = cache.clone();
    put_u32(&mut bad, latest, own);
    assert_eq!(
        decode_error(&bad),
        (latest as u64, "next_offset in field header loops".into())
    );

    let mut bad = cache.clone();
    put_u32(&mut bad, latest, uint32_to_offset(32).unwrap());
    let expected = if latest == 32 { "loops" } else { "decreases" };
    assert!(decode_error(&bad).1.contains(expected));

    let mut bad = cache.clone();
    put_u32(&mut bad, latest + 8, 0x7fff_ffff);
    assert_eq!(
        decode_error(&bad),
        (latest as u64, "invalid field header size".into())
    );

    let mut bad = cache.clone();
    put_u32(&mut bad, latest + 4, 0xffff_fff0);
    assert_eq!(
        decode_error(&bad),
        (latest as u64, "header field size outside file".into())
    );

    let header =
        FieldHeader::decode(dovecot_rs::index::format::Bytes::new(&cache), latest).unwrap();
    let count = header.fields.len();
    let mut bad = cache.clone();
    bad[latest + 12 + 8 * count] = 9;
    assert_eq!(decode_error(&bad).1, "field type corrupted");
    let mut bad = cache.clone();
    bad[latest + 12 + 9 * count] = 0x03;
    assert_eq!(decode_error(&bad).1, "field decision type corrupted");
}

#[test]
fn record_errors_name_offset_and_reason() {
    let (cache, file) = first_fixture();
    let (_, last) = landmarks(&file);

    let mut bad = cache.clone();
    put_u32(&mut bad, last + 4, 0x10_0000);
    assert_eq!(
        decode_error(&bad),
        (last as u64, "record points outside file".into())
    );

    let mut bad = cache.clone();
    put_u32(&mut bad, last + 8, 5000);
    let count = file.fields().len();
    let reason = format!("field index too large (5000 >= {count})");
    assert_eq!(decode_error(&bad), (last as u64 + 8, reason));

    let mut bad = cache.clone();
    put_u32(&mut bad, last, last as u32);
    assert!(decode_error(&bad).1.contains("is not an earlier record"));

    // Followed from the index, a record pointing at itself is a loop.
    let view = CacheView::open(&bad).unwrap();
    let chain: Vec<_> = view.records(last as u32).collect();
    assert_eq!(chain.len(), 2, "one record, then the loop error");
    let e = chain[1].as_ref().unwrap_err();
    assert_eq!(
        (e.offset, e.reason.as_str()),
        (last as u64, "record list is circular")
    );
}

#[test]
fn lenient_decoding_keeps_damage_between_blocks() {
    let (cache, file) = first_fixture();
    assert_eq!(CacheFile::decode_lenient(&cache).unwrap(), file);

    // A torn append at the end.
    let mut torn = cache.clone();
    torn.extend_from_slice(&[0xff; 10]);
    assert!(CacheFile::decode(&torn).is_err());
    let lenient = CacheFile::decode_lenient(&torn).unwrap();
    assert!(lenient.encode() == torn);
    let tail = Region::Unparsed {
        offset: cache.len() as u32,
        bytes: vec![0xff; 10],
    };
    assert_eq!(lenient.regions.last(), Some(&tail));
    assert_eq!(lenient.records().count(), file.records().count());

    // A broken record: it and what follows, up to the next field header
    // or the end, are kept as bytes; what precedes it is intact.
    let recs: Vec<u32> = file.records().map(|r| r.offset).collect();
    let mid = recs[recs.len() / 2];
    let mut broken = cache.clone();
    put_u32(&mut broken, mid as usize + 4, 6);
    let lenient = CacheFile::decode_lenient(&broken).unwrap();
    assert!(lenient.encode() == broken);
    let unparsed = lenient.regions.iter().find_map(|r| match r {
        Region::Unparsed { offset, .. } => Some(*offset),
        _ => None,
    });
    assert_eq!(unparsed, Some(mid));
    let before: Vec<u32> = lenient
        .records()
        .map(|r| r.offset)
        .filter(|&o| o < mid)
        .collect();
    assert_eq!(
        before,
        recs.iter()
            .copied()
            .filter(|&o| o < mid)
            .collect::<Vec<_>>()
    );
}

#[test]
fn stored_offsets_decode_like_doveadm_prints_them() {
    for dir in fixture_cases() {
        let (cache, dump) = read_case(&dir);
        let raw = u32::from_ne_bytes(cache[28..32].try_into().unwrap());
        let line = format!("{} (0x{raw:08x} nontranslated)", offset_to_uint32(raw));
        assert!(dump.contains(&line), "{}: {line}", dir.display());
    }
}

// ---------------------------------------------------------------------
// Live: mailboxes built by the real Dovecot.

const SIMPLE: &[u8] = b"From: Alice <a@example.com>\r\nTo: b@example.com\r\n\
Subject: hello\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\
Message-ID: <one@example.com>\r\n\r\nbody text here\r\n";

const MULTIPART: &[u8] = b"From: x@example.com\r\nSubject: multi\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
pre\r\n--b1\r\nContent-Type: text/plain\r\n\r\npart one\r\n\
--b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n\
--b1--\r\n";

const RECEIVED: &[u8] = b"Received: from a by b; Mon, 1 Jan 2024 09:00:00 +0000\r\n\
Received: from c\r\n\tby d; Mon, 1 Jan 2024 09:30:00 +0000\r\n\
From: y@example.com\r\nCc: c1@example.com, c2@example.com\r\n\
Subject: =?utf-8?q?h=C3=A9llo?=\r\nX-Extra: one\r\n\r\n\
Snippet text with \xc3\xa9 8-bit body.\r\n";

const LATE: &[u8] = b"From: z@example.com\r\nSubject: late\r\n\r\nlate body\r\n";

const FETCH_FIELDS: &str =
    "imap.envelope imap.bodystructure body.snippet hdr.subject date.sent size.virtual";

/// Run `/usr/lib/dovecot/imap` pre-authenticated on the home with
/// `commands`, to make Dovecot's own IMAP access patterns.
fn imap(home: &MailHome, commands: &str) {
    let out = Command::new(repo_dir().join("compat/doveadm"))
        .arg(home.path())
        .arg(home.location())
        .env("ORACLE_BIN", "/usr/lib/dovecot/imap")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(commands.as_bytes())?;
            child.wait_with_output()
        })
        .expect("run imap");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("z OK"), "imap failed: {text}");
}

/// Messages saved, fetched twice by doveadm, then read out of order by
/// IMAP (decisions move from temp to yes and a field is added, so a new
/// field header is appended), then one more message cached, and forced
/// decisions set.
fn populate(home: &MailHome) {
    for msg in [SIMPLE, MULTIPART, RECEIVED] {
        home.save(None, msg);
    }
    home.doveadm_ok(&["fetch", FETCH_FIELDS, "all"]);
    let more = "hdr.received date.received size.physical imap.body date.saved pop3.uidl guid";
    home.doveadm_ok(&["fetch", more, "all"]);
    imap(
        home,
        "s SELECT INBOX\r\n\
         a FETCH 3 (BODY.PEEK[HEADER.FIELDS (SUBJECT X-Extra)] ENVELOPE)\r\n\
         b FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT X-Extra)] BODYSTRUCTURE)\r\n\
         c FETCH 2 (BINARY.PEEK[1] BINARY.SIZE[2])\r\n\
         z LOGOUT\r\n",
    );
    home.save(None, LATE);
    home.doveadm_ok(&["index", "INBOX"]);
    home.doveadm_ok(&["fetch", FETCH_FIELDS, "all"]);
    // Forced decisions are written with their forced bit.
    home.doveadm_ok(&[
        "-o",
        "mail_always_cache_fields=imap.body",
        "-o",
        "mail_never_cache_fields=date.sent",
        "fetch",
        "hdr.subject",
        "all",
    ]);
}

/// Compare everything for the index in `index_dir`; save it as a
/// fixture when asked to.
fn check_live(name: &str, home: &MailHome, index_dir: &Path) {
    let dir = index_dir.to_str().unwrap();
    let dump = home.doveadm_ok(&["dump", dir]);
    let cache = std::fs::read(index_dir.join("dovecot.index.cache")).ok();

    if let Some(bytes) = &cache {
        check_round_trip(name, bytes);
    }
    check_dump(name, cache.as_deref(), &dump);

    if std::env::var_os("DOVECOT_RS_WRITE_FIXTURES").is_some() {
        let out = fixtures_dir().join("cache").join(name);
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("dovecot.index.cache"), cache.unwrap()).unwrap();
        std::fs::write(out.join("doveadm-dump.txt"), dump).unwrap();
    }
}

#[test]
fn maildir_cache_matches_dovecot() {
    require_dovecot!();
    let home = MailHome::new("maildir:{home}/Maildir");
    populate(&home);
    check_live("maildir", &home, &home.path().join("Maildir"));
}

#[test]
fn sdbox_cache_matches_dovecot() {
    require_dovecot!();
    let home = MailHome::new("sdbox:{home}/sdbox");
    populate(&home);
    let index_dir = home.path().join("sdbox/mailboxes/INBOX/dbox-Mails");
    check_live("sdbox", &home, &index_dir);
}

#[test]
fn mdbox_cache_matches_dovecot() {
    require_dovecot!();
    let home = MailHome::new("mdbox:{home}/mdbox");
    populate(&home);
    home.doveadm_ok(&["expunge", "mailbox", "INBOX", "uid", "1"]);
    home.doveadm_ok(&["purge"]);
    home.doveadm_ok(&["fetch", FETCH_FIELDS, "all"]);
    let index_dir = home.path().join("mdbox/mailboxes/INBOX/dbox-Mails");
    check_live("mdbox", &home, &index_dir);
}

#[test]
fn purged_cache_matches_dovecot() {
    require_dovecot!();
    let home = MailHome::new("maildir:{home}/Maildir");
    populate(&home);
    home.doveadm_ok(&["expunge", "mailbox", "INBOX", "uid", "2"]);
    let decision = [
        "mailbox",
        "cache",
        "decision",
        "-f",
        "date.received",
        "-d",
        "yes",
    ];
    home.doveadm_ok(&[&decision[..], &["INBOX"]].concat());
    home.doveadm_ok(&["mailbox", "cache", "purge", "INBOX"]);
    home.save(None, MULTIPART);
    home.doveadm_ok(&["fetch", FETCH_FIELDS, "all"]);
    check_live("maildir-purged", &home, &home.path().join("Maildir"));
}

#[test]
fn missing_cache_dumps_like_dovecot() {
    require_dovecot!();
    let home = MailHome::new("maildir:{home}/Maildir");
    populate(&home);
    let index_dir = home.path().join("Maildir");
    std::fs::remove_file(index_dir.join("dovecot.index.cache")).unwrap();
    let dump = home.doveadm_ok(&["dump", index_dir.to_str().unwrap()]);
    check_dump("missing", None, &dump);
}

/// File offsets of every `mime.parts` value.
fn mime_parts_offsets(cache: &[u8]) -> Vec<usize> {
    let view = CacheView::open(cache).unwrap();
    let file = CacheFile::decode(cache).unwrap();
    let mut found = Vec::new();
    for rec in file.records() {
        let rec =
            dovecot_rs::index::format::cache::RecordRef::at(view.bytes(), rec.offset).unwrap();
        for entry in view.entries(&rec) {
            let entry = entry.unwrap();
            if view.fields[entry.field as usize].name == b"mime.parts" {
                found.push(entry.data_offset as usize);
            }
        }
    }
    found
}

/// A change to a cache file's bytes.
type Corruption = Box<dyn Fn(&mut Vec<u8>)>;

/// Corrupt the cache of a real mailbox in ways Dovecot notices at
/// different points, and compare real doveadm's dump with ours.
#[test]
fn corrupted_caches_dump_like_dovecot() {
    require_dovecot!();
    let home = MailHome::new("maildir:{home}/Maildir");
    populate(&home);
    let index_dir = home.path().join("Maildir");
    let path = index_dir.join("dovecot.index.cache");
    let good = std::fs::read(&path).unwrap();
    let file = CacheFile::decode(&good).unwrap();
    let (latest, last) = landmarks(&file);
    let recs: Vec<usize> = file.records().map(|r| r.offset as usize).collect();
    let mid = recs[recs.len() / 2];
    let mime = mime_parts_offsets(&good);
    let (mime0, mime1) = (mime[0], mime[1]);

    let cases: Vec<(&str, Corruption)> = vec![
        ("major", Box::new(|b| b[0] = 9)),
        ("file-seq", Box::new(|b| b[8] ^= 1)),
        ("indexid", Box::new(|b| b[4] ^= 1)),
        (
            "field-loop",
            Box::new(move |b| put_u32(b, latest, uint32_to_offset(latest as u32).unwrap())),
        ),
        (
            "field-type",
            Box::new(move |b| {
                let n = u32::from_ne_bytes(b[latest + 8..latest + 12].try_into().unwrap());
                b[latest + 12 + 8 * n as usize] = 7;
            }),
        ),
        (
            "rec-field-index",
            Box::new(move |b| put_u32(b, last + 8, 4000)),
        ),
        ("rec-size", Box::new(move |b| put_u32(b, mid + 4, 6))),
        ("rec-loop", Box::new(move |b| put_u32(b, last, last as u32))),
        (
            "rec-unaligned-prev",
            Box::new(move |b| put_u32(b, last, 33)),
        ),
        ("truncated", Box::new(move |b| b.truncate(last + 4))),
        // A single part claiming to be multipart: no children follow.
        ("mime-multipart", Box::new(move |b| put_u32(b, mime0, 1))),
        ("mime-flags", Box::new(move |b| put_u32(b, mime1, 0xffff))),
    ];
    for (name, corrupt) in cases {
        let mut bad = good.clone();
        corrupt(&mut bad);
        std::fs::write(&path, &bad).unwrap();
        let dump = home.doveadm_ok(&["dump", index_dir.to_str().unwrap()]);
        check_dump(&format!("corrupt-{name}"), Some(&bad), &dump);
        if name.starts_with("mime") {
            assert!(dump.contains(") error: "), "{name}: no mime.parts error");
        }
    }
}

/// A record cut short by the end of the file: Dovecot reads on past the
/// end (zeros from the mapping's last page) and prints made-up fields;
/// we stop there with " - broken cache", on purpose. Up to that record
/// the output is Dovecot's.
#[test]
fn record_cut_by_end_of_file_is_broken_not_zero_filled() {
    require_dovecot!();
    let home = MailHome::new("maildir:{home}/Maildir");
    populate(&home);
    let index_dir = home.path().join("Maildir");
    let path = index_dir.join("dovecot.index.cache");
    let mut bad = std::fs::read(&path).unwrap();
    let file = CacheFile::decode(&bad).unwrap();
    let (_, last) = landmarks(&file);
    bad.truncate(last + 12);
    std::fs::write(&path, &bad).unwrap();

    let dump = home.doveadm_ok(&["dump", index_dir.to_str().unwrap()]);
    let real = parse_dump(&dump);
    let ours = our_records(Some(&bad), &real);
    let cut_line = format!(" - cache offset={last} ");
    let mut diverged = false;
    for ((_, theirs), ours) in real.records.iter().zip(&ours) {
        if diverged {
            assert_eq!(ours, "", "the cache is unusable after the break");
        } else if let Some(at) = theirs.find(&cut_line) {
            assert_eq!(ours, &format!("{} - broken cache\n", &theirs[..at]));
            diverged = true;
        } else {
            assert_same_output(ours, theirs, "cut-record");
        }
    }
    assert!(diverged, "the cut record was dumped");
}
