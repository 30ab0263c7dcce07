//! Corpus BLEU (Papineni et al., 2002) exactly as sacreBLEU computes it by
//! default: 13a tokenisation, case-sensitive, n-grams up to 4, exponential
//! smoothing, brevity penalty against the closest reference length.
//! `tests/fixtures/bleu` holds sacreBLEU's own numbers for a test corpus.

use std::collections::HashMap;

const MAX_ORDER: usize = 4;

/// Sufficient statistics and the score of a corpus BLEU computation.
#[derive(Debug, Clone, PartialEq)]
pub struct Bleu {
    /// BLEU in 0–100.
    pub score: f64,
    pub counts: [usize; MAX_ORDER],
    pub totals: [usize; MAX_ORDER],
    pub sys_len: usize,
    pub ref_len: usize,
}

fn is_13a_punct(c: char) -> bool {
    matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/')
}

/// sacreBLEU's `13a` tokenizer (mteval-v13a): splits punctuation off words,
/// keeping periods and commas inside numbers.
pub fn tokenize_13a(line: &str) -> String {
    let mut line = line.replace("<skipped>", "").replace("-\n", "").replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let chars: Vec<char> = format!(" {line} ").chars().collect();
    // Rule 1: each punctuation character stands alone.
    let mut s = Vec::with_capacity(chars.len() * 2);
    for c in chars {
        if is_13a_punct(c) {
            s.extend([' ', c, ' ']);
        } else {
            s.push(c);
        }
    }
    let digit = |c: char| c.is_ascii_digit();
    let dot = |c: char| c == '.' || c == ',';
    // Rules 2–4 are regex substitutions scanned left to right, non-overlapping.
    let s = pairwise(&s, |a, b| (!digit(a) && dot(b)).then(|| vec![a, ' ', b, ' ']));
    let s = pairwise(&s, |a, b| (dot(a) && !digit(b)).then(|| vec![' ', a, ' ', b]));
    let s = pairwise(&s, |a, b| (digit(a) && b == '-').then(|| vec![a, ' ', b, ' ']));
    s.into_iter().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ")
}

fn pairwise(s: &[char], rule: impl Fn(char, char) -> Option<Vec<char>>) -> Vec<char> {
    let mut out = Vec::with_capacity(s.len() + 16);
    let mut i = 0;
    while i < s.len() {
        if i + 1 < s.len() {
            if let Some(rep) = rule(s[i], s[i + 1]) {
                out.extend(rep);
                i += 2;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

fn ngrams(tokens: &[&str], n: usize) -> HashMap<Vec<String>, usize> {
    let mut m = HashMap::new();
    if tokens.len() >= n {
        for w in tokens.windows(n) {
            *m.entry(w.iter().map(|t| t.to_string()).collect()).or_insert(0) += 1;
        }
    }
    m
}

/// Corpus BLEU of `hyps` against one or more references per hypothesis
/// (`refs[i]` lists the references of `hyps[i]`; an empty list skips nothing
/// but counts no reference length).
pub fn corpus_bleu<H: AsRef<str>, R: AsRef<str>>(hyps: &[H], refs: &[Vec<R>]) -> Bleu {
    let mut counts = [0usize; MAX_ORDER];
    let mut totals = [0usize; MAX_ORDER];
    let (mut sys_len, mut ref_len) = (0usize, 0usize);
    for (hyp, rs) in hyps.iter().zip(refs) {
        let h = tokenize_13a(hyp.as_ref());
        let h: Vec<&str> = h.split_whitespace().collect();
        let toks: Vec<String> = rs.iter().map(|r| tokenize_13a(r.as_ref())).collect();
        let rtoks: Vec<Vec<&str>> = toks.iter().map(|r| r.split_whitespace().collect()).collect();
        sys_len += h.len();
        // Closest reference length; ties go to the shorter one.
        let mut best: Option<(usize, usize)> = None;
        for r in &rtoks {
            let diff = r.len().abs_diff(h.len());
            if best.is_none_or(|(d, l)| diff < d || (diff == d && r.len() < l)) {
                best = Some((diff, r.len()));
            }
        }
        ref_len += best.map(|b| b.1).unwrap_or(0);
        for n in 1..=MAX_ORDER {
            let hyp_ngrams = ngrams(&h, n);
            let mut max_ref: HashMap<Vec<String>, usize> = HashMap::new();
            for r in &rtoks {
                for (g, c) in ngrams(r, n) {
                    let e = max_ref.entry(g).or_insert(0);
                    *e = (*e).max(c);
                }
            }
            for (g, c) in &hyp_ngrams {
                counts[n - 1] += (*c).min(max_ref.get(g).copied().unwrap_or(0));
            }
            totals[n - 1] += h.len().saturating_sub(n - 1);
        }
    }
    let score = compute_score(&counts, &totals, sys_len, ref_len);
    Bleu { score, counts, totals, sys_len, ref_len }
}

/// Corpus BLEU of the lowercased texts (sacreBLEU's `lowercase=True`,
/// signature `case:lc`): the case-insensitive figure small-model tutorials
/// report, for a like-for-like comparison with them.
pub fn corpus_bleu_lowercase<H: AsRef<str>, R: AsRef<str>>(hyps: &[H], refs: &[Vec<R>]) -> Bleu {
    let hyps: Vec<String> = hyps.iter().map(|h| h.as_ref().to_lowercase()).collect();
    let refs: Vec<Vec<String>> = refs.iter().map(|rs| rs.iter().map(|r| r.as_ref().to_lowercase()).collect()).collect();
    corpus_bleu(&hyps, &refs)
}

fn compute_score(counts: &[usize; 4], totals: &[usize; 4], sys_len: usize, ref_len: usize) -> f64 {
    let mut precisions = [0f64; MAX_ORDER];
    let mut smooth = 1f64;
    for n in 0..MAX_ORDER {
        if totals[n] == 0 {
            break;
        }
        precisions[n] = if counts[n] == 0 {
            smooth *= 2.0;
            100.0 / (smooth * totals[n] as f64)
        } else {
            100.0 * counts[n] as f64 / totals[n] as f64
        };
    }
    let log = |p: f64| if p == 0.0 { -9_999_999_999.0 } else { p.ln() };
    let score = (precisions.iter().map(|&p| log(p)).sum::<f64>() / MAX_ORDER as f64).exp();
    let bp = if sys_len >= ref_len {
        1.0
    } else if sys_len > 0 {
        (1.0 - ref_len as f64 / sys_len as f64).exp()
    } else {
        0.0
    };
    bp * score
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_matches_13a_on_punctuation_and_numbers() {
        assert_eq!(tokenize_13a("Il est là, 3,5 heures."), "Il est là , 3,5 heures .");
        assert_eq!(tokenize_13a("Tu es \"génial\" (vraiment)?"), "Tu es \" génial \" ( vraiment ) ?");
        assert_eq!(tokenize_13a("10-12 j'ai a&amp;b"), "10 - 12 j'ai a & b");
        assert_eq!(tokenize_13a("fin..."), "fin . . .");
    }

    #[test]
    fn perfect_and_empty() {
        let b = corpus_bleu(&["a b c d e"], &[vec!["a b c d e"]]);
        assert!((b.score - 100.0).abs() < 1e-9);
        let b = corpus_bleu(&[""], &[vec!["a b"]]);
        assert_eq!(b.score, 0.0);
    }
}
