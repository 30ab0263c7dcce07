//! Greedy decoding: feed the decoder its own most likely token, one step at a
//! time, until every sentence of the batch has produced `<eos>`.

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

/// Greedy decoding of source ids `src` `[batch, s_src]` (padding marked in `src_pad`).
pub fn greedy(
    model: &Seq2SeqModel,
    src: Tensor<2, Int>,
    src_pad: Option<Tensor<2, Bool>>,
    bos: u32,
    eos: u32,
    max_len: usize,
    attention: Option<AttentionPick>,
) -> Result<Decoded, ModelError> {
    let device = src.device();
    let batch = src.dims()[0];
    let memory = model.encode(src, src_pad)?;
    let max_len = max_len.min(model.max_len());
    let mut out: Vec<Vec<u32>> = vec![Vec::new(); batch];
    let mut done = vec![false; batch];
    let mut ys = Tensor::<2, Int>::from_data(TensorData::new(vec![bos as i64; batch], [batch, 1]), &device);
    let mut last_weights = None;
    for step in 0..max_len.saturating_sub(1) {
        let (logits, weights) = model.decode(ys.clone(), None, &memory)?; // [batch, t, vocab]
        let [_, t, vocab] = logits.dims();
        let next = logits.slice([0..batch, t - 1..t, 0..vocab]).argmax(2).reshape([batch, 1]); // [batch, 1]
        let host: Vec<i64> = next.try_to_vec_as::<i64>().unwrap_or_default();
        for (b, &id) in host.iter().enumerate() {
            if !done[b] {
                if id as u32 == eos {
                    done[b] = true;
                } else {
                    out[b].push(id as u32);
                }
            }
        }
        ys = Tensor::cat(vec![ys, next], 1);
        last_weights = Some(weights);
        if done.iter().all(|&d| d) || step + 2 >= max_len {
            break;
        }
    }
    let attention = match (attention, last_weights) {
        (Some(pick), Some(weights)) if !weights.is_empty() => Some(collect_attention(&weights, pick, &out)),
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
