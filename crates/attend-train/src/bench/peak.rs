//! A short probe of the CPU's fp32 peak: independent fused multiply-add
//! chains, enough of them to hide the FMA latency, on 16-wide AVX-512 or
//! 8-wide AVX2 vectors, whichever is faster on this CPU (a plain loop the
//! compiler vectorises where neither exists). What a
//! matmul achieves is then reported as a fraction of this measured peak rather
//! than of a datasheet figure, so a throttled or shared core is seen as such.

use std::time::Instant;

/// Accumulator chains per thread: FMA latency (4–5 cycles) × 2 pipes, rounded up.
const CHAINS: usize = 12;

/// FLOP/s of one core on FMA chains, measured for about `secs` seconds.
pub fn core_peak_flops(secs: f64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features the function is compiled for (checked above).
            let avx2 = measure(secs / 2.0, |iters| unsafe { fma_avx2(iters) });
            if std::is_x86_feature_detected!("avx512f") {
                // SAFETY: as above.
                return avx2.max(measure(secs / 2.0, |iters| unsafe { fma_avx512(iters) }));
            }
            return avx2;
        }
    }
    measure(secs, portable)
}

/// FLOP/s of `threads` cores measured at once (each running its own chains).
pub fn peak_flops(threads: usize, secs: f64) -> f64 {
    if threads <= 1 {
        return core_peak_flops(secs);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(move || core_peak_flops(secs))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0.0)).sum()
    })
}

/// Runs `kernel(iters)` (which returns the FLOP it did) with growing `iters`
/// until a run takes a tenth of `secs`, then for `secs` in all; the best rate.
fn measure(secs: f64, kernel: impl Fn(u64) -> (f64, f32)) -> f64 {
    // Every result goes through `black_box`, or the optimiser drops the work.
    let run = |iters: u64| {
        let t = Instant::now();
        let (flop, sum) = kernel(std::hint::black_box(iters));
        std::hint::black_box(sum);
        flop / t.elapsed().as_secs_f64()
    };
    let mut iters = 1u64 << 12;
    loop {
        let t = Instant::now();
        run(iters);
        if t.elapsed().as_secs_f64() > secs / 10.0 || iters > 1 << 40 {
            break;
        }
        iters *= 2;
    }
    let until = Instant::now();
    let mut best = 0f64;
    while until.elapsed().as_secs_f64() < secs {
        best = best.max(run(iters));
    }
    best
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_avx2(iters: u64) -> (f64, f32) {
    use std::arch::x86_64::*;
    let a = _mm256_set1_ps(0.999_999);
    let b = _mm256_set1_ps(1e-7);
    let mut acc = [_mm256_set1_ps(1.0); CHAINS];
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = _mm256_fmadd_ps(*x, a, b);
        }
    }
    let mut sum = _mm256_setzero_ps();
    for x in acc {
        sum = _mm256_add_ps(sum, x);
    }
    let mut out = [0f32; 8];
    _mm256_storeu_ps(out.as_mut_ptr(), sum);
    (iters as f64 * CHAINS as f64 * 8.0 * 2.0, out.iter().sum())
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_avx512(iters: u64) -> (f64, f32) {
    use std::arch::x86_64::*;
    let a = _mm512_set1_ps(0.999_999);
    let b = _mm512_set1_ps(1e-7);
    let mut acc = [_mm512_set1_ps(1.0); CHAINS];
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = _mm512_fmadd_ps(*x, a, b);
        }
    }
    let mut sum = _mm512_setzero_ps();
    for x in acc {
        sum = _mm512_add_ps(sum, x);
    }
    (iters as f64 * CHAINS as f64 * 16.0 * 2.0, _mm512_reduce_add_ps(sum))
}

fn portable(iters: u64) -> (f64, f32) {
    let mut acc = [[1f32; 8]; CHAINS];
    for _ in 0..iters {
        for chain in acc.iter_mut() {
            for x in chain.iter_mut() {
                *x = x.mul_add(0.999_999, 1e-7);
            }
        }
    }
    (iters as f64 * CHAINS as f64 * 8.0 * 2.0, std::hint::black_box(acc).iter().flatten().sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_measures_a_plausible_rate() {
        let one = core_peak_flops(0.05);
        // Any CPU that runs this does more than 0.1 GFLOP/s and less than 1 TFLOP/s on one core.
        assert!(one > 1e8 && one < 1e12, "{one}");
    }
}
