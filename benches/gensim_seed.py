# gensim 4.4 Word2Vec with bench_w2v.py's settings, a chosen seed, on a prepared file
# (attend prepare ...); prints analogy and similarity scores. Run from the attend checkout.
# Usage: $PY benches/gensim_seed.py SEED prepared.txt [WORKERS (default 2)] [corpus_file|iterable] [VECTORS.bin]
# (VECTORS.bin: also save the vectors in word2vec's binary format, e.g. for `attend eval --vectors`)
# (iterable: gensim reads LineSentence through Python; its learning rate then follows the words
# of all workers together, whereas corpus_file mode with W > 1 workers decays it by each worker's
# share only, see BENCHMARKS.md)
# FULL_DECAY=1 in the environment: corpus_file mode with each worker's learning rate decayed fully
# (total_examples = corpus_count / WORKERS, the only change), instead of half-way per epoch with 2.
import os, sys, json, time
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence
seed = int(sys.argv[1]); path = sys.argv[2]
workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
mode = sys.argv[4] if len(sys.argv) > 4 else "corpus_file"
m = Word2Vec(vector_size=100, window=5, negative=5, hs=0, sg=1, min_count=5, sample=1e-3, workers=workers, seed=seed)
if mode == "corpus_file":
    m.build_vocab(corpus_file=path)
    t = time.time()
    examples = m.corpus_count // workers if os.environ.get('FULL_DECAY') == '1' else m.corpus_count
    m.train(corpus_file=path, total_words=m.corpus_total_words, total_examples=examples, epochs=5)
else:
    m.build_vocab(LineSentence(path))
    t = time.time()
    m.train(LineSentence(path), total_words=m.corpus_total_words, total_examples=m.corpus_count, epochs=5)
t = time.time() - t
if len(sys.argv) > 5:
    m.wv.save_word2vec_format(sys.argv[5], binary=True)
score, sections = m.wv.evaluate_word_analogies('../shared/data/word-analogy/questions-words.dev.txt', restrict_vocab=30000, case_insensitive=True)
tot = [s for s in sections if s['section'] == 'Total accuracy'][0]
ok, bad = len(tot['correct']), len(tot['incorrect'])
sims = {}
for f in ['simlex999.dev.txt', 'wordsim353.dev.tsv']:
    p, s, oov = m.wv.evaluate_word_pairs('../shared/data/word-similarity/' + f, delimiter='\t', case_insensitive=True, restrict_vocab=300000)
    sims[f] = round(float(s[0]), 4)
print(json.dumps({"seed": seed, "workers": workers, "mode": mode, "train_s": round(t, 1), "correct": ok, "evaluated": ok + bad, "acc": round(ok / (ok + bad), 4), **sims}))
