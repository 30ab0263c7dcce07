//! Dynamic batching (as in NVIDIA Triton's dynamic batcher and CTranslate2's
//! translator pool): a model's worker takes the first waiting request, then
//! every request that arrives within a short window, up to a maximum number
//! of texts, and answers them all with one forward pass. Under load the
//! requests queued while the model was busy join the next batch at once.

use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

/// How requests to one model are gathered and queued.
#[derive(Debug, Clone)]
pub struct Batching {
    /// Texts in one forward pass (1 = no batching).
    pub max_batch: usize,
    /// How long the first request of a batch waits for others (0 = only those already queued).
    pub wait: Duration,
    /// Requests waiting per model; more are answered 503.
    pub max_queue: usize,
}

impl Default for Batching {
    fn default() -> Self {
        Self { max_batch: 64, wait: Duration::from_millis(5), max_queue: 256 }
    }
}

/// The next batch from `rx`: the job left over from the previous batch (or
/// the next to arrive), then others of `size` texts each while they fit in
/// `max_batch` and arrive within the window. A job that does not fit is kept
/// in `pending` for the next batch; a job larger than `max_batch` alone is a
/// batch by itself. `None` once the queue is closed and empty.
pub fn next_batch<J>(rx: &Receiver<J>, size: impl Fn(&J) -> usize, b: &Batching, pending: &mut Option<J>) -> Option<Vec<J>> {
    let first = match pending.take() {
        Some(j) => j,
        None => rx.recv().ok()?,
    };
    let mut total = size(&first);
    let mut jobs = vec![first];
    let deadline = Instant::now() + b.wait;
    while total < b.max_batch {
        let now = Instant::now();
        let next = if now >= deadline {
            match rx.try_recv() {
                Ok(j) => j,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        } else {
            match rx.recv_timeout(deadline - now) {
                Ok(j) => j,
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        };
        let n = size(&next);
        if total + n > b.max_batch {
            *pending = Some(next);
            break;
        }
        total += n;
        jobs.push(next);
    }
    Some(jobs)
}

/// Splits `items` (in job order) back into one vector per job of `sizes`.
pub fn split<T>(items: Vec<T>, sizes: &[usize]) -> Vec<Vec<T>> {
    let mut it = items.into_iter();
    sizes.iter().map(|&n| it.by_ref().take(n).collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::sync_channel;

    #[test]
    fn batches_fill_up_to_the_limit_and_keep_the_rest() {
        let (tx, rx) = sync_channel(16);
        for n in [3, 4, 2, 9, 1] {
            tx.send(n).unwrap();
        }
        drop(tx);
        let b = Batching { max_batch: 8, wait: Duration::ZERO, max_queue: 16 };
        let mut pending = None;
        let mut got = Vec::new();
        while let Some(batch) = next_batch(&rx, |&n| n, &b, &mut pending) {
            got.push(batch);
        }
        // 3+4 = 7 (2 would overflow), then 2 (9 would), then 9 alone (over the limit), then 1.
        assert_eq!(got, vec![vec![3, 4], vec![2], vec![9], vec![1]]);
    }

    #[test]
    fn the_window_waits_for_late_jobs_and_a_batch_of_one_does_not() {
        let (tx, rx) = sync_channel(4);
        let b = Batching { max_batch: 4, wait: Duration::from_millis(300), max_queue: 4 };
        tx.send(1).unwrap();
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            tx.send(1).unwrap();
            tx
        });
        let mut pending = None;
        assert_eq!(next_batch(&rx, |&n| n, &b, &mut pending).unwrap(), vec![1, 1]);
        let tx = late.join().unwrap();
        tx.send(1).unwrap();
        let one = Batching { max_batch: 1, ..b };
        let t = Instant::now();
        assert_eq!(next_batch(&rx, |&n| n, &one, &mut pending).unwrap(), vec![1]);
        assert!(t.elapsed() < Duration::from_millis(200), "a full batch does not wait");
    }

    #[test]
    fn split_gives_each_job_its_items() {
        assert_eq!(split(vec![1, 2, 3, 4, 5, 6], &[2, 1, 3]), vec![vec![1, 2], vec![3], vec![4, 5, 6]]);
    }
}
