//! A language model's data: the training and validation text as token ids,
//! random windows for training steps, and the loss of a whole text.

use std::path::Path;

use attend_data::lm_text::{lm_tokens, read_text, Detokenizer};
use attend_data::{Tokenizer, TokenizerKind, Vocab};
use attend_model::LanguageModel;
use burn::prelude::*;
use rand::rngs::StdRng;
use rand::Rng;

use super::settings::LmData;
use crate::error::{Result, TrainError};
use crate::tasks::subwords::{self, RunTokenizer, TokenizerChoice, TOKENIZER_FILE};

/// The vocabulary file of a language-model run (and of a classifier).
pub const VOCAB: &str = "vocab.json";

/// How a language model reads text and writes it back: characters or words
/// (newlines kept as tokens), or its subword tokenizer (byte-level: a newline
/// is a byte like any other).
#[derive(Clone)]
pub struct LmTokenizer {
    kind: TokenizerKind,
    lowercase: bool,
    run: RunTokenizer,
}

impl LmTokenizer {
    /// The tokens of `text`.
    pub fn tokens(&self, text: &str) -> Vec<String> {
        match &self.run.subword {
            Some(s) => s.tokenize(text),
            None => lm_tokens(text, self.kind, self.lowercase),
        }
    }

    /// Token ids of `text` (unknown tokens become `<unk>`).
    pub fn encode(&self, vocab: &Vocab, text: &str) -> Vec<u32> {
        ids(vocab, &self.tokens(text))
    }

    /// Joins the tokens generated after `prompt` into text as they come.
    pub fn detokenizer(&self, prompt: &str) -> Detokenizer {
        match &self.run.subword {
            Some(s) => Detokenizer::subword(s.clone()),
            None => Detokenizer::after(prompt, self.kind),
        }
    }

    /// The run directory's tokenizer file, for subwords.
    pub fn run_file(&self) -> Result<Option<(String, Vec<u8>)>> {
        self.run.run_file(TOKENIZER_FILE)
    }

    /// Whether this is a subword tokenizer.
    pub fn is_subword(&self) -> bool {
        self.run.subword.is_some()
    }
}

fn ids(vocab: &Vocab, tokens: &[String]) -> Vec<u32> {
    tokens.iter().map(|t| vocab.id(t)).collect()
}

fn choice(data: &LmData) -> TokenizerChoice<'_> {
    TokenizerChoice { kind: data.tokenizer, lowercase: data.lowercase, vocab_size: data.vocab_size, file: data.tokenizer_file.as_deref() }
}

/// The tokenizer of the language-model run in `run`.
pub fn saved_tokenizer(data: &LmData, run: &Path) -> Result<LmTokenizer> {
    Ok(LmTokenizer { kind: data.tokenizer, lowercase: data.lowercase, run: subwords::saved(choice(data), run, TOKENIZER_FILE)? })
}

/// Token ids of the training and validation text.
pub struct LmText {
    pub tokenizer: LmTokenizer,
    pub vocab: Vocab,
    pub train: Vec<u32>,
    pub valid: Vec<u32>,
}

/// Reads the texts of a run; the vocabulary comes from `run` when resuming,
/// else from the training and validation text (every character for char
/// models, as nanoGPT; words seen `min_freq` times for word models).
pub fn prepare(data: &LmData, context: usize, run: Option<&Path>) -> Result<LmText> {
    if data.train.is_empty() {
        return Err(TrainError::Config("a language model needs training text: data.train (--data FILE...)".into()));
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
    let tokenizer = LmTokenizer {
        kind: data.tokenizer,
        lowercase: data.lowercase,
        run: match run {
            Some(run) => subwords::saved(choice(data), run, TOKENIZER_FILE)?,
            None => subwords::fresh(choice(data), || train_text.lines().filter(|l| !l.trim().is_empty()).map(String::from).collect())?,
        },
    };
    // Each text is tokenised once: for the vocabulary (a new run) and for its ids.
    let [train_tokens, valid_tokens] = [tokenizer.tokens(&train_text), tokenizer.tokens(&valid_text)];
    let vocab = match run {
        Some(run) => Vocab::load(&run.join(VOCAB))?,
        None if tokenizer.is_subword() => tokenizer.run.complete(Vocab::build([train_tokens.as_slice()], 1, None))?,
        None => {
            let min_freq = if data.tokenizer == TokenizerKind::Char { 1 } else { data.min_freq };
            let max = (data.max_vocab > 0).then_some(data.max_vocab);
            let mut v = Vocab::build([train_tokens.as_slice(), valid_tokens.as_slice()], min_freq, max);
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
    let (train, valid) = (ids(&vocab, &train_tokens), ids(&vocab, &valid_tokens));
    if train.len() <= context + 1 || valid.len() <= 1 {
        return Err(TrainError::Config(format!(
            "the training text has {} tokens and the validation text {}; the context (model.context) is {context}",
            train.len(),
            valid.len()
        )));
    }
    Ok(LmText { tokenizer, vocab, train, valid })
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
