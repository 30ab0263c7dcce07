//! Weights that travel: `attend export` writes a run's best weights as
//! safetensors (Hugging Face's format: a JSON header naming each tensor's
//! dtype, shape and byte range, then the raw little-endian data) with the
//! run's config and data files beside them; `attend import` builds a run
//! back from such a directory, which translate, eval, serve… load like any
//! other. Tensor names are the module paths of attend's models
//! (`encoder.layers.0.self_attn.query.weight`, …), listed with their shapes
//! in `tensors.tsv`; docs/serving.md documents them. Linear weights are
//! stored as Burn keeps them, `[in, out]` (PyTorch's `nn.Linear` is `[out, in]`).

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use burn_store::{ApplyResult, ModuleSnapshot, SafetensorsStore};

use super::runs::{own_files, with_model, write_run, WithModel};
use crate::error::{Result, TrainError};
use crate::trainer::checkpoint::{self, TrainState};
use crate::trainer::run_dir;

/// The weights file of an exported run.
pub const SAFETENSORS: &str = "model.safetensors";
/// The list of its tensors: name, dtype and shape, tab-separated.
pub const TENSORS: &str = "tensors.tsv";

/// What [`export_run`] wrote.
#[derive(Debug, Clone)]
pub struct Exported {
    pub out: PathBuf,
    /// Tensors in the safetensors file.
    pub tensors: usize,
    /// Parameters (numbers) in them.
    pub parameters: usize,
}

fn store_err(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::Checkpoint { path: path.into(), reason: e.to_string() }
}

/// Loads the weights file `weights` and returns it as safetensors bytes and
/// the `tensors.tsv` listing.
struct ToSafetensors<'a> {
    weights: &'a Path,
    task: String,
}

impl WithModel for ToSafetensors<'_> {
    type Out = (Vec<u8>, String, usize, usize);
    fn with<M: Module>(self, init: impl Fn() -> Result<M>) -> Result<Self::Out> {
        let model = checkpoint::load_model(init()?, self.weights)?;
        let tensors = model.collect(None, None, true);
        let mut listing = String::from("name\tdtype\tshape\n");
        for t in &tensors {
            let dims: Vec<String> = t.shape.iter().map(|d| d.to_string()).collect();
            listing.push_str(&format!("{}\t{:?}\t[{}]\n", t.name, t.dtype, dims.join(", ")));
        }
        let mut store = SafetensorsStore::from_bytes(None)
            .metadata("format", "attend")
            .metadata("attend_task", self.task)
            .metadata("attend_version", env!("CARGO_PKG_VERSION"))
            .skip_enum_variants(true);
        model.save_into(&mut store).map_err(|e| store_err(Path::new(SAFETENSORS), e))?;
        let bytes = store.get_bytes().map_err(|e| store_err(Path::new(SAFETENSORS), e))?;
        Ok((bytes, listing, tensors.len(), model.num_params()))
    }
}

/// Writes the best weights of `run` (its `best/`, else the newest checkpoint)
/// as `out/model.safetensors`, with `tensors.tsv`, the run's config and its
/// data files. `out` must not exist yet (or be empty).
pub fn export_run(run: &Path, out: &Path, device: &Device) -> Result<Exported> {
    let cfg = run_dir::config(run)?;
    let weights = run_dir::weights_dir(run)?.join("model.bpk");
    if std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some()) {
        return Err(TrainError::Config(format!("--out {}: exists and is not empty; give a new directory", out.display())));
    }
    let (bytes, listing, tensors, parameters) = with_model(&cfg, run, device, ToSafetensors { weights: &weights, task: cfg.task().to_string() })?;
    let mut files: Vec<(String, Vec<u8>)> = own_files(run, &[])?;
    files.push((run_dir::CONFIG.to_string(), cfg.to_toml()?.into_bytes()));
    files.push((SAFETENSORS.to_string(), bytes));
    files.push((TENSORS.to_string(), listing.into_bytes()));
    let (names, contents): (Vec<String>, Vec<Vec<u8>>) = files.into_iter().unzip();
    let refs: Vec<(&str, Vec<u8>)> = names.iter().map(String::as_str).zip(contents).collect();
    checkpoint::write_dir(out, &refs)?;
    Ok(Exported { out: out.to_path_buf(), tensors, parameters })
}

/// `path`'s weights do not fit the model the config describes (`detail`, at most 600 characters).
fn misfit(path: &Path, detail: String) -> TrainError {
    let detail = if detail.chars().count() > 600 { format!("{}…", detail.chars().take(600).collect::<String>()) } else { detail };
    store_err(path, format!("does not fit the model its config.toml describes: {detail}"))
}

/// An error naming what did not fit when `path`'s tensors were loaded into a
/// model: the model's tensors it lacked, its tensors the model lacks, shapes.
pub(crate) fn check_fit(path: &Path, result: &ApplyResult) -> Result<()> {
    let mut problems: Vec<String> = Vec::new();
    if !result.missing.is_empty() {
        let names: Vec<&str> = result.missing.iter().map(|(p, _)| p.as_str()).collect();
        problems.push(format!("missing tensors: {}", names.join(", ")));
    }
    if !result.unused.is_empty() {
        problems.push(format!("tensors this model does not have: {}", result.unused.join(", ")));
    }
    if !result.errors.is_empty() {
        problems.push(result.errors.iter().map(|e| format!("{e:?}")).collect::<Vec<_>>().join("; "));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(misfit(path, problems.join("; ")))
    }
}

/// Reads `path` (safetensors) into the run's freshly built model: every
/// tensor of the model must be there with its shape, and nothing else.
struct FromSafetensors<'a> {
    path: &'a Path,
}

impl WithModel for FromSafetensors<'_> {
    type Out = Vec<u8>;
    fn with<M: Module>(self, init: impl Fn() -> Result<M>) -> Result<Vec<u8>> {
        let bytes = std::fs::read(self.path).map_err(|e| TrainError::io(self.path, e))?;
        let mut model = init()?;
        let mut store = SafetensorsStore::from_bytes(Some(bytes)).skip_enum_variants(true).allow_partial(true);
        let result = model.load_from(&mut store).map_err(|e| misfit(self.path, e.to_string()))?;
        check_fit(self.path, &result)?;
        checkpoint::model_bytes(&model)
    }
}

/// Builds a run at `out` from an exported directory `from` (its config.toml,
/// data files and model.safetensors).
pub fn import_run(from: &Path, out: &Path, device: &Device) -> Result<PathBuf> {
    let cfg = run_dir::config(from)?;
    crate::trainer::integrity::verify(from)?;
    let path = from.join(SAFETENSORS);
    if !path.exists() {
        return Err(TrainError::Config(format!("--from {}: no {SAFETENSORS} in it", from.display())));
    }
    let bytes = with_model(&cfg, from, device, FromSafetensors { path: &path })?;
    let files = own_files(from, &[SAFETENSORS, TENSORS])?;
    write_run(out, &cfg, &files, bytes, &TrainState::default())?;
    Ok(out.to_path_buf())
}
