//! Text-classification runs (`task = "classify"`): labelled sentences in,
//! a Transformer-encoder or LSTM classifier trained with Adam and
//! cross-entropy, scored each epoch by accuracy, per-class precision, recall
//! and F1, and a confusion matrix; the best epoch's weights are kept.
//!
//! Data: `label<TAB>text` lines (a first line `label<TAB>…` is a header), or
//! `label text` lines when there is no tab (the SST files), or `.pos`/`.neg`
//! file pairs (rt-polarity), one text per line.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use attend_data::{read_lines, Batcher, Example, TokenizerSpec, Vocab};
use attend_model::classifier::{Classifier, ClassifierArch, ClassifierConfig};
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::checkpoint::{self, TrainState};
use crate::clip::clip_global_norm;
use crate::config::RunConfig;
use crate::ema::Ema;
use crate::error::{Result, TrainError};
use crate::schedule::Schedule;
use crate::trainer::{Outcome, RunFiles};

/// One labelled text.
#[derive(Debug, Clone, PartialEq)]
pub struct Labeled {
    pub label: String,
    pub text: String,
}

/// Reads labelled texts from `paths` (see the module docs for the formats).
pub fn read_labeled(paths: &[PathBuf]) -> Result<Vec<Labeled>> {
    let mut out = Vec::new();
    for path in paths {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
        let lines = read_lines(path)?;
        if ext == "pos" || ext == "neg" {
            out.extend(lines.into_iter().filter(|l| !l.trim().is_empty()).map(|text| Labeled { label: ext.to_string(), text }));
            continue;
        }
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() || (i == 0 && line.starts_with("label\t")) {
                continue;
            }
            let (label, text) = line
                .split_once('\t')
                .or_else(|| line.split_once(' '))
                .ok_or_else(|| TrainError::Invalid(format!("{}:{}: expected `label<TAB>text`", path.display(), i + 1)))?;
            if label.trim().is_empty() || text.trim().is_empty() {
                return Err(TrainError::Invalid(format!("{}:{}: empty label or text", path.display(), i + 1)));
            }
            out.push(Labeled { label: label.trim().to_string(), text: text.to_string() });
        }
    }
    if out.is_empty() {
        return Err(TrainError::Invalid(format!("no labelled texts in {}", paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))));
    }
    Ok(out)
}

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

/// A run's vocabulary, labels and encoded data.
pub struct ClassData {
    pub vocab: Vocab,
    pub labels: Vec<String>,
    pub train: Vec<Example>,
    pub valid: Vec<Example>,
    /// The texts held out of the training data for validation (none with `data.valid_text`).
    pub held_out: Vec<Labeled>,
}

/// The labels file of a classification run.
pub const LABELS: &str = "labels.json";

/// The held-out validation texts of a run without `data.valid_text`, as
/// `label<TAB>text` lines, so that `eval --data RUN/valid.tsv` scores any run
/// or ensemble on them.
pub const HELD_OUT: &str = "valid.tsv";

fn write_held_out(run: &Path, texts: &[Labeled]) -> Result<()> {
    let mut out = String::from("label\ttext\n");
    for t in texts {
        out.push_str(&format!("{}\t{}\n", t.label, t.text));
    }
    checkpoint::write_atomic(&run.join(HELD_OUT), out.as_bytes())
}

fn read_labels(run: &Path) -> Result<Vec<String>> {
    let path = run.join(LABELS);
    let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint { path, reason: e.to_string() })
}

fn spec(cfg: &RunConfig) -> TokenizerSpec {
    TokenizerSpec { kind: cfg.data.tokenizer, lowercase: cfg.data.lowercase }
}

/// `words` followed, for `n` > 1, by every run of 2..=n adjacent words joined
/// by a space (a word token never holds one), the bag-of-n-grams classifier's
/// tokens.
pub fn with_ngrams(words: Vec<String>, n: usize) -> Vec<String> {
    if n < 2 {
        return words;
    }
    let grams: Vec<String> = (2..=n).flat_map(|k| words.windows(k).map(|w| w.join(" ")).collect::<Vec<_>>()).collect();
    let mut tokens = words;
    tokens.extend(grams);
    tokens
}

/// Token ids of a text: its first `max_len` tokens (and their n-grams).
pub fn encode_text(cfg: &RunConfig, vocab: &Vocab, text: &str) -> Vec<u32> {
    let mut words = spec(cfg).build().tokenize(text);
    words.truncate(cfg.model.max_len);
    let mut ids = vocab.encode(&with_ngrams(words, cfg.data.ngrams), false, false);
    if ids.is_empty() {
        ids.push(attend_data::UNK);
    }
    ids
}

fn examples(cfg: &RunConfig, vocab: &Vocab, labels: &[String], data: &[Labeled], what: &str) -> Result<Vec<Example>> {
    data.iter()
        .map(|d| {
            let k = labels.iter().position(|l| *l == d.label).ok_or_else(|| {
                TrainError::Invalid(format!("{what}: label `{}` does not occur in the training data ({})", d.label, labels.join(", ")))
            })?;
            Ok(Example { src: encode_text(cfg, vocab, &d.text), tgt: vec![k as u32] })
        })
        .collect()
}

/// Removes fold `fold` of `folds` near-equal contiguous parts from `data` and
/// returns it (k-fold cross-validation: the folds of one shuffle cover every
/// example exactly once).
fn hold_out_fold<T>(data: &mut Vec<T>, fold: usize, folds: usize) -> Result<Vec<T>> {
    if folds < 2 || fold >= folds {
        return Err(TrainError::Config(format!("data.fold = {fold}, data.folds = {folds}: need folds >= 2 and 0 <= fold < folds")));
    }
    if data.len() < folds {
        return Err(TrainError::Invalid(format!("{} examples cannot be split into {folds} folds", data.len())));
    }
    let (start, end) = (fold * data.len() / folds, (fold + 1) * data.len() / folds);
    let tail = data.split_off(end);
    let held = data.split_off(start);
    data.extend(tail);
    Ok(held)
}

/// Reads and encodes a run's data; the vocabulary and labels come from `run` when resuming.
pub fn prepare_classify(cfg: &RunConfig, run: Option<&Path>) -> Result<ClassData> {
    if cfg.data.text.is_empty() {
        return Err(TrainError::Config("a classifier needs data.text (--data FILE...)".into()));
    }
    let mut train = read_labeled(&cfg.data.text)?;
    let valid = match &cfg.data.valid_text {
        Some(_) if cfg.data.fold.is_some() => {
            return Err(TrainError::Config("data.fold picks the validation examples from data.text; it cannot be used with data.valid_text".into()))
        }
        Some(p) => read_labeled(std::slice::from_ref(p))?,
        None => {
            // A seeded tenth of the training data, or one fold of `folds`.
            let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.data.split_seed.unwrap_or(cfg.train.seed));
            train.shuffle(&mut rng);
            match cfg.data.fold {
                None => {
                    let n = (train.len() / 10).max(1);
                    train.split_off(train.len() - n)
                }
                Some(fold) => hold_out_fold(&mut train, fold, cfg.data.folds)?,
            }
        }
    };
    let (vocab, labels) = match run {
        Some(run) => (Vocab::load(&run.join(crate::lm::VOCAB))?, read_labels(run)?),
        None => {
            let tok = spec(cfg).build();
            let seqs: Vec<Vec<String>> = train.iter().map(|d| with_ngrams(tok.tokenize(&d.text), cfg.data.ngrams)).collect();
            let max = (cfg.data.max_vocab > 0).then_some(cfg.data.max_vocab);
            let vocab = Vocab::build(seqs.iter().map(|s| s.as_slice()), cfg.data.min_freq, max);
            let mut labels: Vec<String> = train.iter().map(|d| d.label.clone()).collect();
            labels.sort();
            labels.dedup();
            if labels.len() < 2 {
                return Err(TrainError::Invalid(format!("the training data has only the label {labels:?}; a classifier needs two or more")));
            }
            (vocab, labels)
        }
    };
    let train = examples(cfg, &vocab, &labels, &train, "training data")?;
    let encoded = examples(cfg, &vocab, &labels, &valid, "validation data")?;
    let held_out = if cfg.data.valid_text.is_none() { valid } else { Vec::new() };
    Ok(ClassData { vocab, labels, train, valid: encoded, held_out })
}

/// The model config of a classification run.
pub fn classifier_config(cfg: &RunConfig, vocab: usize, classes: usize) -> Result<ClassifierConfig> {
    let m = &cfg.model;
    let arch = match m.arch.as_str() {
        "transformer" => ClassifierArch::Transformer,
        "lstm" => ClassifierArch::Lstm,
        "bag" => ClassifierArch::Bag,
        other => return Err(TrainError::Config(format!("model.arch = {other:?}: a classifier is a `transformer`, an `lstm` or a `bag` (of n-grams)"))),
    };
    if cfg.data.ngrams == 0 || (cfg.data.ngrams > 1 && arch != ClassifierArch::Bag) {
        return Err(TrainError::Config(format!(
            "data.ngrams = {}: must be 1, or more with model.arch = \"bag\" (the other classifiers read the words in order)",
            cfg.data.ngrams
        )));
    }
    Ok(ClassifierConfig::new(vocab, classes)
        .with_arch(arch)
        .with_d_model(m.d_model)
        .with_n_heads(m.n_heads)
        .with_d_ff(m.d_ff)
        .with_layers(m.encoder_layers)
        .with_dropout(m.dropout)
        .with_max_len(m.max_len)
        .with_pooling(m.pooling)
        .with_bidirectional(m.bidirectional)
        .with_norm_first(m.norm == crate::config::NormPlacement::Pre))
}

fn batch_tensors(examples: &[Example], idx: &[usize], device: &Device) -> (Tensor<2, Int>, Vec<usize>, Tensor<1, Int>) {
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

/// What a classification run did.
pub struct ClassReport {
    pub outcome: Outcome,
    pub state: TrainState,
    pub params: usize,
    /// Scores of the best epoch on the validation data.
    pub best: Option<ClassScores>,
    pub train_texts: usize,
    pub valid_texts: usize,
    /// Embedding rows taken from `model.init_embeddings`.
    pub init_embeddings: Vec<crate::word2vec::init::InitReport>,
}

/// Trains (or resumes) a classification run in `run`.
pub fn train_classifier(cfg: &RunConfig, run: &Path, resume: bool, device: &Device, interrupt: Arc<AtomicBool>, quiet: bool) -> Result<ClassReport> {
    if !(0.0..1.0).contains(&cfg.train.ema) {
        return Err(TrainError::Config(format!("train.ema = {}: the averaging decay must be in [0, 1) (0 = off)", cfg.train.ema)));
    }
    let data = prepare_classify(cfg, resume.then_some(run))?;
    let ccfg = classifier_config(cfg, data.vocab.len(), data.labels.len())?;
    let device = device.clone().autodiff();
    device.seed(cfg.train.seed);
    let mut model = ccfg.init(&device)?;
    let mut optim = AdamConfig::new().with_beta_1(cfg.train.beta1).with_beta_2(cfg.train.beta2).with_epsilon(cfg.train.epsilon).init();
    let mut state = TrainState::default();
    let mut init_embeddings = Vec::new();
    let mut ema = None;
    if resume {
        let (m, o, s) = checkpoint::load_newest(run, model, optim)?;
        (model, optim, state) = (m.fork(&device), o, s);
        if cfg.train.ema > 0.0 {
            // The average saved with the checkpoint continues; a checkpoint without one starts it here.
            let saved = checkpoint::list(run).pop().map(|(_, dir)| dir.join(EMA_FILE)).filter(|p| p.exists());
            ema = Some(match saved {
                Some(path) => Ema::new(checkpoint::load_model(ccfg.init(&device.clone().inner())?, &path)?, cfg.train.ema, state.step),
                None => Ema::new(model.valid(), cfg.train.ema, 0),
            });
        }
    } else {
        if let Some(path) = &cfg.model.init_embeddings {
            let vectors = attend_data::WordVectors::read(path, None)?;
            init_embeddings = crate::word2vec::init::init_classifier(&mut model, &vectors, path, &data.vocab)?;
        }
        std::fs::create_dir_all(run).map_err(|e| TrainError::io(run, e))?;
        cfg.save(&run.join(RunFiles::CONFIG))?;
        data.vocab.save(&run.join(crate::lm::VOCAB))?;
        let json = serde_json::to_string(&data.labels).map_err(|e| TrainError::Invalid(e.to_string()))?;
        std::fs::write(run.join(LABELS), json).map_err(|e| TrainError::io(&run.join(LABELS), e))?;
        if !data.held_out.is_empty() {
            write_held_out(run, &data.held_out)?;
        }
        if cfg.train.ema > 0.0 {
            ema = Some(Ema::new(model.valid(), cfg.train.ema, 0));
        }
    }
    let batcher = Batcher { size: cfg.data.batch_size, by: attend_data::BatchBy::Sentences, bucket: cfg.data.bucket, seed: cfg.train.seed };
    let per_epoch = batcher.epoch_batches(&data.train, 0).len();
    let total = per_epoch * cfg.train.epochs;
    let schedule = Schedule { kind: cfg.train.schedule, lr: cfg.train.lr, min_lr: cfg.train.min_lr, warmup: cfg.train.warmup_steps, d_model: cfg.model.d_model, total };
    let params = model.num_params();
    let loss_fn = CrossEntropyLossConfig::new().with_smoothing((cfg.train.label_smoothing > 0.0).then_some(cfg.train.label_smoothing)).init(&device);
    let started = Instant::now();
    let elapsed_before = state.elapsed_secs;
    let mut outcome = Outcome::Finished;
    let inner = device.clone().inner();
    'epochs: while state.epoch < cfg.train.epochs {
        let batches = batcher.epoch_batches(&data.train, state.epoch as u64);
        while state.batch_in_epoch < batches.len() {
            let (ids, lengths, labels) = batch_tensors(&data.train, &batches[state.batch_in_epoch], &device);
            device.seed(cfg.train.seed ^ (state.step as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
            let loss = loss_fn.forward(model.forward(ids, &lengths), labels);
            let value: f32 = loss.clone().into_scalar();
            if !value.is_finite() {
                return Err(TrainError::NonFinite { value, step: state.step + 1, run: run.into() });
            }
            let mut grads = GradientsParams::from_grads(loss.backward(), &model);
            if cfg.train.clip_norm > 0.0 {
                clip_global_norm(&model, &mut grads, cfg.train.clip_norm);
            }
            let lr = schedule.at(state.step + 1);
            model = optim.step(lr, model, grads);
            if cfg.train.weight_decay > 0.0 {
                model = model.map(&mut crate::lm::DecayMatrices { factor: 1.0 - lr * cfg.train.weight_decay as f64 });
            }
            if let Some(ema) = &mut ema {
                ema.update(&model.valid());
            }
            state.step += 1;
            state.batch_in_epoch += 1;
            if interrupt.load(Ordering::SeqCst) {
                state.elapsed_secs = elapsed_before + started.elapsed().as_secs_f64();
                save_checkpoint(run, &model, &optim, &state, ema.as_ref())?;
                outcome = Outcome::Interrupted;
                break 'epochs;
            }
        }
        state.epoch += 1;
        state.batch_in_epoch = 0;
        state.elapsed_secs = elapsed_before + started.elapsed().as_secs_f64();
        // With averaging on, the average is what is scored and kept.
        let kept = match &ema {
            Some(ema) => ema.model.clone(),
            None => model.valid(),
        };
        let scores = evaluate(&kept, &data.labels, &data.valid, &inner)?;
        let acc = scores.accuracy();
        if !quiet {
            let last = match &ema {
                Some(_) => format!("  (last weights {:.4})", evaluate(&model.valid(), &data.labels, &data.valid, &inner)?.accuracy()),
                None => String::new(),
            };
            println!("epoch {:>3}  step {:>6}  valid_loss {:.4}  accuracy {acc:.4}{last}  {:.0}s", state.epoch, state.step, scores.loss, state.elapsed_secs);
        }
        if state.best_score.is_none_or(|b| acc > b) {
            state.best_score = Some(acc);
            state.best_step = state.step;
            checkpoint::save_weights(&run.join(RunFiles::BEST), &kept, &state)?;
        }
        save_checkpoint(run, &model, &optim, &state, ema.as_ref())?;
        checkpoint::prune(run, 2);
    }
    let best = if run.join(RunFiles::BEST).join("model.bpk").exists() {
        let m = checkpoint::load_model(ccfg.init(&inner)?, &run.join(RunFiles::BEST).join("model.bpk"))?;
        Some(evaluate(&m, &data.labels, &data.valid, &inner)?)
    } else {
        None
    };
    Ok(ClassReport { outcome, state, params, best, train_texts: data.train.len(), valid_texts: data.valid.len(), init_embeddings })
}

/// The file of a checkpoint that holds the averaged weights (`train.ema`).
pub const EMA_FILE: &str = "ema.bpk";

/// Writes a checkpoint, with the weight average when there is one.
fn save_checkpoint(run: &Path, model: &Classifier, optim: &burn::optim::ModuleOptimizer, state: &TrainState, ema: Option<&Ema<Classifier>>) -> Result<()> {
    let dir = checkpoint::step_dir(run, state.step);
    match ema {
        None => checkpoint::save(&dir, model, optim, state),
        Some(ema) => checkpoint::save_with(&dir, model, optim, state, vec![(EMA_FILE, checkpoint::model_bytes(&ema.model)?)]),
    }
}

/// A trained classifier with its vocabulary and labels.
pub struct LoadedClassifier {
    pub cfg: RunConfig,
    pub vocab: Vocab,
    pub labels: Vec<String>,
    pub model: Classifier,
}

/// Loads the best weights of a classification run.
pub fn load_classifier(run: &Path, device: &Device) -> Result<LoadedClassifier> {
    let cfg = crate::run::run_config(run)?;
    let vocab = Vocab::load(&run.join(crate::lm::VOCAB))?;
    let labels = read_labels(run)?;
    let model = classifier_config(&cfg, vocab.len(), labels.len())?.init(device)?;
    let model = checkpoint::load_model(model, &run.join(RunFiles::BEST).join("model.bpk"))?;
    Ok(LoadedClassifier { cfg, vocab, labels, model })
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
    }

    #[test]
    fn ngrams_follow_the_words() {
        let w = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(with_ngrams(w("not a good film"), 1), w("not a good film"));
        let two = with_ngrams(w("not a good film"), 2);
        assert_eq!(two, ["not", "a", "good", "film", "not a", "a good", "good film"]);
        let three = with_ngrams(w("not a good"), 3);
        assert_eq!(three, ["not", "a", "good", "not a", "a good", "not a good"]);
        assert_eq!(with_ngrams(w("alone"), 3), ["alone"]);
    }

    #[test]
    fn reads_tab_space_and_pos_neg_formats() {
        let dir = std::env::temp_dir().join(format!("attend-labeled-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.tsv"), "label\tsentence\n1\tgood film\n0\tbad film\n").unwrap();
        std::fs::write(dir.join("b.txt"), "1 a fine , funny film\n").unwrap();
        std::fs::write(dir.join("c.pos"), "lovely\n\n").unwrap();
        std::fs::write(dir.join("c.neg"), "dreadful\n").unwrap();
        let paths: Vec<PathBuf> = ["a.tsv", "b.txt", "c.pos", "c.neg"].iter().map(|f| dir.join(f)).collect();
        let got = read_labeled(&paths).unwrap();
        let pairs: Vec<(&str, &str)> = got.iter().map(|l| (l.label.as_str(), l.text.as_str())).collect();
        assert_eq!(pairs, [("1", "good film"), ("0", "bad film"), ("1", "a fine , funny film"), ("pos", "lovely"), ("neg", "dreadful")]);
        std::fs::write(dir.join("bad.tsv"), "1\tok\nnolabel\n").unwrap();
        let err = read_labeled(&[dir.join("bad.tsv")]).unwrap_err().to_string();
        assert!(err.contains("bad.tsv:2"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_folds_cover_every_example_once() {
        let mut seen = Vec::new();
        for fold in 0..3 {
            let mut data: Vec<u32> = (0..10).collect();
            let held = hold_out_fold(&mut data, fold, 3).unwrap();
            assert_eq!(data.len() + held.len(), 10);
            assert!(held.iter().all(|x| !data.contains(x)));
            assert!((3..=4).contains(&held.len()), "{held:?}");
            seen.extend(held);
        }
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<u32>>());
        let mut data: Vec<u32> = (0..10).collect();
        assert!(hold_out_fold(&mut data, 3, 3).unwrap_err().to_string().contains("data.fold = 3"));
        assert!(hold_out_fold(&mut data, 0, 1).is_err());
        assert!(hold_out_fold(&mut vec![1u32], 0, 2).is_err());
    }

    #[test]
    fn the_split_seed_fixes_the_held_out_tenth_across_training_seeds() {
        let dir = std::env::temp_dir().join(format!("attend-split-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Line i reads `t{i / 10} u{i % 10}`: every token also occurs in training lines, so a held-out line decodes back to i.
        let lines: String = (0..50).map(|i| format!("{}\tt{} u{}\n", ["pos", "neg"][i % 2], i / 10, i % 10)).collect();
        std::fs::write(dir.join("d.tsv"), lines).unwrap();
        let config = |seed: u64, split: Option<u64>, fold: Option<usize>| {
            let mut cfg = RunConfig::default();
            (cfg.data.text, cfg.data.valid_text, cfg.data.min_freq) = (vec![dir.join("d.tsv")], None, 1);
            (cfg.train.seed, cfg.data.split_seed, cfg.data.fold) = (seed, split, fold);
            cfg
        };
        let held_out = |seed: u64, split: Option<u64>| {
            let d = prepare_classify(&config(seed, split, None), None).unwrap();
            assert_eq!((d.train.len(), d.valid.len()), (45, 5));
            let mut lines: Vec<String> = d.valid.iter().map(|e| d.vocab.decode(&e.src).join(" ")).collect();
            lines.sort();
            assert!(lines.iter().all(|l| !l.contains("<unk>")), "{lines:?}");
            lines
        };
        // Ten folds of one split hold out every line exactly once.
        let fold = |k: usize| {
            let d = prepare_classify(&config(1, Some(7), Some(k)), None).unwrap();
            assert_eq!((d.train.len(), d.valid.len()), (45, 5));
            d.valid.iter().map(|e| d.vocab.decode(&e.src).join(" ")).collect::<Vec<_>>()
        };
        let mut all: Vec<String> = (0..10).flat_map(fold).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 50);
        assert_eq!(held_out(1, Some(7)), held_out(2, Some(7)));
        assert_eq!(held_out(7, None), held_out(3, Some(7)));
        assert_ne!(held_out(1, None), held_out(2, None));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
