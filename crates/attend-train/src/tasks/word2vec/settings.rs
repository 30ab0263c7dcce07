//! The config sections of word2vec runs (`task = "word2vec"`): `[word2vec]`
//! is [`Word2VecConfig`] itself (its defaults are gensim's, written once
//! there), `[data]` names the corpus and `[train]` the device.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Word2VecConfig;

/// `[data]` of a word2vec run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CorpusData {
    /// Text files, or folders whose `*.txt` files are read in name order (a
    /// blank line ends a sentence).
    pub corpus: Vec<PathBuf>,
}

/// `[train]` of a word2vec run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct W2vTrain {
    /// `cpu`: word2vec.c's sparse lock-free updates on CPU threads (the fast
    /// path); any other device (`wgpu`, `flex`, `ndarray`, …): batched tensor
    /// steps on that Burn device.
    pub device: String,
}

impl Default for W2vTrain {
    fn default() -> Self {
        Self { device: "cpu".into() }
    }
}

/// A word2vec run (`task = "word2vec"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Word2vecRunConfig {
    pub word2vec: Word2VecConfig,
    pub data: CorpusData,
    pub train: W2vTrain,
}

impl Default for Word2vecRunConfig {
    fn default() -> Self {
        Self { word2vec: Word2VecConfig::new(), data: CorpusData::default(), train: W2vTrain::default() }
    }
}

impl PartialEq for Word2vecRunConfig {
    fn eq(&self, other: &Self) -> bool {
        self.word2vec.to_string() == other.word2vec.to_string() && self.data == other.data && self.train == other.train
    }
}
