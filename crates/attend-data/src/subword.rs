//! Subword tokenizers: byte-pair encoding (Sennrich, Haddow & Birch, 2016,
//! "Neural Machine Translation of Rare Words with Subword Units") and the
//! unigram language model (Kudo, 2018, "Subword Regularization"), trained and
//! run by Hugging Face's `tokenizers`, and any `tokenizer.json` that library
//! reads (GPT-2's, BERT's, a SentencePiece conversion, …).
//!
//! The tokenizers attend trains are byte-level (GPT-2's pre-tokenizer,
//! Radford et al., 2019): every byte has a token, so no text is ever
//! `<unk>`. They normalise with Unicode NFKC, strip the ends and, when asked,
//! lowercase. Saved as the library's own `tokenizer.json`, so Python's
//! `tokenizers.Tokenizer.from_file` reads them too.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BpeTrainer, BPE};
use tokenizers::models::unigram::{Unigram, UnigramTrainer};
use tokenizers::models::{ModelWrapper, TrainerWrapper};
use tokenizers::normalizers::{strip::Strip, unicode::NFKC, utils::Lowercase, NormalizerWrapper, Sequence};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;

use crate::error::{DataError, Result};
use crate::tokenizer::Tokenizer;

/// The subword model attend trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubwordModel {
    /// Byte-pair encoding: merges the most frequent adjacent pair, again and again.
    Bpe,
    /// Unigram language model: prunes a large seed vocabulary by likelihood.
    Unigram,
}

/// A subword tokenizer (a Hugging Face `tokenizers::Tokenizer`).
#[derive(Clone)]
pub struct Subword {
    inner: tokenizers::Tokenizer,
}

impl std::fmt::Debug for Subword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Subword({} tokens)", self.inner.get_vocab_size(true))
    }
}

fn invalid(what: impl std::fmt::Display) -> DataError {
    DataError::Invalid(what.to_string())
}

impl Subword {
    /// Trains a byte-level `model` of `vocab_size` tokens on `texts` (each a
    /// sentence or a line). `vocab_size` must leave room for the 256 bytes.
    pub fn train<I, S>(model: SubwordModel, vocab_size: usize, lowercase: bool, texts: I) -> Result<Self>
    where
        I: Iterator<Item = S> + Send,
        S: AsRef<str> + Send,
    {
        let alphabet = ByteLevel::alphabet();
        if vocab_size <= alphabet.len() {
            return Err(invalid(format!("a byte-level vocabulary needs more than {} tokens (one per byte); got {vocab_size}", alphabet.len())));
        }
        let mut normalizers: Vec<NormalizerWrapper> = vec![NFKC.into(), Strip::new(true, true).into()];
        if lowercase {
            normalizers.push(Lowercase.into());
        }
        let (model_wrapper, mut trainer): (ModelWrapper, TrainerWrapper) = match model {
            SubwordModel::Bpe => {
                let trainer = BpeTrainer::builder()
                    .show_progress(false)
                    .vocab_size(vocab_size)
                    .min_frequency(2)
                    .initial_alphabet(alphabet.iter().copied().collect::<HashSet<char>>())
                    .build();
                (BPE::default().into(), trainer.into())
            }
            SubwordModel::Unigram => {
                let trainer = UnigramTrainer::builder()
                    .show_progress(false)
                    .vocab_size(vocab_size as u32)
                    .initial_alphabet(alphabet)
                    .build()
                    .map_err(invalid)?;
                (Unigram::default().into(), trainer.into())
            }
        };
        let mut inner = tokenizers::Tokenizer::new(model_wrapper);
        inner
            .with_normalizer(Some(Sequence::new(normalizers)))
            .with_pre_tokenizer(Some(ByteLevel::new(true, true, true)))
            .with_decoder(Some(ByteLevelDecoder::default()));
        inner.train(&mut trainer, texts).map_err(|e| invalid(format!("training the subword tokenizer: {e}")))?;
        Ok(Self { inner })
    }

    /// Reads a `tokenizer.json` (any that Hugging Face's library writes).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| DataError::Io { path: path.into(), source })?;
        Self::from_json(&text).map_err(|e| DataError::BadVocab { path: path.into(), reason: format!("not a Hugging Face tokenizer.json: {e}") })
    }

    /// Parses a `tokenizer.json`'s text. Truncation and padding are switched
    /// off: attend pads and truncates itself.
    pub fn from_json(text: &str) -> std::result::Result<Self, String> {
        let mut inner: tokenizers::Tokenizer = text.parse().map_err(|e: tokenizers::Error| e.to_string())?;
        inner.with_truncation(None).map_err(|e| e.to_string())?;
        inner.with_padding(None);
        Ok(Self { inner })
    }

    /// The `tokenizer.json` text.
    pub fn to_json(&self) -> Result<String> {
        self.inner.to_string(false).map_err(invalid)
    }

    /// Every token the tokenizer can produce, in its id order.
    pub fn tokens(&self) -> Vec<String> {
        let mut pairs: Vec<(String, u32)> = self.inner.get_vocab(true).into_iter().collect();
        pairs.sort_by_key(|&(_, id)| id);
        pairs.into_iter().map(|(t, _)| t).collect()
    }
}

impl Subword {
    /// The text of `tokens` exactly as the decoder gives it (spaces at the
    /// ends kept; a byte sequence cut inside a character ends in U+FFFD).
    pub fn decode_raw(&self, tokens: &[String]) -> String {
        let ids: Vec<u32> = tokens.iter().filter_map(|t| self.inner.token_to_id(t)).collect();
        self.inner.decode(&ids, true).unwrap_or_else(|_| tokens.concat())
    }
}

impl Tokenizer for Subword {
    /// The subword pieces of `text`. Without truncation the library cannot
    /// fail on a string; if it ever does, the text has no tokens.
    fn tokenize(&self, text: &str) -> Vec<String> {
        match self.inner.encode(text, false) {
            Ok(enc) => enc.get_tokens().to_vec(),
            Err(_) => Vec::new(),
        }
    }

    /// The text of `tokens` through the tokenizer's decoder (tokens it does
    /// not know, such as attend's `<unk>`, are left out).
    fn detokenize(&self, tokens: &[String]) -> String {
        self.decode_raw(tokens).trim().to_string()
    }

    /// The piece's text without the byte-level markers (`Ġplus` reads
    /// `plus`); a piece that is part of a character, or not the tokenizer's
    /// (`<eos>`), as it is.
    fn display(&self, token: &str) -> String {
        let text = self.decode_raw(&[token.to_string()]);
        let text = text.trim();
        if text.is_empty() || text.contains('\u{fffd}') {
            token.to_string()
        } else {
            text.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: [&str; 6] = [
        "The weather is nice today.",
        "Where is the station?",
        "Il fait beau aujourd'hui.",
        "Où est la gare ?",
        "I am a manager. Je suis gérant.",
        "The station is near the weather office.",
    ];

    fn corpus() -> impl Iterator<Item = String> + Send {
        (0..20).flat_map(|_| TEXT.iter().map(|s| s.to_string()))
    }

    #[test]
    fn bpe_round_trips_any_text_without_unknowns() {
        let t = Subword::train(SubwordModel::Bpe, 300, false, corpus()).unwrap();
        for text in TEXT.iter().copied().chain(["Zoë's naïve 東京 café — 42!", "x"]) {
            let toks = t.tokenize(text);
            assert!(!toks.is_empty());
            assert!(toks.iter().all(|p| t.inner.token_to_id(p).is_some()), "{toks:?}");
            assert_eq!(t.detokenize(&toks), text);
        }
        // Labels read as text: the word-start marker is gone, specials stay.
        let piece = t.tokenize("the weather")[1].clone();
        assert!(piece.starts_with('Ġ') && t.display(&piece) == piece[2..], "{piece}");
        assert_eq!(t.display("<eos>"), "<eos>");
        // Frequent words become single pieces; the vocabulary holds the 256 bytes and merges.
        assert!(t.tokenize("the weather").len() <= 3, "{:?}", t.tokenize("the weather"));
        assert!(t.tokens().len() > 256 && t.tokens().len() <= 300);
    }

    #[test]
    fn unigram_and_lowercasing() {
        let t = Subword::train(SubwordModel::Unigram, 300, true, corpus()).unwrap();
        let toks = t.tokenize("WHERE is the Station?");
        assert_eq!(t.detokenize(&toks), "where is the station?");
    }

    #[test]
    fn json_round_trip_and_bad_files() {
        let t = Subword::train(SubwordModel::Bpe, 280, false, corpus()).unwrap();
        let back = Subword::from_json(&t.to_json().unwrap()).unwrap();
        assert_eq!(back.tokenize(TEXT[1]), t.tokenize(TEXT[1]));
        assert_eq!(back.tokens(), t.tokens());
        let dir = std::env::temp_dir().join(format!("attend-subword-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("tokenizer.json");
        std::fs::write(&bad, "{\"model\": 3}").unwrap();
        let err = Subword::load(&bad).unwrap_err().to_string();
        assert!(err.contains("tokenizer.json") && err.contains("Hugging Face"), "{err}");
        assert!(Subword::train(SubwordModel::Bpe, 100, false, corpus()).unwrap_err().to_string().contains("256"));
    }
}
