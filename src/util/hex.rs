//! Lower-case hex of binary data (lib/hex-binary.c's `binary_to_hex()`),
//! as Dovecot prints GUIDs and unknown data.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Append the hex of `data` to `out`.
pub fn push_hex(out: &mut Vec<u8>, data: &[u8]) {
    out.reserve(2 * data.len());
    for &b in data {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0xf)]);
    }
}

/// The hex of `data` as a string.
pub fn binary_to_hex(data: &[u8]) -> String {
    let mut out = Vec::with_capacity(2 * data.len());
    push_hex(&mut out, data);
    // Only ASCII hex digits were pushed.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_dovecots_guid_text() {
        // A mailbox GUID from tests/fixtures/demo/Maildir/dovecot-uidlist.
        let guid = [
            0x45, 0xb9, 0xc5, 0x0c, 0x55, 0xb0, 0x11, 0x6b, 0x75, 0x44, 0x00, 0x00, 0x83, 0xec,
            0xc3, 0x75,
        ];
        assert_eq!(binary_to_hex(&guid), "45b9c50c55b0116b7544000083ecc375");
    }
}
