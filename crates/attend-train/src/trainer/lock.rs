//! One training process per run directory. A run holds `RUN/.lock`, which
//! names its process; a second `attend train` (or `--resume`) on the same
//! directory is refused with that name. A lock whose process is gone (the run
//! crashed or was killed) is taken over, so a crash never leaves a run stuck.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Result, TrainError};

/// The lock file of a run directory.
pub const LOCK: &str = ".lock";

/// Holds a run directory until dropped.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

/// Whether the process `pid` is alive.
fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(unix)]
    {
        // SAFETY: kill with signal 0 only checks that the process exists and may be signalled.
        let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        true
    }
}

impl RunLock {
    /// Takes the lock of `run` (which must exist), or says which process holds it.
    pub fn acquire(run: &Path) -> Result<Self> {
        let path = run.join(LOCK);
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let _ = writeln!(f, "{}", std::process::id());
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    match holder.trim().parse::<u32>() {
                        Ok(pid) if alive(pid) => {
                            return Err(TrainError::Invalid(format!(
                                "{} is being trained by process {pid} (its lock: {}); wait for it or stop it",
                                run.display(),
                                path.display()
                            )))
                        }
                        // A crashed run's lock (or a half-written one): take it over.
                        _ => {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(TrainError::io(&path, e)),
            }
        }
        Err(TrainError::Invalid(format!("{}: could not take the run's lock", path.display())))
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_holder_is_named_and_a_dead_one_taken_over() {
        let run = std::env::temp_dir().join(format!("attend-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&run);
        std::fs::create_dir_all(&run).unwrap();
        let held = RunLock::acquire(&run).unwrap();
        let e = RunLock::acquire(&run).unwrap_err().to_string();
        assert!(e.contains(&format!("process {}", std::process::id())), "{e}");
        drop(held);
        assert!(!run.join(LOCK).exists());
        // A process that no longer exists (pid_max on Linux is at most 2^22).
        std::fs::write(run.join(LOCK), "4194304\n").unwrap();
        let taken = RunLock::acquire(&run).unwrap();
        assert_eq!(std::fs::read_to_string(run.join(LOCK)).unwrap().trim(), std::process::id().to_string());
        drop(taken);
        std::fs::remove_dir_all(&run).unwrap();
    }
}
