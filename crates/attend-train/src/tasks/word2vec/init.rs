//! Starting a model from pre-trained word vectors: every embedding row whose
//! token has a vector (exact spelling, else lowercase) is replaced by it, the
//! other rows keep their random initialisation. The vectors are rescaled so
//! that their root-mean-square value equals the random rows', so the model's
//! training dynamics (e.g. the Transformer's √d scaling) stay as designed.

use std::path::Path;

use attend_data::{Vocab, WordVectors};
use attend_model::classifier::Classifier;
use attend_model::Seq2SeqModel;
use burn::module::Param;
use burn::prelude::*;

use crate::error::{Result, TrainError};

/// How many rows of one table came from the vectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitReport {
    /// `source` or `target`.
    pub table: &'static str,
    /// Tokens found in the vectors.
    pub found: usize,
    /// Tokens in the vocabulary.
    pub total: usize,
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// Replaces embedding rows of `model` with `vectors` (read from `path`).
pub fn init_embeddings(model: &mut Seq2SeqModel, vectors: &WordVectors, path: &Path, src: &Vocab, tgt: &Vocab) -> Result<Vec<InitReport>> {
    let tables = model.embeddings_mut().into_iter().map(|(t, e)| (t, e, if t == "source" { src } else { tgt })).collect();
    init_tables(tables, vectors, path)
}

/// Replaces embedding rows of a classifier with `vectors`.
pub fn init_classifier(model: &mut Classifier, vectors: &WordVectors, path: &Path, vocab: &Vocab) -> Result<Vec<InitReport>> {
    let embedding = match model {
        Classifier::Transformer(m) => &mut m.embed.embedding,
        Classifier::Lstm(m) => &mut m.embed,
        Classifier::Bag(m) => &mut m.embed,
    };
    init_tables(vec![("source", embedding, vocab)], vectors, path)
}

fn init_tables(tables: Vec<(&'static str, &mut burn::nn::Embedding, &Vocab)>, vectors: &WordVectors, path: &Path) -> Result<Vec<InitReport>> {
    let mut reports = Vec::new();
    for (table, embedding, vocab) in tables {
        let weight = embedding.weight.val();
        let [rows, width] = weight.dims();
        if vectors.dim() != width {
            return Err(TrainError::Config(format!(
                "{}: the vectors have dimension {}, the model's embeddings {width}; train vectors with --set word2vec.dim={width} or change the model width",
                path.display(),
                vectors.dim()
            )));
        }
        let device = weight.device();
        let mut data = weight.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| TrainError::Device(format!("{e:?}")))?;
        let target = rms(&data);
        let mut hits = Vec::new();
        for (id, token) in vocab.tokens().iter().enumerate().take(rows) {
            let found = vectors.index_of(token).or_else(|| vectors.index_of(&token.to_lowercase()));
            if let Some(i) = found {
                hits.push((id, i));
            }
        }
        let found_rms = rms(&hits.iter().flat_map(|&(_, i)| vectors.row(i).iter().copied()).collect::<Vec<_>>());
        let scale = if found_rms > 0.0 { (target / found_rms) as f32 } else { 1.0 };
        for &(id, i) in &hits {
            for (d, &x) in data[id * width..(id + 1) * width].iter_mut().zip(vectors.row(i)) {
                *d = x * scale;
            }
        }
        let tensor = Tensor::<2>::from_data(TensorData::new(data, [rows, width]), &device);
        embedding.weight = Param::from_tensor(tensor); // trainable, like the table it replaces
        reports.push(InitReport { table, found: hits.len(), total: vocab.len() });
    }
    Ok(reports)
}
