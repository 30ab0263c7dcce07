//! Run directories written before each task had sections of its own hold a
//! `config.toml` with every key of every task and a `[copy]` section. This
//! rewrites such a config into the present layout (keys a task never read
//! are dropped, renamed keys move), so that old runs still translate,
//! evaluate and resume as they did.

use toml::Value;

/// (old section, old key, new section, new key) moves, per task.
fn moves(task: &str) -> &'static [(&'static str, &'static str, &'static str, &'static str)] {
    const EVAL: [(&str, &str, &str, &str); 3] = [
        ("train", "bleu_sentences", "eval", "bleu_sentences"),
        ("train", "max_decode_len", "eval", "max_decode_len"),
        ("train", "samples", "eval", "samples"),
    ];
    match task {
        "copy" => &[
            ("train", "bleu_sentences", "eval", "bleu_sentences"),
            ("train", "max_decode_len", "eval", "max_decode_len"),
            ("train", "samples", "eval", "samples"),
            ("copy", "symbols", "data", "symbols"),
            ("copy", "min_len", "data", "min_len"),
            ("copy", "max_len", "data", "max_len"),
            ("copy", "train_size", "data", "train_size"),
            ("copy", "valid_size", "data", "valid_size"),
        ],
        "lm" => &[
            ("model", "decoder_layers", "model", "layers"),
            ("model", "max_len", "model", "context"),
            ("data", "text", "data", "train"),
            ("data", "valid_text", "data", "valid"),
        ],
        "classify" => &[
            ("model", "encoder_layers", "model", "layers"),
            ("data", "text", "data", "train"),
            ("data", "valid_text", "data", "valid"),
        ],
        _ => &EVAL,
    }
}

/// Keys that kept their name, per task and section (all others are dropped).
fn kept(task: &str, section: &str) -> &'static [&'static str] {
    const TRAIN: &[&str] = &[
        "seed", "epochs", "max_steps", "schedule", "lr", "warmup_steps", "min_lr", "beta1", "beta2", "epsilon", "weight_decay",
        "ema", "clip_norm", "label_smoothing", "eval_every", "eval_every_s", "time_budget_s", "checkpoint_every", "device",
    ];
    const SEQ2SEQ: &[&str] = &[
        "arch", "d_model", "n_heads", "d_ff", "encoder_layers", "decoder_layers", "dropout", "norm", "positional", "activation",
        "max_len", "share_embeddings", "tie_output", "bidirectional", "attention_score", "init_embeddings",
    ];
    match (task, section) {
        (_, "train") => TRAIN,
        (_, "eval") => &["bleu_sentences", "max_decode_len", "samples"],
        ("translate" | "copy", "model") => SEQ2SEQ,
        ("translate", "data") => &[
            "tsv", "src", "tgt", "valid_tsv", "valid_src", "valid_tgt", "tokenizer", "lowercase", "min_freq", "max_vocab", "batch_by",
            "batch_size", "bucket",
        ],
        ("copy", "data") => &["symbols", "min_len", "max_len", "train_size", "valid_size", "batch_by", "batch_size", "bucket"],
        ("lm", "model") => &["arch", "d_model", "n_heads", "d_ff", "layers", "dropout", "positional", "context", "bias"],
        ("lm", "data") => &["train", "valid", "tokenizer", "lowercase", "min_freq", "max_vocab", "batch_size"],
        ("classify", "model") => &[
            "arch", "d_model", "n_heads", "d_ff", "layers", "dropout", "max_len", "pooling", "bidirectional", "norm", "init_embeddings",
        ],
        ("classify", "data") => &[
            "train", "valid", "tokenizer", "lowercase", "min_freq", "max_vocab", "batch_size", "bucket", "split_seed", "fold", "folds",
            "ngrams",
        ],
        _ => &[],
    }
}

/// The present layout of `value` if it is an old config (one with a `[copy]`
/// section); other configs are returned as they are.
pub fn upgrade(value: Value) -> Value {
    let Value::Table(mut old) = value else { return value };
    if !old.contains_key("copy") {
        return Value::Table(old);
    }
    let task = old.get("task").and_then(|t| t.as_str()).unwrap_or("translate").to_string();
    for &(from, key, to, new_key) in moves(&task) {
        let moved = old.get_mut(from).and_then(|s| s.as_table_mut()).and_then(|s| s.remove(key));
        if let Some(v) = moved {
            let section = old.entry(to.to_string()).or_insert_with(|| Value::Table(Default::default()));
            if let Some(t) = section.as_table_mut() {
                t.insert(new_key.to_string(), v);
            }
        }
    }
    let mut new = toml::Table::new();
    new.insert("task".into(), Value::String(task.clone()));
    for (section, body) in old {
        let Value::Table(body) = body else { continue };
        let keep = kept(&task, &section);
        let body: toml::Table = body.into_iter().filter(|(k, _)| keep.contains(&k.as_str())).collect();
        if !body.is_empty() {
            new.insert(section, Value::Table(body));
        }
    }
    let train = new.entry("train").or_insert_with(|| Value::Table(Default::default()));
    if let Some(t) = train.as_table_mut() {
        t.entry("keep_checkpoints").or_insert(Value::Integer(2));
        match task.as_str() {
            // Language models ran `max_steps` steps whatever `epochs` said.
            "lm" => {
                t.insert("epochs".into(), Value::Integer(0));
            }
            // Classifiers checkpointed at epoch ends only.
            "classify" => {
                t.insert("checkpoint_every".into(), Value::Integer(0));
            }
            _ => {}
        }
    }
    Value::Table(new)
}
