//! The served models. Each run gets one worker thread that loads it and owns
//! it for the server's life (Burn modules are used by one thread at a time);
//! requests reach it through a bounded queue and are answered through a
//! one-shot channel. Translators and classifiers answer in dynamic batches
//! ([`crate::batch`]); a language model generates for one request at a time,
//! streaming its tokens.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::time::Instant;

use attend_model::{AttentionPick, BeamOptions};
use attend_train::tasks::classify::ensemble::Ensemble;
use attend_train::tasks::lm::generate::{generate_while, SamplingConfig};
use attend_train::tasks::lm::load_lm;
use attend_train::trainer::run_dir;
use attend_train::{LoadedRun, RunConfig};
use burn::module::Module;
use burn::prelude::Device;
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot};

use crate::api::{ClassifyRequest, GenerateRequest, TranslateRequest};
use crate::batch::{next_batch, split, Batching};
use crate::error::{ApiError, ServeError};

/// What a served model does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Translate,
    Generate,
    Classify,
}

impl Kind {
    /// The endpoint's name (`/v1/<name>`), also the kind shown by `/v1/models`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Translate => "translate",
            Kind::Generate => "generate",
            Kind::Classify => "classify",
        }
    }

    /// What a model of this kind is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Translate => "translator",
            Kind::Generate => "language model",
            Kind::Classify => "classifier",
        }
    }
}

/// Where a translate or classify request's answer goes.
pub type Reply = oneshot::Sender<Result<Vec<Value>, ApiError>>;

/// A translate request on its way to the worker.
pub struct TranslateJob {
    pub req: TranslateRequest,
    pub reply: Reply,
}

/// A classify request on its way to the worker.
pub struct ClassifyJob {
    pub req: ClassifyRequest,
    pub reply: Reply,
}

/// One event of a streamed generation.
#[derive(Debug, Clone, PartialEq)]
pub enum GenEvent {
    /// A piece of text (one token, detokenised).
    Token(String),
    /// The end: tokens generated and seconds taken.
    Done { tokens: usize, seconds: f64 },
    /// The model failed after the stream began.
    Error(String),
}

/// A generate request: `accepted` answers once the prompt is read (or refused),
/// then `events` carries the stream.
pub struct GenerateJob {
    pub req: GenerateRequest,
    pub accepted: oneshot::Sender<Result<(), ApiError>>,
    pub events: mpsc::Sender<GenEvent>,
}

enum Queue {
    Translate(SyncSender<TranslateJob>),
    Generate(SyncSender<GenerateJob>),
    Classify(SyncSender<ClassifyJob>),
}

/// A model being served.
pub struct Served {
    pub name: String,
    pub kind: Kind,
    /// What `/v1/models` says of it (architecture, sizes, labels…).
    pub info: Value,
    queue: Queue,
}

fn busy<T>(e: TrySendError<T>, name: &str) -> ApiError {
    match e {
        TrySendError::Full(_) => ApiError::busy(format!("model {name:?} is busy: its queue is full; retry shortly"), 1),
        TrySendError::Disconnected(_) => ApiError::internal(format!("model {name:?} has stopped")),
    }
}

impl Served {
    /// Queues a translation (503 when the queue is full).
    pub fn translate(&self, job: TranslateJob) -> Result<(), ApiError> {
        match &self.queue {
            Queue::Translate(q) => q.try_send(job).map_err(|e| busy(e, &self.name)),
            _ => Err(ApiError::internal("not a translator")),
        }
    }

    /// Queues a generation (503 when the queue is full).
    pub fn generate(&self, job: GenerateJob) -> Result<(), ApiError> {
        match &self.queue {
            Queue::Generate(q) => q.try_send(job).map_err(|e| busy(e, &self.name)),
            _ => Err(ApiError::internal("not a language model")),
        }
    }

    /// Queues a classification (503 when the queue is full).
    pub fn classify(&self, job: ClassifyJob) -> Result<(), ApiError> {
        match &self.queue {
            Queue::Classify(q) => q.try_send(job).map_err(|e| busy(e, &self.name)),
            _ => Err(ApiError::internal("not a classifier")),
        }
    }
}

/// The name a run is served under: its directory's name.
fn run_name(run: &Path) -> String {
    let full = std::fs::canonicalize(run).unwrap_or_else(|_| run.to_path_buf());
    full.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| run.display().to_string())
}

/// Loads every run on `device`, each in its own worker thread (in parallel),
/// and returns them once all are ready, or the first failure.
pub fn start(runs: &[PathBuf], device: &Device, batching: &Batching) -> Result<Vec<Served>, ServeError> {
    let fail = |run: &Path, message: String| ServeError::Run { run: run.display().to_string(), message };
    let mut names: Vec<(String, &PathBuf)> = Vec::new();
    let mut loading = Vec::new();
    for run in runs {
        let name = run_name(run);
        if let Some((_, first)) = names.iter().find(|(n, _)| *n == name) {
            return Err(ServeError::DuplicateName { name, first: first.display().to_string(), second: run.display().to_string() });
        }
        names.push((name.clone(), run));
        let config = run_dir::config(run).map_err(|e| fail(run, e.to_string()))?;
        let kind = match config {
            RunConfig::Translate(_) | RunConfig::Copy(_) => Kind::Translate,
            RunConfig::Lm(_) => Kind::Generate,
            RunConfig::Classify(_) => Kind::Classify,
            other => {
                return Err(fail(
                    run,
                    format!("a {} run; attend serve serves translation, language-model and classification runs", other.task()),
                ))
            }
        };
        let (ready_tx, ready_rx) = sync_channel::<Result<Value, String>>(1);
        let (dir, dev, b) = (run.clone(), device.clone(), batching.clone());
        let queue = match kind {
            Kind::Translate => {
                let (tx, rx) = sync_channel(batching.max_queue);
                spawn(&name, move || translate_worker(&dir, &dev, rx, &b, ready_tx))?;
                Queue::Translate(tx)
            }
            Kind::Generate => {
                let (tx, rx) = sync_channel(batching.max_queue);
                spawn(&name, move || generate_worker(&dir, &dev, rx, ready_tx))?;
                Queue::Generate(tx)
            }
            Kind::Classify => {
                let (tx, rx) = sync_channel(batching.max_queue);
                spawn(&name, move || classify_worker(&dir, &dev, rx, &b, ready_tx))?;
                Queue::Classify(tx)
            }
        };
        loading.push((run, name, kind, queue, ready_rx));
    }
    let mut served = Vec::with_capacity(loading.len());
    for (run, name, kind, queue, ready) in loading {
        match ready.recv() {
            Ok(Ok(info)) => served.push(Served { name, kind, info, queue }),
            Ok(Err(message)) => return Err(fail(run, message)),
            Err(_) => return Err(fail(run, "its worker stopped while loading".into())),
        }
    }
    Ok(served)
}

/// Starts a model's worker on a thread pool of its own (as many threads as
/// the global one): the model's parallel operations then run inside the pool
/// they use, instead of handing each one over to it from outside and
/// sleeping until it is done.
fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), ServeError> {
    let failed = |e: String| ServeError::Setting { flag: "--run", message: format!("cannot start a worker thread: {e}") };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(rayon::current_num_threads())
        .thread_name({
            let name = name.to_string();
            move |i| format!("model {name} {i}")
        })
        .build()
        .map_err(|e| failed(e.to_string()))?;
    std::thread::Builder::new().name(format!("model {name}")).spawn(move || pool.install(f)).map(|_| ()).map_err(|e| failed(e.to_string()))
}

/// Runs `f` on a batch, turning a panic into an error for the batch's
/// requests, so that one bad batch does not stop the model.
fn guarded<T>(f: impl FnOnce() -> Result<T, ApiError>) -> Result<T, ApiError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let what = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
        Err(ApiError::internal(format!("the model failed: {}", what.unwrap_or_else(|| "panic".into()))))
    })
}

/// Answers each request of a batch with its share of `result` (`sizes[i]`
/// items for request `i`), or every one of them with the batch's error.
fn deliver(replies: Vec<Reply>, result: Result<Vec<Value>, ApiError>, sizes: &[usize]) {
    match result {
        Ok(items) => {
            for (reply, items) in replies.into_iter().zip(split(items, sizes)) {
                let _ = reply.send(Ok(items));
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

fn translate_worker(run: &Path, device: &Device, rx: Receiver<TranslateJob>, b: &Batching, ready: SyncSender<Result<Value, String>>) {
    let mut model = match LoadedRun::load(run, device) {
        Ok(m) => m,
        Err(e) => return drop(ready.send(Err(e.to_string()))),
    };
    let arch = model.view().model.arch;
    let info = json!({
        "task": model.config.task().to_string(),
        "arch": arch.name(),
        "parameters": model.model.num_params(),
        "source_vocab": model.src_vocab.len(),
        "target_vocab": model.tgt_vocab.len(),
        "max_tokens": model.model.max_len(),
        "attention": arch.has_attention(),
    });
    let _ = ready.send(Ok(info));
    let mut pending = None;
    while let Some(jobs) = next_batch(&rx, |j| j.req.texts.len(), b, &mut pending) {
        // Requests whose client gave up (time-out) are dropped unanswered.
        let mut jobs: Vec<TranslateJob> = jobs.into_iter().filter(|j| !j.reply.is_closed()).collect();
        // One forward pass per decoding setting, in arrival order.
        while let Some(first) = jobs.first() {
            let key = decoding(&first.req);
            let (group, rest): (Vec<_>, Vec<_>) = jobs.into_iter().partition(|j| decoding(&j.req) == key);
            jobs = rest;
            let texts: Vec<String> = group.iter().flat_map(|j| j.req.texts.iter().cloned()).collect();
            let sizes: Vec<usize> = group.iter().map(|j| j.req.texts.len()).collect();
            let result = guarded(|| translate_batch(&mut model, &texts, key.0, f32::from_bits(key.1), key.2));
            deliver(group.into_iter().map(|j| j.reply).collect(), result, &sizes);
        }
    }
}

/// How a request decodes: beam size, length penalty (bits; only a beam uses
/// it) and attention. Requests that agree share a forward pass.
fn decoding(r: &TranslateRequest) -> (usize, u32, bool) {
    let penalty = if r.beam > 1 { r.length_penalty } else { 1.0 };
    (r.beam, penalty.to_bits(), r.attention)
}

/// Translates `texts` in one batch: `{"text", "attention"?, "warning"?}` each.
fn translate_batch(model: &mut LoadedRun, texts: &[String], beam: usize, length_penalty: f32, attention: bool) -> Result<Vec<Value>, ApiError> {
    model.beam = (beam > 1).then_some(BeamOptions { size: beam, length_penalty });
    let pick = attention.then_some(AttentionPick::Mean);
    let (out, decoded) = model.translate(texts, pick).map_err(|e| ApiError::internal(e.to_string()))?;
    let max = model.model.max_len();
    let mut items = Vec::with_capacity(texts.len());
    for (i, (source, text)) in texts.iter().zip(out).enumerate() {
        let mut item = Map::new();
        item.insert("text".into(), text.into());
        let mut tokens = model.source_tokens(source);
        if tokens.len() > max {
            item.insert(
                "warning".into(),
                format!("the source is {} tokens; the model reads at most {max}: it was truncated", tokens.len()).into(),
            );
        }
        if attention {
            let rows = decoded.attention.as_ref().and_then(|a| a.get(i));
            let value = match (rows, decoded.ids.get(i)) {
                (Some(rows), Some(ids)) => {
                    let mut target = model.target_tokens(ids);
                    target.truncate(rows.len());
                    tokens.truncate(rows.first().map_or(tokens.len(), |r| r.len()));
                    let weights: Vec<Vec<Value>> = rows.iter().map(|r| r.iter().map(|&w| number(w)).collect()).collect();
                    json!({ "source": tokens, "target": target, "weights": weights })
                }
                _ => Value::Null, // a model without attention (a plain encoder–decoder)
            };
            item.insert("attention".into(), value);
        }
        items.push(Value::Object(item));
    }
    Ok(items)
}

fn classify_worker(run: &Path, device: &Device, rx: Receiver<ClassifyJob>, b: &Batching, ready: SyncSender<Result<Value, String>>) {
    let model = match Ensemble::load(&[run.to_path_buf()], device) {
        Ok(m) => m,
        Err(e) => return drop(ready.send(Err(e.to_string()))),
    };
    let labels = model.labels().to_vec();
    let _ = ready.send(Ok(json!({ "task": "classify", "labels": labels })));
    let mut pending = None;
    while let Some(jobs) = next_batch(&rx, |j| j.req.texts.len(), b, &mut pending) {
        let jobs: Vec<ClassifyJob> = jobs.into_iter().filter(|j| !j.reply.is_closed()).collect();
        if jobs.is_empty() {
            continue;
        }
        let texts: Vec<String> = jobs.iter().flat_map(|j| j.req.texts.iter().cloned()).collect();
        let sizes: Vec<usize> = jobs.iter().map(|j| j.req.texts.len()).collect();
        let result = guarded(|| {
            let probs = model.probabilities(&texts, device).map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(probs.iter().map(|p| classification(&labels, p)).collect::<Vec<Value>>())
        });
        deliver(jobs.into_iter().map(|j| j.reply).collect(), result, &sizes);
    }
}

/// An f32 as JSON in its shortest decimal form (0.72864217, not the
/// 0.7286421656608582 of its f64 widening).
fn number(x: f32) -> Value {
    x.to_string().parse::<f64>().ok().and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number)
}

/// `{"label": best, "probabilities": {label: p, …}}`.
fn classification(labels: &[String], p: &[f32]) -> Value {
    let best = (0..p.len()).fold(0, |b, i| if p[i] > p[b] { i } else { b });
    let probabilities: Map<String, Value> = labels.iter().zip(p).map(|(l, &x)| (l.clone(), number(x))).collect();
    json!({ "label": labels.get(best), "probabilities": probabilities })
}

fn generate_worker(run: &Path, device: &Device, rx: Receiver<GenerateJob>, ready: SyncSender<Result<Value, String>>) {
    let lm = match load_lm(run, device) {
        Ok(m) => m,
        Err(e) => return drop(ready.send(Err(e.to_string()))),
    };
    let info = json!({
        "task": "lm",
        "arch": serde_json::to_value(lm.cfg.model.arch).unwrap_or(Value::Null),
        "parameters": lm.model.num_params(),
        "vocab": lm.vocab.len(),
        "context": lm.model.context(),
    });
    let _ = ready.send(Ok(info));
    while let Ok(job) = rx.recv() {
        if job.accepted.is_closed() {
            continue;
        }
        let r = &job.req;
        let prompt = lm.encode(&r.prompt);
        if prompt.is_empty() {
            let _ = job.accepted.send(Err(ApiError::bad("prompt: no tokens of the model's vocabulary in it")));
            continue;
        }
        let sampling = SamplingConfig::for_text(r.temperature, r.top_k, r.top_p, r.seed);
        if let Err(e) = sampling.validate() {
            let _ = job.accepted.send(Err(ApiError::bad(e.to_string())));
            continue;
        }
        if job.accepted.send(Ok(())).is_err() {
            continue;
        }
        let mut text = lm.tokenizer.detokenizer(&r.prompt);
        let started = Instant::now();
        let events = &job.events;
        let result = guarded(|| {
            generate_while(&lm.model, &prompt, r.max_tokens, &sampling, true, device, |t, _| {
                // A client that went away stops the generation.
                events.blocking_send(GenEvent::Token(text.piece(lm.vocab.token(t)))).is_ok()
            })
            .map_err(|e| ApiError::internal(e.to_string()))
        });
        let last = match result {
            Ok(tokens) => GenEvent::Done { tokens: tokens.len(), seconds: started.elapsed().as_secs_f64() },
            Err(e) => GenEvent::Error(e.message),
        };
        let _ = events.blocking_send(last);
    }
}
