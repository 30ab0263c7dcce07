//! How many parameters a configuration will have, counted before anything
//! is allocated, and the check that refuses a model the machine cannot hold:
//! an absurd width (`d_model = 1000000000`) is an error naming the size, not
//! a failed allocation that aborts the process. Every top-level `init` runs
//! the check for the weights alone; a trainer runs it again for what
//! training holds besides (gradients, optimizer moments).
//!
//! The counts follow the layers' shapes (weights and biases of each Linear,
//! LayerNorm scales and shifts, embedding tables); `tests` compares them with
//! `num_params` of the built model.

use crate::additive_attention::Score;
use crate::classifier::{ClassifierArch, ClassifierConfig};
use crate::error::ModelError;
use crate::gpt::GptConfig;
use crate::language_model::LanguageModelConfig;
use crate::positional::PositionalKind;
use crate::recurrent::CellKind;
use crate::recurrent_lm::RecurrentLmConfig;
use crate::recurrent_seq2seq::RecurrentSeq2SeqConfig;
use crate::seq2seq::Seq2SeqConfig;
use crate::transformer::TransformerConfig;
use crate::vector_decoder::VectorDecoderConfig;

/// Products and sums that saturate instead of overflowing (a count past
/// `u128::MAX` is refused all the same).
fn mul(factors: &[usize]) -> u128 {
    factors.iter().fold(1u128, |acc, &f| acc.saturating_mul(f as u128))
}

fn linear(d_in: usize, d_out: usize) -> u128 {
    mul(&[d_in, d_out]).saturating_add(d_out as u128)
}

fn layer_norm(d: usize) -> u128 {
    mul(&[2, d])
}

fn attention(d: usize) -> u128 {
    linear(d, d).saturating_mul(4)
}

fn feed_forward(d: usize, d_ff: usize) -> u128 {
    linear(d, d_ff).saturating_add(linear(d_ff, d))
}

fn encoder_layer(d: usize, d_ff: usize) -> u128 {
    attention(d).saturating_add(feed_forward(d, d_ff)).saturating_add(layer_norm(d).saturating_mul(2))
}

fn decoder_layer(d: usize, d_ff: usize) -> u128 {
    attention(d).saturating_mul(2).saturating_add(feed_forward(d, d_ff)).saturating_add(layer_norm(d).saturating_mul(3))
}

/// One recurrent cell: per gate, an input and a hidden projection with biases.
fn cell(kind: CellKind, d_in: usize, d_hidden: usize) -> u128 {
    let gates = match kind {
        CellKind::Rnn => 1,
        CellKind::Lstm => 4,
        CellKind::Gru => 3,
    };
    linear(d_in, d_hidden).saturating_add(linear(d_hidden, d_hidden)).saturating_mul(gates)
}

/// A stack of `layers` cells over `dirs` directions, the first reading `d_in`.
fn stack(kind: CellKind, d_in: usize, d_hidden: usize, layers: usize, dirs: usize) -> u128 {
    (0..layers.min(1 << 20)).fold(0u128, |acc, l| {
        let input = if l == 0 { d_in } else { d_hidden.saturating_mul(dirs) };
        acc.saturating_add(cell(kind, input, d_hidden).saturating_mul(dirs as u128))
    })
    // Past a million layers the count only grows; the first million are plenty to refuse it.
}

fn sum(parts: &[u128]) -> u128 {
    parts.iter().fold(0u128, |a, &b| a.saturating_add(b))
}

fn times(n: usize, each: u128) -> u128 {
    each.saturating_mul(n as u128)
}

impl TransformerConfig {
    /// Parameters of the model this config builds.
    pub fn param_count(&self) -> u128 {
        let d = self.d_model;
        sum(&[
            mul(&[self.src_vocab, d]),
            if self.share_embeddings { 0 } else { mul(&[self.tgt_vocab, d]) },
            if self.positional == PositionalKind::Learned { mul(&[self.max_len, d]) } else { 0 },
            times(self.encoder_layers, encoder_layer(d, self.d_ff)),
            times(self.decoder_layers, decoder_layer(d, self.d_ff)),
            if self.norm_first { layer_norm(d).saturating_mul(2) } else { 0 },
            if self.tie_output { 0 } else { linear(d, self.tgt_vocab) },
        ])
    }
}

impl TransformerConfig {
    /// Values of the fixed sinusoidal position table (`max_len × d_model`,
    /// a buffer rather than a parameter; 0 for learned positions).
    pub fn position_table(&self) -> u128 {
        if self.positional == PositionalKind::Learned { 0 } else { mul(&[self.max_len, self.d_model]) }
    }
}

impl RecurrentSeq2SeqConfig {
    /// Parameters of the model this config builds.
    pub fn param_count(&self) -> u128 {
        let dirs = if self.bidirectional { 2 } else { 1 };
        let d_enc = self.d_hidden.saturating_mul(dirs);
        let ctx = if self.attention.is_some() { d_enc } else { 0 };
        let h = self.d_hidden;
        sum(&[
            mul(&[self.src_vocab.saturating_add(self.tgt_vocab), self.d_embed]),
            stack(self.cell, self.d_embed, h, self.encoder_layers, dirs),
            linear(d_enc, h),
            stack(self.cell, self.d_embed.saturating_add(ctx), h, 1, 1),
            times(self.decoder_layers.saturating_sub(1), cell(self.cell, h, h)),
            match self.attention {
                Some(Score::Additive) => sum(&[mul(&[h, h]), linear(d_enc, h), h as u128]),
                Some(Score::General) => mul(&[d_enc, h]),
                Some(Score::Dot) | None => 0,
            },
            linear(h.saturating_add(ctx), self.tgt_vocab),
        ])
    }
}

impl Seq2SeqConfig {
    /// Parameters of the model this config builds.
    pub fn param_count(&self) -> u128 {
        match self {
            Seq2SeqConfig::Transformer(c) => c.param_count(),
            Seq2SeqConfig::Recurrent(c) => c.param_count(),
        }
    }
}

impl GptConfig {
    /// Parameters of the model this config builds (the output layer is the token table).
    pub fn param_count(&self) -> u128 {
        let d = self.d_model;
        sum(&[
            mul(&[self.vocab_size, d]),
            if self.positional == PositionalKind::Learned { mul(&[self.context, d]) } else { 0 },
            times(self.n_layers, encoder_layer(d, self.d_ff)),
            layer_norm(d),
        ])
    }
}

impl RecurrentLmConfig {
    /// Parameters of the model this config builds.
    pub fn param_count(&self) -> u128 {
        sum(&[mul(&[self.vocab, self.d_model]), stack(self.cell, self.d_model, self.d_model, self.n_layers, 1), linear(self.d_model, self.vocab)])
    }
}

impl LanguageModelConfig {
    /// Parameters of the model this config builds.
    pub fn param_count(&self) -> u128 {
        match self {
            Self::Gpt(c) => c.param_count(),
            Self::Recurrent(c) => c.param_count(),
        }
    }
}

impl ClassifierConfig {
    /// Parameters of the model this config builds.
    pub fn param_count(&self) -> u128 {
        let d = self.d_model;
        let embed = mul(&[self.vocab_size, d]);
        match self.arch {
            ClassifierArch::Transformer => sum(&[embed, times(self.layers, encoder_layer(d, self.d_ff)), d as u128, linear(d, self.classes)]),
            ClassifierArch::Lstm => {
                let dirs = if self.bidirectional { 2 } else { 1 };
                sum(&[embed, stack(CellKind::Lstm, d, d, self.layers, dirs), linear(d.saturating_mul(dirs), self.classes)])
            }
            ClassifierArch::Bag => sum(&[embed, linear(d, self.classes)]),
        }
    }
}

impl ClassifierConfig {
    /// Values of the fixed sinusoidal position table of the Transformer
    /// classifier (`(max_len + 1) × d_model`, a buffer, not a parameter).
    pub fn position_table(&self) -> u128 {
        match self.arch {
            ClassifierArch::Transformer => mul(&[self.max_len.saturating_add(1), self.d_model]),
            _ => 0,
        }
    }
}

impl VectorDecoderConfig {
    /// Parameters of the model this config builds.
    pub fn param_count(&self) -> u128 {
        let h = self.d_hidden;
        sum(&[
            linear(self.d_vector, h),
            mul(&[self.vocab, self.d_embed]),
            stack(self.cell, self.d_embed.saturating_add(self.d_vector), h, 1, 1),
            times(self.n_layers.saturating_sub(1), cell(self.cell, h, h)),
            linear(h, self.vocab),
        ])
    }
}

/// The machine's physical memory in bytes (`None` where it cannot be read).
pub fn physical_memory() -> Option<u64> {
    #[cfg(unix)]
    {
        // SAFETY: sysconf reads system constants and has no preconditions.
        let (pages, size) = unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
        if pages > 0 && size > 0 {
            return Some(pages as u64 * size as u64);
        }
    }
    None
}

/// Refuses `bytes` of memory (data, activations: anything but parameters)
/// when the machine has less; `what` names the settings at fault.
pub fn check_room(bytes: u128, what: &str) -> Result<(), ModelError> {
    match physical_memory() {
        Some(have) if bytes > have as u128 => Err(ModelError::NoRoom { what: what.to_string(), need: bytes, have }),
        _ => Ok(()),
    }
}

/// Refuses `params` parameters at `bytes_per_param` bytes each (4 for f32
/// weights; a trainer adds gradients and optimizer moments) when they need
/// more memory than the machine has; `what` names the settings at fault.
pub fn check_fits(params: u128, bytes_per_param: u128, what: &str) -> Result<(), ModelError> {
    let need = params.saturating_mul(bytes_per_param);
    match physical_memory() {
        Some(have) if need > have as u128 => Err(ModelError::TooLarge { what: what.to_string(), params, bytes_per_param, have }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::prelude::Device;

    fn close(name: &str, counted: u128, built: usize) {
        let ratio = counted as f64 / built as f64;
        assert!((0.97..=1.03).contains(&ratio), "{name}: counted {counted}, built {built}");
    }

    #[test]
    #[allow(deprecated)]
    fn counts_match_the_built_models() {
        let device = Device::ndarray();
        for (tie, share, norm_first) in [(false, false, false), (true, true, true)] {
            let c = TransformerConfig::new(50, 50).with_d_model(32).with_n_heads(4).with_d_ff(64).with_encoder_layers(2).with_decoder_layers(2).with_tie_output(tie).with_share_embeddings(share).with_norm_first(norm_first);
            close("transformer", c.param_count(), c.init(&device).unwrap().num_params());
        }
        for (cell, bi, att) in [(CellKind::Lstm, true, Some(Score::Additive)), (CellKind::Gru, false, None), (CellKind::Rnn, false, Some(Score::Dot))] {
            let c = RecurrentSeq2SeqConfig::new(40, 60).with_attention(att).with_cell(cell).with_d_embed(16).with_d_hidden(24).with_encoder_layers(2).with_decoder_layers(2).with_bidirectional(bi);
            close("recurrent seq2seq", c.param_count(), c.init(&device).unwrap().num_params());
        }
        let g = GptConfig::new(65).with_context(32).with_d_model(32).with_n_heads(4).with_n_layers(2).with_d_ff(64);
        close("gpt", g.param_count(), g.init(&device).unwrap().num_params());
        let r = RecurrentLmConfig::new(65).with_cell(CellKind::Lstm).with_d_model(32).with_n_layers(2);
        close("recurrent lm", r.param_count(), r.init(&device).unwrap().num_params());
        for arch in [ClassifierArch::Transformer, ClassifierArch::Lstm, ClassifierArch::Bag] {
            let pooling = if arch == ClassifierArch::Lstm { crate::classifier::Pooling::Final } else { crate::classifier::Pooling::Mean };
            let c = ClassifierConfig::new(300, 2).with_arch(arch).with_d_model(32).with_d_ff(64).with_layers(2).with_pooling(pooling);
            close("classifier", c.param_count(), c.init(&device).unwrap().num_params());
        }
        let v = VectorDecoderConfig::new(20, 30).with_d_hidden(24).with_n_layers(2);
        close("vector decoder", v.param_count(), v.init(&device).unwrap().num_params());
    }

    #[test]
    #[allow(deprecated)]
    fn an_absurd_width_is_refused_before_anything_is_allocated() {
        let c = TransformerConfig::new(50, 50).with_d_model(1_000_000_000);
        let err = c.init(&Device::ndarray()).unwrap_err().to_string();
        assert!(err.contains("parameters") && err.contains("memory"), "{err}");
        assert!(check_fits(u128::MAX, 16, "x").is_err() || physical_memory().is_none());
        assert!(check_fits(1000, 4, "x").is_ok());
    }
}
