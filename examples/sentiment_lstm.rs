//! Sequence → vector: sentiment classification with an LSTM. A bidirectional
//! LSTM reads each movie-review sentence of the bundled rt-polarity data
//! (Pang & Lee, 2005: 4,798 positive and 4,798 negative snippets; a tenth of
//! them held out for validation); the element-wise maximum of its states over
//! the sentence (max pooling) is one vector, mapped to "pos" or "neg". The
//! weights kept are an exponential moving average of those along training
//! (`train.ema`), which generalise better than the last ones on data this small.
//!
//!     cargo run --release --example sentiment_lstm
//!
//! The same from the CLI: `attend train --task classify --set model.arch='"lstm"' …`
//! (the settings below), then `attend classify --run RUN "a gripping film"`.
//! Result measured on the 2-core CPU: see the "Four modes" section of BENCHMARKS.md.

mod common;

use attend::train::config::Task;
use attend::train::tasks::classify::data::encode_text;
use attend::train::tasks::classify::load_classifier;
use attend::train::tasks::classify::scores::probabilities;
use attend::train::tasks::TrainReport;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sets = [
        "model.arch=lstm",
        "model.d_model=100",
        "model.layers=1",
        "model.bidirectional=true",
        "model.dropout=0.5",
        "model.pooling=max",
        "train.lr=0.001",
        "train.ema=0.99",
        "train.epochs=6",
    ];
    println!("training a bidirectional LSTM sentiment classifier on rt-polarity for 6 epochs…");
    let (plan, report) = common::train(Task::Classify, "sentiment-lstm", Default::default(), &sets)?;
    let TrainReport::Classify(r) = report else { unreachable!("a classifier run") };
    let f = &r.fitted;
    println!("{} parameters, {} training and {} validation sentences, {:.0} s", f.params, r.train_texts, r.valid_texts, f.state.elapsed_secs);
    if let Some(best) = &r.best {
        println!("best weights (step {}): {}\n", f.state.best_step, best.report());
    }
    let device = common::device()?;
    let c = load_classifier(&plan.run, &device)?;
    let texts = [
        "a gripping , beautifully acted film that stays with you .",
        "a tedious , overlong mess with nothing to say .",
        "not as bad as i feared , but not good either .",
    ];
    let ids: Vec<Vec<u32>> = texts.iter().map(|t| encode_text(&c.cfg, c.tokenizer.as_ref(), &c.vocab, t)).collect();
    for (text, p) in texts.iter().zip(probabilities(&c.model, &ids, &device)?) {
        let k = if p[0] >= p[1] { 0 } else { 1 };
        println!("{}\t{:.3}\t{text}", c.labels[k], p[k]);
    }
    Ok(())
}
