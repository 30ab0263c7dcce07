//! Ensembles of classifiers (Hansen & Salamon, 1990, "Neural network
//! ensembles"; Dietterich, 2000, "Ensemble methods in machine learning"):
//! several runs trained for the same labels vote by the mean of their class
//! probabilities. Networks that differ only in their random seed already
//! disagree on the hard texts, and their average is usually more accurate
//! than each of them. Every member reads a text with its own tokenizer and
//! vocabulary, so runs with different settings can be combined; a single run
//! is an ensemble of one and scores exactly as it does alone.

use std::path::PathBuf;

use burn::prelude::*;

use attend_data::Labeled;

use super::data::encode_text;
use super::scores::{probabilities, scores, ClassScores};
use super::{load_classifier, LoadedClassifier};
use crate::error::{Result, TrainError};

/// Classifiers whose probabilities are averaged.
pub struct Ensemble {
    /// The members, each with its own config, vocabulary and labels.
    members: Vec<LoadedClassifier>,
    /// `order[m][k]`: the position of label `k` (of the first member) among member `m`'s labels.
    order: Vec<Vec<usize>>,
}

impl Ensemble {
    /// Loads the best weights of every run; all must know the same labels
    /// (in any order).
    pub fn load(runs: &[PathBuf], device: &Device) -> Result<Self> {
        let first = runs.first().ok_or_else(|| TrainError::Invalid("an ensemble needs at least one run".into()))?;
        let mut members = Vec::with_capacity(runs.len());
        for run in runs {
            members.push(load_classifier(run, device)?);
        }
        let labels = members[0].labels.clone();
        let mut order = Vec::with_capacity(members.len());
        for (m, run) in members.iter().zip(runs) {
            let same_set = m.labels.len() == labels.len() && labels.iter().all(|l| m.labels.contains(l));
            if !same_set {
                return Err(TrainError::Invalid(format!(
                    "{}: its labels ({}) differ from those of {} ({}); an ensemble's runs must classify into the same labels",
                    run.display(),
                    m.labels.join(", "),
                    first.display(),
                    labels.join(", ")
                )));
            }
            order.push(labels.iter().map(|l| m.labels.iter().position(|x| x == l).unwrap_or(0)).collect());
        }
        Ok(Self { members, order })
    }

    /// The labels, in the first run's order (the order of [`Self::probabilities`]).
    pub fn labels(&self) -> &[String] {
        &self.members[0].labels
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there is no member (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The members' mean class probabilities of each text.
    pub fn probabilities(&self, texts: &[String], device: &Device) -> Result<Vec<Vec<f32>>> {
        let k = self.labels().len();
        let mut mean = vec![vec![0f32; k]; texts.len()];
        for (m, order) in self.members.iter().zip(&self.order) {
            let ids: Vec<Vec<u32>> = texts.iter().map(|t| encode_text(&m.cfg, m.tokenizer.as_ref(), &m.vocab, t)).collect();
            for (row, p) in mean.iter_mut().zip(probabilities(&m.model, &ids, device)?) {
                for (j, &pos) in order.iter().enumerate() {
                    row[j] += p[pos] / self.members.len() as f32;
                }
            }
        }
        Ok(mean)
    }

    /// Accuracy, precision/recall/F1 and confusion matrix of the ensemble on
    /// labelled texts (`source` names them in errors).
    pub fn evaluate(&self, data: &[Labeled], source: &str, device: &Device) -> Result<ClassScores> {
        let labels = self.labels();
        let mut truths = Vec::with_capacity(data.len());
        for (i, d) in data.iter().enumerate() {
            let k = labels.iter().position(|l| *l == d.label).ok_or_else(|| {
                TrainError::Invalid(format!(
                    "{source}: text {} has the label `{}`, which the model does not know ({})",
                    i + 1,
                    d.label,
                    labels.join(", ")
                ))
            })?;
            truths.push(k);
        }
        let texts: Vec<String> = data.iter().map(|d| d.text.clone()).collect();
        Ok(scores(labels, &truths, &self.probabilities(&texts, device)?))
    }
}
