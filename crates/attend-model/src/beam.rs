//! Beam search: instead of committing to the single most likely next token
//! (greedy decoding), keep the `size` most likely partial translations at
//! every step and extend each of them (Sutskever et al., 2014; Wu et al.,
//! 2016, "GNMT", for the length penalty). A finished hypothesis is scored by
//! its log-probability divided by `length ^ length_penalty`, so that short
//! translations are not favoured just for having fewer factors below one.
//!
//! Every model decodes through [`Seq2SeqModel::step`] and carries its state
//! from step to step, reordered as hypotheses are kept or dropped: a
//! recurrent decoder its states, the Transformer its key/value cache. With
//! `size = 1` beam search is greedy decoding.

use burn::prelude::*;

use crate::error::ModelError;
use crate::fused::cpu::loss as cpu_loss;
use crate::seq2seq::Seq2SeqModel;

/// Settings of [`beam_search`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeamOptions {
    /// Hypotheses kept per sentence.
    pub size: usize,
    /// Exponent α of the length normalisation `score / length^α` (0 = raw log-probability).
    pub length_penalty: f32,
}

/// The best translation of one sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    /// Token ids, without `<bos>` and `<eos>`.
    pub ids: Vec<u32>,
    /// Sum of the log-probabilities of the tokens and of `<eos>` (when it was produced).
    pub log_prob: f32,
    /// `log_prob / length^α`, what the hypotheses were ranked by.
    pub score: f32,
}

/// One live hypothesis: (row of the previous step, token, log-probability).
type Candidate = (usize, u32, f32);

/// Beam search over source ids `src` `[batch, s_src]` (padding marked in
/// `src_pad`): the best hypothesis per sentence, at most `max_len - 1` tokens
/// (plus `<eos>`). On the CPU, a block of sentences per thread
/// ([`crate::decode::in_sentence_blocks`]).
pub fn beam_search(
    model: &Seq2SeqModel,
    src: Tensor<2, Int>,
    src_pad: Option<Tensor<2, Bool>>,
    bos: u32,
    eos: u32,
    max_len: usize,
    opts: BeamOptions,
) -> Result<Vec<Hypothesis>, ModelError> {
    if opts.size == 0 {
        return Err(ModelError::Invalid("the beam size must be at least 1".into()));
    }
    let blocks = crate::decode::in_sentence_blocks(src, src_pad, |src, pad| search_block(model, src, pad, bos, eos, max_len, opts))?;
    Ok(blocks.into_iter().flatten().collect())
}

/// [`beam_search`] on one block of sentences, on the calling thread's pool.
fn search_block(
    model: &Seq2SeqModel,
    src: Tensor<2, Int>,
    src_pad: Option<Tensor<2, Bool>>,
    bos: u32,
    eos: u32,
    max_len: usize,
    opts: BeamOptions,
) -> Result<Vec<Hypothesis>, ModelError> {
    let device = src.device();
    let batch = src.dims()[0];
    let k = opts.size;
    let rows = batch * k;
    // Each sentence's memory once per beam: rows b*k .. b*k+k belong to sentence b.
    let repeat: Vec<i64> = (0..rows).map(|r| (r / k) as i64).collect();
    let mut memory = model.encode(src, src_pad)?.select(Tensor::from_data(TensorData::new(repeat, [rows]), &device));
    let mut state = model.start(&memory, rows)?;
    let norm = |log_prob: f32, len: usize| log_prob / (len.max(1) as f32).powf(opts.length_penalty);
    // The sentences still being decoded, in row order: rows l*k .. l*k+k are
    // those of `live[l]`. A finished sentence leaves the batch, so a batch
    // costs what its sentences need, not k rows of its longest one throughout.
    let mut live: Vec<usize> = (0..batch).collect();
    // Only the first beam of each sentence is live at the start (the others would repeat it).
    let mut scores: Vec<f32> = (0..rows).map(|r| if r % k == 0 { 0.0 } else { f32::NEG_INFINITY }).collect();
    let mut prefixes: Vec<Vec<u32>> = vec![Vec::new(); rows];
    let mut tokens = vec![bos; rows];
    let mut finished: Vec<Vec<Hypothesis>> = vec![Vec::new(); batch];
    let steps = max_len.min(model.max_len()).saturating_sub(1);
    for step in 0..steps {
        let (logits, next_state) = model.step(&tokens, state, &memory)?; // [rows, vocab]
        let vocab = logits.dims()[1];
        let mut logp: Vec<f32> = logits.try_into_vec_as::<f32>().map_err(|e| ModelError::Invalid(format!("{e:?}")))?;
        let mut keep: Vec<Candidate> = Vec::with_capacity(live.len() * k);
        let mut still: Vec<(usize, usize)> = Vec::with_capacity(live.len()); // (sentence, its row block now)
        if k == 1 {
            // Greedy: each row's most likely token is its only candidate that matters
            // (the general loop picks the same; tests/beam.rs checks it against `greedy`).
            for (l, ((t, lp), &b)) in cpu_loss::top1_log_softmax(&logp, vocab).into_iter().zip(&live).enumerate() {
                let s = scores[l] + lp;
                if t == eos {
                    finished[b].push(Hypothesis { ids: prefixes[l].clone(), log_prob: s, score: norm(s, prefixes[l].len() + 1) });
                } else {
                    keep.push((l, t, s));
                    still.push((b, l));
                }
            }
        } else {
            cpu_loss::log_softmax_rows(&mut logp, vocab);
            for (l, &b) in live.iter().enumerate() {
                // The 2k best extensions of this sentence's beams (k of them may end).
                let mut best: Vec<Candidate> = Vec::with_capacity(2 * k + 1);
                for r in l * k..(l + 1) * k {
                    if scores[r] == f32::NEG_INFINITY {
                        continue;
                    }
                    for (t, &lp) in logp[r * vocab..(r + 1) * vocab].iter().enumerate() {
                        let s = scores[r] + lp;
                        if best.len() < 2 * k || s > best[best.len() - 1].2 {
                            let at = best.partition_point(|c| c.2 >= s);
                            best.insert(at, (r, t as u32, s));
                            best.truncate(2 * k);
                        }
                    }
                }
                let mut next = Vec::with_capacity(k);
                for (rank, &(r, t, s)) in best.iter().enumerate() {
                    if t == eos {
                        // Only an ending among the k best counts (as in fairseq).
                        if rank < k {
                            finished[b].push(Hypothesis { ids: prefixes[r].clone(), log_prob: s, score: norm(s, prefixes[r].len() + 1) });
                        }
                    } else if next.len() < k {
                        next.push((r, t, s));
                    }
                }
                if finished[b].len() >= k || next.is_empty() {
                    continue; // done: its rows leave the batch
                }
                while next.len() < k {
                    next.push((l * k, eos, f32::NEG_INFINITY));
                }
                keep.extend(next);
                still.push((b, l));
            }
        }
        if still.is_empty() {
            live.clear();
            break;
        }
        prefixes = keep
            .iter()
            .map(|&(r, t, s)| {
                let mut p = prefixes[r].clone();
                if s > f32::NEG_INFINITY {
                    p.push(t);
                }
                p
            })
            .collect();
        scores = keep.iter().map(|c| c.2).collect();
        tokens = keep.iter().map(|c| c.1).collect();
        let shrunk = still.len() < live.len();
        live = still.iter().map(|&(b, _)| b).collect();
        if step + 1 == steps {
            break;
        }
        if shrunk {
            // The remaining sentences' memory rows (all beams of a sentence share it).
            let rows: Vec<i64> = still.iter().flat_map(|&(_, l)| (l * k..(l + 1) * k).map(|r| r as i64)).collect();
            let n = rows.len();
            memory = memory.select(Tensor::from_data(TensorData::new(rows, [n]), &device));
        }
        let from: Vec<usize> = keep.iter().map(|c| c.0).collect();
        // Each row extends itself (always so for a beam of one): no reordering to copy.
        let in_place = !shrunk && from.iter().enumerate().all(|(i, &r)| i == r);
        state = if in_place { next_state } else { next_state.select(&from, &device) };
    }
    // Sentences that reached the length limit: their live hypotheses end there.
    for (l, &b) in live.iter().enumerate() {
        for r in l * k..(l + 1) * k {
            if scores[r] > f32::NEG_INFINITY {
                finished[b].push(Hypothesis { ids: prefixes[r].clone(), log_prob: scores[r], score: norm(scores[r], prefixes[r].len()) });
            }
        }
    }
    Ok(finished
        .into_iter()
        .map(|hs| {
            hs.into_iter()
                .fold(None::<Hypothesis>, |best, h| match best {
                    Some(b) if b.score >= h.score => Some(b),
                    _ => Some(h),
                })
                .unwrap_or(Hypothesis { ids: Vec::new(), log_prob: f32::NEG_INFINITY, score: f32::NEG_INFINITY })
        })
        .collect())
}
