//! doveadm's output formatters (doveadm-print.c, doveadm-print-flow.c,
//! doveadm-print-pager.c, doveadm-print-tab.c): a list of headers, then
//! values in header order, each formatter laying them out its own way.
//!
//! TODO(print): the `table`, `json` and `formatted` formatters are not
//! built; streamed values in `tab` are written as one chunk, where
//! Dovecot puts a tab before each chunk it streams.

use std::io::{self, Write};

/// A formatter name as `-f` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Formatter {
    Flow,
    Pager,
    Tab,
}

impl Formatter {
    pub fn from_name(name: &str) -> Option<Formatter> {
        match name {
            "flow" => Some(Formatter::Flow),
            "pager" => Some(Formatter::Pager),
            "tab" => Some(Formatter::Tab),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Header {
    title: String,
    hide_title: bool,
}

/// The print state of one command.
#[derive(Debug)]
pub struct Printer<W: Write> {
    out: W,
    kind: Formatter,
    headers: Vec<Header>,
    idx: usize,
    first_page: bool,
    header_written: bool,
}

impl<W: Write> Printer<W> {
    pub fn new(out: W, kind: Formatter) -> Self {
        Printer {
            out,
            kind,
            headers: Vec::new(),
            idx: 0,
            first_page: true,
            header_written: false,
        }
    }

    /// `doveadm_print_header()`.
    pub fn header(&mut self, title: &str, hide_title: bool) {
        self.headers.push(Header {
            title: title.to_string(),
            hide_title,
        });
    }

    /// `doveadm_print()`.
    pub fn value(&mut self, value: &[u8]) -> io::Result<()> {
        match self.kind {
            Formatter::Flow => self.flow(value),
            Formatter::Pager => self.pager(value, false),
            Formatter::Tab => self.tab(value),
        }
    }

    /// `doveadm_print_stream()` of a whole value.
    pub fn stream(&mut self, value: &[u8]) -> io::Result<()> {
        match self.kind {
            Formatter::Flow => self.flow(value),
            Formatter::Pager => self.pager(value, true),
            Formatter::Tab => {
                if !value.is_empty() {
                    self.tab_header()?;
                    if self.idx > 0 {
                        self.out.write_all(b"\t")?;
                    }
                    self.out.write_all(value)?;
                }
                self.tab(b"")
            }
        }
    }

    fn next(&mut self) -> bool {
        self.idx += 1;
        if self.idx == self.headers.len() {
            self.idx = 0;
        }
        self.idx == 0
    }

    fn flow(&mut self, value: &[u8]) -> io::Result<()> {
        let hdr = &self.headers[self.idx];
        if !hdr.hide_title {
            write!(self.out, "{}=", hdr.title)?;
        }
        self.out.write_all(value)?;
        let sep: &[u8] = if self.next() { b"\n" } else { b" " };
        self.out.write_all(sep)
    }

    fn pager(&mut self, value: &[u8], stream: bool) -> io::Result<()> {
        // Only plain values start a new page: a streamed first field
        // follows the previous record directly, as in Dovecot.
        if self.idx == 0 && !self.first_page && !stream {
            self.out.write_all(b"\x0c\n")?;
        }
        self.first_page = false;
        let hdr = &self.headers[self.idx];
        if !hdr.hide_title {
            let sep = if stream { ":\n" } else { ": " };
            write!(self.out, "{}{sep}", hdr.title)?;
        }
        self.out.write_all(value)?;
        if !stream {
            self.out.write_all(b"\n")?;
        }
        self.next();
        Ok(())
    }

    fn tab_header(&mut self) -> io::Result<()> {
        if self.header_written {
            return Ok(());
        }
        self.header_written = true;
        let titles: Vec<&str> = self.headers.iter().map(|h| h.title.as_str()).collect();
        writeln!(self.out, "{}", titles.join("\t"))
    }

    fn tab(&mut self, value: &[u8]) -> io::Result<()> {
        self.tab_header()?;
        if self.idx > 0 {
            self.out.write_all(b"\t")?;
        }
        self.out.write_all(value)?;
        if self.next() {
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// `doveadm_print_flush()`: end a partial row.
    pub fn flush(&mut self) -> io::Result<()> {
        match self.kind {
            Formatter::Tab => self.tab_header()?,
            _ if self.idx != 0 => {
                self.out.write_all(b"\n")?;
                self.idx = 0;
            }
            _ => {}
        }
        self.out.flush()
    }
}
