//! A trained translation (or copy) run loaded for use: its resolved config,
//! tokenizer, vocabularies and best weights; translation and corpus BLEU.

use std::path::Path;

use attend_data::{PairTokenizer, Vocab};
use attend_model::{AttentionPick, BeamOptions, Decoded, Seq2SeqModel};
use burn::module::Module;
use burn::prelude::*;

use super::bleu::Bleu;
use super::score::{score, Scores};
use super::data::{Seq2SeqRun, SRC_VOCAB, TGT_VOCAB};
use super::{batch, model_config};
use crate::config::RunConfig;
use crate::error::Result;
use crate::trainer::{checkpoint, run_dir};

/// A trained translation model with everything needed to use it.
pub struct LoadedRun {
    pub config: RunConfig,
    pub tokenizer: PairTokenizer,
    pub src_vocab: Vocab,
    pub tgt_vocab: Vocab,
    pub model: Seq2SeqModel,
    pub device: Device,
    /// Beam search settings for [`translate`](Self::translate) and
    /// [`bleu`](Self::bleu); `None` decodes greedily.
    pub beam: Option<BeamOptions>,
}

/// The translation view of a run's config (an error for another task).
pub fn seq2seq_view<'a>(config: &'a RunConfig, run: &Path) -> Result<Seq2SeqRun<'a>> {
    match config {
        RunConfig::Translate(c) => Ok(c.into()),
        RunConfig::Copy(c) => Ok(c.into()),
        other => Err(other.wrong_kind(run, "translation")),
    }
}

impl LoadedRun {
    /// Loads `run` onto `device` (inference only), with its best weights.
    pub fn load(run: &Path, device: &Device) -> Result<Self> {
        seq2seq_view(&run_dir::config(run)?, run)?; // "not a run" or "not a translator" before "no weights yet"
        Self::load_weights(run, &run_dir::weights_dir(run)?.join("model.bpk"), device)
    }

    /// Loads `run` with the weights file `weights` (e.g. a checkpoint's `model.bpk`).
    pub fn load_weights(run: &Path, weights: &Path, device: &Device) -> Result<Self> {
        let config = run_dir::config(run)?;
        let view = seq2seq_view(&config, run)?;
        let src_vocab = Vocab::load(&run.join(SRC_VOCAB))?;
        let tgt_vocab = Vocab::load(&run.join(TGT_VOCAB))?;
        let model_cfg = model_config(view.model, src_vocab.len(), tgt_vocab.len())?;
        let device = device.clone().inner();
        let model = checkpoint::load_model(model_cfg.init(&device)?, weights)?.valid();
        let (src, tgt) = view.saved_tokenizers(run)?;
        let tokenizer = PairTokenizer { src: src.tokenizer, tgt: tgt.tokenizer };
        Ok(Self { tokenizer, config, src_vocab, tgt_vocab, model, device, beam: None })
    }

    /// The run's settings as translation sees them.
    pub fn view(&self) -> Seq2SeqRun<'_> {
        seq2seq_view(&self.config, Path::new("")).expect("checked when loaded")
    }

    /// Translates sentences (greedily, or by beam search when `beam` is set).
    pub fn translate(&self, sentences: &[String], attention: Option<AttentionPick>) -> Result<(Vec<String>, Decoded)> {
        batch::translate_text(
            &self.model,
            &self.tokenizer,
            &self.src_vocab,
            &self.tgt_vocab,
            sentences,
            self.view().eval.max_decode_len,
            attention,
            self.beam,
            &self.device,
        )
    }

    /// Corpus BLEU of the translations of `sources` against `references`
    /// (identical sources are translated once, with all their references;
    /// references are lowercased when the run lowercases its text).
    pub fn bleu(&self, sources: &[String], references: &[String]) -> Result<(Bleu, usize)> {
        let (scores, distinct) = self.scores(sources, references)?;
        Ok((scores.bleu, distinct))
    }

    /// BLEU and chrF (with their signatures) of the translations of `sources`
    /// against `references`, grouped as [`LoadedRun::bleu`] does; also the
    /// number of distinct sources.
    pub fn scores(&self, sources: &[String], references: &[String]) -> Result<(Scores, usize)> {
        let view = self.view();
        let references: Vec<String> = references.iter().map(|r| view.reference_text(r)).collect();
        let (srcs, refs) = batch::group_references(sources, &references);
        let (hyps, _) = self.translate(&srcs, None)?;
        Ok((score(&hyps, &refs), srcs.len()))
    }

    /// The tokens of `sentence` as the source vocabulary sees them, readable
    /// (for plots and the server's attention).
    pub fn source_tokens(&self, sentence: &str) -> Vec<String> {
        let ids = self.src_vocab.encode(&self.tokenizer.src.tokenize(sentence), false, true);
        ids.iter().map(|&i| self.tokenizer.src.display(self.src_vocab.token(i))).collect()
    }

    /// Decoded target ids as readable tokens (for plots and the server's attention).
    pub fn target_tokens(&self, ids: &[u32]) -> Vec<String> {
        self.tgt_vocab.decode(ids).iter().map(|t| self.tokenizer.tgt.display(t)).collect()
    }
}
