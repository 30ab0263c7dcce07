//! Import of a PyTorch translator built on `torch.nn.Transformer` (Vaswani et
//! al., 2017, as PyTorch implements it): its `state_dict` file (`torch.save`,
//! read by burn-store's PyTorch reader, no Python needed) becomes the weights
//! of attend's Transformer. `nn.MultiheadAttention` keeps the query, key and
//! value projections stacked in `in_proj_weight` `[3d, d]`; each third
//! becomes one of attend's Linears, transposed (Burn's Linear is `[in, out]`,
//! `nn.Linear` `[out, in]`). docs/pytorch-mapping.md has every key; the
//! fixture of tests/interop.rs (tools/pytorch_translator_fixture.py) checks
//! the imported model against logits PyTorch recorded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use attend_data::Vocab;
use burn::prelude::*;
use burn_store::burn_pack::{Bytes, DType, Tensor as PackTensor};
use burn_store::pytorch_reader::{self, PytorchReader};
use burn_store::ModuleSnapshot;

use super::data::{SRC_VOCAB, TGT_VOCAB};
use super::loaded::seq2seq_view;
use super::model_config;
use super::settings::Seq2SeqArch;
use crate::config::NormPlacement;
use crate::error::{Result, TrainError};
use crate::tasks::interop::{check_fit, SAFETENSORS, TENSORS};
use crate::tasks::runs::{own_files, write_run};
use crate::trainer::checkpoint::{self, TrainState};
use crate::trainer::run_dir;

/// How one PyTorch tensor becomes attend's.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Same,
    Transpose,
    /// Rows `i·n/3 .. (i+1)·n/3` (of `in_proj_weight` or `in_proj_bias`), transposed when 2-D.
    Third(usize),
}

/// attend's names (and how to fill them) for the PyTorch key `key`; empty for an unknown key.
fn targets(key: &str) -> Vec<(String, Op)> {
    let one = |name: &str, op| vec![(name.to_string(), op)];
    match key {
        "src_embed.weight" | "src_tok_emb.embedding.weight" => return one("src_embed.embedding.weight", Op::Same),
        "tgt_embed.weight" | "tgt_tok_emb.embedding.weight" => return one("tgt_embed.embedding.weight", Op::Same),
        "positional.embedding.weight" => return one("positional.learned.weight", Op::Same),
        "generator.weight" => return one("output.weight", Op::Transpose),
        "generator.bias" => return one("output.bias", Op::Same),
        _ => {}
    }
    for side in ["encoder", "decoder"] {
        let Some(rest) = key.strip_prefix(&format!("transformer.{side}.")) else { continue };
        if let Some(p) = rest.strip_prefix("norm.") {
            return norm(&format!("{side}.norm"), p);
        }
        let Some(rest) = rest.strip_prefix("layers.") else { return Vec::new() };
        let Some((n, rest)) = rest.split_once('.') else { return Vec::new() };
        if n.parse::<usize>().is_err() {
            return Vec::new();
        }
        let at = format!("{side}.layers.{n}");
        let (module, param) = rest.rsplit_once('.').unwrap_or((rest, ""));
        let attn = match (side, module) {
            (_, "self_attn") => Some("self_attn"),
            ("decoder", "multihead_attn") => Some("cross_attn"),
            _ => None,
        };
        if let Some(a) = attn {
            return match param {
                "in_proj_weight" | "in_proj_bias" => {
                    let suffix = if param == "in_proj_weight" { "weight" } else { "bias" };
                    ["query", "key", "value"].iter().enumerate().map(|(i, q)| (format!("{at}.{a}.{q}.{suffix}"), Op::Third(i))).collect()
                }
                _ => Vec::new(),
            };
        }
        if let Some(a) = attn_output(side, module) {
            return linear(&format!("{at}.{a}.output"), param);
        }
        return match (side, module) {
            (_, "linear1") => linear(&format!("{at}.ff.linear_inner"), param),
            (_, "linear2") => linear(&format!("{at}.ff.linear_outer"), param),
            ("encoder", "norm1") => norm(&format!("{at}.norm_attn"), param),
            ("encoder", "norm2") => norm(&format!("{at}.norm_ff"), param),
            ("decoder", "norm1") => norm(&format!("{at}.norm_self"), param),
            ("decoder", "norm2") => norm(&format!("{at}.norm_cross"), param),
            ("decoder", "norm3") => norm(&format!("{at}.norm_ff"), param),
            _ => Vec::new(),
        };
    }
    Vec::new()
}

/// `self_attn.out_proj` → `self_attn`, `multihead_attn.out_proj` → `cross_attn`.
fn attn_output(side: &str, module: &str) -> Option<&'static str> {
    match (side, module) {
        (_, "self_attn.out_proj") => Some("self_attn"),
        ("decoder", "multihead_attn.out_proj") => Some("cross_attn"),
        _ => None,
    }
}

fn linear(at: &str, param: &str) -> Vec<(String, Op)> {
    match param {
        "weight" => vec![(format!("{at}.weight"), Op::Transpose)],
        "bias" => vec![(format!("{at}.bias"), Op::Same)],
        _ => Vec::new(),
    }
}

fn norm(at: &str, param: &str) -> Vec<(String, Op)> {
    match param {
        "weight" => vec![(format!("{at}.gamma"), Op::Same)],
        "bias" => vec![(format!("{at}.beta"), Op::Same)],
        _ => Vec::new(),
    }
}

/// The tensor's values as f32 (f32 and f64 state_dicts).
fn values(key: &str, t: &pytorch_reader::Tensor, file: &Path) -> Result<Vec<f32>> {
    let bytes = t.read().map_err(|e| TrainError::io(file, e))?;
    match t.dtype() {
        pytorch_reader::DType::F32 => Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()),
        pytorch_reader::DType::F64 => {
            Ok(bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f32).collect())
        }
        other => Err(TrainError::Checkpoint { path: file.into(), reason: format!("{key}: {other:?} tensors are not supported (save the model in float32)") }),
    }
}

fn apply(op: Op, data: &[f32], shape: &[usize]) -> (Vec<f32>, Vec<usize>) {
    let transpose = |data: &[f32], r: usize, c: usize| {
        let mut out = vec![0f32; r * c];
        for i in 0..r {
            for j in 0..c {
                out[j * r + i] = data[i * c + j];
            }
        }
        (out, vec![c, r])
    };
    match (op, shape) {
        (Op::Transpose, &[r, c]) => transpose(data, r, c),
        (Op::Third(i), &[r, c]) => {
            let n = r / 3;
            transpose(&data[i * n * c..(i + 1) * n * c], n, c)
        }
        (Op::Third(i), &[r]) => {
            let n = r / 3;
            (data[i * n..(i + 1) * n].to_vec(), vec![n])
        }
        _ => (data.to_vec(), shape.to_vec()),
    }
}

/// Builds a run at `out` from the PyTorch `state_dict` file `pt` and the
/// directory `from`, which holds a `config.toml` (a recipe over the
/// translation defaults whose `[model]` matches the PyTorch model: arch =
/// "transformer", sizes, norm, activation, positional, tie_output = false)
/// and the vocabularies (`vocab.src.json`, `vocab.tgt.json`).
pub fn import_pytorch(pt: &Path, from: &Path, out: &Path, device: &Device) -> Result<PathBuf> {
    // A recipe (configs/*.toml style): the keys it sets over the task's defaults.
    let recipe = from.join(run_dir::CONFIG);
    if !recipe.exists() {
        return Err(TrainError::Config(format!("--from {}: no {} in it (the model's settings, as in configs/*.toml)", from.display(), run_dir::CONFIG)));
    }
    let cfg = crate::config::RunConfig::resolve(None, Some(&recipe), &[])?;
    let view = seq2seq_view(&cfg, from)?;
    let m = view.model;
    if view.tokenizers().0.is_subword() && !from.join(crate::tasks::subwords::TOKENIZER_FILE).exists() {
        return Err(TrainError::Config(format!(
            "{}: the recipe reads subwords (data.tokenizer = {:?}; bpe is the default) but the directory has no {}: add the tokenizer the PyTorch model was trained with, or set data.tokenizer = \"word\" for word vocabularies",
            from.display(),
            view.tokenizers().0.kind,
            crate::tasks::subwords::TOKENIZER_FILE
        )));
    }
    let refuse = |reason: String| TrainError::Checkpoint { path: pt.into(), reason };
    if m.arch != Seq2SeqArch::Transformer {
        return Err(TrainError::Config(format!("{}: model.arch is {}; a PyTorch nn.Transformer imports into arch = \"transformer\"", from.display(), m.arch)));
    }
    let reader = PytorchReader::new(pt).map_err(|e| refuse(format!("not a PyTorch state_dict this reader understands: {e}")))?;
    let keys: BTreeMap<String, &pytorch_reader::Tensor> = reader.tensors().iter().map(|(k, t)| (k.clone(), t)).collect();
    let final_norms: Vec<&String> = keys.keys().filter(|k| k.starts_with("transformer.encoder.norm.") || k.starts_with("transformer.decoder.norm.")).collect();
    if m.norm == NormPlacement::Post && !final_norms.is_empty() {
        return Err(refuse(format!(
            "{} are the final LayerNorms nn.Transformer adds after its post-LN stacks; attend's post-LN Transformer has none and they do not fold into its layers. Import a model built with norm_first=True (model.norm = \"pre\"), or with custom encoder/decoder stacks whose norm=None",
            final_norms.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        )));
    }
    if m.tie_output && keys.contains_key("generator.weight") {
        return Err(refuse("the state_dict has its own output layer (generator.weight), but the config ties the output to the target embeddings: set model.tie_output = false".into()));
    }
    let mut tensors = Vec::new();
    let mut unknown = Vec::new();
    for (key, t) in &keys {
        let to = targets(key);
        if to.is_empty() {
            unknown.push(key.as_str());
            continue;
        }
        let data = values(key, t, pt)?;
        for (name, op) in to {
            let (v, shape) = apply(op, &data, t.shape());
            let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            tensors.push(PackTensor::new(name, DType::F32, shape, None, Bytes::from_bytes_vec(bytes)));
        }
    }
    if !unknown.is_empty() {
        return Err(refuse(format!("keys with no counterpart in attend's Transformer (see docs/pytorch-mapping.md): {}", unknown.join(", "))));
    }
    let (src, tgt) = (Vocab::load(&from.join(SRC_VOCAB))?, Vocab::load(&from.join(TGT_VOCAB))?);
    let mut model = model_config(m, src.len(), tgt.len())?.init(device)?;
    check_fit(pt, &model.apply(tensors, None, None, true))?;
    let files = own_files(from, &[SAFETENSORS, TENSORS])?;
    write_run(out, &cfg, &files, checkpoint::model_bytes(&model)?, &TrainState::default())?;
    Ok(out.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_as_the_mapping_document_says() {
        assert_eq!(targets("src_embed.weight"), vec![("src_embed.embedding.weight".to_string(), Op::Same)]);
        assert_eq!(targets("generator.weight"), vec![("output.weight".to_string(), Op::Transpose)]);
        let qkv = targets("transformer.decoder.layers.1.multihead_attn.in_proj_weight");
        let names: Vec<&str> = qkv.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["decoder.layers.1.cross_attn.query.weight", "decoder.layers.1.cross_attn.key.weight", "decoder.layers.1.cross_attn.value.weight"]);
        assert_eq!(targets("transformer.encoder.layers.0.self_attn.out_proj.weight"), vec![("encoder.layers.0.self_attn.output.weight".to_string(), Op::Transpose)]);
        assert_eq!(targets("transformer.decoder.layers.0.norm3.bias"), vec![("decoder.layers.0.norm_ff.beta".to_string(), Op::Same)]);
        assert_eq!(targets("transformer.encoder.norm.weight"), vec![("encoder.norm.gamma".to_string(), Op::Same)]);
        assert!(targets("transformer.encoder.layers.0.norm3.weight").is_empty(), "an encoder layer has two norms");
        assert!(targets("transformer.encoder.layers.0.multihead_attn.in_proj_weight").is_empty());
        assert!(targets("something.else").is_empty());
    }

    #[test]
    fn thirds_and_transposes_move_the_right_numbers() {
        // in_proj_weight [3·2, 3]: rows 0-1 query, 2-3 key, 4-5 value.
        let w: Vec<f32> = (0..18).map(|x| x as f32).collect();
        let (k, shape) = apply(Op::Third(1), &w, &[6, 3]);
        assert_eq!(shape, [3, 2]);
        assert_eq!(k, [6.0, 9.0, 7.0, 10.0, 8.0, 11.0], "rows 2-3, transposed");
        let (b, shape) = apply(Op::Third(2), &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &[6]);
        assert_eq!((b, shape), (vec![4.0, 5.0], vec![2]));
        let (t, shape) = apply(Op::Transpose, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        assert_eq!((t, shape), (vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0], vec![3, 2]));
    }
}
