//! Positional encoding: attention is blind to order, so each position adds a
//! vector that identifies it. Vaswani et al. (2017, §3.5) use fixed sinusoids,
//! PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)),
//! and report that learned position vectors work about as well; both are here.

use burn::nn::{Embedding, EmbeddingConfig, Initializer};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Which kind of position vectors a model uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PositionalKind {
    /// Fixed sinusoids (no parameters, any length up to `max_len`).
    #[default]
    Sinusoidal,
    /// A learned vector per position.
    Learned,
}

/// Configuration of a [`PositionalEncoding`].
#[derive(Config, Debug)]
pub struct PositionalEncodingConfig {
    /// Width of the vectors.
    pub d_model: usize,
    /// Longest sequence the encoding supports.
    #[config(default = 512)]
    pub max_len: usize,
    /// Sinusoidal or learned.
    #[config(default = "PositionalKind::Sinusoidal")]
    pub kind: PositionalKind,
}

/// The sinusoid table `[max_len, d_model]` of the paper.
pub fn sinusoid_table(max_len: usize, d_model: usize) -> Vec<f32> {
    let mut table = vec![0f32; max_len * d_model];
    for pos in 0..max_len {
        for i in (0..d_model).step_by(2) {
            let angle = pos as f64 / 10000f64.powf(i as f64 / d_model as f64);
            table[pos * d_model + i] = angle.sin() as f32;
            if i + 1 < d_model {
                table[pos * d_model + i + 1] = angle.cos() as f32;
            }
        }
    }
    table
}

impl PositionalEncodingConfig {
    /// Builds the encoding on `device`.
    pub fn init(&self, device: &Device) -> PositionalEncoding {
        match self.kind {
            PositionalKind::Sinusoidal => {
                let data = TensorData::new(sinusoid_table(self.max_len, self.d_model), [self.max_len, self.d_model]);
                PositionalEncoding { table: Some(Tensor::from_data(data, device)), learned: None, max_len: self.max_len }
            }
            PositionalKind::Learned => {
                let learned = EmbeddingConfig::new(self.max_len, self.d_model)
                    .with_initializer(Initializer::Normal { mean: 0.0, std: 0.02 })
                    .init(device);
                PositionalEncoding { table: None, learned: Some(learned), max_len: self.max_len }
            }
        }
    }
}

/// Adds a position vector to each position of its input.
#[derive(Module, Debug)]
pub struct PositionalEncoding {
    /// Fixed sinusoids `[max_len, d_model]` (not a parameter).
    pub table: Option<Tensor<2>>,
    /// Learned position vectors.
    pub learned: Option<Embedding>,
    pub max_len: usize,
}

impl PositionalEncoding {
    /// Adds the vectors of positions `offset..offset+seq` to `x` `[batch, seq, d_model]`.
    pub fn forward(&self, x: Tensor<3>, offset: usize) -> Tensor<3> {
        let [_, seq, d_model] = x.dims();
        let end = (offset + seq).min(self.max_len);
        let pe = match (&self.table, &self.learned) {
            (Some(table), _) => table.clone().slice([offset..end, 0..d_model]),
            (None, Some(learned)) => learned.weight.val().slice([offset..end, 0..d_model]),
            (None, None) => unreachable!("built with a table or learned vectors"),
        }; // [seq, d_model]
        assert!(end - offset == seq, "sequence of {} positions exceeds max_len {}", offset + seq, self.max_len);
        x + pe.unsqueeze::<3>() // [batch, seq, d_model]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinusoids_match_the_formula() {
        let t = sinusoid_table(50, 8);
        assert_eq!(t[0], 0.0); // sin(0)
        assert_eq!(t[1], 1.0); // cos(0)
        let expected = (7.0f64 / 10000f64.powf(4.0 / 8.0)).cos() as f32;
        assert!((t[7 * 8 + 5] - expected).abs() < 1e-7);
    }
}
