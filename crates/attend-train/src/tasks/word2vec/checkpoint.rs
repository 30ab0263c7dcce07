//! Checkpoints of a word2vec run: both tables and the position in the run
//! (epoch and job), written as the trainer writes its checkpoints (into a
//! temporary folder that then replaces the previous one), so a crash never
//! leaves half a checkpoint. Jobs are cut
//! from the corpus deterministically and seed their own random numbers, so a
//! resumed run skips the jobs already trained and continues exactly where it
//! stopped (bit for bit with one CPU thread or the tensor engine).

use std::io::Read;
use std::path::Path;

use burn::config::Config;
use serde::{Deserialize, Serialize};

use super::Word2VecConfig;
use crate::error::{Result, TrainError};
use crate::trainer::checkpoint::write_dir;

/// Where a run stands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Epoch in progress (epochs before it are complete).
    pub epoch: usize,
    /// Run-wide number of this epoch's first job.
    pub epoch_first_job: u64,
    /// Jobs of this epoch already trained.
    pub job_in_epoch: u64,
    /// Corpus words trained on so far.
    pub raw_done: u64,
    /// Words left after subsampling, so far.
    pub effective_done: u64,
}

#[derive(Serialize, Deserialize)]
struct State {
    progress: Progress,
    vocab: usize,
    corpus_words: u64,
    config: String,
}

const STATE: &str = "state.json";
const TABLES: &str = "tables.f32";

fn float_bytes(tables: &[&[f32]]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(4 * tables.iter().map(|t| t.len()).sum::<usize>());
    for t in tables {
        t.iter().for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
    }
    bytes
}

/// Writes the checkpoint into `dir`, replacing the previous one atomically
/// (the trainer's [`write_dir`]).
pub fn save(dir: &Path, cfg: &Word2VecConfig, p: &Progress, vocab: usize, corpus_words: u64, input: &[f32], output: &[f32]) -> Result<()> {
    let state = State { progress: p.clone(), vocab, corpus_words, config: cfg.to_string() };
    let json = serde_json::to_string_pretty(&state).map_err(|e| TrainError::Invalid(e.to_string()))?;
    write_dir(dir, &[(STATE, json.into_bytes()), (TABLES, float_bytes(&[input, output]))])
}

/// The settings of a checkpoint written before `streams` and `part_decay`
/// existed, with the values that version ran with (the corpus in order).
fn with_older_fields(config: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(config) {
        Ok(serde_json::Value::Object(mut fields)) => {
            fields.entry("streams").or_insert(1.into());
            fields.entry("part_decay").or_insert(false.into());
            serde_json::Value::Object(fields).to_string()
        }
        _ => config.to_string(), // reported as unreadable below
    }
}

/// Reads a checkpoint written for the same settings and corpus; returns the
/// progress and the two tables. Settings that only change speed (threads,
/// batch) may differ; anything else is an error naming what changed.
pub fn load(dir: &Path, cfg: &Word2VecConfig, vocab: usize, corpus_words: u64) -> Result<(Progress, Vec<f32>, Vec<f32>)> {
    let bad = |reason: String| TrainError::Checkpoint { path: dir.into(), reason };
    let text = std::fs::read_to_string(dir.join(STATE)).map_err(|e| TrainError::io(&dir.join(STATE), e))?;
    let state: State = serde_json::from_str(&text).map_err(|e| bad(format!("unreadable {STATE}: {e}")))?;
    let saved = Word2VecConfig::load_binary(with_older_fields(&state.config).as_bytes()).map_err(|e| bad(format!("unreadable settings: {e}")))?;
    let same = |c: &Word2VecConfig| c.clone().with_threads(1).with_batch(1).to_string();
    if same(&saved) != same(cfg) {
        return Err(bad(format!("it was written with other settings:\n{}\nnow:\n{}", saved, cfg)));
    }
    if state.vocab != vocab || state.corpus_words != corpus_words {
        return Err(bad(format!(
            "it was written for a corpus of {} words and a vocabulary of {}; this corpus has {corpus_words} and {vocab}",
            state.corpus_words, state.vocab
        )));
    }
    let n = vocab * cfg.dim;
    let mut bytes = Vec::new();
    std::fs::File::open(dir.join(TABLES))
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| TrainError::io(&dir.join(TABLES), e))?;
    if bytes.len() != 8 * n {
        return Err(bad(format!("{TABLES} has {} bytes, expected {}", bytes.len(), 8 * n)));
    }
    let floats: Vec<f32> = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let (input, output) = floats.split_at(n);
    Ok((state.progress, input.to_vec(), output.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_from_before_streams_resumes_in_order() {
        let dir = std::env::temp_dir().join(format!("attend-w2v-ckpt-{}", std::process::id()));
        let in_order = Word2VecConfig::new().with_dim(2).with_streams(1);
        save(&dir, &in_order, &Progress::default(), 3, 10, &[0.5; 6], &[0.25; 6]).unwrap();
        // Rewrite it as a version without the field wrote it.
        let mut state: State = serde_json::from_str(&std::fs::read_to_string(dir.join(STATE)).unwrap()).unwrap();
        let mut settings: serde_json::Value = serde_json::from_str(&state.config).unwrap();
        settings.as_object_mut().unwrap().remove("streams");
        settings.as_object_mut().unwrap().remove("part_decay");
        state.config = settings.to_string();
        std::fs::write(dir.join(STATE), serde_json::to_string(&state).unwrap()).unwrap();
        let err = load(&dir, &Word2VecConfig::new().with_dim(2), 3, 10).unwrap_err().to_string();
        assert!(err.contains("other settings"), "{err}");
        let (_, input, output) = load(&dir, &in_order, 3, 10).unwrap();
        assert_eq!((input, output), (vec![0.5; 6], vec![0.25; 6]));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
