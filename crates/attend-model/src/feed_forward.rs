//! Position-wise feed-forward network (Vaswani et al., 2017, §3.3):
//! FFN(x) = max(0, x W₁ + b₁) W₂ + b₂, applied to each position separately.
//! The inner width `d_ff` is usually 4 × d_model. GELU is offered as the
//! activation later models (BERT, GPT) use.

use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use crate::dense::linear;

/// The non-linearity between the two projections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// max(0, x), as in the paper.
    #[default]
    Relu,
    /// x·Φ(x) (exact, erf-based).
    Gelu,
}

/// Configuration of a [`FeedForward`].
#[derive(Config, Debug)]
pub struct FeedForwardConfig {
    /// Model width.
    pub d_model: usize,
    /// Inner width.
    pub d_ff: usize,
    /// Dropout after the activation.
    #[config(default = 0.1)]
    pub dropout: f64,
    /// The activation.
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
}

impl FeedForwardConfig {
    /// Builds the two projections.
    pub fn init(&self, device: &Device) -> FeedForward {
        FeedForward {
            linear_inner: LinearConfig::new(self.d_model, self.d_ff).init(device),
            linear_outer: LinearConfig::new(self.d_ff, self.d_model).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            activation: self.activation,
        }
    }
}

/// Two projections with a non-linearity between them.
#[derive(Module, Debug)]
pub struct FeedForward {
    pub linear_inner: Linear,
    pub linear_outer: Linear,
    pub dropout: Dropout,
    #[module(skip)]
    pub activation: Activation,
}

impl FeedForward {
    /// `[batch, seq, d_model]` → `[batch, seq, d_model]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h = linear(&self.linear_inner, x); // [batch, seq, d_ff]
        let h = match self.activation {
            Activation::Relu => relu(h),
            Activation::Gelu => crate::fused::gelu(h),
        };
        linear(&self.linear_outer, crate::fused::dropout(&self.dropout, h)) // [batch, seq, d_model]
    }
}
