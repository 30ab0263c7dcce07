//! Greedy decoding: feed the decoder its own most likely token, one step at a
//! time, until every sentence of the batch has produced `<eos>`. The
//! Transformer keeps every layer's keys and values of the prefix (a key/value
//! cache), so a step costs one position instead of the whole prefix.

use burn::prelude::*;

use crate::error::ModelError;
use crate::seq2seq::Seq2SeqModel;

/// A decoded batch: token ids (without `<bos>`, up to and excluding `<eos>`)
/// and, per sentence, the mean over layers and heads of the cross-attention
/// weights `[s_out][s_src]` of the produced tokens (when requested).
#[derive(Debug, Clone)]
pub struct Decoded {
    pub ids: Vec<Vec<u32>>,
    pub attention: Option<Vec<Vec<Vec<f32>>>>,
}

/// Which cross-attention to return: a layer and head, or the mean of all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionPick {
    Mean,
    LayerHead { layer: usize, head: Option<usize> },
}

/// Greedy decoding of source ids `src` `[batch, s_src]` (padding marked in
/// `src_pad`), with the Transformer's key/value cache: at most `max_len - 1`
/// tokens per sentence, stopping at `eos`.
pub fn greedy(
    model: &Seq2SeqModel,
    src: Tensor<2, Int>,
    src_pad: Option<Tensor<2, Bool>>,
    bos: u32,
    eos: u32,
    max_len: usize,
    attention: Option<AttentionPick>,
) -> Result<Decoded, ModelError> {
    let opts = GreedyOptions { bos, eos: Some(eos), max_len, attention, cache: true };
    greedy_with(model, src, src_pad, &opts)
}

/// Settings of [`greedy_with`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GreedyOptions {
    /// The first token fed.
    pub bos: u32,
    /// The token that ends a sentence; `None` decodes every sentence to the full length.
    pub eos: Option<u32>,
    /// At most `max_len - 1` tokens are produced (and no more than the model accepts).
    pub max_len: usize,
    /// Which cross-attention to return, if any.
    pub attention: Option<AttentionPick>,
    /// Use the Transformer's key/value cache (`false`: re-read the whole prefix at every step).
    pub cache: bool,
}

/// Sentences per block, at least: a smaller batch is decoded as one block.
const MIN_BLOCK_ROWS: usize = 4;

/// Runs `decode` on the batch `src` `[batch, s_src]` (padding `src_pad`) cut
/// into one block of sentences per thread, each decoded start to end on its
/// thread with its kernels single-threaded, and returns the blocks' results
/// in sentence order. A decoding step's products are a few rows tall, too
/// small to split over threads well; a whole block's decoding is not. Only on
/// the CPU backends with several threads and enough sentences; otherwise one
/// block, the whole batch, decoded here. Sentences are decoded independently
/// of each other, so the blocks give what the whole batch gives (tested).
pub(crate) fn in_sentence_blocks<T: Send>(
    src: Tensor<2, Int>,
    src_pad: Option<Tensor<2, Bool>>,
    decode: impl Fn(Tensor<2, Int>, Option<Tensor<2, Bool>>) -> Result<T, ModelError> + Sync,
) -> Result<Vec<T>, ModelError> {
    let [batch, s_src] = src.dims();
    if !crate::fused::host_kernels(&src.device()) {
        return Ok(vec![decode(src, src_pad)?]);
    }
    crate::fused::cpu::par_row_blocks(batch, MIN_BLOCK_ROWS, |rows| {
        let pad = src_pad.as_ref().map(|p| p.clone().slice([rows.clone(), 0..s_src]));
        decode(src.clone().slice([rows, 0..s_src]), pad)
    })
    .into_iter()
    .collect()
}

/// Greedy decoding with every setting explicit (see [`GreedyOptions`]); on
/// the CPU, a block of sentences per thread ([`in_sentence_blocks`]).
pub fn greedy_with(model: &Seq2SeqModel, src: Tensor<2, Int>, src_pad: Option<Tensor<2, Bool>>, opts: &GreedyOptions) -> Result<Decoded, ModelError> {
    let blocks = in_sentence_blocks(src, src_pad, |src, pad| greedy_block(model, src, pad, opts))?;
    let mut ids = Vec::new();
    let mut attention: Option<Vec<_>> = opts.attention.map(|_| Vec::new());
    for block in blocks {
        ids.extend(block.ids);
        match (&mut attention, block.attention) {
            (Some(all), Some(part)) => all.extend(part),
            (all, _) => *all = None,
        }
    }
    Ok(Decoded { ids, attention })
}

/// [`greedy_with`] on one block of sentences, on the calling thread's pool.
fn greedy_block(model: &Seq2SeqModel, src: Tensor<2, Int>, src_pad: Option<Tensor<2, Bool>>, opts: &GreedyOptions) -> Result<Decoded, ModelError> {
    let batch = src.dims()[0];
    let memory = model.encode(src, src_pad)?;
    let steps = opts.max_len.min(model.max_len()).saturating_sub(1);
    let mut state = if opts.cache { model.start(&memory, batch)? } else { model.start_uncached(&memory, batch)? };
    let mut out: Vec<Vec<u32>> = vec![Vec::new(); batch];
    let mut done = vec![false; batch];
    let mut tokens = vec![opts.bos; batch];
    // Per step, each layer's weights `[batch, heads, 1, s_src]` of the token fed at that step.
    let mut weights: Vec<Vec<Tensor<4>>> = Vec::new();
    for _ in 0..steps {
        let step = model.step_attention(&tokens, state, &memory)?;
        state = step.state;
        if opts.attention.is_some() {
            weights.push(step.attention);
        }
        let next: Vec<i64> = step.logits.argmax(1).try_into_vec_as::<i64>().map_err(|e| ModelError::Invalid(format!("{e:?}")))?; // [batch]
        for (b, &id) in next.iter().enumerate() {
            tokens[b] = id as u32;
            if !done[b] {
                if opts.eos == Some(id as u32) {
                    done[b] = true;
                } else {
                    out[b].push(id as u32);
                }
            }
        }
        if done.iter().all(|&d| d) {
            break;
        }
    }
    let attention = match opts.attention {
        Some(pick) if weights.first().is_some_and(|w| !w.is_empty()) => {
            let layers = weights[0].len();
            let per_layer: Vec<Tensor<4>> =
                (0..layers).map(|l| Tensor::cat(weights.iter().map(|w| w[l].clone()).collect(), 2)).collect(); // [batch, heads, t, s_src]
            Some(collect_attention(&per_layer, pick, &out))
        }
        _ => None,
    };
    Ok(Decoded { ids: out, attention })
}

fn collect_attention(weights: &[Tensor<4>], pick: AttentionPick, out: &[Vec<u32>]) -> Vec<Vec<Vec<f32>>> {
    // weights[layer]: [batch, heads, t, s_src]; row i is the attention used to produce token i.
    let w: Tensor<3> = match pick {
        AttentionPick::Mean => {
            let stacked = Tensor::stack::<5>(weights.to_vec(), 0); // [layers, batch, heads, t, s]
            stacked.mean_dim(0).mean_dim(2).squeeze_dim::<4>(0).squeeze_dim::<3>(1)
        }
        AttentionPick::LayerHead { layer, head } => {
            let l = weights[layer.min(weights.len() - 1)].clone();
            match head {
                Some(h) => {
                    let [b, heads, t, s] = l.dims();
                    let h = h.min(heads - 1);
                    l.slice([0..b, h..h + 1, 0..t, 0..s]).squeeze_dim::<3>(1)
                }
                None => l.mean_dim(1).squeeze_dim::<3>(1),
            }
        }
    }; // [batch, t, s_src]
    let [batch, t, s] = w.dims();
    let data: Vec<f32> = w.try_into_vec_as::<f32>().unwrap_or_default();
    (0..batch)
        .map(|b| {
            (0..out[b].len().min(t))
                .map(|i| data[(b * t + i) * s..(b * t + i + 1) * s].to_vec())
                .collect()
        })
        .collect()
}
