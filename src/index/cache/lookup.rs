//! Reading a message's cached fields (mail-cache-lookup.c): from the
//! offset in the message's "cache" extension record, through each
//! record's `prev_offset`, every field entry of every record.
//!
//! Each walk runs on the private copy of the file. An offset or a file
//! field number beyond the copy means the file grew (another process
//! appended records or fields): the copy is read again once, and only
//! what is still wrong then is corruption. A reset_id that does not
//! match the file's `file_seq` means the file was replaced: it is
//! reopened, and records of another file are reported absent.

use super::{Cache, FieldIdx, IndexView, Result};
use crate::index::format::FormatError;
use crate::index::format::cache::{FieldType, HeaderValue, RecordChain};

/// One field value of a message (`struct mail_cache_iterate_field`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldValue {
    pub field: FieldIdx,
    pub data: Vec<u8>,
    /// Offset of the data in the cache file.
    pub offset: u32,
}

impl Cache {
    /// Every field entry of message `seq`, newest record first
    /// (`mail_cache_lookup_iter_*()`); duplicates are kept. Empty when
    /// nothing usable is cached.
    pub fn lookup_all(&mut self, view: &dyn IndexView, seq: u32) -> Result<Vec<FieldValue>> {
        let Some(offset) = self.lookup_offset(view, seq)? else {
            return Ok(Vec::new());
        };
        if let Ok(values) = self.walk(offset) {
            return Ok(values);
        }
        // Maybe the file grew since we read it.
        if !self.refresh(view)? {
            return Ok(Vec::new());
        }
        match self.walk(offset) {
            Ok(values) => Ok(values),
            Err(e) => Err(self.set_corrupted(e)),
        }
    }

    /// `mail_cache_lookup_offset()`: the newest record's offset of
    /// `seq` in the open file, or `None` when it has none there.
    fn lookup_offset(&mut self, view: &dyn IndexView, seq: u32) -> Result<Option<u32>> {
        if !self.open_and_verify(view)? {
            return Ok(None);
        }
        let rec = view.cache_record(seq);
        if rec.offset == 0 {
            return Ok(None);
        }
        if self.header().map(|h| h.file_seq) != Some(rec.reset_id) && self.need_reopen() {
            log::debug!("{}: replaced, reopening", self.path.display());
            if !self.reopen(view)? {
                return Ok(None);
            }
        }
        if self.header().map(|h| h.file_seq) != Some(rec.reset_id) {
            return Ok(None);
        }
        Ok(Some(rec.offset))
    }

    /// The entries of the record chain from `newest` in the copy.
    fn walk(&self, newest: u32) -> std::result::Result<Vec<FieldValue>, FormatError> {
        let file = self.file.as_ref().expect("file open");
        let bytes = crate::index::format::Bytes::new(&file.data);
        let mut values = Vec::new();
        for rec in RecordChain::new(bytes, newest) {
            let rec = rec?;
            for entry in rec.entries(&file.defs) {
                let entry = entry?;
                let field = self.fields.file_field_map[entry.field as usize];
                values.push(FieldValue {
                    field,
                    data: entry.data.to_vec(),
                    offset: entry.data_offset,
                });
            }
        }
        Ok(values)
    }

    /// `mail_cache_field_exists()`.
    pub fn field_exists(
        &mut self,
        view: &dyn IndexView,
        seq: u32,
        field: FieldIdx,
    ) -> Result<bool> {
        let values = self.lookup_all(view, seq)?;
        Ok(values.iter().any(|v| v.field == field))
    }

    /// `mail_cache_lookup_field()`: the value of `field` for `seq`
    /// (bitmasks: all entries ORed together), updating the field's
    /// caching decision as a client read does.
    pub fn lookup_field(
        &mut self,
        view: &dyn IndexView,
        seq: u32,
        field: FieldIdx,
    ) -> Result<Option<Vec<u8>>> {
        let values = self.lookup_all(view, seq)?;
        self.decision_state_update(view, seq, field);

        let mut found = values.into_iter().filter(|v| v.field == field);
        let bitmask = self.fields.get(field).map(|f| f.field_type) == Some(FieldType::Bitmask);
        let Some(first) = found.next() else {
            return Ok(None);
        };
        if !bitmask {
            return Ok(Some(first.data));
        }
        let mut merged = first.data;
        for v in found {
            if merged.len() < v.data.len() {
                merged.resize(v.data.len(), 0);
            }
            merged.iter_mut().zip(&v.data).for_each(|(d, s)| *d |= s);
        }
        Ok(Some(merged))
    }

    /// `mail_cache_decision_state_update()` for a read of `field`.
    pub fn decision_state_update(&mut self, view: &dyn IndexView, seq: u32, field: FieldIdx) {
        let uid = view.uid(seq).unwrap_or(0);
        let now = unix_now();
        let first_new = view.first_new_uid();
        self.fields
            .decision_state_update(field, uid, first_new, now);
    }

    /// `mail_cache_lookup_headers()`: the header lines of all `fields`
    /// (header fields) in their order in the message, or `None` unless
    /// every field is cached.
    pub fn lookup_headers(
        &mut self,
        view: &dyn IndexView,
        seq: u32,
        fields: &[FieldIdx],
    ) -> Result<Option<Vec<u8>>> {
        for &f in fields {
            self.decision_state_update(view, seq, f);
        }
        let values = self.lookup_all(view, seq)?;

        let mut lines: Vec<(u32, usize)> = Vec::new();
        let mut texts: Vec<&[u8]> = Vec::new();
        for &want in fields {
            let Some(v) = values.iter().find(|v| v.field == want) else {
                return Ok(None);
            };
            let hdr = HeaderValue::decode(&v.data);
            lines.extend(hdr.lines.iter().map(|&l| (l, texts.len())));
            texts.push(hdr.text);
        }
        lines.sort_by_key(|&(line, _)| line);
        Ok(Some(join_header_lines(&lines, &mut texts)))
    }
}

/// Each line number takes the next (possibly folded) header line of its
/// field's text.
fn join_header_lines(lines: &[(u32, usize)], texts: &mut [&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(_, t) in lines {
        let text = texts[t];
        let end = header_end(text);
        out.extend_from_slice(&text[..end]);
        texts[t] = &text[end..];
    }
    out
}

/// Where the first header (with its continuation lines) of `text` ends.
fn header_end(text: &[u8]) -> usize {
    let mut pos = 0;
    while let Some(nl) = memchr::memchr(b'\n', &text[pos..]) {
        pos += nl + 1;
        if !matches!(text.get(pos), Some(b' ' | b'\t')) {
            return pos;
        }
    }
    text.len()
}

pub(super) fn unix_now() -> u32 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map_or(0, |d| d.as_secs() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_interleave_by_line_number() {
        let subject: &[u8] = b"Subject: a\n";
        let received: &[u8] = b"Received: 1\n\tmore\nReceived: 2\n";
        let mut texts = vec![subject, received];
        let lines = [(1, 1), (2, 1), (3, 0)];
        let out = join_header_lines(&lines, &mut texts);
        assert_eq!(out, b"Received: 1\n\tmore\nReceived: 2\nSubject: a\n");
    }
}
