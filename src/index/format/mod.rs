//! Byte codecs for lib-index's files, without any I/O.
//!
//! Each submodule decodes one file format from a byte slice into plain
//! Rust values and encodes those values back into the same bytes:
//!
//! - [`index`]: `dovecot.index` (mail-index-private.h, mail-index-map-hdr.c);
//! - [`log`]: `dovecot.index.log` and `.log.2` (mail-transaction-log.h);
//! - [`cache`]: `dovecot.index.cache` (mail-cache-private.h).
//!
//! Dovecot writes these files in host byte order; so do we. Decoders
//! never trust a length or offset from the file: every read is bounds
//! checked through [`Bytes`], and a failure is a [`FormatError`] that
//! names the offset and what was wrong with it.

pub mod cache;
pub mod index;
pub mod log;

use std::fmt;
use std::path::{Path, PathBuf};

/// What was wrong with a file, and where.
///
/// The decoders work on bytes and do not know the file name; the I/O
/// layer adds it with [`FormatError::in_file`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("offset {offset}: {reason}")]
pub struct FormatError {
    /// Byte offset in the file where the problem was found.
    pub offset: u64,
    /// What the decoder expected and did not find.
    pub reason: String,
}

impl FormatError {
    pub fn new(offset: impl TryInto<u64>, reason: impl Into<String>) -> Self {
        FormatError {
            offset: offset.try_into().unwrap_or(u64::MAX),
            reason: reason.into(),
        }
    }

    /// Attach the file name, for errors shown to a caller.
    pub fn in_file(self, path: impl AsRef<Path>) -> CorruptFile {
        CorruptFile {
            path: path.as_ref().to_path_buf(),
            error: self,
        }
    }
}

/// A [`FormatError`] with the file it was found in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Corrupted file {}: {error}", path.display())]
pub struct CorruptFile {
    pub path: PathBuf,
    #[source]
    pub error: FormatError,
}

pub type Result<T> = std::result::Result<T, FormatError>;

/// A bounds-checked view of a file's bytes.
///
/// Every accessor takes an absolute offset into the file and fails with
/// a [`FormatError`] naming that offset when the bytes are not there, so
/// decoders never index a slice directly.
#[derive(Clone, Copy)]
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl fmt::Debug for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({} bytes)", self.data.len())
    }
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn as_slice(&self) -> &'a [u8] {
        self.data
    }

    /// `len` bytes at `offset`; `what` names the field for the error.
    pub fn slice(&self, offset: usize, len: usize, what: &str) -> Result<&'a [u8]> {
        offset
            .checked_add(len)
            .and_then(|end| self.data.get(offset..end))
            .ok_or_else(|| {
                FormatError::new(
                    offset,
                    format!("{what}: {len} bytes needed, file has {}", self.data.len()),
                )
            })
    }

    pub fn array<const N: usize>(&self, offset: usize, what: &str) -> Result<[u8; N]> {
        let bytes = self.slice(offset, N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub fn u8(&self, offset: usize, what: &str) -> Result<u8> {
        Ok(self.array::<1>(offset, what)?[0])
    }

    pub fn u16(&self, offset: usize, what: &str) -> Result<u16> {
        self.array(offset, what).map(u16::from_ne_bytes)
    }

    pub fn u32(&self, offset: usize, what: &str) -> Result<u32> {
        self.array(offset, what).map(u32::from_ne_bytes)
    }

    pub fn u64(&self, offset: usize, what: &str) -> Result<u64> {
        self.array(offset, what).map(u64::from_ne_bytes)
    }
}

/// Appends host-order integers to an output buffer, the inverse of
/// [`Bytes`].
pub trait PutNe {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    /// Zero bytes up to the next multiple of `align` (a power of two).
    fn pad_to(&mut self, align: usize);
}

impl PutNe for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }

    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_ne_bytes());
    }

    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_ne_bytes());
    }

    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_ne_bytes());
    }

    fn pad_to(&mut self, align: usize) {
        let padded = self.len().next_multiple_of(align.max(1));
        self.resize(padded, 0);
    }
}

/// Dovecot's `MAIL_INDEX_COMPAT_LITTLE_ENDIAN`: the compat flag a file
/// written on a little-endian host carries. Files from a host of the
/// other byte order are refused, as Dovecot refuses them.
pub const COMPAT_LITTLE_ENDIAN: u8 = 0x01;

/// The compat flag this host writes and accepts.
pub const HOST_COMPAT_FLAGS: u8 = if cfg!(target_endian = "little") {
    COMPAT_LITTLE_ENDIAN
} else {
    0
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_past_the_end_name_the_offset() {
        let b = Bytes::new(&[1, 2, 3]);
        let err = b.u32(1, "messages_count").unwrap_err();
        assert_eq!(err.offset, 1);
        assert!(err.reason.contains("messages_count"), "{err}");
        assert!(b.slice(usize::MAX, 2, "x").is_err());
    }

    #[test]
    fn put_and_get_agree() {
        let mut out = Vec::new();
        out.put_u8(7);
        out.pad_to(4);
        out.put_u32(0xdead_beef);
        out.put_u64(1 << 40);
        let b = Bytes::new(&out);
        assert_eq!(b.u8(0, "a").unwrap(), 7);
        assert_eq!(b.u32(4, "b").unwrap(), 0xdead_beef);
        assert_eq!(b.u64(8, "c").unwrap(), 1 << 40);
    }
}
