//! A language model's data: the training and validation text as token ids,
//! random windows for training steps, and the loss of a whole text.

use std::path::Path;

use attend_data::lm_text::{lm_tokens, read_text};
use attend_data::{TokenizerKind, Vocab};
use attend_model::LanguageModel;
use burn::prelude::*;
use rand::rngs::StdRng;
use rand::Rng;

use super::settings::LmData;
use crate::error::{Result, TrainError};

/// The vocabulary file of a language-model run (and of a classifier).
pub const VOCAB: &str = "vocab.json";

/// Token ids of the training and validation text.
pub struct LmText {
    pub vocab: Vocab,
    pub train: Vec<u32>,
    pub valid: Vec<u32>,
}

/// Encodes text with a run's vocabulary (unknown tokens become `<unk>`).
pub fn encode(vocab: &Vocab, text: &str, data: &LmData) -> Vec<u32> {
    lm_tokens(text, data.tokenizer, data.lowercase).iter().map(|t| vocab.id(t)).collect()
}

/// Reads the texts of a run; the vocabulary comes from `run` when resuming,
/// else from the training and validation text (every character for char
/// models, as nanoGPT; words seen `min_freq` times for word models).
pub fn prepare(data: &LmData, context: usize, run: Option<&Path>) -> Result<LmText> {
    if data.train.is_empty() {
        return Err(TrainError::Config("a language model needs training text: data.train (--data FILE...)".into()));
    }
    if data.tokenizer.subword().is_some() {
        return Err(TrainError::Config(format!(
            "data.tokenizer = {:?}: language models read characters or words (\"char\", \"word\"); subwords are for translators and classifiers",
            data.tokenizer
        )));
    }
    let mut train_text = String::new();
    for path in &data.train {
        train_text.push_str(&read_text(path)?);
    }
    let valid_text = match &data.valid {
        Some(p) => read_text(p)?,
        None => {
            // The last tenth of the training text, cut at a line break.
            let cut = train_text.len() * 9 / 10;
            let cut = train_text[cut..].find('\n').map_or(cut, |i| cut + i + 1);
            let valid = train_text[cut..].to_string();
            train_text.truncate(cut);
            valid
        }
    };
    let vocab = match run {
        Some(run) => Vocab::load(&run.join(VOCAB))?,
        None => {
            let min_freq = if data.tokenizer == TokenizerKind::Char { 1 } else { data.min_freq };
            let max = (data.max_vocab > 0).then_some(data.max_vocab);
            let tokens = [lm_tokens(&train_text, data.tokenizer, data.lowercase), lm_tokens(&valid_text, data.tokenizer, data.lowercase)];
            let mut v = Vocab::build(tokens.iter().map(|t| t.as_slice()), min_freq, max);
            if data.tokenizer == TokenizerKind::Char {
                // Characters in code-point order after the specials (nanoGPT's sorted set).
                let mut chars: Vec<String> = v.tokens()[4..].to_vec();
                chars.sort();
                let mut all: Vec<String> = v.tokens()[..4].to_vec();
                all.extend(chars);
                v = Vocab::from_tokens(all).map_err(TrainError::Invalid)?;
            }
            v
        }
    };
    let train = encode(&vocab, &train_text, data);
    let valid = encode(&vocab, &valid_text, data);
    if train.len() <= context + 1 || valid.len() <= 1 {
        return Err(TrainError::Config(format!(
            "the training text has {} tokens and the validation text {}; the context (model.context) is {context}",
            train.len(),
            valid.len()
        )));
    }
    Ok(LmText { vocab, train, valid })
}

/// `batch` random windows of `ctx + 1` tokens: inputs and next-token targets, `[batch, ctx]` each.
pub fn windows(ids: &[u32], batch: usize, ctx: usize, rng: &mut StdRng, device: &Device) -> (Tensor<2, Int>, Tensor<2, Int>) {
    let (mut x, mut y) = (Vec::with_capacity(batch * ctx), Vec::with_capacity(batch * ctx));
    for _ in 0..batch {
        let start = rng.random_range(0..ids.len() - ctx);
        x.extend(ids[start..start + ctx].iter().map(|&i| i as i64));
        y.extend(ids[start + 1..start + ctx + 1].iter().map(|&i| i as i64));
    }
    (Tensor::from_data(TensorData::new(x, [batch, ctx]), device), Tensor::from_data(TensorData::new(y, [batch, ctx]), device))
}

/// The mean next-token loss of inputs `x` and targets `y` `[batch, ctx]`, with label smoothing.
pub fn loss_of(model: &LanguageModel, x: Tensor<2, Int>, y: Tensor<2, Int>, smoothing: f32) -> Result<Tensor<1>> {
    let logits = model.forward(x)?; // [batch, ctx, vocab]
    let [b, t, v] = logits.dims();
    Ok(attend_model::fused::cross_entropy_loss(logits.reshape([b * t, v]), y.reshape([b * t]), smoothing, None))
}

/// Mean next-token loss (nats per token) of `ids`, in non-overlapping
/// windows of the model's context, each window predicting its tokens from
/// inside the window only. With `tail` the last, shorter window counts too
/// (every token is scored); without it only full windows count (the peer
/// benchmark's `final_val_loss_full`). Returns the loss and the number of
/// predicted tokens.
pub fn text_loss(model: &LanguageModel, ids: &[u32], device: &Device, tail: bool) -> Result<(f64, usize)> {
    let ctx = model.context();
    let n = ids.len().saturating_sub(1);
    let (full, rest) = (n / ctx, if tail { n % ctx } else { 0 });
    let n = full * ctx + rest;
    let mut sum = 0f64;
    let chunk = 64;
    for first in (0..full).step_by(chunk) {
        let count = chunk.min(full - first);
        let mut x = Vec::with_capacity(count * ctx);
        let mut y = Vec::with_capacity(count * ctx);
        for w in first..first + count {
            x.extend(ids[w * ctx..(w + 1) * ctx].iter().map(|&i| i as i64));
            y.extend(ids[w * ctx + 1..(w + 1) * ctx + 1].iter().map(|&i| i as i64));
        }
        let x = Tensor::from_data(TensorData::new(x, [count, ctx]), device);
        let y = Tensor::from_data(TensorData::new(y, [count, ctx]), device);
        sum += loss_of(model, x, y, 0.0)?.into_scalar::<f32>() as f64 * (count * ctx) as f64;
    }
    if rest > 0 {
        let s = full * ctx;
        let x: Vec<i64> = ids[s..s + rest].iter().map(|&i| i as i64).collect();
        let y: Vec<i64> = ids[s + 1..s + rest + 1].iter().map(|&i| i as i64).collect();
        let x = Tensor::from_data(TensorData::new(x, [1, rest]), device);
        let y = Tensor::from_data(TensorData::new(y, [1, rest]), device);
        sum += loss_of(model, x, y, 0.0)?.into_scalar::<f32>() as f64 * rest as f64;
    }
    Ok((sum / n.max(1) as f64, n))
}
