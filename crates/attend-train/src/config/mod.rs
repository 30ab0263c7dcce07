//! The resolved configuration of a run, as TOML: `task = "…"` and the
//! sections of that task. Each task has its own sections (its structs live
//! with the task, `tasks/*/settings.rs`) with its recipe's defaults in one
//! place, the task's `Default`. A key the task does not have is an error that
//! names it and the tasks that do have it; a value of the wrong type is an
//! error that names its key. The whole resolved config is written to the run
//! directory so that `translate`, `eval` and `--resume` rebuild the same run.
//!
//! Resolution: the task's defaults ← `--config FILE` ← overrides (`--set
//! section.key=value` and the data flags), in order.

pub(crate) mod checks;
mod keys;
mod legacy;
mod train;

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use keys::{field_names, Sections};
pub use train::TrainSettings;

use crate::error::{Result, TrainError};
use crate::tasks::classify::settings::ClassifyConfig;
use crate::tasks::lm::settings::LmConfig;
use crate::tasks::spell::settings::SpellConfig;
use crate::tasks::translate::settings::{CopyConfig, TranslateConfig};
use crate::tasks::word2vec::settings::Word2vecRunConfig;

/// What a run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Translation of parallel text (encoder–decoder).
    #[default]
    Translate,
    /// Copy random strings (a quick synthetic check of the whole stack).
    Copy,
    /// Language modelling: predict the next token of a text.
    Lm,
    /// Text classification: a label per text.
    Classify,
    /// Vector → sequence: spell a word from its word vector.
    Spell,
    /// Word vectors (skip-gram or CBOW with negative sampling).
    Word2vec,
}

impl Task {
    /// Every task, in the order `--help` lists them.
    pub const ALL: [Task; 6] = [Task::Translate, Task::Copy, Task::Lm, Task::Classify, Task::Spell, Task::Word2vec];

    /// The name `task` (and `--task`) takes.
    pub fn name(self) -> &'static str {
        match self {
            Task::Translate => "translate",
            Task::Copy => "copy",
            Task::Lm => "lm",
            Task::Classify => "classify",
            Task::Spell => "spell",
            Task::Word2vec => "word2vec",
        }
    }

    /// The sections of this task's config and the keys of each.
    pub fn sections(self) -> Sections {
        fn of<M: DeserializeOwned, D: DeserializeOwned, T: DeserializeOwned>(first: &'static str) -> Sections {
            vec![(first, field_names::<M>()), ("data", field_names::<D>()), ("train", field_names::<T>())]
        }
        use crate::tasks::{classify::settings as c, lm::settings as l, spell::settings as s, translate::settings as t, word2vec::settings as w};
        let eval = ("eval", field_names::<t::EvalSettings>());
        match self {
            Task::Translate => {
                let mut v = of::<t::Seq2SeqSettings, t::PairData, TrainSettings>("model");
                v.push(eval);
                v
            }
            Task::Copy => {
                let mut v = of::<t::Seq2SeqSettings, t::CopyData, TrainSettings>("model");
                v.push(eval);
                v
            }
            Task::Lm => of::<l::LmModel, l::LmData, TrainSettings>("model"),
            Task::Classify => of::<c::ClassifierModel, c::LabeledData, TrainSettings>("model"),
            Task::Spell => of::<s::SpellModel, s::SpellData, TrainSettings>("model"),
            Task::Word2vec => of::<crate::tasks::word2vec::Word2VecConfig, w::CorpusData, w::W2vTrain>("word2vec"),
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Task {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Task::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| format!("unknown task `{s}`; use {}", Task::ALL.map(|t| t.name()).join(", ")))
    }
}

/// LayerNorm placement in a Transformer layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NormPlacement {
    /// After the residual sum (the paper).
    Post,
    /// Before each sub-layer (GPT-2; trains more stably when deep).
    Pre,
}

/// The settings of a run: its task and that task's sections.
#[derive(Debug, Clone, PartialEq)]
pub enum RunConfig {
    Translate(TranslateConfig),
    Copy(CopyConfig),
    Lm(LmConfig),
    Classify(ClassifyConfig),
    Spell(SpellConfig),
    Word2vec(Word2vecRunConfig),
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig::Translate(TranslateConfig::default())
    }
}

/// One value set on top of the config file: its key (`section.key`), its
/// value, and where it came from for error messages (`--set train.lr=…`, `--tsv`).
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    pub key: String,
    pub value: toml::Value,
    pub origin: String,
}

impl Override {
    /// Parses `section.key=value` as given to `--set` (the value is a TOML
    /// literal — `0.1`, `true`, `"word"`, `[1, 2]` — or else a bare string).
    pub fn parse_set(text: &str) -> Result<Self> {
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| TrainError::Config(format!("--set {text}: expected SECTION.KEY=VALUE")))?;
        Ok(Self { key: key.trim().to_string(), value: parse_value(value.trim()), origin: format!("--set {text}") })
    }

    /// A value set by a command-line flag such as `--tsv`.
    pub fn flag(key: &str, value: impl Into<toml::Value>, flag: &str) -> Self {
        Self { key: key.into(), value: value.into(), origin: flag.into() }
    }
}

/// Parses a `--set` value: a TOML literal (`0.1`, `true`, `"word"`), else a bare string.
pub fn parse_value(text: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

fn config_err(origin: &str, message: impl std::fmt::Display) -> TrainError {
    TrainError::Config(format!("{origin}: {message}"))
}

/// Parses a config file's text (a leading byte-order mark allowed); a syntax
/// error names the file and the line, as `file:LINE: message`.
fn parse_file(path: &Path, text: &str) -> Result<toml::Value> {
    let text = attend_data::strip_bom(text);
    toml::from_str(text).map_err(|e| {
        let origin = path.display().to_string();
        match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                config_err(&format!("{origin}:{line}"), e.message())
            }
            None => config_err(&origin, e.message()),
        }
    })
}

/// Checks that every key of `value` (a config file or one override, as a
/// table) belongs to `task`; the error names the key and the tasks that have it.
fn check_keys(value: &toml::Value, task: Task, origin: &str) -> Result<()> {
    let Some(table) = value.as_table() else { return Ok(()) };
    let sections = task.sections();
    for (section, inner) in table {
        if section == "task" {
            continue;
        }
        let Some((_, fields)) = sections.iter().find(|(s, _)| s == section) else {
            let owners = owners(section, None);
            return Err(config_err(origin, format!("a {task} run has no [{section}] section{owners}")));
        };
        let Some(inner) = inner.as_table() else {
            return Err(config_err(origin, format!("`{section}` is a section; set its keys as {section}.KEY")));
        };
        for key in inner.keys() {
            if !fields.contains(&key.as_str()) {
                let owners = owners(section, Some(key));
                return Err(config_err(origin, format!("{section}.{key}: a {task} run has no such setting{owners}")));
            }
        }
    }
    Ok(())
}

/// " (it is a setting of lm and classify runs)" for a key other tasks have.
fn owners(section: &str, key: Option<&str>) -> String {
    let have: Vec<&str> = Task::ALL
        .into_iter()
        .filter(|t| t.sections().iter().any(|(s, f)| *s == section && key.is_none_or(|k| f.contains(&k))))
        .map(Task::name)
        .collect();
    match (have.is_empty(), key) {
        (true, _) => String::new(),
        (false, Some(_)) => format!(" (it is a setting of {} runs)", have.join(" and ")),
        (false, None) => format!(" (only {} runs have one)", have.join(" and ")),
    }
}

fn set_path(root: &mut toml::Value, key: &str, value: toml::Value, origin: &str) -> Result<()> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(config_err(origin, format!("`{key}` is not a SECTION.KEY")));
    }
    let mut cur = root;
    for (i, part) in parts.iter().enumerate() {
        let table = cur.as_table_mut().ok_or_else(|| config_err(origin, format!("`{}` is not a section", parts[..i].join("."))))?;
        if i + 1 == parts.len() {
            table.insert(part.to_string(), value);
            return Ok(());
        }
        cur = table.entry(part.to_string()).or_insert_with(|| toml::Value::Table(Default::default()));
    }
    Ok(())
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Deserialises `value` as `T`; a type error names its key.
fn typed<T: DeserializeOwned>(value: &toml::Value, origin: &str) -> Result<T> {
    let text = toml::to_string(value).map_err(|e| config_err(origin, e))?;
    toml::from_str::<T>(&text).map_err(|e| {
        let key = e.span().and_then(|s| keys::key_at(&text, s.start));
        config_err(origin, format!("{}{}", key.map(|k| format!("{k}: ")).unwrap_or_default(), e.message()))
    })
}

impl RunConfig {
    /// The error for loading `run` (whose config this is) as a `wanted` run
    /// (`"translation"`, `"language-model"`, `"classification"`): it names
    /// the run's own task and, for word vectors, where they are.
    pub fn wrong_kind(&self, run: &Path, wanted: &str) -> TrainError {
        let name = self.task().name();
        let hint = match self.task() {
            Task::Word2vec => format!(
                "; its word vectors are {}: use them with attend analogy, neighbors or eval --vectors",
                run.join("vectors.bin").display()
            ),
            _ => String::new(),
        };
        TrainError::Invalid(format!("{} is a `{name}` run, not a {wanted} run{hint}", run.display()))
    }

    /// The task of this run.
    pub fn task(&self) -> Task {
        match self {
            RunConfig::Translate(_) => Task::Translate,
            RunConfig::Copy(_) => Task::Copy,
            RunConfig::Lm(_) => Task::Lm,
            RunConfig::Classify(_) => Task::Classify,
            RunConfig::Spell(_) => Task::Spell,
            RunConfig::Word2vec(_) => Task::Word2vec,
        }
    }

    /// The defaults of `task` (its recipe).
    pub fn defaults(task: Task) -> Self {
        match task {
            Task::Translate => RunConfig::Translate(Default::default()),
            Task::Copy => RunConfig::Copy(Default::default()),
            Task::Lm => RunConfig::Lm(Default::default()),
            Task::Classify => RunConfig::Classify(Default::default()),
            Task::Spell => RunConfig::Spell(Default::default()),
            Task::Word2vec => RunConfig::Word2vec(Default::default()),
        }
    }

    /// The trainer's settings (every task but word2vec, which has its own loop).
    pub fn train(&self) -> Option<&TrainSettings> {
        match self {
            RunConfig::Translate(c) => Some(&c.train),
            RunConfig::Copy(c) => Some(&c.train),
            RunConfig::Lm(c) => Some(&c.train),
            RunConfig::Classify(c) => Some(&c.train),
            RunConfig::Spell(c) => Some(&c.train),
            RunConfig::Word2vec(_) => None,
        }
    }

    /// The device spec the run trains on (`train.device`).
    pub fn device(&self) -> &str {
        match self {
            RunConfig::Word2vec(c) => &c.train.device,
            other => &other.train().expect("every other task has [train]").device,
        }
    }

    /// The config as a TOML table (`task` first, then the sections).
    pub fn to_value(&self) -> Result<toml::Value> {
        let value = match self {
            RunConfig::Translate(c) => toml::Value::try_from(c),
            RunConfig::Copy(c) => toml::Value::try_from(c),
            RunConfig::Lm(c) => toml::Value::try_from(c),
            RunConfig::Classify(c) => toml::Value::try_from(c),
            RunConfig::Spell(c) => toml::Value::try_from(c),
            RunConfig::Word2vec(c) => toml::Value::try_from(c),
        }
        .map_err(|e| TrainError::Config(e.to_string()))?;
        let mut table = toml::Table::new();
        table.insert("task".into(), toml::Value::String(self.task().name().into()));
        if let toml::Value::Table(sections) = value {
            table.extend(sections);
        }
        Ok(toml::Value::Table(table))
    }

    /// Reads a full config of `task` from a TOML table (errors name `origin` and the key).
    fn from_value(task: Task, value: &toml::Value, origin: &str) -> Result<Self> {
        let mut value = value.clone();
        if let Some(t) = value.as_table_mut() {
            t.remove("task");
        }
        Ok(match task {
            Task::Translate => RunConfig::Translate(typed(&value, origin)?),
            Task::Copy => RunConfig::Copy(typed(&value, origin)?),
            Task::Lm => RunConfig::Lm(typed(&value, origin)?),
            Task::Classify => RunConfig::Classify(typed(&value, origin)?),
            Task::Spell => RunConfig::Spell(typed(&value, origin)?),
            Task::Word2vec => RunConfig::Word2vec(typed(&value, origin)?),
        })
    }

    /// Resolves `task`'s defaults ← `file` ← `overrides` (in order). The task
    /// is `task` if given, else the file's `task` key, else `translate`.
    pub fn resolve(task: Option<Task>, file: Option<&Path>, overrides: &[Override]) -> Result<Self> {
        let file_value = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
                let v = parse_file(path, &text)?;
                Some((v, path.display().to_string()))
            }
            None => None,
        };
        let file_task = match file_value.as_ref().and_then(|(v, _)| v.get("task")) {
            Some(t) => {
                let origin = &file_value.as_ref().map(|(_, o)| o.clone()).unwrap_or_default();
                let name = t.as_str().ok_or_else(|| config_err(origin, "task: expected a string"))?;
                Some(name.parse::<Task>().map_err(|e| config_err(origin, format!("task: {e}")))?)
            }
            None => None,
        };
        let set_task = overrides.iter().rev().find(|o| o.key == "task");
        let set_task = match set_task {
            Some(o) => Some(
                o.value
                    .as_str()
                    .ok_or_else(|| config_err(&o.origin, "task: expected a name"))?
                    .parse::<Task>()
                    .map_err(|e| config_err(&o.origin, format!("task: {e}")))?,
            ),
            None => None,
        };
        let task = task.or(set_task).or(file_task).unwrap_or_default();
        let mut value = Self::defaults(task).to_value()?;
        if let Some((over, origin)) = file_value {
            check_keys(&over, task, &origin)?;
            merge(&mut value, over);
            Self::from_value(task, &value, &origin)?;
        }
        let overrides: Vec<Override> = overrides.iter().filter(|o| o.key != "task").cloned().collect();
        Self::with_overrides(task, value, &overrides)
    }

    /// `value` (a full config of `task`) with `overrides` set in order, each
    /// checked as it comes so that an error names the override at fault.
    fn with_overrides(task: Task, mut value: toml::Value, overrides: &[Override]) -> Result<Self> {
        for o in overrides {
            let mut single = toml::Value::Table(Default::default());
            set_path(&mut single, &o.key, o.value.clone(), &o.origin)?;
            check_keys(&single, task, &o.origin)?;
            set_path(&mut value, &o.key, o.value.clone(), &o.origin)?;
            Self::from_value(task, &value, &o.origin)?;
        }
        let cfg = Self::from_value(task, &value, "config")?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks what the types cannot.
    pub fn validate(&self) -> Result<()> {
        if let Some(t) = self.train() {
            t.validate().map_err(TrainError::Config)?;
        }
        match self {
            RunConfig::Translate(c) => checks::translate(c),
            RunConfig::Copy(c) => checks::copy(c),
            RunConfig::Lm(c) => checks::lm(c),
            RunConfig::Classify(c) => checks::classify(c),
            RunConfig::Spell(c) => checks::spell(c),
            RunConfig::Word2vec(c) => checks::word2vec(&c.word2vec),
        }
        .map_err(TrainError::Config)
    }

    /// Reads the resolved config a run wrote ([`RunConfig::save`]); configs
    /// written before tasks had sections of their own are read too. A saved
    /// config is complete, so it is read as it is, not over the defaults: a
    /// key it lacks is an option that was unset (TOML has no null).
    pub fn load(path: &Path) -> Result<Self> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        let value = parse_file(path, &text)?;
        let value = legacy::upgrade(value);
        let task = match value.get("task").and_then(|t| t.as_str()) {
            Some(name) => name.parse::<Task>().map_err(|e| config_err(&origin, format!("task: {e}")))?,
            None => Task::Translate,
        };
        check_keys(&value, task, &origin)?;
        Self::from_value(task, &value, &origin)
    }

    /// This config with `overrides` applied in order (e.g. the `train.*`
    /// settings a resumed run changes).
    pub fn apply(&self, overrides: &[Override]) -> Result<Self> {
        Self::with_overrides(self.task(), self.to_value()?, overrides)
    }

    /// The resolved config as TOML text.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(&self.to_value()?).map_err(|e| TrainError::Config(e.to_string()))
    }

    /// Writes the resolved config as TOML.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::trainer::checkpoint::write_atomic(path, self.to_toml()?.as_bytes())
    }
}

#[cfg(test)]
mod tests;
