//! Word-vector files: every format round-trips, and every malformed file is an
//! error that names the file and the line (or binary record).

use std::path::PathBuf;

use attend_data::{VectorFormat, WordVectors};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("attend-vec-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn sample() -> WordVectors {
    let words = ["the", "king", "queen", "naïve"].map(String::from).to_vec();
    let data = vec![0.1, -2.5, 3.0e-7, 1.0, 0.0, -0.0, 123.456, 7.0, -1.5, 0.25, 9.75, -8.0];
    WordVectors::new(words, 3, data).unwrap()
}

#[test]
fn every_format_round_trips_and_is_detected() {
    let d = dir("rt");
    let v = sample();
    for (name, format) in [
        ("v.txt", VectorFormat::Word2VecText),
        ("v.bin", VectorFormat::Word2VecBinary),
        ("glove.txt", VectorFormat::GloveText),
    ] {
        let path = d.join(name);
        v.write(&path, format).unwrap();
        assert!(!d.join(format!("{name}.tmp")).exists());
        let back = WordVectors::read(&path, None).unwrap();
        assert_eq!(back, v, "{name}");
        assert_eq!(WordVectors::read(&path, Some(format)).unwrap(), v, "{name}");
    }
    // gensim's binary writer puts no newline after each vector; both must read.
    let mut bytes = b"2 2\n".to_vec();
    for (w, x) in [("a", [1.0f32, 2.0]), ("b", [3.0, 4.0])] {
        bytes.extend_from_slice(w.as_bytes());
        bytes.push(b' ');
        x.iter().for_each(|f| bytes.extend_from_slice(&f.to_le_bytes()));
    }
    std::fs::write(d.join("g.bin"), &bytes).unwrap();
    let g = WordVectors::read(&d.join("g.bin"), None).unwrap();
    assert_eq!(g.get("b").unwrap(), &[3.0, 4.0]);
    std::fs::remove_dir_all(&d).unwrap();
}

fn error_of(d: &std::path::Path, name: &str, content: &[u8]) -> String {
    let path = d.join(name);
    std::fs::write(&path, content).unwrap();
    WordVectors::read(&path, None).unwrap_err().to_string()
}

#[test]
fn malformed_files_name_the_line() {
    let d = dir("bad");
    let cases: [(&str, &[u8], &str); 8] = [
        ("short.txt", b"2 3\na 1 2 3\nb 1 2\n", "short.txt:3: `b` has 2 values, expected 3"),
        ("nan.txt", b"2 2\na 1 2\nb 1 x\n", "nan.txt:3: `x` is not a number"),
        ("dup.txt", b"2 2\na 1 2\na 3 4\n", "dup.txt:3: duplicate word `a` (first on line 2)"),
        ("few.txt", b"3 2\na 1 2\nb 3 4\n", "few.txt: the header announces 3 rows, the file has 2"),
        ("many.txt", b"1 2\na 1 2\nb 3 4\n", "many.txt:3: more rows than the 1 the header announces"),
        ("glove.txt", b"a 1 2\nb 3\n", "glove.txt:2: `b` has 1 values, expected 2"),
        ("cut.bin", b"2 2\na \x00\x00\x80\x3f\x00\x00\x00\x40b \x00\x00", "cut.bin:2: `b`: file ends inside its 2 values"),
        ("empty.txt", b"", "empty.txt is empty"),
    ];
    for (name, content, expected) in cases {
        let err = error_of(&d, name, content);
        assert!(err.contains(expected), "{name}: got `{err}`, expected `{expected}`");
    }
    let err = WordVectors::read(&d.join("missing.bin"), None).unwrap_err().to_string();
    assert!(err.contains("missing.bin"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}
