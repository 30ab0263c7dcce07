//! `attend translate`, and `attend eval` of a translation run (corpus BLEU).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use attend::model::AttentionPick;
use attend::train::tasks::translate::settings::Seq2SeqArch;
use attend::train::LoadedRun;
use clap::Args;

#[derive(Args)]
pub struct TranslateArgs {
    /// The run directory of a trained model.
    #[arg(long, value_name = "RUN_DIR")]
    run: PathBuf,
    /// Sentences to translate; without any, lines are read from stdin.
    text: Vec<String>,
    #[command(flatten)]
    device: crate::DeviceArg,
    #[command(flatten)]
    decode: crate::DecodeArgs,
    /// Draw the cross-attention of each translation as a PNG heatmap (source across,
    /// target down); with several sentences, FILE-1.png, FILE-2.png, ….
    #[arg(long, value_name = "FILE.png", conflicts_with = "beam")]
    attention: Option<PathBuf>,
    /// Transformer: the decoder layer (0-based) to draw; default: the mean of all layers and heads.
    #[arg(long, value_name = "N", requires = "attention")]
    layer: Option<usize>,
    /// Transformer: the head (0-based) of --layer to draw; default: the mean of its heads.
    #[arg(long, value_name = "N", requires = "layer")]
    head: Option<usize>,
}

fn load(run: &Path, device: &crate::DeviceArg, decode: &crate::DecodeArgs) -> Result<LoadedRun> {
    let dev = crate::run_device(run, device)?;
    let mut loaded = LoadedRun::load(run, &dev).with_context(|| format!("loading run {}", run.display()))?;
    loaded.beam = decode.beam()?;
    Ok(loaded)
}

pub fn cmd_translate(a: TranslateArgs) -> Result<ExitCode> {
    let run = load(&a.run, &a.device, &a.decode)?;
    let sentences = crate::or_stdin(&a.text)?;
    let m = run.view().model;
    if let Some(layer) = a.layer {
        if m.arch != Seq2SeqArch::Transformer {
            bail!("--layer: only the Transformer has several attention layers; this run is {}", m.arch);
        }
        if layer >= m.decoder_layers {
            bail!("--layer {layer}: the model has {} decoder layers (counted from 0)", m.decoder_layers);
        }
    }
    if let Some(head) = a.head {
        if head >= m.n_heads {
            bail!("--head {head}: the model has {} heads (counted from 0)", m.n_heads);
        }
    }
    let pick = a.attention.as_ref().map(|_| match a.layer {
        Some(layer) => AttentionPick::LayerHead { layer, head: a.head },
        None => AttentionPick::Mean,
    });
    let (out, decoded) = run.translate(&sentences, pick)?;
    for line in &out {
        println!("{line}");
    }
    let Some(path) = &a.attention else { return Ok(ExitCode::SUCCESS) };
    let Some(weights) = decoded.attention else {
        bail!("--attention: this model ({}) has no attention to draw", m.arch);
    };
    for (i, sentence) in sentences.iter().enumerate() {
        let file = if sentences.len() == 1 {
            path.clone()
        } else {
            let stem = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
            path.with_file_name(format!("{stem}-{}.png", i + 1))
        };
        let (Some(rows), Some(ids)) = (weights.get(i), decoded.ids.get(i)) else { continue };
        let source = run.source_tokens(sentence);
        let mut target: Vec<String> = run.target_tokens(ids);
        target.truncate(rows.len());
        let title = format!("{} → {}", sentence, out[i]);
        attend::train::plot::attention_heatmap(&file, &source, &target, rows, &title)?;
        eprintln!("attention written to {}", file.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `attend eval --run RUN --src FILE --ref FILE` (or `--tsv FILE`): corpus BLEU and chrF.
pub fn eval_bleu(run_dir: &Path, pairs: &[attend::data::Pair], device: &crate::DeviceArg, decode: &crate::DecodeArgs) -> Result<ExitCode> {
    let run = load(run_dir, device, decode)?;
    let srcs: Vec<String> = pairs.iter().map(|p| p.src.clone()).collect();
    let refs: Vec<String> = pairs.iter().map(|p| p.tgt.clone()).collect();
    let (scores, distinct) = run.scores(&srcs, &refs)?;
    let decoding = match run.beam {
        Some(b) => format!("beam {}, length penalty {}", b.size, b.length_penalty),
        None => "greedy".into(),
    };
    let b = &scores.bleu;
    println!(
        "BLEU {:.2}  ({} sentences, {} distinct sources; {decoding}; precisions {}; sys_len {} ref_len {})",
        b.score,
        pairs.len(),
        distinct,
        scores.precisions(),
        b.sys_len,
        b.ref_len
    );
    println!("{}", scores.other_scores_and_signatures());
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct ScoreArgs {
    /// Translations, one per line.
    #[arg(long, value_name = "FILE")]
    hyp: PathBuf,
    /// References, line-aligned with --hyp; repeat for several references per sentence.
    #[arg(long = "ref", value_name = "FILE", required = true, num_args = 1..)]
    refs: Vec<PathBuf>,
}

/// Lines of `path` (blank lines kept: an empty translation is a translation).
fn lines(path: &Path, flag: &str) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{flag} {}", path.display()))?;
    let mut v: Vec<String> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l).to_string()).collect();
    if v.last().is_some_and(|l| l.is_empty()) {
        v.pop();
    }
    Ok(v)
}

/// `attend score --hyp FILE --ref FILE...`: BLEU and chrF of any translations, no model needed.
pub fn cmd_score(a: ScoreArgs) -> Result<ExitCode> {
    let hyps = lines(&a.hyp, "--hyp")?;
    let mut per_segment: Vec<Vec<String>> = vec![Vec::new(); hyps.len()];
    for r in &a.refs {
        let refs = lines(r, "--ref")?;
        if refs.len() != hyps.len() {
            bail!("--ref {} has {} lines, --hyp {} has {}", r.display(), refs.len(), a.hyp.display(), hyps.len());
        }
        for (seg, line) in per_segment.iter_mut().zip(refs) {
            seg.push(line);
        }
    }
    let scores = attend::train::tasks::translate::score::score(&hyps, &per_segment);
    let b = &scores.bleu;
    println!(
        "BLEU {:.2}  ({} sentences; precisions {}; sys_len {} ref_len {})",
        b.score,
        hyps.len(),
        scores.precisions(),
        b.sys_len,
        b.ref_len
    );
    println!("{}", scores.other_scores_and_signatures());
    Ok(ExitCode::SUCCESS)
}
