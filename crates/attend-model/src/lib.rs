//! attend's layers and models, one concept per file in the order a reader
//! learns them: token embedding, positional encoding, scaled dot-product
//! attention, multi-head attention, feed-forward, encoder, decoder, the
//! encoder–decoder Transformer, and decoding; and the recurrent road to it:
//! the RNN, LSTM and GRU cells and recurrent layers, the recurrent language
//! model and encoder–decoders; and before them all,
//! word2vec's embedding tables.
//!
//! Everything is backend-agnostic: Burn picks the backend from the `Device`
//! the model is built on.

pub mod additive_attention;
pub mod attention;
pub mod beam;
pub mod classifier;
pub mod decode;
pub mod decoder;
pub mod dense;
pub mod embedding;
pub mod encoder;
pub mod error;
pub mod feed_forward;
#[allow(deprecated)] // the extension names burn-ndarray's backend, deprecated in Burn 0.22
pub mod fused;
pub mod gpt;
pub mod gru;
pub mod language_model;
pub mod lstm;
pub mod multi_head;
pub mod positional;
pub mod recurrent;
pub mod recurrent_lm;
pub mod recurrent_seq2seq;
pub mod rnn;
pub mod seq2seq;
pub mod size;
pub mod transformer;
pub mod vector_decoder;
pub mod word2vec;

pub use beam::{beam_search, BeamOptions, Hypothesis};
pub use decode::{greedy, greedy_with, AttentionPick, Decoded, GreedyOptions};
pub use decoder::{Decoder, DecoderConfig, DecoderContext, DecoderLayer, KeyValues};
pub use encoder::{Encoder, EncoderConfig, EncoderLayer};
pub use error::ModelError;
pub use feed_forward::Activation;
pub use positional::PositionalKind;
pub use additive_attention::Score;
pub use language_model::{LanguageModel, LanguageModelConfig, LmCache};
pub use recurrent_lm::{RecurrentLm, RecurrentLmConfig};
pub use recurrent_seq2seq::{RecurrentSeq2Seq, RecurrentSeq2SeqConfig};
pub use seq2seq::{DecoderState, Memory, Seq2SeqConfig, Seq2SeqModel, Step, TransformerMemory};
pub use recurrent::{Cell, CellKind, Recurrent, RecurrentConfig, RecurrentState};
pub use transformer::{Transformer, TransformerConfig};
pub use vector_decoder::{VectorDecoder, VectorDecoderConfig};
