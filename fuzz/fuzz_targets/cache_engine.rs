//! The cache engine on an untrusted `dovecot.index.cache`: lookups of
//! messages pointing at every aligned offset, a header lookup, and a
//! purge must give values, absence or typed errors, never panic.
//!
//! Seed it with the real files: `tests/fixtures/cache/*/dovecot.index.cache`.
#![no_main]

use std::path::PathBuf;

use dovecot_rs::index::cache::{Cache, CacheExtRecord, CacheSettings, IndexView, PurgeIf};
use libfuzzer_sys::fuzz_target;

/// An index whose messages point at chosen offsets of the file.
struct Offsets {
    indexid: u32,
    reset_id: u32,
    offsets: Vec<u32>,
}

impl IndexView for Offsets {
    fn indexid(&self) -> u32 {
        self.indexid
    }
    fn messages_count(&self) -> u32 {
        self.offsets.len() as u32
    }
    fn uid(&self, seq: u32) -> Option<u32> {
        (seq >= 1 && seq <= self.messages_count()).then_some(seq * 2)
    }
    fn cache_record(&self, seq: u32) -> CacheExtRecord {
        let offset = self.offsets.get(seq as usize - 1).copied().unwrap_or(0);
        CacheExtRecord {
            offset,
            reset_id: self.reset_id,
        }
    }
    fn cache_reset_id(&self) -> Option<u32> {
        Some(self.reset_id)
    }
    fn day_stamp(&self) -> u32 {
        1_700_000_000
    }
    fn first_new_uid(&self) -> u32 {
        4
    }
}

fn word(data: &[u8], at: usize) -> u32 {
    data.get(at..at + 4)
        .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("cache-engine-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join("dovecot.index.cache");
    std::fs::write(&path, data).unwrap();

    let view = Offsets {
        indexid: word(data, 4),
        reset_id: word(data, 8),
        offsets: (32..data.len() as u32).step_by(4).take(64).collect(),
    };
    let mut cache = Cache::new(&path, view.indexid, CacheSettings::default());
    for seq in 1..=view.messages_count() {
        let _ = cache.lookup_all(&view, seq);
    }
    let fields: Vec<usize> = (0..cache.fields().len()).take(4).collect();
    let _ = cache.lookup_headers(&view, 1, &fields);

    std::fs::write(&path, data).unwrap();
    let mut cache = Cache::new(&path, view.indexid, CacheSettings::default());
    let _ = cache.purge(&view, PurgeIf::Always, "fuzz");
});
