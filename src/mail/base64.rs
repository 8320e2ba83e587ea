//! Base64 decoding of MIME bodies, as lib's `base64.c` decodes them for
//! the message decoder (standard alphabet, no flags).
//!
//! Dovecot's leniency is kept exactly, which general-purpose crates do
//! not offer: CR, LF, space and tab are skipped anywhere (also inside
//! and after the padding); padding may be missing at the end of the
//! input; any other byte stops decoding for good, keeping what was
//! decoded before it. The input may arrive in pieces of any size.
//!
//! Not here: encoding, and the URL-safe alphabet and decoder flags other
//! users of `base64.c` need.

/// Value of a base64 letter, or `None`.
fn letter_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

fn is_empty(c: u8) -> bool {
    matches!(c, b'\n' | b'\r' | b' ' | b'\t')
}

/// Decoding stopped at a byte that is neither base64 nor whitespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("offset {offset}: invalid base64 input")]
pub struct Base64Error {
    /// Offset in the piece given to [`Base64Decoder::more`].
    pub offset: usize,
}

/// A streaming decoder (`struct base64_decoder`).
#[derive(Debug, Default)]
pub struct Base64Decoder {
    /// Letters seen in the current quantum (0 to 3).
    sub_pos: u8,
    buf: u8,
    seen_padding: bool,
    seen_end: bool,
    failed: bool,
}

impl Base64Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Has decoding stopped because of invalid input?
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Decode `src` into `dest`.
    pub fn more(&mut self, src: &[u8], dest: &mut Vec<u8>) -> Result<(), Base64Error> {
        if self.failed {
            return Err(Base64Error { offset: 0 });
        }
        let mut pos = 0;
        if !self.seen_padding {
            pos = self.letters(src, dest);
        }
        pos = skip_empty(src, pos);
        if pos == src.len() {
            return Ok(());
        }
        self.padding(src, pos).inspect_err(|_| self.failed = true)
    }

    /// End of input: true when it ended on a whole quantum or padding.
    pub fn finish(&mut self) -> bool {
        !self.failed && self.sub_pos == 0
    }

    /// Decode letters up to the first byte that is not a letter or
    /// whitespace; returns its offset.
    fn letters(&mut self, src: &[u8], dest: &mut Vec<u8>) -> usize {
        for (pos, &c) in src.iter().enumerate() {
            let Some(v) = letter_value(c) else {
                if is_empty(c) {
                    continue;
                }
                return pos;
            };
            match self.sub_pos {
                0 => self.buf = v,
                1 => dest.push(self.buf << 2 | v >> 4),
                2 => dest.push((self.buf << 4) | v >> 2),
                _ => dest.push((self.buf << 6) | v),
            }
            self.buf = v;
            self.sub_pos = (self.sub_pos + 1) % 4;
        }
        src.len()
    }

    /// `=` padding at `pos` (which is not whitespace), and only
    /// whitespace after it.
    fn padding(&mut self, src: &[u8], mut pos: usize) -> Result<(), Base64Error> {
        let err = |offset| Err(Base64Error { offset });
        if self.seen_end {
            return err(pos);
        }
        if self.sub_pos == 2 {
            if src[pos] != b'=' {
                return err(pos);
            }
            self.seen_padding = true;
            self.sub_pos = 3;
            pos = skip_empty(src, pos + 1);
            if pos == src.len() {
                return Ok(());
            }
        }
        if self.sub_pos != 3 || src[pos] != b'=' {
            return err(pos);
        }
        self.seen_padding = true;
        self.seen_end = true;
        self.sub_pos = 0;
        pos = skip_empty(src, pos + 1);
        if pos < src.len() {
            return err(pos);
        }
        Ok(())
    }
}

fn skip_empty(src: &[u8], pos: usize) -> usize {
    pos + src[pos..].iter().take_while(|&&c| is_empty(c)).count()
}

/// Decode a whole base64 text; decoding stops at invalid input.
pub fn decode(src: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len() / 4 * 3 + 3);
    let _ = Base64Decoder::new().more(src, &mut out);
    out
}
