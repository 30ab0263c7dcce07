//! Step-by-step decoding and beam search agree with their plain versions:
//! feeding one token at a time gives the teacher-forced logits, the
//! Transformer's key/value cache gives the logits, tokens and attention of
//! re-reading the whole prefix, beam size 1 is greedy decoding, a sentence
//! decodes the same alone and in a padded batch, a batch cut into one block
//! of sentences per thread decodes as the whole batch on one thread,
//! and with a beam wide enough to keep every hypothesis the search returns the
//! best sequence of all (checked by scoring every sequence).

use attend_model::attention::padding_mask;
use attend_model::{beam_search, greedy, greedy_with, AttentionPick, BeamOptions, GreedyOptions, Score, Seq2SeqConfig, Seq2SeqModel, TransformerConfig};
use attend_model::{CellKind, RecurrentSeq2SeqConfig};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;

const BOS: u32 = 2;
const EOS: u32 = 3;

#[allow(deprecated)]
fn device() -> Device {
    Device::ndarray()
}

fn models(tgt_vocab: usize, dev: &Device) -> Vec<(&'static str, Seq2SeqModel)> {
    dev.seed(3);
    let transformer = TransformerConfig::new(12, tgt_vocab)
        .with_d_model(16)
        .with_n_heads(2)
        .with_d_ff(32)
        .with_encoder_layers(1)
        .with_decoder_layers(2)
        .with_dropout(0.0)
        .with_max_len(16);
    let lstm_attention = RecurrentSeq2SeqConfig::new(12, tgt_vocab)
        .with_cell(CellKind::Lstm)
        .with_d_embed(8)
        .with_d_hidden(12)
        .with_decoder_layers(2)
        .with_bidirectional(true)
        .with_dropout(0.0)
        .with_attention(Some(Score::Additive))
        .with_max_len(16);
    let gru = RecurrentSeq2SeqConfig::new(12, tgt_vocab).with_cell(CellKind::Gru).with_d_embed(8).with_d_hidden(12).with_dropout(0.0).with_max_len(16);
    vec![
        ("transformer", Seq2SeqConfig::Transformer(transformer).init(dev).unwrap()),
        ("lstm-attention", Seq2SeqConfig::Recurrent(lstm_attention).init(dev).unwrap()),
        ("gru", Seq2SeqConfig::Recurrent(gru).init(dev).unwrap()),
    ]
}

/// Padded source ids and their padding mask.
fn sources(rows: &[Vec<u32>], dev: &Device) -> (Tensor<2, Int>, Tensor<2, Bool>) {
    let seq = rows.iter().map(|r| r.len()).max().unwrap();
    let mut flat = Vec::new();
    for r in rows {
        flat.extend(r.iter().map(|&x| x as i64));
        flat.extend(std::iter::repeat_n(0i64, seq - r.len()));
    }
    let lengths: Vec<usize> = rows.iter().map(|r| r.len()).collect();
    (Tensor::from_data(TensorData::new(flat, [rows.len(), seq]), dev), padding_mask(&lengths, seq, dev))
}

fn to_vec(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

/// log p(ids, then `<eos>` if `ended`) of one sentence under teacher forcing.
fn log_prob(model: &Seq2SeqModel, src: &[u32], ids: &[u32], ended: bool, dev: &Device) -> f32 {
    let (s, pad) = sources(&[src.to_vec()], dev);
    let mut tgt_in = vec![BOS as i64];
    tgt_in.extend(ids.iter().map(|&x| x as i64));
    let n = tgt_in.len();
    let tgt = Tensor::<2, Int>::from_data(TensorData::new(tgt_in, [1, n]), dev);
    let logits = model.forward(s, Some(pad), tgt, None).unwrap(); // [1, n, vocab]
    let vocab = logits.dims()[2];
    let lp = log_softmax(logits.reshape([n, vocab]), 1).into_data().try_to_vec::<f32>().unwrap();
    let mut total = 0.0;
    for (i, &t) in ids.iter().enumerate() {
        total += lp[i * vocab + t as usize];
    }
    if ended {
        total += lp[ids.len() * vocab + EOS as usize];
    }
    total
}

#[test]
fn one_token_at_a_time_gives_the_teacher_forced_logits() {
    let dev = device();
    for (name, model) in models(9, &dev) {
        let (src, pad) = sources(&[vec![4, 5, 6, 3], vec![7, 8, 3]], &dev);
        let tgt: [[u32; 4]; 2] = [[BOS, 5, 7, 4], [BOS, 6, 6, 8]];
        let flat: Vec<i64> = tgt.iter().flatten().map(|&x| x as i64).collect();
        let memory = model.encode(src, Some(pad)).unwrap();
        let (full, _) = model.decode(Tensor::from_data(TensorData::new(flat, [2, 4]), &dev), None, &memory).unwrap(); // [2, 4, 9]
        let full = full.into_data().try_to_vec::<f32>().unwrap();
        let mut state = model.start(&memory, 2).unwrap();
        for t in 0..4 {
            let (logits, next) = model.step(&[tgt[0][t], tgt[1][t]], state, &memory).unwrap();
            state = next;
            let step = to_vec(logits);
            for b in 0..2 {
                for v in 0..9 {
                    let (a, c) = (step[b * 9 + v], full[(b * 4 + t) * 9 + v]);
                    assert!((a - c).abs() < 1e-5, "{name}: step {t}, sentence {b}: {a} vs {c}");
                }
            }
        }
    }
}

#[test]
fn the_key_value_cache_gives_the_logits_of_rereading_the_prefix() {
    let dev = device();
    for norm_first in [false, true] {
        dev.seed(5);
        let cfg = TransformerConfig::new(12, 9)
            .with_d_model(16)
            .with_n_heads(4)
            .with_d_ff(32)
            .with_encoder_layers(2)
            .with_decoder_layers(3)
            .with_dropout(0.0)
            .with_norm_first(norm_first)
            .with_max_len(16);
        let model = Seq2SeqConfig::Transformer(cfg).init(&dev).unwrap();
        let (src, pad) = sources(&[vec![4, 5, 6, 7, 3], vec![8, 3], vec![9, 10, 11, 3]], &dev);
        let memory = model.encode(src.clone(), Some(pad.clone())).unwrap();
        let mut cached = model.start(&memory, 3).unwrap();
        let mut plain = model.start_uncached(&memory, 3).unwrap();
        assert!(matches!(cached, attend_model::DecoderState::Cache(_)) && matches!(plain, attend_model::DecoderState::Prefix(_)));
        let mut tokens = vec![BOS; 3];
        for t in 0..10 {
            let a = model.step_attention(&tokens, cached, &memory).unwrap();
            let b = model.step_attention(&tokens, plain, &memory).unwrap();
            let (la, lb) = (to_vec(a.logits.clone()), to_vec(b.logits));
            let max = la.iter().zip(&lb).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            assert!(max < 1e-5, "pre-LN {norm_first}, step {t}: logits differ by {max}");
            for (wa, wb) in a.attention.iter().zip(&b.attention) {
                assert_eq!(wa.dims(), wb.dims());
                let diff = (wa.clone() - wb.clone()).abs().max().into_scalar::<f32>();
                assert!(diff < 1e-5, "pre-LN {norm_first}, step {t}: cross-attention differs by {diff}");
            }
            // Feed the cached decoder's own choice, as greedy decoding does.
            tokens = a.logits.argmax(1).try_into_vec_as::<i64>().unwrap().into_iter().map(|x| x as u32).collect();
            (cached, plain) = (a.state, b.state);
        }
        // Greedy decoding with and without the cache: the same tokens and attention.
        let run = |cache| {
            let opts = GreedyOptions { bos: BOS, eos: Some(EOS), max_len: 12, attention: Some(AttentionPick::Mean), cache };
            greedy_with(&model, src.clone(), Some(pad.clone()), &opts).unwrap()
        };
        let (a, b) = (run(true), run(false));
        assert_eq!(a.ids, b.ids);
        let (wa, wb) = (a.attention.unwrap(), b.attention.unwrap());
        let flat = |w: &Vec<Vec<Vec<f32>>>| w.iter().flatten().flatten().copied().collect::<Vec<f32>>();
        assert_eq!(flat(&wa).len(), flat(&wb).len());
        assert!(flat(&wa).iter().zip(flat(&wb)).all(|(x, y)| (x - y).abs() < 1e-5));
    }
}

#[test]
fn greedy_decodes_a_sentence_alike_alone_and_in_a_padded_batch() {
    let dev = device();
    let rows = vec![vec![4u32, 5, 6, 7, 8, 3], vec![9, 3], vec![10, 11, 4, 3]];
    for (name, model) in models(9, &dev) {
        let (src, pad) = sources(&rows, &dev);
        let batched = greedy(&model, src, Some(pad), BOS, EOS, 10, None).unwrap().ids;
        for (r, row) in rows.iter().enumerate() {
            let (s, p) = sources(std::slice::from_ref(row), &dev);
            let alone = greedy(&model, s, Some(p), BOS, EOS, 10, None).unwrap().ids;
            assert_eq!(alone[0], batched[r], "{name}: sentence {r}");
        }
    }
}

#[test]
fn a_batch_split_over_threads_decodes_as_one_block() {
    let dev = device();
    // 24 sentences of 1 to 7 tokens: in a 3-thread pool, three blocks of 8.
    let rows: Vec<Vec<u32>> = (0..24).map(|i| (0..1 + i % 7).map(|j| 4 + ((i * 5 + j * 3) % 8) as u32).collect()).collect();
    let (src, pad) = sources(&rows, &dev);
    let in_pool = |threads: usize, f: &(dyn Fn() -> Vec<Vec<u32>> + Sync)| rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f);
    for (name, model) in models(14, &dev) {
        let greedy_ids = || greedy(&model, src.clone(), Some(pad.clone()), BOS, EOS, 12, None).unwrap().ids;
        let beam_ids = || {
            let opts = BeamOptions { size: 3, length_penalty: 0.6 };
            beam_search(&model, src.clone(), Some(pad.clone()), BOS, EOS, 12, opts).unwrap().into_iter().map(|h| h.ids).collect()
        };
        let whole = in_pool(1, &greedy_ids);
        assert_eq!(in_pool(3, &greedy_ids), whole, "{name}: greedy");
        assert_eq!(in_pool(3, &beam_ids), in_pool(1, &beam_ids), "{name}: beam");
        if name == "transformer" {
            // Its sentences decode differently, so a block out of place would show
            // (the untrained recurrent models give most sentences the same tokens).
            assert!(whole.iter().any(|ids| ids != &whole[0]), "{name}: every sentence decodes alike");
            // The cross-attention weights of each sentence come back with it.
            let attention = |threads| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| greedy(&model, src.clone(), Some(pad.clone()), BOS, EOS, 12, Some(AttentionPick::Mean)).unwrap().attention.unwrap())
            };
            let (one, three) = (attention(1), attention(3));
            assert_eq!(one.len(), rows.len());
            for (r, (a, b)) in one.iter().zip(&three).enumerate() {
                let (a, b): (Vec<f32>, Vec<f32>) = (a.concat(), b.concat());
                assert_eq!(a.len(), b.len(), "sentence {r}");
                assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-5), "sentence {r}: attention differs");
            }
        }
    }
}

#[test]
fn beam_of_one_is_greedy_and_batching_changes_nothing() {
    let dev = device();
    let rows = vec![vec![4u32, 5, 6, 7, 8, 3], vec![9, 3], vec![10, 11, 4, 3]];
    for (name, model) in models(9, &dev) {
        let (src, pad) = sources(&rows, &dev);
        let plain = greedy(&model, src.clone(), Some(pad.clone()), BOS, EOS, 8, None).unwrap().ids;
        let one = beam_search(&model, src.clone(), Some(pad.clone()), BOS, EOS, 8, BeamOptions { size: 1, length_penalty: 1.0 }).unwrap();
        assert_eq!(one.iter().map(|h| h.ids.clone()).collect::<Vec<_>>(), plain, "{name}");
        let opts = BeamOptions { size: 4, length_penalty: 0.6 };
        let batched = beam_search(&model, src, Some(pad), BOS, EOS, 8, opts).unwrap();
        for (r, row) in rows.iter().enumerate() {
            let (s, p) = sources(std::slice::from_ref(row), &dev);
            let alone = beam_search(&model, s, Some(p), BOS, EOS, 8, opts).unwrap();
            assert_eq!(alone[0].ids, batched[r].ids, "{name}: sentence {r}");
            assert!((alone[0].log_prob - batched[r].log_prob).abs() < 1e-4, "{name}: sentence {r}");
            // The reported log-probability is the model's.
            let ended = batched[r].ids.len() < 7;
            let lp = log_prob(&model, row, &batched[r].ids, ended, &dev);
            assert!((lp - batched[r].log_prob).abs() < 1e-3, "{name}: sentence {r}: beam says {}, teacher forcing {lp}", batched[r].log_prob);
        }
    }
}

#[test]
fn a_beam_that_keeps_everything_finds_the_best_sequence() {
    // 6 target tokens and at most 3 of them: 5 + 25 sequences end in <eos> and 125 stop at the limit.
    let dev = device();
    let vocab = 6u32;
    let src = vec![4u32, 7, 5, 3];
    for (name, model) in models(vocab as usize, &dev) {
        let (s, p) = sources(std::slice::from_ref(&src), &dev);
        let found = beam_search(&model, s, Some(p), BOS, EOS, 4, BeamOptions { size: 216, length_penalty: 0.0 }).unwrap().remove(0);
        let words: Vec<u32> = (0..vocab).filter(|&t| t != EOS).collect();
        let mut all: Vec<(Vec<u32>, bool)> = vec![(vec![], true)];
        for a in &words {
            all.push((vec![*a], true));
            for b in &words {
                all.push((vec![*a, *b], true));
                for c in &words {
                    all.push((vec![*a, *b, *c], false));
                }
            }
        }
        assert_eq!(all.len(), 1 + 5 + 25 + 125);
        let best = all
            .iter()
            .map(|(ids, ended)| (ids.clone(), log_prob(&model, &src, ids, *ended, &dev)))
            .fold((vec![], f32::NEG_INFINITY), |b, x| if x.1 > b.1 { x } else { b });
        assert_eq!(found.ids, best.0, "{name}: beam {} vs exhaustive {}", found.log_prob, best.1);
        assert!((found.log_prob - best.1).abs() < 1e-4, "{name}");
    }
}
