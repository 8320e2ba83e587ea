//! A whole message from untrusted bytes: the MIME parser, its cache
//! serialization, BODYSTRUCTURE/BODY, ENVELOPE and the snippet.
//!
//! Beyond not panicking: the part tree serializes to "mime.parts" bytes
//! that deserialize to a tree serializing to the same bytes (the format
//! leaves out header line counts, as Dovecot's does), and the root part
//! covers exactly the input.
#![no_main]

use dovecot_rs::mail::imap_bodystructure::MessageStructure;
use dovecot_rs::mail::imap_envelope::Envelope;
use dovecot_rs::mail::message_parser::{MessageParser, ParserSettings};
use dovecot_rs::mail::message_part_serialize::{deserialize, serialize};
use dovecot_rs::mail::message_snippet::message_snippet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parts = MessageParser::parse(data, ParserSettings::for_mail());
    let bytes = serialize(&parts);
    let back = deserialize(&bytes).expect("our own mime.parts decode");
    assert_eq!(serialize(&back), bytes, "mime.parts round trip");

    let root = parts.root();
    let covered = root.header_size.physical_size + root.body_size.physical_size;
    assert_eq!(covered, data.len() as u64, "root part size");

    let structure = MessageStructure::parse(data);
    let _ = structure.write(true);
    let _ = structure.write(false);
    let _ = Envelope::from_message(data).to_imap();
    let _ = message_snippet(data, 200);
});
