//! Counting a header's or body's size without parsing it (Dovecot's
//! `message-size.c`).
//!
//! These are lib-storage's quick counters: [`header_size`] stops at the
//! first empty line, [`body_size`] counts everything, [`skip_virtual`]
//! maps an offset in the CRLF ("virtual") form back to the stored bytes.
//! They keep Dovecot's quirks: a body's very first byte is never counted
//! as a line (nor checked for NUL), unlike the MIME parser's counts.

use crate::mail::message_part::MessageSize;

/// A header's size and whether it has NULs (`message_get_header_size()`).
/// The header ends after the first empty line, or at the end of `data`;
/// `physical_size` is where the body starts.
pub fn header_size(data: &[u8]) -> (MessageSize, bool) {
    let mut size = MessageSize::default();
    let mut has_nuls = false;
    let mut missing_cr = 0;
    let mut end = data.len();
    for (i, &c) in data.iter().enumerate() {
        if c != b'\n' {
            has_nuls |= c == 0;
            continue;
        }
        size.lines = size.lines.wrapping_add(1);
        let prev = if i > 0 { data[i - 1] } else { 0 };
        if prev != b'\r' {
            missing_cr += 1;
        }
        let no_headers = i == 0 || (i == 1 && prev == b'\r');
        let empty_line = prev == b'\n' || (i > 1 && data[i - 2] == b'\n' && prev == b'\r');
        if no_headers || empty_line {
            end = i + 1;
            break;
        }
    }
    size.physical_size = end as u64;
    size.virtual_size = end as u64 + missing_cr;
    (size, has_nuls)
}

/// A body's size and whether it has NULs (`message_get_body_size()`).
pub fn body_size(data: &[u8]) -> (MessageSize, bool) {
    let mut size = MessageSize::default();
    let mut has_nuls = false;
    let Some(&first) = data.first() else {
        return (size, false);
    };
    let mut missing_cr = u64::from(first == b'\n');
    for i in 1..data.len() {
        match data[i] {
            b'\n' => {
                if data[i - 1] != b'\r' {
                    missing_cr += 1;
                }
                size.lines = size.lines.wrapping_add(1);
            }
            0 => has_nuls = true,
            _ => {}
        }
    }
    size.physical_size = data.len() as u64;
    size.virtual_size = data.len() as u64 + missing_cr;
    (size, has_nuls)
}

/// Where `virtual_skip` bytes of the CRLF form end in `data`
/// (`message_skip_virtual()`): the offset, and whether it falls between
/// the CR and the LF of a line end (the next byte must then not count
/// as a CRLF).
pub fn skip_virtual(data: &[u8], mut virtual_skip: u64) -> (usize, bool) {
    let mut last_cr = false;
    if virtual_skip == 0 {
        return (0, false);
    }
    let mut i = 0;
    while i < data.len() && virtual_skip > 0 {
        virtual_skip -= 1;
        let bare_lf = data[i] == b'\n' && (i == 0 || data[i - 1] != b'\r');
        if data[i] == b'\r' && virtual_skip == 0 {
            last_cr = true;
        } else if bare_lf {
            if virtual_skip == 0 {
                // Between the virtual CR and the LF.
                return (i, true);
            }
            virtual_skip -= 1;
        }
        i += 1;
    }
    (i, last_cr)
}
