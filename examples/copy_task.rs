//! The library API end to end, without the CLI: build a small Transformer,
//! train it to copy random letter strings, then decode held-out strings.
//!
//!     cargo run --release --example copy_task            # CPU (ndarray)
//!     cargo run --release --no-default-features --features wgpu --example copy_task -- wgpu
//!
//! The optional argument is a device spec (see `attend info`).

use attend::burn::module::Module;
use attend::burn::optim::{AdamConfig, GradientsParams};
use attend::data::{BatchBy, Batcher, Example, Padded, Seq2SeqBatch, BOS, EOS};
use attend::model::{greedy, Seq2SeqModel, TransformerConfig};
use attend::train::tasks::translate::batch as seq2seq;

fn random_examples(n: usize, seed: u64) -> Vec<Example> {
    // A tiny linear congruential generator keeps the example dependency-free.
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = |m: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % m
    };
    (0..n)
        .map(|_| {
            let len = 3 + next(8) as usize;
            // Token ids 4.. are the letters; 0-3 are <pad> <unk> <bos> <eos>.
            let body: Vec<u32> = (0..len).map(|_| 4 + next(10) as u32).collect();
            let mut src = body.clone();
            src.push(EOS);
            let mut tgt = vec![BOS];
            tgt.extend(&body);
            tgt.push(EOS);
            Example { src, tgt }
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spec = std::env::args().nth(1).unwrap_or_else(|| "auto".into());
    let device = attend::device::parse_device(&spec)?;
    let train_device = device.clone().autodiff();
    train_device.seed(0);

    let vocab = 14;
    let mut model = Seq2SeqModel::Transformer(TransformerConfig::new(vocab, vocab)
        .with_d_model(64)
        .with_n_heads(4)
        .with_d_ff(128)
        .with_encoder_layers(2)
        .with_decoder_layers(2)
        .with_dropout(0.0)
        .with_max_len(32)
        .init(&train_device)?);
    println!("model: {} parameters on {spec}", model.num_params());

    let train = random_examples(16000, 1);
    let held_out = random_examples(200, 2);
    let batcher = Batcher { size: 64, by: BatchBy::Sentences, bucket: true, seed: 0 };
    let mut optim = AdamConfig::new().with_beta_2(0.98).with_epsilon(1e-9).init();
    let mut step = 0;
    for epoch in 0..5 {
        for indices in batcher.epoch_batches(&train, epoch) {
            let batch = Seq2SeqBatch::new(&train, &indices);
            let logits = seq2seq::logits(&model, &batch, &train_device)?; // [batch, tgt_len, vocab]
            let loss = seq2seq::smoothed_loss(logits, &batch.tgt_out, 0.0, &train_device);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            step += 1;
            let lr = 1e-3 * (step as f64 / 100.0).min(1.0); // linear warm-up
            model = optim.step(lr, model, grads);
            if step % 250 == 0 {
                println!("epoch {epoch} step {step} loss {:.4}", loss.into_scalar::<f32>());
            }
        }
    }

    // Greedy decoding of held-out strings without autodiff.
    let model = model.valid();
    let sources: Vec<&[u32]> = held_out.iter().map(|e| e.src.as_slice()).collect();
    let padded = Padded::new(&sources);
    let src = seq2seq::ids(&padded, &device);
    let pad = seq2seq::pad_mask(&padded, &device);
    let decoded = greedy(&model, src, Some(pad), BOS, EOS, 16, None)?;
    let correct = decoded
        .ids
        .iter()
        .zip(&held_out)
        .filter(|(out, ex)| out.as_slice() == &ex.src[..ex.src.len() - 1])
        .count();
    println!("held-out exact copies: {correct}/{} ({:.1}%)", held_out.len(), 100.0 * correct as f64 / held_out.len() as f64);
    Ok(())
}
