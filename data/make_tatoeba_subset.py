"""Makes the bundled Tatoeba files from ../shared/data/tatoeba-eng-fra:

- data/tatoeba-eng-fra/train.tsv.gz: the whole training split, gzip -9 -n
  (the default run reads it directly);
- data/tatoeba-eng-fra/valid.tsv: the whole validation split, unchanged;
- data/tatoeba-eng-fra/valid-short.tsv: its pairs whose English side has at
  most 8 words (split on white space), the "general short sentences" that the
  default run is measured on (each source with all its references);
- data/tatoeba-eng-fra/subset/{train,valid}.tsv: the earlier default data,
  described below.

The subset is the one of the PyTorch seq2seq tutorial: pairs whose English side,
lowercased with punctuation stripped, has fewer than 10 words and starts with
"i am", "he is", "she is", "you are", "we are", "they are" (or the contractions),
and whose French side has fewer than 12 words. Sentences are kept verbatim.
Run from the repository root: python3 data/make_tatoeba_subset.py
"""
import gzip
import re
import sys
from pathlib import Path

PREFIXES = ("i am ", "i m ", "he is", "he s ", "she is", "she s ",
            "you are", "you re ", "we are", "we re ", "they are", "they re ")


def norm(s: str) -> str:
    s = s.lower().strip()
    s = re.sub(r"([.!?])", r" \1", s)
    return re.sub(r"[^a-zA-Z.!?]+", r" ", s)


def main() -> None:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/tatoeba-eng-fra")
    out = Path("data/tatoeba-eng-fra")
    out.mkdir(parents=True, exist_ok=True)
    train = (src / "train.tsv").read_bytes()
    with open(out / "train.tsv.gz", "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", compresslevel=9, mtime=0, filename="") as gz:
        gz.write(train)
    valid = (src / "valid.tsv").read_text(encoding="utf-8")
    (out / "valid.tsv").write_text(valid, encoding="utf-8")
    short = [l + "\n" for l in valid.splitlines() if len(l.split("\t")[0].split()) <= 8]
    (out / "valid-short.tsv").write_text("".join(short), encoding="utf-8")
    print("train", train.count(b"\n"), "valid", valid.count("\n"), "valid-short", len(short))
    out = out / "subset"
    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "valid"):
        kept = []
        for line in (src / f"{split}.tsv").read_text(encoding="utf-8").splitlines():
            eng, fra = line.split("\t")[:2]
            if len(norm(eng).split()) < 10 and len(fra.split()) < 12 and norm(eng).startswith(PREFIXES):
                kept.append(f"{eng}\t{fra}\n")
        (out / f"{split}.tsv").write_text("".join(kept), encoding="utf-8")
        print(split, len(kept))


if __name__ == "__main__":
    main()
