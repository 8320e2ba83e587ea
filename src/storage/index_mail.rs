//! What lib-storage hands out for a message's headers
//! (index-mail-headers.c): the rules between lib-mail's header parser
//! and `hdr.NAME`, `date.sent` and the other header-based fields.

use crate::mail::message_header_parser::{
    HeaderParser, HeaderParserFlags, header_value_without_nuls,
};

/// Every value of header `name` as `mail_get_headers()` gives it: folds
/// kept (without CRs), all blanks after the colon skipped (also where the
/// header parser keeps one of an all-blank value), NULs as U+FFFD.
pub fn raw_headers(message: &[u8], name: &str) -> Vec<Vec<u8>> {
    let flags = HeaderParserFlags::SKIP_INITIAL_LWSP | HeaderParserFlags::DROP_CR;
    let mut parser = HeaderParser::new(message, 0, flags);
    let mut values = Vec::new();
    while let Some(line) = parser.next_line() {
        if line.eoh {
            break;
        }
        if line.name_is(name) && !line.continues {
            let value = &line.full_value;
            let start = value.iter().position(|&c| c != b' ' && c != b'\t');
            let value = &value[start.unwrap_or(value.len())..];
            values.push(header_value_without_nuls(value).into_owned());
        }
    }
    values
}
