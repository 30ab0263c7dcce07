//! Word vectors from the bundled Jane Austen novels with the library API:
//! train skip-gram word2vec on the CPU, then ask for neighbours and analogies.
//!
//!     cargo run --release --example word2vec
//!
//! With `../shared/data` present (a checkout next to the shared datasets) it
//! also scores the vectors on the analogy and word-similarity dev sets.

use std::path::{Path, PathBuf};

use attend::train::tasks::word2vec::eval::{analogies, similarity, Unit};
use attend::train::tasks::word2vec::{train, Engine, TrainOptions, Word2VecConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let corpus = PathBuf::from("data/austen/austen.txt");
    let cfg = Word2VecConfig::new().with_epochs(10).with_threads(2);
    println!("training skip-gram (dim {}, window {}, {} negatives) on {} for {} epochs…", cfg.dim, cfg.window, cfg.negative, corpus.display(), cfg.epochs);
    let t = train(&cfg, &[corpus], &Engine::Cpu, &TrainOptions { progress: true, ..Default::default() })?;
    let s = &t.stats;
    println!(
        "{} words, vocabulary {}; trained in {:.1} s ({:.0} words/s)\n",
        s.corpus_words,
        s.vocab,
        s.train_s,
        s.words_per_s()
    );
    let unit = Unit::new(&t.vectors);
    for word in ["elizabeth", "happy", "letter", "london"] {
        let near: Vec<String> = unit.most_similar(&[word], &[], 5, None)?.into_iter().map(|(w, _)| w).collect();
        println!("{word:>10}: {}", near.join(", "));
    }
    println!();
    for [a, b, c] in [["brother", "he", "she"], ["mother", "woman", "man"], ["sir", "he", "she"]] {
        let top: Vec<String> = unit.most_similar(&[a, c], &[b], 3, None)?.into_iter().map(|(w, _)| w).collect();
        println!("{a} − {b} + {c} ≈ {}", top.join(", "));
    }
    let shared = Path::new("../shared/data");
    if shared.is_dir() {
        println!();
        let scores = analogies(&unit, &shared.join("word-analogy/questions-words.dev.txt"), 30_000)?;
        let all = scores.last().expect("an overall score");
        println!(
            "analogies (questions-words.dev): {}/{} correct ({} skipped for unknown words)",
            all.correct,
            all.evaluated,
            all.skipped()
        );
        let sim = similarity(&unit, &shared.join("word-similarity/wordsim353.dev.tsv"))?;
        println!("WordSim-353 dev: Spearman {:.3} on {}/{} pairs", sim.spearman, sim.evaluated, sim.pairs);
    } else {
        println!("\n../shared/data is missing: skipping the analogy and similarity scores");
    }
    Ok(())
}
