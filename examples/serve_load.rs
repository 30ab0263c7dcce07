//! A load generator for `attend serve`: N clients, each sending one request
//! at a time over a kept-alive connection (or a new connection each, with
//! `--new-connections`) for T seconds, translating sentences in turn from a
//! file; prints requests/s, latency percentiles and the errors.
//!
//! ```sh
//! cargo run --release --example serve_load -- --addr 127.0.0.1:8080 --clients 64 --seconds 20
//! ```
//! `benches/serve-load.sh` starts the server with batching on and off and runs this against each.

use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use attend::serve::client::{post_json, Connection};
use clap::Parser;
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Sentences to translate: the first tab-separated column of each line.
    #[arg(long, default_value = "data/tatoeba-eng-fra/valid.tsv")]
    sentences: PathBuf,
    /// Texts per request.
    #[arg(long, default_value_t = 1)]
    texts: usize,
    /// Open a new connection for every request instead of keeping one per client alive.
    #[arg(long)]
    new_connections: bool,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let text = std::fs::read_to_string(&a.sentences).map_err(|e| anyhow::anyhow!("--sentences {}: {e}", a.sentences.display()))?;
    let sentences: Arc<Vec<String>> =
        Arc::new(text.lines().filter_map(|l| l.split('\t').next()).filter(|s| !s.trim().is_empty()).map(str::to_string).collect());
    anyhow::ensure!(!sentences.is_empty(), "--sentences {}: no sentences", a.sentences.display());
    let barrier = Arc::new(Barrier::new(a.clients + 1));
    let deadline = Duration::from_secs(a.seconds);
    let handles: Vec<_> = (0..a.clients)
        .map(|c| {
            let (addr, sentences, barrier, k, fresh) = (a.addr.clone(), sentences.clone(), barrier.clone(), a.texts, a.new_connections);
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let mut errors: Vec<String> = Vec::new();
                let mut conn: Option<Connection> = None;
                barrier.wait();
                let start = Instant::now();
                let mut i = c * 7919;
                while start.elapsed() < deadline {
                    let batch: Vec<&String> = (0..k).map(|j| &sentences[(i + j) % sentences.len()]).collect();
                    let body = json!({ "texts": batch });
                    i += k;
                    let t = Instant::now();
                    let result = if fresh {
                        post_json(&addr, "/v1/translate", &body, &[])
                    } else {
                        let open = match conn.take() {
                            Some(c) => Ok(c),
                            None => Connection::open(&addr, Duration::from_secs(120)),
                        };
                        open.and_then(|mut c| {
                            let r = c.post_json("/v1/translate", &body);
                            if r.is_ok() {
                                conn = Some(c); // kept for the next request; dropped (reopened) after an error
                            }
                            r
                        })
                    };
                    match result {
                        Ok(r) if r.status == 200 => lat.push(t.elapsed().as_secs_f64()),
                        Ok(r) => errors.push(format!("{} {}", r.status, r.text())),
                        Err(e) => errors.push(e.to_string()),
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let mut lat = Vec::new();
    let mut errors = Vec::new();
    for h in handles {
        let (l, e) = h.join().map_err(|_| anyhow::anyhow!("a client panicked"))?;
        lat.extend(l);
        errors.extend(e);
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    println!(
        "{} clients ({}), {:.1} s: {} requests ({} texts each), {:.1} requests/s, latency p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms, errors {}",
        a.clients,
        if a.new_connections { "a connection per request" } else { "kept-alive connections" },
        secs,
        lat.len(),
        a.texts,
        lat.len() as f64 / secs,
        percentile(&lat, 0.5) * 1e3,
        percentile(&lat, 0.99) * 1e3,
        lat.last().copied().unwrap_or(f64::NAN) * 1e3,
        errors.len()
    );
    for e in errors.iter().take(5) {
        println!("  error: {e}");
    }
    Ok(())
}
