//! How the log stores an entry: MessagePack, LZ4-compressed when the entry is large.
//!
//! A plan's entry holds up to thousands of allocations whose field names, metrics and
//! IDs repeat; compressed it is a fraction of the size, and every byte saved is one the
//! file write, redb's copy into its pages and the page cache no longer pay for. Small
//! entries (heartbeat-sized writes, votes) stay plain: compressing them saves nothing.

use crate::types::Entry;

/// The first byte of a compressed entry. MessagePack never uses it (0xc1 is its one
/// "never used" byte), so an entry written plain, by this version or an older one, is
/// told apart by its first byte and read as it is.
const COMPRESSED: u8 = 0xc1;
/// The marker and the plain size (u32, little-endian) before the LZ4 block.
const HEADER: usize = 5;
/// Entries below this size are stored plain.
const COMPRESS_FROM: usize = 4 * 1024;
/// The largest plain size a compressed entry may claim: a damaged header must not make
/// the reader allocate gigabytes.
const PLAIN_MAX: usize = 1 << 30;

/// Why a stored entry could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("a compressed log entry claims {0} bytes, more than any entry holds")]
    TooLarge(usize),
    #[error("a compressed log entry is truncated")]
    Truncated,
    #[error("a compressed log entry does not decompress: {0}")]
    Lz4(#[from] lz4_flex::block::DecompressError),
    #[error("a log entry is unreadable: {0}")]
    MessagePack(#[from] rmp_serde::decode::Error),
}

/// The stored form of `entry`.
pub(crate) fn encode(entry: &Entry) -> Result<Vec<u8>, rmp_serde::encode::Error> {
    let plain = rmp_serde::to_vec_named(entry)?;
    if plain.len() < COMPRESS_FROM || plain.len() > PLAIN_MAX {
        return Ok(plain);
    }
    let mut stored = vec![0; HEADER + lz4_flex::block::get_maximum_output_size(plain.len())];
    stored[0] = COMPRESSED;
    stored[1..HEADER].copy_from_slice(&(plain.len() as u32).to_le_bytes());
    match lz4_flex::block::compress_into(&plain, &mut stored[HEADER..]) {
        Ok(size) if HEADER + size < plain.len() => {
            stored.truncate(HEADER + size);
            Ok(stored)
        }
        // Incompressible (or, impossibly, no room): plain is what is stored.
        _ => Ok(plain),
    }
}

/// The entry `stored` holds, compressed or plain.
pub(crate) fn decode(stored: &[u8]) -> Result<Entry, DecodeError> {
    if stored.first() != Some(&COMPRESSED) {
        return Ok(rmp_serde::from_slice(stored)?);
    }
    let size: [u8; 4] = stored
        .get(1..HEADER)
        .and_then(|s| s.try_into().ok())
        .ok_or(DecodeError::Truncated)?;
    let size = u32::from_le_bytes(size) as usize;
    if size > PLAIN_MAX {
        return Err(DecodeError::TooLarge(size));
    }
    let mut plain = vec![0; size];
    let written = lz4_flex::block::decompress_into(&stored[HEADER..], &mut plain)?;
    if written != size {
        return Err(DecodeError::Truncated);
    }
    Ok(rmp_serde::from_slice(&plain)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, EntryPayload, LogId};

    fn entry(index: u64, payload: EntryPayload<crate::types::TypeConfig>) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 0), index),
            payload,
        }
    }

    fn plain(entry: &Entry) -> Vec<u8> {
        rmp_serde::to_vec_named(entry).expect("encodes")
    }

    #[test]
    fn small_entries_stay_plain_and_large_ones_shrink_and_read_back() {
        let small = entry(1, EntryPayload::Blank);
        let stored = encode(&small).expect("encodes");
        assert_eq!(stored, plain(&small));
        assert_eq!(plain(&decode(&stored).expect("decodes")), plain(&small));

        let large = entry(2, EntryPayload::Normal(big_command()));
        let stored = encode(&large).expect("encodes");
        assert_eq!(stored[0], COMPRESSED);
        let size = plain(&large).len();
        assert!(stored.len() * 4 < size, "{} of {size}", stored.len());
        assert_eq!(plain(&decode(&stored).expect("decodes")), plain(&large));
        // An entry stored plain (as before compression) is read as it is.
        let read = decode(&plain(&large)).expect("decodes");
        assert_eq!(plain(&read), plain(&large));
    }

    #[test]
    fn damaged_compressed_entries_are_errors_not_panics() {
        let stored = encode(&entry(3, EntryPayload::Normal(big_command()))).expect("encodes");
        assert!(matches!(decode(&stored[..3]), Err(DecodeError::Truncated)));
        let mut huge = stored.clone();
        huge[1..HEADER].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decode(&huge), Err(DecodeError::TooLarge(_))));
        assert!(decode(&stored[..stored.len() / 2]).is_err());
    }

    /// A command of a few hundred kilobytes that repeats itself, as a plan's does.
    fn big_command() -> caravan_state::Command {
        let evals = (0..2_000)
            .map(|i| caravan_structs::Evaluation {
                id: format!("00000000-0000-4000-8000-{i:012x}").into(),
                namespace: "default".into(),
                job_id: "example".into(),
                ..caravan_structs::Evaluation::default()
            })
            .collect();
        caravan_state::Command::EvalsUpsert { evals }
    }
}
