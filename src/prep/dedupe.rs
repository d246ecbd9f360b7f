//! The set of distinct serials seen in a run, for duplicate detection across all inputs.
//!
//! Serials compare case-insensitively (ASCII: validated serials hold nothing else). Each distinct
//! serial is stored once, upper-cased, in one byte arena; the table holds 16-byte entries
//! (arena position and length, file index, line) instead of a heap string per serial, so a
//! million serials cost about 45 MB instead of about 80 MB and no allocation per row.

use std::hash::Hasher;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

/// Where a serial was first seen: index of the input file and 1-based line (a line past
/// `u32::MAX` is recorded as `u32::MAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstSeen {
    pub file: u32,
    pub line: u32,
}

#[derive(Clone, Copy)]
struct Slot {
    /// Arena offset in the low 48 bits, length in the high 16.
    at: u64,
    first: FirstSeen,
}

impl Slot {
    fn range(self) -> std::ops::Range<usize> {
        let start = (self.at & 0xFFFF_FFFF_FFFF) as usize;
        start..start + (self.at >> 48) as usize
    }
}

/// Distinct serials, upper-cased, with where each was first seen.
pub struct SeenSerials {
    arena: Vec<u8>,
    table: HashTable<Slot>,
    key: Vec<u8>,
}

impl SeenSerials {
    /// `capacity` distinct serials fit without the table growing.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            arena: Vec::with_capacity(capacity.saturating_mul(12)),
            table: HashTable::with_capacity(capacity),
            key: Vec::with_capacity(64),
        }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Records `serial` as seen at `first` and returns `None`, or, when an equal serial (ignoring
    /// ASCII case) was recorded before, returns where. Serials longer than 65,535 bytes are
    /// refused by validation long before this (the limit is 64).
    pub fn insert(&mut self, serial: &str, first: FirstSeen) -> Option<FirstSeen> {
        self.key.clear();
        self.key
            .extend(serial.bytes().map(|b| b.to_ascii_uppercase()));
        let hash = hash(&self.key);
        let arena = &self.arena;
        let key = &self.key;
        let entry = self.table.entry(
            hash,
            |s| &arena[s.range()] == key.as_slice(),
            |s| self::hash(&arena[s.range()]),
        );
        match entry {
            Entry::Occupied(o) => Some(o.get().first),
            Entry::Vacant(v) => {
                let len = u64::try_from(self.key.len())
                    .ok()
                    .filter(|&l| l <= 0xFFFF)
                    .expect("validated serials are at most 64 bytes");
                let at = (self.arena.len() as u64) | (len << 48);
                v.insert(Slot { at, first });
                self.arena.extend_from_slice(&self.key);
                None
            }
        }
    }
}

fn hash(bytes: &[u8]) -> u64 {
    let mut h = WordHasher::default();
    h.write(bytes);
    h.finish()
}

/// A fast non-cryptographic hasher: each 8-byte word is mixed in with a folded 64x64->128
/// multiply (the core of foldhash/ahash's fallback). Inputs come from the operator's own files,
/// so hash flooding is not a concern here.
#[derive(Default)]
struct WordHasher(u64);

impl WordHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let x = u128::from(self.0 ^ word) * u128::from(K ^ 0x2d35_8dcc_aa6c_78a5);
        self.0 = (x as u64) ^ ((x >> 64) as u64);
    }
}

impl Hasher for WordHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        // The length goes into the last word so "A" and "A\0" differ.
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        b[7] ^= bytes.len() as u8;
        self.add(u64::from_le_bytes(b));
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn at(file: u32, line: u32) -> FirstSeen {
        FirstSeen { file, line }
    }

    #[test]
    fn duplicates_ignore_case_and_report_the_first_place() {
        let mut s = SeenSerials::with_capacity(4);
        assert_eq!(s.insert("pf3abc12", at(0, 2)), None);
        assert_eq!(s.insert("PF3ABC12", at(1, 9)), Some(at(0, 2)));
        assert_eq!(s.insert("Pf3AbC12", at(1, 10)), Some(at(0, 2)));
        assert_eq!(s.insert("PF3ABC1", at(1, 11)), None);
        assert_eq!(s.insert("PF3ABC12 ", at(1, 12)), None);
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn grows_past_its_capacity_without_losing_serials() {
        let mut s = SeenSerials::with_capacity(0);
        for i in 0..50_000u32 {
            assert_eq!(s.insert(&format!("SN{i:07}"), at(0, i)), None);
        }
        for i in (0..50_000u32).step_by(7) {
            assert_eq!(s.insert(&format!("sn{i:07}"), at(1, 0)), Some(at(0, i)));
        }
        assert_eq!(s.len(), 50_000);
    }

    #[test]
    fn hasher_spreads_similar_serials() {
        for pattern in ["PF", "5CG1234", ""] {
            let hashes: HashSet<u64> = (0..100_000)
                .map(|i| hash(format!("{pattern}{i:08}").as_bytes()))
                .collect();
            assert_eq!(hashes.len(), 100_000, "{pattern}");
        }
        let hashes: HashSet<u64> = (0..100_000)
            .map(|i| hash(format!("PF{i:08}").as_bytes()))
            .collect();
        // The top 7 bits (hashbrown's control byte) must vary too.
        let tops: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(tops.len() > 100, "{}", tops.len());
        assert_ne!(hash(b"A"), hash(b"A\0"));
        assert_ne!(hash(b""), hash(b"\0"));
    }
}
