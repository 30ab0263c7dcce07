//! Text generation with a decoder-only language model: temperature, top-k
//! (Fan et al., 2018) and nucleus / top-p sampling (Holtzman et al., 2020),
//! seeded so that a seed reproduces the same text, with or without the
//! key/value cache.
//!
//! The context window: the model sees at most `context` tokens. When a new
//! token would overflow it, the window jumps forward to keep the newest half
//! (the cache is then rebuilt from those tokens). Cached and uncached
//! generation follow the same rule, so they compute the same logits.

use attend_model::{LanguageModel, LmCache};
use burn::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::{Result, TrainError};

/// How the next token is chosen from the logits.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingConfig {
    /// Divides the logits; 0 means greedy (always the most likely token).
    pub temperature: f32,
    /// Keep only the k most likely tokens (0 = all).
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose probability reaches p (1 = all).
    pub top_p: f32,
    /// Seed of the sampler.
    pub seed: u64,
    /// Tokens never to produce (e.g. `<pad>`, `<bos>`, `<eos>`, which no text contains).
    pub banned: Vec<u32>,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self { temperature: 1.0, top_k: 0, top_p: 1.0, seed: 0, banned: Vec::new() }
    }
}

impl SamplingConfig {
    /// Sampling for text: `<pad>`, `<bos>` and `<eos>`, which no text contains, are never produced.
    pub fn for_text(temperature: f32, top_k: usize, top_p: f32, seed: u64) -> Self {
        Self { temperature, top_k, top_p, seed, banned: vec![attend_data::PAD, attend_data::BOS, attend_data::EOS] }
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(TrainError::Config(format!("--temperature {} must be >= 0", self.temperature)));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(TrainError::Config(format!("--top-p {} must be in (0, 1]", self.top_p)));
        }
        Ok(())
    }
}

/// Picks a token from one row of logits.
pub fn pick(logits: &[f32], s: &SamplingConfig, rng: &mut StdRng) -> u32 {
    let mut masked;
    let logits = if s.banned.is_empty() {
        logits
    } else {
        masked = logits.to_vec();
        for &b in &s.banned {
            if let Some(x) = masked.get_mut(b as usize) {
                *x = f32::NEG_INFINITY;
            }
        }
        &masked[..]
    };
    let argmax = || logits.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (i, &x)| if x > b.1 { (i, x) } else { b }).0 as u32;
    if s.temperature == 0.0 {
        return argmax();
    }
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    if s.top_k > 0 {
        order.truncate(s.top_k);
    }
    let max = logits[order[0]];
    let mut probs: Vec<f64> = order.iter().map(|&i| (((logits[i] - max) / s.temperature) as f64).exp()).collect();
    let sum: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= sum);
    if s.top_p < 1.0 {
        let mut cum = 0.0;
        let keep = probs.iter().position(|p| {
            cum += p;
            cum >= s.top_p as f64
        });
        let keep = keep.map_or(probs.len(), |k| k + 1);
        probs.truncate(keep);
        order.truncate(keep);
        let sum: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= sum);
    }
    let mut u: f64 = rng.random();
    for (k, p) in probs.iter().enumerate() {
        if u < *p {
            return order[k] as u32;
        }
        u -= p;
    }
    order[probs.len() - 1] as u32
}

fn ids_tensor(ids: &[u32], device: &Device) -> Tensor<2, Int> {
    let v: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(v, [1, ids.len()]), device)
}

fn last_row(logits: Tensor<3>) -> Result<Vec<f32>> {
    let [_, n, v] = logits.dims();
    logits.slice([0..1, n - 1..n, 0..v]).try_into_vec_as::<f32>().map_err(|e| TrainError::Device(format!("{e:?}")))
}

/// Generates `max_tokens` tokens after `prompt` (at least one token), calling
/// `on_token(token, logits)` as each is chosen, so that a caller can print it
/// at once. With `cached` the key/value cache is used; the output is the same.
pub fn generate(
    model: &LanguageModel,
    prompt: &[u32],
    max_tokens: usize,
    sampling: &SamplingConfig,
    cached: bool,
    device: &Device,
    mut on_token: impl FnMut(u32, &[f32]),
) -> Result<Vec<u32>> {
    generate_while(model, prompt, max_tokens, sampling, cached, device, |t, l| {
        on_token(t, l);
        true
    })
}

/// [`generate`], stopping early as soon as `on_token` returns `false` (a
/// server's client went away); the tokens chosen so far are returned.
pub fn generate_while(
    model: &LanguageModel,
    prompt: &[u32],
    max_tokens: usize,
    sampling: &SamplingConfig,
    cached: bool,
    device: &Device,
    mut on_token: impl FnMut(u32, &[f32]) -> bool,
) -> Result<Vec<u32>> {
    sampling.validate()?;
    if prompt.is_empty() {
        return Err(TrainError::Config("the prompt must have at least one token".into()));
    }
    let ctx = model.context();
    let keep = (ctx / 2).max(1);
    let windowed = model.windowed();
    let mut rng = StdRng::seed_from_u64(sampling.seed);
    let mut seq: Vec<u32> = prompt.to_vec();
    // The window of `seq` the model sees starts at `start` (always 0 for a
    // recurrent model, whose state holds the whole past).
    let mut start = if windowed { seq.len().saturating_sub(ctx) } else { 0 };
    let mut cache: Option<LmCache> = None;
    // Tokens of the window already fed to the cache.
    let mut fed = 0;
    let mut out = Vec::with_capacity(max_tokens);
    for _ in 0..max_tokens {
        let logits = if cached {
            let l = model.forward_cached(ids_tensor(&seq[start + fed..], device), &mut cache)?;
            fed = seq.len() - start;
            last_row(l)?
        } else {
            last_row(model.forward(ids_tensor(&seq[start..], device))?)?
        };
        let token = pick(&logits, sampling, &mut rng);
        let go_on = on_token(token, &logits);
        out.push(token);
        seq.push(token);
        if !go_on {
            break;
        }
        if windowed && seq.len() - start > ctx {
            start = seq.len() - keep;
            cache = None;
            fed = 0;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_top_k_and_top_p_restrict_the_choice() {
        let logits = [0.0f32, 3.0, 1.0, 2.9];
        let mut rng = StdRng::seed_from_u64(1);
        let greedy = SamplingConfig { temperature: 0.0, ..Default::default() };
        assert_eq!(pick(&logits, &greedy, &mut rng), 1);
        let top2 = SamplingConfig { top_k: 2, ..Default::default() };
        let top_p = SamplingConfig { top_p: 0.4, ..Default::default() };
        for _ in 0..200 {
            assert!(matches!(pick(&logits, &top2, &mut rng), 1 | 3));
            assert_eq!(pick(&logits, &top_p, &mut rng), 1, "token 1 alone holds 48 % ≥ 40 %");
        }
        let banned = SamplingConfig { temperature: 0.0, banned: vec![1], ..Default::default() };
        assert_eq!(pick(&logits, &banned, &mut rng), 3);
        let all = SamplingConfig::default();
        let mut seen = [0; 4];
        for _ in 0..2000 {
            seen[pick(&logits, &all, &mut rng) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 0), "{seen:?}");
        assert!(SamplingConfig { top_p: 0.0, ..Default::default() }.validate().is_err());
    }
}
