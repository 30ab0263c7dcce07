//! The benchmark shapes and their matmul FLOP counts, exactly as the PyTorch
//! peer scripts define them (`bench_transformer.py`, `bench_lstm.py`,
//! `bench_gpt_char.py`): 2 FLOP per multiply-add, matmuls only (softmax,
//! LayerNorm and element-wise work are not counted), training = 3 × forward.

/// An encoder–decoder Transformer benchmark shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TransformerShape {
    pub d: usize,
    pub heads: usize,
    pub enc_layers: usize,
    pub dec_layers: usize,
    pub ffn: usize,
    pub vocab: usize,
    pub batch: usize,
    pub src: usize,
    pub tgt: usize,
    /// Untimed and timed training steps (the peers': 3 + 10 for small, 6 + 30 for tiny).
    pub warmup: usize,
    pub repeats: usize,
}

/// `bench_transformer.py`'s "tiny".
pub const TRANSFORMER_TINY: TransformerShape =
    TransformerShape { d: 128, heads: 4, enc_layers: 2, dec_layers: 2, ffn: 512, vocab: 1000, batch: 64, src: 20, tgt: 20, warmup: 6, repeats: 30 };
/// `bench_transformer.py`'s "small".
pub const TRANSFORMER_SMALL: TransformerShape =
    TransformerShape { d: 256, heads: 4, enc_layers: 3, dec_layers: 3, ffn: 1024, vocab: 8000, batch: 32, src: 32, tgt: 32, warmup: 3, repeats: 10 };

/// Forward matmul FLOP of one batch (the peer's `matmul_flops_forward`).
pub fn transformer_forward(c: &TransformerShape) -> f64 {
    let (b, s, t, d, f, v) = (c.batch as f64, c.src as f64, c.tgt as f64, c.d as f64, c.ffn as f64, c.vocab as f64);
    let enc_layer = 8.0 * b * s * d * d + 4.0 * b * s * s * d + 4.0 * b * s * d * f;
    let dec_layer = 8.0 * b * t * d * d + 4.0 * b * t * t * d + 4.0 * b * t * d * d + 4.0 * b * s * d * d + 4.0 * b * t * s * d + 4.0 * b * t * d * f;
    c.enc_layers as f64 * enc_layer + c.dec_layers as f64 * dec_layer + 2.0 * b * t * d * v
}

/// Matmul FLOP of greedy decoding `sentences` sentences for `steps` tokens with
/// a key/value cache: the encoder once, then per step one position through the
/// decoder (self-attention over the positions so far, cross-attention over the
/// source, whose keys and values are projected once) and the output layer.
pub fn transformer_decode_cached(c: &TransformerShape, sentences: usize, steps: usize) -> f64 {
    let (n, s, d, f, v) = (sentences as f64, c.src as f64, c.d as f64, c.ffn as f64, c.vocab as f64);
    let encoder = c.enc_layers as f64 * (8.0 * n * s * d * d + 4.0 * n * s * s * d + 4.0 * n * s * d * f);
    let cross_kv = c.dec_layers as f64 * 4.0 * n * s * d * d;
    let per_step = |t: f64| c.dec_layers as f64 * (8.0 * n * d * d + 4.0 * n * t * d + 4.0 * n * s * d + 4.0 * n * d * f) + 2.0 * n * d * v;
    encoder + cross_kv + (1..=steps).map(|t| per_step(t as f64)).sum::<f64>()
}

/// An LSTM + additive-attention benchmark shape (`bench_lstm.py`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LstmShape {
    pub emb: usize,
    pub hidden: usize,
    pub attn: usize,
    pub vocab: usize,
    pub batch: usize,
    pub src: usize,
    pub tgt: usize,
    pub warmup: usize,
    pub repeats: usize,
}

/// `bench_lstm.py`'s "tiny".
pub const LSTM_TINY: LstmShape = LstmShape { emb: 128, hidden: 128, attn: 128, vocab: 1000, batch: 64, src: 20, tgt: 20, warmup: 6, repeats: 30 };
/// `bench_lstm.py`'s "small".
pub const LSTM_SMALL: LstmShape = LstmShape { emb: 256, hidden: 256, attn: 256, vocab: 8000, batch: 32, src: 32, tgt: 32, warmup: 3, repeats: 10 };

/// Forward matmul FLOP of one batch, unidirectional encoder (the peer's formula).
pub fn lstm_forward(c: &LstmShape) -> f64 {
    let (b, s, t, e, h, a, v) = (c.batch as f64, c.src as f64, c.tgt as f64, c.emb as f64, c.hidden as f64, c.attn as f64, c.vocab as f64);
    let enc = 2.0 * b * s * 4.0 * h * (e + h);
    let keys = 2.0 * b * s * h * a + 2.0 * b * h * h;
    let attn = b * t * (2.0 * h * a + 2.0 * s * a + 2.0 * s * h);
    let dec_cell = 2.0 * b * t * 4.0 * h * (e + h + h);
    let out = 2.0 * b * t * (h + h) * v;
    enc + keys + attn + dec_cell + out
}

/// nanoGPT's CPU recipe (`bench_gpt_char.py`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GptShape {
    pub vocab: usize,
    pub context: usize,
    pub layers: usize,
    pub heads: usize,
    pub d: usize,
    pub batch: usize,
    pub warmup: usize,
    pub repeats: usize,
}

/// The recipe: 65 characters, context 64, 4 layers of width 128, batch 12.
pub const GPT_CHAR: GptShape = GptShape { vocab: 65, context: 64, layers: 4, heads: 4, d: 128, batch: 12, warmup: 10, repeats: 50 };

/// Training matmul FLOP of one step (3 × forward; 3.96 GFLOP for the recipe).
pub fn gpt_train_step(c: &GptShape) -> f64 {
    let (t, d, v) = (c.context as f64, c.d as f64, c.vocab as f64);
    let per_token = c.layers as f64 * (24.0 * d * d + 4.0 * t * d) + 2.0 * d * v;
    3.0 * per_token * (c.batch * c.context) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_the_peer_scripts() {
        // The figures the peers' README gives: 47.31 G and 8.27 G per training
        // step, 34.1 G and 4.78 G for the LSTMs, 3.96 G for the GPT recipe.
        assert_eq!((3.0 * transformer_forward(&TRANSFORMER_SMALL) / 1e7).round() / 100.0, 47.31);
        assert_eq!((3.0 * transformer_forward(&TRANSFORMER_TINY) / 1e7).round() / 100.0, 8.27);
        assert_eq!((3.0 * lstm_forward(&LSTM_SMALL) / 1e8).round() / 10.0, 34.1);
        assert_eq!((3.0 * lstm_forward(&LSTM_TINY) / 1e7).round() / 100.0, 4.78);
        assert_eq!((gpt_train_step(&GPT_CHAR) / 1e7).round() / 100.0, 3.96);
    }

    #[test]
    fn one_cached_step_is_cheaper_than_rereading_the_prefix() {
        let c = TRANSFORMER_SMALL;
        let one = transformer_decode_cached(&c, 1, 1);
        let two = transformer_decode_cached(&c, 1, 2);
        assert!(two > one && two < 2.0 * one);
    }
}
