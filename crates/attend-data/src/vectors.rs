//! Word-vector files: the word2vec text and binary formats of Mikolov's C tool
//! (also gensim's `save_word2vec_format`) and the GloVe text format
//! (Pennington et al., 2014), read and written.
//!
//! - word2vec text: a header `COUNT DIM`, then `word v1 … vDIM` per line;
//! - word2vec binary: the same header, then per word its UTF-8 bytes, a space,
//!   DIM little-endian f32 and an optional newline;
//! - GloVe text: no header, `word v1 … vDIM` per line.
//!
//! Every malformed file is an error naming the file and the line (for binary
//! files, the 1-based record) that is wrong: header counts that do not match
//! the rows, short or long rows, values that are not numbers, duplicate words.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};

/// The three file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorFormat {
    Word2VecText,
    Word2VecBinary,
    GloveText,
}

impl std::str::FromStr for VectorFormat {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "text" | "word2vec-text" => Ok(Self::Word2VecText),
            "bin" | "binary" | "word2vec-binary" => Ok(Self::Word2VecBinary),
            "glove" => Ok(Self::GloveText),
            _ => Err(DataError::Invalid(format!("unknown vector format `{s}` (text, binary or glove)"))),
        }
    }
}

impl VectorFormat {
    /// The format to write for a file name: `.bin` is binary, anything else text.
    pub fn for_output(path: &Path) -> Self {
        if path.extension().is_some_and(|e| e == "bin") {
            Self::Word2VecBinary
        } else {
            Self::Word2VecText
        }
    }
}

/// A vocabulary of words and one `dim`-wide vector per word, in file order
/// (word2vec tools write the most frequent words first).
#[derive(Debug, Clone, PartialEq)]
pub struct WordVectors {
    words: Vec<String>,
    dim: usize,
    data: Vec<f32>,
    index: HashMap<String, usize>,
}

fn bad(path: &Path, line: usize, reason: impl Into<String>) -> DataError {
    DataError::BadVectorsAt { path: path.into(), line, reason: reason.into() }
}

fn parse_header(line: &str) -> Option<(usize, usize)> {
    let mut it = line.split_whitespace();
    let (n, d) = (it.next()?.parse().ok()?, it.next()?.parse().ok()?);
    if it.next().is_some() {
        return None;
    }
    Some((n, d))
}

impl WordVectors {
    /// Builds vectors from words and a row-major `[words, dim]` table.
    pub fn new(words: Vec<String>, dim: usize, data: Vec<f32>) -> Result<Self> {
        if dim == 0 || data.len() != words.len() * dim {
            return Err(DataError::Invalid(format!(
                "{} values for {} words of dimension {dim}",
                data.len(),
                words.len()
            )));
        }
        let mut index = HashMap::with_capacity(words.len());
        for (i, w) in words.iter().enumerate() {
            if index.insert(w.clone(), i).is_some() {
                return Err(DataError::Invalid(format!("duplicate word `{w}`")));
            }
        }
        Ok(Self { words, dim, data, index })
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }
    /// Whether there are no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
    /// Vector width.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// The words, in file order.
    pub fn words(&self) -> &[String] {
        &self.words
    }
    /// The whole `[words, dim]` table, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }
    /// Row of word `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
    /// Index of a word.
    pub fn index_of(&self, word: &str) -> Option<usize> {
        self.index.get(word).copied()
    }
    /// Vector of a word.
    pub fn get(&self, word: &str) -> Option<&[f32]> {
        self.index_of(word).map(|i| self.row(i))
    }

    /// Reads a file in `format`, or guesses it: a first line of two integers
    /// means word2vec (binary when the first row is not a text line of that
    /// many numbers), anything else GloVe text.
    pub fn read(path: &Path, format: Option<VectorFormat>) -> Result<Self> {
        let io = |source| DataError::Io { path: path.into(), source };
        let mut r = BufReader::new(std::fs::File::open(path).map_err(io)?);
        let mut first = Vec::new();
        r.read_until(b'\n', &mut first).map_err(io)?;
        if first.is_empty() {
            return Err(DataError::Empty { path: path.into() });
        }
        let first_text = std::str::from_utf8(&first).map_err(|_| bad(path, 1, "header is not UTF-8"))?;
        let first_text = crate::corpus::strip_bom(first_text);
        let header = parse_header(first_text);
        let format = match (format, header) {
            (Some(f), _) => f,
            (None, None) => VectorFormat::GloveText,
            (None, Some((_, d))) => {
                let peek = r.fill_buf().map_err(io)?;
                let row = peek.split(|&b| b == b'\n').next().unwrap_or_default();
                let is_text = std::str::from_utf8(row)
                    .map(|s| s.split_whitespace().skip(1).filter(|v| v.parse::<f32>().is_ok()).count() == d)
                    .unwrap_or(false);
                if is_text {
                    VectorFormat::Word2VecText
                } else {
                    VectorFormat::Word2VecBinary
                }
            }
        };
        match format {
            VectorFormat::GloveText => Self::read_rows(path, r, Some(first_text.to_string()), None),
            VectorFormat::Word2VecText | VectorFormat::Word2VecBinary => {
                let (n, d) = header.ok_or_else(|| {
                    bad(path, 1, format!("expected a `COUNT DIM` header, found `{}`", first_text.trim_end()))
                })?;
                if d == 0 {
                    return Err(bad(path, 1, "dimension 0 in the header"));
                }
                if format == VectorFormat::Word2VecText {
                    Self::read_rows(path, r, None, Some((n, d)))
                } else {
                    if n.checked_mul(d).and_then(|nd| nd.checked_mul(4)).is_none() {
                        return Err(bad(path, 1, format!("the header announces {n} vectors of {d} values: too many to address")));
                    }
                    Self::read_binary(path, r, n, d)
                }
            }
        }
    }

    fn read_rows(path: &Path, r: impl BufRead, first: Option<String>, header: Option<(usize, usize)>) -> Result<Self> {
        let mut words = Vec::new();
        let mut data = Vec::new();
        let mut dim = header.map(|h| h.1);
        let mut index = HashMap::new();
        let offset = if first.is_some() { 0 } else { 1 };
        let lines = first.into_iter().map(Ok).chain(r.lines());
        for (i, line) in lines.enumerate() {
            let line_no = i + 1 + offset;
            let line = line.map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidData => bad(path, line_no, "invalid UTF-8"),
                _ => DataError::Io { path: path.into(), source: e },
            })?;
            let line = line.trim_end_matches(['\r', '\n']);
            if line.trim().is_empty() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let word = parts.next().expect("a non-blank line has a token").to_string();
            let start = data.len();
            for v in parts {
                let x: f32 = v.parse().map_err(|_| bad(path, line_no, format!("`{v}` is not a number")))?;
                if !x.is_finite() {
                    return Err(bad(path, line_no, format!("`{word}`: `{v}` is not a finite 32-bit number")));
                }
                data.push(x);
            }
            let got = data.len() - start;
            let d = *dim.get_or_insert(got);
            if got != d {
                return Err(bad(path, line_no, format!("`{word}` has {got} values, expected {d}")));
            }
            if d == 0 {
                return Err(bad(path, line_no, format!("`{word}` has no values")));
            }
            if let Some((n, _)) = header {
                if words.len() == n {
                    return Err(bad(path, line_no, format!("more rows than the {n} the header announces")));
                }
            }
            if let Some(prev) = index.insert(word.clone(), line_no) {
                return Err(bad(path, line_no, format!("duplicate word `{word}` (first on line {prev})")));
            }
            words.push(word);
        }
        if let Some((n, _)) = header {
            if words.len() != n {
                return Err(DataError::BadVectors {
                    path: path.into(),
                    reason: format!("the header announces {n} rows, the file has {}", words.len()),
                });
            }
        }
        if words.is_empty() {
            return Err(DataError::Empty { path: path.into() });
        }
        Self::new(words, dim.unwrap_or(0), data)
    }

    fn read_binary(path: &Path, mut r: impl BufRead, n: usize, d: usize) -> Result<Self> {
        let io = |source| DataError::Io { path: path.into(), source };
        // The header is not trusted for allocation: a record takes at least
        // 4·d + 2 bytes, so the file's length bounds what it can hold and a
        // header announcing more fails at the record where the file ends.
        let len = std::fs::metadata(path).map_err(io)?.len() as usize;
        let record = d.saturating_mul(4).saturating_add(2);
        if n == 0 {
            return Err(DataError::Empty { path: path.into() });
        }
        if record > len {
            return Err(bad(path, 1, format!("the header announces vectors of {d} values, more than the file's {len} bytes hold")));
        }
        let fits = (len / record).min(n);
        let mut words = Vec::with_capacity(fits);
        let mut data = Vec::with_capacity(fits * d);
        let mut index = HashMap::with_capacity(fits);
        let mut word = Vec::new();
        let mut row = vec![0u8; 4 * d];
        for rec in 0..n {
            let record = rec + 1;
            word.clear();
            r.read_until(b' ', &mut word).map_err(io)?;
            while word.first().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                word.remove(0); // the newline some writers put after each vector
            }
            if word.last() != Some(&b' ') {
                return Err(bad(
                    path,
                    record,
                    format!("file ends at record {record} of the {n} the header announces"),
                ));
            }
            word.pop();
            let w = String::from_utf8(word.clone()).map_err(|_| bad(path, record, "word is not UTF-8"))?;
            if w.is_empty() || w.contains(char::is_whitespace) {
                return Err(bad(path, record, format!("invalid word `{w}`")));
            }
            r.read_exact(&mut row).map_err(|_| {
                bad(path, record, format!("`{w}`: file ends inside its {d} values (record {record} of {n})"))
            })?;
            for (j, c) in row.chunks_exact(4).enumerate() {
                let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                if !x.is_finite() {
                    return Err(bad(path, record, format!("`{w}`: value {} is {x}", j + 1)));
                }
                data.push(x);
            }
            if let Some(prev) = index.insert(w.clone(), record) {
                return Err(bad(path, record, format!("duplicate word `{w}` (first at record {prev})")));
            }
            words.push(w);
        }
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).map_err(io)?;
        if rest.iter().any(|b| !b.is_ascii_whitespace()) {
            return Err(DataError::BadVectors {
                path: path.into(),
                reason: format!("data after the {n} records the header announces"),
            });
        }
        Self::new(words, d, data)
    }

    /// Writes the vectors in `format` through a temporary file renamed into
    /// place, so a crash never leaves half a file.
    pub fn write(&self, path: &Path, format: VectorFormat) -> Result<()> {
        let tmp = PathBuf::from(format!("{}.tmp", path.display()));
        let io = |source| DataError::Io { path: tmp.clone(), source };
        {
            let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
            if format != VectorFormat::GloveText {
                writeln!(w, "{} {}", self.len(), self.dim).map_err(io)?;
            }
            for (i, word) in self.words.iter().enumerate() {
                let row = self.row(i);
                if format == VectorFormat::Word2VecBinary {
                    w.write_all(word.as_bytes()).map_err(io)?;
                    w.write_all(b" ").map_err(io)?;
                    for x in row {
                        w.write_all(&x.to_le_bytes()).map_err(io)?;
                    }
                    w.write_all(b"\n").map_err(io)?;
                } else {
                    write!(w, "{word}").map_err(io)?;
                    for x in row {
                        write!(w, " {x}").map_err(io)?;
                    }
                    writeln!(w).map_err(io)?;
                }
            }
            w.flush().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(|source| DataError::Io { path: path.into(), source })
    }
}
