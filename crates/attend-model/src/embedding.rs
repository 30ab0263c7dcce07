//! Token embedding: a learned lookup table from token id to a `d_model` vector,
//! multiplied by √d_model as in "Attention Is All You Need" (Vaswani et al.,
//! 2017, §3.4). The same table can serve as the output projection (weight tying,
//! Press & Wolf 2017), giving logits as dot products with every token vector.

use burn::nn::{Embedding, EmbeddingConfig, Initializer};
use burn::prelude::*;

/// Configuration of a [`TokenEmbedding`].
#[derive(Config, Debug)]
pub struct TokenEmbeddingConfig {
    /// Number of tokens in the vocabulary.
    pub vocab_size: usize,
    /// Width of each token vector.
    pub d_model: usize,
    /// Multiply the looked-up vectors by √d_model (the paper's choice).
    #[config(default = true)]
    pub scale: bool,
}

impl TokenEmbeddingConfig {
    /// Builds the embedding with weights ~ N(0, 1/d_model), so that the scaled
    /// vectors start with unit variance.
    pub fn init(&self, device: &Device) -> TokenEmbedding {
        let std = (self.d_model as f64).powf(-0.5);
        let embedding = EmbeddingConfig::new(self.vocab_size, self.d_model)
            .with_initializer(Initializer::Normal { mean: 0.0, std })
            .init(device);
        let scale = if self.scale { (self.d_model as f64).sqrt() } else { 1.0 };
        TokenEmbedding { embedding, scale }
    }
}

/// Learned token vectors, scaled by √d_model.
#[derive(Module, Debug)]
pub struct TokenEmbedding {
    pub embedding: Embedding,
    pub scale: f64,
}

impl TokenEmbedding {
    /// Looks up token ids.
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.embedding.forward(ids).mul_scalar(self.scale) // [batch, seq, d_model]
    }

    /// Logits against every token vector (the tied output projection), as one
    /// `[batch·seq, d_model] × [d_model, vocab]` matmul: a batched matmul against
    /// the broadcast table would compute the table's gradient per batch row and
    /// then sum them.
    pub fn project(&self, x: Tensor<3>) -> Tensor<3> {
        tied_logits(x, self.embedding.weight.val())
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.embedding.weight.dims()[0]
    }

    /// Replaces the vectors with `weights` (`[vocab, d_model]`), e.g. word2vec vectors.
    pub fn set_weights(&mut self, weights: Tensor<2>) {
        let id = self.embedding.weight.id;
        self.embedding.weight = burn::module::Param::initialized(id, weights);
    }
}

/// `x` `[batch, seq, d]` against every row of `table` `[vocab, d]`: logits
/// `[batch, seq, vocab]`, computed as one flattened matmul.
pub fn tied_logits(x: Tensor<3>, table: Tensor<2>) -> Tensor<3> {
    crate::fused::linear_transposed(x, table) // [batch, seq, vocab]
}
