//! The text pipeline of word2vec (Mikolov et al., 2013, "Efficient Estimation
//! of Word Representations in Vector Space"): plain-text files in, a stream of
//! sentences of lowercase words out, read line by line so that a corpus never
//! has to fit in memory.
//!
//! The rules are those that `shared/peers/bench_w2v.py` states for gensim, so
//! both programs see the same token stream:
//! 1. a blank (whitespace-only) line or the end of a file ends a paragraph, and
//!    one paragraph is one sentence (context windows never cross it);
//! 2. every other line is lowercased and split on Unicode whitespace;
//! 3. punctuation (P*) and symbol (S*) characters are stripped from both ends of
//!    every token (`don't` and `old-fashioned` stay whole); empty tokens go;
//! 4. a sentence ends at the end of the line on which it reaches
//!    [`MAX_SENTENCE`] tokens (gensim cuts at exactly that count; no paragraph
//!    of the shared English corpus comes near it).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use unicode_general_category::get_general_category;

use crate::error::{DataError, Result};

/// Longest sentence, in tokens (gensim's `MAX_WORDS_IN_BATCH`).
pub const MAX_SENTENCE: usize = 10_000;

/// Expands the corpus arguments: a file stands for itself, a folder for its
/// `*.txt` files in name order. Missing paths and empty folders are errors.
pub fn corpus_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| DataError::Io { path: path.clone(), source })?;
        if meta.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|source| DataError::Io { path: path.clone(), source })?;
            let mut txt: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "txt"))
                .collect();
            if txt.is_empty() {
                return Err(DataError::Invalid(format!("{}: folder has no *.txt files", path.display())));
            }
            txt.sort();
            files.extend(txt);
        } else {
            files.push(path.clone());
        }
    }
    if files.is_empty() {
        return Err(DataError::Invalid("no corpus files given".into()));
    }
    Ok(files)
}

fn is_punct_or_symbol(c: char) -> bool {
    matches!(get_general_category(c).abbreviation().as_bytes()[0], b'P' | b'S')
}

/// Strips punctuation and symbols from both ends of a token.
pub fn strip_token(token: &str) -> &str {
    token.trim_matches(is_punct_or_symbol)
}

/// Lowercases and splits one line, calling `f` with every non-empty token.
pub fn tokenize_line(line: &str, mut f: impl FnMut(&str)) {
    let lower = line.to_lowercase();
    for raw in lower.split_whitespace() {
        let t = strip_token(raw);
        if !t.is_empty() {
            f(t);
        }
    }
}

/// Where a [`SentenceReader`] is: the next line it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReaderPosition {
    /// Index of the file in the reader's list.
    pub file: usize,
    /// Byte offset of the line in that file.
    pub offset: u64,
    /// Lines of that file before it (for error messages).
    pub line: usize,
}

/// An open file of the reader: the file, its path, lines read, bytes read.
struct OpenFile {
    reader: BufReader<File>,
    path: PathBuf,
    line: usize,
    offset: u64,
}

/// Streams sentences from a list of files, one paragraph at a time.
pub struct SentenceReader {
    files: Vec<PathBuf>,
    next_file: usize,
    current: Option<OpenFile>,
    line: Vec<u8>,
}

impl SentenceReader {
    /// Starts at the first line of the first file.
    pub fn new(files: Vec<PathBuf>) -> Self {
        Self { files, next_file: 0, current: None, line: Vec::new() }
    }

    /// Starts at `at`, a position an earlier reader of the same files reported.
    pub fn starting_at(files: Vec<PathBuf>, at: ReaderPosition) -> Result<Self> {
        let mut r = Self::new(files);
        if at.offset == 0 {
            r.next_file = at.file;
            return Ok(r);
        }
        let path = r.files.get(at.file).cloned().ok_or_else(|| DataError::Invalid(format!("no corpus file number {}", at.file)))?;
        let io = |source| DataError::Io { path: path.clone(), source };
        let mut file = File::open(&path).map_err(io)?;
        file.seek(SeekFrom::Start(at.offset)).map_err(io)?;
        r.current = Some(OpenFile { reader: BufReader::with_capacity(1 << 20, file), path, line: at.line, offset: at.offset });
        r.next_file = at.file + 1;
        Ok(r)
    }

    /// The next line this reader reads.
    pub fn position(&self) -> ReaderPosition {
        match &self.current {
            Some(f) => ReaderPosition { file: self.next_file - 1, offset: f.offset, line: f.line },
            None => ReaderPosition { file: self.next_file, offset: 0, line: 0 },
        }
    }

    /// Fills `out` with the next non-empty sentence; `false` at the end of
    /// the corpus. Invalid UTF-8 is an error naming the file and line.
    pub fn next_sentence(&mut self, out: &mut Vec<String>) -> Result<bool> {
        out.clear();
        self.next_with(|t| out.push(t.to_string()))
    }

    /// Like [`Self::next_sentence`] but hands each token to `f` without
    /// allocating it; returns whether a sentence was read.
    pub fn next_with(&mut self, mut f: impl FnMut(&str)) -> Result<bool> {
        let mut n = 0usize;
        loop {
            if self.current.is_none() {
                if self.next_file == self.files.len() {
                    return Ok(n > 0);
                }
                let path = self.files[self.next_file].clone();
                self.next_file += 1;
                let file = File::open(&path).map_err(|source| DataError::Io { path: path.clone(), source })?;
                self.current = Some(OpenFile { reader: BufReader::with_capacity(1 << 20, file), path, line: 0, offset: 0 });
                if n > 0 {
                    return Ok(true); // a file boundary ends the paragraph
                }
            }
            let open = self.current.as_mut().expect("a file is open");
            self.line.clear();
            let read = open
                .reader
                .read_until(b'\n', &mut self.line)
                .map_err(|source| DataError::Io { path: open.path.clone(), source })?;
            if read == 0 {
                self.current = None;
                continue;
            }
            open.line += 1;
            open.offset += read as u64;
            let text = std::str::from_utf8(&self.line)
                .map_err(|_| DataError::InvalidUtf8 { path: open.path.clone(), line: open.line })?;
            let text = if open.line == 1 { crate::corpus::strip_bom(text) } else { text };
            if text.trim().is_empty() {
                if n > 0 {
                    return Ok(true);
                }
                continue;
            }
            tokenize_line(text, |t| {
                n += 1;
                f(t)
            });
            if n >= MAX_SENTENCE {
                // gensim cuts here too; the rest of the paragraph starts a new sentence.
                return Ok(true);
            }
        }
    }
}

/// Sentences between two recorded reader positions of [`WordCounts::count`].
const MARK_EVERY: u64 = 16;

/// The words of a corpus with their counts, most frequent first.
#[derive(Debug, Clone)]
pub struct WordCounts {
    /// Words kept (count ≥ min_count), by descending count, ties in first-seen order.
    pub words: Vec<String>,
    /// Count of each kept word.
    pub counts: Vec<u64>,
    /// All tokens of the corpus, kept or not.
    pub total_tokens: u64,
    /// Sentences (paragraphs) in the corpus.
    pub sentences: u64,
    /// Distinct words before the min-count cut.
    pub distinct: usize,
    /// Every 16th sentence start: where a reader finds it, and the tokens before it.
    pub marks: Vec<(ReaderPosition, u64)>,
}

impl WordCounts {
    /// Counts every word of `files` in one streaming pass and keeps those
    /// seen at least `min_count` times.
    pub fn count(files: &[PathBuf], min_count: u64) -> Result<Self> {
        let mut map: HashMap<String, (u64, u32)> = HashMap::new();
        let mut reader = SentenceReader::new(files.to_vec());
        let (mut total, mut sentences) = (0u64, 0u64);
        let mut marks = Vec::new();
        loop {
            if sentences % MARK_EVERY == 0 {
                marks.push((reader.position(), total));
            }
            let more = reader.next_with(|t| {
                total += 1;
                if let Some(e) = map.get_mut(t) {
                    e.0 += 1;
                } else {
                    let order = map.len() as u32;
                    map.insert(t.to_string(), (1, order));
                }
            })?;
            if !more {
                break;
            }
            sentences += 1;
        }
        if total == 0 {
            let path = files.first().cloned().unwrap_or_default();
            return Err(DataError::Empty { path });
        }
        let distinct = map.len();
        let mut kept: Vec<(String, u64, u32)> =
            map.into_iter().filter(|(_, (c, _))| *c >= min_count).map(|(w, (c, o))| (w, c, o)).collect();
        kept.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
        let (words, counts) = kept.into_iter().map(|(w, c, _)| (w, c)).unzip();
        Ok(Self { words, counts, total_tokens: total, sentences, distinct, marks })
    }

    /// Cuts the corpus into at most `parts` stretches of whole sentences with
    /// near-equal token counts: each part's start and its token count.
    pub fn split(&self, parts: usize) -> Vec<(ReaderPosition, u64)> {
        let mut starts: Vec<(ReaderPosition, u64)> = Vec::new();
        for k in 0..parts.max(1) as u64 {
            let target = self.total_tokens * k / parts.max(1) as u64;
            let mark = self.marks.iter().min_by_key(|m| m.1.abs_diff(target)).copied();
            if let Some(m) = mark.filter(|m| m.1 < self.total_tokens && starts.last().is_none_or(|s| s.1 < m.1)) {
                starts.push(m);
            }
        }
        let ends: Vec<u64> = starts.iter().skip(1).map(|s| s.1).chain([self.total_tokens]).collect();
        starts.into_iter().zip(ends).map(|((pos, before), end)| (pos, end - before)).collect()
    }

    /// Word → id map of the kept words.
    pub fn index(&self) -> HashMap<String, u32> {
        self.words.iter().enumerate().map(|(i, w)| (w.clone(), i as u32)).collect()
    }
}

/// Writes the corpus as one sentence per line, tokens separated by a space
/// (gensim's `LineSentence` format), to check the token stream against
/// another implementation. Returns (sentences, tokens).
pub fn write_prepared(files: &[PathBuf], out: &Path) -> Result<(u64, u64)> {
    use std::io::Write;
    let io = |source| DataError::Io { path: out.into(), source };
    let mut w = std::io::BufWriter::new(File::create(out).map_err(io)?);
    let mut reader = SentenceReader::new(files.to_vec());
    let mut sentence = Vec::new();
    let (mut sentences, mut tokens) = (0u64, 0u64);
    while reader.next_sentence(&mut sentence)? {
        sentences += 1;
        tokens += sentence.len() as u64;
        writeln!(w, "{}", sentence.join(" ")).map_err(io)?;
    }
    w.flush().map_err(io)?;
    Ok((sentences, tokens))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_only_the_ends() {
        assert_eq!(strip_token("\"don't,"), "don't");
        assert_eq!(strip_token("old-fashioned."), "old-fashioned");
        assert_eq!(strip_token("—well—i…"), "well—i");
        assert_eq!(strip_token("$£100%"), "100");
        assert_eq!(strip_token("☞→"), "");
        assert_eq!(strip_token("\u{7f}x"), "\u{7f}x"); // a control character, not P*/S*
    }

    #[test]
    fn parts_cover_the_corpus_once_and_readers_start_at_them() {
        let dir = std::env::temp_dir().join(format!("attend-wc-parts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut want = Vec::new();
        for f in 0..3 {
            let mut text = String::new();
            for p in 0..70 {
                let words: Vec<String> = (0..1 + (p * 7 + f) % 11).map(|w| format!("w{f}x{p}y{w}")).collect();
                text.push_str(&format!("{}\n\n\n", words.join(" ")));
                want.push(words.join(" "));
            }
            std::fs::write(dir.join(format!("{f}.txt")), text).unwrap();
        }
        let files = corpus_files(&[dir.clone()]).unwrap();
        let counts = WordCounts::count(&files, 1).unwrap();
        for n in [1, 2, 3, 7] {
            let parts = counts.split(n);
            assert_eq!(parts.len(), n);
            assert_eq!(parts.iter().map(|p| p.1).sum::<u64>(), counts.total_tokens);
            let share = counts.total_tokens / n as u64;
            assert!(parts.iter().all(|p| p.1.abs_diff(share) < 16 * 11), "{n} parts: {parts:?}");
            let mut got = Vec::new();
            for &(at, tokens) in &parts {
                let mut r = SentenceReader::starting_at(files.clone(), at).unwrap();
                let (mut read, mut s) = (0u64, Vec::new());
                while read < tokens && r.next_sentence(&mut s).unwrap() {
                    read += s.len() as u64;
                    got.push(s.join(" "));
                }
                assert_eq!(read, tokens);
            }
            assert_eq!(got, want, "{n} parts");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn paragraphs_are_sentences_and_files_end_them() {
        let dir = std::env::temp_dir().join(format!("attend-wc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.txt"), "The King, said\n  \nthe QUEEN!\r\nrose\n").unwrap();
        std::fs::write(dir.join("b.txt"), "“Rose” -- rose.\n").unwrap();
        std::fs::write(dir.join("c.md"), "ignored\n").unwrap();
        let files = corpus_files(&[dir.clone()]).unwrap();
        assert_eq!(files.len(), 2);
        let mut r = SentenceReader::new(files.clone());
        let mut s = Vec::new();
        let mut all = Vec::new();
        while r.next_sentence(&mut s).unwrap() {
            all.push(s.join(" "));
        }
        assert_eq!(all, ["the king said", "the queen rose", "rose rose"]);
        let counts = WordCounts::count(&files, 2).unwrap();
        assert_eq!(counts.words, ["rose", "the"]);
        assert_eq!(counts.counts, [3, 2]);
        assert_eq!((counts.total_tokens, counts.sentences, counts.distinct), (8, 3, 5));
        std::fs::write(dir.join("b.txt"), b"ok\n\xff\n").unwrap();
        let err = WordCounts::count(&files, 1).unwrap_err().to_string();
        assert!(err.contains("b.txt:2"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
