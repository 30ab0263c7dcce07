//! attend's layers and models, one concept per file in the order a reader
//! learns them: token embedding, positional encoding, scaled dot-product
//! attention, multi-head attention, feed-forward, encoder, decoder, the
//! encoder–decoder Transformer, and decoding.
//!
//! Everything is backend-agnostic: Burn picks the backend from the `Device`
//! the model is built on.

pub mod attention;
pub mod decode;
pub mod decoder;
pub mod embedding;
pub mod encoder;
pub mod error;
pub mod feed_forward;
pub mod multi_head;
pub mod positional;
pub mod transformer;

pub use decode::{greedy, AttentionPick, Decoded};
pub use decoder::{Decoder, DecoderConfig, DecoderContext, DecoderLayer};
pub use encoder::{Encoder, EncoderConfig, EncoderLayer};
pub use error::ModelError;
pub use feed_forward::Activation;
pub use positional::PositionalKind;
pub use transformer::{Transformer, TransformerConfig};
