//! The cache engine (`dovecot_rs::index::cache`) sharing cache files
//! with the real Dovecot: Dovecot writes and we read, Dovecot purges
//! while we read, we write and purge and Dovecot reads, and damaged
//! files are dropped without panics.

mod common;

use std::path::PathBuf;

use common::{MailHome, assert_same_output};
use dovecot_rs::index::cache::log_append::with_log_lock;
use dovecot_rs::index::cache::{
    Cache, CacheError, CacheSettings, CacheTransaction, FieldIdx, IndexView, PurgeIf,
};
use dovecot_rs::index::format::cache::{FieldType, HeaderValue, number, strip_nul};
use dovecot_rs::index::map::{IndexFiles, IndexMap, open_index};
use dovecot_rs::mail::imap_envelope::Envelope;
use dovecot_rs::util::file_lock::LockMethod;

const SIMPLE: &[u8] = b"Date: Tue, 2 Jan 2024 08:15:00 +0100\r\n\
From: Bob <bob@example.org>\r\nTo: Carol <carol@example.org>\r\n\
Subject: cache engine\r\nMessage-ID: <engine@example.org>\r\n\r\nplain body\r\n";

const MULTIPART: &[u8] = b"From: parts@example.org\r\nSubject: two parts\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"zz\"\r\n\r\n\
--zz\r\nContent-Type: text/plain\r\n\r\nfirst\r\n\
--zz\r\nContent-Type: text/html\r\n\r\n<p>second</p>\r\n--zz--\r\n";

const RECEIVED: &[u8] = b"Received: from relay by mx; Tue, 2 Jan 2024 07:00:00 +0000\r\n\
Received: from client\r\n\tby relay; Tue, 2 Jan 2024 06:59:00 +0000\r\n\
From: folded@example.org\r\nCc: d1@example.org, d2@example.org\r\n\
Subject: =?utf-8?q?f=C3=B6lded?=\r\n\tsubject\r\nX-Extra: two\r\n\r\n\
Body with \xc3\xb6 in 8-bit.\r\n";

const MESSAGES: [&[u8]; 3] = [SIMPLE, MULTIPART, RECEIVED];

const FETCH: &str = "imap.envelope imap.bodystructure body.snippet hdr.subject date.sent";

// ---------------------------------------------------------------------
// Mailboxes and our view of them.

struct Mailbox {
    home: MailHome,
    dir: PathBuf,
}

impl Mailbox {
    fn new(kind: &str) -> Mailbox {
        let (location, dir) = match kind {
            "sdbox" => ("sdbox:{home}/sdbox", "sdbox/mailboxes/INBOX/dbox-Mails"),
            _ => ("maildir:{home}/Maildir", "Maildir"),
        };
        let home = MailHome::new(location);
        let dir = home.path().join(dir);
        for msg in MESSAGES {
            home.save(None, msg);
        }
        Mailbox { home, dir }
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("dovecot.index")
    }

    fn cache_path(&self) -> PathBuf {
        self.dir.join("dovecot.index.cache")
    }

    fn map(&self) -> IndexMap {
        let files = IndexFiles::read(&self.dir, "dovecot.index").unwrap();
        open_index(&files).unwrap().map
    }

    fn cache(&self, map: &IndexMap) -> Cache {
        Cache::for_index(
            &self.index_path(),
            map.hdr.indexid,
            CacheSettings::default(),
        )
    }

    /// Real `doveadm dump` of the index, checked for cache complaints.
    fn dump(&self) -> String {
        let out = self.home.doveadm(&["dump", self.dir.to_str().unwrap()]);
        assert_no_corruption(&out.stderr);
        common::check(&out, "doveadm dump")
    }

    /// Real `doveadm fetch`, checked for cache complaints.
    fn fetch(&self, fields: &str) -> String {
        let out = self.home.doveadm(&["fetch", fields, "all"]);
        assert_no_corruption(&out.stderr);
        common::check(&out, "doveadm fetch")
    }
}

fn assert_no_corruption(stderr: &[u8]) {
    let text = String::from_utf8_lossy(stderr);
    assert!(
        !text.contains("orrupt") && !text.contains("rror"),
        "Dovecot complained: {text}"
    );
}

/// What `doveadm dump` prints for one cache entry (doveadm-dump-index.c
/// dump_cache()); `mime.parts` only up to its hex.
fn render(name: &str, field_type: FieldType, data: &[u8]) -> String {
    let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
    let value = match field_type {
        FieldType::String => String::from_utf8_lossy(strip_nul(data)).into_owned(),
        FieldType::Header => render_header(&HeaderValue::decode(data)),
        FieldType::FixedSize => match (data.len(), number(data)) {
            (4, Some(n)) => format!("{n} ({hex})"),
            (8, Some(n)) => format!("{n}({hex})"),
            _ => format!("({hex})"),
        },
        FieldType::VariableSize | FieldType::Bitmask => match name {
            "body.snippet" if !data.is_empty() => format!(
                "({hex}) (version={}: {})",
                data[0],
                String::from_utf8_lossy(strip_nul(&data[1..]))
            ),
            _ => format!("({hex})"),
        },
    };
    format!("    - {name}: {value}\n")
}

fn render_header(value: &HeaderValue<'_>) -> String {
    let lines: Vec<String> = value.lines.iter().map(u32::to_string).collect();
    let mut text = value.text;
    if value.lines.len() == 1 {
        text = text.strip_suffix(b"\n").unwrap_or(text);
    }
    let mut out = lines.join(", ");
    if !text.is_empty() {
        out.push_str(": ");
        out.push_str(&String::from_utf8_lossy(text));
    }
    out
}

/// Our lookups of every field of message `seq`, rendered as the dump.
fn our_lines(cache: &mut Cache, view: &dyn IndexView, seq: u32) -> String {
    let values = cache.lookup_all(view, seq).unwrap();
    values
        .iter()
        .map(|v| {
            let f = cache.fields().get(v.field).unwrap();
            render(&f.name, f.field_type, &v.data)
        })
        .collect()
}

/// Each record's cache field lines in a real dump, without the
/// " - cache offset=" lines and the decoded `mime.parts` trees.
fn dump_lines(dump: &str) -> Vec<String> {
    let records = &dump[dump.find("\n-- RECORDS: ").expect("records")..];
    records
        .split("\nRECORD: seq=")
        .skip(1)
        .map(|block| {
            let mut out = String::new();
            for line in block.split_inclusive('\n').skip(1) {
                if line.starts_with(" - ext ") || line.starts_with(" - cache offset=") {
                    continue;
                }
                match line.strip_prefix("    - mime.parts: (") {
                    Some(rest) => {
                        let end = rest.find(')').unwrap();
                        out.push_str(&format!("    - mime.parts: ({})\n", &rest[..end]));
                    }
                    None => out.push_str(line),
                }
            }
            out.trim_end_matches('\n').to_string() + "\n"
        })
        .map(|s| if s == "\n" { String::new() } else { s })
        .collect()
}

/// The record offsets each message's chain has in a real dump.
fn dump_offsets(dump: &str) -> Vec<Vec<u32>> {
    let records = &dump[dump.find("\n-- RECORDS: ").expect("records")..];
    records
        .split("\nRECORD: seq=")
        .skip(1)
        .map(|block| {
            block
                .lines()
                .filter_map(|l| l.strip_prefix(" - cache offset="))
                .map(|l| l.split(' ').next().unwrap().parse().unwrap())
                .collect()
        })
        .collect()
}

/// Dovecot's cache filled by a real fetch.
fn filled(kind: &str) -> (Mailbox, String) {
    let mbox = Mailbox::new(kind);
    let fetched = mbox.fetch(FETCH);
    (mbox, fetched)
}

/// The value of `name` for `seq`, looked up by field name.
fn value_of(cache: &mut Cache, map: &IndexMap, seq: u32, name: &str) -> Option<Vec<u8>> {
    cache.open_and_verify(map).unwrap();
    let field = cache.field_lookup(name)?;
    cache.lookup_field(map, seq, field).unwrap()
}

/// `name: value` lines of a real fetch, per message.
fn fetch_values(fetched: &str, name: &str) -> Vec<String> {
    let prefix = format!("{name}: ");
    fetched
        .split("\u{c}\n")
        .map(|msg| {
            let start = msg.find(&prefix).expect("field in fetch output") + prefix.len();
            let rest = &msg[start..];
            let mut end = rest.find('\n').unwrap_or(rest.len());
            while rest[end..].starts_with("\n ") || rest[end..].starts_with("\n\t") {
                end += 1 + rest[end + 1..].find('\n').unwrap_or(rest.len() - end - 1);
            }
            rest[..end].to_string()
        })
        .collect()
}

// ---------------------------------------------------------------------
// Dovecot writes, we read.

fn check_reads(kind: &str) {
    let (mbox, fetched) = filled(kind);
    let map = mbox.map();
    let mut cache = mbox.cache(&map);
    let real = dump_lines(&mbox.dump());
    assert_eq!(real.len(), map.messages_count() as usize);
    for seq in 1..=map.messages_count() {
        let ours = our_lines(&mut cache, &map, seq);
        assert!(!ours.is_empty(), "{kind}: nothing cached for {seq}");
        assert_same_output(&ours, &real[seq as usize - 1], &format!("{kind}-seq{seq}"));
    }

    // The cached header is what the fetch of that header showed.
    let subjects = fetch_values(&fetched, "hdr.subject");
    for seq in 1..=map.messages_count() {
        let data = value_of(&mut cache, &map, seq, "hdr.subject").expect("hdr.subject");
        let text = HeaderValue::decode(&data).text.to_vec();
        let text = String::from_utf8(text).unwrap();
        let text = text.trim_end_matches('\n');
        assert_eq!(
            text.strip_prefix("Subject: ").unwrap(),
            subjects[seq as usize - 1]
        );
    }
}

#[test]
fn sdbox_dovecot_writes_we_read() {
    require_dovecot!();
    check_reads("sdbox");
}

#[test]
fn maildir_dovecot_writes_we_read() {
    require_dovecot!();
    check_reads("maildir");
}

/// Dovecot caches the headers an envelope is built from: the envelope
/// built from our header lookup is the one doveadm fetch prints.
#[test]
fn envelope_from_cached_headers_equals_fetch() {
    require_dovecot!();
    let (mbox, fetched) = filled("sdbox");
    let map = mbox.map();
    let mut cache = mbox.cache(&map);
    assert!(cache.open_and_verify(&map).unwrap());
    let names = [
        "hdr.Date",
        "hdr.Subject",
        "hdr.From",
        "hdr.Sender",
        "hdr.Reply-To",
        "hdr.To",
        "hdr.Cc",
        "hdr.Bcc",
        "hdr.In-Reply-To",
        "hdr.Message-ID",
    ];
    let ids: Vec<FieldIdx> = names
        .iter()
        .map(|n| cache.field_lookup(n).unwrap())
        .collect();
    let real: Vec<&str> = fetched.split("\u{c}\n").collect();
    for seq in 1..=map.messages_count() {
        let mut headers = cache
            .lookup_headers(&map, seq, &ids)
            .unwrap()
            .expect("all cached");
        headers.extend_from_slice(b"\n");
        let envelope = Envelope::from_message(&headers).to_imap();
        let line = format!("imap.envelope: {}\n", String::from_utf8(envelope).unwrap());
        assert!(
            real[seq as usize - 1].contains(&line),
            "{line} in {fetched}"
        );
    }
}

// ---------------------------------------------------------------------
// Dovecot replaces the file while we have it open.

/// Every message's field lines through `map`.
fn all_lines(cache: &mut Cache, map: &IndexMap) -> Vec<String> {
    (1..=map.messages_count())
        .map(|seq| our_lines(cache, map, seq))
        .collect()
}

fn check_replaced_under_us(action: &[&str]) {
    let (mbox, _) = filled("sdbox");
    let old_map = mbox.map();
    let mut cache = mbox.cache(&old_map);
    let before = all_lines(&mut cache, &old_map);
    let old_seq = cache.header().unwrap().file_seq;

    mbox.home.doveadm_ok(action);
    let new_map = mbox.map();
    assert_ne!(
        new_map.cache_reset_id(),
        Some(old_seq),
        "{action:?} did not replace the cache"
    );

    // A stale index view: its offsets belong to the old file.
    for (seq, lines) in (1..).zip(all_lines(&mut cache, &old_map)) {
        assert!(lines.is_empty() || lines == before[seq - 1], "{action:?}");
    }
    let after = all_lines(&mut cache, &new_map);
    assert_eq!(
        cache.header().unwrap().file_seq,
        new_map.cache_reset_id().unwrap()
    );
    assert_eq!(after, dump_lines(&mbox.dump()), "{action:?}");
    for (a, b) in after.iter().zip(&before) {
        assert!(
            !a.is_empty() && b.contains(a.lines().next().unwrap()),
            "{action:?}"
        );
    }
}

#[test]
fn dovecot_cache_purge_while_we_read() {
    require_dovecot!();
    check_replaced_under_us(&["mailbox", "cache", "purge", "INBOX"]);
}

#[test]
fn dovecot_force_resync_while_we_read() {
    require_dovecot!();
    let (mbox, _) = filled("sdbox");
    let map = mbox.map();
    let mut cache = mbox.cache(&map);
    let before = all_lines(&mut cache, &map);
    mbox.home.doveadm_ok(&["force-resync", "INBOX"]);
    mbox.home.doveadm_ok(&["index", "INBOX"]);
    let new_map = mbox.map();
    let after = all_lines(&mut cache, &new_map);
    assert_eq!(after, dump_lines(&mbox.dump()));
    for (seq, lines) in (1..).zip(all_lines(&mut cache, &map)) {
        assert!(lines.is_empty() || lines == before[seq - 1] || lines == after[seq - 1]);
    }
}

// ---------------------------------------------------------------------
// We write, Dovecot reads.

/// Cache `values` (field name, per-message data) in `mbox` through our
/// engine and write the offsets to the index log. Returns the offsets.
fn write_values(
    mbox: &Mailbox,
    types: &[(String, FieldType, u32)],
    values: &[Vec<Vec<u8>>],
) -> Vec<u32> {
    write_values_locked(mbox, types, values, LockMethod::Fcntl)
}

fn write_values_locked(
    mbox: &Mailbox,
    types: &[(String, FieldType, u32)],
    values: &[Vec<Vec<u8>>],
    method: LockMethod,
) -> Vec<u32> {
    with_log_lock(&mbox.index_path(), method, |log| {
        let map = log.read_index()?;
        let set = CacheSettings {
            lock_method: method,
            ..CacheSettings::default()
        };
        let mut cache = Cache::for_index(&mbox.index_path(), map.hdr.indexid, set);
        let fields: Vec<_> = types
            .iter()
            .map(|(n, t, s)| dovecot_rs::index::cache::CacheField::new(n, *t, *s))
            .collect();
        let ids: Vec<FieldIdx> = cache.register_fields(&fields)?;
        let mut t = CacheTransaction::new();
        for seq in 1..=map.messages_count() {
            for (i, &id) in ids.iter().enumerate() {
                cache.add(&mut t, &map, seq, id, &values[i][seq as usize - 1])?;
            }
        }
        let updates = cache.commit(&map, t)?;
        log.append(&updates, &map)?;
        Ok(updates.offsets.iter().map(|&(_, _, off)| off).collect())
    })
    .unwrap()
}

#[test]
fn we_write_dovecot_reads() {
    require_dovecot!();
    // The values Dovecot itself caches, from a twin mailbox.
    let (twin, fetched) = filled("sdbox");
    let twin_map = twin.map();
    let mut twin_cache = twin.cache(&twin_map);
    assert!(twin_cache.open_and_verify(&twin_map).unwrap());
    let names = ["hdr.subject", "date.sent"];
    let mut types = Vec::new();
    let mut values = Vec::new();
    for name in names {
        let idx = twin_cache.field_lookup(name).unwrap();
        let f = twin_cache.fields().get(idx).unwrap().clone();
        types.push((f.name.clone(), f.field_type, f.size));
        let per_msg: Vec<Vec<u8>> = (1..=3)
            .map(|seq| value_of(&mut twin_cache, &twin_map, seq, name).unwrap())
            .collect();
        values.push(per_msg);
    }

    let mbox = Mailbox::new("sdbox");
    let offsets = write_values(&mbox, &types, &values);
    assert_eq!(offsets.len(), 3);

    // Dovecot sees our records...
    let dump = mbox.dump();
    let chains = dump_offsets(&dump);
    for (seq, chain) in chains.iter().enumerate() {
        assert_eq!(chain.first(), Some(&offsets[seq]), "{dump}");
    }
    let lines = dump_lines(&dump);
    for seq in 0..3 {
        for (i, (name, t, _)) in types.iter().enumerate() {
            let line = render(name, *t, &values[i][seq]);
            assert!(lines[seq].contains(&line), "{line} not in {}", lines[seq]);
        }
    }

    // ...and answers from them without adding its own.
    let ours = mbox.fetch("hdr.subject date.sent");
    assert_eq!(
        fetch_values(&ours, "hdr.subject"),
        fetch_values(&fetched, "hdr.subject")
    );
    assert_eq!(
        fetch_values(&ours, "date.sent"),
        fetch_values(&fetched, "date.sent")
    );
    assert_eq!(dump_offsets(&mbox.dump()), chains);
}

#[test]
fn our_purge_is_read_by_dovecot() {
    require_dovecot!();
    let (mbox, fetched) = filled("maildir");
    let before = dump_lines(&mbox.dump());
    let old_seq = mbox.map().cache_reset_id().unwrap();

    with_log_lock(&mbox.index_path(), Default::default(), |log| {
        let map = log.read_index()?;
        let mut cache = mbox.cache(&map);
        let updates = cache.purge(&map, PurgeIf::Always, "test")?.expect("purged");
        assert_eq!(updates.reset, Some(old_seq + 1));
        log.append(&updates, &map)
    })
    .unwrap();

    let dump = mbox.dump();
    assert!(dump.contains(&format!("file_seq ............. = {}", old_seq + 1)));
    assert_eq!(dump_lines(&dump), before);
    assert!(dump_offsets(&dump).iter().all(|c| c.len() == 1));
    assert_eq!(mbox.fetch(FETCH), fetched);
    assert_eq!(dump_lines(&mbox.dump()), before);
}

/// Without any cache file, a commit creates one (as Dovecot's
/// transaction does through a purge) that Dovecot then reads.
#[test]
fn commit_creates_a_missing_cache() {
    require_dovecot!();
    let mbox = Mailbox::new("maildir");
    std::fs::remove_file(mbox.cache_path()).unwrap();
    let subject = |s: &str| format!("\u{2}\0\0\0\0\0\0\0Subject: {s}\n").into_bytes();
    let types = [("hdr.subject".to_string(), FieldType::Header, u32::MAX)];
    let values = vec![vec![subject("hello"), subject("multi"), subject("x")]];
    write_values(&mbox, &types, &values);

    let lines = dump_lines(&mbox.dump());
    assert_eq!(lines[0], "    - hdr.subject: 2: Subject: hello\n");
    // Dovecot answers from our record: the third subject is ours.
    let fetched = mbox.fetch("hdr.subject");
    assert_eq!(
        fetch_values(&fetched, "hdr.subject"),
        ["hello", "multi", "x"]
    );
}

// ---------------------------------------------------------------------
// Damaged files.

/// Look up everything; a corruption must be reported as such, after
/// which the file is gone and lookups find nothing.
fn lookups_survive(mbox: &Mailbox, bytes: &[u8]) -> bool {
    std::fs::write(mbox.cache_path(), bytes).unwrap();
    let map = mbox.map();
    let mut cache = mbox.cache(&map);
    let mut corrupted = false;
    for seq in 1..=map.messages_count() {
        match cache.lookup_all(&map, seq) {
            Ok(_) => {}
            Err(CacheError::Corrupted { .. }) => corrupted = true,
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    if corrupted {
        assert!(!mbox.cache_path().exists(), "corrupted cache not dropped");
        assert!(cache.lookup_all(&map, 1).unwrap().is_empty());
    }
    corrupted
}

fn put(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

#[test]
fn damaged_caches_are_dropped_never_trusted() {
    require_dovecot!();
    let (mbox, _) = filled("maildir");
    let good = std::fs::read(mbox.cache_path()).unwrap();
    let chains = dump_offsets(&mbox.dump());
    let last = *chains.iter().flatten().max().unwrap() as usize;

    assert!(!lookups_survive(&mbox, &good));
    let mut loop_ = good.clone();
    put(&mut loop_, last, last as u32);
    let mut bad_size = good.clone();
    put(&mut bad_size, last + 4, 6);
    let mut outside = good.clone();
    put(&mut outside, last + 4, 0x0100_0000);
    let mut bad_field = good.clone();
    put(&mut bad_field, last + 8, 4000);
    for (name, bytes) in [
        ("loop", loop_),
        ("size", bad_size),
        ("outside", outside),
        ("field", bad_field),
        ("truncated", good[..last + 12].to_vec()),
        ("header", good[..20].to_vec()),
    ] {
        assert!(lookups_survive(&mbox, &bytes), "{name} not noticed");
    }

    // Every cut and many overwritten words: errors or absence only.
    for cut in (0..good.len()).step_by(7) {
        lookups_survive(&mbox, &good[..cut]);
    }
    for at in (0..good.len() - 3).step_by(12) {
        let mut bad = good.clone();
        put(&mut bad, at, 0xffff_fff0);
        lookups_survive(&mbox, &bad);
    }
}

#[test]
fn corrupted_cache_is_recreated_by_purge() {
    require_dovecot!();
    let (mbox, fetched) = filled("maildir");
    let mut bytes = std::fs::read(mbox.cache_path()).unwrap();
    bytes.truncate(40);
    assert!(lookups_survive(&mbox, &bytes));

    with_log_lock(&mbox.index_path(), Default::default(), |log| {
        let map = log.read_index()?;
        let mut cache = mbox.cache(&map);
        let updates = cache
            .purge(&map, PurgeIf::Missing, "recreate")?
            .expect("created");
        assert!(updates.offsets.is_empty());
        log.append(&updates, &map)
    })
    .unwrap();
    assert!(mbox.dump().contains("-- Cache fields --"));
    assert_eq!(mbox.fetch(FETCH), fetched);
}

// ---------------------------------------------------------------------
// Decisions and purge triggers.

/// The decision column of a field in a real dump's field table.
fn dump_decision(dump: &str, name: &str) -> String {
    let line = dump
        .lines()
        .find(|l| {
            l.get(4..)
                .is_some_and(|r| r.starts_with(&format!("{name} ")))
        })
        .unwrap_or_else(|| panic!("{name} not in field table"));
    line.split_whitespace().nth(4).unwrap().to_string()
}

/// Reading a temp field out of UID order makes it "yes" (the client
/// has no local cache); the decision we write is what Dovecot reads.
#[test]
fn unordered_reads_promote_temp_to_yes_in_the_file() {
    require_dovecot!();
    let (mbox, _) = filled("maildir");
    assert_eq!(dump_decision(&mbox.dump(), "hdr.subject"), "tmp");

    let map = mbox.map();
    let mut cache = mbox.cache(&map);
    value_of(&mut cache, &map, 3, "hdr.subject").unwrap();
    assert_eq!(dump_decision(&mbox.dump(), "hdr.subject"), "tmp");
    value_of(&mut cache, &map, 1, "hdr.subject").unwrap();
    cache.flush_decisions(&map).unwrap();

    let dump = mbox.dump();
    assert_eq!(dump_decision(&dump, "hdr.subject"), "yes");
    assert_eq!(dump_decision(&dump, "hdr.From"), "tmp");
    // Dovecot keeps yes fields of every message when it purges.
    mbox.home
        .doveadm_ok(&["mailbox", "cache", "purge", "INBOX"]);
    let dump = mbox.dump();
    assert_eq!(dump_decision(&dump, "hdr.subject"), "yes");
    assert!(
        dump_lines(&dump)
            .iter()
            .all(|l| l.contains("- hdr.subject: "))
    );
}

/// Whether Dovecot purges the cache when an IMAP client that read
/// the cache expunges `uids` (the expunge handler updates the counters,
/// and the sync commit purges when they ask for it).
fn dovecot_purges(mbox: &Mailbox, uids: &str, percentage: u32) -> bool {
    let before = mbox.map().cache_reset_id();
    let session = format!(
        "s SELECT INBOX\r\nf FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n\
         d STORE {uids} +FLAGS \\Deleted\r\ne EXPUNGE\r\nz LOGOUT\r\n"
    );
    let out = std::process::Command::new(common::repo_dir().join("compat/doveadm"))
        .arg(mbox.home.path())
        .arg(mbox.home.location())
        .env("ORACLE_BIN", "/usr/lib/dovecot/imap")
        .env(
            "ORACLE_CONF_EXTRA",
            format!(
                "mail_cache_purge_min_size = 1\nmail_cache_purge_delete_percentage = {percentage}"
            ),
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(session.as_bytes())?;
            child.wait_with_output()
        })
        .expect("run imap");
    assert!(String::from_utf8_lossy(&out.stdout).contains("z OK"));
    mbox.map().cache_reset_id() != before
}

/// Expunged messages leave deleted records; past
/// `mail_cache_purge_delete_percentage` we want a purge exactly when
/// Dovecot does one.
#[test]
fn purge_wanted_when_dovecot_purges() {
    require_dovecot!();
    for (percentage, uids) in [(50, "1"), (20, "1:2"), (90, "1:2")] {
        let (ours_box, _) = filled("maildir");
        ours_box
            .home
            .doveadm_ok(&["expunge", "mailbox", "INBOX", "uid", uids]);
        let map = ours_box.map();
        let set = CacheSettings {
            purge_min_size: 1,
            purge_delete_percentage: percentage,
            ..CacheSettings::default()
        };
        let mut cache = Cache::for_index(&ours_box.index_path(), map.hdr.indexid, set);
        assert!(cache.open_and_verify(&map).unwrap());
        let ours = cache.need_purge().map(|p| p.reason.clone());

        let (theirs_box, _) = filled("maildir");
        let theirs = dovecot_purges(&theirs_box, uids, percentage);
        assert_eq!(ours.is_some(), theirs, "{percentage}% {uids}: {ours:?}");
    }
}

/// The index engine's views plug in as they are.
#[test]
fn lookups_through_the_index_engine() {
    require_dovecot!();
    use dovecot_rs::index::mail_index::{Index, OpenFlags};
    let (mbox, _) = filled("sdbox");
    let mut index = Index::alloc(Some(&mbox.dir), "dovecot.index");
    index.open(OpenFlags::READONLY).unwrap();
    let view = index.view();
    let mut cache = Cache::for_index(
        &mbox.index_path(),
        view.header().indexid,
        CacheSettings::default(),
    );
    let real = dump_lines(&mbox.dump());
    let ours: Vec<String> = (1..=view.messages_count())
        .map(|seq| our_lines(&mut cache, &view, seq))
        .collect();
    assert_eq!(ours, real);
}

/// A commit finding the file corrupted drops it, creates a new one
/// through a purge and writes there; Dovecot reads the values back.
#[test]
fn commit_replaces_a_corrupted_cache() {
    require_dovecot!();
    let (mbox, fetched) = filled("maildir");
    let map = mbox.map();
    let mut cache = mbox.cache(&map);
    let subjects: Vec<Vec<u8>> = (1..=3)
        .map(|seq| value_of(&mut cache, &map, seq, "hdr.subject").unwrap())
        .collect();
    let mut bytes = std::fs::read(mbox.cache_path()).unwrap();
    bytes.truncate(40);
    std::fs::write(mbox.cache_path(), bytes).unwrap();

    let types = [("hdr.subject".to_string(), FieldType::Header, u32::MAX)];
    let offsets = write_values(&mbox, &types, &[subjects]);
    let dump = mbox.dump();
    let chains: Vec<Vec<u32>> = offsets.iter().map(|&o| vec![o]).collect();
    assert_eq!(dump_offsets(&dump), chains);
    let again = mbox.fetch("hdr.subject");
    assert_eq!(
        fetch_values(&again, "hdr.subject"),
        fetch_values(&fetched, "hdr.subject")
    );
    assert_eq!(dump_offsets(&mbox.dump()), chains);
}

/// With `lock_method = dotlock` on both sides, the cache and the log
/// are locked with dot-locks; Dovecot reads what we wrote.
#[test]
fn we_write_with_dotlocks() {
    require_dovecot!();
    let mut mbox = Mailbox::new("maildir");
    mbox.home.set_conf_extra("lock_method = dotlock");
    mbox.fetch("hdr.subject");
    let subject = |s: &str| format!("\u{4}\0\0\0\0\0\0\0Subject: {s}\n").into_bytes();
    let types = [("hdr.subject".to_string(), FieldType::Header, u32::MAX)];
    let values = vec![vec![subject("one"), subject("two"), subject("three")]];
    let offsets = write_values_locked(&mbox, &types, &values, LockMethod::Dotlock);
    assert!(!mbox.dir.join("dovecot.index.cache.lock").exists());
    assert!(!mbox.dir.join("dovecot.index.log.lock").exists());

    let chains = dump_offsets(&mbox.dump());
    for (chain, offset) in chains.iter().zip(&offsets) {
        assert_eq!(chain.first(), Some(offset));
    }
    let fetched = mbox.fetch("hdr.subject");
    assert_eq!(
        fetch_values(&fetched, "hdr.subject"),
        ["one", "two", "three"]
    );
}
