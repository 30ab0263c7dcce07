//! Labelled texts for classifiers: `label<TAB>text` lines (a first line
//! `label<TAB>…` is a header), `label text` lines when there is no tab (the
//! SST files), or `.pos`/`.neg` file pairs (rt-polarity), one text per line.
//!
//! Every error names the file and the 1-based line.

use std::path::{Path, PathBuf};

use crate::corpus::read_lines;
use crate::error::{DataError, Result};

/// One labelled text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labeled {
    pub label: String,
    pub text: String,
}

fn bad_line(path: &Path, line: usize, reason: &str) -> DataError {
    DataError::BadLine { path: path.into(), line, reason: reason.into() }
}

/// Reads labelled texts from `paths` (see the module docs for the formats).
pub fn read_labeled(paths: &[PathBuf]) -> Result<Vec<Labeled>> {
    let mut out = Vec::new();
    for path in paths {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
        let lines = read_lines(path)?;
        if ext == "pos" || ext == "neg" {
            out.extend(lines.into_iter().filter(|l| !l.trim().is_empty()).map(|text| Labeled { label: ext.to_string(), text }));
            continue;
        }
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() || (i == 0 && line.starts_with("label\t")) {
                continue;
            }
            let (label, text) = line
                .split_once('\t')
                .or_else(|| line.split_once(' '))
                .ok_or_else(|| bad_line(path, i + 1, "expected `label<TAB>text`"))?;
            if label.trim().is_empty() || text.trim().is_empty() {
                return Err(bad_line(path, i + 1, "empty label or text"));
            }
            out.push(Labeled { label: label.trim().to_string(), text: text.to_string() });
        }
    }
    if out.is_empty() {
        let names = paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        return Err(DataError::Invalid(format!("no labelled texts in {names}")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tab_space_and_pos_neg_formats() {
        let dir = std::env::temp_dir().join(format!("attend-labeled-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.tsv"), "label\tsentence\n1\tgood film\n0\tbad film\n").unwrap();
        std::fs::write(dir.join("b.txt"), "1 a fine , funny film\n").unwrap();
        std::fs::write(dir.join("c.pos"), "lovely\n\n").unwrap();
        std::fs::write(dir.join("c.neg"), "dreadful\n").unwrap();
        let paths: Vec<PathBuf> = ["a.tsv", "b.txt", "c.pos", "c.neg"].iter().map(|f| dir.join(f)).collect();
        let got = read_labeled(&paths).unwrap();
        let pairs: Vec<(&str, &str)> = got.iter().map(|l| (l.label.as_str(), l.text.as_str())).collect();
        assert_eq!(pairs, [("1", "good film"), ("0", "bad film"), ("1", "a fine , funny film"), ("pos", "lovely"), ("neg", "dreadful")]);
        std::fs::write(dir.join("bad.tsv"), "1\tok\nnolabel\n").unwrap();
        let err = read_labeled(&[dir.join("bad.tsv")]).unwrap_err().to_string();
        assert!(err.contains("bad.tsv:2"), "{err}");
        std::fs::write(dir.join("empty.tsv"), "1\t \n").unwrap();
        let err = read_labeled(&[dir.join("empty.tsv")]).unwrap_err().to_string();
        assert!(err.contains("empty.tsv:1") && err.contains("empty label or text"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
