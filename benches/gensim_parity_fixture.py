# Writes the fixture of crates/attend-train/tests/gensim_parity.rs: what gensim 4.4 starts from
# and ends with when it trains word2vec (skip-gram and CBOW, negative sampling, one worker,
# corpus_file mode) on the first 400 sentences of data/austen, so that the test can replay
# gensim's random stream through attend's training loop and compare the vectors.
# Usage (from the attend checkout): $PY benches/gensim_parity_fixture.py
# (PY: a Python with gensim 4.4 and numpy; the sentences come from `attend prepare`.)
import copy, json, os, subprocess, sys, tempfile
import numpy as np
import gensim
from gensim.models import Word2Vec

OUT = 'crates/attend-train/tests/fixtures/gensim-word2vec'
SENTENCES, DIM, EPOCHS, SEED = 400, 16, 2, 3
attend = os.environ.get('ATTEND', os.path.join(os.environ.get('CARGO_TARGET_DIR', 'target'), 'release', 'attend'))
tmp = tempfile.mkdtemp()
subprocess.run([attend, 'word2vec', 'prepare', '--corpus', 'data/austen', '--out', f'{tmp}/all.txt'], check=True)
with open(f'{tmp}/all.txt') as f, open(f'{tmp}/corpus.txt', 'w') as g:
    for _, line in zip(range(SENTENCES), f):
        g.write(line)
corpus = f'{tmp}/corpus.txt'
os.makedirs(OUT, exist_ok=True)
meta = {'gensim': gensim.__version__, 'sentences': SENTENCES, 'dim': DIM, 'epochs': EPOCHS, 'seed': SEED,
        'window': 5, 'negative': 5, 'min_count': 5, 'sample': 1e-3, 'alpha': 0.025, 'min_alpha': 0.0001}
for sg, name in ((1, 'sg'), (0, 'cbow')):
    m = Word2Vec(vector_size=DIM, window=5, negative=5, hs=0, sg=sg, min_count=5, sample=1e-3, workers=1, seed=SEED)
    m.build_vocab(corpus_file=corpus)
    r = copy.deepcopy(m.random)  # init_w2v_config draws each epoch's seed from it: 2^24·a + b
    meta[f'{name}_next_random'] = [int((2**24) * r.randint(0, 2**24) + r.randint(0, 2**24)) for _ in range(EPOCHS)]
    if sg:
        with open(f'{OUT}/vocab.txt', 'w') as f:
            f.write('\n'.join(m.wv.index_to_key) + '\n')
        np.asarray(m.wv.expandos['sample_int'], dtype='<u4').tofile(f'{OUT}/sample_int.u32')
        np.asarray(m.cum_table, dtype='<u4').tofile(f'{OUT}/cum_table.u32')
        np.asarray(m.wv.vectors, dtype='<f4').tofile(f'{OUT}/init.f32')
        meta['corpus_count'] = m.corpus_count
        meta['corpus_total_words'] = m.corpus_total_words
    m.train(corpus_file=corpus, total_words=m.corpus_total_words, total_examples=m.corpus_count, epochs=EPOCHS)
    np.asarray(m.wv.vectors, dtype='<f4').tofile(f'{OUT}/{name}_input.f32')
    np.asarray(m.syn1neg, dtype='<f4').tofile(f'{OUT}/{name}_output.f32')
with open(f'{OUT}/meta.json', 'w') as f:
    json.dump(meta, f, indent=1)
print(json.dumps(meta))
