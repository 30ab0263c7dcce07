//! Tokenizers turn text into the units a model reads: characters, words or
//! subwords.
//!
//! All implement [`Tokenizer`]; the subword ones (BPE, unigram) are trained or
//! loaded ([`crate::subword`]), the others are built from their settings
//! ([`TokenizerSpec::build`]). The word tokenizer normalises first (Unicode NFKC, optional
//! lowercasing, whitespace folded) and splits punctuation off words, keeping
//! apostrophes inside them (`j'ai`, `don't`) as sacreBLEU's 13a tokenizer does.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::subword::SubwordModel;

/// Splits text into tokens and joins tokens back into text.
pub trait Tokenizer {
    /// The tokens of `text`, in order.
    fn tokenize(&self, text: &str) -> Vec<String>;
    /// Readable text from tokens (the inverse of `tokenize` up to spacing).
    fn detokenize(&self, tokens: &[String]) -> String;
    /// One token as a person should read it (e.g. an attention plot's label).
    fn display(&self, token: &str) -> String {
        token.to_string()
    }
}

/// Which tokenizer a run uses; stored in the run's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TokenizerKind {
    /// One token per Unicode scalar value.
    Char,
    /// Normalised words with punctuation split off.
    #[default]
    Word,
    /// Byte-level byte-pair encoding (trained, or read from a tokenizer.json).
    Bpe,
    /// Byte-level unigram language model (trained, or read from a tokenizer.json).
    Unigram,
}

impl TokenizerKind {
    /// The subword model this kind trains, if it is a subword kind.
    pub fn subword(self) -> Option<SubwordModel> {
        match self {
            Self::Bpe => Some(SubwordModel::Bpe),
            Self::Unigram => Some(SubwordModel::Unigram),
            Self::Char | Self::Word => None,
        }
    }
}

/// A tokenizer shared between threads (a run's, a server's).
pub type SharedTokenizer = Arc<dyn Tokenizer + Send + Sync>;

/// A translation's tokenizers: the source side's and the target side's (one
/// and the same when the vocabulary is joint).
#[derive(Clone)]
pub struct PairTokenizer {
    pub src: SharedTokenizer,
    pub tgt: SharedTokenizer,
}

impl PairTokenizer {
    /// The same tokenizer on both sides.
    pub fn joint(t: SharedTokenizer) -> Self {
        Self { src: t.clone(), tgt: t }
    }
}

/// The settings that build a tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenizerSpec {
    pub kind: TokenizerKind,
    pub lowercase: bool,
}

impl TokenizerSpec {
    /// Builds the character or word tokenizer these settings describe; `None`
    /// for the subword kinds, which are trained or loaded instead
    /// ([`crate::Subword`]).
    pub fn build(&self) -> Option<SharedTokenizer> {
        match self.kind {
            TokenizerKind::Char => Some(Arc::new(CharTokenizer { lowercase: self.lowercase })),
            TokenizerKind::Word => Some(Arc::new(WordTokenizer { lowercase: self.lowercase })),
            TokenizerKind::Bpe | TokenizerKind::Unigram => None,
        }
    }
}

fn normalise(text: &str, lowercase: bool) -> String {
    let nfkc: String = text.nfkc().collect();
    let folded = nfkc.split_whitespace().collect::<Vec<_>>().join(" ");
    if lowercase {
        folded.to_lowercase()
    } else {
        folded
    }
}

/// Character-level tokenizer: every character (spaces included) is a token.
#[derive(Debug, Clone, Default)]
pub struct CharTokenizer {
    pub lowercase: bool,
}

impl Tokenizer for CharTokenizer {
    fn tokenize(&self, text: &str) -> Vec<String> {
        normalise(text, self.lowercase).chars().map(String::from).collect()
    }
    fn detokenize(&self, tokens: &[String]) -> String {
        tokens.concat()
    }
}

/// Word-level tokenizer with a normalising pre-tokenizer.
#[derive(Debug, Clone, Default)]
pub struct WordTokenizer {
    pub lowercase: bool,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '\'' || c == '’' || c == '-'
}

impl Tokenizer for WordTokenizer {
    fn tokenize(&self, text: &str) -> Vec<String> {
        let text = normalise(text, self.lowercase);
        let mut out = Vec::new();
        let mut word = String::new();
        for c in text.chars() {
            if is_word_char(c) {
                word.push(c);
                continue;
            }
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
        }
        if !word.is_empty() {
            out.push(word);
        }
        out
    }

    fn detokenize(&self, tokens: &[String]) -> String {
        let mut out = String::new();
        for (i, t) in tokens.iter().enumerate() {
            let glue_left = matches!(t.as_str(), "." | "," | ")" | "]" | "}");
            let prev_open = i > 0 && matches!(tokens[i - 1].as_str(), "(" | "[" | "{");
            if i > 0 && !glue_left && !prev_open {
                out.push(' ');
            }
            out.push_str(t);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_tokenizer_splits_punctuation_and_keeps_apostrophes() {
        let t = WordTokenizer { lowercase: false };
        assert_eq!(
            t.tokenize("  J'ai  faim, Tom!  "),
            vec!["J'ai", "faim", ",", "Tom", "!"]
        );
        let t = WordTokenizer { lowercase: true };
        assert_eq!(t.tokenize("I'm  HAPPY."), vec!["i'm", "happy", "."]);
    }

    #[test]
    fn word_detokenize_glues_closing_punctuation() {
        let t = WordTokenizer::default();
        let toks = t.tokenize("Je suis (très) content, merci.");
        assert_eq!(t.detokenize(&toks), "Je suis (très) content, merci.");
    }

    #[test]
    fn nfkc_normalises_compatibility_forms() {
        let t = WordTokenizer::default();
        // U+FB01 LATIN SMALL LIGATURE FI becomes "fi".
        assert_eq!(t.tokenize("\u{FB01}n"), vec!["fin"]);
    }

    #[test]
    fn char_tokenizer_round_trips() {
        let t = CharTokenizer::default();
        let toks = t.tokenize("Ça va ?");
        assert_eq!(toks.len(), 7);
        assert_eq!(t.detokenize(&toks), "Ça va ?");
    }
}
