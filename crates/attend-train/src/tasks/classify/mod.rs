//! Text-classification runs (`task = "classify"`): labelled texts in, a
//! Transformer-encoder, LSTM or bag-of-n-grams classifier trained with
//! cross-entropy, scored by accuracy (with per-class precision, recall and F1
//! and a confusion matrix); `best/` keeps the most accurate weights.

pub mod data;
pub mod ensemble;
pub mod scores;
pub mod settings;

use std::path::Path;

use attend_data::{BatchBy, Batcher, Vocab};
use attend_model::classifier::{Classifier, ClassifierConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;

use crate::config::{NormPlacement, RunConfig};
use crate::error::Result;
use crate::tasks::lm::data::VOCAB;
use crate::tasks::split_even;
use crate::trainer::metrics::Column;
use crate::trainer::{self, checkpoint, run_dir, Evaluation, FitOptions, Fitted, Loss, Start, Trainable};
use data::{prepare, read_labels, ClassData};
use scores::{batch_tensors, evaluate, ClassScores};
use settings::ClassifyConfig;

/// The model config of a classification run.
pub fn classifier_config(cfg: &ClassifyConfig, vocab: usize, classes: usize) -> ClassifierConfig {
    let m = &cfg.model;
    ClassifierConfig::new(vocab, classes)
        .with_arch(m.arch)
        .with_d_model(m.d_model)
        .with_n_heads(m.n_heads)
        .with_d_ff(m.d_ff)
        .with_layers(m.layers)
        .with_dropout(m.dropout)
        .with_max_len(m.max_len)
        .with_pooling(m.pooling)
        .with_bidirectional(m.bidirectional)
        .with_norm_first(m.norm == NormPlacement::Pre)
}

/// A classification run as the trainer sees it.
pub struct ClassifyTask<'a> {
    cfg: &'a ClassifyConfig,
    data: ClassData,
    batcher: Batcher,
}

impl<'a> ClassifyTask<'a> {
    /// Reads the data of `cfg` (vocabulary and labels from `run_dir` when resuming).
    pub fn new(cfg: &'a ClassifyConfig, run_dir: Option<&Path>) -> Result<Self> {
        let data = prepare(cfg, run_dir)?;
        let batcher = Batcher { size: cfg.data.batch_size, by: BatchBy::Sentences, bucket: cfg.data.bucket, seed: cfg.train.seed };
        Ok(Self { cfg, data, batcher })
    }

    /// The encoded data.
    pub fn data(&self) -> &ClassData {
        &self.data
    }
}

impl Trainable for ClassifyTask<'_> {
    type Model = Classifier;
    type Batch = Vec<usize>;

    fn init_model(&self, device: &Device) -> Result<Classifier> {
        Ok(classifier_config(self.cfg, self.data.vocab.len(), self.data.labels.len()).init(device)?)
    }

    fn size(&self) -> Result<(u128, String)> {
        let (m, v) = (&self.cfg.model, self.data.vocab.len());
        let count = classifier_config(self.cfg, v, self.data.labels.len()).param_count();
        Ok((count, format!("the model (model.d_model = {}, model.d_ff = {}, model.layers = {}, a vocabulary of {v})", m.d_model, m.d_ff, m.layers)))
    }

    fn prepare_fresh(&self, model: &mut Classifier) -> Result<Vec<String>> {
        let Some(path) = &self.cfg.model.init_embeddings else { return Ok(Vec::new()) };
        let vectors = attend_data::WordVectors::read(path, None)?;
        let reports = crate::tasks::word2vec::init::init_classifier(model, &vectors, path, &self.data.vocab)?;
        Ok(reports.iter().map(|r| format!("embedding: {} of {} tokens initialised from word vectors", r.found, r.total)).collect())
    }

    fn run_files(&self) -> Result<Vec<(String, Vec<u8>)>> {
        self.data.run_files()
    }

    fn width(&self) -> usize {
        self.cfg.model.d_model
    }

    fn epoch(&self, epoch: usize) -> Vec<Vec<usize>> {
        self.batcher.epoch_batches(&self.data.train, epoch as u64)
    }

    fn loss(&self, model: &Classifier, batch: &Vec<usize>, device: &Device) -> Result<Loss> {
        let (ids, lengths, labels) = batch_tensors(&self.data.train, batch, device);
        let smoothing = self.cfg.train.label_smoothing;
        let loss_fn = CrossEntropyLossConfig::new().with_smoothing((smoothing > 0.0).then_some(smoothing)).init(device);
        let value = loss_fn.forward(model.forward(ids, &lengths), labels);
        let tokens = batch.iter().map(|&i| self.data.train[i].src.len()).sum();
        Ok(Loss { value, terms: batch.len(), tokens })
    }

    fn split(&self, batch: &Vec<usize>, parts: usize) -> Vec<Vec<usize>> {
        split_even(batch, parts)
    }

    fn evaluate(&self, model: &Classifier, device: &Device, _step: usize) -> Result<Evaluation> {
        let s = evaluate(model, &self.data.labels, &self.data.valid, device)?;
        let acc = s.accuracy();
        Ok(Evaluation {
            columns: vec![Column::new("valid_loss", s.loss, 5), Column::new("valid_acc", acc, 5)],
            score: acc,
            summary: format!("valid_loss {:.4}  accuracy {acc:.4}", s.loss),
        })
    }
}

/// What a classification run did.
pub struct ClassReport {
    pub fitted: Fitted<Classifier>,
    /// Scores of the best weights on the validation data.
    pub best: Option<ClassScores>,
    pub train_texts: usize,
    pub valid_texts: usize,
}

/// Trains (or resumes) the classification run `cfg` in the run directory `dir`.
pub fn train(whole: &RunConfig, cfg: &ClassifyConfig, dir: &Path, resume: bool, devices: &[Device], opts: &FitOptions) -> Result<ClassReport> {
    let task = ClassifyTask::new(cfg, resume.then_some(dir))?;
    let start = if resume { Start::Resume } else { Start::New(whole) };
    let fitted = trainer::fit(&task, &cfg.train, dir, start, devices, opts)?;
    let inner = devices[0].clone().inner();
    let best_path = dir.join(run_dir::BEST).join("model.bpk");
    let best = if best_path.exists() {
        let m = checkpoint::load_model(task.init_model(&inner)?, &best_path)?;
        Some(evaluate(&m, &task.data.labels, &task.data.valid, &inner)?)
    } else {
        None
    };
    Ok(ClassReport { best, train_texts: task.data.train.len(), valid_texts: task.data.valid.len(), fitted })
}

/// A trained classifier with its vocabulary and labels.
pub struct LoadedClassifier {
    pub cfg: ClassifyConfig,
    pub tokenizer: attend_data::SharedTokenizer,
    pub vocab: Vocab,
    pub labels: Vec<String>,
    pub model: Classifier,
}

/// Loads the best weights of a classification run.
pub fn load_classifier(run: &Path, device: &Device) -> Result<LoadedClassifier> {
    let cfg = match run_dir::config(run)? {
        RunConfig::Classify(cfg) => cfg,
        other => return Err(other.wrong_kind(run, "classification")),
    };
    let tokenizer = crate::tasks::subwords::saved(data::tokenizer_choice(&cfg.data), run, crate::tasks::subwords::TOKENIZER_FILE)?.tokenizer;
    let vocab = Vocab::load(&run.join(VOCAB))?;
    let labels = read_labels(run)?;
    let model = classifier_config(&cfg, vocab.len(), labels.len()).init(device)?;
    let model = checkpoint::load_model(model, &run_dir::weights_dir(run)?.join("model.bpk"))?;
    Ok(LoadedClassifier { cfg, tokenizer, vocab, labels, model })
}
