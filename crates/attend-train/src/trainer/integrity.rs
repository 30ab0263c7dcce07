//! Damage on disk. Every directory the trainer writes (checkpoints, `best/`,
//! word2vec's checkpoint) holds `checksums.json`: the length and CRC-32 of
//! each of its files. Reading a directory checks them, so that a truncated,
//! bit-flipped or missing file is named instead of loading wrong weights; a
//! resumed run falls back to the newest checkpoint that verifies. What an
//! interrupted write leaves behind (`.tmp-*`, `.old-*`) is cleaned up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// The checksums file of a written directory.
pub const CHECKSUMS: &str = "checksums.json";

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Sum {
    bytes: u64,
    crc32: u32,
}

/// `checksums.json` for `files` (name, contents).
pub fn checksums<'a>(files: impl Iterator<Item = (&'a str, &'a [u8])>) -> Vec<u8> {
    let sums: BTreeMap<String, Sum> = files.map(|(n, b)| (n.to_string(), Sum { bytes: b.len() as u64, crc32: crc32fast::hash(b) })).collect();
    serde_json::to_vec_pretty(&sums).unwrap_or_default()
}

fn damaged(path: &Path, reason: impl std::fmt::Display) -> TrainError {
    TrainError::Checkpoint { path: path.into(), reason: format!("damaged: {reason}") }
}

/// Checks the files of `dir` against its `checksums.json`. A directory written
/// before checksums existed (none there) passes.
pub fn verify(dir: &Path) -> Result<()> {
    let list = dir.join(CHECKSUMS);
    let text = match std::fs::read(&list) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(TrainError::io(&list, e)),
    };
    let sums: BTreeMap<String, Sum> = serde_json::from_slice(&text).map_err(|e| damaged(&list, e))?;
    for (name, want) in sums {
        let path = dir.join(&name);
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => damaged(&path, "the file is missing"),
            _ => TrainError::io(&path, e),
        })?;
        if bytes.len() as u64 != want.bytes {
            return Err(damaged(&path, format!("{} bytes, {} were written", bytes.len(), want.bytes)));
        }
        if crc32fast::hash(&bytes) != want.crc32 {
            return Err(damaged(&path, "its checksum differs from the one written with it"));
        }
    }
    Ok(())
}

/// Removes what interrupted writes left in `parent` (`.tmp-NAME`, and
/// `.old-NAME` once `NAME` is back) and puts back a directory whose
/// replacement died half-way (`NAME` missing, `.old-NAME` complete).
pub fn clean_up(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with(".tmp-") {
            let _ = std::fs::remove_dir_all(e.path());
        } else if let Some(orig) = name.strip_prefix(".old-") {
            let target = parent.join(orig);
            if target.exists() {
                let _ = std::fs::remove_dir_all(e.path());
            } else {
                let _ = std::fs::rename(e.path(), &target);
            }
        }
    }
}

/// The newest checkpoint of `run` whose files verify, and the newer ones
/// that did not (with why), newest first.
pub fn newest_valid(run: &Path) -> Result<(PathBuf, Vec<(PathBuf, String)>)> {
    let mut skipped = Vec::new();
    for (_, dir) in super::checkpoint::list(run).into_iter().rev() {
        match verify(&dir) {
            Ok(()) => return Ok((dir, skipped)),
            Err(e) => skipped.push((dir, e.to_string())),
        }
    }
    let reason = match skipped.first() {
        Some((_, why)) => format!("no checkpoint verifies (the newest: {why})"),
        None => "no checkpoint to resume from".into(),
    };
    Err(TrainError::Checkpoint { path: run.join("checkpoints"), reason })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trainer::checkpoint::{list, step_dir, write_dir};

    #[test]
    fn damage_is_found_and_named_and_resuming_falls_back() {
        let run = std::env::temp_dir().join(format!("attend-integrity-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&run);
        std::fs::create_dir_all(run.join("checkpoints")).unwrap();
        for step in [2, 4] {
            write_dir(&step_dir(&run, step), &[("state.json", b"{}".to_vec()), ("model.bpk", vec![step as u8; 64])]).unwrap();
        }
        let newest = step_dir(&run, 4);
        verify(&newest).unwrap();
        // A flipped bit, a truncated file, a missing file: each named.
        let model = newest.join("model.bpk");
        let mut bytes = std::fs::read(&model).unwrap();
        bytes[10] ^= 1;
        std::fs::write(&model, &bytes).unwrap();
        let e = verify(&newest).unwrap_err().to_string();
        assert!(e.contains("model.bpk") && e.contains("checksum"), "{e}");
        std::fs::write(&model, &bytes[..20]).unwrap();
        assert!(verify(&newest).unwrap_err().to_string().contains("20 bytes, 64 were written"));
        std::fs::remove_file(&model).unwrap();
        assert!(verify(&newest).unwrap_err().to_string().contains("missing"));
        let (dir, skipped) = newest_valid(&run).unwrap();
        assert_eq!(dir, step_dir(&run, 2));
        assert_eq!(skipped.len(), 1);
        // A write that died: its temporary directory goes; a replacement that died half-way is undone.
        std::fs::create_dir_all(run.join("checkpoints/.tmp-step-00000006")).unwrap();
        std::fs::rename(step_dir(&run, 2), run.join("checkpoints/.old-step-00000002")).unwrap();
        clean_up(&run.join("checkpoints"));
        assert!(!run.join("checkpoints/.tmp-step-00000006").exists());
        assert_eq!(list(&run).len(), 2, "step 2 is back");
        std::fs::remove_dir_all(&run).unwrap();
    }
}
