//! A classifier's scores: accuracy, precision, recall and F1 per class, and
//! the confusion matrix; and the class probabilities they are computed from.

use attend_data::Example;
use attend_model::classifier::Classifier;
use burn::prelude::*;

use crate::error::{Result, TrainError};

/// Scores of a classifier on labelled data.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassScores {
    pub labels: Vec<String>,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<usize>>,
    /// Mean cross-entropy.
    pub loss: f64,
}

impl ClassScores {
    /// Fraction predicted right.
    pub fn accuracy(&self) -> f64 {
        let right: usize = (0..self.labels.len()).map(|i| self.confusion[i][i]).sum();
        right as f64 / self.total().max(1) as f64
    }
    fn total(&self) -> usize {
        self.confusion.iter().flatten().sum()
    }
    /// (precision, recall, F1) of class `k`.
    pub fn prf(&self, k: usize) -> (f64, f64, f64) {
        let tp = self.confusion[k][k] as f64;
        let predicted: usize = self.confusion.iter().map(|row| row[k]).sum();
        let actual: usize = self.confusion[k].iter().sum();
        let p = if predicted > 0 { tp / predicted as f64 } else { 0.0 };
        let r = if actual > 0 { tp / actual as f64 } else { 0.0 };
        let f = if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 };
        (p, r, f)
    }
    /// A printable report: accuracy, per-class P/R/F1, confusion matrix.
    pub fn report(&self) -> String {
        let mut s = format!("accuracy {:.4} ({} texts), loss {:.4}\n", self.accuracy(), self.total(), self.loss);
        s.push_str(&format!("  {:<12} {:>9} {:>9} {:>9} {:>7}\n", "class", "precision", "recall", "F1", "count"));
        let mut macro_f = 0.0;
        for (k, label) in self.labels.iter().enumerate() {
            let (p, r, f) = self.prf(k);
            macro_f += f / self.labels.len() as f64;
            s.push_str(&format!("  {label:<12} {p:>9.4} {r:>9.4} {f:>9.4} {:>7}\n", self.confusion[k].iter().sum::<usize>()));
        }
        s.push_str(&format!("  macro F1 {macro_f:.4}\n  confusion (rows: true, columns: predicted)\n  {:<12}", ""));
        for l in &self.labels {
            s.push_str(&format!(" {l:>8}"));
        }
        for (k, row) in self.confusion.iter().enumerate() {
            s.push_str(&format!("\n  {:<12}", self.labels[k]));
            for n in row {
                s.push_str(&format!(" {n:>8}"));
            }
        }
        s
    }
}

/// Padded ids `[batch, seq]`, true lengths and labels `[batch]` of the examples `idx`.
pub fn batch_tensors(examples: &[Example], idx: &[usize], device: &Device) -> (Tensor<2, Int>, Vec<usize>, Tensor<1, Int>) {
    let seq = idx.iter().map(|&i| examples[i].src.len()).max().unwrap_or(1);
    let mut ids = vec![attend_data::PAD as i64; idx.len() * seq];
    let mut lengths = Vec::with_capacity(idx.len());
    let mut labels = Vec::with_capacity(idx.len());
    for (b, &i) in idx.iter().enumerate() {
        let e = &examples[i];
        for (t, &id) in e.src.iter().enumerate() {
            ids[b * seq + t] = id as i64;
        }
        lengths.push(e.src.len());
        labels.push(e.tgt[0] as i64);
    }
    (
        Tensor::from_data(TensorData::new(ids, [idx.len(), seq]), device),
        lengths,
        Tensor::from_data(TensorData::new(labels, [idx.len()]), device),
    )
}

/// Class probabilities `[texts, classes]` of encoded texts.
pub fn probabilities(model: &Classifier, texts: &[Vec<u32>], device: &Device) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(256) {
        let ex: Vec<Example> = chunk.iter().map(|s| Example { src: s.clone(), tgt: vec![0] }).collect();
        let idx: Vec<usize> = (0..ex.len()).collect();
        let (ids, lengths, _) = batch_tensors(&ex, &idx, device);
        let p = burn::tensor::activation::softmax(model.forward(ids, &lengths), 1);
        let classes = p.dims()[1];
        let v = p.try_into_vec_as::<f32>().map_err(|e| TrainError::Device(format!("{e:?}")))?;
        out.extend(v.chunks(classes).map(|c| c.to_vec()));
    }
    Ok(out)
}

/// Scores a model on encoded examples.
pub fn evaluate(model: &Classifier, labels: &[String], data: &[Example], device: &Device) -> Result<ClassScores> {
    let texts: Vec<Vec<u32>> = data.iter().map(|e| e.src.clone()).collect();
    let truths: Vec<usize> = data.iter().map(|e| e.tgt[0] as usize).collect();
    Ok(scores(labels, &truths, &probabilities(model, &texts, device)?))
}

/// The index of the most probable class (the first on a tie).
pub fn argmax(p: &[f32]) -> usize {
    p.iter().enumerate().fold(0, |b, (i, &x)| if x > p[b] { i } else { b })
}

/// Scores of class probabilities `probs` against the true label indices
/// `truths`: the most probable label is the prediction.
pub fn scores(labels: &[String], truths: &[usize], probs: &[Vec<f32>]) -> ClassScores {
    let mut confusion = vec![vec![0usize; labels.len()]; labels.len()];
    let mut loss = 0f64;
    for (&truth, p) in truths.iter().zip(probs) {
        confusion[truth][argmax(p)] += 1;
        loss -= (p[truth].max(1e-12) as f64).ln();
    }
    ClassScores { labels: labels.to_vec(), confusion, loss: loss / truths.len().max(1) as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_recall_f1_and_accuracy_from_the_confusion_matrix() {
        // rows: true neg (3 right, 1 called pos), true pos (2 called neg, 4 right)
        let s = ClassScores { labels: vec!["neg".into(), "pos".into()], confusion: vec![vec![3, 1], vec![2, 4]], loss: 0.0 };
        assert!((s.accuracy() - 0.7).abs() < 1e-12);
        let (p, r, f) = s.prf(1);
        assert!((p - 0.8).abs() < 1e-12 && (r - 4.0 / 6.0).abs() < 1e-12);
        assert!((f - 2.0 * 0.8 * (4.0 / 6.0) / (0.8 + 4.0 / 6.0)).abs() < 1e-12);
        assert!(s.report().contains("macro F1"));
        assert_eq!(argmax(&[0.2, 0.5, 0.5]), 1);
    }
}
