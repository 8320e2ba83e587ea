//! Quoted-printable decoding (Dovecot's `qp-decoder.c`).
//!
//! [`QpDecoder`] decodes a body given in pieces of any size, as Dovecot
//! does: line ends come out as CRLF, trailing whitespace is dropped, soft
//! line breaks (`=` at the end of a line, even with whitespace after it)
//! join lines, lowercase hex is accepted, and invalid sequences are kept
//! as they were written while the first one is reported.

/// Lines are at most 76 characters: whitespace beyond that is cut.
const MAX_WHITESPACE_LEN: usize = 76;

/// The first invalid sequence in a piece of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("offset {offset}: {reason}")]
pub struct QpError {
    /// Offset in the piece given to [`QpDecoder::more`].
    pub offset: usize,
    pub reason: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Text,
    Whitespace,
    Equals,
    EqualsWhitespace,
    Hex2,
    Cr,
    SoftCr,
}

fn is_trailing_whitespace(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn hex_value(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|v| v as u8)
}

/// A quoted-printable decoder (`struct qp_decoder`).
#[derive(Debug, Default)]
pub struct QpDecoder {
    state: State,
    whitespace: Vec<u8>,
    hexchar: u8,
}

impl QpDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decode `src` into `dest`. Decoding goes on past invalid input;
    /// the first invalid sequence is returned as the error.
    pub fn more(&mut self, src: &[u8], dest: &mut Vec<u8>) -> Result<(), QpError> {
        let mut first_error = None;
        let mut i = 0;
        while i < src.len() {
            if self.state == State::Text {
                i += self.more_text(&src[i..], dest);
                continue;
            }
            match self.step(src[i], dest) {
                Step::Consumed => i += 1,
                Step::Retry => {}
                Step::Invalid(reason) => {
                    first_error.get_or_insert(QpError { offset: i, reason });
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// End of input: an unfinished escape is written out as it was.
    pub fn finish(&mut self, dest: &mut Vec<u8>) -> Result<(), QpError> {
        let result = match self.state {
            State::Text | State::Whitespace => Ok(()),
            _ => Err(QpError {
                offset: 0,
                reason: self.invalid(dest),
            }),
        };
        self.state = State::Text;
        self.whitespace.clear();
        result
    }

    /// Copy plain text up to the next byte that needs a state; returns
    /// the number of bytes used.
    fn more_text(&mut self, src: &[u8], dest: &mut Vec<u8>) -> usize {
        let mut start = 0;
        for (i, &c) in src.iter().enumerate() {
            let state = match c {
                b'=' => State::Equals,
                b'\r' => State::Cr,
                b' ' | b'\t' => State::Whitespace,
                b'\n' => {
                    dest.extend_from_slice(&src[start..i]);
                    dest.extend_from_slice(b"\r\n");
                    start = i + 1;
                    continue;
                }
                _ => continue,
            };
            dest.extend_from_slice(&src[start..i]);
            if state == State::Whitespace {
                self.whitespace.push(c);
            }
            self.state = state;
            return i + 1;
        }
        dest.extend_from_slice(&src[start..]);
        src.len()
    }

    fn push_whitespace(&mut self, c: u8) {
        if self.whitespace.len() <= MAX_WHITESPACE_LEN {
            self.whitespace.push(c);
        }
    }
}

enum Step {
    Consumed,
    /// The byte was not used; look at it again in the new state.
    Retry,
    /// Invalid input was written out; the byte is looked at again.
    Invalid(&'static str),
}

impl QpDecoder {
    fn step(&mut self, c: u8, dest: &mut Vec<u8>) -> Step {
        match self.state {
            State::Text => Step::Retry,
            State::Whitespace => self.step_whitespace(c, dest),
            State::Equals => self.step_equals(c, dest),
            State::Hex2 => match (hex_value(self.hexchar), hex_value(c)) {
                (Some(hi), Some(lo)) => {
                    dest.push(hi << 4 | lo);
                    self.state = State::Text;
                    Step::Consumed
                }
                _ => Step::Invalid(self.invalid(dest)),
            },
            State::EqualsWhitespace => match c {
                b' ' | b'\t' => {
                    self.push_whitespace(c);
                    Step::Consumed
                }
                b'\r' => self.goto(State::SoftCr),
                b'\n' => {
                    self.whitespace.clear();
                    self.goto(State::Text)
                }
                _ => Step::Invalid(self.invalid(dest)),
            },
            State::Cr | State::SoftCr => {
                if c != b'\n' {
                    return Step::Invalid(self.invalid(dest));
                }
                self.whitespace.clear();
                if self.state == State::Cr {
                    dest.extend_from_slice(b"\r\n");
                }
                self.goto(State::Text)
            }
        }
    }

    fn goto(&mut self, state: State) -> Step {
        self.state = state;
        Step::Consumed
    }

    fn step_whitespace(&mut self, c: u8, dest: &mut Vec<u8>) -> Step {
        match c {
            b' ' | b'\t' => {
                self.push_whitespace(c);
                Step::Consumed
            }
            b'\r' => self.goto(State::Cr),
            b'\n' => {
                // Trailing whitespace is dropped.
                dest.extend_from_slice(b"\r\n");
                self.whitespace.clear();
                Step::Consumed
            }
            _ => {
                dest.extend_from_slice(&self.whitespace);
                let truncated = self.whitespace.len() > MAX_WHITESPACE_LEN;
                self.whitespace.clear();
                self.state = State::Text;
                if truncated {
                    return Step::Invalid("Too much whitespace");
                }
                Step::Retry
            }
        }
    }

    fn step_equals(&mut self, c: u8, dest: &mut Vec<u8>) -> Step {
        if hex_value(c).is_some() {
            self.hexchar = c;
            return self.goto(State::Hex2);
        }
        match c {
            c if is_trailing_whitespace(c) => {
                self.whitespace.push(c);
                self.goto(State::EqualsWhitespace)
            }
            b'\r' => self.goto(State::SoftCr),
            b'\n' => self.goto(State::Text),
            _ => Step::Invalid(self.invalid(dest)),
        }
    }

    /// Write out an unfinished sequence as it was; returns why it was
    /// invalid (`qp_decoder_invalid()`).
    fn invalid(&mut self, dest: &mut Vec<u8>) -> &'static str {
        let reason = match self.state {
            State::Equals => {
                dest.push(b'=');
                "'=' not followed by two hex digits"
            }
            State::Hex2 => {
                dest.extend_from_slice(&[b'=', self.hexchar]);
                "'=<hex>' not followed by a hex digit"
            }
            State::EqualsWhitespace => {
                dest.push(b'=');
                dest.append(&mut self.whitespace);
                "'=<whitespace>' not followed by newline"
            }
            State::Cr => {
                dest.append(&mut self.whitespace);
                dest.push(b'\r');
                "CR not followed by LF"
            }
            State::SoftCr => {
                dest.push(b'=');
                dest.append(&mut self.whitespace);
                dest.push(b'\r');
                "CR not followed by LF"
            }
            State::Text | State::Whitespace => "",
        };
        self.state = State::Text;
        reason
    }
}

/// Decode a whole quoted-printable text.
pub fn decode(src: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len());
    let mut qp = QpDecoder::new();
    let _ = qp.more(src, &mut out);
    let _ = qp.finish(&mut out);
    out
}
