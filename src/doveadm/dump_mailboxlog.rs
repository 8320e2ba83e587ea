//! `doveadm dump -t mailboxlog`: the records of `dovecot.mailbox.log`
//! (doveadm-dump-mailboxlog.c, the format of lib-storage's
//! mailbox-log.c).
//!
//! The file is a plain array of 24-byte records: a type byte, three
//! zero bytes, the mailbox (or directory) GUID and a big-endian UNIX
//! timestamp. Writing and iterating it for mailbox list sync is
//! lib-storage's job and not here.

use std::io::{Read, Write};
use std::path::Path;

use super::date::unixdate2str;
use super::dump::{DumpError, DumpResult, Dumper};

pub const DUMPER: Dumper = Dumper {
    name: "mailboxlog",
    test: is_mailbox_log,
    dump: dump_mailbox_log,
};

/// `sizeof(struct mailbox_log_record)`.
const RECORD_SIZE: usize = 24;

/// `enum mailbox_log_record_type`, from 1; other values print no name.
const TYPE_NAMES: [&str; 6] = [
    "delete-mailbox",
    "delete-dir",
    "rename",
    "subscribe",
    "unsubscribe",
    "create-dir",
];

fn type_name(kind: u8) -> &'static str {
    usize::from(kind)
        .checked_sub(1)
        .and_then(|i| TYPE_NAMES.get(i))
        .copied()
        .unwrap_or("")
}

/// doveadm's test: a name ending in `.log` whose first record has zero
/// padding and a known type.
fn is_mailbox_log(path: &Path) -> bool {
    let is_log = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.rfind('.').map(|dot| &n[dot..] == ".log"))
        .unwrap_or(false);
    if !is_log {
        return false;
    }

    let mut first = [0u8; RECORD_SIZE];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut first));
    read.is_ok() && first[1..4] == [0, 0, 0] && !type_name(first[0]).is_empty()
}

/// cmd_dump_mailboxlog: one line per record; a cut record ends the dump
/// with doveadm's fatal error, after the whole records are printed.
fn dump_mailbox_log(path: &Path, _args: &[String], out: &mut dyn Write) -> DumpResult {
    let data = read_all(path)?;
    for (i, rec) in data.chunks(RECORD_SIZE).enumerate() {
        if rec.len() != RECORD_SIZE {
            let msg = format!("rec read() {} != {RECORD_SIZE}", rec.len());
            return Err(DumpError::fatal(msg));
        }
        writeln!(out, "{}", record_line(i * RECORD_SIZE, rec))?;
    }
    Ok(())
}

/// `#OFFSET: TYPE GUID (DATE)`.
fn record_line(offset: usize, rec: &[u8]) -> String {
    let guid = crate::util::hex::binary_to_hex(&rec[4..20]);
    let stamp = u32::from_be_bytes([rec[20], rec[21], rec[22], rec[23]]);
    let date = unixdate2str(i64::from(stamp));
    format!("#{offset}: {} {guid} ({date})", type_name(rec[0]))
}

/// The file's bytes, or doveadm's errors: a failed open, or a read that
/// fails at once (a directory), which doveadm prints as `(size_t)-1`.
fn read_all(path: &Path) -> Result<Vec<u8>, DumpError> {
    let mut file = std::fs::File::open(path).map_err(|e| {
        DumpError::fatal(format!("open({}) failed: {}", path.display(), strerror(&e)))
    })?;
    let mut data = Vec::new();
    match file.read_to_end(&mut data) {
        Ok(_) => Ok(data),
        Err(_) => Err(DumpError::fatal(format!(
            "rec read() {} != {RECORD_SIZE}",
            usize::MAX
        ))),
    }
}

/// The error's text without Rust's ` (os error N)`, as `%m` prints it.
fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    text.split(" (os error").next().unwrap_or(&text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_line_names_type_and_guid() {
        // A record and its line from `doveadm dump` of a real Maildir
        // (TZ=UTC).
        let mut rec = vec![3, 0, 0, 0];
        rec.extend_from_slice(&[
            0xd7, 0xd3, 0x21, 0xcd, 0x8f, 0x85, 0x2d, 0xd8, 0x40, 0x37, 0xaa, 0xd1, 0x17, 0x40,
            0x0f, 0x65,
        ]);
        rec.extend_from_slice(&1796323727u32.to_be_bytes());
        let line = record_line(0, &rec);
        let want = "#0: rename d7d321cd8f852dd84037aad117400f65 (";
        assert!(line.starts_with(want), "{line}");
        assert_eq!(type_name(0), "");
        assert_eq!(type_name(7), "");
    }
}
