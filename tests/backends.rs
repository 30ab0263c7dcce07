//! The same model with the same weights gives the same outputs and gradients
//! on the CPU (ndarray) and on wgpu. Runs when built with `--features wgpu`;
//! CI runs it on Mesa's software Vulkan driver (lavapipe). Tolerance: 1e-4
//! absolute on logits; on gradients |cpu − wgpu| ≤ 1e-5 + 1e-3 · (largest |entry| of that gradient).
#![cfg(all(feature = "wgpu", feature = "ndarray"))]

use attend::burn::module::{Module, ModuleVisitor, Param, ParamId};
use attend::burn::optim::GradientsParams;
use attend::burn::prelude::*;
use attend::data::{Example, Seq2SeqBatch};
use attend::device::parse_device;
use attend::model::{BeamOptions, CellKind, RecurrentLmConfig, RecurrentSeq2SeqConfig, Score, Seq2SeqConfig, Seq2SeqModel, TransformerConfig, VectorDecoderConfig};
use attend::train::{checkpoint, seq2seq};

struct Ids(Vec<(ParamId, usize)>);
impl ModuleVisitor for Ids {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        self.0.push((p.id, D));
    }
}

fn grad(g: &GradientsParams, id: ParamId, rank: usize) -> Vec<f32> {
    match rank {
        1 => g.get::<1>(id).map(|t| t.try_into_vec_as::<f32>().unwrap()),
        2 => g.get::<2>(id).map(|t| t.try_into_vec_as::<f32>().unwrap()),
        _ => None,
    }
    .unwrap_or_default()
}

fn run(model: &Seq2SeqModel, batch: &Seq2SeqBatch, device: &Device) -> (Vec<f32>, GradientsParams) {
    let logits = seq2seq::logits(model, batch, device).unwrap();
    let values = logits.clone().try_into_vec_as::<f32>().unwrap();
    let loss = seq2seq::smoothed_loss(logits, &batch.tgt_out, 0.1, device);
    (values, GradientsParams::from_grads(loss.backward(), model))
}

#[test]
fn cpu_and_wgpu_agree_on_outputs_and_gradients() {
    agree(Seq2SeqConfig::Transformer(TransformerConfig::new(17, 19)
        .with_d_model(16)
        .with_n_heads(2)
        .with_d_ff(32)
        .with_encoder_layers(1)
        .with_decoder_layers(1)
        .with_dropout(0.0)
        .with_max_len(16)));
}

#[test]
fn recurrent_encoder_decoder_with_attention_agrees_on_cpu_and_wgpu() {
    agree(Seq2SeqConfig::Recurrent(RecurrentSeq2SeqConfig::new(17, 19)
        .with_cell(CellKind::Lstm)
        .with_d_embed(16)
        .with_d_hidden(16)
        .with_bidirectional(true)
        .with_attention(Some(Score::Additive))
        .with_dropout(0.0)
        .with_max_len(16)));
}

/// The recurrent language model and the vector → sequence decoder: same logits.
#[test]
fn recurrent_lm_and_vector_decoder_agree_on_cpu_and_wgpu() {
    let (cpu, gpu) = (parse_device("cpu").unwrap(), parse_device("wgpu").unwrap());
    cpu.seed(12);
    let lm = RecurrentLmConfig::new(13).with_cell(CellKind::Gru).with_d_model(16).with_n_layers(2).with_dropout(0.0);
    let lm_cpu = lm.init(&cpu).unwrap();
    let lm_gpu = checkpoint::load_model_bytes(lm.init(&gpu).unwrap(), checkpoint::model_bytes(&lm_cpu).unwrap(), std::path::Path::new("memory")).unwrap();
    let ids = |d: &Device| Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 5, 7, 2, 9, 4, 4, 3], [2, 4]), d);
    let a = lm_cpu.forward(ids(&cpu)).try_into_vec_as::<f32>().unwrap();
    let b = lm_gpu.forward(ids(&gpu)).try_into_vec_as::<f32>().unwrap();
    let max = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(max < 1e-4, "language-model logits differ by {max}");

    let dec = VectorDecoderConfig::new(6, 11).with_cell(CellKind::Lstm).with_d_hidden(16).with_d_embed(8).with_dropout(0.0);
    let dec_cpu = dec.init(&cpu).unwrap();
    let dec_gpu = checkpoint::load_model_bytes(dec.init(&gpu).unwrap(), checkpoint::model_bytes(&dec_cpu).unwrap(), std::path::Path::new("memory")).unwrap();
    let v = |d: &Device| Tensor::<2>::from_data(TensorData::new((0..12).map(|i| (i as f32 * 0.7).cos()).collect::<Vec<_>>(), [2, 6]), d);
    let a = dec_cpu.forward(v(&cpu), ids(&cpu), None).try_into_vec_as::<f32>().unwrap();
    let b = dec_gpu.forward(v(&gpu), ids(&gpu), None).try_into_vec_as::<f32>().unwrap();
    let max = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(max < 1e-4, "vector-decoder logits differ by {max}");
    assert_eq!(dec_cpu.greedy(v(&cpu), 2, 3, 6).unwrap(), dec_gpu.greedy(v(&gpu), 2, 3, 6).unwrap());
}

fn agree(cfg: Seq2SeqConfig) {
    let cpu = parse_device("cpu").unwrap().autodiff();
    let gpu = parse_device("wgpu").unwrap().autodiff();
    cpu.seed(11);
    let model_cpu = cfg.init(&cpu).unwrap();
    let bytes = checkpoint::model_bytes(&model_cpu).unwrap();
    let model_gpu = checkpoint::load_model_bytes(cfg.init(&gpu).unwrap(), bytes, std::path::Path::new("memory")).unwrap();
    let examples = vec![
        Example { src: vec![5, 6, 7, 3], tgt: vec![2, 8, 9, 10, 3] },
        Example { src: vec![11, 3], tgt: vec![2, 12, 3] },
    ];
    let batch = Seq2SeqBatch::new(&examples, &[0, 1]);
    let (out_cpu, g_cpu) = run(&model_cpu, &batch, &cpu);
    let (out_gpu, g_gpu) = run(&model_gpu, &batch, &gpu);
    let max = out_cpu.iter().zip(&out_gpu).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(max < 1e-4, "logits differ by {max}");
    let mut ids = Ids(Vec::new());
    model_cpu.visit(&mut ids);
    let mut compared = 0;
    for (id, rank) in ids.0 {
        let (a, b) = (grad(&g_cpu, id, rank), grad(&g_gpu, id, rank));
        assert_eq!(a.len(), b.len(), "gradient of {id:?} missing on one backend");
        if a.is_empty() {
            continue;
        }
        let scale = a.iter().fold(0f32, |m, x| m.max(x.abs()));
        let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(diff <= 1e-5 + 1e-3 * scale, "gradient of {id:?} differs by {diff} (scale {scale})");
        compared += 1;
    }
    assert!(compared > 20, "compared {compared} gradients");
    // Greedy (a beam of one, step by step) and beam search pick the same tokens on both.
    let sources = vec![vec![5, 6, 7, 8, 3], vec![11, 3], vec![9, 12, 3]];
    for beam in [None, Some(BeamOptions { size: 3, length_penalty: 1.0 })] {
        let decode = |m: &Seq2SeqModel, d: &Device| seq2seq::translate_ids(&m.valid(), &sources, 8, 7, None, beam, &d.clone().inner()).unwrap().ids;
        assert_eq!(decode(&model_cpu, &cpu), decode(&model_gpu, &gpu), "{beam:?}");
    }
}

/// word2vec's tensor engine: the same corpus, seed and settings give the same
/// vectors on ndarray and on wgpu (the batches are built on the host, so only
/// floating-point summation order differs).
#[test]
fn word2vec_tensor_engine_agrees_on_cpu_and_wgpu() {
    use attend::train::word2vec::{train, Engine, TrainOptions, Word2VecConfig};
    let dir = std::env::temp_dir().join(format!("attend-w2v-backends-{}", std::process::id()));
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
    let (cpu, gpu) = (on("cpu"), on("wgpu"));
    assert_eq!(cpu.vectors.words(), gpu.vectors.words());
    let diff = cpu.vectors.data().iter().zip(gpu.vectors.data()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    let scale = cpu.vectors.data().iter().fold(0f32, |m, x| m.max(x.abs()));
    let init = attend::train::word2vec::native::HogwildTables::new(cpu.vectors.len(), 16, cfg.seed).into_input();
    let moved = cpu.vectors.data().iter().zip(&init).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(moved > 0.05, "the vectors must have moved from their initial values (by {moved})");
    assert!(diff <= 1e-4 + 1e-3 * scale, "vectors differ by {diff} (scale {scale})");
    let (lc, lg) = (cpu.stats.last_loss.unwrap(), gpu.stats.last_loss.unwrap());
    assert!((lc - lg).abs() < 1e-3, "loss {lc} vs {lg}");
    std::fs::remove_dir_all(&dir).unwrap();
}
