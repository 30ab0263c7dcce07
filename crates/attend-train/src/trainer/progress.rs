//! The progress display of every training loop: a bar on the terminal (hidden
//! with `--quiet`), with lines printed above it.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting training steps.
pub fn steps(total: u64, show: bool) -> ProgressBar {
    bar(total, show, "{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}")
}

/// A bar counting corpus words (word2vec).
pub fn words(total: u64, show: bool) -> ProgressBar {
    bar(total, show, "{bar:30} {percent:>3}% {human_pos}/{human_len} words  {per_sec}  ETA {eta}  {msg}")
}

fn bar(total: u64, show: bool, template: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar
}

/// Prints `line` above the bar (nothing when `quiet`).
pub fn say(bar: &ProgressBar, quiet: bool, line: &str) {
    if !quiet {
        bar.suspend(|| println!("{line}"));
    }
}
