//! Loading a trained run for translation and evaluation: its resolved config,
//! tokenizer, vocabularies and best weights.

use std::path::Path;

use attend_data::{Tokenizer, Vocab};
use attend_model::{AttentionPick, BeamOptions, Decoded, Seq2SeqModel};
use burn::prelude::*;

use crate::bleu::{corpus_bleu, Bleu};
use crate::checkpoint;
use crate::config::RunConfig;
use crate::error::{Result, TrainError};
use crate::prepare::tokenizer_spec;
use crate::seq2seq;
use crate::trainer::{model_config, reference_text, weights_dir, RunFiles};

/// A trained translation model with everything needed to use it.
pub struct LoadedRun {
    pub config: RunConfig,
    pub tokenizer: Box<dyn Tokenizer + Send + Sync>,
    pub src_vocab: Vocab,
    pub tgt_vocab: Vocab,
    pub model: Seq2SeqModel,
    pub device: Device,
    /// Beam search settings for [`translate`](Self::translate) and
    /// [`bleu`](Self::bleu); `None` decodes greedily.
    pub beam: Option<BeamOptions>,
}

/// The resolved config of the run directory `run` (an error when it is none).
pub fn run_config(run: &Path) -> Result<RunConfig> {
    let config_path = run.join(RunFiles::CONFIG);
    if !config_path.exists() {
        return Err(TrainError::NotARun(run.into()));
    }
    RunConfig::load(&config_path)
}

impl LoadedRun {
    /// Loads `run` onto `device` (inference only).
    pub fn load(run: &Path, device: &Device) -> Result<Self> {
        run_config(run)?; // "not a run" before "no weights yet"
        Self::load_weights(run, &weights_dir(run)?.join("model.bpk"), device)
    }

    /// Loads `run` with the weights file `weights` (e.g. a checkpoint's `model.bpk`).
    pub fn load_weights(run: &Path, weights: &Path, device: &Device) -> Result<Self> {
        let config = run_config(run)?;
        let src_vocab = Vocab::load(&run.join("vocab.src.json"))?;
        let tgt_vocab = Vocab::load(&run.join("vocab.tgt.json"))?;
        let model_cfg = model_config(&config, src_vocab.len(), tgt_vocab.len())?;
        let device = device.clone().inner();
        let model = checkpoint::load_model(model_cfg.init(&device)?, weights)?.valid();
        Ok(Self { tokenizer: tokenizer_spec(&config).build(), config, src_vocab, tgt_vocab, model, device, beam: None })
    }

    /// Translates sentences (greedily, or by beam search when `beam` is set).
    pub fn translate(&self, sentences: &[String], attention: Option<AttentionPick>) -> Result<(Vec<String>, Decoded)> {
        seq2seq::translate_text(
            &self.model,
            self.tokenizer.as_ref(),
            &self.src_vocab,
            &self.tgt_vocab,
            sentences,
            self.config.train.max_decode_len,
            attention,
            self.beam,
            &self.device,
        )
    }

    /// Corpus BLEU of the translations of `sources` against `references`
    /// (identical sources are translated once, with all their references;
    /// references are lowercased when the run lowercases its text).
    pub fn bleu(&self, sources: &[String], references: &[String]) -> Result<(Bleu, usize)> {
        let references: Vec<String> = references.iter().map(|r| reference_text(&self.config, r)).collect();
        let (srcs, refs) = seq2seq::group_references(sources, &references);
        let (hyps, _) = self.translate(&srcs, None)?;
        Ok((corpus_bleu(&hyps, &refs), srcs.len()))
    }

    /// The tokens of `sentence` as the source vocabulary sees them (for plots).
    pub fn source_tokens(&self, sentence: &str) -> Vec<String> {
        let ids = self.src_vocab.encode(&self.tokenizer.tokenize(sentence), false, true);
        ids.iter().map(|&i| self.src_vocab.token(i).to_string()).collect()
    }
}
