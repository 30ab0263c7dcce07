//! A run's tokenizer, whatever its kind: characters or words are built from
//! the config; subwords (BPE, unigram) come from the run directory's
//! `tokenizer.json` (resume, translate, eval, serve), from a Hugging Face
//! `tokenizer.json` the config names, or are trained on the run's training
//! text (Sennrich et al., 2016; Kudo, 2018) and saved into the run directory.
//!
//! A subword vocabulary covers every token its tokenizer can produce: the
//! pieces of the training text by frequency, then the rest in the tokenizer's
//! own order (a byte-level tokenizer thus never yields `<unk>`).

use std::path::Path;

use attend_data::{SharedTokenizer, Subword, TokenizerKind, TokenizerSpec, Vocab};

use crate::error::{Result, TrainError};

/// The (source side's) tokenizer file of a run directory.
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// The target side's tokenizer file, when a translator has one of its own.
pub const TGT_TOKENIZER_FILE: &str = "tokenizer.tgt.json";

/// The subword vocabulary size of a config that does not say (runs saved
/// before subwords existed read as they were written).
pub fn default_vocab_size() -> usize {
    8000
}

/// One tokenizer for both languages unless a config says otherwise.
pub fn default_joint() -> bool {
    true
}

/// How a run tokenizes, from its config.
#[derive(Debug, Clone, Copy)]
pub struct TokenizerChoice<'a> {
    pub kind: TokenizerKind,
    pub lowercase: bool,
    /// Subword vocabulary size, when one is trained.
    pub vocab_size: usize,
    /// A `tokenizer.json` to use instead of training one.
    pub file: Option<&'a Path>,
}

impl TokenizerChoice<'_> {
    /// Whether this run tokenizes into subwords (trained or given).
    pub fn is_subword(&self) -> bool {
        self.file.is_some() || self.kind.subword().is_some()
    }
}

/// A run's tokenizer, and the subword model to save with the run if it has one.
#[derive(Clone)]
pub struct RunTokenizer {
    pub tokenizer: SharedTokenizer,
    pub subword: Option<Subword>,
}

impl RunTokenizer {
    /// The file to write into the run directory as `name`, for subwords.
    pub fn run_file(&self, name: &str) -> Result<Option<(String, Vec<u8>)>> {
        Ok(match &self.subword {
            Some(s) => Some((name.to_string(), s.to_json()?.into_bytes())),
            None => None,
        })
    }

    /// The vocabulary of a subword run: `counted` (the training text's pieces
    /// by frequency) followed by the tokenizer's other tokens. Character and
    /// word runs keep `counted` as it is.
    pub fn complete(&self, counted: Vocab) -> Result<Vocab> {
        let Some(subword) = &self.subword else { return Ok(counted) };
        let mut tokens = counted.tokens().to_vec();
        let have: std::collections::HashSet<String> = tokens.iter().cloned().collect();
        tokens.extend(subword.tokens().into_iter().filter(|t| !have.contains(t)));
        Vocab::from_tokens(tokens).map_err(TrainError::Invalid)
    }
}

fn wrap(subword: Subword) -> RunTokenizer {
    RunTokenizer { tokenizer: std::sync::Arc::new(subword.clone()), subword: Some(subword) }
}

/// The tokenizer of a run that exists (`run/name` for subwords).
pub fn saved(choice: TokenizerChoice, run: &Path, name: &str) -> Result<RunTokenizer> {
    if !choice.is_subword() {
        return built(choice);
    }
    let path = run.join(name);
    if !path.exists() {
        return Err(TrainError::Config(format!("{} is missing: this run tokenizes into subwords and keeps its tokenizer there", path.display())));
    }
    Ok(wrap(Subword::load(&path)?))
}

/// The tokenizer of a new run: built, read from `choice.file`, or trained on
/// `texts` (called only then).
pub fn fresh<F>(choice: TokenizerChoice, texts: F) -> Result<RunTokenizer>
where
    F: FnOnce() -> Vec<String>,
{
    if let Some(file) = choice.file {
        return Ok(wrap(Subword::load(file)?));
    }
    match choice.kind.subword() {
        Some(model) => {
            let texts = texts();
            Ok(wrap(Subword::train(model, choice.vocab_size, choice.lowercase, texts.into_iter())?))
        }
        None => built(choice),
    }
}

fn built(choice: TokenizerChoice) -> Result<RunTokenizer> {
    let spec = TokenizerSpec { kind: choice.kind, lowercase: choice.lowercase };
    let tokenizer = spec.build().ok_or_else(|| TrainError::Invalid(format!("{:?} tokenizers are trained, not built", choice.kind)))?;
    Ok(RunTokenizer { tokenizer, subword: None })
}

/// Which columns of a TSV file a tokenizer is trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    /// Source and target (a joint vocabulary).
    Both,
    /// The first column.
    Source,
    /// The second column.
    Target,
}

/// Trains a subword tokenizer on files (`attend tokenizer train`): TSV files
/// (`.tsv`, `.tsv.gz`) give the `columns` asked for, other files every
/// non-blank line.
pub fn train_on_files(inputs: &[std::path::PathBuf], columns: Columns, kind: TokenizerKind, vocab_size: usize, lowercase: bool) -> Result<Subword> {
    let model = kind
        .subword()
        .ok_or_else(|| TrainError::Config(format!("--kind {kind:?}: a trained tokenizer is bpe or unigram").to_lowercase()))?;
    let mut texts = Vec::new();
    for path in inputs {
        let name = path.to_string_lossy();
        if name.ends_with(".tsv") || name.ends_with(".tsv.gz") {
            for p in attend_data::read_tsv(path)? {
                match columns {
                    Columns::Both => texts.extend([p.src, p.tgt]),
                    Columns::Source => texts.push(p.src),
                    Columns::Target => texts.push(p.tgt),
                }
            }
        } else {
            texts.extend(attend_data::read_lines(path)?.into_iter().filter(|l| !l.trim().is_empty()));
        }
    }
    Ok(Subword::train(model, vocab_size, lowercase, texts.into_iter())?)
}
