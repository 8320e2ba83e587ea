//! Header values from untrusted bytes: addresses, dates, RFC 2047
//! encoded words, RFC 2231 parameters, Message-IDs, base subjects, mbox
//! From_ lines, quoted-printable and base64.
#![no_main]

use dovecot_rs::mail::message_address::{self, ParseFlags};
use dovecot_rs::mail::{base64, mbox_from, message_date, message_header_decode};
use dovecot_rs::mail::rfc822_parser::Rfc822Parser;
use dovecot_rs::mail::{imap_base_subject, message_id, quoted_printable, rfc2231_parser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = message_address::parse(data, 1000, ParseFlags::empty());
    let _ = message_address::parse_path(data);
    if let Some(date) = message_date::parse(data) {
        // A parsed date prints as a date that parses back to itself.
        let text = message_date::create(date.timestamp, date.tz_offset);
        let again = message_date::parse(text.as_bytes()).expect("our own date parses");
        assert_eq!(again.timestamp, date.timestamp);
    }
    let _ = message_header_decode::decode_utf8(data);
    let _ = mbox_from::parse(data);
    let _ = message_id::all(data);
    let _ = imap_base_subject::base_subject(data);
    let params = rfc2231_parser::parse(&mut Rfc822Parser::new(data));
    for (_, value) in &params.params {
        let _ = rfc2231_parser::decode_extended_value(value);
    }
    let _ = quoted_printable::decode(data);
    let _ = base64::decode(data);
});
