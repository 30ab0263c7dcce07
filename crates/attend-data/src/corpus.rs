//! Corpus readers: parallel text as two aligned files or one TSV file.
//!
//! Every error names the file and, where it applies, the 1-based line. A file
//! whose name ends in `.gz` is read through gzip (the bundled full Tatoeba
//! corpus is stored so).

use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};

/// One source sentence and its translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub src: String,
    pub tgt: String,
}

/// The UTF-8 byte-order mark some editors (Notepad, Excel) write first.
pub const BOM: &str = "\u{feff}";

/// `text` without a leading byte-order mark.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix(BOM).unwrap_or(text)
}

/// The bytes of `path`, decompressed when its name ends in `.gz`.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let io = |source| DataError::Io { path: path.into(), source };
    let raw = std::fs::read(path).map_err(io)?;
    if path.extension().is_some_and(|e| e == "gz") {
        use std::io::Read;
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::MultiGzDecoder::new(raw.as_slice()).read_to_end(&mut out).map_err(io)?;
        return Ok(out);
    }
    Ok(raw)
}

/// Reads a UTF-8 text file (or a gzip of one) into lines (without `\n` / `\r\n`, and without
/// a leading byte-order mark), checking encoding line by line. An empty file
/// (or only blank lines) is an error.
pub fn read_lines(path: &Path) -> Result<Vec<String>> {
    let bytes = read_bytes(path)?;
    let mut lines = Vec::new();
    let bytes = bytes.strip_prefix(BOM.as_bytes()).unwrap_or(&bytes);
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if !body.is_empty() {
        for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let line = std::str::from_utf8(raw)
                .map_err(|_| DataError::InvalidUtf8 { path: path.into(), line: i + 1 })?;
            lines.push(line.to_string());
        }
    }
    if lines.iter().all(|l| l.trim().is_empty()) {
        return Err(DataError::Empty { path: path.into() });
    }
    Ok(lines)
}

/// Reads two line-aligned files (`train.de` + `train.en`).
pub fn read_aligned(src: &Path, tgt: &Path) -> Result<Vec<Pair>> {
    let s = read_lines(src)?;
    let t = read_lines(tgt)?;
    if s.len() != t.len() {
        return Err(DataError::LineCountMismatch {
            src: src.into(),
            src_lines: s.len(),
            tgt: tgt.into(),
            tgt_lines: t.len(),
        });
    }
    Ok(s.into_iter().zip(t).map(|(src, tgt)| Pair { src, tgt }).collect())
}

/// Reads `source<TAB>target` lines; extra columns (e.g. attribution) are ignored.
/// Blank lines are skipped.
pub fn read_tsv(path: &Path) -> Result<Vec<Pair>> {
    let mut pairs = Vec::new();
    for (i, line) in read_lines(path)?.into_iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut cols = line.split('\t');
        let src = cols.next().unwrap_or_default();
        let tgt = cols
            .next()
            .ok_or_else(|| DataError::MissingTab { path: PathBuf::from(path), line: i + 1 })?;
        pairs.push(Pair { src: src.to_string(), tgt: tgt.to_string() });
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("attend-corpus-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn tsv_reads_pairs_and_names_line_without_tab() {
        let p = tmp("ok.tsv", b"Hi.\tSalut.\r\nRun!\tCours !\textra\n");
        let pairs = read_tsv(&p).unwrap();
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[1], Pair { src: "Run!".into(), tgt: "Cours !".into() });
        let p = tmp("bad.tsv", b"Hi.\tSalut.\nno tab here\n");
        let e = read_tsv(&p).unwrap_err().to_string();
        assert!(e.contains("bad.tsv:2") && e.contains("no tab"), "{e}");
    }

    #[test]
    fn aligned_reports_both_counts_and_bad_utf8_line() {
        let a = tmp("a.de", b"eins\nzwei\n");
        let b = tmp("b.en", b"one\n");
        let e = read_aligned(&a, &b).unwrap_err().to_string();
        assert!(e.contains("2 lines") && e.contains("has 1"), "{e}");
        let c = tmp("c.en", b"one\n\xff\xfe\n");
        let e = read_aligned(&a, &c).unwrap_err().to_string();
        assert!(e.contains("c.en:2") && e.contains("UTF-8"), "{e}");
        let d = tmp("d.en", b"\n\n");
        assert!(read_lines(&d).unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn gzip_files_are_read_through() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all("Hi.\tSalut.\nRun!\tCours !\n".as_bytes()).unwrap();
        let p = tmp("pairs.tsv.gz", &gz.finish().unwrap());
        let pairs = read_tsv(&p).unwrap();
        assert_eq!(pairs[1], Pair { src: "Run!".into(), tgt: "Cours !".into() });
        // A file named .gz that is not gzip is an I/O error naming it.
        let bad = tmp("bad.tsv.gz", b"plain text");
        assert!(read_tsv(&bad).unwrap_err().to_string().contains("bad.tsv.gz"));
    }
}
