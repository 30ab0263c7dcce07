//! Attention by alignment (Bahdanau, Cho & Bengio, 2014): instead of squeezing
//! the source into one vector, the decoder looks at every encoder state h_j at
//! each step. It scores each against its own previous state s with a small
//! network, e_j = vᵀ tanh(W s + U h_j), turns the scores into alignment
//! weights α = softmax(e) over the real (non-padding) source positions, and
//! reads the context c = Σ α_j h_j. Luong et al. (2015) proposed cheaper
//! scores, offered as options: `dot` e_j = sᵀ h_j and `general` e_j = sᵀ W h_j.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{softmax, tanh};
use serde::{Deserialize, Serialize};

use crate::attention::MASK_VALUE;

/// How a decoder state is scored against encoder states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Score {
    /// vᵀ tanh(W s + U h) (Bahdanau).
    #[default]
    Additive,
    /// sᵀ h (Luong); needs equal widths.
    Dot,
    /// sᵀ W h (Luong).
    General,
}

/// Configuration of an [`AlignmentAttention`].
#[derive(Config, Debug)]
pub struct AlignmentAttentionConfig {
    /// Width of the decoder state s.
    pub d_query: usize,
    /// Width of the encoder states h.
    pub d_key: usize,
    /// Width of the additive score's hidden layer.
    pub d_attention: usize,
    /// The score function.
    #[config(default = "Score::Additive")]
    pub score: Score,
}

impl AlignmentAttentionConfig {
    /// Builds the module.
    pub fn init(&self, device: &Device) -> AlignmentAttention {
        let (w, u, v) = match self.score {
            Score::Additive => (
                Some(LinearConfig::new(self.d_query, self.d_attention).with_bias(false).init(device)),
                Some(LinearConfig::new(self.d_key, self.d_attention).init(device)),
                Some(LinearConfig::new(self.d_attention, 1).with_bias(false).init(device)),
            ),
            Score::General => (None, Some(LinearConfig::new(self.d_key, self.d_query).with_bias(false).init(device)), None),
            Score::Dot => (None, None, None),
        };
        AlignmentAttention { w, u, v, score: self.score }
    }
}

/// Alignment attention with its score network.
#[derive(Module, Debug)]
pub struct AlignmentAttention {
    /// W (additive).
    pub w: Option<Linear>,
    /// U (additive) or the general score's W.
    pub u: Option<Linear>,
    /// v (additive).
    pub v: Option<Linear>,
    #[module(skip)]
    pub score: Score,
}

impl AlignmentAttention {
    /// Precomputes what depends only on the encoder states `keys` `[batch, s_src, d_key]`
    /// (U h for additive, W h for general), once per sentence.
    pub fn prepare_keys(&self, keys: Tensor<3>) -> Tensor<3> {
        match &self.u {
            Some(u) => crate::dense::linear(u, keys),
            None => keys,
        }
    }

    /// Context `[batch, d_key]` and alignment weights `[batch, s_src]` for the decoder
    /// state `query` `[batch, d_query]`; `keys` are the encoder states, `prepared`
    /// the output of [`prepare_keys`](Self::prepare_keys), `pad` `[batch, s_src]` marks padding.
    pub fn forward(
        &self,
        query: Tensor<2>,
        keys: Tensor<3>,
        prepared: Tensor<3>,
        pad: Option<&Tensor<2, Bool>>,
    ) -> (Tensor<2>, Tensor<2>) {
        let [batch, s_src, d_key] = keys.dims();
        let scores: Tensor<2> = match (&self.w, &self.v) {
            (Some(w), Some(v)) => {
                let ws = w.forward(query).unsqueeze_dim::<3>(1); // [batch, 1, d_att]
                let e = crate::dense::linear(v, tanh(prepared + ws)); // [batch, s_src, 1]
                e.reshape([batch, s_src])
            }
            _ => {
                // sᵀ h or sᵀ (W h): [batch, 1, d] × [batch, d, s_src]
                let q = query.unsqueeze_dim::<3>(1);
                q.matmul(prepared.swap_dims(1, 2)).reshape([batch, s_src])
            }
        };
        let scores = match pad {
            Some(p) => scores.mask_fill(p.clone(), MASK_VALUE),
            None => scores,
        };
        let alpha = softmax(scores, 1); // [batch, s_src]
        let context = alpha.clone().unsqueeze_dim::<3>(1).matmul(keys).reshape([batch, d_key]); // [batch, d_key]
        (context, alpha)
    }
}
