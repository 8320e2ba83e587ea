//! `dovecot.index.cache` from untrusted bytes: the strict and lenient
//! decoders must either fail or re-encode the input exactly, and
//! Dovecot's lookup path and the dump must never panic.
//!
//! Seed it with the real files: `tests/fixtures/cache/*/dovecot.index.cache`.
#![no_main]

use dovecot_rs::doveadm::dump_cache::CacheDump;
use dovecot_rs::index::format::cache::{CacheFile, CacheView};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = CacheFile::decode(data) {
        assert_eq!(file.encode(), data, "decode/encode round trip");
    }
    if let Ok(file) = CacheFile::decode_lenient(data) {
        assert_eq!(file.encode(), data, "lenient decode/encode round trip");
    }

    let Ok(view) = CacheView::open(data) else {
        return;
    };
    let (indexid, file_seq) = (view.header.indexid, view.header.file_seq);
    let mut dump = CacheDump::open(Some(data), indexid);
    let mut out = Vec::new();
    dump.write_header(&mut out).unwrap();
    // Every aligned offset as a message's newest record.
    for offset in (32..data.len() as u32).step_by(4).take(256) {
        dump.write_record(&mut out, offset, file_seq).unwrap();
    }
});
