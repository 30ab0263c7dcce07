//! Scoring translations the way papers report them: corpus BLEU and chrF2
//! with sacreBLEU's defaults, each with a sacreBLEU-style signature that says
//! how it was computed (references per segment, case, tokenisation,
//! smoothing), so that a number can be compared only with numbers computed
//! the same way. Used by `attend eval` and `attend score`.

use super::bleu::{corpus_bleu, corpus_bleu_lowercase, Bleu};
use super::chrf::{corpus_chrf, Chrf, CHAR_ORDER};

/// BLEU and chrF of one set of translations.
#[derive(Debug, Clone)]
pub struct Scores {
    /// Cased BLEU (sacreBLEU's default, the figure to trust).
    pub bleu: Bleu,
    /// BLEU of the lowercased texts (what small-model tutorials report).
    pub bleu_lc: Bleu,
    pub chrf: Chrf,
    /// References per segment: a number, or `var` when it varies.
    pub nrefs: String,
}

/// The references per segment, as sacreBLEU's signatures write it.
fn nrefs<R>(refs: &[Vec<R>]) -> String {
    match refs.first().map(|r| r.len()) {
        Some(n) if refs.iter().all(|r| r.len() == n) => n.to_string(),
        Some(_) => "var".into(),
        None => "0".into(),
    }
}

/// Scores `hyps`, each against its references.
pub fn score<H: AsRef<str>, R: AsRef<str>>(hyps: &[H], refs: &[Vec<R>]) -> Scores {
    Scores { bleu: corpus_bleu(hyps, refs), bleu_lc: corpus_bleu_lowercase(hyps, refs), chrf: corpus_chrf(hyps, refs), nrefs: nrefs(refs) }
}

impl Scores {
    /// BLEU's signature (sacreBLEU's fields; `version` names attend).
    pub fn bleu_signature(&self) -> String {
        self.bleu_signature_of("mixed")
    }

    /// The lowercased BLEU's signature.
    pub fn bleu_lc_signature(&self) -> String {
        self.bleu_signature_of("lc")
    }

    fn bleu_signature_of(&self, case: &str) -> String {
        format!("nrefs:{}|case:{case}|eff:no|tok:13a|smooth:exp|version:attend-{}", self.nrefs, env!("CARGO_PKG_VERSION"))
    }

    /// chrF's signature.
    pub fn chrf_signature(&self) -> String {
        format!("nrefs:{}|case:mixed|eff:yes|nc:{CHAR_ORDER}|nw:0|space:no|version:attend-{}", self.nrefs, env!("CARGO_PKG_VERSION"))
    }

    /// The modified n-gram precisions as `p1/p2/p3/p4` (percent).
    pub fn precisions(&self) -> String {
        let b = &self.bleu;
        b.counts.iter().zip(b.totals).map(|(c, t)| format!("{:.1}", 100.0 * *c as f64 / t.max(1) as f64)).collect::<Vec<_>>().join("/")
    }

    /// Three lines: the lowercased BLEU, `chrF2 S`, and the signatures.
    pub fn other_scores_and_signatures(&self) -> String {
        format!(
            "BLEU lowercased {:.2}\nchrF2 {:.2}\nsignatures: BLEU|{}  BLEU-lc|{}  chrF2|{}",
            self.bleu_lc.score,
            self.chrf.score,
            self.bleu_signature(),
            self.bleu_lc_signature(),
            self.chrf_signature()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_says_how_many_references() {
        let one = score(&["a b c"], &[vec!["a b c"]]);
        assert!(one.bleu_signature().starts_with("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:attend-"));
        assert!(one.chrf_signature().starts_with("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:attend-"));
        let var = score(&["a", "b"], &[vec!["a"], vec!["b", "c"]]);
        assert!(var.bleu_signature().starts_with("nrefs:var|"), "{}", var.bleu_signature());
        assert!((one.chrf.score - 100.0).abs() < 1e-9);
        assert!(one.bleu_lc_signature().starts_with("nrefs:1|case:lc|"));
        let case = score(&["The cat sat on the mat ."], &[vec!["the cat sat on the mat ."]]);
        assert!(case.bleu.score < 100.0 && (case.bleu_lc.score - 100.0).abs() < 1e-9);
    }
}
