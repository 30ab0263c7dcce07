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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cfg = common::config(
        &[],
        &[
            ("model.arch", "\"lstm\""),
            ("model.d_model", "256"),
            ("model.bidirectional", "true"),
            ("model.dropout", "0.2"),
            ("train.schedule", "\"constant\""),
            ("train.lr", "0.002"),
            ("train.warmup_steps", "100"),
            ("train.epochs", "6"),
            ("train.eval_every_s", "0"),
        ],
    )?;
    let run = common::fresh_run("translate-without-attention")?;
    let device = common::device()?;
    println!("training an LSTM encoder–decoder without attention on Tatoeba English→French, {} epochs…", cfg.train.epochs);
    let r = attend::train::train(&cfg, &run, false, &device, common::no_interrupt(), false)?;
    println!("{} parameters, {} training pairs, {} steps in {:.0} s", r.params, r.train_pairs, r.state.step, r.state.elapsed_secs);
    if let Some(e) = &r.last_eval {
        println!("validation: loss {:.4}, BLEU {:.2}, exact match {:.3}", e.loss, e.bleu, e.exact_match);
    }
    for (src, out, reference) in &r.samples {
        println!("  {src}\n    → {out}\n    ref {reference}");
    }
    Ok(())
}
