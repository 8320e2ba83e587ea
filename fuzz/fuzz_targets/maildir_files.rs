//! Maildir's own files from untrusted bytes: dovecot-uidlist,
//! dovecot-keywords and message file names. What parses must encode to
//! bytes that parse back to the same value.
#![no_main]

use dovecot_rs::storage::maildir::filename;
use dovecot_rs::storage::maildir::keywords::Keywords;
use dovecot_rs::storage::maildir::uidlist::Uidlist;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = Uidlist::parse(data) {
        let again = Uidlist::parse(&list.encode()).expect("our uidlist parses");
        assert_eq!(again.records.len(), list.records.len());
        assert_eq!(again.next_uid, list.next_uid);
    }

    let keywords = Keywords::parse(data);
    assert_eq!(Keywords::parse(&keywords.encode()), keywords);

    let _ = filename::get_size(data, b'S');
    let flags = filename::get_flags(data);
    assert!(flags.keywords.iter().all(|&k| k < 26));
});
