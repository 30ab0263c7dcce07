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
    #[error("{0}")]
    Invalid(String),
    #[error("sequence of {len} tokens is longer than max_len {max_len}")]
    TooLong { len: usize, max_len: usize },
}
