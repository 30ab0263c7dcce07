//! chrF (Popović, 2015, "chrF: character n-gram F-score for automatic MT
//! evaluation") as sacreBLEU computes it by default (chrF2): character
//! n-grams of orders 1 to 6 with whitespace removed, case-sensitive, recall
//! weighted by β = 2, no word n-grams. The n-gram counts of every segment
//! (against the reference that gives it its best F-score) are summed over the
//! corpus; precision and recall are averaged over the orders that occur
//! (sacreBLEU's "effective order"), and the score is their F_β, 0–100.
//! Checked against the `sacrebleu` package on `tests/fixtures/chrf`.

use std::collections::HashMap;

/// Character n-gram orders.
pub const CHAR_ORDER: usize = 6;
/// Recall's weight.
pub const BETA: f64 = 2.0;

/// A corpus chrF score and the statistics it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Chrf {
    /// chrF2, 0–100.
    pub score: f64,
    /// Per order 1..=6: hypothesis n-grams, reference n-grams, matches (summed over the corpus).
    pub stats: Vec<[usize; 3]>,
}

/// Python's `str.isspace` (Unicode whitespace and the separators \x1c–\x1f),
/// which sacreBLEU's `line.split()` splits on.
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// A line's characters, whitespace removed; its n-gram counts borrow them.
struct Counts {
    chars: Vec<char>,
}

impl Counts {
    fn new(line: &str) -> Self {
        Self { chars: line.chars().filter(|&c| !is_space(c)).collect() }
    }

    fn orders(&self) -> Vec<HashMap<&[char], usize>> {
        (1..=CHAR_ORDER)
            .map(|n| {
                let mut m: HashMap<&[char], usize> = HashMap::new();
                for w in self.chars.windows(n) {
                    *m.entry(w).or_default() += 1;
                }
                m
            })
            .collect()
    }
}

/// `[hyp, ref, match]` for every order of one hypothesis against one reference.
fn match_stats(hyp: &[HashMap<&[char], usize>], reference: &[HashMap<&[char], usize>]) -> Vec<[usize; 3]> {
    hyp.iter()
        .zip(reference)
        .map(|(h, r)| {
            let hyp_count: usize = h.values().sum();
            let matches: usize = h.iter().map(|(g, &c)| r.get(g).map_or(0, |&rc| c.min(rc))).sum();
            [if r.is_empty() { 0 } else { hyp_count }, r.values().sum(), matches]
        })
        .collect()
}

/// chrF of summed statistics (sacreBLEU's `_compute_f_score` without epsilon smoothing).
pub fn f_score(stats: &[[usize; 3]]) -> f64 {
    let factor = BETA * BETA;
    let (mut avg_prec, mut avg_rec, mut effective) = (0.0, 0.0, 0usize);
    for &[n_hyp, n_ref, n_match] in stats {
        if n_hyp > 0 && n_ref > 0 {
            avg_prec += n_match as f64 / n_hyp as f64;
            avg_rec += n_match as f64 / n_ref as f64;
            effective += 1;
        }
    }
    if effective == 0 {
        return 0.0;
    }
    avg_prec /= effective as f64;
    avg_rec /= effective as f64;
    if avg_prec + avg_rec == 0.0 {
        return 0.0;
    }
    100.0 * (1.0 + factor) * avg_prec * avg_rec / (factor * avg_prec + avg_rec)
}

/// Corpus chrF2 of `hyps`, each against all of its `refs` (the best-scoring one counts).
pub fn corpus_chrf<H: AsRef<str>, R: AsRef<str>>(hyps: &[H], refs: &[Vec<R>]) -> Chrf {
    let mut total = vec![[0usize; 3]; CHAR_ORDER];
    for (hyp, rs) in hyps.iter().zip(refs) {
        let h = Counts::new(hyp.as_ref());
        let h = h.orders();
        let mut best: Option<(f64, Vec<[usize; 3]>)> = None;
        for r in rs {
            let r = Counts::new(r.as_ref());
            let stats = match_stats(&h, &r.orders());
            let f = f_score(&stats);
            if best.as_ref().is_none_or(|(b, _)| f > *b) {
                best = Some((f, stats));
            }
        }
        if let Some((_, stats)) = best {
            for (t, s) in total.iter_mut().zip(stats) {
                for k in 0..3 {
                    t[k] += s[k];
                }
            }
        }
    }
    Chrf { score: f_score(&total), stats: total }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_text_scores_100_and_whitespace_does_not_count() {
        let c = corpus_chrf(&["le chat"], &[vec!["lechat"]]);
        assert!((c.score - 100.0).abs() < 1e-9, "{c:?}");
        assert_eq!(c.stats[0], [6, 6, 6]);
        assert_eq!(corpus_chrf(&[""], &[vec!["abc"]]).score, 0.0);
    }
}
