//! The synthetic copy task: random strings over a small alphabet whose
//! "translation" is the string itself. A model that cannot learn it has a bug,
//! so it is a quick check that a whole training stack works.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::corpus::Pair;

/// `n` random strings of `min_len..=max_len` letters drawn from the first
/// `symbols` of a–z, A–Z (2 to 52), each paired with itself; a seed gives the
/// same strings every time.
pub fn copy_pairs(symbols: usize, min_len: usize, max_len: usize, n: usize, seed: u64) -> Vec<Pair> {
    let mut rng = StdRng::seed_from_u64(seed);
    let alphabet: Vec<char> = ('a'..='z').chain('A'..='Z').take(symbols.clamp(2, 52)).collect();
    let shortest = min_len.max(1);
    (0..n)
        .map(|_| {
            let len = rng.random_range(shortest..=max_len.max(shortest));
            let s: String = (0..len).map(|_| alphabet[rng.random_range(0..alphabet.len())]).collect();
            Pair { src: s.clone(), tgt: s }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_copy_themselves_within_the_lengths_and_alphabet() {
        let pairs = copy_pairs(3, 2, 5, 200, 7);
        assert_eq!(pairs, copy_pairs(3, 2, 5, 200, 7));
        assert_ne!(pairs, copy_pairs(3, 2, 5, 200, 8));
        for p in &pairs {
            assert_eq!(p.src, p.tgt);
            assert!((2..=5).contains(&p.src.len()), "{p:?}");
            assert!(p.src.chars().all(|c| "abc".contains(c)), "{p:?}");
        }
    }
}
