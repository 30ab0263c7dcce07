//! Translation (`task = "translate"`) and the copy task (`task = "copy"`):
//! an encoder–decoder (the Transformer, or a recurrent one with or without
//! attention) trained on sentence pairs with the label-smoothed loss, scored
//! by validation loss, token accuracy and sacreBLEU-exact BLEU of greedy
//! translations, its best weights by BLEU (by exact match for the copy task).

pub mod batch;
pub mod bleu;
pub mod chrf;
pub mod compare;
pub mod data;
pub mod loaded;
pub mod pytorch;
pub mod score;
pub mod settings;

use std::path::Path;

use attend_data::{Batcher, Seq2SeqBatch};
use attend_model::{CellKind, RecurrentSeq2SeqConfig, Seq2SeqConfig, Seq2SeqModel, TransformerConfig};
use burn::prelude::*;

use crate::config::NormPlacement;
use crate::error::Result;
use crate::tasks::split_even;
use crate::trainer::metrics::Column;
use crate::trainer::{self, run_dir, Evaluation, FitOptions, Fitted, Loss, Start, Trainable};
use batch::ValidSet;
use data::{prepare, PairSource, Prepared, Seq2SeqRun, SRC_VOCAB, TGT_VOCAB};
use settings::{Seq2SeqArch, Seq2SeqSettings};

/// The model config of an encoder–decoder run.
pub fn model_config(m: &Seq2SeqSettings, src_vocab: usize, tgt_vocab: usize) -> Result<Seq2SeqConfig> {
    let (cell, attention) = match m.arch {
        Seq2SeqArch::Transformer => return transformer_config(m, src_vocab, tgt_vocab).map(Seq2SeqConfig::Transformer),
        Seq2SeqArch::Rnn => (CellKind::Rnn, false),
        Seq2SeqArch::Lstm => (CellKind::Lstm, false),
        Seq2SeqArch::Gru => (CellKind::Gru, false),
        Seq2SeqArch::RnnAttention => (CellKind::Rnn, true),
        Seq2SeqArch::LstmAttention => (CellKind::Lstm, true),
        Seq2SeqArch::GruAttention => (CellKind::Gru, true),
    };
    Ok(Seq2SeqConfig::Recurrent(
        RecurrentSeq2SeqConfig::new(src_vocab, tgt_vocab)
            .with_cell(cell)
            .with_d_embed(m.d_model)
            .with_d_hidden(m.d_model)
            .with_encoder_layers(m.encoder_layers)
            .with_decoder_layers(m.decoder_layers)
            .with_dropout(m.dropout)
            .with_bidirectional(m.bidirectional)
            .with_attention(attention.then_some(m.attention_score))
            .with_max_len(m.max_len),
    ))
}

fn transformer_config(m: &Seq2SeqSettings, src_vocab: usize, tgt_vocab: usize) -> Result<TransformerConfig> {
    let c = TransformerConfig::new(src_vocab, tgt_vocab)
        .with_d_model(m.d_model)
        .with_n_heads(m.n_heads)
        .with_d_ff(m.d_ff)
        .with_encoder_layers(m.encoder_layers)
        .with_decoder_layers(m.decoder_layers)
        .with_dropout(m.dropout)
        .with_norm_first(m.norm == NormPlacement::Pre)
        .with_positional(m.positional)
        .with_max_len(m.max_len)
        .with_share_embeddings(m.share_embeddings)
        .with_tie_output(m.tie_output)
        .with_activation(m.activation);
    c.validate()?;
    Ok(c)
}

/// A translation run as the trainer sees it.
pub struct TranslateTask<'a> {
    run: Seq2SeqRun<'a>,
    data: Prepared,
    batcher: Batcher,
    valid_batches: Vec<Vec<usize>>,
    valid_src: Vec<String>,
    valid_ref: Vec<String>,
    copy: bool,
}

impl<'a> TranslateTask<'a> {
    /// Reads the data of `run` (the vocabularies from `vocab_dir` when resuming).
    pub fn new(run: Seq2SeqRun<'a>, vocab_dir: Option<&Path>) -> Result<Self> {
        let data = prepare(&run, vocab_dir)?;
        let (by, size, bucket) = run.batching();
        let batcher = Batcher { size, by, bucket, seed: run.train.seed };
        let eval_size = if by == attend_data::BatchBy::Sentences { size.max(16) } else { size };
        let eval_cut = Batcher { size: eval_size, by, bucket: false, seed: 0 };
        let valid_batches = eval_cut.cut(&data.valid, &(0..data.valid.len()).collect::<Vec<_>>());
        let valid_src = data.valid_pairs.iter().map(|p| p.src.clone()).collect();
        let valid_ref = data.valid_pairs.iter().map(|p| run.reference_text(&p.tgt)).collect();
        let copy = matches!(run.source, PairSource::Copy(..));
        Ok(Self { run, data, batcher, valid_batches, valid_src, valid_ref, copy })
    }

    /// The encoded data.
    pub fn data(&self) -> &Prepared {
        &self.data
    }

    fn config(&self) -> Result<Seq2SeqConfig> {
        model_config(self.run.model, self.data.src_vocab.len(), self.data.tgt_vocab.len())
    }

    /// Greedy translations of `n` validation sentences spread over the set:
    /// `(source, output, reference)`.
    pub fn samples(&self, model: &Seq2SeqModel, n: usize, device: &Device) -> Result<Vec<(String, String, String)>> {
        if n == 0 || self.valid_src.is_empty() {
            return Ok(Vec::new());
        }
        let step = (self.valid_src.len() / n).max(1);
        let picks: Vec<usize> = (0..self.valid_src.len()).step_by(step).take(n).collect();
        let srcs: Vec<String> = picks.iter().map(|&i| self.valid_src[i].clone()).collect();
        let d = &self.data;
        let (outs, _) =
            batch::translate_text(model, &d.tokenizer, &d.src_vocab, &d.tgt_vocab, &srcs, self.run.eval.max_decode_len, None, None, device)?;
        Ok(picks.iter().zip(outs).map(|(&i, o)| (self.valid_src[i].clone(), o, self.valid_ref[i].clone())).collect())
    }
}

impl Trainable for TranslateTask<'_> {
    type Model = Seq2SeqModel;
    type Batch = Vec<usize>;

    fn init_model(&self, device: &Device) -> Result<Seq2SeqModel> {
        Ok(self.config()?.init(device)?)
    }

    fn size(&self) -> Result<(u128, String)> {
        let m = self.run.model;
        let (s, t) = (self.data.src_vocab.len(), self.data.tgt_vocab.len());
        Ok((
            self.config()?.param_count(),
            format!(
                "the model (model.d_model = {}, model.d_ff = {}, model.encoder_layers = {}, model.decoder_layers = {}, vocabularies of {s} and {t})",
                m.d_model, m.d_ff, m.encoder_layers, m.decoder_layers
            ),
        ))
    }

    fn prepare_fresh(&self, model: &mut Seq2SeqModel) -> Result<Vec<String>> {
        let Some(path) = &self.run.model.init_embeddings else { return Ok(Vec::new()) };
        let vectors = attend_data::WordVectors::read(path, None)?;
        let reports = crate::tasks::word2vec::init::init_embeddings(model, &vectors, path, &self.data.src_vocab, &self.data.tgt_vocab)?;
        Ok(reports.iter().map(|r| format!("{} embedding: {} of {} tokens initialised from word vectors", r.table, r.found, r.total)).collect())
    }

    fn run_files(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let mut files = vec![(SRC_VOCAB.into(), self.data.src_vocab.to_json()?), (TGT_VOCAB.into(), self.data.tgt_vocab.to_json()?)];
        files.extend(self.data.tokenizer_files.iter().cloned());
        Ok(files)
    }

    fn width(&self) -> usize {
        self.run.model.d_model
    }

    fn epoch(&self, epoch: usize) -> Vec<Vec<usize>> {
        self.batcher.epoch_batches(&self.data.train, epoch as u64)
    }

    fn loss(&self, model: &Seq2SeqModel, batch: &Vec<usize>, device: &Device) -> Result<Loss> {
        let b = Seq2SeqBatch::new(&self.data.train, batch);
        let logits = batch::logits(model, &b, device)?;
        let value = batch::smoothed_loss(logits, &b.tgt_out, self.run.train.label_smoothing, device);
        let tokens = b.tgt_out.tokens();
        Ok(Loss { value, terms: tokens, tokens })
    }

    fn split(&self, batch: &Vec<usize>, parts: usize) -> Vec<Vec<usize>> {
        split_even(batch, parts)
    }

    fn evaluate(&self, model: &Seq2SeqModel, device: &Device, _step: usize) -> Result<Evaluation> {
        let valid = ValidSet { examples: &self.data.valid, batches: &self.valid_batches, sources: &self.valid_src, references: &self.valid_ref };
        let d = &self.data;
        let eval = &self.run.eval;
        let e = batch::evaluate(model, &valid, &d.tokenizer, &d.src_vocab, &d.tgt_vocab, eval.bleu_sentences, eval.max_decode_len, device)?;
        let summary = format!(
            "valid_loss {:.4}  ppl {:.2}  acc {:.3}  BLEU {:.2}  exact {:.3}",
            e.loss, e.perplexity, e.token_accuracy, e.bleu, e.exact_match
        );
        Ok(Evaluation {
            columns: vec![
                Column::new("valid_loss", e.loss, 5),
                Column::new("valid_ppl", e.perplexity, 4),
                Column::new("valid_token_acc", e.token_accuracy, 5),
                Column::new("valid_bleu", e.bleu, 3),
                Column::new("valid_exact", e.exact_match, 5),
            ],
            score: if self.copy { e.exact_match * 100.0 } else { e.bleu },
            summary,
        })
    }
}

/// What a translation (or copy) run reports when it stops.
pub struct TranslateReport {
    pub fitted: Fitted<Seq2SeqModel>,
    /// `(source, output, reference)` samples from the validation data (best weights).
    pub samples: Vec<(String, String, String)>,
    pub train_pairs: usize,
    pub dropped_pairs: usize,
    /// Whether the run is the copy task (scored by exact match).
    pub copy: bool,
}

/// Trains (or resumes) the translation or copy run `run` in the run
/// directory `dir` (created here when new).
pub fn train(cfg: &crate::config::RunConfig, run: Seq2SeqRun, dir: &Path, resume: bool, devices: &[Device], opts: &FitOptions) -> Result<TranslateReport> {
    let task = TranslateTask::new(run, resume.then_some(dir))?;
    let start = if resume { Start::Resume } else { Start::New(cfg) };
    let fitted = trainer::fit(&task, run.train, dir, start, devices, opts)?;
    let inner = devices[0].clone().inner();
    let best = dir.join(run_dir::BEST).join("model.bpk");
    let samples = if fitted.outcome == trainer::Outcome::Finished && best.exists() {
        let model = crate::trainer::checkpoint::load_model(task.init_model(&inner)?, &best)?;
        task.samples(&model, run.eval.samples, &inner)?
    } else {
        Vec::new()
    };
    Ok(TranslateReport { samples, train_pairs: task.data.train.len(), dropped_pairs: task.data.dropped, copy: task.copy, fitted })
}

#[cfg(test)]
mod tests {
    use super::*;
    use attend_data::BatchBy;
    use settings::CopyConfig;

    #[test]
    fn validation_batches_are_cut_like_training_batches_by_tokens() {
        let mut c = CopyConfig::default();
        (c.data.train_size, c.data.valid_size, c.data.batch_by, c.data.batch_size) = (200, 100, BatchBy::Tokens, 48);
        let task = TranslateTask::new(Seq2SeqRun::from(&c), None).unwrap();
        let valid = &task.data().valid;
        let mut seen: Vec<usize> = task.valid_batches.iter().flatten().copied().collect();
        seen.sort();
        assert_eq!(seen, (0..valid.len()).collect::<Vec<_>>(), "every validation example once, in order");
        for b in &task.valid_batches {
            let longest = b.iter().map(|&i| valid[i].src.len().max(valid[i].tgt.len())).max().unwrap();
            assert!(b.len() == 1 || longest * b.len() <= 48, "a batch of {} × {longest} tokens", b.len());
        }
        assert!(task.valid_batches.len() > 100 / 16, "cut by tokens, not by 48 sentences: {}", task.valid_batches.len());
        // By sentences, at least 16 to a batch (the evaluation needs no smaller ones).
        c.data.batch_by = BatchBy::Sentences;
        c.data.batch_size = 8;
        let task = TranslateTask::new(Seq2SeqRun::from(&c), None).unwrap();
        assert!(task.valid_batches.iter().all(|b| b.len() <= 16) && task.valid_batches[0].len() == 16);
    }
}
