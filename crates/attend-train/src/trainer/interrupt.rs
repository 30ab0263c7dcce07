//! Ctrl-C for every long-running command: the first interrupt raises a flag
//! that the running loop polls (it finishes what it is doing, writes a
//! checkpoint and stops); a second one exits at once with status 130.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::{Result, TrainError};

/// Installs the process's Ctrl-C handler; `what` says what is finished first
/// ("this step", "the jobs in hand"). Returns the flag it raises.
pub fn install(what: &'static str) -> Result<Arc<AtomicBool>> {
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("\nsecond interrupt: exiting without a checkpoint");
            std::process::exit(130);
        }
        eprintln!("\ninterrupt: finishing {what} and writing a checkpoint (Ctrl-C again to quit at once)");
    })
    .map_err(|e| TrainError::Invalid(format!("installing the Ctrl-C handler: {e}")))?;
    Ok(interrupt)
}
