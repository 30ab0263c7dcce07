#!/usr/bin/env bash
# attend word2vec vs gensim 4.4 (../shared/peers/bench_w2v.py) on ../shared/data/english-corpus,
# same settings (skip-gram, dim 100, window 5, negative 5, min-count 5, sample 1e-3, seed 1),
# alternating the two programs. Usage:
#   PY=$HOME/.cache/attend-peers/venv/bin/python bash benches/word2vec_vs_gensim.sh OUT_DIR "1 2" 1 [5]
# (threads to try, epochs for the speed runs, optional epochs for one accuracy run at 2 threads)
set -euo pipefail
OUT=${1:?output folder}; THREADS=${2:-"1 2"}; EPOCHS=${3:-1}; ACC_EPOCHS=${4:-}
DATA=../shared/data
[ -d "$DATA/english-corpus" ] || { echo "missing $DATA/english-corpus (shared data not present)"; exit 1; }
PY=${PY:-python3}
ATTEND=${ATTEND:-${CARGO_TARGET_DIR:-target}/release/attend}
mkdir -p "$OUT"
PREP="$OUT/prepared.txt"
EVAL=(--analogies "$DATA/word-analogy/questions-words.dev.txt" --similarity "$DATA"/word-similarity/*.dev.*)
run_pair() { # threads epochs
  local t=$1 e=$2
  echo "== gensim workers=$t epochs=$e"
  "$PY" ../shared/peers/bench_w2v.py --workers "$t" --epochs "$e" --prepared "$PREP" --out "$OUT/gensim-t$t-e$e.json" \
    | grep -v '^{' | tee "$OUT/gensim-t$t-e$e.log"
  echo "== attend threads=$t epochs=$e"
  rm -rf "$OUT/attend-t$t-e$e"
  "$ATTEND" train --task word2vec --data "$DATA/english-corpus" --out "$OUT/attend-t$t-e$e" \
    --set word2vec.threads="$t" --set word2vec.epochs="$e" --quiet | tee "$OUT/attend-t$t-e$e.log"
  "$ATTEND" eval --vectors "$OUT/attend-t$t-e$e" "${EVAL[@]}" | tee -a "$OUT/attend-t$t-e$e.log"
  rm -rf "$OUT/attend-t$t-e$e"
}
for t in $THREADS; do run_pair "$t" "$EPOCHS"; done
[ -n "$ACC_EPOCHS" ] && run_pair 2 "$ACC_EPOCHS"
rm -f "$PREP"
