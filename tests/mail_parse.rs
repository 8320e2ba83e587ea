//! lib-mail's core parsers: the RFC 822 tokenizer, the header parser,
//! the MIME parser and what IMAP shows of a message, checked against
//! RFC examples and against the real Dovecot (live, or through the
//! fixtures under `tests/fixtures/mail/parse/` saved from it).

mod common;

use dovecot_rs::mail::message_header_parser::{HeaderParser, HeaderParserFlags};
use dovecot_rs::mail::rfc822_parser::{Next, Rfc822Parser};

fn phrase(input: &[u8]) -> (Vec<u8>, Option<Next>) {
    let mut parser = Rfc822Parser::new(input);
    let mut out = Vec::new();
    let next = parser.parse_phrase(&mut out).ok();
    (out, next)
}

#[test]
fn rfc822_phrase_joins_words_and_unquotes() {
    // RFC 5322 3.2.5: a phrase is words; quoted-pairs are unescaped.
    let (out, next) = phrase(b"Joe  \"Q. \\\"Public\\\"\" <john@example.com>");
    assert_eq!(out, b"Joe Q. \"Public\"");
    assert_eq!(next, Some(Next::More));
}

#[test]
fn rfc822_comments_nest_and_are_kept() {
    // RFC 5322 3.2.2: comments nest; quoted-pairs inside are unescaped.
    let mut parser = Rfc822Parser::with_last_comment(b"(a (nested) \\) c) x");
    assert_eq!(parser.skip_lwsp(), Ok(Next::More));
    assert_eq!(parser.last_comment.as_deref(), Some(&b"a (nested) ) c"[..]));
    assert_eq!(parser.peek(), Some(b'x'));

    let mut broken = Rfc822Parser::new(b"(never closed");
    assert!(broken.skip_lwsp().is_err());
}

#[test]
fn rfc822_dot_atom_and_domain_literal() {
    // RFC 822 allowed whitespace around the dots of a domain.
    let mut parser = Rfc822Parser::new(b"@example . com");
    let mut out = Vec::new();
    assert_eq!(parser.parse_domain(&mut out), Ok(Next::End));
    assert_eq!(out, b"example.com");

    let mut parser = Rfc822Parser::new(b"@[192.0.2.1] rest");
    let mut out = Vec::new();
    assert_eq!(parser.parse_domain(&mut out), Ok(Next::More));
    assert_eq!(out, b"[192.0.2.1]");

    let mut parser = Rfc822Parser::new(b"@example.");
    assert!(parser.parse_domain(&mut Vec::new()).is_err());
}

#[test]
fn rfc822_content_type_and_params() {
    // RFC 2045 5.1: type "/" subtype *(";" parameter); value is a token
    // or a quoted string; comments may appear anywhere.
    let input = b" Text/Plain (comment) ; charset=\"us-ascii\" ;format = flowed";
    let mut parser = Rfc822Parser::new(input);
    let mut ctype = Vec::new();
    assert_eq!(parser.parse_content_type(&mut ctype), Ok(Next::More));
    assert_eq!(ctype, b"Text/Plain");

    let mut value = Vec::new();
    let key = parser.parse_content_param(&mut value).unwrap();
    assert_eq!(
        (key.as_deref(), &value[..]),
        (Some(&b"charset"[..]), &b"us-ascii"[..])
    );
    let key = parser.parse_content_param(&mut value).unwrap();
    assert_eq!(
        (key.as_deref(), &value[..]),
        (Some(&b"format"[..]), &b"flowed"[..])
    );
    assert_eq!(parser.parse_content_param(&mut value), Ok(None));
}

#[test]
fn rfc822_content_type_without_subtype_keeps_main_type() {
    let mut parser = Rfc822Parser::new(b"text");
    let mut ctype = Vec::new();
    assert!(parser.parse_content_type(&mut ctype).is_err());
    assert_eq!(ctype, b"text");

    let mut parser = Rfc822Parser::new(b"text/ plain x");
    let mut ctype = Vec::new();
    assert!(parser.parse_content_type(&mut ctype).is_err());
    assert_eq!(ctype, b"");
}

fn header_lines(input: &[u8], flags: HeaderParserFlags) -> Vec<(String, String, String)> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    HeaderParser::new(input, 0, flags)
        .map(|h| (text(h.name), text(h.value), text(&h.full_value)))
        .collect()
}

#[test]
fn header_lines_fold_and_split() {
    let input = b"Subject: a\r\n\tb\r\nX-No-Colon\r\nTo:  x\r\n\r\nbody";
    let lines = header_lines(input, HeaderParserFlags::empty());
    let expected = [
        ("Subject", "a", ""),
        ("Subject", "\tb", "a\r\n\tb"),
        ("", "X-No-Colon", "X-No-Colon"),
        ("To", " x", " x"),
        ("", "", ""),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(lines, expected);

    let clean = HeaderParserFlags::CLEAN_ONELINE | HeaderParserFlags::SKIP_INITIAL_LWSP;
    let lines = header_lines(input, clean);
    assert_eq!(lines[1].2, "a b");
    assert_eq!(lines[3].1, "x");
}

#[test]
fn header_size_counts_lf_as_crlf() {
    let input = b"A: 1\nB: 2\r\n\nbody\n";
    let mut parser = HeaderParser::new(input, 0, HeaderParserFlags::empty());
    let eoh = parser.by_ref().last().unwrap();
    assert!(eoh.eoh);
    let size = parser.size();
    assert_eq!(
        (size.physical_size, size.virtual_size, size.lines),
        (12, 14, 3)
    );
    assert_eq!(parser.pos(), 12);
}

// ---- The corpus under tests/fixtures/mail/parse, checked against the
// ---- outputs the real Dovecot gave for it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use dovecot_rs::mail::imap_bodystructure::MessageStructure;
use dovecot_rs::mail::message_parser::{MessageParser, ParserSettings};
use dovecot_rs::mail::{message_part_serialize, message_snippet};

/// The fields compared, in the order of the `.dovecot` files.
const FIELDS: [&str; 6] = [
    "imap.bodystructure",
    "imap.body",
    "body.snippet",
    "size.physical",
    "size.virtual",
    "mime.parts",
];

/// Dovecot's cache decisions make it store these when a mail is saved.
const ORACLE_CONF: &str =
    "mail_always_cache_fields = mime.parts imap.bodystructure imap.body body.snippet";

fn corpus_dir() -> PathBuf {
    common::fixtures_dir().join("mail/parse")
}

/// The corpus messages, sorted by file name.
fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("read corpus dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    names.sort();
    let corpus: Vec<_> = names
        .iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(p).expect("read message"))
        })
        .collect();
    assert!(
        !corpus.is_empty(),
        "no messages in {}",
        corpus_dir().display()
    );
    corpus
}

/// `\`, CR and LF escaped, so a value stays on one line.
fn escape(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    for &c in value {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(c),
        }
    }
    out
}

fn unescape(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut iter = value.iter();
    while let Some(&c) = iter.next() {
        if c != b'\\' {
            out.push(c);
            continue;
        }
        match iter.next() {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(&other) => out.push(other),
            None => out.push(b'\\'),
        }
    }
    out
}

type Fields = BTreeMap<String, Vec<u8>>;

fn write_fields(fields: &Fields) -> Vec<u8> {
    let mut out = Vec::new();
    for name in FIELDS {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(&escape(fields.get(name).map_or(&[][..], |v| v)));
        out.push(b'\n');
    }
    out
}

fn read_fields(text: &[u8]) -> Fields {
    let mut fields = Fields::new();
    for line in text.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
        let sep = line
            .windows(2)
            .position(|w| w == b": ")
            .expect("field: value");
        let name = String::from_utf8_lossy(&line[..sep]).into_owned();
        fields.insert(name, unescape(&line[sep + 2..]));
    }
    fields
}

fn hex(data: &[u8]) -> Vec<u8> {
    data.iter()
        .flat_map(|b| format!("{b:02x}").into_bytes())
        .collect()
}

/// What we compute for a message, for the fields we implement.
fn our_fields(message: &[u8]) -> Fields {
    let parts = MessageParser::parse(message, ParserSettings::for_mail());
    let root = parts.root();
    let virtual_size = root.header_size.virtual_size + root.body_size.virtual_size;
    let mut fields = Fields::new();
    fields.insert(
        "size.physical".into(),
        message.len().to_string().into_bytes(),
    );
    fields.insert("size.virtual".into(), virtual_size.to_string().into_bytes());
    fields.insert(
        "mime.parts".into(),
        hex(&message_part_serialize::serialize(&parts)),
    );
    let structure = MessageStructure::parse(message);
    for (field, extended) in [("imap.bodystructure", true), ("imap.body", false)] {
        let value = structure
            .write(extended)
            .unwrap_or_else(|e| e.to_string().into_bytes());
        fields.insert(field.into(), value);
    }
    let snippet = message_snippet::mail_body_snippet(message, &structure);
    fields.insert("body.snippet".into(), snippet);
    fields
}

/// Values known to differ from Dovecot's, each with its reason. The
/// corpus test fails when one of them starts to match, so the list
/// stays true.
const KNOWN_GAPS: &[(&str, &str, &str)] = &[];

fn known_gap(name: &str, field: &str) -> bool {
    KNOWN_GAPS.iter().any(|(n, f, _)| *n == name && *f == field)
}

#[test]
fn corpus_matches_dovecot_fixtures() {
    let mut failures = Vec::new();
    let mut compared = 0;
    for (name, message) in corpus() {
        let path = corpus_dir().join(format!("{name}.dovecot"));
        let expected = read_fields(&std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run the live test with DOVECOT_RS_BLESS=1)",
                path.display()
            )
        }));
        let ours = our_fields(&message);
        check_deserialize(&name, &message, &expected["mime.parts"]);
        for (field, value) in &ours {
            compared += 1;
            let same = expected.get(field) == Some(value);
            if same == known_gap(&name, field) {
                let what = if same {
                    "matches, drop it from KNOWN_GAPS"
                } else {
                    "differs"
                };
                failures.push(format!("{name} {field} {what}"));
            }
        }
        if ours
            .iter()
            .any(|(f, v)| expected.get(f) != Some(v) && !known_gap(&name, f))
        {
            let failed = corpus_dir().join(format!("{name}.failed"));
            std::fs::write(&failed, write_fields(&ours)).expect("write .failed");
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {compared} values differ from Dovecot's (see *.failed beside the \
         fixtures): {failures:?}",
        failures.len()
    );
}

/// Run the real doveadm on `home` with the caching config.
fn oracle(home: &common::MailHome, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    oracle_conf(home, ORACLE_CONF, args, stdin)
}

/// Run the real doveadm with `conf` added to the caching config.
fn oracle_with(home: &common::MailHome, conf: &str, args: &[&str]) -> Vec<u8> {
    oracle_conf(home, &format!("{ORACLE_CONF}\n{conf}"), args, b"")
}

fn oracle_conf(home: &common::MailHome, conf: &str, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::Stdio;

    let mut child = Command::new(common::repo_dir().join("compat/doveadm"))
        .arg(home.path())
        .arg(home.location())
        .args(args)
        .env("ORACLE_CONF_EXTRA", conf)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run compat/doveadm");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait for doveadm");
    assert!(
        out.status.success(),
        "doveadm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Split `doveadm -f pager fetch` output into one field map per mail.
fn parse_pager(output: &[u8], names: &[&str]) -> Vec<Fields> {
    let text = output.strip_suffix(b"\n").unwrap_or(output);
    text.split(|&c| c == b'\x0c')
        .map(|record| {
            let record = record.strip_prefix(b"\n").unwrap_or(record);
            let mut fields = Fields::new();
            let mut rest = record;
            for (i, name) in names.iter().enumerate() {
                let prefix = format!("{name}: ");
                rest = rest.strip_prefix(prefix.as_bytes()).expect("field name");
                let end = match names.get(i + 1) {
                    Some(next) => {
                        let marker = format!("\n{next}: ");
                        find(rest, marker.as_bytes()).expect("next field")
                    }
                    None => rest.strip_suffix(b"\n").unwrap_or(rest).len(),
                };
                fields.insert(name.to_string(), rest[..end].to_vec());
                rest = &rest[(end + 1).min(rest.len())..];
            }
            fields
        })
        .collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `mime.parts` of each uid, from `doveadm dump` of the index.
fn dumped_mime_parts(dump: &str) -> BTreeMap<u32, Vec<u8>> {
    let mut parts = BTreeMap::new();
    let mut uid = 0;
    for line in dump.lines() {
        if let Some(rest) = line.strip_prefix("RECORD: seq=") {
            let u = rest.split("uid=").nth(1).expect("uid=");
            uid = u.split(',').next().unwrap().trim().parse().expect("uid");
        } else if let Some(rest) = line.trim_start().strip_prefix("- mime.parts: (") {
            let hex = rest.split(')').next().unwrap();
            parts.insert(uid, hex.as_bytes().to_vec());
        }
    }
    parts
}

/// A Maildir with the messages put in its `new/` as they are (`doveadm
/// save` would rewrite their line ends), named `file_name(index)`.
fn deliver(
    corpus: &[(String, Vec<u8>)],
    file_name: impl Fn(usize) -> String,
) -> (common::MailHome, PathBuf) {
    let home = common::MailHome::new("maildir:{home}/Maildir");
    let maildir = home.path().join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("create Maildir");
    }
    for (i, (_, message)) in corpus.iter().enumerate() {
        std::fs::write(maildir.join("new").join(file_name(i)), message).expect("deliver");
    }
    (home, maildir)
}

/// Dovecot's fields for every corpus message. The messages are put in
/// the Maildir's `new/` as they are (`doveadm save` would rewrite their
/// line ends), named so that their GUID says which one they are.
fn dovecot_fields(corpus: &[(String, Vec<u8>)]) -> Vec<Fields> {
    let guid = |i: usize| format!("{}.M{i}P1.dovecot-rs", 1_000_000 + i);
    let (home, maildir) = deliver(corpus, guid);

    let names = [
        "uid",
        "guid",
        "imap.bodystructure",
        "imap.body",
        "body.snippet",
    ];
    let names = [&names[..], &["size.physical", "size.virtual"]].concat();
    let query = names.join(" ");
    let out = oracle(&home, &["-f", "pager", "fetch", &query, "all"], b"");
    let records = parse_pager(&out, &names);
    assert_eq!(records.len(), corpus.len(), "one record per delivered mail");

    let dump = oracle(
        &home,
        &["dump", "-t", "index", maildir.to_str().unwrap()],
        b"",
    );
    let mut mime_parts = dumped_mime_parts(&String::from_utf8_lossy(&dump));
    let mut by_guid: BTreeMap<Vec<u8>, Fields> = BTreeMap::new();
    for mut record in records {
        let uid: u32 = String::from_utf8_lossy(&record["uid"])
            .parse()
            .expect("uid");
        record.remove("uid");
        let parts = mime_parts.remove(&uid).unwrap_or_default();
        record.insert("mime.parts".into(), parts);
        by_guid.insert(record.remove("guid").expect("guid"), record);
    }
    (0..corpus.len())
        .map(|i| {
            by_guid
                .remove(guid(i).as_bytes())
                .expect("record for each mail")
        })
        .collect()
}

/// The committed `.dovecot` files are what the installed Dovecot says
/// (with DOVECOT_RS_BLESS=1, rewrite them).
#[test]
fn dovecot_fixtures_are_current() {
    require_dovecot!();
    let corpus = corpus();
    let records = dovecot_fields(&corpus);
    let bless = std::env::var_os("DOVECOT_RS_BLESS").is_some();
    for ((name, _), fields) in corpus.iter().zip(&records) {
        let path = corpus_dir().join(format!("{name}.dovecot"));
        let text = write_fields(fields);
        if bless {
            std::fs::write(&path, &text).expect("write fixture");
            continue;
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        common::assert_same_output(
            &String::from_utf8_lossy(&text),
            &String::from_utf8_lossy(&committed),
            &format!("fixture {name}"),
        );
    }
}

fn unhex(hex: &[u8]) -> Vec<u8> {
    hex.chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// Dovecot's `mime.parts` reads back into the tree we parse (less the
/// line counts the format leaves out) and writes back byte for byte.
fn check_deserialize(name: &str, message: &[u8], dovecot_hex: &[u8]) {
    let bytes = unhex(dovecot_hex);
    let theirs = message_part_serialize::deserialize(&bytes)
        .unwrap_or_else(|e| panic!("{name}: Dovecot's mime.parts: {e}"));
    assert_eq!(message_part_serialize::serialize(&theirs), bytes, "{name}");

    let ours = MessageParser::parse(message, ParserSettings::for_mail());
    if ours.len() != theirs.len() {
        return; // reported by the field comparison
    }
    for (a, b) in ours.as_slice().iter().zip(theirs.as_slice()) {
        let mut a = *a;
        a.header_size.lines = 0;
        if !has_line_count(a.flags.bits()) {
            a.body_size.lines = 0;
        }
        assert_eq!(&a, b, "{name}: part read back from Dovecot's mime.parts");
    }
}

fn has_line_count(flags: u32) -> bool {
    flags & (0x08 | 0x04) != 0
}

#[test]
fn mime_parts_errors_are_dovecots() {
    use dovecot_rs::mail::message_part_serialize::deserialize;
    // The record of "mixed" from Dovecot, then damaged.
    let fixture = std::fs::read(corpus_dir().join("mixed.dovecot")).unwrap();
    let good = unhex(&read_fields(&fixture)["mime.parts"]);
    assert!(deserialize(&good).is_ok());

    let reason = |bytes: &[u8]| deserialize(bytes).unwrap_err().reason;
    assert_eq!(reason(&good[..good.len() - 1]), "Not enough data");
    assert_eq!(reason(&[&good[..], &[0]].concat()), "Too much data");
    assert_eq!(reason(&[]), "Not enough data");

    // The root's header virtual size (offset 12) made smaller than its
    // physical size.
    let mut bad = good.clone();
    bad[12..20].copy_from_slice(&1u64.to_ne_bytes());
    assert_eq!(reason(&bad), "header_size.virtual_size too small");

    // The root's child count (offset 36) raised past its children.
    let mut bad = good.clone();
    bad[36..40].copy_from_slice(&u32::MAX.to_ne_bytes());
    assert_eq!(reason(&bad), "Not enough data");
}

// ---- Hostile input: no panic, bounded work, sizes that add up.

use dovecot_rs::mail::message_part::MessageParts;

/// Sizes add up to the message, children lie inside their parents, the
/// tree survives a trip through `mime.parts`, and BODYSTRUCTURE, BODY
/// and the snippet can be made.
fn check_invariants(message: &[u8], parts: &MessageParts) {
    let structure = MessageStructure::parse(message);
    assert_eq!(&structure.parts, parts);
    for extended in [true, false] {
        let written = structure.write(extended).expect("bodystructure");
        assert!(!written.is_empty());
    }
    let snippet = message_snippet::mail_body_snippet(message, &structure);
    assert!(std::str::from_utf8(&snippet).is_ok(), "snippet is UTF-8");

    let root = parts.root();
    let total = root.header_size.physical_size + root.body_size.physical_size;
    assert_eq!(total, message.len() as u64);
    for (idx, part) in parts.as_slice().iter().enumerate() {
        assert!(part.header_size.virtual_size >= part.header_size.physical_size);
        assert!(part.body_size.virtual_size >= part.body_size.physical_size);
        let end = part.physical_pos + part.header_size.physical_size + part.body_size.physical_size;
        assert!(end <= message.len() as u64);
        for child in parts.children(idx) {
            let c = &parts.as_slice()[child];
            assert_eq!(c.parent, Some(idx));
            assert!(c.physical_pos >= part.physical_pos + part.header_size.physical_size);
            let c_end = c.physical_pos + c.header_size.physical_size + c.body_size.physical_size;
            assert!(c_end <= end);
        }
    }
    let bytes = message_part_serialize::serialize(parts);
    let back = message_part_serialize::deserialize(&bytes).expect("round trip");
    assert_eq!(message_part_serialize::serialize(&back), bytes);
}

fn parse_all(message: &[u8]) -> MessageParts {
    MessageParser::parse(message, ParserSettings::for_mail())
}

#[test]
fn ten_megabyte_header_line() {
    let mut message = b"Subject: ".to_vec();
    message.resize(10 * 1024 * 1024, b'x');
    message.extend_from_slice(b"\n\nbody\n");
    let parts = parse_all(&message);
    check_invariants(&message, &parts);
    assert_eq!(parts.root().header_size.lines, 2);
}

fn ten_thousand_nested_multiparts() -> Vec<u8> {
    let mut message = b"MIME-Version: 1.0\n".to_vec();
    for i in 0..10_000 {
        let header = format!("Content-Type: multipart/mixed; boundary=\"n{i}\"\n\n--n{i}\n");
        message.extend_from_slice(header.as_bytes());
    }
    message.extend_from_slice(b"\nend\n");
    message
}

/// 10,050 small parts: past Dovecot's limit of 10,000.
fn too_many_parts() -> Vec<u8> {
    let mut message = b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=x\n\n".to_vec();
    for _ in 0..10_050 {
        message.extend_from_slice(b"--x\n\np\n");
    }
    message.extend_from_slice(b"--x--\n");
    message
}

fn depth(parts: &MessageParts, mut idx: usize) -> usize {
    let mut depth = 0;
    while let Some(parent) = parts.as_slice()[idx].parent {
        idx = parent;
        depth += 1;
    }
    depth
}

#[test]
fn huge_trees_stay_within_dovecots_limits() {
    let deep = ten_thousand_nested_multiparts();
    let parts = parse_all(&deep);
    check_invariants(&deep, &parts);
    let deepest = (0..parts.len()).map(|i| depth(&parts, i)).max().unwrap();
    assert!(deepest < 100, "nesting limit");

    let wide = too_many_parts();
    let parts = parse_all(&wide);
    check_invariants(&wide, &parts);
    assert_eq!(parts.len(), 10_000, "total part limit");
}

/// Headers past the 10 MB a header block may have: the value reaching
/// the limit is cut, later ones are empty (`m1` and `m2`), and a folded
/// header is cut in its continuation (`m3`).
fn over_header_limit() -> Vec<(String, Vec<u8>)> {
    let limit = 10 * 1024 * 1024;
    let big = |n: usize| [b"X-Big: ".to_vec(), vec![b'x'; n], b"\n".to_vec()].concat();
    let mime = b"MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n".to_vec();
    let rest = b"Content-Description: ABCDEFGHIJKLMNOPQRSTUVWXYZ\n\
        Content-Disposition: attachment; filename=a\nContent-Language: en\n\n<b>body</b>\n";
    let m1 = [big(limit - 60), mime.clone(), rest.to_vec()].concat();
    let m2 = [mime.clone(), big(limit + 100), rest.to_vec()].concat();
    let folded = b"Content-Description: first\n second line that is cut\n";
    let m3 = [mime, big(limit - 40), folded.to_vec(), rest.to_vec()].concat();
    vec![("m1".into(), m1), ("m2".into(), m2), ("m3".into(), m3)]
}

/// The same generated messages through the real Dovecot.
#[test]
fn huge_messages_match_dovecot() {
    require_dovecot!();
    let mut messages = vec![
        ("deep".to_string(), ten_thousand_nested_multiparts()),
        ("wide".to_string(), too_many_parts()),
    ];
    messages.extend(over_header_limit());
    let records = dovecot_fields(&messages);
    for ((name, message), theirs) in messages.iter().zip(&records) {
        let ours = our_fields(message);
        for (field, value) in &ours {
            if field == "mime.parts" && theirs[field].is_empty() {
                // Too big for a cache record (mail_cache_record_max_size).
                continue;
            }
            common::assert_same_output(
                &String::from_utf8_lossy(value),
                &String::from_utf8_lossy(&theirs[field]),
                &format!("{name} {field}"),
            );
        }
    }
}

#[test]
fn truncated_messages_still_parse() {
    for (name, message) in corpus() {
        for cut in [1, 2, 10, message.len() / 2, message.len().saturating_sub(1)] {
            let short = &message[..cut.min(message.len())];
            let parts = parse_all(short);
            check_invariants(short, &parts);
            let _ = name;
        }
    }
}

mod random {
    use super::*;
    use proptest::prelude::*;

    /// Pieces that steer the parser into its interesting states.
    fn fragment() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"MIME-Version: 1.0\n".to_vec()),
            Just(b"Content-Type: multipart/mixed; boundary=b\n".to_vec()),
            Just(b"Content-Type: multipart/digest; boundary=\"b2\"\r\n".to_vec()),
            Just(b"Content-Type: message/rfc822\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"--b\n".to_vec()),
            Just(b"--b--\n".to_vec()),
            Just(b"--b2\r\n".to_vec()),
            Just(b" folded\n".to_vec()),
            Just(b"\0".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..20),
        ]
    }

    proptest! {
        #[test]
        fn random_bytes_parse(message in proptest::collection::vec(any::<u8>(), 0..400)) {
            check_invariants(&message, &parse_all(&message));
        }

        #[test]
        fn random_mime_parse(pieces in proptest::collection::vec(fragment(), 0..40)) {
            let message = pieces.concat();
            check_invariants(&message, &parse_all(&message));
        }

        #[test]
        fn random_mime_parts_do_not_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = message_part_serialize::deserialize(&bytes);
        }
    }
}

// ---- Decoders, against their RFCs.

#[test]
fn base64_rfc4648_vectors() {
    use dovecot_rs::mail::base64::decode;
    // RFC 4648 section 10.
    let vectors: [(&[u8], &[u8]); 7] = [
        (b"", b""),
        (b"Zg==", b"f"),
        (b"Zm8=", b"fo"),
        (b"Zm9v", b"foo"),
        (b"Zm9vYg==", b"foob"),
        (b"Zm9vYmE=", b"fooba"),
        (b"Zm9vYmFy", b"foobar"),
    ];
    for (encoded, decoded) in vectors {
        assert_eq!(decode(encoded), decoded);
    }
    // RFC 2045 6.8: line breaks and other whitespace are ignored.
    assert_eq!(decode(b"Zm9v\r\nYmFy\r\n"), b"foobar");
}

#[test]
fn quoted_printable_rfc2045() {
    use dovecot_rs::mail::quoted_printable::decode;
    // RFC 2045 6.7: =XX escapes, soft line breaks, trailing whitespace
    // removed; line ends come out as CRLF (Dovecot's canonical form).
    assert_eq!(decode(b"a=3Db=\r\nc  \r\nd\n"), b"a=bc\r\nd\r\n");
    assert_eq!(decode(b"caf=E9"), b"caf\xe9");
}

/// lib-storage's quick counters agree with the sizes Dovecot's parser
/// stored in `mime.parts` wherever the two count the same thing: the
/// header up to the empty line, and the body's bytes.
#[test]
fn quick_sizes_match_dovecots_parts() {
    use dovecot_rs::mail::message_size::{body_size, header_size};
    let mut compared = 0;
    for (name, message) in corpus() {
        let fixture = std::fs::read(corpus_dir().join(format!("{name}.dovecot"))).unwrap();
        let parts =
            message_part_serialize::deserialize(&unhex(&read_fields(&fixture)["mime.parts"]))
                .expect("Dovecot's mime.parts");
        let root = parts.root();
        let (hdr, _) = header_size(&message);
        if hdr.physical_size != root.header_size.physical_size {
            // No empty line: the parser's header ends elsewhere.
            continue;
        }
        assert_eq!(hdr.virtual_size, root.header_size.virtual_size, "{name}");
        let (body, _) = body_size(&message[hdr.physical_size as usize..]);
        assert_eq!(body.physical_size, root.body_size.physical_size, "{name}");
        assert_eq!(body.virtual_size, root.body_size.virtual_size, "{name}");
        compared += 1;
    }
    assert!(compared > 100, "only {compared} messages compared");
}

/// `skip_virtual` lands where the CRLF form of the prefix has the asked
/// length, or between the virtual CR and its LF.
#[test]
fn skip_virtual_inverts_the_crlf_length() {
    use dovecot_rs::mail::message_size::skip_virtual;
    let crlf_len = |data: &[u8]| {
        let bare_lfs = (0..data.len())
            .filter(|&i| data[i] == b'\n' && (i == 0 || data[i - 1] != b'\r'))
            .count();
        (data.len() + bare_lfs) as u64
    };
    for (name, message) in corpus().into_iter().take(40) {
        let total = crlf_len(&message);
        for skip in 0..=total.min(300) {
            let (pos, last_cr) = skip_virtual(&message, skip);
            let at_bare_lf =
                message.get(pos) == Some(&b'\n') && (pos == 0 || message[pos - 1] != b'\r');
            let reached = crlf_len(&message[..pos]) + u64::from(last_cr && at_bare_lf);
            assert_eq!(reached, skip, "{name} at {skip}");
        }
    }
}

// ---- SEARCH BODY and TEXT without an index, against doveadm search.

use dovecot_rs::mail::message_search::{SearchFlags, message_search};

/// Keys searched for in the corpus, with BODY and with TEXT.
const SEARCH_KEYS: &[&str] = &[
    "hello",
    "HELLO",
    "world.",
    "café",
    "CAFE",
    "é",
    "crème brûlée",
    "€",
    "euro",
    "soft",
    "softbreak",
    "=3D",
    "equals",
    "Hello world!",
    "SGVsbG8",
    "AAEC",
    "<b>",
    "bold",
    "&amp;",
    "script",
    "first body",
    "inner",
    "explicit text",
    "subject",
    "subject: hello",
    "content-type",
    "text/plain",
    "boundary",
    "encoded subject",
    "=?utf-8?q",
    "joe@example.com",
    "ABCDEFGH",
    "quoted line",
    "\u{fffd}",
    "nul",
    "with nul",
    "bad =ZZ",
    "trailing spaces",
    "not decoded",
    "shown",
    "not shown",
    "eight",
    "part\r\n",
    "\r\nbody",
    "folded location",
    "flowed",
    "x-my.type",
    "ä",
    "Ä",
    "LLLL",
];

/// `KIND KEY: name name...`, one line of `search.dovecot`.
fn search_line(out: &mut Vec<u8>, kind: &str, key: &str, mut hits: Vec<&str>) {
    hits.sort();
    out.extend_from_slice(&escape(format!("{kind} {key}:").as_bytes()));
    for name in hits {
        out.extend_from_slice(format!(" {name}").as_bytes());
    }
    out.push(b'\n');
}

fn our_search_results(corpus: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for kind in ["body", "text"] {
        let flags = SearchFlags {
            skip_headers: kind == "body",
        };
        for key in SEARCH_KEYS {
            let hits = corpus
                .iter()
                .filter(|(_, message)| message_search(message, key, flags))
                .map(|(name, _)| name.as_str())
                .collect();
            search_line(&mut out, kind, key, hits);
        }
    }
    out
}

#[test]
fn search_matches_dovecot_fixture() {
    let expected = std::fs::read(corpus_dir().join("search.dovecot")).expect("search fixture");
    let ours = our_search_results(&corpus());
    common::assert_same_output(
        &String::from_utf8_lossy(&ours),
        &String::from_utf8_lossy(&expected),
        "search",
    );
}

/// `search.dovecot` is what `doveadm search body/text KEY` finds (with
/// DOVECOT_RS_BLESS=1, rewrite it).
#[test]
fn search_fixture_is_current() {
    require_dovecot!();
    let corpus = corpus();
    let (home, _) = deliver(&corpus, |i| {
        format!("{}.M{i}P1.{}", 1_000_000 + i, corpus[i].0)
    });
    let out = oracle(&home, &["-f", "tab", "fetch", "uid guid", "all"], b"");
    let names: BTreeMap<String, String> = String::from_utf8_lossy(&out)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once('\t'))
        .map(|(uid, guid)| {
            (
                uid.to_string(),
                guid.rsplit('.').next().unwrap().to_string(),
            )
        })
        .collect();

    let mut text = Vec::new();
    for kind in ["body", "text"] {
        for key in SEARCH_KEYS {
            let found = oracle(&home, &["search", kind, key], b"");
            let found = String::from_utf8_lossy(&found);
            let hits = found
                .lines()
                .filter_map(|l| l.split_whitespace().nth(1))
                .map(|uid| names[uid].as_str())
                .collect();
            search_line(&mut text, kind, key, hits);
        }
    }
    let path = corpus_dir().join("search.dovecot");
    if std::env::var_os("DOVECOT_RS_BLESS").is_some() {
        std::fs::write(&path, &text).expect("write search fixture");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    common::assert_same_output(
        &String::from_utf8_lossy(&text),
        &String::from_utf8_lossy(&committed),
        "search fixture",
    );
}

// ---- $HasAttachment, against Dovecot's attachment detection.

use dovecot_rs::mail::message_part_data::AttachmentSettings;

/// `mail_attachment_detection_options` values tried.
const ATTACHMENT_OPTIONS: &[&str] = &[
    "add-flags",
    "add-flags exclude-inlined",
    "add-flags content-type=!application/* content-type=application/pgp-signature",
];

fn attachment_settings(options: &str) -> AttachmentSettings {
    let words: Vec<&str> = options.split_whitespace().collect();
    let filter = words
        .iter()
        .filter_map(|w| w.strip_prefix("content-type="))
        .map(|t| t.as_bytes().to_vec())
        .collect();
    AttachmentSettings {
        content_type_filter: Some(filter),
        exclude_inlined: words.contains(&"exclude-inlined"),
    }
}

fn attachment_line(out: &mut String, options: &str, mut names: Vec<&str>) {
    names.sort();
    out.push_str(&format!("{options}:"));
    for name in names {
        out.push_str(&format!(" {name}"));
    }
    out.push('\n');
}

#[test]
fn attachments_match_dovecot_fixture() {
    let corpus = corpus();
    let mut ours = String::new();
    for options in ATTACHMENT_OPTIONS {
        let settings = attachment_settings(options);
        let names = corpus
            .iter()
            .filter(|(_, m)| MessageStructure::parse(m).has_attachment(&settings))
            .map(|(name, _)| name.as_str())
            .collect();
        attachment_line(&mut ours, options, names);
    }
    let expected = std::fs::read(corpus_dir().join("attachments.dovecot")).expect("fixture");
    common::assert_same_output(&ours, &String::from_utf8_lossy(&expected), "attachments");
}

/// `attachments.dovecot` is which mails Dovecot flags `$HasAttachment`
/// (with DOVECOT_RS_BLESS=1, rewrite it).
#[test]
fn attachment_fixture_is_current() {
    require_dovecot!();
    let corpus = corpus();
    let mut text = String::new();
    for options in ATTACHMENT_OPTIONS {
        let file_name = |i: usize| format!("{}.M{i}P1.{}", 1_000_000 + i, corpus[i].0);
        let (home, _) = deliver(&corpus, file_name);
        let conf = format!("mail_attachment_detection_options = {options}");
        let fetch = ["-f", "tab", "fetch", "guid imap.bodystructure flags", "all"];
        let out = oracle_with(&home, &conf, &fetch);
        let out = String::from_utf8_lossy(&out);
        let names = out
            .lines()
            .skip(1)
            .filter(|l| l.ends_with("$HasAttachment"))
            .filter_map(|l| l.split('\t').next()?.split('.').nth(2))
            .collect();
        attachment_line(&mut text, options, names);
    }
    let path = corpus_dir().join("attachments.dovecot");
    if std::env::var_os("DOVECOT_RS_BLESS").is_some() {
        std::fs::write(&path, &text).expect("write fixture");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    common::assert_same_output(
        &text,
        &String::from_utf8_lossy(&committed),
        "attachments fixture",
    );
}
