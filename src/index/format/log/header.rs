//! The transaction log's file header (`struct mail_transaction_log_header`
//! in mail-transaction-log.h, read as mail-transaction-log-file.c reads it).

use crate::index::format::{Bytes, FormatError, PutNe, Result};

/// `MAIL_TRANSACTION_LOG_MAJOR_VERSION`: files of another major version
/// are not read at all.
pub const MAJOR_VERSION: u8 = 1;
/// `MAIL_TRANSACTION_LOG_MINOR_VERSION` of the files Dovecot 2.3 writes.
pub const MINOR_VERSION: u8 = 3;
/// `MAIL_TRANSACTION_LOG_HEADER_MIN_SIZE`: a smaller `hdr_size` means a
/// corrupted file.
pub const HEADER_MIN_SIZE: usize = 24;
/// `sizeof(struct mail_transaction_log_header)` in Dovecot 2.3.
pub const HEADER_SIZE: usize = 40;

/// `MAIL_TRANSACTION_LOG_VERSION_FULL(major, minor)`.
pub const fn version_full(major: u8, minor: u8) -> u16 {
    (major as u16) << 8 | minor as u16
}

/// Version 1.2 and later fill in `compat_flags`.
pub const VERSION_COMPAT_FLAGS: u16 = version_full(1, 2);
/// Version 1.3 and later do not raise the modseq for flag updates that
/// touch only internal flags.
pub const VERSION_HIDE_INTERNAL_MODSEQS: u16 = version_full(1, 3);

/// The header at the start of every `dovecot.index.log*` file.
///
/// `hdr_size` is kept as written: a file whose header is shorter than
/// this struct has the missing fields read as zero, and a longer one
/// keeps its unknown trailing bytes in `extra`, so that encoding gives
/// back the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogFileHeader {
    pub major_version: u8,
    pub minor_version: u8,
    pub hdr_size: u16,
    /// Must match the index's `indexid`; 0 marks the file corrupted.
    pub indexid: u32,
    pub file_seq: u32,
    pub prev_file_seq: u32,
    pub prev_file_offset: u32,
    pub create_stamp: u32,
    pub initial_modseq: u64,
    pub compat_flags: u8,
    pub unused: [u8; 3],
    pub unused2: u32,
    /// Header bytes past the 40 this version knows (`hdr_size > 40`).
    pub extra: Vec<u8>,
}

impl LogFileHeader {
    /// A fresh header as Dovecot 2.3 writes it.
    pub fn new(indexid: u32, file_seq: u32, create_stamp: u32) -> Self {
        LogFileHeader {
            major_version: MAJOR_VERSION,
            minor_version: MINOR_VERSION,
            hdr_size: HEADER_SIZE as u16,
            indexid,
            file_seq,
            create_stamp,
            compat_flags: crate::index::format::HOST_COMPAT_FLAGS,
            ..Default::default()
        }
    }

    /// `MAIL_TRANSACTION_LOG_HDR_VERSION()`: major and minor in one
    /// number, for comparing with the `VERSION_*` features.
    pub fn version(&self) -> u16 {
        version_full(self.major_version, self.minor_version)
    }

    /// Decode the header at the start of `data`, checking what Dovecot
    /// checks before it reads any record: at least the minimum header,
    /// the major version, the byte order in `compat_flags`, and
    /// `hdr_size` at least the minimum and within the file.
    pub fn decode(data: &[u8]) -> Result<Self> {
        if data.len() < HEADER_MIN_SIZE {
            return Err(FormatError::new(
                0,
                format!(
                    "log file header: {HEADER_MIN_SIZE} bytes needed, file has {}",
                    data.len()
                ),
            ));
        }
        // Dovecot checks the fields as read, before it zeroes those
        // past a short hdr_size.
        let raw = Self::from_struct(&Self::padded_prefix(data));
        raw.check_version()?;
        raw.check_size(data.len())?;
        Ok(Self::from_prefix(data))
    }

    fn check_version(&self) -> Result<()> {
        if self.major_version != MAJOR_VERSION {
            return Err(FormatError::new(
                0,
                format!(
                    "unsupported major version {} (expected {MAJOR_VERSION})",
                    self.major_version
                ),
            ));
        }
        let host = crate::index::format::HOST_COMPAT_FLAGS;
        let compat = self.compat_flags;
        if self.version() >= VERSION_COMPAT_FLAGS && compat != host {
            return Err(FormatError::new(
                32,
                format!("compat flags {compat:#x} do not match this host's {host:#x}"),
            ));
        }
        Ok(())
    }

    fn check_size(&self, file_len: usize) -> Result<()> {
        let size = usize::from(self.hdr_size);
        if size < HEADER_MIN_SIZE {
            return Err(FormatError::new(2, format!("header size {size} too small")));
        }
        if size > file_len {
            return Err(FormatError::new(
                2,
                format!("header size {size} past the end of the file ({file_len} bytes)"),
            ));
        }
        Ok(())
    }

    /// Read the header the way `doveadm dump` does: the first 40 bytes
    /// must be there, the fields past `hdr_size` read as zero, and
    /// nothing else is checked.
    pub fn decode_lenient(data: &[u8]) -> Result<Self> {
        Bytes::new(data).slice(0, HEADER_SIZE, "log file header")?;
        Ok(Self::from_prefix(data))
    }

    /// The struct from the first (up to) 40 bytes of `data`, with the
    /// fields past `hdr_size` zeroed as Dovecot does for older files.
    fn from_prefix(data: &[u8]) -> Self {
        let mut raw = Self::padded_prefix(data);
        let hdr_size = u16::from_ne_bytes([raw[2], raw[3]]);
        if usize::from(hdr_size) < HEADER_SIZE {
            raw[usize::from(hdr_size)..].fill(0);
        }

        let mut hdr = Self::from_struct(&raw);
        let end = usize::from(hdr.hdr_size);
        if end > HEADER_SIZE {
            hdr.extra = data.get(HEADER_SIZE..end).unwrap_or_default().to_vec();
        }
        hdr
    }

    /// The first 40 bytes of `data`, zero-padded if it is shorter.
    fn padded_prefix(data: &[u8]) -> [u8; HEADER_SIZE] {
        let mut raw = [0u8; HEADER_SIZE];
        let have = data.len().min(HEADER_SIZE);
        raw[..have].copy_from_slice(&data[..have]);
        raw
    }

    /// `indexid` 0: Dovecot marked this file corrupted.
    pub fn is_marked_corrupted(&self) -> bool {
        self.indexid == 0
    }

    fn from_struct(raw: &[u8; HEADER_SIZE]) -> Self {
        let b = Bytes::new(raw);
        let u32_at = |off| b.u32(off, "").unwrap_or_default();
        LogFileHeader {
            major_version: raw[0],
            minor_version: raw[1],
            hdr_size: b.u16(2, "").unwrap_or_default(),
            indexid: u32_at(4),
            file_seq: u32_at(8),
            prev_file_seq: u32_at(12),
            prev_file_offset: u32_at(16),
            create_stamp: u32_at(20),
            initial_modseq: b.u64(24, "").unwrap_or_default(),
            compat_flags: raw[32],
            unused: [raw[33], raw[34], raw[35]],
            unused2: u32_at(36),
            extra: Vec::new(),
        }
    }

    /// The header's bytes: `hdr_size` of them.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u8(self.major_version);
        out.put_u8(self.minor_version);
        out.put_u16(self.hdr_size);
        out.put_u32(self.indexid);
        out.put_u32(self.file_seq);
        out.put_u32(self.prev_file_seq);
        out.put_u32(self.prev_file_offset);
        out.put_u32(self.create_stamp);
        out.put_u64(self.initial_modseq);
        out.put_u8(self.compat_flags);
        out.extend_from_slice(&self.unused);
        out.put_u32(self.unused2);

        let size = usize::from(self.hdr_size);
        if size < HEADER_SIZE {
            out.truncate(start + size);
        } else {
            out.extend_from_slice(&self.extra);
            out.resize(start + size, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_header_fields_read_as_zero() {
        let mut hdr = LogFileHeader::new(7, 3, 1000);
        hdr.initial_modseq = 5;
        hdr.compat_flags = 1;
        let mut bytes = Vec::new();
        hdr.encode(&mut bytes);
        bytes[2..4].copy_from_slice(&24u16.to_ne_bytes());
        bytes.extend_from_slice(&[0xff; 8]);

        let short = LogFileHeader::decode(&bytes).unwrap();
        assert_eq!(short.hdr_size, 24);
        assert_eq!(short.create_stamp, 1000);
        assert_eq!(short.initial_modseq, 0);
        assert_eq!(short.compat_flags, 0);

        let mut again = Vec::new();
        short.encode(&mut again);
        assert_eq!(again, bytes[..24]);
    }

    #[test]
    fn byte_order_is_checked_from_version_1_2() {
        let mut hdr = LogFileHeader::new(7, 3, 1000);
        hdr.compat_flags ^= crate::index::format::COMPAT_LITTLE_ENDIAN;
        let mut bytes = Vec::new();
        hdr.encode(&mut bytes);
        let err = LogFileHeader::decode(&bytes).unwrap_err();
        assert_eq!(err.offset, 32);
        assert!(err.reason.contains("compat flags"), "{err}");

        // Version 1.1 did not fill the field in: it is not looked at.
        bytes[1] = 1;
        assert_eq!(LogFileHeader::decode(&bytes).unwrap().minor_version, 1);
    }

    #[test]
    fn long_header_keeps_its_extra_bytes() {
        let mut hdr = LogFileHeader::new(7, 3, 1000);
        hdr.hdr_size = 48;
        hdr.extra = vec![1, 2, 3, 4, 5, 6, 7, 8];
        let mut bytes = Vec::new();
        hdr.encode(&mut bytes);
        assert_eq!(bytes.len(), 48);
        assert_eq!(LogFileHeader::decode(&bytes).unwrap(), hdr);
    }

    #[test]
    fn bad_headers_are_refused_with_their_offset() {
        let mut bytes = Vec::new();
        LogFileHeader::new(7, 3, 1000).encode(&mut bytes);

        assert_eq!(LogFileHeader::decode(&bytes[..23]).unwrap_err().offset, 0);
        assert_eq!(LogFileHeader::decode(&bytes[..39]).unwrap_err().offset, 2);
        assert!(LogFileHeader::decode_lenient(&bytes[..39]).is_err());

        let mut wrong = bytes.clone();
        wrong[0] = 2;
        let err = LogFileHeader::decode(&wrong).unwrap_err();
        assert!(err.reason.contains("major version 2"), "{err}");

        let mut small = bytes.clone();
        small[2..4].copy_from_slice(&20u16.to_ne_bytes());
        let err = LogFileHeader::decode(&small).unwrap_err();
        assert_eq!(err.offset, 2);
        assert!(err.reason.contains("too small"), "{err}");

        let mut large = bytes;
        large[2..4].copy_from_slice(&41u16.to_ne_bytes());
        let err = LogFileHeader::decode(&large).unwrap_err();
        assert!(err.reason.contains("past the end"), "{err}");
    }
}
