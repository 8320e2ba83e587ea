//! `dovecot-keywords` (maildir-keywords.c): which keyword each of the
//! letters `a`..`z` in Maildir file names stands for, one `INDEX NAME`
//! line each.

/// At most this many keywords fit in file names: `a`..`z`.
pub const MAX_KEYWORDS: usize = 26;

/// The keyword names by letter index; `None` for an unused letter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keywords {
    names: Vec<Option<String>>,
}

impl Keywords {
    /// Read the file the way Dovecot does: lines that are not
    /// `INDEX NAME`, indexes past `z`, empty names and names already
    /// seen are skipped, not fatal; one `\r` before the `\n` is part of
    /// the line end. Names that are not UTF-8 or hold control characters
    /// are skipped too, where Dovecot keeps them: IMAP keywords are atoms,
    /// so Dovecot never writes such a name, and a name ending in `\r`
    /// would not survive being written back.
    pub fn parse(data: &[u8]) -> Keywords {
        let mut keywords = Keywords::default();
        for line in data.split(|&c| c == b'\n') {
            let Some((idx, name)) = parse_line(line) else {
                continue;
            };
            if keywords.index_of(name).is_some() {
                continue;
            }
            if keywords.names.len() <= idx {
                keywords.names.resize(idx + 1, None);
            }
            keywords.names[idx] = Some(name.to_string());
        }
        keywords
    }

    /// The file's contents, as Dovecot writes them.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (idx, name) in self.names.iter().enumerate() {
            if let Some(name) = name {
                out.extend_from_slice(format!("{idx} {name}\n").as_bytes());
            }
        }
        out
    }

    /// The keyword behind letter index `idx` (`a` = 0).
    pub fn name(&self, idx: usize) -> Option<&str> {
        self.names.get(idx)?.as_deref()
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n.as_deref() == Some(name))
    }

    /// The letter index for `name`, giving it the first free letter if
    /// it has none; `None` when all 26 are taken or `name` could not be
    /// read back from the file (empty, or with control characters).
    pub fn add(&mut self, name: &str) -> Option<usize> {
        if name.is_empty() || name.chars().any(char::is_control) {
            return None;
        }
        if let Some(idx) = self.index_of(name) {
            return Some(idx);
        }
        let free = self.names.iter().position(Option::is_none);
        let idx = free.unwrap_or(self.names.len());
        if idx >= MAX_KEYWORDS {
            return None;
        }
        if idx == self.names.len() {
            self.names.push(None);
        }
        self.names[idx] = Some(name.to_string());
        Some(idx)
    }

    /// `(index, name)` for every letter in use.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &str)> {
        self.names
            .iter()
            .enumerate()
            .filter_map(|(idx, n)| Some((idx, n.as_deref()?)))
    }
}

fn parse_line(line: &[u8]) -> Option<(usize, &str)> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let space = line.iter().position(|&c| c == b' ')?;
    let (idx, name) = (&line[..space], &line[space + 1..]);

    let idx: usize = std::str::from_utf8(idx).ok()?.parse().ok()?;
    let name = std::str::from_utf8(name).ok()?;
    let usable = !name.is_empty() && !name.chars().any(char::is_control);
    (idx < MAX_KEYWORDS && usable).then_some((idx, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_dovecots_file() {
        // tests/fixtures/demo/Maildir/dovecot-keywords, as Dovecot wrote it.
        let file = b"0 $Important\n1 project-x\n";
        let kw = Keywords::parse(file);
        assert_eq!(kw.name(0), Some("$Important"));
        assert_eq!(kw.name(1), Some("project-x"));
        assert_eq!(kw.encode(), file);
    }

    #[test]
    fn bad_lines_are_skipped_like_dovecot_skips_them() {
        let kw = Keywords::parse(b"junk\n26 past-z\n3 \n0 a\n1 a\nx b\n4 d\r\n5 e\r\r\n");
        assert_eq!(kw.iter().collect::<Vec<_>>(), vec![(0, "a"), (4, "d")]);
    }

    #[test]
    fn add_takes_the_first_free_letter_and_stops_at_z() {
        let mut kw = Keywords::parse(b"1 b\n");
        assert_eq!(kw.add("a"), Some(0));
        assert_eq!(kw.add("b"), Some(1));
        for i in 2..MAX_KEYWORDS {
            assert_eq!(kw.add(&format!("k{i}")), Some(i));
        }
        assert_eq!(kw.add("one-too-many"), None);
        assert_eq!(Keywords::default().add("cr\r"), None);
    }
}
