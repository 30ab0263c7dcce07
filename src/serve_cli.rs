//! `attend serve`: the flags, the start-up lines and the warnings; the server
//! itself is `attend::serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use attend::serve::{Batching, Limits, ServeOptions};
use clap::Args;

#[derive(Args)]
pub struct ServeArgs {
    /// A trained run to serve (translation, language model or classifier), named by its
    /// directory's name; repeat for several.
    #[arg(long, value_name = "RUN_DIR", required = true)]
    run: Vec<PathBuf>,
    /// Address to listen on. The default is reachable from this machine only;
    /// port 0 picks a free port.
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    #[command(flatten)]
    device: crate::DeviceArg,
    /// Require `Authorization: Bearer KEY` on every endpoint but /health and the page
    /// (default: the ATTEND_API_KEY environment variable, if set). Never logged.
    #[arg(long, value_name = "KEY")]
    api_key: Option<String>,
    /// Allow browsers on this origin (e.g. http://localhost:3000, or * for any) to call the API.
    #[arg(long, value_name = "ORIGIN")]
    cors: Option<String>,
    /// Texts per forward pass: concurrent requests to one model are batched up to this (1 = no batching).
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_batch: usize,
    /// Milliseconds the first request of a batch waits for others (0 = batch only those already waiting).
    #[arg(long, value_name = "MS", default_value_t = 5)]
    batch_wait_ms: u64,
    /// Requests waiting per model; beyond it the server answers 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = 256)]
    max_queue: usize,
    /// Texts per request.
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_texts: usize,
    /// Characters per text or prompt (longer: 413). A text longer than the model's
    /// positions is translated truncated, with a "warning" in its answer.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    max_chars: usize,
    /// Tokens one generate request may ask for.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    max_new_tokens: usize,
    /// Largest request body in bytes (larger: 413).
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_body: usize,
    /// Seconds a request may wait for its body and for its model (then 408 or 503).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    timeout: u64,
}

pub fn cmd_serve(a: ServeArgs) -> Result<ExitCode> {
    let device = crate::run_device(&a.run[0], &a.device)?;
    let api_key = a.api_key.clone().or_else(|| std::env::var("ATTEND_API_KEY").ok().filter(|k| !k.is_empty()));
    if !a.addr.ip().is_loopback() {
        let key = if api_key.is_some() { "" } else { ", and no API key is set (--api-key or ATTEND_API_KEY)" };
        eprintln!("warning: listening on {}: reachable from other machines{key}", a.addr);
    }
    let opts = ServeOptions {
        addr: a.addr,
        runs: a.run.clone(),
        device,
        batching: Batching { max_batch: a.max_batch, wait: Duration::from_millis(a.batch_wait_ms), max_queue: a.max_queue },
        limits: Limits { max_texts: a.max_texts, max_chars: a.max_chars, max_new_tokens: a.max_new_tokens, ..Limits::default() },
        api_key,
        cors: a.cors.clone(),
        timeout: Duration::from_secs(a.timeout),
        max_body: a.max_body,
    };
    let keyed = opts.api_key.is_some();
    attend::serve::serve(
        opts,
        |addr, models| {
            for m in models {
                println!("model {} ({}): {}", m.name, m.kind.name(), m.info);
            }
            let auth = if keyed { "; API key required" } else { "" };
            println!("serving {} model(s) on http://{addr}{auth} (Ctrl-C to stop)", models.len());
        },
        |msg| eprintln!("{msg}"),
    )
    .context("attend serve")?;
    Ok(ExitCode::SUCCESS)
}
