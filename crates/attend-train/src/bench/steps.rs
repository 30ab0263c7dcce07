//! The measured work of each benchmark row: the peers' models rebuilt from
//! attend's layers, with their data (random token ids in [3, V), seed 0), their
//! loss and optimizer, timed as they time theirs.

use attend_model::gpt::GptConfig;
use attend_model::{
    greedy_with, CellKind, GreedyOptions, LanguageModel, PositionalKind, RecurrentSeq2SeqConfig, Score, Seq2SeqConfig, Seq2SeqModel, TransformerConfig,
};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::flops::{self, GptShape, LstmShape, TransformerShape};
use super::{row_wanted, time_runs, BenchOptions, Row, RowMaker};
use crate::config::TrainSettings;
use crate::error::{Result, TrainError};
use crate::tasks::lm::data::{loss_of, windows};
use crate::tasks::translate::batch::smoothed_loss_ids;
use crate::trainer::{optim, parallel, Loss};
use std::ops::Range;

fn scaled(n: usize, scale: f64) -> usize {
    ((n as f64 * scale).round() as usize).max(1)
}

/// Random ids `[rows, len]` in `[3, vocab)` (past `<pad> <unk> <bos>`), as the peers draw them.
fn random_ids(rng: &mut StdRng, rows: usize, len: usize, vocab: usize, device: &Device) -> Tensor<2, Int> {
    let ids: Vec<i64> = (0..rows * len).map(|_| rng.random_range(3..vocab as i64)).collect();
    Tensor::from_data(TensorData::new(ids, [rows, len]), device)
}

/// The trainer's step on a batch of `rows` rows whose rows `r` have the mean
/// loss `loss(model, r)`: the loss read back (as the trainer does, which also
/// waits for a GPU), backward, and the trainer's update (clipping, the
/// optimizer step, decoupled weight decay, as `settings` say). On a CPU
/// device with several threads, as in the trainer, the rows are cut into one
/// share per thread, trained side by side (`trainer::parallel`).
#[allow(clippy::too_many_arguments)]
fn train_step<M: Module + Sync>(
    model: M,
    optim: &mut ModuleOptimizer,
    settings: &TrainSettings,
    lr: f64,
    device: &Device,
    rows: usize,
    loss: impl Fn(&M, Range<usize>) -> Result<Tensor<1>> + Sync,
) -> Result<M> {
    let shares = parallel::host_shares(device).clamp(1, rows.max(1));
    let (value, grads) = if shares == 1 {
        let loss = loss(&model, 0..rows)?;
        let value: f32 = loss.clone().into_scalar();
        (value, GradientsParams::from_grads(loss.backward(), &model))
    } else {
        let ranges: Vec<Range<usize>> = (0..shares).map(|i| i * rows / shares..(i + 1) * rows / shares).collect();
        let parts = parallel::side_by_side(&model, &ranges, device, 0, |m, r| {
            Ok(Loss { value: loss(m, r.clone())?, terms: r.len(), tokens: r.len() })
        })?;
        let (value, _, grads) = parallel::combine(&model, parts);
        (value, grads)
    };
    if !value.is_finite() {
        return Err(TrainError::Config(format!("the benchmark's loss became {value}")));
    }
    Ok(optim::update(model, optim, grads, settings, lr))
}

/// No clipping and no weight decay (the encoder–decoder peers).
fn plain_update() -> TrainSettings {
    TrainSettings { clip_norm: 0.0, weight_decay: 0.0, ..TrainSettings::default() }
}

fn sync(device: &Device) -> Result<()> {
    device.sync().map_err(|e| TrainError::Config(format!("device sync failed: {e:?}")))
}

fn transformer_config(c: &TransformerShape) -> TransformerConfig {
    TransformerConfig::new(c.vocab, c.vocab)
        .with_d_model(c.d)
        .with_n_heads(c.heads)
        .with_d_ff(c.ffn)
        .with_encoder_layers(c.enc_layers)
        .with_decoder_layers(c.dec_layers)
        .with_dropout(0.1)
        .with_positional(PositionalKind::Sinusoidal)
        .with_max_len(512)
        .with_share_embeddings(true)
        .with_tie_output(true)
}

/// How an encoder–decoder row trains: its optimizer, learning rate and label smoothing.
struct Training {
    optim: ModuleOptimizer,
    lr: f64,
    smoothing: f32,
}

/// The training step (forward, loss, backward, optimizer) and the inference
/// forward of an encoder–decoder on random ids `[batch, src]` → `[batch, tgt]`.
#[allow(clippy::too_many_arguments)]
fn seq2seq_rows(
    opts: &BenchOptions,
    maker: &RowMaker,
    group: &str,
    cfg: Seq2SeqConfig,
    mut training: Training,
    [batch, src_len, tgt_len, vocab]: [usize; 4],
    [warmup, repeats]: [usize; 2],
    forward_flop: f64,
) -> Result<Vec<Row>> {
    let device = maker.device.clone().autodiff();
    device.seed(0);
    let mut model = cfg.init(&device)?;
    let params = model.num_params();
    let mut rng = StdRng::seed_from_u64(0);
    let src = random_ids(&mut rng, batch, src_len, vocab, &device);
    let tgt = random_ids(&mut rng, batch, tgt_len + 1, vocab, &device);
    let tgt_in = tgt.clone().slice([0..batch, 0..tgt_len]);
    let tgt_out = tgt.slice([0..batch, 1..tgt_len + 1]);
    let (warm, reps) = (scaled(warmup, opts.repeat_scale), scaled(repeats, opts.repeat_scale));
    let tokens = (batch * tgt_len) as f64;
    let mut rows = Vec::new();
    if row_wanted(opts, group, "train") {
        let mut slot = Some(model);
        let ts = time_runs(warm, reps, || {
            let m = slot.take().expect("the model is put back after every step");
            let loss = |m: &Seq2SeqModel, r: Range<usize>| -> Result<Tensor<1>> {
                let logits = m.forward(src.clone().slice([r.clone(), 0..src_len]), None, tgt_in.clone().slice([r.clone(), 0..tgt_len]), None)?;
                Ok(smoothed_loss_ids(logits, tgt_out.clone().slice([r, 0..tgt_len]), training.smoothing, &device))
            };
            slot = Some(train_step(m, &mut training.optim, &plain_update(), training.lr, &device, batch, loss)?);
            sync(&device)
        })?;
        model = slot.expect("the model is put back after every step");
        rows.push(maker.make(format!("{group}/train"), "tok/s", tokens, &ts, 3.0 * forward_flop, params, None));
    }
    if row_wanted(opts, group, "forward") {
        let inner = device.clone().inner();
        let m = model.valid();
        let (src, tgt_in) = (src.inner(), tgt_in.inner());
        let ts = time_runs(warm, reps, || {
            let _ = m.forward(src.clone(), None, tgt_in.clone(), None)?.into_data(); // waits for the result
            sync(&inner)
        })?;
        rows.push(maker.make(format!("{group}/forward"), "tok/s", tokens, &ts, forward_flop, params, None));
    }
    Ok(rows)
}

/// `bench_transformer.py`: label smoothing 0.1, Adam (lr 1e-4, β 0.9/0.98, ε 1e-9).
pub(super) fn transformer(opts: &BenchOptions, maker: &RowMaker, group: &str, c: &TransformerShape) -> Result<Vec<Row>> {
    let optim = optim::adam_with(0.9, 0.98, 1e-9);
    let training = Training { optim, lr: 1e-4, smoothing: 0.1 };
    let cfg = Seq2SeqConfig::Transformer(transformer_config(c));
    let dims = [c.batch, c.src, c.tgt, c.vocab];
    seq2seq_rows(opts, maker, group, cfg, training, dims, [c.warmup, c.repeats], flops::transformer_forward(c))
}

/// `bench_lstm.py`: a one-layer LSTM encoder, an LSTM decoder with additive
/// (Bahdanau) attention and teacher forcing, no dropout, plain cross-entropy
/// and Adam (lr 1e-3).
pub(super) fn lstm(opts: &BenchOptions, maker: &RowMaker, group: &str, c: &LstmShape) -> Result<Vec<Row>> {
    let cfg = RecurrentSeq2SeqConfig::new(c.vocab, c.vocab)
        .with_cell(CellKind::Lstm)
        .with_d_embed(c.emb)
        .with_d_hidden(c.hidden)
        .with_dropout(0.0)
        .with_attention(Some(Score::Additive))
        .with_max_len(512);
    let training = Training { optim: optim::adam_with(0.9, 0.999, 1e-8), lr: 1e-3, smoothing: 0.0 };
    let dims = [c.batch, c.src, c.tgt, c.vocab];
    seq2seq_rows(opts, maker, group, Seq2SeqConfig::Recurrent(cfg), training, dims, [c.warmup, c.repeats], flops::lstm_forward(c))
}

/// `bench_gpt_char.py`'s step: 12 random windows of 64 characters of the
/// training text, mean cross-entropy, backward, clipping at norm 1, Adam with
/// nanoGPT's decoupled weight decay of the matrices (0.1).
pub(super) fn gpt_char(opts: &BenchOptions, maker: &RowMaker) -> Result<Row> {
    let c: GptShape = flops::GPT_CHAR;
    let text = std::fs::read_to_string(&opts.lm_text).map_err(|e| TrainError::io(&opts.lm_text, e))?;
    let mut chars: Vec<char> = text.chars().collect();
    chars.sort_unstable();
    chars.dedup();
    let ids: Vec<u32> = text.chars().map(|ch| chars.binary_search(&ch).unwrap_or(0) as u32).collect();
    if ids.len() <= c.context + 1 {
        return Err(TrainError::Config(format!("{}: too short for windows of {} characters", opts.lm_text.display(), c.context)));
    }
    let device = maker.device.clone().autodiff();
    device.seed(1337);
    let gpt = GptConfig::new(c.vocab.max(chars.len()))
        .with_context(c.context)
        .with_d_model(c.d)
        .with_n_heads(c.heads)
        .with_n_layers(c.layers)
        .with_d_ff(4 * c.d)
        .with_dropout(0.0)
        .with_positional(PositionalKind::Learned)
        .with_bias(false)
        .init(&device)?;
    let model = LanguageModel::Gpt(gpt);
    let params = model.num_params();
    let mut optim: ModuleOptimizer = optim::adam_with(0.9, 0.99, 1e-8);
    let mut rng = StdRng::seed_from_u64(1337);
    let lr = 1e-3;
    let settings = TrainSettings { clip_norm: 1.0, weight_decay: 0.1, ..TrainSettings::default() };
    let mut slot = Some(model);
    let ts = time_runs(scaled(c.warmup, opts.repeat_scale), scaled(c.repeats, opts.repeat_scale), || {
        let m = slot.take().expect("the model is put back after every step");
        let (x, y) = windows(&ids, c.batch, c.context, &mut rng, &device);
        let loss = |m: &LanguageModel, r: Range<usize>| loss_of(m, x.clone().slice([r.clone(), 0..c.context]), y.clone().slice([r, 0..c.context]), 0.0);
        slot = Some(train_step(m, &mut optim, &settings, lr, &device, c.batch, loss)?);
        sync(&device)
    })?;
    // The peer divides its tokens by the sum of its step times: the mean.
    let mean = ts.iter().sum::<f64>() / ts.len() as f64;
    let tokens = (c.batch * c.context) as f64;
    let note = Some(format!("mean step {mean:.4} s: {:.0} tok/s", tokens / mean));
    Ok(maker.make("gpt-char/train".into(), "tok/s", tokens, &ts, flops::gpt_train_step(&c), params, note))
}

/// `bench_transformer.py`'s greedy decoding: 32 random source sentences,
/// 32 steps from `<bos>` = 1 with no `<eos>` stop, all at once and 8 of them
/// one at a time, with the key/value cache and re-reading the prefix.
pub(super) fn decode(opts: &BenchOptions, maker: &RowMaker, group: &str, c: &TransformerShape) -> Result<Vec<Row>> {
    // Without autodiff, as `attend translate` and the server decode (and the
    // peer, under `torch.no_grad()`).
    let device = maker.device.clone().inner();
    device.seed(0);
    let model = Seq2SeqConfig::Transformer(transformer_config(c)).init(&device)?;
    let params = model.num_params();
    let (sentences, steps, one_by_one) = (32, 32, 8);
    let mut rng = StdRng::seed_from_u64(1);
    let src = random_ids(&mut rng, sentences, c.src, c.vocab, &device);
    let run = |src: Tensor<2, Int>, cache: bool| -> Result<Vec<Vec<u32>>> {
        let opts = GreedyOptions { bos: 1, eos: None, max_len: steps + 1, attention: None, cache };
        Ok(greedy_with(&model, src, None, &opts)?.ids)
    };
    let cached = run(src.clone(), true)?;
    let full = run(src.clone(), false)?;
    let same = cached.iter().flatten().zip(full.iter().flatten()).filter(|(a, b)| a == b).count();
    let agreement = same as f64 / (sentences * steps) as f64;
    let note = Some(format!("cached and full decoding agree on {:.4} of the tokens", agreement));
    let mut rows = Vec::new();
    let (warm, reps) = (1, scaled(3, opts.repeat_scale));
    for cache in [true, false] {
        let kind = if cache { "cached" } else { "full" };
        let flop = |n: usize| if cache { flops::transformer_decode_cached(c, n, steps) } else { 0.0 };
        if row_wanted(opts, group, &format!("batched-{kind}")) {
            let ts = time_runs(warm, reps, || run(src.clone(), cache).map(|_| ()))?;
            rows.push(maker.make(format!("{group}/batched-{kind}"), "ms/sentence", sentences as f64, &ts, flop(sentences), params, note.clone()));
        }
        if row_wanted(opts, group, &format!("batch1-{kind}")) {
            let one: Vec<Tensor<2, Int>> = (0..one_by_one).map(|i| src.clone().slice([i..i + 1, 0..c.src])).collect();
            let ts = time_runs(warm, (reps / 2).max(1), || {
                for s in &one {
                    run(s.clone(), cache)?;
                }
                Ok(())
            })?;
            rows.push(maker.make(format!("{group}/batch1-{kind}"), "ms/sentence", one_by_one as f64, &ts, one_by_one as f64 * flop(1), params, note.clone()));
        }
    }
    Ok(rows)
}

/// word2vec (skip-gram, gensim's defaults) for one epoch over the corpus with
/// the CPU engine: raw corpus words per second, as gensim counts them.
pub(super) fn word2vec(opts: &BenchOptions, maker: &RowMaker) -> Result<Row> {
    use crate::tasks::word2vec::{train, Engine, TrainOptions, Word2VecConfig};
    if opts.corpus.is_empty() {
        return Err(TrainError::Config("the word2vec row needs a corpus (--corpus FILE...)".into()));
    }
    let cfg = Word2VecConfig::new().with_epochs(1).with_threads(opts.threads);
    let trained = train(&cfg, &opts.corpus, &Engine::Cpu, &TrainOptions::default())?;
    let s = &trained.stats;
    let ts = [s.train_s];
    let note = Some(format!("{} corpus words, vocabulary {}, {} threads", s.corpus_words, s.vocab, opts.threads));
    Ok(maker.make("word2vec/train".into(), "words/s", s.raw_words as f64, &ts, 0.0, 0, note))
}
