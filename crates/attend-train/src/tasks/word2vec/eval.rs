//! Using and judging word vectors: nearest neighbours and analogies by cosine
//! (as gensim's `most_similar`), the analogy test of Mikolov et al. (2013,
//! `questions-words.txt`) scored as gensim's `evaluate_word_analogies`, and
//! word-similarity sets (WordSim-353, SimLex-999) scored by Spearman's rank
//! correlation as gensim's `evaluate_word_pairs`.

use std::collections::HashMap;
use std::path::Path;

use attend_data::WordVectors;

use crate::error::{Result, TrainError};

/// Unit-length copies of the vectors, for cosine similarity.
pub struct Unit {
    words: Vec<String>,
    dim: usize,
    data: Vec<f32>,
    /// lowercase word → index of its most frequent spelling
    lower: HashMap<String, usize>,
    exact: HashMap<String, usize>,
}

use super::native::dot;

fn normalise(v: &mut [f32]) {
    let n = dot(v, v).sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

impl Unit {
    /// Normalises every vector to unit length.
    pub fn new(v: &WordVectors) -> Self {
        let mut data = v.data().to_vec();
        for row in data.chunks_exact_mut(v.dim()) {
            normalise(row);
        }
        let mut lower = HashMap::new();
        for (i, w) in v.words().iter().enumerate() {
            lower.entry(w.to_lowercase()).or_insert(i);
        }
        let exact = v.words().iter().enumerate().map(|(i, w)| (w.clone(), i)).collect();
        Self { words: v.words().to_vec(), dim: v.dim(), data, lower, exact }
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Index of a word (exact spelling first, then case-insensitively).
    pub fn find(&self, word: &str) -> Option<usize> {
        self.exact.get(word).copied().or_else(|| self.lower.get(&word.to_lowercase()).copied())
    }

    fn lookup(&self, word: &str) -> Result<usize> {
        self.find(word).ok_or_else(|| TrainError::Invalid(format!("`{word}` is not in the vocabulary")))
    }

    /// The `top` words nearest by cosine to the mean of the unit vectors of
    /// `positive` minus those of `negative`, among the first `restrict`
    /// words, excluding the query words (gensim's `most_similar`).
    pub fn most_similar(&self, positive: &[&str], negative: &[&str], top: usize, restrict: Option<usize>) -> Result<Vec<(String, f32)>> {
        let pos = positive.iter().map(|w| self.lookup(w)).collect::<Result<Vec<_>>>()?;
        let neg = negative.iter().map(|w| self.lookup(w)).collect::<Result<Vec<_>>>()?;
        let mut exclude: Vec<usize> = pos.iter().chain(&neg).copied().collect();
        exclude.sort_unstable();
        let query = self.query(&pos, &neg);
        Ok(self.nearest(&query, &exclude, top, restrict).into_iter().map(|(i, s)| (self.words[i].clone(), s)).collect())
    }

    fn query(&self, pos: &[usize], neg: &[usize]) -> Vec<f32> {
        let mut q = vec![0f32; self.dim];
        for &i in pos {
            q.iter_mut().zip(self.row(i)).for_each(|(q, x)| *q += x);
        }
        for &i in neg {
            q.iter_mut().zip(self.row(i)).for_each(|(q, x)| *q -= x);
        }
        normalise(&mut q);
        q
    }

    fn nearest(&self, q: &[f32], exclude: &[usize], top: usize, restrict: Option<usize>) -> Vec<(usize, f32)> {
        let n = restrict.unwrap_or(self.words.len()).min(self.words.len());
        let mut best: Vec<(usize, f32)> = Vec::with_capacity(top + 1);
        for i in 0..n {
            if exclude.binary_search(&i).is_ok() {
                continue;
            }
            let s = dot(q, self.row(i));
            if best.len() < top || s > best[best.len() - 1].1 {
                let at = best.partition_point(|&(_, b)| b >= s);
                best.insert(at, (i, s));
                best.truncate(top);
            }
        }
        best
    }

    /// Cosine similarity of two words.
    pub fn similarity(&self, a: &str, b: &str) -> Result<f32> {
        Ok(dot(self.row(self.lookup(a)?), self.row(self.lookup(b)?)))
    }
}

/// Score of one section (or of all) of an analogy file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SectionScore {
    pub name: String,
    /// Questions answered correctly.
    pub correct: usize,
    /// Questions whose four words are all in the restricted vocabulary.
    pub evaluated: usize,
    /// Questions in the file.
    pub questions: usize,
}

impl SectionScore {
    /// Accuracy on the evaluated questions (`None` when none was).
    pub fn accuracy(&self) -> Option<f64> {
        (self.evaluated > 0).then(|| self.correct as f64 / self.evaluated as f64)
    }
    /// Questions skipped for unknown words.
    pub fn skipped(&self) -> usize {
        self.questions - self.evaluated
    }
}

/// Runs an analogy file (`: section` lines, then `a b c d` questions meaning
/// a : b = c : d). A question counts only if its four words are among the
/// `restrict` most frequent words (case-insensitively); the answer is the
/// nearest of those to b − a + c, excluding a, b and c. Returns every section
/// in file order, then the total.
pub fn analogies(v: &Unit, path: &Path, restrict: usize) -> Result<Vec<SectionScore>> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let mut restricted: HashMap<String, usize> = HashMap::new();
    for (i, w) in v.words.iter().enumerate().take(restrict) {
        restricted.entry(w.to_lowercase()).or_insert(i);
    }
    let mut sections: Vec<SectionScore> = Vec::new();
    for (n, line) in attend_data::strip_bom(&text).lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix(':') {
            sections.push(SectionScore { name: name.trim().to_string(), ..Default::default() });
            continue;
        }
        let words: Vec<String> = line.split_whitespace().map(str::to_lowercase).collect();
        if words.len() != 4 {
            return Err(TrainError::Invalid(format!(
                "{}:{}: expected four words `a b c d`, found {}",
                path.display(),
                n + 1,
                words.len()
            )));
        }
        if sections.is_empty() {
            sections.push(SectionScore { name: "(no section)".into(), ..Default::default() });
        }
        let section = sections.last_mut().expect("a section");
        section.questions += 1;
        let ids: Option<Vec<usize>> = words.iter().map(|w| restricted.get(w).copied()).collect();
        let Some(ids) = ids else { continue };
        section.evaluated += 1;
        let mut exclude = vec![ids[0], ids[1], ids[2]];
        exclude.sort_unstable();
        let q = v.query(&[ids[1], ids[2]], &[ids[0]]);
        let best = v.nearest(&q, &exclude, 1, Some(restrict));
        if best.first().is_some_and(|&(i, _)| v.words[i].to_lowercase() == words[3]) {
            section.correct += 1;
        }
    }
    let total = SectionScore {
        name: "overall".into(),
        correct: sections.iter().map(|s| s.correct).sum(),
        evaluated: sections.iter().map(|s| s.evaluated).sum(),
        questions: sections.iter().map(|s| s.questions).sum(),
    };
    if total.questions == 0 {
        return Err(TrainError::Invalid(format!("{}: no analogy questions", path.display())));
    }
    sections.push(total);
    Ok(sections)
}

/// Result of a word-similarity set.
#[derive(Debug, Clone, PartialEq)]
pub struct SimilarityScore {
    /// Pairs in the file.
    pub pairs: usize,
    /// Pairs whose two words are known.
    pub evaluated: usize,
    /// Spearman's rank correlation of cosine against the human scores.
    pub spearman: f64,
    /// Pearson's correlation.
    pub pearson: f64,
}

/// Pearson's correlation coefficient.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

/// Ranks from 1, ties getting their average rank (as scipy's `rankdata`).
pub fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]] == x[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

/// Scores a `word1<TAB>word2<TAB>score` file (`#` lines are comments).
pub fn similarity(v: &Unit, path: &Path) -> Result<SimilarityScore> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let (mut human, mut model, mut pairs) = (Vec::new(), Vec::new(), 0);
    for (n, line) in attend_data::strip_bom(&text).lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let bad = |why: &str| TrainError::Invalid(format!("{}:{}: {why}", path.display(), n + 1));
        if cols.len() < 3 {
            return Err(bad("expected `word1<TAB>word2<TAB>score`"));
        }
        let score: f64 = cols[2].trim().parse().map_err(|_| bad(&format!("`{}` is not a number", cols[2])))?;
        pairs += 1;
        if let (Some(a), Some(b)) = (v.find(cols[0].trim()), v.find(cols[1].trim())) {
            human.push(score);
            model.push(dot(v.row(a), v.row(b)) as f64);
        }
    }
    if human.len() < 2 {
        return Err(TrainError::Invalid(format!(
            "{}: fewer than two of its {pairs} pairs have both words in the vocabulary",
            path.display()
        )));
    }
    Ok(SimilarityScore { pairs, evaluated: human.len(), spearman: spearman(&model, &human), pearson: pearson(&model, &human) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_average_ties_like_scipy() {
        assert_eq!(ranks(&[10.0, 20.0, 10.0, 5.0]), vec![2.5, 4.0, 2.5, 1.0]);
        // scipy.stats.spearmanr([1,2,3,4,5],[5,6,7,8,7]) = 0.8207826816681233
        let r = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5.0, 6.0, 7.0, 8.0, 7.0]);
        assert!((r - 0.820_782_681_668_123_3).abs() < 1e-12, "{r}");
    }

    #[test]
    fn analogy_and_neighbours_on_hand_made_vectors() {
        // royalty along x, gender along y: king − man + woman = queen exactly.
        let words = ["man", "woman", "king", "queen", "apple"].map(String::from).to_vec();
        let data = vec![0.0, 1.0, 0.1, 0.0, -1.0, 0.1, 1.0, 1.0, 0.1, 1.0, -1.0, 0.1, -1.0, 0.0, 1.0];
        let v = Unit::new(&WordVectors::new(words, 3, data).unwrap());
        let top = v.most_similar(&["king", "woman"], &["man"], 2, None).unwrap();
        assert_eq!(top[0].0, "queen");
        assert!(v.most_similar(&["nope"], &[], 1, None).unwrap_err().to_string().contains("nope"));
        let dir = std::env::temp_dir().join(format!("attend-an-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let q = dir.join("q.txt");
        std::fs::write(&q, ": family\nMan Woman King Queen\nman woman king apple\nman woman pear queen\n").unwrap();
        let scores = analogies(&v, &q, 30_000).unwrap();
        assert_eq!(scores[0], SectionScore { name: "family".into(), correct: 1, evaluated: 2, questions: 3 });
        assert_eq!(scores[1].name, "overall");
        // restricted to the two most frequent words, no question can be evaluated
        assert_eq!(analogies(&v, &q, 2).unwrap()[1].evaluated, 0);
        std::fs::write(&q, ": s\nman woman king\n").unwrap();
        assert!(analogies(&v, &q, 10).unwrap_err().to_string().contains("q.txt:2"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
