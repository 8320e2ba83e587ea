//! Record framing: `struct mail_transaction_header` (size and type) and
//! the packed size encoding of mail-index-util.c.

use crate::index::format::{Bytes, FormatError, Result};

/// `sizeof(struct mail_transaction_header)`.
pub const RECORD_HEADER_SIZE: usize = 8;

/// The largest record size the packed encoding can hold.
pub const MAX_RECORD_SIZE: u32 = 0x4000_0000 - 4;

/// Decode `mail_index_uint32_to_offset()`'s packing: four bytes of seven
/// bits each, high bit set, big-endian, counting units of four bytes.
/// `None` when the marker bits are missing (Dovecot reads that as 0: an
/// unfinished or corrupted record).
pub fn unpack_size(packed: u32) -> Option<u32> {
    let v = u32::from_be(packed);
    if v & 0x8080_8080 != 0x8080_8080 {
        return None;
    }
    let units =
        (v & 0x7f) | ((v >> 8) & 0x7f) << 7 | ((v >> 16) & 0x7f) << 14 | ((v >> 24) & 0x7f) << 21;
    Some(units << 2)
}

/// The packed form of `size`, which must be a multiple of four below
/// 2^30 ([`MAX_RECORD_SIZE`]).
pub fn pack_size(size: u32) -> Option<u32> {
    if size > MAX_RECORD_SIZE || size % 4 != 0 {
        return None;
    }
    let units = size >> 2;
    let v = 0x8080_8080
        | (units & 0x7f)
        | ((units >> 7) & 0x7f) << 8
        | ((units >> 14) & 0x7f) << 16
        | ((units >> 21) & 0x7f) << 24;
    Some(v.to_be())
}

/// One record as it sits in the file, before its payload is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRecord<'a> {
    /// Offset of the record header in the file.
    pub offset: u64,
    /// The whole `type` field, flags included.
    pub type_bits: u32,
    /// The payload: `size - 8` bytes after the record header.
    pub payload: &'a [u8],
}

impl RawRecord<'_> {
    /// The record's full size, header included.
    pub fn size(&self) -> usize {
        RECORD_HEADER_SIZE + self.payload.len()
    }
}

/// Frame the record at `offset`: check that its header is there, that
/// its size field is a valid packed size, at least a header long, and
/// within the file.
pub fn frame_at(data: &[u8], offset: usize) -> Result<RawRecord<'_>> {
    let head = Bytes::new(data)
        .slice(offset, RECORD_HEADER_SIZE, "record header")
        .map_err(|_| {
            let left = data.len().saturating_sub(offset);
            FormatError::new(
                offset,
                format!("record header: {RECORD_HEADER_SIZE} bytes needed, {left} left"),
            )
        })?;
    let head = Bytes::new(head);
    let packed = head.u32(0, "record size")?;
    let type_bits = head.u32(4, "record type")?;
    let size = unpack_size(packed).ok_or_else(|| {
        FormatError::new(
            offset,
            format!("record size field {packed:#010x} is not a packed size"),
        )
    })?;
    if (size as usize) < RECORD_HEADER_SIZE {
        return Err(FormatError::new(
            offset,
            format!("record size {size} smaller than the record header"),
        ));
    }

    let payload_len = size as usize - RECORD_HEADER_SIZE;
    let payload_at = offset + RECORD_HEADER_SIZE;
    let payload = Bytes::new(data)
        .slice(payload_at, payload_len, "record payload")
        .map_err(|_| {
            FormatError::new(
                offset,
                format!(
                    "record size {size} runs past the end of the file ({} bytes)",
                    data.len()
                ),
            )
        })?;
    Ok(RawRecord {
        offset: offset as u64,
        type_bits,
        payload,
    })
}

/// Iterates over the framed records of a log file from a given offset
/// to the end; stops after the first error.
#[derive(Debug, Clone)]
pub struct RawRecords<'a> {
    data: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> RawRecords<'a> {
    /// Records of `data` (the whole file) starting at `offset`.
    pub fn new(data: &'a [u8], offset: usize) -> Self {
        RawRecords {
            data,
            offset,
            failed: false,
        }
    }

    /// Where the next record starts.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl<'a> Iterator for RawRecords<'a> {
    type Item = Result<RawRecord<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset >= self.data.len() {
            return None;
        }
        match frame_at(self.data, self.offset) {
            Ok(rec) => {
                self.offset += rec.size();
                Some(Ok(rec))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_sizes_match_dovecot() {
        // A boundary record (12 bytes) as Dovecot writes it: 80 80 80 83.
        let packed = u32::from_ne_bytes([0x80, 0x80, 0x80, 0x83]);
        assert_eq!(unpack_size(packed), Some(12));
        assert_eq!(pack_size(12), Some(packed));
        for size in [8, 12, 508, 512, 65536, MAX_RECORD_SIZE] {
            assert_eq!(unpack_size(pack_size(size).unwrap()), Some(size));
        }
        assert_eq!(pack_size(10), None);
        assert_eq!(pack_size(MAX_RECORD_SIZE + 4), None);
        assert_eq!(unpack_size(12), None);
    }

    #[test]
    fn framing_errors_name_the_record() {
        let mut data = vec![0u8; 40];
        data.extend_from_slice(&pack_size(16).unwrap().to_ne_bytes());
        data.extend_from_slice(&2u32.to_ne_bytes());
        data.extend_from_slice(&[0; 8]);
        assert_eq!(frame_at(&data, 40).unwrap().payload.len(), 8);

        let err = frame_at(&data[..52], 40).unwrap_err();
        assert_eq!(err.offset, 40);
        assert!(err.reason.contains("past the end"), "{err}");

        let err = frame_at(&data[..44], 40).unwrap_err();
        assert_eq!(err.offset, 40);

        data[40..44].copy_from_slice(&pack_size(4).unwrap().to_ne_bytes());
        let err = frame_at(&data, 40).unwrap_err();
        assert!(err.reason.contains("smaller than"), "{err}");

        data[40..44].copy_from_slice(&16u32.to_ne_bytes());
        let err = frame_at(&data, 40).unwrap_err();
        assert!(err.reason.contains("not a packed size"), "{err}");
    }
}
