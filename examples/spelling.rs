//! Vector → sequence: spell a word from its word2vec vector. A GRU decoder
//! starts from the vector (through a linear bridge), sees it again at every
//! step, and writes the word one character at a time. It is trained from a
//! file of (vector, sequence) pairs — a word2vec file, whose words are the
//! sequences — and scored on held-out words it never saw spelled.
//!
//!     cargo run --release --example spelling [VECTORS_FILE]
//!
//! Without an argument it first trains skip-gram vectors on the bundled Jane
//! Austen novels (`data/austen`, as `examples/word2vec.rs` does) and writes
//! them to `runs/example-spelling/austen.vec` (word2vec text format).
//! Result measured on the 2-core CPU: see the "Four modes" section of BENCHMARKS.md.

mod common;

use std::path::PathBuf;

use attend::data::{VectorFormat, WordVectors};
use attend::train::config::Task;
use attend::train::tasks::word2vec::{train, Engine, TrainOptions, Word2VecConfig};
use attend::train::tasks::{DataFlags, TrainReport};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = match std::env::args().nth(1) {
        Some(p) => PathBuf::from(p),
        None => {
            let dir = common::fresh_run("spelling-vectors")?;
            std::fs::create_dir_all(&dir)?;
            let path = dir.join("austen.vec");
            let cfg = Word2VecConfig::new().with_epochs(10).with_threads(2);
            println!("training word2vec (skip-gram, dim {}) on data/austen/austen.txt…", cfg.dim);
            let t = train(&cfg, &[PathBuf::from("data/austen/austen.txt")], &Engine::Cpu, &TrainOptions::default())?;
            t.vectors.write(&path, VectorFormat::Word2VecText)?;
            path
        }
    };
    let vectors = WordVectors::read(&path, None)?;
    println!("{}: {} (word, vector) pairs of dimension {}", path.display(), vectors.len(), vectors.dim());
    let data = DataFlags { data: vec![path], ..Default::default() };
    // An evaluation (held-out and training-word spelling) after every epoch.
    let (_, report) = common::train(Task::Spell, "spelling", data, &[])?;
    let TrainReport::Spell(r) = report else { unreachable!("a speller run") };
    println!(
        "{} parameters; {} training and {} held-out words ({} too long left out); {} characters",
        r.fitted.params, r.train_pairs, r.valid_pairs, r.too_long, r.characters
    );
    println!("\nheld-out words (never seen spelled) → spelling from the vector:");
    for (word, spelled) in &r.samples {
        println!("  {word:>14} → {spelled}{}", if word == spelled { "  ✓" } else { "" });
    }
    Ok(())
}
