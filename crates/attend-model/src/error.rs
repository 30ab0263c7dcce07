//! Typed errors of the model crate.

/// A model configuration that cannot be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    #[error("d_model ({d_model}) must be divisible by n_heads ({n_heads})")]
    HeadsDontDivide { d_model: usize, n_heads: usize },
    #[error("shared embeddings need one vocabulary: source has {src}, target has {tgt} tokens")]
    SharedVocabMismatch { src: usize, tgt: usize },
    #[error("{name} must be positive")]
    Zero { name: &'static str },
    #[error("{what}: about {} parameters; at {bytes_per_param} bytes each that is {} of memory, and this machine has {}", sci(*params), gb(params.saturating_mul(*bytes_per_param)), gb(*have as u128))]
    TooLarge { what: String, params: u128, bytes_per_param: u128, have: u64 },
    #[error("{what}: about {} of memory, and this machine has {}", gb(*need), gb(*have as u128))]
    NoRoom { what: String, need: u128, have: u64 },
    #[error("{0}")]
    Invalid(String),
    #[error("sequence of {len} tokens is longer than max_len {max_len}")]
    TooLong { len: usize, max_len: usize },
}

/// Dropout probabilities Burn accepts (`DropoutConfig::init` panics outside [0, 1)).
pub(crate) fn check_dropout(p: f64) -> Result<(), ModelError> {
    if (0.0..1.0).contains(&p) {
        Ok(())
    } else {
        Err(ModelError::Invalid(format!("dropout {p} must be in [0, 1)")))
    }
}

fn sci(x: u128) -> String {
    format!("{:.2e}", x as f64)
}

fn gb(bytes: u128) -> String {
    format!("{:.1} GB", bytes as f64 / 1e9)
}
