//! dovecot.index: whatever decodes encodes to bytes that decode to the same
//! value. (Files Dovecot writes round-trip byte for byte, which the
//! fixture tests check; padding bytes are written as zeros, as Dovecot
//! writes them, so arbitrary input need not.)
#![no_main]

use dovecot_rs::index::format::index::IndexFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = IndexFile::decode(data) else {
        return;
    };
    let encoded = file.encode();
    let again = IndexFile::decode(&encoded).expect("our own encoding decodes");
    assert_eq!(again, file, "decode(encode(x)) differs from x");
});
