//! Every job of the CLI runs inside a rayon thread pool of its own, on one of
//! the pool's threads. The CPU backends (flex's element-wise operations, gemm,
//! attend's host kernels) split their work over the pool they are called from:
//! called from the main thread, each parallel operation was handed to Burn's
//! global pool, whose workers were woken for it while the main thread slept
//! until it was done, and the serial work between operations ran on a third
//! thread. Inside the pool the calling thread is one of the workers. Measured
//! at two threads on the 2-core Intel Xeon of BENCHMARKS.md (`attend bench`,
//! alternated): GPT recipe +7–12 % tok/s, Transformer tiny +5 %, LSTM tiny
//! +9 %, batched cached decoding +11–16 %; one thread unchanged.

use anyhow::{Context, Result};

/// The stack of the pool's threads: the main thread's usual 8 MiB, not the
/// 2 MiB of a spawned thread.
const STACK_BYTES: usize = 8 << 20;

/// Runs `f` on a pool of `threads` threads (`None`: rayon's default, the
/// number of cores or `RAYON_NUM_THREADS`) and returns what it returns.
pub fn in_pool<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> Result<T> {
    let mut builder = rayon::ThreadPoolBuilder::new().stack_size(STACK_BYTES).thread_name(|i| format!("attend {i}"));
    if let Some(n) = threads {
        builder = builder.num_threads(n);
    }
    let pool = builder.build().context("cannot start the thread pool")?;
    Ok(pool.install(f))
}
