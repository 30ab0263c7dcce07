//! Property tests of what a user or a damaged disk can hand the trainer
//! besides data: `--set` overrides of any key with any value, config files
//! with random edits, a checkpoint's `state.json` and a run's `metrics.csv`.
//! Each is accepted or refused with a typed error (never a panic), quickly;
//! an accepted config survives saving and loading unchanged.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use attend_train::config::Override;
use attend_train::trainer::{checkpoint, metrics};
use attend_train::{RunConfig, Task};
use proptest::prelude::*;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("attend-robust-config-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn quick<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t0 = Instant::now();
    let out = f();
    assert!(t0.elapsed() < Duration::from_secs(1), "{what} took {:?}", t0.elapsed());
    out
}

/// Every `section.key` of `task`'s settings, with its default value.
fn keys(task: Task) -> Vec<(String, toml::Value)> {
    let value = RunConfig::defaults(task).to_value().unwrap();
    let mut out = Vec::new();
    for (section, v) in value.as_table().unwrap() {
        if let Some(t) = v.as_table() {
            for (k, v) in t {
                out.push((format!("{section}.{k}"), v.clone()));
            }
        }
    }
    out
}

/// A value as a user might type it after `=`: numbers of every size and
/// sign, non-finite ones, words, booleans, arrays and junk.
fn typed_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        (-3i64..5000).prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| format!("{v:?}")),
        (-2.0f64..2.0).prop_map(|v| format!("{v}")),
        prop::sample::select(vec!["nan", "inf", "-inf", "1e308", "1e-320", "0", "-0.0", "true", "[]", "[1, 2]", "{}", "\"\"", "''", "=", "0x10"])
            .prop_map(str::to_string),
        "[a-z_.:/ ]{0,12}",
        "\\PC{0,16}",
    ]
}

fn damage(mut bytes: Vec<u8>, edits: Vec<(usize, prop::sample::Index, u8)>) -> Vec<u8> {
    for (kind, at, byte) in edits {
        if bytes.is_empty() {
            bytes.push(byte);
            continue;
        }
        let i = at.index(bytes.len());
        match kind {
            0 => bytes[i] = byte,
            1 => bytes.insert(i, byte),
            2 => drop(bytes.remove(i)),
            _ => bytes.truncate(i),
        }
    }
    bytes
}

fn edits() -> impl Strategy<Value = Vec<(usize, prop::sample::Index, u8)>> {
    prop::collection::vec((0usize..4, any::<prop::sample::Index>(), any::<u8>()), 1..6)
}

fn task() -> impl Strategy<Value = Task> {
    prop::sample::select(Task::ALL.to_vec())
}

fn saved_and_loaded(cfg: &RunConfig, dir: &Path) -> RunConfig {
    let path = dir.join("config.toml");
    cfg.save(&path).unwrap();
    RunConfig::load(&path).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_override_is_taken_or_refused_by_name(task in task(), pick in any::<prop::sample::Index>(), value in typed_value(), junk_key in any::<bool>()) {
        let keys = keys(task);
        let key = if junk_key { "model.no_such_key".to_string() } else { keys[pick.index(keys.len())].0.clone() };
        let set = format!("{key}={value}");
        let Ok(ov) = Override::parse_set(&set) else { return Ok(()) };
        let resolved = quick(&set, || RunConfig::resolve(Some(task), None, &[ov]).and_then(|c| c.validate().map(|_| c)));
        match resolved {
            Ok(cfg) => {
                let dir = scratch("override");
                let back = saved_and_loaded(&cfg, &dir);
                prop_assert_eq!(back.to_value().unwrap(), cfg.to_value().unwrap());
            }
            Err(e) => {
                let msg = e.to_string();
                // The refusal names the key it is about (the last part of it at least).
                let leaf = key.rsplit('.').next().unwrap();
                prop_assert!(msg.contains(leaf), "`--set {}` refused without naming `{}`: {}", set, leaf, msg);
            }
        }
    }

    #[test]
    fn damaged_config_files_are_refused_or_valid(task in task(), edits in edits()) {
        let dir = scratch("damaged-config");
        let path = dir.join("config.toml");
        RunConfig::defaults(task).save(&path).unwrap();
        let bytes = damage(std::fs::read(&path).unwrap(), edits);
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(cfg) = quick("RunConfig::load", || RunConfig::load(&path)) {
            let _ = cfg.validate();
        }
    }

    #[test]
    fn damaged_train_state_is_refused_or_read(edits in edits(), step in 0usize..1_000_000) {
        let dir = scratch("state");
        let state = checkpoint::TrainState { step, ..Default::default() };
        let good = serde_json::to_vec_pretty(&state).unwrap();
        std::fs::write(dir.join("state.json"), damage(good, edits)).unwrap();
        let _ = quick("read_state", || checkpoint::read_state(&dir));
    }

    #[test]
    fn damaged_metrics_are_refused_or_read(edits in edits(), rows in 1usize..20, cut in 0usize..25) {
        let dir = scratch("metrics");
        let mut text = "step,train_s,train_loss,valid_loss,lr\n".to_string();
        for i in 1..=rows {
            text += &format!("{},{:.1},{:.4},{:.4},0.001\n", i * 10, i as f64 * 0.5, 5.0 / i as f64, 6.0 / i as f64);
        }
        let path = dir.join("metrics.csv");
        std::fs::write(&path, damage(text.into_bytes(), edits)).unwrap();
        let _ = quick("read_curve", || metrics::read_curve(&path));
        let _ = quick("truncate_after", || metrics::truncate_after(&path, cut * 10));
        let _ = quick("read_curve", || metrics::read_curve(&path));
    }
}
