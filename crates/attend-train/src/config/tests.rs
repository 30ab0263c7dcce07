use std::path::Path;

use super::*;

fn set(text: &str) -> Override {
    Override::parse_set(text).unwrap()
}

fn err(task: Option<Task>, sets: &[&str]) -> String {
    let sets: Vec<Override> = sets.iter().map(|s| set(s)).collect();
    RunConfig::resolve(task, None, &sets).unwrap_err().to_string()
}

#[test]
fn sets_override_and_a_key_the_task_lacks_is_named_with_its_owners() {
    let sets = vec![set("model.d_model=256"), set("data.tokenizer=char")];
    let RunConfig::Translate(c) = RunConfig::resolve(None, None, &sets).unwrap() else { panic!("translate by default") };
    assert_eq!(c.model.d_model, 256);
    assert_eq!(c.data.tokenizer, attend_data::TokenizerKind::Char);
    let e = err(None, &["model.d_modle=128"]);
    assert!(e.contains("--set model.d_modle=128") && e.contains("model.d_modle: a translate run has no such setting"), "{e}");
    let e = err(None, &["data.fold=1"]);
    assert!(e.contains("data.fold") && e.contains("it is a setting of classify runs"), "{e}");
    let e = err(Some(Task::Classify), &["eval.samples=3"]);
    assert!(e.contains("a classify run has no [eval] section") && e.contains("translate and copy"), "{e}");
    let e = err(Some(Task::Lm), &["model.encoder_layers=3"]);
    assert!(e.contains("model.encoder_layers") && e.contains("translate and copy runs"), "{e}");
}

#[test]
fn a_value_of_the_wrong_type_names_its_key() {
    let e = err(None, &["train.lr=fast"]);
    assert!(e.contains("--set train.lr=fast") && e.contains("train.lr"), "{e}");
    let e = err(None, &["model.arch=lstmx"]);
    assert!(e.contains("model.arch") && e.contains("lstm-attention"), "{e}");
    let e = err(None, &["train.epochs=0"]);
    assert!(e.contains("train.epochs and train.max_steps are both 0"), "{e}");
}

#[test]
fn each_task_starts_from_its_own_recipe() {
    let RunConfig::Lm(lm) = RunConfig::resolve(Some(Task::Lm), None, &[]).unwrap() else { panic!() };
    assert_eq!((lm.train.max_steps, lm.train.lr, lm.train.weight_decay, lm.model.context), (2000, 1e-3, 0.1, 64));
    // A partial [train] keeps the rest of the task's own defaults, not another task's.
    let RunConfig::Lm(lm) = RunConfig::resolve(Some(Task::Lm), None, &[set("train.lr=2e-3")]).unwrap() else { panic!() };
    assert_eq!((lm.train.lr, lm.train.beta2, lm.train.schedule), (2e-3, 0.99, ScheduleKind::Cosine));
    let RunConfig::Classify(c) = RunConfig::resolve(None, None, &[set("task=classify")]).unwrap() else { panic!() };
    assert_eq!((c.train.epochs, c.data.lowercase), (8, true));
    let RunConfig::Copy(c) = RunConfig::resolve(Some(Task::Copy), None, &[]).unwrap() else { panic!() };
    assert_eq!((c.model.d_model, c.train.epochs, c.data.symbols), (64, 4, 10));
}

use crate::trainer::schedule::ScheduleKind;

#[test]
fn the_default_recipe_file_is_the_built_in_default() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/tatoeba-small.toml");
    assert_eq!(RunConfig::resolve(None, Some(&path), &[]).unwrap(), RunConfig::default());
}

#[test]
fn every_task_round_trips_through_its_saved_toml() {
    let dir = std::env::temp_dir().join(format!("attend-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for task in Task::ALL {
        let c = RunConfig::defaults(task);
        let path = dir.join(format!("{task}.toml"));
        c.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(&format!("task = \"{task}\"")), "{text}");
        assert_eq!(RunConfig::load(&path).unwrap(), c, "{task}");
        // The file is a complete config: resolving it gives it back.
        assert_eq!(RunConfig::resolve(None, Some(&path), &[]).unwrap(), c, "{task}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn section_keys_come_from_the_structs() {
    let translate = Task::Translate.sections();
    let names: Vec<&str> = translate.iter().map(|(s, _)| *s).collect();
    assert_eq!(names, ["model", "data", "train", "eval"]);
    assert!(translate[1].1.contains(&"valid_tsv"), "an Option field is a key too");
    let w2v = Task::Word2vec.sections();
    assert_eq!(w2v[0].0, "word2vec");
    assert!(w2v[0].1.contains(&"streams") && w2v[0].1.contains(&"part_decay"));
}

#[test]
fn configs_written_before_tasks_had_sections_still_load() {
    // A config.toml as the previous layout wrote it for a language model: every key of every task.
    let old = r#"
task = "lm"
[model]
arch = "gpt"
d_model = 96
n_heads = 4
d_ff = 384
encoder_layers = 2
decoder_layers = 3
dropout = 0.0
norm = "pre"
positional = "learned"
activation = "gelu"
max_len = 32
share_embeddings = false
tie_output = true
bidirectional = false
attention_score = "additive"
pooling = "mean"
bias = false
[data]
text = ["data/tinyshakespeare/train.txt"]
valid_text = "data/tinyshakespeare/valid.txt"
tokenizer = "char"
lowercase = false
min_freq = 2
max_vocab = 0
batch_by = "sentences"
batch_size = 12
bucket = true
folds = 10
ngrams = 1
[train]
seed = 7
epochs = 12
max_steps = 500
schedule = "cosine"
lr = 0.001
warmup_steps = 100
min_lr = 0.0001
beta1 = 0.9
beta2 = 0.99
epsilon = 1e-8
label_smoothing = 0.0
weight_decay = 0.1
ema = 0.0
clip_norm = 1.0
eval_every = 250
eval_every_s = 0.0
time_budget_s = 0.0
checkpoint_every = 250
bleu_sentences = 0
max_decode_len = 40
samples = 5
device = "auto"
[copy]
symbols = 10
min_len = 3
max_len = 10
train_size = 20000
valid_size = 500
"#;
    let dir = std::env::temp_dir().join(format!("attend-legacy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, old).unwrap();
    let RunConfig::Lm(c) = RunConfig::load(&path).unwrap() else { panic!("an lm run") };
    assert_eq!((c.model.d_model, c.model.layers, c.model.context, c.model.bias), (96, 3, 32, false));
    assert_eq!(c.data.train, vec![std::path::PathBuf::from("data/tinyshakespeare/train.txt")]);
    assert_eq!((c.train.seed, c.train.max_steps, c.train.epochs), (7, 500, 0));
    std::fs::remove_dir_all(&dir).unwrap();
}
