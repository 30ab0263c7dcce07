//! Checks of the settings that their types cannot make, run when a config
//! is resolved, before any data is read or any tensor allocated: sizes of at
//! least 1, probabilities in [0, 1), finite rates, heads that divide the
//! width. Each error names the key (`model.dropout = 1.5: …`).

use crate::tasks::classify::settings::ClassifyConfig;
use crate::tasks::lm::settings::{LmArch, LmConfig};
use crate::tasks::spell::settings::SpellConfig;
use crate::tasks::translate::settings::{CopyConfig, EvalSettings, Seq2SeqArch, Seq2SeqSettings, TranslateConfig};
use crate::tasks::word2vec::Word2VecConfig;
use attend_model::classifier::ClassifierArch;

type Check = Result<(), String>;

/// `key` is at least 1.
pub(crate) fn at_least_one(key: &str, v: usize) -> Check {
    if v == 0 {
        return Err(format!("{key} = 0: must be at least 1"));
    }
    Ok(())
}

/// `key` is a probability of dropping: in [0, 1).
pub(crate) fn dropout(key: &str, p: f64) -> Check {
    if !(0.0..1.0).contains(&p) {
        return Err(format!("{key} = {p}: a dropout probability must be in [0, 1)"));
    }
    Ok(())
}

/// `key` is a finite number above 0.
pub(crate) fn finite_positive(key: &str, v: f64) -> Check {
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("{key} = {v}: must be a finite number above 0"));
    }
    Ok(())
}

/// `key` is a finite number, 0 or above.
pub(crate) fn finite_non_negative(key: &str, v: f64) -> Check {
    if !(v.is_finite() && v >= 0.0) {
        return Err(format!("{key} = {v}: must be a finite number, 0 or above"));
    }
    Ok(())
}

/// `width` splits evenly over `heads`.
fn heads(width_key: &str, width: usize, heads_key: &str, heads: usize) -> Check {
    at_least_one(heads_key, heads)?;
    if width % heads != 0 {
        return Err(format!("{width_key} = {width} is not divisible by {heads_key} = {heads}"));
    }
    Ok(())
}

fn seq2seq(m: &Seq2SeqSettings) -> Check {
    at_least_one("model.d_model", m.d_model)?;
    at_least_one("model.encoder_layers", m.encoder_layers)?;
    at_least_one("model.decoder_layers", m.decoder_layers)?;
    at_least_one("model.max_len", m.max_len)?;
    dropout("model.dropout", m.dropout)?;
    if m.arch == Seq2SeqArch::Transformer {
        heads("model.d_model", m.d_model, "model.n_heads", m.n_heads)?;
        at_least_one("model.d_ff", m.d_ff)?;
    }
    Ok(())
}

fn eval(e: &EvalSettings) -> Check {
    at_least_one("eval.max_decode_len", e.max_decode_len)
}

/// A translation run's settings.
pub(crate) fn translate(c: &TranslateConfig) -> Check {
    seq2seq(&c.model)?;
    at_least_one("data.batch_size", c.data.batch_size)?;
    let run = crate::tasks::translate::data::Seq2SeqRun::from(c);
    subword_settings(run.tokenizers().0, c.model.init_embeddings.is_some())?;
    if c.data.tgt_tokenizer_file.is_some() && c.data.tokenizer_file.is_none() {
        return Err("data.tgt_tokenizer_file needs data.tokenizer_file (the source side's)".into());
    }
    eval(&c.eval)
}

/// A subword vocabulary leaves room for the 256 bytes; word vectors are for word tokens.
fn subword_settings(choice: crate::tasks::subwords::TokenizerChoice, init_embeddings: bool) -> Check {
    if choice.kind.subword().is_some() && choice.vocab_size <= 256 {
        return Err(format!("data.vocab_size = {}: a byte-level subword vocabulary needs more than 256 tokens (one per byte)", choice.vocab_size));
    }
    if choice.is_subword() && init_embeddings {
        return Err("model.init_embeddings gives word vectors, which need word tokens: set data.tokenizer = \"word\"".into());
    }
    Ok(())
}

/// A copy-task run's settings.
pub(crate) fn copy(c: &CopyConfig) -> Check {
    seq2seq(&c.model)?;
    let d = &c.data;
    at_least_one("data.batch_size", d.batch_size)?;
    at_least_one("data.train_size", d.train_size)?;
    at_least_one("data.valid_size", d.valid_size)?;
    at_least_one("data.min_len", d.min_len)?;
    if !(2..=52).contains(&d.symbols) {
        return Err(format!("data.symbols = {}: must be between 2 and 52 (letters)", d.symbols));
    }
    if d.max_len < d.min_len {
        return Err(format!("data.max_len = {} is below data.min_len = {}", d.max_len, d.min_len));
    }
    if d.max_len > c.model.max_len {
        return Err(format!(
            "data.max_len = {} exceeds model.max_len = {}: the longer strings could never be trained on",
            d.max_len, c.model.max_len
        ));
    }
    // The generated strings, their token ids and batches: about 16 bytes per
    // symbol and 128 per pair, refused before they are drawn.
    let pairs = d.train_size as u128 + d.valid_size as u128;
    let what = format!("the copy task's strings (data.train_size = {}, data.valid_size = {}, data.max_len = {})", d.train_size, d.valid_size, d.max_len);
    attend_model::size::check_room(pairs.saturating_mul(16 * d.max_len as u128 + 128), &what).map_err(|e| e.to_string())?;
    eval(&c.eval)
}

/// A language model's settings.
pub(crate) fn lm(c: &LmConfig) -> Check {
    let m = &c.model;
    at_least_one("model.d_model", m.d_model)?;
    at_least_one("model.layers", m.layers)?;
    at_least_one("model.context", m.context)?;
    dropout("model.dropout", m.dropout)?;
    if m.arch == LmArch::Gpt {
        heads("model.d_model", m.d_model, "model.n_heads", m.n_heads)?;
        at_least_one("model.d_ff", m.d_ff)?;
    }
    at_least_one("data.batch_size", c.data.batch_size)?;
    // One batch's hidden states alone (batch × context × d_model floats), a
    // bound below what a step needs: refused before the first batch is drawn.
    let what = format!(
        "one batch's hidden states (data.batch_size = {}, model.context = {}, model.d_model = {})",
        c.data.batch_size, m.context, m.d_model
    );
    let floats = (c.data.batch_size as u128).saturating_mul(m.context as u128).saturating_mul(m.d_model as u128);
    attend_model::size::check_room(floats.saturating_mul(4), &what).map_err(|e| e.to_string())
}

/// A classifier's settings.
pub(crate) fn classify(c: &ClassifyConfig) -> Check {
    let m = &c.model;
    at_least_one("model.d_model", m.d_model)?;
    at_least_one("model.max_len", m.max_len)?;
    dropout("model.dropout", m.dropout)?;
    if m.arch != ClassifierArch::Bag {
        at_least_one("model.layers", m.layers)?;
    }
    if m.arch == ClassifierArch::Transformer {
        heads("model.d_model", m.d_model, "model.n_heads", m.n_heads)?;
        at_least_one("model.d_ff", m.d_ff)?;
    }
    let d = &c.data;
    at_least_one("data.batch_size", d.batch_size)?;
    at_least_one("data.ngrams", d.ngrams)?;
    subword_settings(crate::tasks::classify::data::tokenizer_choice(d), m.init_embeddings.is_some())?;
    if let Some(fold) = d.fold {
        if d.folds < 2 || fold >= d.folds {
            return Err(format!("data.fold = {fold}, data.folds = {}: need 2 or more folds and a fold below their number", d.folds));
        }
    }
    Ok(())
}

/// A speller's settings.
pub(crate) fn spell(c: &SpellConfig) -> Check {
    at_least_one("model.d_hidden", c.model.d_hidden)?;
    dropout("model.dropout", c.model.dropout)?;
    at_least_one("data.max_len", c.data.max_len)?;
    at_least_one("data.batch_size", c.data.batch_size)?;
    if !(c.data.valid_fraction > 0.0 && c.data.valid_fraction < 1.0) {
        return Err(format!("data.valid_fraction = {}: must be above 0 and below 1", c.data.valid_fraction));
    }
    Ok(())
}

/// The most noise words per example word2vec draws (Mikolov et al. use
/// 5–20; past this an update costs more than a thousand dot products).
pub const MAX_NEGATIVE: usize = 1000;

/// The most worker threads word2vec starts (each holds its own buffers).
pub const MAX_THREADS: usize = 1024;

/// The most parts word2vec reads its corpus in, side by side.
pub const MAX_STREAMS: usize = 65_536;

/// word2vec's settings.
pub(crate) fn word2vec(w: &Word2VecConfig) -> Check {
    for (key, v) in [
        ("word2vec.dim", w.dim),
        ("word2vec.window", w.window),
        ("word2vec.epochs", w.epochs),
        ("word2vec.threads", w.threads),
        ("word2vec.batch", w.batch),
        ("word2vec.job_words", w.job_words),
        ("word2vec.streams", w.streams),
    ] {
        at_least_one(key, v)?;
    }
    if w.negative > MAX_NEGATIVE {
        return Err(format!("word2vec.negative = {}: at most {MAX_NEGATIVE} noise words per example (5 to 20 is usual)", w.negative));
    }
    if w.threads > MAX_THREADS {
        return Err(format!("word2vec.threads = {}: at most {MAX_THREADS} (one per core is best)", w.threads));
    }
    if w.streams > MAX_STREAMS {
        return Err(format!("word2vec.streams = {}: at most {MAX_STREAMS} parts of the corpus read side by side", w.streams));
    }
    finite_positive("word2vec.alpha", w.alpha)?;
    finite_non_negative("word2vec.min_alpha", w.min_alpha)?;
    if w.min_alpha > w.alpha {
        return Err(format!("word2vec.min_alpha = {} is above word2vec.alpha = {}", w.min_alpha, w.alpha));
    }
    finite_non_negative("word2vec.sample", w.sample)?;
    if !w.ns_exponent.is_finite() {
        return Err(format!("word2vec.ns_exponent = {}: must be a finite number", w.ns_exponent));
    }
    Ok(())
}
