#!/usr/bin/env python3
"""A non-neural reference for rt-polarity: NB-weighted logistic regression on word
n-gram presence (Wang & Manning 2012, "Baselines and Bigrams", the NB-LR variant of NBSVM),
to show how far from-scratch models get on this data.

Data: the bundled data/rt-polarity/train.pos and train.neg (one sentence per line, tokens
split on spaces, lowercased). Features: the set of n-grams (n = 1..N) of a sentence; each is
scaled by the log-count ratio r = log((p/|p|) / (q/|q|)), p and q the positive and negative
class counts + 1; L2-regularised logistic regression (1/C) fitted by L-BFGS.

    python benches/nblr_rt_polarity.py --folds 10            # 10-fold cross-validation
    python benches/nblr_rt_polarity.py --valid runs/X/valid.tsv  # attend's held-out split

Needs numpy and scipy (the peers' venv has both: ../shared/peers/setup.sh).
"""
import argparse
import random

import numpy as np
from scipy import sparse
from scipy.optimize import minimize


def load(path):
    return [l.strip() for l in open(path, encoding="utf-8", errors="replace") if l.strip()]


def grams(text, n):
    w = text.lower().split()
    g = set()
    for k in range(1, n + 1):
        g |= {" ".join(w[i:i + k]) for i in range(len(w) - k + 1)}
    return g


def accuracy(train, valid, n, C):
    """train, valid: lists of (text, label 0/1)."""
    vocab = {}
    for t, _ in train:
        for g in grams(t, n):
            vocab.setdefault(g, len(vocab))

    def matrix(data):
        rows, cols = [], []
        for r, (t, _) in enumerate(data):
            for g in grams(t, n):
                if g in vocab:
                    rows.append(r)
                    cols.append(vocab[g])
        return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(data), len(vocab)))

    xt, xv = matrix(train), matrix(valid)
    yt = np.array([y for _, y in train])
    yv = np.array([y for _, y in valid])
    p = 1 + xt[yt == 1].sum(0).A1
    q = 1 + xt[yt == 0].sum(0).A1
    r = np.log((p / p.sum()) / (q / q.sum()))
    xt, xv = xt.multiply(r).tocsr(), xv.multiply(r).tocsr()
    s = 2 * yt - 1

    def loss(wb):
        w, b = wb[:-1], wb[-1]
        m = s * (xt @ w + b)
        g = -s / (1 + np.exp(m))
        return np.logaddexp(0, -m).sum() + 0.5 / C * (w @ w), np.append(xt.T @ g + w / C, g.sum())

    wb = minimize(loss, np.zeros(xt.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500}).x
    return float((((xv @ wb[:-1] + wb[-1]) > 0) == yv).mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/rt-polarity")
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--valid", default=None, help="label<TAB>text file (pos/neg) held out; train on the rest")
    ap.add_argument("--n", type=int, nargs="*", default=[1, 2, 3])
    ap.add_argument("--C", type=float, nargs="*", default=[0.1, 1.0])
    a = ap.parse_args()
    data = [(t, 1) for t in load(f"{a.data}/train.pos")] + [(t, 0) for t in load(f"{a.data}/train.neg")]
    for n in a.n:
        for C in a.C:
            if a.valid:
                held = [l.rstrip("\n").split("\t", 1) for l in open(a.valid, encoding="utf-8")][1:]
                held = [(t, 1 if lab == "pos" else 0) for lab, t in held]
                keys = {(t.strip(), y) for t, y in held}
                train = [d for d in data if (d[0], d[1]) not in keys]
                print(f"n={n} C={C}: {len(train)} training, {len(held)} held-out: accuracy {accuracy(train, held, n, C) * 100:.2f} %", flush=True)
            else:
                order = list(range(len(data)))
                random.Random(0).shuffle(order)
                accs = []
                for k in range(a.folds):
                    fold = set(order[k::a.folds])
                    accs.append(accuracy([data[i] for i in order if i not in fold], [data[i] for i in sorted(fold)], n, C))
                print(f"n={n} C={C}: {a.folds}-fold mean {np.mean(accs) * 100:.2f} % (folds {min(accs) * 100:.2f}-{max(accs) * 100:.2f})", flush=True)


if __name__ == "__main__":
    main()
