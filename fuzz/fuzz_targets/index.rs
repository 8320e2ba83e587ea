//! dovecot.index: whatever decodes encodes to bytes that decode to the same
//! value. (Files Dovecot writes round-trip byte for byte, which the
//! fixture tests check; padding bytes are written as zeros, as Dovecot
//! writes them, so arbitrary input need not.) Opening the input as an
//! index with a real transaction log, and dumping it, never panics.
#![no_main]

use dovecot_rs::doveadm::dump_index::write_dump;
use dovecot_rs::index::format::index::IndexFile;
use dovecot_rs::index::map::{IndexFiles, open_index};
use libfuzzer_sys::fuzz_target;

/// The log a fixture index was written with.
const LOG: &[u8] = include_bytes!("../../tests/fixtures/index/maildir-index/dovecot.index.log");

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = IndexFile::decode(data) {
        let encoded = file.encode();
        let again = IndexFile::decode(&encoded).expect("our own encoding decodes");
        assert_eq!(again, file, "decode(encode(x)) differs from x");
    }

    let files = IndexFiles {
        index: Some(data.to_vec()),
        log: Some(LOG.to_vec()),
        log2: None,
    };
    if let Ok(opened) = open_index(&files) {
        let mut out = Vec::new();
        write_dump(&mut out, "fuzz/dovecot.index", &opened, None, 0).unwrap();
        let _ = opened.map.to_file().encode();
    }
});
