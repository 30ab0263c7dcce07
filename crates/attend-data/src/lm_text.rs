//! Text for language models: files read as one long token stream that keeps
//! line breaks (a language model should learn where lines end), tokenised by
//! character (every character, spaces and newlines included, as nanoGPT's
//! Shakespeare) or by word (the word tokenizer on each line, then a `\n`
//! token).

use std::path::Path;

use crate::error::{DataError, Result};
use crate::tokenizer::{Tokenizer, TokenizerKind, WordTokenizer};

/// The newline token of word-level models.
pub const NEWLINE: &str = "\n";

/// Tokens of `text` for a language model (characters or words; subword
/// kinds are read as words here: their models tokenise with their own
/// tokenizer).
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
/// spacing depends on whether it starts a line).
pub struct Detokenizer {
    kind: TokenizerKind,
    first_on_line: bool,
}

impl Detokenizer {
    /// For the tokens that continue `prompt`.
    pub fn after(prompt: &str, kind: TokenizerKind) -> Self {
        Self { kind, first_on_line: prompt.ends_with('\n') || kind == TokenizerKind::Char }
    }

    /// The text of the next token.
    pub fn piece(&mut self, token: &str) -> String {
        let piece = lm_detokenize(token, self.kind, self.first_on_line);
        self.first_on_line = token == NEWLINE;
        piece
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
}
