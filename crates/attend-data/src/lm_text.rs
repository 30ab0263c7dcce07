//! Text for language models: files read as one long token stream that keeps
//! line breaks (a language model should learn where lines end), tokenised by
//! character (every character, spaces and newlines included, as nanoGPT's
//! Shakespeare) or by word (the word tokenizer on each line, then a `\n`
//! token).

use std::path::Path;

use crate::error::{DataError, Result};
use crate::subword::Subword;
use crate::tokenizer::{Tokenizer, TokenizerKind, WordTokenizer};

/// The newline token of word-level models.
pub const NEWLINE: &str = "\n";

/// Tokens of `text` for a character or word language model (subword kinds
/// are read as words here: subword models tokenise with their tokenizer).
pub fn lm_tokens(text: &str, kind: TokenizerKind, lowercase: bool) -> Vec<String> {
    let text = if lowercase { text.to_lowercase() } else { text.to_string() };
    match kind {
        TokenizerKind::Char => text.chars().map(String::from).collect(),
        TokenizerKind::Word | TokenizerKind::Bpe | TokenizerKind::Unigram => {
            let words = WordTokenizer { lowercase: false };
            let mut out = Vec::new();
            for line in text.split_inclusive('\n') {
                out.extend(words.tokenize(line));
                if line.ends_with('\n') {
                    out.push(NEWLINE.to_string());
                }
            }
            out
        }
    }
}

/// Joins generated tokens back into text.
pub fn lm_detokenize(token: &str, kind: TokenizerKind, first_on_line: bool) -> String {
    match kind {
        TokenizerKind::Char => token.to_string(),
        _ if token == NEWLINE => "\n".into(),
        _ if first_on_line || matches!(token, "." | "," | "!" | "?" | ";" | ":" | "'s") => token.into(),
        _ => format!(" {token}"),
    }
}

/// Generated tokens joined into text one at a time, as they come (a word's
/// spacing depends on whether it starts a line; a subword piece may end
/// inside a character, whose text then comes with the next piece).
pub enum Detokenizer {
    /// Characters or words.
    Plain { kind: TokenizerKind, first_on_line: bool },
    /// Subwords: the pieces so far, and how much of their text was given out.
    Subword { subword: Subword, tokens: Vec<String>, emitted: usize },
}

impl Detokenizer {
    /// For the character or word tokens that continue `prompt`.
    pub fn after(prompt: &str, kind: TokenizerKind) -> Self {
        Self::Plain { kind, first_on_line: prompt.ends_with('\n') || kind == TokenizerKind::Char }
    }

    /// For subword pieces.
    pub fn subword(subword: Subword) -> Self {
        Self::Subword { subword, tokens: Vec::new(), emitted: 0 }
    }

    /// The text of the next token (empty while a character is incomplete).
    pub fn piece(&mut self, token: &str) -> String {
        match self {
            Self::Plain { kind, first_on_line } => {
                let piece = lm_detokenize(token, *kind, *first_on_line);
                *first_on_line = token == NEWLINE;
                piece
            }
            Self::Subword { subword, tokens, emitted } => {
                tokens.push(token.to_string());
                let text = subword.decode_raw(tokens);
                if text.ends_with('\u{fffd}') || text.len() < *emitted {
                    return String::new();
                }
                let piece = text.get(*emitted..).unwrap_or_default().to_string();
                *emitted = text.len();
                piece
            }
        }
    }
}

/// Reads a UTF-8 text file (or a gzip of one) whole, without a leading byte-order mark;
/// invalid UTF-8 is an error naming the line.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = crate::corpus::read_bytes(path)?;
    match String::from_utf8(bytes) {
        Ok(text) if text.trim().is_empty() => Err(DataError::Empty { path: path.into() }),
        Ok(text) if text.starts_with(crate::corpus::BOM) => Ok(crate::corpus::strip_bom(&text).to_string()),
        Ok(text) => Ok(text),
        Err(e) => {
            let upto = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..upto].iter().filter(|&&b| b == b'\n').count() + 1;
            Err(DataError::InvalidUtf8 { path: path.into(), line })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_keep_newlines_and_words_mark_them() {
        let c = lm_tokens("Ab\nc ", TokenizerKind::Char, false);
        assert_eq!(c, ["A", "b", "\n", "c", " "]);
        let w = lm_tokens("To be, or\nnot.\n", TokenizerKind::Word, true);
        assert_eq!(w, ["to", "be", ",", "or", "\n", "not", ".", "\n"]);
        let text: String = w
            .iter()
            .enumerate()
            .map(|(i, t)| lm_detokenize(t, TokenizerKind::Word, i == 0 || w[i - 1] == NEWLINE))
            .collect();
        assert_eq!(text, "to be, or\nnot.\n");
    }

    #[test]
    fn subword_pieces_stream_whole_characters() {
        use crate::subword::SubwordModel;
        let lines = ["ROMEO:\nWhere art thou?\n", "Où êtes-vous, Roméo ?\n"];
        let t = Subword::train(SubwordModel::Bpe, 270, false, lines.iter().cycle().take(20).map(|s| s.to_string())).unwrap();
        let text = "Où êtes-vous?\n日本";
        let mut d = Detokenizer::subword(t.clone());
        let pieces: Vec<String> = t.tokenize(text).iter().map(|p| d.piece(p)).collect();
        // Byte pieces of a character give nothing until the character is whole.
        assert!(pieces.iter().any(|p| p.is_empty()), "{pieces:?}");
        assert!(pieces.iter().all(|p| !p.contains('\u{fffd}')), "{pieces:?}");
        assert_eq!(pieces.concat().trim_start(), text);
    }
}
