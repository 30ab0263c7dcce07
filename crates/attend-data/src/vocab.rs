//! A vocabulary maps tokens to the integer ids a model embeds, and back.
//!
//! Ids 0–3 are reserved for `<pad> <unk> <bos> <eos>`. The rest are ordered by
//! frequency (ties broken alphabetically) so a vocabulary built twice from the
//! same corpus is identical. Saved as JSON in the run directory.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

pub const PAD: u32 = 0;
pub const UNK: u32 = 1;
pub const BOS: u32 = 2;
pub const EOS: u32 = 3;
pub const SPECIALS: [&str; 4] = ["<pad>", "<unk>", "<bos>", "<eos>"];

/// Token ↔ id mapping with the four special tokens first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocab {
    tokens: Vec<String>,
    index: HashMap<String, u32>,
}

#[derive(Serialize, Deserialize)]
struct VocabFile {
    tokens: Vec<String>,
}

impl Vocab {
    /// Builds a vocabulary from token sequences, keeping tokens seen at least
    /// `min_freq` times, at most `max_size` entries in all (specials included).
    pub fn build<'a, I, S>(sequences: I, min_freq: usize, max_size: Option<usize>) -> Self
    where
        I: IntoIterator<Item = &'a S>,
        S: AsRef<[String]> + 'a + ?Sized,
    {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        let mut owned: Vec<&'a [String]> = Vec::new();
        for seq in sequences {
            owned.push(seq.as_ref());
        }
        for seq in &owned {
            for t in seq.iter() {
                *counts.entry(t.as_str()).or_default() += 1;
            }
        }
        let mut ranked: Vec<(&str, usize)> = counts
            .into_iter()
            .filter(|(t, c)| *c >= min_freq.max(1) && !SPECIALS.contains(t))
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut tokens: Vec<String> = SPECIALS.iter().map(|s| s.to_string()).collect();
        let room = max_size.map(|m| m.saturating_sub(SPECIALS.len())).unwrap_or(usize::MAX);
        tokens.extend(ranked.into_iter().take(room).map(|(t, _)| t.to_string()));
        Self::from_tokens(tokens).expect("specials are unique")
    }

    /// A vocabulary from an ordered token list whose first four are the specials.
    pub fn from_tokens(tokens: Vec<String>) -> std::result::Result<Self, String> {
        if tokens.len() < SPECIALS.len() || tokens[..4] != SPECIALS {
            return Err(format!("the first four tokens must be {SPECIALS:?}"));
        }
        let mut index = HashMap::with_capacity(tokens.len());
        for (i, t) in tokens.iter().enumerate() {
            if index.insert(t.clone(), i as u32).is_some() {
                return Err(format!("token {t:?} appears twice"));
            }
        }
        Ok(Self { tokens, index })
    }

    /// Number of entries, specials included.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// True when only the specials are present.
    pub fn is_empty(&self) -> bool {
        self.tokens.len() <= SPECIALS.len()
    }

    /// The id of `token`, or `<unk>`.
    pub fn id(&self, token: &str) -> u32 {
        self.index.get(token).copied().unwrap_or(UNK)
    }

    /// The token of `id` (`<unk>` for ids out of range).
    pub fn token(&self, id: u32) -> &str {
        self.tokens.get(id as usize).map(String::as_str).unwrap_or(SPECIALS[1])
    }

    /// All tokens in id order.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// Ids of `tokens`, optionally wrapped in `<bos>`/`<eos>`.
    pub fn encode(&self, tokens: &[String], bos: bool, eos: bool) -> Vec<u32> {
        let mut ids = Vec::with_capacity(tokens.len() + 2);
        if bos {
            ids.push(BOS);
        }
        ids.extend(tokens.iter().map(|t| self.id(t)));
        if eos {
            ids.push(EOS);
        }
        ids
    }

    /// Tokens of `ids`, stopping at the first `<eos>` and skipping `<pad>`/`<bos>`.
    pub fn decode(&self, ids: &[u32]) -> Vec<String> {
        ids.iter()
            .take_while(|&&i| i != EOS)
            .filter(|&&i| i != PAD && i != BOS)
            .map(|&i| self.token(i).to_string())
            .collect()
    }

    /// Writes the vocabulary as JSON.
    pub fn save(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_json()?).map_err(|source| DataError::Io { path: path.into(), source })
    }

    /// The vocabulary as the JSON that [`Vocab::save`] writes.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        let json = serde_json::to_string_pretty(&VocabFile { tokens: self.tokens.clone() }).map_err(|e| DataError::Invalid(e.to_string()))?;
        Ok(json.into_bytes())
    }

    /// Reads a vocabulary written by [`Vocab::save`].
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| DataError::Io { path: path.into(), source })?;
        let file: VocabFile = serde_json::from_str(crate::corpus::strip_bom(&text))
            .map_err(|e| DataError::BadVocab { path: path.into(), reason: e.to_string() })?;
        Self::from_tokens(file.tokens)
            .map_err(|reason| DataError::BadVocab { path: path.into(), reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seqs() -> Vec<Vec<String>> {
        ["a b c a", "b a d", "a"]
            .iter()
            .map(|s| s.split(' ').map(String::from).collect())
            .collect()
    }

    #[test]
    fn orders_by_frequency_then_alphabet_with_min_freq_and_max_size() {
        let s = seqs();
        let v = Vocab::build(s.iter(), 1, None);
        assert_eq!(&v.tokens()[4..], ["a", "b", "c", "d"]);
        let v = Vocab::build(s.iter(), 2, None);
        assert_eq!(&v.tokens()[4..], ["a", "b"]);
        let v = Vocab::build(s.iter(), 1, Some(5));
        assert_eq!(&v.tokens()[4..], ["a"]);
        assert_eq!(v.id("zzz"), UNK);
    }

    #[test]
    fn encode_decode_round_trip_and_json() {
        let s = seqs();
        let v = Vocab::build(s.iter(), 1, None);
        let ids = v.encode(&s[1], true, true);
        assert_eq!(ids.first(), Some(&BOS));
        assert_eq!(ids.last(), Some(&EOS));
        assert_eq!(v.decode(&ids), s[1]);
        let dir = std::env::temp_dir().join(format!("attend-vocab-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("v.json");
        v.save(&p).unwrap();
        assert_eq!(Vocab::load(&p).unwrap(), v);
        std::fs::write(&p, "{\"tokens\": [\"x\"]}").unwrap();
        let err = Vocab::load(&p).unwrap_err().to_string();
        assert!(err.contains("v.json"), "{err}");
    }
}
