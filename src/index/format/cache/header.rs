//! The fixed header at the start of `dovecot.index.cache`
//! (`struct mail_cache_header`) and the checks Dovecot applies to it when
//! opening the file (`mail_cache_verify_header()` in mail-cache.c).

use super::offset_to_uint32;
use crate::index::format::{Bytes, FormatError, PutNe, Result};

/// `MAIL_CACHE_MAJOR_VERSION`: a file with another major version is
/// refused.
pub const MAJOR_VERSION: u8 = 1;
/// `MAIL_CACHE_MINOR_VERSION`: what Dovecot 2.3 writes.
pub const MINOR_VERSION: u8 = 1;
/// `sizeof(uoff_t)` on the hosts Dovecot runs on; the file records it.
pub const SIZEOF_UOFF_T: u8 = 8;

/// `struct mail_cache_header`, 32 bytes in host byte order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheHeader {
    pub major_version: u8,
    pub compat_sizeof_uoff_t: u8,
    pub minor_version: u8,
    /// Unused padding byte, kept so re-encoding is exact.
    pub unused: u8,
    /// Must equal the index's indexid, or the cache belongs to another
    /// index and is ignored.
    pub indexid: u32,
    /// Bumped on every purge; must equal the index's "cache" extension
    /// reset_id for the index's cache offsets to be valid.
    pub file_seq: u32,
    pub continued_record_count: u32,
    pub record_count: u32,
    pub backwards_compat_used_file_size: u32,
    pub deleted_record_count: u32,
    /// The first field header's offset, as stored (see
    /// [`offset_to_uint32`]); doveadm prints it as "nontranslated".
    pub field_header_offset: u32,
}

impl CacheHeader {
    pub const SIZE: usize = 32;

    /// Decode and verify the header at the start of `bytes`.
    ///
    /// Fails the way Dovecot's open does: file too small, a major
    /// version or `uoff_t` size this code cannot read, or `file_seq` 0.
    /// The indexid is not checked here: only the caller knows the index.
    pub fn decode(bytes: Bytes<'_>) -> Result<CacheHeader> {
        if bytes.len() < Self::SIZE {
            return Err(FormatError::new(0, "File too small"));
        }
        let hdr = CacheHeader {
            major_version: bytes.u8(0, "major_version")?,
            compat_sizeof_uoff_t: bytes.u8(1, "compat_sizeof_uoff_t")?,
            minor_version: bytes.u8(2, "minor_version")?,
            unused: bytes.u8(3, "unused")?,
            indexid: bytes.u32(4, "indexid")?,
            file_seq: bytes.u32(8, "file_seq")?,
            continued_record_count: bytes.u32(12, "continued_record_count")?,
            record_count: bytes.u32(16, "record_count")?,
            backwards_compat_used_file_size: bytes.u32(20, "used_file_size")?,
            deleted_record_count: bytes.u32(24, "deleted_record_count")?,
            field_header_offset: bytes.u32(28, "field_header_offset")?,
        };
        hdr.verify()?;
        Ok(hdr)
    }

    fn verify(&self) -> Result<()> {
        if self.major_version != MAJOR_VERSION {
            let reason = format!("Unsupported major version ({})", self.major_version);
            return Err(FormatError::new(0, reason));
        }
        if self.compat_sizeof_uoff_t != SIZEOF_UOFF_T {
            let reason = format!("Unsupported uoff_t size ({})", self.compat_sizeof_uoff_t);
            return Err(FormatError::new(1, reason));
        }
        if self.file_seq == 0 {
            return Err(FormatError::new(8, "file_seq is 0"));
        }
        Ok(())
    }

    /// The first field header's file offset (0: none).
    pub fn first_field_header(&self) -> u32 {
        offset_to_uint32(self.field_header_offset)
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.major_version);
        out.put_u8(self.compat_sizeof_uoff_t);
        out.put_u8(self.minor_version);
        out.put_u8(self.unused);
        out.put_u32(self.indexid);
        out.put_u32(self.file_seq);
        out.put_u32(self.continued_record_count);
        out.put_u32(self.record_count);
        out.put_u32(self.backwards_compat_used_file_size);
        out.put_u32(self.deleted_record_count);
        out.put_u32(self.field_header_offset);
    }
}
