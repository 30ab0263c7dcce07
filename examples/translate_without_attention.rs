//! Sequence → vector → sequence: translation without attention (Sutskever et
//! al., 2014). An LSTM encoder reads the English sentence (both directions)
//! and its final states — one vector — are all the decoder gets: it must write
//! the French sentence from that vector alone. Trained on the bundled Tatoeba
//! English→French subset with the same pipeline as the Transformer.
//!
//!     cargo run --release --example translate_without_attention
//!
//! The same from the CLI: `attend train --set model.arch='"lstm"' …` (the settings
//! below); `attend compare` sets it against attention and the Transformer.
//! Result measured on the 2-core CPU: see the "Four modes" section of BENCHMARKS.md.

mod common;

use attend::train::config::Task;
use attend::train::tasks::TrainReport;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sets = [
        "model.arch=lstm",
        "model.d_model=256",
        "model.bidirectional=true",
        "model.dropout=0.2",
        "train.schedule=constant",
        "train.lr=0.002",
        "train.warmup_steps=100",
        "train.epochs=6",
    ];
    println!("training an LSTM encoder–decoder without attention on Tatoeba English→French, 6 epochs…");
    let (_, report) = common::train(Task::Translate, "translate-without-attention", Default::default(), &sets)?;
    let TrainReport::Translate(r) = report else { unreachable!("a translation run") };
    let f = &r.fitted;
    println!("{} parameters, {} training pairs, {} steps in {:.0} s", f.params, r.train_pairs, f.state.step, f.state.elapsed_secs);
    if let Some(e) = &f.last_eval {
        let get = |n: &str| e.get(n).unwrap_or(f64::NAN);
        println!("validation: loss {:.4}, BLEU {:.2}, exact match {:.3}", get("valid_loss"), get("valid_bleu"), get("valid_exact"));
    }
    for (src, out, reference) in &r.samples {
        println!("  {src}\n    → {out}\n    ref {reference}");
    }
    Ok(())
}
