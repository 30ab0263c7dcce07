#!/usr/bin/env python3
"""Sets every numeric setting of every task, one at a time, to values a user
might mistype (0 and huge for integers; 0, -1, 1e30 and 1e-30 for floats) and
trains one step with it through the binary. A try is anomalous when it panics,
exits with anything but 0 or 1 (an abort on a failed allocation, a kill), or
runs past the time limit; each line shows the exit code, time and first error
line. The settings are read from the config.toml of a one-step run of each task.

    ATTEND=target/release/attend python3 tools/sweep_settings.py [--timeout S]

Run from the repository root; it uses the bundled data only. About 10 minutes
on 2 cores. Huge batch sizes and epoch counts are legitimate but slow: they
show up as time-outs, not as errors (see RELIABILITY.md)."""
import argparse, os, shutil, subprocess, sys, tempfile, time, tomllib

ap = argparse.ArgumentParser()
ap.add_argument("--timeout", type=float, default=20)
args = ap.parse_args()
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
A = os.environ.get("ATTEND", os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "attend"))
W = tempfile.mkdtemp(prefix="attend-sweep-")
quiet = ["--quiet"]

def attend(*a, timeout=None):
    return subprocess.run([A, *a], capture_output=True, text=True, timeout=timeout)

# One one-step run per task, for its full config (and the speller's vectors).
base = {
    "translate": [], "copy": [], "lm": [], "classify": [],
    "word2vec": ["--data", "data/austen"],
    "spell": ["--data", f"{W}/word2vec/vectors.bin"],
}
configs = {}
for task, extra in base.items():
    short = ["--set", "word2vec.epochs=1", "--set", "word2vec.dim=16"] if task == "word2vec" else ["--set", "train.max_steps=1"]
    r = attend("train", *quiet, "--task", task, "--out", f"{W}/{task}", *extra, *short)
    if r.returncode != 0:
        sys.exit(f"the one-step {task} run failed: {r.stderr[-500:]}")
    configs[task] = tomllib.load(open(f"{W}/{task}/config.toml", "rb"))

tries = anomalous = 0
for task, cfg in configs.items():
    for section, table in cfg.items():
        if not isinstance(table, dict):
            continue
        for key, value in table.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (section, key) == ("train", "max_steps"):
                continue
            values = ["0", "1000000000", "4000000000000"] if isinstance(value, int) else ["0", "-1", "1e30", "1e-30"]
            for v in values:
                run = ["train", *quiet, "--task", task, "--out", f"{W}/out", *base[task], "--set", f"{section}.{key}={v}"]
                if task == "word2vec":
                    run += [] if key == "epochs" else ["--set", "word2vec.epochs=1"]
                else:
                    run += ["--set", "train.max_steps=1"]
                shutil.rmtree(f"{W}/out", ignore_errors=True)
                t0 = time.time()
                try:
                    r = attend(*run[0:], timeout=args.timeout)
                    rc, err = r.returncode, r.stderr
                except subprocess.TimeoutExpired:
                    rc, err = "timeout", ""
                dt = time.time() - t0
                tries += 1
                first = next((l for l in err.splitlines() if l.strip() and "XDG_RUNTIME_DIR" not in l), "")
                bad = "panicked" in err or rc not in (0, 1)
                anomalous += bad
                print(f"{'!!' if bad else '  '} {task:9} {section}.{key}={v:14} rc={rc:<7} {dt:5.1f}s {first[:150]}", flush=True)
shutil.rmtree(W, ignore_errors=True)
print(f"{tries} tries, {anomalous} anomalous (panic, abort or time-out)")
