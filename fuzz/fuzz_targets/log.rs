//! dovecot.index.log: whatever decodes encodes to bytes that decode to
//! the same header and records, and the log dump never panics.
//!
//! Files Dovecot writes round-trip byte for byte, which the fixture tests
//! check. Arbitrary input need not: padding inside a record (bytes after
//! the last ext intro, bytes after a name) is written back as zeros and
//! only as long as alignment needs, as Dovecot writes it, so record
//! offsets may move. The records themselves must not change.
#![no_main]

use dovecot_rs::doveadm::dump_log::dump_log;
use dovecot_rs::index::format::log::{LogFile, LogRecord};
use libfuzzer_sys::fuzz_target;

fn contents(file: &LogFile) -> Vec<(&LogRecord, u64)> {
    file.records.iter().map(|r| (r, r.offset)).collect()
}

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let _ = dump_log(data, &mut out);

    let Ok(file) = LogFile::decode(data) else {
        return;
    };
    let encoded = file.encode().expect("a decoded file encodes");
    let mut again = LogFile::decode(&encoded).expect("our own encoding decodes");
    assert_eq!(again.header, file.header);
    assert_eq!(again.records.len(), file.records.len());

    // Compare everything but the positions.
    for (ours, (theirs, offset)) in again.records.iter_mut().zip(contents(&file)) {
        ours.offset = offset;
        assert_eq!(&*ours, theirs, "record at {offset} changed");
    }
});
