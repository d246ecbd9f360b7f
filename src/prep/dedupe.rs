//! The set of distinct serials seen in a run, for duplicate detection across all inputs.
//!
//! Serials compare case-insensitively (ASCII: validated serials hold nothing else). Each distinct
//! serial is stored once, upper-cased, in one byte arena with its file and line; the table holds
//! an 8-byte slot per serial instead of a heap string, and no allocation happens per row.

use std::hash::Hasher;

/// Where a serial was first seen: index of the input file and 1-based line (a line past
/// `u32::MAX` is recorded as `u32::MAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstSeen {
    pub file: u32,
    pub line: u32,
}

/// Bytes before a record's serial: `[file u32 LE][line u32 LE][len u8]`, then the upper-cased
/// bytes, padded to 8.
const HEAD: usize = 9;

/// Distinct serials, upper-cased, with where each was first seen.
///
/// The table is open addressing with linear probing over one array of 8-byte slots (0 = empty,
/// else the top 32 bits of the hash and the arena record number plus one), at most three
/// quarters full ([`MAX_LOAD_NUM`]/[`MAX_LOAD_DEN`]): a million serials take 2^21 slots (16 MiB),
/// not 2^22.
/// A new serial touches one random slot (and nothing else that is random): on a big clean input
/// that single cache and TLB miss per row is what the duplicate check costs.
pub struct SeenSerials {
    arena: Vec<u8>,
    slots: Vec<u64>,
    len: usize,
    /// A batch's keys back to back, and their hashes ([`SeenSerials::insert_batch`]).
    batch_keys: Vec<u8>,
    hashes: Vec<u64>,
}

fn record_key(arena: &[u8], record: u32) -> &[u8] {
    let start = record as usize * 8;
    let len = arena[start + 8] as usize;
    &arena[start + HEAD..start + HEAD + len]
}

fn word(arena: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(arena[at..at + 4].try_into().expect("4 bytes"))
}

/// The table grows before more than `MAX_LOAD_NUM / MAX_LOAD_DEN` of its slots are used.
const MAX_LOAD_NUM: usize = 3;
const MAX_LOAD_DEN: usize = 4;

/// The fewest slots (a power of two, at least 16) that hold `capacity` serials within the load limit.
fn slots_for(capacity: usize) -> usize {
    capacity
        .saturating_mul(MAX_LOAD_DEN)
        .div_ceil(MAX_LOAD_NUM)
        .max(16)
        .next_power_of_two()
}

impl SeenSerials {
    /// `capacity` distinct serials fit without the table growing.
    pub fn with_capacity(capacity: usize) -> Self {
        let slots = slots_for(capacity);
        Self {
            arena: Vec::with_capacity(capacity.saturating_mul(24)),
            slots: vec![0; slots],
            len: 0,
            batch_keys: Vec::new(),
            hashes: Vec::new(),
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Records `serial` as seen at `first` and returns `None`, or, when an equal serial (ignoring
    /// ASCII case) was recorded before, returns where. Serials are at most 64 bytes (validation
    /// refuses longer ones; longer keys are compared on their first 255 bytes), and the arena
    /// holds up to 32 GiB of records (over a billion serials).
    #[cfg(test)]
    pub fn insert(&mut self, serial: &str, first: FirstSeen) -> Option<FirstSeen> {
        let mut key = Vec::with_capacity(64);
        set_key(&mut key, serial);
        self.insert_key(&key, hash(&key), first)
    }

    /// [`insert`](Self::insert) for each item in order, answers in `out` (cleared first). The
    /// same answers as one call per item, faster: on a big input nearly every lookup misses the
    /// CPU caches and TLB, so the whole batch's keys are made and hashed first, then every slot
    /// is read in a loop that does nothing else (its loads do not wait on each other, so many
    /// misses are in flight at once), and only then are the serials inserted, each key made once.
    pub fn insert_batch(&mut self, items: &[(&str, FirstSeen)], out: &mut Vec<Option<FirstSeen>>) {
        out.clear();
        self.hashes.clear();
        let mut keys = std::mem::take(&mut self.batch_keys);
        keys.clear();
        for (serial, _) in items {
            let start = keys.len();
            set_key(&mut keys, serial);
            self.hashes.push(hash(&keys[start..]));
        }
        let mask = self.slots.len() - 1;
        let touched = self
            .hashes
            .iter()
            .fold(0u64, |acc, &h| acc | self.slots[h as usize & mask]);
        std::hint::black_box(touched);
        let mut start = 0;
        for (i, (serial, first)) in items.iter().enumerate() {
            let end = start + serial.len().min(255);
            let answer = self.insert_key(&keys[start..end], self.hashes[i], *first);
            out.push(answer);
            start = end;
        }
        self.batch_keys = keys;
    }

    fn insert_key(&mut self, key: &[u8], hash: u64, first: FirstSeen) -> Option<FirstSeen> {
        if (self.len + 1) * MAX_LOAD_DEN > self.slots.len() * MAX_LOAD_NUM {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let tag = hash >> 32;
        let mut i = hash as usize & mask;
        loop {
            let s = self.slots[i];
            if s == 0 {
                break;
            }
            let record = (s as u32).wrapping_sub(1);
            if s >> 32 == tag && record_key(&self.arena, record) == key {
                let start = record as usize * 8;
                return Some(FirstSeen {
                    file: word(&self.arena, start),
                    line: word(&self.arena, start + 4),
                });
            }
            i = (i + 1) & mask;
        }
        let record = u32::try_from(self.arena.len() / 8)
            .ok()
            .filter(|&r| r < u32::MAX)
            .expect("the duplicate set holds at most 32 GiB of serials");
        self.slots[i] = (tag << 32) | u64::from(record + 1);
        self.len += 1;
        self.arena.extend_from_slice(&first.file.to_le_bytes());
        self.arena.extend_from_slice(&first.line.to_le_bytes());
        self.arena.push(key.len() as u8);
        self.arena.extend_from_slice(key);
        let padded = self.arena.len().next_multiple_of(8);
        self.arena.resize(padded, 0);
        None
    }

    /// Doubles the slots and places every recorded serial again (hashes recomputed from the
    /// arena, read in order).
    fn grow(&mut self) {
        let mut slots = vec![0u64; self.slots.len() * 2];
        let mask = slots.len() - 1;
        for &s in self.slots.iter().filter(|&&s| s != 0) {
            let h = hash(record_key(&self.arena, (s as u32) - 1));
            let mut i = h as usize & mask;
            while slots[i] != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = s;
        }
        self.slots = slots;
    }
}

/// Appends the upper-cased key of `serial` (its first 255 bytes) to `key`.
fn set_key(key: &mut Vec<u8>, serial: &str) {
    let bytes = &serial.as_bytes()[..serial.len().min(255)];
    let start = key.len();
    key.extend_from_slice(bytes);
    key[start..].make_ascii_uppercase();
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
        let long = "z".repeat(64);
        assert_eq!(s.insert(&long, at(7, 1)), None);
        assert_eq!(s.insert(&long.to_uppercase(), at(8, 2)), Some(at(7, 1)));
        assert_eq!(s.insert("", at(9, 3)), None);
        assert_eq!(s.insert("", at(9, 4)), Some(at(9, 3)));
        assert_eq!(s.len(), 5);
    }

    #[test]
    fn table_is_sized_for_three_quarters_load_and_grows_only_past_it() {
        assert_eq!(slots_for(0), 16);
        assert_eq!(slots_for(12), 16);
        assert_eq!(slots_for(13), 32);
        // The bench's million serials (estimated 1.17 M from its file size) fit in 2^21 slots.
        assert_eq!(slots_for(1_000_000), 1 << 21);
        assert_eq!(slots_for(1_166_666), 1 << 21);
        assert_eq!(slots_for(1_572_864), 1 << 21);
        assert_eq!(slots_for(1_572_865), 1 << 22);
        // Exactly `capacity` serials fit without growing; the next one grows the table.
        let mut s = SeenSerials::with_capacity(24);
        assert_eq!(s.slots.len(), 32);
        for i in 0..24u32 {
            assert_eq!(s.insert(&format!("SN{i}"), at(0, i)), None);
        }
        assert_eq!(s.slots.len(), 32);
        assert_eq!(s.insert("SN24", at(0, 24)), None);
        assert_eq!(s.slots.len(), 64);
        for i in 0..25u32 {
            assert_eq!(s.insert(&format!("sn{i}"), at(1, 0)), Some(at(0, i)));
        }
        assert_eq!(s.len(), 25);
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
    fn a_batch_answers_as_one_insert_per_item() {
        let serials: Vec<String> = (0..500u32)
            .map(|i| format!("sn{:04}", (i * 7919) % 300))
            .collect();
        let items: Vec<(&str, FirstSeen)> = serials
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), at(i as u32 % 3, i as u32)))
            .collect();
        let mut one = SeenSerials::with_capacity(0);
        let want: Vec<Option<FirstSeen>> = items.iter().map(|(s, a)| one.insert(s, *a)).collect();
        let mut batched = SeenSerials::with_capacity(0);
        let mut got = Vec::new();
        let mut answers = Vec::new();
        for chunk in items.chunks(64) {
            batched.insert_batch(chunk, &mut answers);
            got.extend_from_slice(&answers);
        }
        assert_eq!(got, want);
        assert_eq!(got.iter().filter(|a| a.is_none()).count(), 300);
        // Repeats inside one batch are found too.
        batched.insert_batch(&[("NEW1", at(5, 1)), ("new1", at(5, 2))], &mut answers);
        assert_eq!(answers, [None, Some(at(5, 1))]);
        // Keys are the first 255 bytes: a long key between short ones keeps the others apart.
        let long = "q".repeat(300);
        let longer = format!("{}X", "Q".repeat(300));
        let items = [
            (long.as_str(), at(6, 1)),
            ("short", at(6, 2)),
            (longer.as_str(), at(6, 3)),
            ("SHORT", at(6, 4)),
            ("new1", at(6, 5)),
        ];
        batched.insert_batch(&items, &mut answers);
        assert_eq!(
            answers,
            [None, None, Some(at(6, 1)), Some(at(6, 2)), Some(at(5, 1))]
        );
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
        // The top bits (the slot's tag) must vary too.
        let tops: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(tops.len() > 100, "{}", tops.len());
        // The low bits pick the slot: 100,000 hashes should fill most of 65,536 slots (about
        // 51,000 expected for a uniform hash).
        let lows: HashSet<u64> = hashes.iter().map(|h| h & 0xFFFF).collect();
        assert!(lows.len() > 45_000, "{}", lows.len());
        assert_ne!(hash(b"A"), hash(b"A\0"));
        assert_ne!(hash(b""), hash(b"\0"));
    }
}
