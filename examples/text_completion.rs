//! Sequence → sequence: text completion with a recurrent language model.
//! A two-layer LSTM reads the bundled Tiny Shakespeare one character at a
//! time and learns to predict the next; then it continues a prompt, carrying
//! its state from character to character (no window, no recomputation).
//!
//!     cargo run --release --example text_completion
//!
//! The same model from the CLI: `attend train --task lm --set model.arch='"lstm"' …`
//! (the settings below), then `attend generate --run RUN --prompt "ROMEO:"`.
//! Data: `data/tinyshakespeare` (train 1,003,854 / valid 111,540 characters).
//! Result measured on the 2-core CPU: see the "Four modes" section of BENCHMARKS.md.

mod common;

use std::io::Write;

use attend::train::config::Task;
use attend::train::tasks::lm::generate::{generate, SamplingConfig};
use attend::train::tasks::lm::load_lm;
use attend::train::tasks::TrainReport;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sets = [
        "model.arch=lstm",
        "model.d_model=256",
        "model.layers=2",
        "model.dropout=0.1",
        "data.batch_size=32",
        "train.max_steps=400",
        "train.lr=0.003",
        "train.min_lr=0.0003",
        "train.weight_decay=0.0",
        "train.eval_every=100",
        "train.checkpoint_every=100",
    ];
    println!("training a 2-layer LSTM language model (width 256) on Tiny Shakespeare, 400 steps…");
    let (plan, report) = common::train(Task::Lm, "text-completion", Default::default(), &sets)?;
    let TrainReport::Lm(r) = report else { unreachable!("a language-model run") };
    println!("{} parameters; {} steps in {:.0} s", r.fitted.params, r.fitted.state.step, r.fitted.state.elapsed_secs);
    let device = common::device()?;
    let lm = load_lm(&plan.run, &device)?;
    if let Some(l) = r.valid_loss_full {
        println!("validation loss over every full {}-character window: {l:.4} nats/char ({:.3} bits/char)\n", lm.cfg.model.context, l / std::f64::consts::LN_2);
    }
    let prompt_text = "ROMEO:\n";
    let prompt = lm.encode(prompt_text);
    let banned = vec![attend::data::PAD, attend::data::BOS, attend::data::EOS];
    let sampling = SamplingConfig { temperature: 0.8, top_k: 0, top_p: 1.0, seed: 1, banned };
    let mut out = std::io::stdout().lock();
    write!(out, "{prompt_text}")?;
    let mut text = lm.tokenizer.detokenizer(prompt_text);
    generate(&lm.model, &prompt, 400, &sampling, true, &device, |t, _| {
        let _ = write!(out, "{}", text.piece(lm.vocab.token(t)));
        let _ = out.flush();
    })?;
    writeln!(out)?;
    Ok(())
}
