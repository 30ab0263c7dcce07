//! Language-model runs (`task = "lm"`): a GPT-style decoder-only Transformer
//! trained to predict the next token of a text, with AdamW (decay on the
//! matrices only, as nanoGPT), warm-up then
//! cosine decay, global-norm clipping, periodic estimates of train and
//! validation loss, checkpoints, Ctrl-C and exact resumption (the batch of
//! step s is drawn from a generator seeded by (seed, s), so a resumed run sees
//! the batches a straight run would).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use attend_data::lm_text::{lm_tokens, read_text};
use attend_data::{TokenizerKind, Vocab};
use attend_model::gpt::GptConfig;
use attend_model::{CellKind, LanguageModel, LanguageModelConfig, RecurrentLmConfig};
use burn::module::{Module, ModuleMapper, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::checkpoint::{self, TrainState};
use crate::clip::clip_global_norm;
use crate::config::RunConfig;
use crate::error::{Result, TrainError};
use crate::schedule::Schedule;
use crate::trainer::{Outcome, RunFiles};

/// The vocabulary file of a language-model run.
pub const VOCAB: &str = "vocab.json";

/// Token ids of the training and validation text.
pub struct LmData {
    pub vocab: Vocab,
    pub train: Vec<u32>,
    pub valid: Vec<u32>,
}

/// Encodes text with a run's vocabulary (unknown tokens become `<unk>`).
pub fn encode(vocab: &Vocab, text: &str, cfg: &RunConfig) -> Vec<u32> {
    lm_tokens(text, cfg.data.tokenizer, cfg.data.lowercase).iter().map(|t| vocab.id(t)).collect()
}

/// Reads the texts of a run; the vocabulary comes from `run` when resuming,
/// else from the training and validation text (every character for char
/// models, as nanoGPT; words seen `min_freq` times for word models).
pub fn prepare_lm(cfg: &RunConfig, run: Option<&Path>) -> Result<LmData> {
    if cfg.data.text.is_empty() {
        return Err(TrainError::Config("a language model needs data.text (--data FILE...)".into()));
    }
    let mut train_text = String::new();
    for path in &cfg.data.text {
        train_text.push_str(&read_text(path)?);
    }
    let valid_text = match &cfg.data.valid_text {
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
            let min_freq = if cfg.data.tokenizer == TokenizerKind::Char { 1 } else { cfg.data.min_freq };
            let max = (cfg.data.max_vocab > 0).then_some(cfg.data.max_vocab);
            let tokens = [
                lm_tokens(&train_text, cfg.data.tokenizer, cfg.data.lowercase),
                lm_tokens(&valid_text, cfg.data.tokenizer, cfg.data.lowercase),
            ];
            let mut v = Vocab::build(tokens.iter().map(|t| t.as_slice()), min_freq, max);
            if cfg.data.tokenizer == TokenizerKind::Char {
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
    let train = encode(&vocab, &train_text, cfg);
    let valid = encode(&vocab, &valid_text, cfg);
    let ctx = cfg.model.max_len;
    if train.len() <= ctx + 1 || valid.len() <= 1 {
        return Err(TrainError::Config(format!(
            "the training text has {} tokens and the validation text {}; the context (model.max_len) is {ctx}",
            train.len(),
            valid.len()
        )));
    }
    Ok(LmData { vocab, train, valid })
}

/// The model config of a language-model run.
pub fn gpt_config(cfg: &RunConfig, vocab: usize) -> GptConfig {
    let m = &cfg.model;
    GptConfig::new(vocab)
        .with_context(m.max_len)
        .with_d_model(m.d_model)
        .with_n_heads(m.n_heads)
        .with_n_layers(m.decoder_layers)
        .with_d_ff(m.d_ff)
        .with_dropout(m.dropout)
        .with_positional(m.positional)
        .with_bias(m.bias)
}

/// The model config of a language-model run: `model.arch` `gpt` (the
/// decoder-only Transformer) or `rnn`, `lstm`, `gru` (a recurrent language
/// model of `model.decoder_layers` layers, width `model.d_model`, trained on
/// windows of `model.max_len` tokens).
pub fn lm_config(cfg: &RunConfig, vocab: usize) -> Result<LanguageModelConfig> {
    let m = &cfg.model;
    let cell = match m.arch.as_str() {
        "gpt" => return Ok(LanguageModelConfig::Gpt(gpt_config(cfg, vocab))),
        "rnn" => CellKind::Rnn,
        "lstm" => CellKind::Lstm,
        "gru" => CellKind::Gru,
        other => return Err(TrainError::Config(format!("model.arch = {other:?}: a language model is gpt, rnn, lstm or gru"))),
    };
    Ok(LanguageModelConfig::Recurrent(
        RecurrentLmConfig::new(vocab)
            .with_cell(cell)
            .with_d_model(m.d_model)
            .with_n_layers(m.decoder_layers)
            .with_dropout(m.dropout)
            .with_context(m.max_len),
    ))
}

/// `batch` random windows of `ctx + 1` tokens: inputs and next-token targets, `[batch, ctx]` each.
pub(crate) fn windows(ids: &[u32], batch: usize, ctx: usize, rng: &mut StdRng, device: &Device) -> (Tensor<2, Int>, Tensor<2, Int>) {
    let (mut x, mut y) = (Vec::with_capacity(batch * ctx), Vec::with_capacity(batch * ctx));
    for _ in 0..batch {
        let start = rng.random_range(0..ids.len() - ctx);
        x.extend(ids[start..start + ctx].iter().map(|&i| i as i64));
        y.extend(ids[start + 1..start + ctx + 1].iter().map(|&i| i as i64));
    }
    (
        Tensor::from_data(TensorData::new(x, [batch, ctx]), device),
        Tensor::from_data(TensorData::new(y, [batch, ctx]), device),
    )
}

pub(crate) fn loss_of(model: &LanguageModel, x: Tensor<2, Int>, y: Tensor<2, Int>) -> Result<Tensor<1>> {
    let logits = model.forward(x)?; // [batch, ctx, vocab]
    let [b, t, v] = logits.dims();
    Ok(attend_model::fused::cross_entropy_loss(logits.reshape([b * t, v]), y.reshape([b * t]), 0.0, None))
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
        sum += loss_of(model, x, y)?.into_scalar::<f32>() as f64 * (count * ctx) as f64;
    }
    if rest > 0 {
        let s = full * ctx;
        let x: Vec<i64> = ids[s..s + rest].iter().map(|&i| i as i64).collect();
        let y: Vec<i64> = ids[s + 1..s + rest + 1].iter().map(|&i| i as i64).collect();
        let x = Tensor::from_data(TensorData::new(x, [1, rest]), device);
        let y = Tensor::from_data(TensorData::new(y, [1, rest]), device);
        sum += loss_of(model, x, y)?.into_scalar::<f32>() as f64 * rest as f64;
    }
    Ok((sum / n.max(1) as f64, n))
}

/// Decoupled weight decay (Loshchilov & Hutter, 2019) of the matrices only,
/// as nanoGPT's parameter groups do: embeddings and Linear weights shrink by
/// `factor` = 1 − lr·λ after each Adam step; LayerNorm weights and biases
/// (1-D) do not. Burn's `AdamW` decays every parameter, hence this mapper.
pub(crate) struct DecayMatrices {
    pub(crate) factor: f64,
}

impl ModuleMapper for DecayMatrices {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if D < 2 {
            return param;
        }
        let f = self.factor;
        param.map(|t| {
            let (trainable, autodiff) = (t.is_require_grad(), t.is_autodiff());
            // Scale the plain values and re-wrap them as a fresh leaf, as an optimizer step does.
            let t = t.inner().mul_scalar(f);
            let t = if autodiff { Tensor::from_inner(t) } else { t };
            if trainable {
                t.require_grad()
            } else {
                t
            }
        })
    }
}

fn rng_for(seed: u64, step: usize, stream: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream.rotate_left(32))
}

/// What a language-model run did.
pub struct LmReport {
    pub outcome: Outcome,
    pub state: TrainState,
    pub params: usize,
    /// Mean loss over every full context window of the validation text at the end (nats per token).
    pub valid_loss_full: Option<f64>,
    pub train_tokens: usize,
    pub vocab: usize,
    /// Seconds spent in training steps only (no evaluation), this call.
    pub step_secs: f64,
}

/// Trains (or resumes) a language-model run in `run`.
pub fn train_lm(cfg: &RunConfig, run: &Path, resume: bool, device: &Device, interrupt: Arc<AtomicBool>, quiet: bool) -> Result<LmReport> {
    let data = prepare_lm(cfg, resume.then_some(run))?;
    let gcfg = lm_config(cfg, data.vocab.len())?;
    let device = device.clone().autodiff();
    device.seed(cfg.train.seed);
    let mut model = gcfg.init(&device)?;
    // Adam plus decoupled weight decay of the matrices (see `DecayMatrices`) = nanoGPT's AdamW.
    let mut optim: ModuleOptimizer = AdamConfig::new().with_beta_1(cfg.train.beta1).with_beta_2(cfg.train.beta2).with_epsilon(cfg.train.epsilon).init();
    let mut state = TrainState::default();
    if resume {
        let (m, o, s) = checkpoint::load_newest(run, model, optim)?;
        (model, optim, state) = (m.fork(&device), o, s);
    } else {
        std::fs::create_dir_all(run).map_err(|e| TrainError::io(run, e))?;
        cfg.save(&run.join(RunFiles::CONFIG))?;
        data.vocab.save(&run.join(VOCAB))?;
    }
    let total = cfg.train.max_steps;
    if total == 0 {
        return Err(TrainError::Config("a language model trains for train.max_steps steps; set it above 0".into()));
    }
    let schedule = Schedule { kind: cfg.train.schedule, lr: cfg.train.lr, min_lr: cfg.train.min_lr, warmup: cfg.train.warmup_steps, d_model: cfg.model.d_model, total };
    let (batch, ctx) = (cfg.data.batch_size, cfg.model.max_len);
    let params = model.num_params();
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(total as u64) };
    bar.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar.set_position(state.step as u64);
    let started = Instant::now();
    let elapsed_before = state.elapsed_secs;
    let mut step_secs = 0f64;
    let mut outcome = Outcome::Finished;
    let estimate = |model: &LanguageModel, step: usize| -> Result<(f64, f64)> {
        let m = model.valid();
        let inner = device.clone().inner();
        let mut out = [0f64; 2];
        for (k, ids) in [&data.train, &data.valid].into_iter().enumerate() {
            let mut rng = rng_for(cfg.train.seed, step, 1 + k as u64);
            let n = 20;
            let ids_ctx = ctx.min(ids.len() - 1);
            for _ in 0..n {
                let (x, y) = windows(ids, batch, ids_ctx, &mut rng, &inner);
                out[k] += loss_of(&m, x, y)?.into_scalar::<f32>() as f64 / n as f64;
            }
        }
        Ok((out[0], out[1]))
    };
    if state.step == 0 && cfg.train.eval_every > 0 {
        let (tl, vl) = estimate(&model, 0)?;
        bar.suspend(|| if !quiet { println!("step {:>6}  train_loss {tl:.4}  valid_loss {vl:.4}  {:.0}s", 0, 0.0) });
    }
    while state.step < total {
        let t = Instant::now();
        let mut rng = rng_for(cfg.train.seed, state.step, 0);
        let (x, y) = windows(&data.train, batch, ctx, &mut rng, &device);
        device.seed(cfg.train.seed ^ state.step as u64);
        let loss = loss_of(&model, x, y)?;
        let value: f32 = loss.clone().into_scalar();
        if !value.is_finite() {
            bar.finish_and_clear();
            return Err(TrainError::NonFinite { value, step: state.step + 1, run: run.into() });
        }
        let mut grads = GradientsParams::from_grads(loss.backward(), &model);
        if cfg.train.clip_norm > 0.0 {
            clip_global_norm(&model, &mut grads, cfg.train.clip_norm);
        }
        let lr = schedule.at(state.step + 1);
        model = optim.step(lr, model, grads);
        if cfg.train.weight_decay > 0.0 {
            model = model.map(&mut DecayMatrices { factor: 1.0 - lr * cfg.train.weight_decay as f64 });
        }
        state.step += 1;
        state.tokens += (batch * ctx) as u64;
        step_secs += t.elapsed().as_secs_f64();
        state.elapsed_secs = elapsed_before + started.elapsed().as_secs_f64();
        bar.set_position(state.step as u64);
        bar.set_message(format!("loss {value:.3} lr {lr:.2e}"));
        if (cfg.train.eval_every > 0 && state.step % cfg.train.eval_every == 0) || state.step == total {
            let (tl, vl) = estimate(&model, state.step)?;
            let line = format!("step {:>6}  train_loss {tl:.4}  valid_loss {vl:.4}  {:.0}s", state.step, state.elapsed_secs);
            bar.suspend(|| if !quiet { println!("{line}") });
        }
        let interrupted = interrupt.load(Ordering::SeqCst);
        let ckpt_now = state.step == total || (cfg.train.checkpoint_every > 0 && state.step % cfg.train.checkpoint_every == 0);
        if ckpt_now || interrupted {
            checkpoint::save(&checkpoint::step_dir(run, state.step), &model, &optim, &state)?;
            checkpoint::prune(run, 2);
        }
        if interrupted {
            outcome = Outcome::Interrupted;
            break;
        }
    }
    bar.finish_and_clear();
    let valid_loss_full = if outcome == Outcome::Finished {
        let m = model.valid();
        checkpoint::save_weights(&run.join(RunFiles::BEST), &m, &state)?;
        Some(text_loss(&m, &data.valid, &device.clone().inner(), false)?.0)
    } else {
        None
    };
    Ok(LmReport { outcome, state, params, valid_loss_full, train_tokens: data.train.len(), vocab: data.vocab.len(), step_secs })
}

/// A trained language model and what it needs to read and write text.
pub struct LoadedLm {
    pub cfg: RunConfig,
    pub vocab: Vocab,
    pub model: LanguageModel,
}

/// Loads the newest weights of a language-model run (its `best/`, else the
/// newest checkpoint) on `device`.
pub fn load_lm(run: &Path, device: &Device) -> Result<LoadedLm> {
    let cfg = crate::run::run_config(run)?;
    let vocab = Vocab::load(&run.join(VOCAB))?;
    let model = lm_config(&cfg, vocab.len())?.init(device)?;
    let model = checkpoint::load_model(model, &crate::trainer::weights_dir(run)?.join("model.bpk"))?;
    Ok(LoadedLm { cfg, vocab, model })
}
