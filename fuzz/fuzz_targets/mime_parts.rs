//! The `mime.parts` cache field from untrusted bytes: it reads back
//! into a part tree that writes the same bytes, or fails with an error.
//!
//! Seed it with the records of the corpus: the `mime.parts:` hex in
//! `tests/fixtures/mail/parse/*.dovecot`, decoded.
#![no_main]

use dovecot_rs::mail::message_part_serialize::{deserialize, serialize};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(parts) = deserialize(data) {
        assert_eq!(serialize(&parts), data, "deserialize/serialize round trip");
    }
});
