//! One translation batch on a device: tensors from padded ids, the
//! label-smoothed training loss, validation metrics and batched greedy
//! translation with BLEU.

use std::collections::HashMap;

use attend_data::{Example, Padded, PairTokenizer, Seq2SeqBatch, Vocab, BOS, EOS, PAD};
use attend_model::{beam_search, greedy, AttentionPick, BeamOptions, Decoded, Seq2SeqModel};
use attend_model::fused::cross_entropy_loss;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use super::bleu::corpus_bleu;
use crate::error::{Result, TrainError};

/// Token ids `[batch, seq]` of a padded batch.
pub fn ids(p: &Padded, device: &Device) -> Tensor<2, Int> {
    let data: Vec<i64> = p.ids.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(data, [p.batch, p.seq]), device)
}

/// Padding mask `[batch, seq]` (`true` = padding).
pub fn pad_mask(p: &Padded, device: &Device) -> Tensor<2, Bool> {
    Tensor::from_data(TensorData::new(p.pad_mask(), [p.batch, p.seq]), device)
}

/// Teacher-forced logits `[batch, s_tgt, vocab]` of a batch.
pub fn logits(model: &Seq2SeqModel, batch: &Seq2SeqBatch, device: &Device) -> Result<Tensor<3>> {
    Ok(model.forward(
        ids(&batch.src, device),
        Some(pad_mask(&batch.src, device)),
        ids(&batch.tgt_in, device),
        Some(pad_mask(&batch.tgt_in, device)),
    )?)
}

/// Label-smoothed cross-entropy (Szegedy et al., 2016) averaged over the
/// non-padding target tokens (Burn's `CrossEntropyLoss` with `<pad>` ignored, or
/// the fused operation that equals it).
pub fn smoothed_loss(logits: Tensor<3>, targets: &Padded, smoothing: f32, device: &Device) -> Tensor<1> {
    smoothed_loss_ids(logits, ids(targets, device), smoothing, device)
}

/// [`smoothed_loss`] of target ids `[batch, s_tgt]` already on the device
/// (fused with its own backward pass where the backend has it; see
/// `attend_model::fused`).
pub fn smoothed_loss_ids(logits: Tensor<3>, targets: Tensor<2, Int>, smoothing: f32, _device: &Device) -> Tensor<1> {
    let [b, s, v] = logits.dims();
    cross_entropy_loss(logits.reshape([b * s, v]), targets.reshape([b * s]), smoothing, Some(PAD as usize))
}

/// Sum of token negative log-likelihoods and number of correct argmax
/// predictions over the non-padding targets: `(nll_sum, correct)`.
pub fn nll_and_correct(logits: Tensor<3>, targets: &Padded, device: &Device) -> (f64, usize) {
    let [b, s, v] = logits.dims();
    let logp = log_softmax(logits.reshape([b * s, v]), 1); // [b*s, vocab]
    let tgt = ids(targets, device).reshape([b * s, 1]);
    let real = pad_mask(targets, device).reshape([b * s, 1]).bool_not().float(); // [b*s, 1]
    let nll = logp.clone().gather(1, tgt.clone()).neg().mul(real.clone()).sum();
    let correct = logp.argmax(1).equal(tgt).float().mul(real).sum();
    let nll: f64 = nll.into_scalar::<f32>() as f64;
    let correct: f32 = correct.into_scalar();
    (nll, correct.round() as usize)
}

/// Decodes `sources` (token ids ending in `<eos>`) in batches of `batch_size`:
/// greedily (with the cross-attention when `attention` asks for it), or by
/// beam search when `beam` is given (then without attention).
pub fn translate_ids(
    model: &Seq2SeqModel,
    sources: &[Vec<u32>],
    batch_size: usize,
    max_len: usize,
    attention: Option<AttentionPick>,
    beam: Option<BeamOptions>,
    device: &Device,
) -> Result<Decoded> {
    if beam.is_some() && attention.is_some() {
        return Err(TrainError::Invalid("attention weights come with greedy decoding only; drop the beam or the attention".into()));
    }
    // Without attention to return, greedy decoding runs as a beam of one through the models'
    // step API (the same tokens as `greedy`, tested; a recurrent decoder then costs O(length)).
    let beam = beam.or(attention.is_none().then_some(BeamOptions { size: 1, length_penalty: 1.0 }));
    let mut all = Decoded { ids: Vec::with_capacity(sources.len()), attention: attention.map(|_| Vec::new()) };
    for chunk in sources.chunks(batch_size.max(1)) {
        let padded = Padded::new(chunk);
        if let Some(opts) = beam {
            let hyps = beam_search(model, ids(&padded, device), Some(pad_mask(&padded, device)), BOS, EOS, max_len, opts)?;
            all.ids.extend(hyps.into_iter().map(|h| h.ids));
            continue;
        }
        let out = greedy(model, ids(&padded, device), Some(pad_mask(&padded, device)), BOS, EOS, max_len, attention)?;
        all.ids.extend(out.ids);
        if let (Some(acc), Some(a)) = (all.attention.as_mut(), out.attention) {
            acc.extend(a);
        }
    }
    // A model without attention (e.g. a plain LSTM encoder-decoder) has none to return.
    if all.attention.as_ref().is_some_and(|a| a.len() != all.ids.len()) {
        all.attention = None;
    }
    Ok(all)
}

/// Tokenises, encodes, translates and detokenises sentences.
#[allow(clippy::too_many_arguments)]
pub fn translate_text(
    model: &Seq2SeqModel,
    tokenizer: &PairTokenizer,
    src_vocab: &Vocab,
    tgt_vocab: &Vocab,
    sentences: &[String],
    max_len: usize,
    attention: Option<AttentionPick>,
    beam: Option<BeamOptions>,
    device: &Device,
) -> Result<(Vec<String>, Decoded)> {
    let sources: Vec<Vec<u32>> = sentences
        .iter()
        .map(|s| {
            let mut ids = src_vocab.encode(&tokenizer.src.tokenize(s), false, true);
            if ids.len() > model.max_len() {
                ids.truncate(model.max_len() - 1);
                ids.push(EOS);
            }
            ids
        })
        .collect();
    let decoded = translate_ids(model, &sources, 64, max_len, attention, beam, device)?;
    let text = decoded.ids.iter().map(|ids| tokenizer.tgt.detokenize(&tgt_vocab.decode(ids))).collect();
    Ok((text, decoded))
}

/// Groups references by identical source: every translation of a source
/// sentence is one of its references (multi-reference BLEU). Returns the
/// distinct sources (first-seen order) and their references.
pub fn group_references(sources: &[String], references: &[String]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut order: Vec<String> = Vec::new();
    let mut refs: HashMap<&str, Vec<String>> = HashMap::new();
    for (s, r) in sources.iter().zip(references) {
        let entry = refs.entry(s.as_str()).or_default();
        if entry.is_empty() {
            order.push(s.clone());
        }
        entry.push(r.clone());
    }
    let grouped = order.iter().map(|s| refs[s.as_str()].clone()).collect();
    (order, grouped)
}

/// One evaluation of a translation model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalMetrics {
    /// Mean cross-entropy per target token (nats, no label smoothing).
    pub loss: f64,
    /// exp(loss).
    pub perplexity: f64,
    /// Fraction of target tokens predicted exactly (teacher forcing).
    pub token_accuracy: f64,
    /// Corpus BLEU of greedy translations (0–100).
    pub bleu: f64,
    /// Fraction of sentences whose greedy output equals a reference exactly.
    pub exact_match: f64,
}

/// What [`evaluate`] reads besides the model.
pub struct ValidSet<'a> {
    pub examples: &'a [Example],
    /// The batches of `examples` (index lists), cut as training batches are
    /// (by sentences or by tokens) but not shuffled.
    pub batches: &'a [Vec<usize>],
    pub sources: &'a [String],
    pub references: &'a [String],
}

/// Validation loss, perplexity and token accuracy (teacher forcing), then BLEU
/// and exact match of greedy translations of up to `bleu_sentences` distinct sources.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    model: &Seq2SeqModel,
    valid: &ValidSet,
    tokenizer: &PairTokenizer,
    src_vocab: &Vocab,
    tgt_vocab: &Vocab,
    bleu_sentences: usize,
    max_decode_len: usize,
    device: &Device,
) -> Result<EvalMetrics> {
    if valid.examples.is_empty() {
        return Ok(EvalMetrics::default());
    }
    let (mut nll, mut correct, mut tokens) = (0f64, 0usize, 0usize);
    for chunk in valid.batches {
        let batch = Seq2SeqBatch::new(valid.examples, chunk);
        let (n, c) = nll_and_correct(logits(model, &batch, device)?, &batch.tgt_out, device);
        nll += n;
        correct += c;
        tokens += batch.tgt_out.tokens();
    }
    let loss = nll / tokens.max(1) as f64;
    let (mut sources, mut refs) = group_references(valid.sources, valid.references);
    if bleu_sentences > 0 && sources.len() > bleu_sentences {
        sources.truncate(bleu_sentences);
        refs.truncate(bleu_sentences);
    }
    let (hyps, _) = translate_text(model, tokenizer, src_vocab, tgt_vocab, &sources, max_decode_len, None, None, device)?;
    let bleu = corpus_bleu(&hyps, &refs).score;
    let exact = hyps.iter().zip(&refs).filter(|(h, rs)| rs.iter().any(|r| r.trim() == h.trim())).count();
    Ok(EvalMetrics {
        loss,
        perplexity: loss.exp(),
        token_accuracy: correct as f64 / tokens.max(1) as f64,
        bleu,
        exact_match: exact as f64 / hyps.len().max(1) as f64,
    })
}
