#!/usr/bin/env bash
# attend against PyTorch on the same shapes, in one invocation on one machine.
#
#   bash benches/vs-pytorch.sh [OUT_DIR]
#
# For each thread count (THREADS, default "1 2") it waits for a quiet machine
# (../shared/peers/wait_quiet.py), then runs, alternating the programs
# REPEATS times (default 2): the peer's bench_transformer.py and attend's
# transformer and decoding rows, bench_lstm.py and attend's LSTM rows,
# bench_gpt_char.py (GPT_ITERS iterations, default 300) and attend's GPT row.
# attend runs once per CPU backend in DEVICES (default: "flex ndarray").
# Each process runs under /usr/bin/time for its peak memory (max RSS).
# At the end it prints one table: per row and thread count the median rate of
# each program over the repeats and the ratio attend / PyTorch (for decoding,
# PyTorch's ms per sentence over attend's, so > 1 is always attend faster).
#
# Needs: ../shared/peers (the peer scripts) and their Python environment
# (bash ../shared/peers/setup.sh; PY= points elsewhere), and a release build of
# attend with the backends in DEVICES:
#   cargo build --release --features flex     (ATTEND= points to another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS=../shared/peers
PY=${PY:-$HOME/.cache/attend-peers/venv/bin/python}
ATTEND=${ATTEND:-${CARGO_TARGET_DIR:-target}/release/attend}
THREADS=${THREADS:-"1 2"}
REPEATS=${REPEATS:-2}
GPT_ITERS=${GPT_ITERS:-300}
DEVICES=${DEVICES:-"flex ndarray"}
OUT=${1:-bench-results/vs-pytorch-$(date -u +%Y%m%d-%H%M%S)}

if [ ! -d "$PEERS" ]; then
  echo "vs-pytorch.sh: $PEERS is missing: the PyTorch peer scripts live in the shared folder beside the checkout (../shared/peers)." >&2
  exit 2
fi
if [ ! -x "$PY" ]; then
  echo "vs-pytorch.sh: no Python environment at $PY: create it with 'bash $PEERS/setup.sh' (about 4 minutes, 5.6 GB), or set PY=." >&2
  exit 2
fi
if [ ! -x "$ATTEND" ]; then
  echo "vs-pytorch.sh: no attend binary at $ATTEND: build it with 'cargo build --release --features flex' (or set ATTEND=)." >&2
  exit 2
fi
[ -x /usr/bin/time ] || { echo "vs-pytorch.sh: /usr/bin/time is missing (Debian: apt-get install time)" >&2; exit 2; }
mkdir -p "$OUT"
echo "results in $OUT"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
  echo "flags: $(grep -m1 '^flags' /proc/cpuinfo | grep -o -w -E 'avx2|fma|avx512f|avx512_bf16|amx_tile' | sort -u | tr '\n' ' ')"
  echo "attend: $("$ATTEND" --version), $ATTEND"
  echo "torch: $("$PY" -c 'import torch; print(torch.__version__)')"
} | tee "$OUT/machine.txt"

timed() { # timed NAME CMD...: runs CMD, its stdout in NAME.out, its max RSS (KiB) in NAME.rss
  local name=$1; shift
  /usr/bin/time -f %M -o "$OUT/$name.rss" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err" ||
    { echo "vs-pytorch.sh: '$*' failed; see $OUT/$name.err" >&2; exit 1; }
}

for t in $THREADS; do
  "$PY" "$PEERS/wait_quiet.py" --max-other 0.3 --timeout 300
  for r in $(seq 1 "$REPEATS"); do
    echo "threads $t, round $r"
    timed "torch-transformer-t$t-r$r" "$PY" "$PEERS/bench_transformer.py" --threads "$t"
    for d in $DEVICES; do
      timed "attend-$d-transformer-t$t-r$r" "$ATTEND" bench --device "$d" --threads "$t" \
        --rows transformer-tiny,transformer-small,decode-tiny,decode-small
    done
    timed "torch-lstm-t$t-r$r" "$PY" "$PEERS/bench_lstm.py" --threads "$t"
    for d in $DEVICES; do
      timed "attend-$d-lstm-t$t-r$r" "$ATTEND" bench --device "$d" --threads "$t" --rows lstm-tiny,lstm-small
    done
    timed "torch-gpt-t$t-r$r" "$PY" "$PEERS/bench_gpt_char.py" --threads "$t" --iters "$GPT_ITERS" --eval-interval "$GPT_ITERS"
    for d in $DEVICES; do
      timed "attend-$d-gpt-t$t-r$r" "$ATTEND" bench --device "$d" --threads "$t" --rows gpt-char
    done
  done
done

"$PY" - "$OUT" "$THREADS" "$DEVICES" <<'PYEOF' | tee "$OUT/table.md"
import glob, json, os, statistics, sys

out, threads, devices = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()

def last_json(path):
    lines = [l for l in open(path) if l.startswith("{")]
    return json.loads(lines[-1])

def attend_rows(path):
    return {r["row"]: r for r in (json.loads(l) for l in open(path) if l.startswith("{"))}

def rss(path):
    return int(open(path).read().split()[-1]) / 1024

# (attend row, peer bench file prefix, how to read the peer's figure, unit)
def tf(cfg, key):
    return lambda j: j["results"][cfg][key]
def dec(cfg, key):
    return lambda j: j["results"][cfg]["greedy_decode"][key]
ROWS = []
for cfg in ("tiny", "small"):
    ROWS += [(f"transformer-{cfg}/train", "transformer", tf(cfg, "train_tgt_tokens_per_s_median"), "tok/s"),
             (f"transformer-{cfg}/forward", "transformer", tf(cfg, "fwd_eval_tgt_tokens_per_s_median"), "tok/s")]
for cfg in ("tiny", "small"):
    for a, p in (("batched-cached", "kv_cache_batched"), ("batch1-cached", "kv_cache_batch1"),
                 ("batched-full", "full_rerun_batched"), ("batch1-full", "full_rerun_batch1")):
        ROWS.append((f"decode-{cfg}/{a}", "transformer", dec(cfg, f"{p}_ms_per_sentence_median"), "ms/sentence"))
for cfg in ("tiny", "small"):
    ROWS += [(f"lstm-{cfg}/train", "lstm", tf(cfg, "train_tgt_tokens_per_s_median"), "tok/s"),
             (f"lstm-{cfg}/forward", "lstm", tf(cfg, "fwd_tgt_tokens_per_s_median"), "tok/s")]
ROWS.append(("gpt-char/train", "gpt", lambda j: j["tokens_per_s_median_step"], "tok/s"))

def med(xs):
    return statistics.median(xs) if xs else float("nan")

print(f"| row | unit | threads | PyTorch | " + " | ".join(f"attend {d}" for d in devices) + " | "
      + " | ".join(f"{d} / PyTorch" for d in devices) + " |")
print("|---|---|---|---|" + "---|" * (2 * len(devices)))
for row, bench, peer_key, unit in ROWS:
    for t in threads:
        peer = med([peer_key(last_json(f)) for f in sorted(glob.glob(f"{out}/torch-{bench}-t{t}-r*.out"))])
        ours = []
        for d in devices:
            vals = [attend_rows(f)[row]["value"] for f in sorted(glob.glob(f"{out}/attend-{d}-{bench}-t{t}-r*.out"))
                    if row in attend_rows(f)]
            ours.append(med(vals))
        ratio = [(peer / o if unit == "ms/sentence" else o / peer) for o in ours]
        print(f"| {row} | {unit} | {t} | {peer:.1f} | " + " | ".join(f"{o:.1f}" for o in ours) + " | "
              + " | ".join(f"**{x:.2f}×**" if x >= 1.0 else f"{x:.2f}×" for x in ratio) + " |")
print()
print("| process | threads | PyTorch max RSS (MiB) | " + " | ".join(f"attend {d}" for d in devices) + " |")
print("|---|---|---|" + "---|" * len(devices))
for bench in ("transformer", "lstm", "gpt"):
    for t in threads:
        peer = med([rss(f) for f in glob.glob(f"{out}/torch-{bench}-t{t}-r*.rss")])
        ours = [med([rss(f) for f in glob.glob(f"{out}/attend-{d}-{bench}-t{t}-r*.rss")]) for d in devices]
        print(f"| {bench} | {t} | {peer:.0f} | " + " | ".join(f"{o:.0f}" for o in ours) + " |")
noise = []
for f in glob.glob(f"{out}/torch-*.out"):
    j = last_json(f)
    n = j.get("noise") or next((r.get("noise") for r in j.get("results", {}).values()), None)
    if n:
        noise.append(n["other_cpu_cores"])
if noise:
    print(f"\nother processes' load during the PyTorch runs: {min(noise):.2f}-{max(noise):.2f} cores")
PYEOF
