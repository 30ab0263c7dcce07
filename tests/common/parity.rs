//! The same model with the same weights gives the same outputs and gradients
//! on ndarray and on another backend (wgpu in `tests/backends.rs`, flex in
//! `tests/flex.rs`). Tolerance: 1e-4 absolute on logits; on gradients
//! |cpu − other| ≤ 1e-5 + 1e-3 · (largest |entry| of that gradient).

use attend::burn::module::{Module, ModuleVisitor, Param, ParamId};
use attend::burn::optim::GradientsParams;
use attend::burn::prelude::*;
use attend::data::{Example, Seq2SeqBatch};
use attend::device::parse_device;
use attend::model::{BeamOptions, CellKind, RecurrentLmConfig, RecurrentSeq2SeqConfig, Score, Seq2SeqConfig, Seq2SeqModel, TransformerConfig, VectorDecoderConfig};
use attend::train::tasks::translate::batch as seq2seq;
use attend::train::trainer::checkpoint;

struct Ids(Vec<(ParamId, usize)>);
impl ModuleVisitor for Ids {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        self.0.push((p.id, D));
    }
}

/// The gradient of parameter `id` (rank `rank`) as a flat vector; a parameter
/// without a gradient, or of a rank this helper does not read, fails the test.
fn grad(g: &GradientsParams, id: ParamId, rank: usize) -> Vec<f32> {
    let flat = match rank {
        1 => g.get::<1>(id).map(|t| t.try_into_vec_as::<f32>().unwrap()),
        2 => g.get::<2>(id).map(|t| t.try_into_vec_as::<f32>().unwrap()),
        3 => g.get::<3>(id).map(|t| t.try_into_vec_as::<f32>().unwrap()),
        4 => g.get::<4>(id).map(|t| t.try_into_vec_as::<f32>().unwrap()),
        other => panic!("parameter {id:?} has rank {other}, which the parity check does not read"),
    };
    flat.unwrap_or_else(|| panic!("parameter {id:?} (rank {rank}) has no gradient"))
}

fn run(model: &Seq2SeqModel, batch: &Seq2SeqBatch, device: &Device) -> (Vec<f32>, GradientsParams) {
    let logits = seq2seq::logits(model, batch, device).unwrap();
    let values = logits.clone().try_into_vec_as::<f32>().unwrap();
    let loss = seq2seq::smoothed_loss(logits, &batch.tgt_out, 0.1, device);
    (values, GradientsParams::from_grads(loss.backward(), model))
}

pub fn transformer(other: &str) {
    agree(other, Seq2SeqConfig::Transformer(TransformerConfig::new(17, 19)
        .with_d_model(16)
        .with_n_heads(2)
        .with_d_ff(32)
        .with_encoder_layers(1)
        .with_decoder_layers(1)
        .with_dropout(0.0)
        .with_max_len(16)));
}

pub fn lstm_attention(other: &str) {
    agree(other, Seq2SeqConfig::Recurrent(RecurrentSeq2SeqConfig::new(17, 19)
        .with_cell(CellKind::Lstm)
        .with_d_embed(16)
        .with_d_hidden(16)
        .with_bidirectional(true)
        .with_attention(Some(Score::Additive))
        .with_dropout(0.0)
        .with_max_len(16)));
}

/// The recurrent language model and the vector → sequence decoder: same logits.
pub fn recurrent_lm_and_vector_decoder(other: &str) {
    let (cpu, dev2) = (parse_device("ndarray").unwrap(), parse_device(other).unwrap());
    cpu.seed(12);
    let lm = RecurrentLmConfig::new(13).with_cell(CellKind::Gru).with_d_model(16).with_n_layers(2).with_dropout(0.0);
    let lm_cpu = lm.init(&cpu).unwrap();
    let lm_2 = checkpoint::load_model_bytes(lm.init(&dev2).unwrap(), checkpoint::model_bytes(&lm_cpu).unwrap(), std::path::Path::new("memory")).unwrap();
    let ids = |d: &Device| Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 5, 7, 2, 9, 4, 4, 3], [2, 4]), d);
    let a = lm_cpu.forward(ids(&cpu)).try_into_vec_as::<f32>().unwrap();
    let b = lm_2.forward(ids(&dev2)).try_into_vec_as::<f32>().unwrap();
    let max = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(max < 1e-4, "language-model logits differ by {max}");

    let dec = VectorDecoderConfig::new(6, 11).with_cell(CellKind::Lstm).with_d_hidden(16).with_d_embed(8).with_dropout(0.0);
    let dec_cpu = dec.init(&cpu).unwrap();
    let dec_2 = checkpoint::load_model_bytes(dec.init(&dev2).unwrap(), checkpoint::model_bytes(&dec_cpu).unwrap(), std::path::Path::new("memory")).unwrap();
    let v = |d: &Device| Tensor::<2>::from_data(TensorData::new((0..12).map(|i| (i as f32 * 0.7).cos()).collect::<Vec<_>>(), [2, 6]), d);
    let a = dec_cpu.forward(v(&cpu), ids(&cpu), None).try_into_vec_as::<f32>().unwrap();
    let b = dec_2.forward(v(&dev2), ids(&dev2), None).try_into_vec_as::<f32>().unwrap();
    let max = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(max < 1e-4, "vector-decoder logits differ by {max}");
    assert_eq!(dec_cpu.greedy(v(&cpu), 2, 3, 6).unwrap(), dec_2.greedy(v(&dev2), 2, 3, 6).unwrap());
}

fn agree(other: &str, cfg: Seq2SeqConfig) {
    let cpu = parse_device("ndarray").unwrap().autodiff();
    let dev2 = parse_device(other).unwrap().autodiff();
    cpu.seed(11);
    let model_cpu = cfg.init(&cpu).unwrap();
    let bytes = checkpoint::model_bytes(&model_cpu).unwrap();
    let model_2 = checkpoint::load_model_bytes(cfg.init(&dev2).unwrap(), bytes, std::path::Path::new("memory")).unwrap();
    let examples = vec![
        Example { src: vec![5, 6, 7, 3], tgt: vec![2, 8, 9, 10, 3] },
        Example { src: vec![11, 3], tgt: vec![2, 12, 3] },
    ];
    let batch = Seq2SeqBatch::new(&examples, &[0, 1]);
    let (out_cpu, g_cpu) = run(&model_cpu, &batch, &cpu);
    let (out_2, g_2) = run(&model_2, &batch, &dev2);
    let max = out_cpu.iter().zip(&out_2).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(max < 1e-4, "logits differ by {max}");
    assert!(same_gradients(&model_cpu, &g_cpu, &g_2) > 20);
    // Greedy (a beam of one, step by step) and beam search pick the same tokens on both.
    let sources = vec![vec![5, 6, 7, 8, 3], vec![11, 3], vec![9, 12, 3]];
    for beam in [None, Some(BeamOptions { size: 3, length_penalty: 1.0 })] {
        let decode = |m: &Seq2SeqModel, d: &Device| seq2seq::translate_ids(&m.valid(), &sources, 8, 7, None, beam, &d.clone().inner()).unwrap().ids;
        assert_eq!(decode(&model_cpu, &cpu), decode(&model_2, &dev2), "{beam:?}");
    }
}

/// word2vec's tensor engine: the same corpus, seed and settings give the same
/// vectors on ndarray and on the other backend (the batches are built on the host, so only
/// floating-point summation order differs).
pub fn word2vec_tensor_engine(other: &str) {
    use attend::train::tasks::word2vec::{train, Engine, TrainOptions, Word2VecConfig};
    let dir = std::env::temp_dir().join(format!("attend-w2v-backends-{other}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::new();
    let mut x: u64 = 1;
    for s in 0..600 {
        for _ in 0..15 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            text.push_str(&format!("{}{} ", ["a", "b"][s % 2], (x >> 33) % 12));
        }
        text.push_str("\n\n");
    }
    let corpus = dir.join("c.txt");
    std::fs::write(&corpus, text).unwrap();
    let cfg = Word2VecConfig::new().with_dim(16).with_window(3).with_min_count(1).with_epochs(1).with_batch(512);
    let on = |spec: &str| train(&cfg, &[corpus.clone()], &Engine::Tensor(parse_device(spec).unwrap()), &TrainOptions::default()).unwrap();
    let (cpu, dev2) = (on("cpu"), on(other));
    assert_eq!(cpu.vectors.words(), dev2.vectors.words());
    let diff = cpu.vectors.data().iter().zip(dev2.vectors.data()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    let scale = cpu.vectors.data().iter().fold(0f32, |m, x| m.max(x.abs()));
    let init = attend::train::tasks::word2vec::native::HogwildTables::new(cpu.vectors.len(), 16, cfg.seed).into_input();
    let moved = cpu.vectors.data().iter().zip(&init).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(moved > 0.05, "the vectors must have moved from their initial values (by {moved})");
    assert!(diff <= 1e-4 + 1e-3 * scale, "vectors differ by {diff} (scale {scale})");
    let (lc, lg) = (cpu.stats.last_loss.unwrap(), dev2.stats.last_loss.unwrap());
    assert!((lc - lg).abs() < 1e-3, "loss {lc} vs {lg}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Compares every parameter's gradient of `model` in `a` and `b`; returns how many were compared.
fn same_gradients<M: Module>(model: &M, a: &GradientsParams, b: &GradientsParams) -> usize {
    let mut ids = Ids(Vec::new());
    model.visit(&mut ids);
    let mut compared = 0;
    for (id, rank) in ids.0 {
        let (x, y) = (grad(a, id, rank), grad(b, id, rank));
        assert_eq!(x.len(), y.len(), "gradient of {id:?} missing on one backend");
        if x.is_empty() {
            continue;
        }
        let scale = x.iter().fold(0f32, |m, v| m.max(v.abs()));
        let diff = x.iter().zip(&y).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max);
        assert!(diff <= 1e-5 + 1e-3 * scale, "gradient of {id:?} differs by {diff} (scale {scale})");
        compared += 1;
    }
    compared
}

/// The decoder-only language model (with and without biases): the same
/// logits, loss gradients and key/value-cached step logits.
pub fn gpt(other: &str) {
    use attend::model::gpt::GptConfig;
    let cpu = parse_device("ndarray").unwrap().autodiff();
    let dev2 = parse_device(other).unwrap().autodiff();
    for bias in [true, false] {
        cpu.seed(13);
        let cfg = GptConfig::new(11).with_context(8).with_d_model(16).with_n_heads(2).with_n_layers(2).with_d_ff(32).with_bias(bias);
        let model_cpu = cfg.init(&cpu).unwrap();
        let model_2 = checkpoint::load_model_bytes(cfg.init(&dev2).unwrap(), checkpoint::model_bytes(&model_cpu).unwrap(), std::path::Path::new("memory")).unwrap();
        let ids = |d: &Device| Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 5, 7, 2, 9, 4, 4, 3, 10, 6, 2, 8], [2, 6]), d);
        let go = |m: &attend::model::gpt::Gpt, d: &Device| {
            let logits = m.forward(ids(d)).unwrap(); // [2, 6, 11]
            let values = logits.clone().try_into_vec_as::<f32>().unwrap();
            let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![5i64, 7, 2, 9, 4, 1, 3, 10, 6, 2, 8, 1], [12]), d);
            let loss = attend::burn::nn::loss::CrossEntropyLossConfig::new().init(d).forward(logits.reshape([12, 11]), targets);
            (values, GradientsParams::from_grads(loss.backward(), m))
        };
        let ((a, ga), (b, gb)) = (go(&model_cpu, &cpu), go(&model_2, &dev2));
        let max = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(max < 1e-4, "bias {bias}: GPT logits differ by {max}");
        assert!(same_gradients(&model_cpu, &ga, &gb) >= if bias { 30 } else { 15 });
        // Step by step through the key/value cache, on the other backend: the full-sequence logits.
        let m2 = model_2.valid();
        let d2 = dev2.clone().inner();
        let mut cache = None;
        let mut steps = Vec::new();
        for t in [1i64, 5, 7, 2, 9, 4] {
            let x = Tensor::<2, Int>::from_data(TensorData::new(vec![t], [1, 1]), &d2);
            steps.extend(m2.forward_cached(x, &mut cache).unwrap().try_into_vec_as::<f32>().unwrap());
        }
        let max = steps.iter().zip(&a[..6 * 11]).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(max < 1e-4, "bias {bias}: cached logits on {other} differ from ndarray's by {max}");
    }
}
