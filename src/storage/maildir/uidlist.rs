//! `dovecot-uidlist` (maildir-uidlist.c): the UID of every Maildir file.
//!
//! Version 3, which Dovecot 2.x writes:
//!
//! ```text
//! 3 V<uidvalidity> N<next uid> G<mailbox guid hex>[ <other header fields>]
//! <uid>[ <key><value>...] :<file name without its :2, part>
//! ```
//!
//! Record fields are an upper-case key and a value (`S` physical size,
//! `W` virtual size, `G` GUID, `P` POP3 UIDL, `O` POP3 order); unknown
//! ones are kept. Version 1 (`1 <uidvalidity> <next uid>`, records
//! `<uid> <file name>`) is read too.
//!
//! Reading follows Dovecot: a file it would call corrupted is an error
//! naming the line and byte offset; a record field with an invalid key is
//! dropped with a warning, as Dovecot drops it.

use std::fmt;

/// The version Dovecot writes (`UIDLIST_VERSION`).
pub const VERSION: u8 = 3;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} (offset {offset}): {reason}")]
pub struct UidlistError {
    pub line: usize,
    pub offset: usize,
    pub reason: String,
}

/// One header or record field: an ASCII key letter and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub key: u8,
    pub value: Vec<u8>,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}",
            self.key as char,
            String::from_utf8_lossy(&self.value)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidlistRecord {
    pub uid: u32,
    pub fields: Vec<Field>,
    /// The file's base name (no `:2,` info part in version 3).
    pub filename: Vec<u8>,
}

impl UidlistRecord {
    pub fn field(&self, key: u8) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| f.key == key)
            .map(|f| f.value.as_slice())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uidlist {
    pub version: u8,
    pub uid_validity: u32,
    pub next_uid: u32,
    /// The mailbox GUID, from the `G` header field.
    pub guid: Option<[u8; 16]>,
    /// Header fields other than V, N and G, in file order.
    pub header_fields: Vec<Field>,
    pub records: Vec<UidlistRecord>,
}

impl Uidlist {
    pub fn parse(data: &[u8]) -> Result<Uidlist, UidlistError> {
        let mut lines = Lines::new(data);
        let (no, at, first) = lines.next().ok_or_else(|| error(1, 0, "empty file"))?;
        let mut list = parse_header(first).map_err(|r| error(no, at, r))?;

        let mut prev_uid = 0;
        for (no, at, line) in lines {
            let rec = parse_record(line, list.version).map_err(|r| error(no, at, r))?;
            check_uid(&rec, prev_uid, &list).map_err(|r| error(no, at, r))?;
            prev_uid = rec.uid;
            list.records.push(rec);
        }
        Ok(list)
    }

    /// The file as Dovecot writes it (always version 3).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!("{VERSION} V{} N{}", self.uid_validity, self.next_uid);
        if let Some(guid) = &self.guid {
            out.push_str(" G");
            out.push_str(&crate::util::hex::binary_to_hex(guid));
        }
        for field in &self.header_fields {
            out.push_str(&format!(" {field}"));
        }
        out.push('\n');

        let mut out = out.into_bytes();
        for rec in &self.records {
            out.extend_from_slice(rec.uid.to_string().as_bytes());
            for field in &rec.fields {
                out.push(b' ');
                out.push(field.key);
                out.extend_from_slice(&field.value);
            }
            out.extend_from_slice(b" :");
            out.extend_from_slice(super::filename::base(&rec.filename));
            out.push(b'\n');
        }
        out
    }

    pub fn lookup_uid(&self, uid: u32) -> Option<&UidlistRecord> {
        let idx = self.records.binary_search_by_key(&uid, |r| r.uid).ok()?;
        self.records.get(idx)
    }
}

fn error(line: usize, offset: usize, reason: impl Into<String>) -> UidlistError {
    UidlistError {
        line,
        offset,
        reason: reason.into(),
    }
}

/// Non-empty lines with their 1-based number and byte offset.
struct Lines<'a> {
    data: &'a [u8],
    pos: usize,
    no: usize,
}

impl<'a> Lines<'a> {
    fn new(data: &'a [u8]) -> Self {
        Lines {
            data,
            pos: 0,
            no: 0,
        }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, usize, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        while self.pos < self.data.len() {
            let start = self.pos;
            let rest = &self.data[start..];
            let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            self.pos = start + len + 1;
            self.no += 1;
            if len > 0 {
                return Some((self.no, start, &rest[..len]));
            }
        }
        None
    }
}

fn parse_u32(digits: &[u8], what: &str) -> Result<u32, String> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("Invalid {what}: {}", String::from_utf8_lossy(digits)))
}

fn parse_header(line: &[u8]) -> Result<Uidlist, String> {
    let (version, rest) = match line {
        [v @ b'0'..=b'9', b' ', rest @ ..] => (v - b'0', rest),
        _ => return Err("Corrupted header (invalid version number)".into()),
    };
    let mut list = Uidlist {
        version,
        uid_validity: 0,
        next_uid: 0,
        guid: None,
        header_fields: Vec::new(),
        records: Vec::new(),
    };

    match version {
        1 => parse_v1_header(rest, &mut list)?,
        VERSION => parse_v3_header(rest, &mut list)?,
        _ => return Err(format!("Unsupported version {version}")),
    }
    if list.uid_validity == 0 || list.next_uid == 0 {
        return Err(format!(
            "Broken header (uidvalidity = {}, next_uid={})",
            list.uid_validity, list.next_uid
        ));
    }
    Ok(list)
}

fn parse_v1_header(rest: &[u8], list: &mut Uidlist) -> Result<(), String> {
    let mut words = rest.split(|&c| c == b' ').filter(|w| !w.is_empty());
    let (Some(v), Some(n)) = (words.next(), words.next()) else {
        return Err("Corrupted header (version 1)".into());
    };
    list.uid_validity = parse_u32(v, "mailbox UID_VALIDITY")?;
    list.next_uid = parse_u32(n, "mailbox NEXT_UID")?;
    Ok(())
}

fn parse_v3_header(rest: &[u8], list: &mut Uidlist) -> Result<(), String> {
    for word in rest.split(|&c| c == b' ').filter(|w| !w.is_empty()) {
        let (key, value) = (word[0], &word[1..]);
        match key {
            b'V' => list.uid_validity = parse_u32(value, "mailbox UID_VALIDITY")?,
            b'N' => list.next_uid = parse_u32(value, "mailbox NEXT_UID")?,
            b'G' => list.guid = Some(parse_guid(value)?),
            _ => list.header_fields.push(Field {
                key,
                value: value.to_vec(),
            }),
        }
    }
    Ok(())
}

fn parse_guid(hex: &[u8]) -> Result<[u8; 16], String> {
    let invalid = || format!("Invalid mailbox GUID: {}", String::from_utf8_lossy(hex));
    if hex.len() != 32 {
        return Err(invalid());
    }
    let mut guid = [0u8; 16];
    for (byte, pair) in guid.iter_mut().zip(hex.chunks_exact(2)) {
        let text = std::str::from_utf8(pair).map_err(|_| invalid())?;
        *byte = u8::from_str_radix(text, 16).map_err(|_| invalid())?;
    }
    Ok(guid)
}

fn parse_record(line: &[u8], version: u8) -> Result<UidlistRecord, String> {
    let digits = line.iter().take_while(|c| c.is_ascii_digit()).count();
    let uid = match line.get(digits) {
        Some(b' ') if digits > 0 => parse_u32(&line[..digits], "UID")?,
        _ => return Err(format!("Invalid data: {}", String::from_utf8_lossy(line))),
    };
    let mut rest = trim_spaces(&line[digits..]);

    let mut fields = Vec::new();
    if version == VERSION {
        rest = parse_fields(rest, &mut fields)?;
    }
    // A name starting with ':' has an empty base, which Dovecot would
    // write back as an empty name; refuse it here instead.
    if rest.contains(&b'/') || super::filename::base(rest).is_empty() {
        return Err(format!(
            "Broken filename: {}",
            String::from_utf8_lossy(rest)
        ));
    }
    Ok(UidlistRecord {
        uid,
        fields,
        filename: rest.to_vec(),
    })
}

/// Read `KEYvalue` fields up to the `:` that starts the file name;
/// returns the file name.
fn parse_fields<'a>(mut rest: &'a [u8], fields: &mut Vec<Field>) -> Result<&'a [u8], String> {
    while let Some(&first) = rest.first() {
        if first == b':' {
            rest = &rest[1..];
            break;
        }
        let end = rest.iter().position(|&c| c == b' ').unwrap_or(rest.len());
        let word = &rest[..end];
        if first.is_ascii_uppercase() {
            fields.push(Field {
                key: first,
                value: word[1..].to_vec(),
            });
        } else {
            log::warn!(
                "dovecot-uidlist: Invalid extension record, removing: {}",
                String::from_utf8_lossy(word)
            );
        }
        rest = trim_spaces(&rest[end..]);
    }
    if rest.is_empty() {
        return Err("Invalid extended fields: no file name".into());
    }
    Ok(rest)
}

fn trim_spaces(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| c == b' ').count();
    &s[n..]
}

fn check_uid(rec: &UidlistRecord, prev_uid: u32, list: &Uidlist) -> Result<(), String> {
    if rec.uid <= prev_uid {
        return Err(format!("UIDs not ordered ({} >= {prev_uid})", rec.uid));
    }
    if rec.uid == u32::MAX {
        return Err(format!("UID too high ({})", rec.uid));
    }
    if list.version == 1 && rec.uid >= list.next_uid {
        return Err(format!(
            "UID larger than next_uid ({} >= {})",
            rec.uid, list.next_uid
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The demo INBOX's dovecot-uidlist, as the real Dovecot wrote it.
    const DEMO: &[u8] = b"3 V1796321367 N7 G45b9c50c55b0116b7544000083ecc375\n\
        1 :1796321365.M703168P17549.vm,S=254,W=263\n\
        2 :1796321365.M829412P17560.vm,S=254,W=263\n";

    #[test]
    fn reads_and_writes_dovecots_file() {
        let list = Uidlist::parse(DEMO).unwrap();
        assert_eq!(
            (list.version, list.uid_validity, list.next_uid),
            (3, 1796321367, 7)
        );
        assert_eq!(list.guid.unwrap()[..2], [0x45, 0xb9]);
        assert_eq!(list.records[1].uid, 2);
        assert_eq!(
            list.records[1].filename,
            b"1796321365.M829412P17560.vm,S=254,W=263"
        );
        assert_eq!(list.encode(), DEMO);
    }

    #[test]
    fn record_fields_are_kept_and_bad_keys_dropped() {
        let text = b"3 V1 N5 Gffffffffffffffffffffffffffffffff X9\n\
            3 W40 S36 Gabc :name\n4 w1 :other\n";
        let list = Uidlist::parse(text).unwrap();
        assert_eq!(
            list.header_fields,
            vec![Field {
                key: b'X',
                value: b"9".to_vec()
            }]
        );
        assert_eq!(list.records[0].field(b'W'), Some(&b"40"[..]));
        assert_eq!(list.records[0].field(b'G'), Some(&b"abc"[..]));
        assert!(list.records[1].fields.is_empty());
        assert_eq!(list.lookup_uid(4).unwrap().filename, b"other");
    }

    #[test]
    fn corruption_names_the_line() {
        let cases: &[(&[u8], usize, &str)] = &[
            (b"", 1, "empty"),
            (b"x V1 N2\n", 1, "invalid version"),
            (b"2 V1 N2\n", 1, "Unsupported version 2"),
            (b"3 V0 N2\n", 1, "Broken header"),
            (b"3 V1 N2 Gzz\n", 1, "Invalid mailbox GUID"),
            (b"3 V1 N9\n5 :a\n5 :b\n", 3, "UIDs not ordered"),
            (b"3 V1 N9\n5 S1\n", 2, "no file name"),
            (b"3 V1 N9\nx :a\n", 2, "Invalid data"),
            (b"3 V1 N9\n1 :a/b\n", 2, "Broken filename"),
            (b"3 V1 N9\n1 ::a\n", 2, "Broken filename"),
            (b"1 5 3\n3 a\n", 2, "larger than next_uid"),
            (b"3 V1 N9\n99999999999 :a\n", 2, "Invalid UID"),
        ];
        for (text, line, reason) in cases {
            let err = Uidlist::parse(text).unwrap_err();
            assert_eq!(err.line, *line, "{err}");
            assert!(err.reason.contains(reason), "{err}");
        }
    }
}
