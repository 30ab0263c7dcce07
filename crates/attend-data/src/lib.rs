//! Data for attend: tokenizers, vocabularies, corpus readers, batching and masks.
//!
//! Nothing here depends on a deep-learning backend: batches are plain vectors
//! that the model crate turns into tensors on whatever device it runs.

pub mod batch;
pub mod copy_task;
pub mod corpus;
pub mod error;
pub mod labeled;
pub mod lm_text;
pub mod subword;
pub mod tokenizer;
pub mod vectors;
pub mod vocab;
pub mod word_corpus;

pub use batch::{BatchBy, Batcher, Example, Padded, Seq2SeqBatch};
pub use copy_task::copy_pairs;
pub use corpus::{read_aligned, read_lines, read_tsv, strip_bom, Pair};
pub use labeled::{read_labeled, Labeled};
pub use error::{DataError, Result};
pub use subword::{Subword, SubwordModel};
pub use tokenizer::{CharTokenizer, PairTokenizer, SharedTokenizer, Tokenizer, TokenizerKind, TokenizerSpec, WordTokenizer};
pub use vocab::{Vocab, BOS, EOS, PAD, UNK};
pub use vectors::{VectorFormat, WordVectors};
pub use word_corpus::{corpus_files, ReaderPosition, SentenceReader, WordCounts};
