//! The vector → sequence decoder: greedy decoding continues exactly what
//! teacher forcing computes, and training from (vector, word) pairs learns to
//! spell the training words from their vectors.

use attend_data::{WordVectors, BOS, EOS};
use attend_model::{CellKind, VectorDecoderConfig};
use attend_train::vector_seq::{train_speller, SpellOptions};
use burn::prelude::*;

#[allow(deprecated)]
fn device() -> Device {
    Device::ndarray()
}

/// The backend's seed is global: tests that seed it and then draw weights
/// take this lock so that another test's seed cannot land in between (the
/// speller then started from other weights and sometimes spelled only 86–95 %).
static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn seeded() -> std::sync::MutexGuard<'static, ()> {
    SEEDED.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn greedy_decoding_follows_teacher_forced_argmax() {
    let _seeded = seeded();
    let dev = device();
    for cell in [CellKind::Rnn, CellKind::Lstm, CellKind::Gru] {
        dev.seed(3);
        let m = VectorDecoderConfig::new(6, 9).with_cell(cell).with_d_hidden(16).with_d_embed(8).with_n_layers(2).with_dropout(0.0).init(&dev).unwrap();
        let v = Tensor::<2>::from_data(TensorData::new((0..12).map(|i| (i as f32 * 0.37).sin()).collect::<Vec<_>>(), [2, 6]), &dev);
        let out = m.greedy(v.clone(), BOS, EOS, 7).unwrap();
        for (b, ids) in out.iter().enumerate() {
            // Feed <bos> + the greedy output back with teacher forcing: every argmax must reproduce it.
            let mut tin: Vec<i64> = vec![BOS as i64];
            tin.extend(ids.iter().map(|&i| i as i64));
            let n = tin.len();
            let x = Tensor::<2, Int>::from_data(TensorData::new(tin, [1, n]), &dev);
            let row = v.clone().slice([b..b + 1, 0..6]);
            let pred: Vec<i64> = m.forward(row, x, None).argmax(2).reshape([n]).try_to_vec_as::<i64>().unwrap();
            let mut expect: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
            if expect.len() < 7 {
                expect.push(EOS as i64);
            }
            assert_eq!(pred[..expect.len()], expect[..], "{cell:?} row {b}");
        }
    }
}

#[test]
fn a_speller_learns_the_words_it_is_trained_on() {
    let _seeded = seeded();
    let words = ["cat", "dog", "bird", "fish", "horse", "mouse", "lion", "tiger", "bear", "wolf", "fox", "deer", "goat", "sheep", "cow", "pig", "duck", "goose", "frog", "toad", "snake", "crab", "seal", "whale"];
    let dim = 16;
    // Random-looking but fixed vectors: only memorising can spell these.
    let data: Vec<f32> = (0..words.len() * dim).map(|i| (i * 7919 % 101) as f32 / 50.0 - 1.0).collect();
    let vectors = WordVectors::new(words.iter().map(|w| w.to_string()).collect(), dim, data).unwrap();
    let opts = SpellOptions { epochs: 300, batch_size: 8, d_hidden: 64, valid_fraction: 0.1, dropout: 0.0, lr: 1e-2, ..SpellOptions::default() };
    let (_, r) = train_speller(&vectors, &opts, &device(), |_| {}).unwrap();
    let last = r.epochs.last().unwrap();
    assert!(last.train_exact >= 0.99, "spelled {:.2} of the training words", last.train_exact);
    assert!(last.train_loss < r.epochs[0].train_loss / 5.0);
    assert_eq!(r.train_pairs + r.valid_pairs, words.len());
    // Too few words to hold any out is an error, not a panic.
    let one = WordVectors::new(vec!["a".into()], 2, vec![0.0, 1.0]).unwrap();
    assert!(train_speller(&one, &opts, &device(), |_| {}).is_err());
}
