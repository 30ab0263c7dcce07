#!/usr/bin/env bash
# Tries malformed settings and files as a new user would, through the binary;
# prints per try the exit code, the time, whether it panicked, and the first
# line of stderr. Every line should read rc=1, panic=0 and name the key, flag,
# file or line at fault (a few odd-but-valid inputs read rc=0).
#
#   ATTEND=target/release/attend bash tools/probe_bad_input.sh
set -uo pipefail
cd "$(dirname "$0")/.."
A=${ATTEND:-${CARGO_TARGET_DIR:-target}/release/attend}
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
D=$W/files; mkdir -p $D
n=0
TRIES=0; PANICS=0; ODD=0
try() { # label, args...
  local label=$1; shift
  rm -rf $W/out
  local t0=$(date +%s%N)
  timeout 60 "$A" "$@" > $W/stdout 2> $W/stderr; local rc=$?
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  local panic=$(grep -c "panicked" $W/stderr)
  TRIES=$((TRIES + 1)); PANICS=$((PANICS + panic))
  if [ $rc -gt 1 ]; then ODD=$((ODD + 1)); fi
  printf '%-40s rc=%-3s %6d ms panic=%s | %s\n' "$label" "$rc" "$ms" "$panic" "$(grep -v -e '^\s*$' -e XDG_RUNTIME_DIR $W/stderr | head -2 | tr '\n' ' ' | cut -c1-150)"
}
T="train --quiet --out $W/out --set train.max_steps=1"
try "d_model=0"            $T --set model.d_model=0
try "d_model=-4"           $T --set model.d_model=-4
try "n_heads=3"            $T --set model.n_heads=3
try "n_heads=0"            $T --set model.n_heads=0
try "dropout=1.5"          $T --set model.dropout=1.5
try "dropout=-0.1"         $T --set model.dropout=-0.1
try "dropout=1.0"          $T --set model.dropout=1.0
try "lr=nan"               $T --set train.lr=nan
try "lr=inf"               $T --set train.lr=inf
try "d_model=1e9"          $T --set model.d_model=1000000000
try "d_ff=1e10"            $T --set model.d_ff=10000000000
try "layers=100000"        $T --set model.encoder_layers=100000
try "batch_size=0"         $T --set data.batch_size=0
try "max_len=0"            $T --set model.max_len=0
try "device=gpu:7"         $T --device gpu:7
try "device=cuda"          $T --device cuda
try "unknown key"          $T --set model.dmodel=4
try "bad type"             $T --set model.d_model=abc
try "seed=-1"              $T --set train.seed=-1
try "beta2=2"              $T --set train.beta2=2
try "epsilon=0"            $T --set train.epsilon=0
try "warmup=-1"            $T --set train.warmup_steps=-1
try "lm d_model=0"         train --quiet --task lm --out $W/out --set model.d_model=0
try "lm context=0"         train --quiet --task lm --out $W/out --set model.context=0
try "lm dropout=2"         train --quiet --task lm --out $W/out --set model.dropout=2
try "lm n_heads=5"         train --quiet --task lm --out $W/out --set model.n_heads=5
try "lm d_model=1e8"       train --quiet --task lm --out $W/out --set model.d_model=100000000
try "cls dropout=-1"       train --quiet --task classify --out $W/out --set model.dropout=-1
try "cls d_model=0"        train --quiet --task classify --out $W/out --set model.d_model=0
try "cls layers=0"         train --quiet --task classify --out $W/out --set model.layers=0
try "w2v dim=0"            train --quiet --task word2vec --data data/austen --out $W/out --set word2vec.dim=0
try "w2v window=0"         train --quiet --task word2vec --data data/austen --out $W/out --set word2vec.window=0
try "w2v threads=0"        train --quiet --task word2vec --data data/austen --out $W/out --set word2vec.threads=0
try "w2v dim=1e9"          train --quiet --task word2vec --data data/austen --out $W/out --set word2vec.dim=1000000000
try "w2v alpha=nan"        train --quiet --task word2vec --data data/austen --out $W/out --set word2vec.alpha=nan
try "w2v sample=-1"        train --quiet --task word2vec --data data/austen --out $W/out --set word2vec.sample=-1
try "w2v negative=1e5"      train --quiet --task word2vec --data data/austen --out $W/out --set word2vec.negative=100000
# Files
printf 'task = "translate"\n[model\nd_model = 4\n' > $D/broken.toml
try "broken toml"          train --quiet --config $D/broken.toml --out $W/out
printf '\xef\xbb\xbftask = "translate"\n[train]\nmax_steps = 1\n' > $D/bom.toml
try "toml with BOM"        train --quiet --config $D/bom.toml --out $W/out
printf 'Hello.\tBonjour.\r\nBye.\tAu revoir.\r\n' > $D/crlf.tsv
try "crlf tsv"             train --quiet --tsv $D/crlf.tsv --out $W/out --set train.max_steps=1
printf '\xef\xbb\xbfHello.\tBonjour.\nBye.\tAu revoir.' > $D/bom.tsv
try "bom tsv no final nl"  train --quiet --tsv $D/bom.tsv --out $W/out --set train.max_steps=1
printf 'Hello.\nBye.\n' > $D/notab.tsv
try "tsv without tab"      train --quiet --tsv $D/notab.tsv --out $W/out
printf '\xff\xfeH\x00i\x00\n' > $D/utf16.tsv
try "utf16 tsv"            train --quiet --tsv $D/utf16.tsv --out $W/out
: > $D/empty.tsv
try "empty tsv"            train --quiet --tsv $D/empty.tsv --out $W/out
printf '3 2\nking 1 2\nqueen nan 1\nman 1 1\n' > $D/nan.txt
try "vectors nan (text)"   analogy --vectors $D/nan.txt king man queen
printf '2 2\nking 1 2\nqueen inf 1\n' > $D/inf.txt
try "vectors inf (text)"   neighbors --vectors $D/inf.txt king
printf 'king 1 2\nqueen 1e39 1\n' > $D/glove.txt
try "glove overflow 1e39"  neighbors --vectors $D/glove.txt king
printf '99999999999 300\nking ' > $D/huge.bin
try "w2v header 1e11 rows" neighbors --vectors $D/huge.bin king
printf '100000000 100000000\nking ' > $D/huge2.bin
try "w2v header n*d overflow" neighbors --vectors $D/huge2.bin king
printf 'this is not a vocab' > $D/vocab.json
try "nonexistent run"      translate --run $W/nope "Hi."
try "device=wgpu:7 (no such adapter)" translate --run $W/nope --device wgpu:7 "Hi."
# Runs of one kind loaded as another.
R=$W/runs; mkdir -p $R
"$A" train --quiet --out $R/translate --set train.max_steps=1 >/dev/null 2>&1
"$A" train --quiet --task lm --out $R/lm --set train.max_steps=1 >/dev/null 2>&1
"$A" train --quiet --task classify --out $R/classify --set train.max_steps=1 >/dev/null 2>&1
"$A" train --quiet --task word2vec --data data/austen --out $R/word2vec --set word2vec.epochs=1 --set word2vec.dim=16 >/dev/null 2>&1
for run in translate lm classify word2vec; do
  [ "$run" != translate ] && try "translate on a $run run" translate --run $R/$run "Hi."
  [ "$run" != lm ] && try "generate on a $run run" generate --run $R/$run --max-tokens 3
  [ "$run" != classify ] && try "classify on a $run run" classify --run $R/$run "good"
  [ "$run" != translate ] && try "eval --tsv on a $run run" eval --run $R/$run --tsv data/tatoeba-eng-fra/valid.tsv
  [ "$run" != lm ] && try "eval --text on a $run run" eval --run $R/$run --text data/tinyshakespeare/valid.txt
done
try "average a word2vec run" average --run $R/word2vec --last 1 --out $W/avg
echo "$TRIES tries: $PANICS panics, $ODD exits other than 0 or 1 (aborts, kills, timeouts)"
