//! `attend serve`: trained runs over HTTP with JSON — translators
//! (`POST /v1/translate`, with beam search and attention weights),
//! language models (`POST /v1/generate`, streamed as server-sent events) and
//! classifiers (`POST /v1/classify`) — plus `GET /v1/models`, `GET /health`
//! and a web page at `/`. Built on axum and tokio; each model runs in its own
//! worker thread that answers concurrent requests in dynamic batches
//! ([`batch`]). Bad input is a 4xx JSON error naming the field; queues,
//! bodies and waits are bounded; Ctrl-C (or SIGTERM) stops taking requests
//! and finishes those in flight.

pub mod api;
pub mod batch;
pub mod client;
pub mod error;
pub mod models;
pub mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use burn::prelude::Device;

pub use api::Limits;
pub use batch::Batching;
pub use error::{ApiError, ServeError};
pub use models::Kind;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen (port 0: any free port; the address is given to `on_ready`).
    pub addr: SocketAddr,
    /// The run directories to serve, each under its directory's name.
    pub runs: Vec<PathBuf>,
    /// The device every model runs on.
    pub device: Device,
    pub batching: Batching,
    pub limits: Limits,
    /// Requests (all but `/health` and `/`) must carry `Authorization: Bearer KEY`.
    pub api_key: Option<String>,
    /// The browser origin allowed to call the API (`*`: any); none by default.
    pub cors: Option<String>,
    /// How long a request may wait for its body and for its model.
    pub timeout: Duration,
    /// Largest request body, in bytes.
    pub max_body: usize,
}

/// A served model as `on_ready` reports it.
#[derive(Debug, Clone)]
pub struct ModelSummary {
    pub name: String,
    pub kind: Kind,
    pub info: serde_json::Value,
}

/// Loads the runs, listens, calls `on_ready` with the bound address and the
/// models, and serves until Ctrl-C or SIGTERM; then stops accepting, lets the
/// requests in flight finish and returns. `notice` receives the shutdown message.
pub fn serve(opts: ServeOptions, on_ready: impl FnOnce(SocketAddr, &[ModelSummary]), notice: impl Fn(&str) + Send + 'static) -> Result<(), ServeError> {
    if opts.runs.is_empty() {
        return Err(ServeError::Setting { flag: "--run", message: "give at least one run directory".into() });
    }
    let checks: [(&'static str, usize); 5] = [
        ("--max-batch", opts.batching.max_batch),
        ("--max-queue", opts.batching.max_queue),
        ("--max-texts", opts.limits.max_texts),
        ("--max-chars", opts.limits.max_chars),
        ("--max-body", opts.max_body),
    ];
    for (flag, v) in checks {
        if v == 0 {
            return Err(ServeError::Setting { flag, message: "must be at least 1".into() });
        }
    }
    if opts.timeout.is_zero() {
        return Err(ServeError::Setting { flag: "--timeout", message: "must be at least 1 second".into() });
    }
    if opts.api_key.as_deref().is_some_and(|k| k.is_empty() || k.chars().any(|c| c.is_whitespace() || c.is_control())) {
        return Err(ServeError::Setting { flag: "--api-key", message: "must be non-empty, without spaces or control characters".into() });
    }
    let models = models::start(&opts.runs, &opts.device, &opts.batching)?;
    let summaries: Vec<ModelSummary> =
        models.iter().map(|m| ModelSummary { name: m.name.clone(), kind: m.kind, info: m.info.clone() }).collect();
    let io = |source| ServeError::Io { addr: opts.addr.to_string(), source };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(io)?;
    let app = Arc::new(routes::App {
        models,
        limits: opts.limits.clone(),
        api_key: opts.api_key.clone(),
        cors: opts.cors.clone(),
        timeout: opts.timeout,
        max_body: opts.max_body,
    });
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(opts.addr).await.map_err(io)?;
        let bound = listener.local_addr().map_err(io)?;
        on_ready(bound, &summaries);
        axum::serve(listener, routes::router(app))
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                notice("shutting down: no new requests; finishing those in flight");
            })
            .await
            .map_err(io)
    })
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
