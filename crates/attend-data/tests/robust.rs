//! Property tests of every reader of user files: on random bytes and on
//! randomly damaged valid files, each reader returns `Ok` or a typed error —
//! never a panic — within a time bound and with memory bounded by a multiple
//! of the input's size (a header or a count in the file is not trusted for
//! allocation); odd but valid spellings of a file (CRLF line ends, a UTF-8
//! byte-order mark, no final newline, trailing blank lines) read exactly as
//! the plain file does.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use attend_data::{read_aligned, read_labeled, read_lines, read_tsv, SentenceReader, VectorFormat, Vocab, WordCounts, WordVectors};
use proptest::prelude::*;

/// Counts the live and peak bytes allocated by the current thread, so a
/// reader's peak can be measured while other tests run on other threads.
struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LIVE.try_with(|l| {
            let now = l.get() + layout.size();
            l.set(now);
            let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
        });
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|l| l.set(l.get().saturating_sub(layout.size())));
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f`, checking it finishes within a second and allocates at most
/// 64 bytes per input byte plus 4 MiB (the maps, and the 1 MiB read buffer of
/// the word-corpus reader).
fn bounded<T>(what: &str, input_len: usize, f: impl FnOnce() -> T) -> T {
    let base = LIVE.with(|l| l.get());
    PEAK.with(|p| p.set(base));
    let t0 = Instant::now();
    let out = f();
    let elapsed = t0.elapsed();
    let peak = PEAK.with(|p| p.get()) - base;
    assert!(elapsed < Duration::from_secs(1), "{what}: {elapsed:?} on {input_len} bytes");
    assert!(peak <= 64 * input_len + (4 << 20), "{what}: peak {peak} bytes allocated for {input_len} bytes of input");
    out
}

/// A scratch directory of this test binary, one per test (tests run in parallel).
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("attend-robust-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Every reader of attend-data on one file's bytes; each must return.
fn read_everything(dir: &Path, bytes: &[u8]) {
    let n = bytes.len();
    let p = write(dir, "input", bytes);
    let _ = bounded("read_lines", n, || read_lines(&p));
    let _ = bounded("read_tsv", n, || read_tsv(&p));
    let _ = bounded("read_aligned", 2 * n, || read_aligned(&p, &p));
    let _ = bounded("read_text", n, || attend_data::lm_text::read_text(&p));
    let _ = bounded("Vocab::load", n, || Vocab::load(&p));
    for format in [None, Some(VectorFormat::GloveText), Some(VectorFormat::Word2VecText), Some(VectorFormat::Word2VecBinary)] {
        let _ = bounded("WordVectors::read", n, || WordVectors::read(&p, format));
    }
    let _ = bounded("WordCounts::count", n, || WordCounts::count(std::slice::from_ref(&p), 1));
    let _ = bounded("SentenceReader", n, || {
        let mut r = SentenceReader::new(vec![p.clone()]);
        let mut s = Vec::new();
        while let Ok(true) = r.next_sentence(&mut s) {}
    });
    for ext in ["tsv", "txt", "pos"] {
        let q = write(dir, &format!("input.{ext}"), bytes);
        let _ = bounded("read_labeled", n, || read_labeled(&[q]));
    }
}

/// A small valid file of each kind the readers take.
fn samples() -> Vec<Vec<u8>> {
    let mut bin = b"2 3\n".to_vec();
    for (w, x) in [("king", [1.0f32, 2.0, 3.0]), ("queen", [0.5, -1.0, 2.5])] {
        bin.extend_from_slice(w.as_bytes());
        bin.push(b' ');
        x.iter().for_each(|f| bin.extend_from_slice(&f.to_le_bytes()));
        bin.push(b'\n');
    }
    vec![
        b"Hello.\tBonjour.\nI am here.\tJe suis ici.\n".to_vec(),
        b"label\tsentence\n1\ta fine film\n0\ta dull one\n".to_vec(),
        b"3 2\nthe 0.1 0.2\nking 1 2\nqueen -1e-3 4.5\n".to_vec(),
        b"the 0.1 0.2\nking 1 2\n".to_vec(),
        bin,
        br#"{"tokens":["<pad>","<unk>","<s>","</s>","a","b"]}"#.to_vec(),
        "Emma Woodhouse, handsome, clever, and rich.\n\nShe was the youngest.\n".as_bytes().to_vec(),
    ]
}

/// A valid file damaged by a few random edits.
fn damaged() -> impl Strategy<Value = Vec<u8>> {
    let edit = (0usize..5, any::<prop::sample::Index>(), any::<u8>(), 0usize..64);
    (prop::sample::select(samples()), prop::collection::vec(edit, 1..6)).prop_map(|(mut bytes, edits)| {
        for (kind, at, byte, len) in edits {
            if bytes.is_empty() {
                bytes.push(byte);
                continue;
            }
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = byte,                                    // overwrite
                1 => bytes.insert(i, byte),                              // insert
                2 => drop(bytes.drain(i..(i + len).min(bytes.len()))),   // delete a run
                3 => bytes.truncate(i),                                  // cut short
                _ => {
                    let dup: Vec<u8> = bytes[i..(i + len).min(bytes.len())].to_vec(); // repeat a run
                    bytes.splice(i..i, dup);
                }
            }
        }
        bytes
    })
}

/// A count as a header might announce it: small, large or absurd.
fn size() -> impl Strategy<Value = u64> {
    prop_oneof![1u64..4, 1u64..100_000, 1u64..u64::MAX]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let d = scratch("random");
        read_everything(&d, &bytes);
    }

    #[test]
    fn damaged_files_never_panic(bytes in damaged()) {
        let d = scratch("damaged");
        read_everything(&d, &bytes);
    }

    #[test]
    fn headers_announcing_huge_sizes_are_refused_cheaply(n in size(), d in size(), text in any::<bool>()) {
        let dir = scratch("headers");
        let body: &[u8] = if text { b"king 1 2\n" } else { b"king \x00\x00\x80\x3f" };
        let mut bytes = format!("{n} {d}\n").into_bytes();
        bytes.extend_from_slice(body);
        let p = write(&dir, "huge", &bytes);
        let r = bounded("WordVectors::read", bytes.len(), || WordVectors::read(&p, None));
        prop_assert!(r.is_err() || n == 1, "{n} rows announced, one given, and it was accepted");
    }

    #[test]
    fn parallel_text_reads_the_same_in_any_spelling(
        pairs in prop::collection::vec(("[a-zA-Zéà ,.!?'-]{1,20}", "[a-zA-Zéà ,.!?'-]{1,20}"), 1..12),
        crlf in any::<bool>(), bom in any::<bool>(), final_newline in any::<bool>(), blank_tail in 0usize..3,
    ) {
        let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(s, _)| !s.trim().is_empty()).collect();
        prop_assume!(!pairs.is_empty());
        let d = scratch("spellings");
        let plain: String = pairs.iter().map(|(s, t)| format!("{s}\t{t}\n")).collect();
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut odd = if bom { "\u{feff}".to_string() } else { String::new() };
        odd += &pairs.iter().map(|(s, t)| format!("{s}\t{t}")).collect::<Vec<_>>().join(nl);
        if final_newline { odd += nl; }
        for _ in 0..blank_tail { odd += nl; }
        let a = read_tsv(&write(&d, "plain.tsv", plain.as_bytes())).unwrap();
        let b = read_tsv(&write(&d, "odd.tsv", odd.as_bytes())).unwrap();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn word_vectors_read_the_same_in_any_spelling(
        rows in prop::collection::btree_map("[a-z]{1,8}", prop::collection::vec(-1e6f32..1e6, 3), 1..8),
        crlf in any::<bool>(), bom in any::<bool>(), final_newline in any::<bool>(),
    ) {
        let d = scratch("vectors");
        let words: Vec<String> = rows.keys().cloned().collect();
        let data: Vec<f32> = rows.values().flatten().copied().collect();
        let v = WordVectors::new(words, 3, data).unwrap();
        let plain = d.join("plain.txt");
        v.write(&plain, VectorFormat::Word2VecText).unwrap();
        let text = std::fs::read_to_string(&plain).unwrap();
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut odd = if bom { "\u{feff}".to_string() } else { String::new() };
        odd += &text.lines().collect::<Vec<_>>().join(nl);
        if final_newline { odd += nl; }
        let a = WordVectors::read(&plain, None).unwrap();
        let b = WordVectors::read(&write(&d, "odd.txt", odd.as_bytes()), None).unwrap();
        prop_assert_eq!(a.words(), b.words());
        prop_assert_eq!(a.data(), b.data());
        prop_assert_eq!(a.data(), v.data());
    }
}

#[test]
fn non_finite_values_and_a_byte_order_mark() {
    let d = scratch("named");
    for (name, content, expected) in [
        ("nan.txt", "2 2\nking 1 2\nqueen nan 1\n", "nan.txt:3: `queen`: `nan` is not a finite 32-bit number"),
        ("big.txt", "king 1 2\nqueen 1e39 1\n", "big.txt:2: `queen`: `1e39` is not a finite 32-bit number"),
        ("huge.bin", "99999999999 300\nking ", "huge.bin:1: the header announces vectors of 300 values"),
    ] {
        let err = WordVectors::read(&write(&d, name, content.as_bytes()), None).unwrap_err().to_string();
        assert!(err.contains(expected), "{name}: got `{err}`, expected `{expected}`");
    }
    let v = WordVectors::read(&write(&d, "bom.txt", "\u{feff}1 2\nking 1 2\n".as_bytes()), None).unwrap();
    assert_eq!(v.get("king").unwrap(), &[1.0, 2.0]);
    let lines = read_lines(&write(&d, "bom.tsv", "\u{feff}a\tb\n".as_bytes())).unwrap();
    assert_eq!(lines, ["a\tb"]);
}
