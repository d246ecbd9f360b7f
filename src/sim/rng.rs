//! The simulator's deterministic randomness: `fastrand`'s generator seeded from `--seed`, so the
//! same seed gives the same fleet, plus the few Graph-shaped values the simulator draws (GUIDs,
//! serials, user codes).

/// A seeded generator (`fastrand::Rng`, wyrand).
#[derive(Debug, Clone)]
pub struct Rng(fastrand::Rng);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(fastrand::Rng::with_seed(seed))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.u64(..)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        self.0.f64()
    }

    /// Uniform in `lo..hi` (`hi` exclusive; returns `lo` when the range is empty).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo { lo } else { self.0.u64(lo..hi) }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// A GUID-shaped id (lower-case, 8-4-4-4-12), deterministic for the seed.
    pub fn guid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }

    /// `n` upper-case letters and digits, for serials and user codes.
    pub fn code(&mut self, n: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        (0..n)
            .map(|_| ALPHABET[self.range(0, ALPHABET.len() as u64) as usize] as char)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_different_seed_differs() {
        let a: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(8);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn guid_has_graph_shape_and_ranges_hold() {
        let mut r = Rng::new(1);
        for _ in 0..200 {
            let g = r.guid();
            assert_eq!(g.len(), 36);
            assert!(uuid::Uuid::parse_str(&g).is_ok(), "{g}");
            let x = r.range(3, 9);
            assert!((3..9).contains(&x));
            let f = r.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
        assert_eq!(r.range(5, 5), 5);
    }
}
