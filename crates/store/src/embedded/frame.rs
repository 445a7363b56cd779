//! Framing: how records and snapshots sit in files.
//!
//! A file starts with a header (8-byte magic, format version, and for log segments the
//! number of its first record). Each record is `[length u32][crc32 u32][CBOR payload]`,
//! little-endian, the checksum over the payload. The length is bounded, so garbage after a
//! torn write is never mistaken for a huge record.

use serde::{Serialize, de::DeserializeOwned};

/// The on-disk format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 3;

/// Largest record accepted, in bytes.
pub const MAX_RECORD: usize = 64 << 20;

/// Bytes of a frame's length and checksum.
pub const FRAME_OVERHEAD: usize = 8;

/// Which kind of file a header introduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A write-ahead log segment.
    Segment,
    /// A snapshot.
    Snapshot,
}

impl FileKind {
    fn magic(self) -> &'static [u8; 8] {
        match self {
            FileKind::Segment => b"BALLOTWL",
            FileKind::Snapshot => b"BALLOTSN",
        }
    }
}

/// Header length: magic, version, first sequence number.
pub const HEADER_LEN: usize = 8 + 4 + 8;

/// A file header.
pub fn header(kind: FileKind, first: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(kind.magic());
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&first.to_le_bytes());
    out
}

/// Why a header was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// Shorter than a header.
    Short,
    /// Not a ballot file of this kind.
    BadMagic,
    /// Written by a format this build does not know.
    UnknownVersion(u32),
}

/// Reads a header; returns the sequence number it names.
pub fn read_header(kind: FileKind, bytes: &[u8]) -> Result<u64, HeaderError> {
    if bytes.len() < HEADER_LEN {
        return Err(HeaderError::Short);
    }
    if &bytes[..8] != kind.magic() {
        return Err(HeaderError::BadMagic);
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(HeaderError::UnknownVersion(version));
    }
    Ok(u64::from_le_bytes(
        bytes[12..20].try_into().expect("8 bytes"),
    ))
}

/// Appends one framed CBOR record to `out`.
pub fn encode<T: Serialize>(value: &T, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_OVERHEAD]);
    ciborium::into_writer(value, &mut *out).expect("writing CBOR to a Vec cannot fail");
    let payload = &out[start + FRAME_OVERHEAD..];
    let len = u32::try_from(payload.len()).expect("records are bounded");
    let crc = crc32fast::hash(payload);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// The outcome of reading a frame at an offset.
#[derive(Debug)]
pub enum Frame<T> {
    /// A whole, valid record, and the offset just after it.
    Record(T, usize),
    /// No bytes left.
    End,
    /// Something that is not a valid record, and why.
    Bad(&'static str),
}

/// Reads the frame at `offset`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], offset: usize) -> Frame<T> {
    let rest = &bytes[offset.min(bytes.len())..];
    if rest.is_empty() {
        return Frame::End;
    }
    let header = &rest[..rest.len().min(FRAME_OVERHEAD)];
    if header.iter().all(|byte| *byte == 0) {
        // No record is empty, so a zero frame header (or a few zeros too short for one)
        // starts the room a log writes ahead of its end; anything but zeros after it is
        // damage.
        return if rest.iter().all(|byte| *byte == 0) {
            Frame::End
        } else {
            Frame::Bad("an empty record")
        };
    }
    if rest.len() < FRAME_OVERHEAD {
        return Frame::Bad("short frame header");
    }
    let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
    if len > MAX_RECORD {
        return Frame::Bad("record length out of range");
    }
    if rest.len() < FRAME_OVERHEAD + len {
        return Frame::Bad("short record");
    }
    let payload = &rest[FRAME_OVERHEAD..FRAME_OVERHEAD + len];
    if crc32fast::hash(payload) != crc {
        return Frame::Bad("checksum mismatch");
    }
    match ciborium::from_reader(payload) {
        Ok(value) => Frame::Record(value, offset + FRAME_OVERHEAD + len),
        Err(_) => Frame::Bad("checksum matches but the record does not decode"),
    }
}

/// True if a valid record of type `T` starts after `offset` and before `used` (the
/// length without trailing zeros, where no record can start): tells a torn tail (nothing
/// valid follows) from corruption in the middle of a log.
pub fn any_valid_after<T: DeserializeOwned>(bytes: &[u8], offset: usize, used: usize) -> bool {
    // A zero frame header starts no record: skipped here without a look at the rest,
    // which for the room written ahead would take time in the square of its size.
    (offset + 1..used.min(bytes.len())).any(|at| {
        bytes.get(at..at + FRAME_OVERHEAD) != Some(&[0; FRAME_OVERHEAD][..])
            && matches!(decode::<T>(bytes, at), Frame::Record(..))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_damage_is_detected() {
        let mut out = header(FileKind::Segment, 7);
        encode(&("hello", 1u32), &mut out);
        let second = out.len();
        encode(&("world", 2u32), &mut out);
        assert_eq!(read_header(FileKind::Segment, &out), Ok(7));
        assert_eq!(
            read_header(FileKind::Snapshot, &out),
            Err(HeaderError::BadMagic)
        );
        let Frame::Record((word, n), next) = decode::<(String, u32)>(&out, HEADER_LEN) else {
            panic!()
        };
        assert_eq!((word.as_str(), n, next), ("hello", 1, second));
        assert!(matches!(
            decode::<(String, u32)>(&out, out.len()),
            Frame::End
        ));

        let mut torn = out.clone();
        torn.truncate(out.len() - 3);
        assert!(matches!(
            decode::<(String, u32)>(&torn, second),
            Frame::Bad("short record")
        ));
        let mut flipped = out.clone();
        flipped[HEADER_LEN + 9] ^= 0xff;
        assert!(matches!(
            decode::<(String, u32)>(&flipped, HEADER_LEN),
            Frame::Bad("checksum mismatch")
        ));
        assert!(any_valid_after::<(String, u32)>(
            &flipped,
            HEADER_LEN,
            flipped.len()
        ));
        assert!(!any_valid_after::<(String, u32)>(&torn, second, torn.len()));

        // Zeros written ahead of the log end it; damage after a zero header does not.
        let mut ahead = out.clone();
        ahead.resize(out.len() + 64, 0);
        assert!(matches!(
            decode::<(String, u32)>(&ahead, out.len()),
            Frame::End
        ));
        ahead.push(1);
        assert!(matches!(
            decode::<(String, u32)>(&ahead, out.len()),
            Frame::Bad("an empty record")
        ));

        let mut future = out.clone();
        future[8..12].copy_from_slice(&9u32.to_le_bytes());
        assert_eq!(
            read_header(FileKind::Segment, &future),
            Err(HeaderError::UnknownVersion(9))
        );
    }
}
