#!/usr/bin/env bash
# k-fold cross-validation of an `attend train --task classify` recipe: one shuffle of the data
# (data.split_seed), each fold held out once (data.fold), every text scored exactly once.
# Prints each fold's accuracy and the pooled accuracy over all folds (the literature's
# protocol for datasets without a fixed test split, such as rt-polarity).
#
# Usage: benches/cv_classify.sh OUT FOLDS SPLIT_SEED [attend train options...]
#   e.g. benches/cv_classify.sh runs/cv-bag 10 42 --data data/rt-polarity/train.pos data/rt-polarity/train.neg \
#          --set model.arch='"bag"' --set data.ngrams=2 --set model.d_model=10 --set model.dropout=0.3 \
#          --set train.lr=0.003 --set train.epochs=5
# ATTEND selects the binary (default: target/release/attend, or $CARGO_TARGET_DIR's).
set -euo pipefail
if [ $# -lt 3 ]; then
  sed -n 2,11p "$0" >&2
  exit 2
fi
out=$1 folds=$2 split=$3
shift 3
attend=${ATTEND:-${CARGO_TARGET_DIR:-target}/release/attend}
[ -x "$attend" ] || { echo "cv_classify: no attend binary at $attend (cargo build --release, or set ATTEND)" >&2; exit 1; }
mkdir -p "$out"
correct=0 total=0
for ((f = 0; f < folds; f++)); do
  run=$out/fold$f
  if [ ! -f "$run/eval.txt" ]; then
    "$attend" train --task classify --out "$run" --set data.split_seed="$split" --set data.fold="$f" \
      --set data.folds="$folds" "$@" > "$run.log" 2>&1 || { echo "fold $f failed: see $run.log" >&2; exit 1; }
    "$attend" eval --run "$run" --data "$run/valid.tsv" > "$run/eval.txt"
  fi
  # "accuracy 0.7956 (959 texts), loss 0.4392"
  read -r acc n < <(sed -n 's/^accuracy \([0-9.]*\) (\([0-9]*\) texts).*/\1 \2/p' "$run/eval.txt")
  hits=$(awk -v a="$acc" -v n="$n" 'BEGIN { printf "%d", a * n + 0.5 }')
  correct=$((correct + hits)) total=$((total + n))
  echo "fold $f: accuracy $acc ($hits of $n)"
done
awk -v c="$correct" -v t="$total" -v k="$folds" 'BEGIN { printf "%d-fold accuracy %.4f (%d of %d)\n", k, c / t, c, t }'
