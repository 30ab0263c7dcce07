#!/usr/bin/env python3
"""PyTorch fixtures for importing an `nn.Transformer` translator into attend.

Builds `Translator`, a PyTorch encoder-decoder around `torch.nn.Transformer`
that computes exactly the function of attend's Transformer
(crates/attend-model/src/transformer.rs), randomises every parameter, records
its teacher-forced logits on a fixed padded batch, and writes, under
tests/fixtures/pytorch/:

  tiny_translator.pt         state_dict of a pre-LN model (norm_first=True):
                             a stock nn.Transformer, whose final encoder and
                             decoder LayerNorms are attend's `encoder.norm` and
                             `decoder.norm` (attend has them only when pre-LN);
                             ReLU, sinusoidal positions, untied generator.
  tiny_translator.json       its config, the matching attend `[model]`
                             section, inputs, padding masks, encoder output and
                             logits.
  tiny_translator_post.pt    the post-LN variant (attend's default placement):
  tiny_translator_post.json  nn.Transformer built from custom encoder/decoder
                             stacks with norm=None, because attend's post-LN
                             model has no final norms and nn.Transformer always
                             adds them otherwise; GELU (exact, erf) and learned
                             positions, to exercise those mappings too.

docs/pytorch-mapping.md describes the key mapping; `to_attend` below is that
mapping as code, and `attend_forward` re-implements attend's forward pass (as
the Rust code computes it: separate query/key/value projections, Burn's
[d_in, d_out] weights, masks filled with -1e9) from the mapped tensors. The
script checks that (1) reloading each saved state_dict into a fresh model
reproduces the logits bit for bit, (2) attend_forward on the mapped tensors
matches nn.Transformer's logits, and (3) a deliberately wrong mapping (query
and key thirds swapped) does not, so the fixture can tell.

Run with the peers' venv (torch 2.x, CPU):
    $HOME/.cache/attend-peers/venv/bin/python tools/pytorch_translator_fixture.py
"""

import json
import math
import os
import sys
import warnings

import torch
from torch import nn

PAD, UNK, BOS, EOS = 0, 1, 2, 3  # crates/attend-data/src/vocab.rs
LAYER_NORM_EPS = 1e-5  # attend_model::fused::LAYER_NORM_EPSILON (Burn's LayerNormConfig default)
MASK_VALUE = -1.0e9  # attend_model::attention::MASK_VALUE

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "pytorch")


def sinusoid_table(max_len: int, d_model: int) -> torch.Tensor:
    """attend's positional::sinusoid_table: computed in f64, stored as f32."""
    t = torch.zeros(max_len, d_model, dtype=torch.float64)
    for pos in range(max_len):
        for i in range(0, d_model, 2):
            angle = pos / (10000.0 ** (i / d_model))
            t[pos, i] = math.sin(angle)
            if i + 1 < d_model:
                t[pos, i + 1] = math.cos(angle)
    return t.to(torch.float32)


class SinusoidalPositions(nn.Module):
    """Fixed sinusoids, added to the scaled embeddings. A non-persistent
    buffer, so it is not in the state_dict (attend does not store it either)."""

    def __init__(self, d_model: int, max_len: int):
        super().__init__()
        self.register_buffer("table", sinusoid_table(max_len, d_model), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [batch, seq, d_model]
        return x + self.table[: x.size(1)].unsqueeze(0)


class LearnedPositions(nn.Module):
    """A learned vector per position (attend's `positional = "learned"`)."""

    def __init__(self, d_model: int, max_len: int):
        super().__init__()
        self.embedding = nn.Embedding(max_len, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.embedding.weight[: x.size(1)].unsqueeze(0)


class Translator(nn.Module):
    """Source/target embeddings (x sqrt(d_model)) + positions, nn.Transformer
    (batch_first), and a separate output projection (`generator`)."""

    def __init__(self, src_vocab, tgt_vocab, d_model, n_heads, d_ff, encoder_layers, decoder_layers,
                 dropout, norm_first, activation, positional, max_len):
        super().__init__()
        self.d_model = d_model
        self.src_embed = nn.Embedding(src_vocab, d_model)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model)
        self.positional = (SinusoidalPositions if positional == "sinusoidal" else LearnedPositions)(d_model, max_len)
        common = dict(d_model=d_model, nhead=n_heads, dim_feedforward=d_ff, dropout=dropout, activation=activation,
                      layer_norm_eps=LAYER_NORM_EPS, batch_first=True, norm_first=norm_first)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "enable_nested_tensor is True, but ... norm_first was True"
            if norm_first:
                # Stock nn.Transformer: its final encoder/decoder norms are attend's pre-LN final norms.
                self.transformer = nn.Transformer(num_encoder_layers=encoder_layers,
                                                  num_decoder_layers=decoder_layers, **common)
            else:
                # attend's post-LN model has no final norms: give nn.Transformer stacks without them.
                enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(**common), encoder_layers, norm=None,
                                            enable_nested_tensor=False)
                dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(**common), decoder_layers, norm=None)
                self.transformer = nn.Transformer(custom_encoder=enc, custom_decoder=dec, **common)
        self.generator = nn.Linear(d_model, tgt_vocab)

    def masks(self, src, tgt_in):
        src_pad = src == PAD  # [batch, s_src], True = padding (attend: Padded::pad_mask)
        tgt_pad = tgt_in == PAD  # [batch, s_tgt]
        s = tgt_in.size(1)
        causal = torch.triu(torch.ones(s, s, dtype=torch.bool), diagonal=1)  # True = future key
        return src_pad, tgt_pad, causal

    def encode(self, src):
        src_pad, _, _ = self.masks(src, src)
        x = self.positional(self.src_embed(src) * math.sqrt(self.d_model))
        return self.transformer.encoder(x, src_key_padding_mask=src_pad)

    def forward(self, src, tgt_in):
        """Teacher-forced logits [batch, s_tgt, tgt_vocab] (attend's Seq2SeqModel::forward)."""
        src_pad, tgt_pad, causal = self.masks(src, tgt_in)
        x = self.positional(self.src_embed(src) * math.sqrt(self.d_model))
        y = self.positional(self.tgt_embed(tgt_in) * math.sqrt(self.d_model))
        h = self.transformer(x, y, tgt_mask=causal, src_key_padding_mask=src_pad,
                             tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=src_pad)
        return self.generator(h)


# ---------------------------------------------------------------------------
# The mapping (docs/pytorch-mapping.md) and attend's forward pass on its result.

def to_attend(sd, n_enc, n_dec, norm_first, positional, swap_qk=False):
    """PyTorch state_dict -> {attend (Burn) path: tensor in Burn's layout}.
    Burn Linear weights are [d_in, d_out] = PyTorch's weight transposed;
    Burn LayerNorm is gamma/beta. swap_qk: a deliberately wrong mapping."""
    out = {}
    used = set()

    def take(key):
        used.add(key)
        return sd[key].detach().clone()

    def linear(pt, burn):
        out[burn + ".weight"] = take(pt + ".weight").t().contiguous()
        out[burn + ".bias"] = take(pt + ".bias")

    def norm(pt, burn):
        out[burn + ".gamma"] = take(pt + ".weight")
        out[burn + ".beta"] = take(pt + ".bias")

    def mha(pt, burn):
        w = take(pt + ".in_proj_weight")  # [3d, d]: rows q | k | v
        b = take(pt + ".in_proj_bias")  # [3d]
        d = w.size(1)
        names = ["key", "query", "value"] if swap_qk else ["query", "key", "value"]
        for i, name in enumerate(names):
            out[f"{burn}.{name}.weight"] = w[i * d:(i + 1) * d].t().contiguous()  # [d_in, d_out]
            out[f"{burn}.{name}.bias"] = b[i * d:(i + 1) * d].clone()
        linear(pt + ".out_proj", burn + ".output")

    out["src_embed.embedding.weight"] = take("src_embed.weight")
    out["tgt_embed.embedding.weight"] = take("tgt_embed.weight")
    if positional == "learned":
        out["positional.learned.weight"] = take("positional.embedding.weight")
    for l in range(n_enc):
        p, b = f"transformer.encoder.layers.{l}", f"encoder.layers.{l}"
        mha(p + ".self_attn", b + ".self_attn")
        linear(p + ".linear1", b + ".ff.linear_inner")
        linear(p + ".linear2", b + ".ff.linear_outer")
        norm(p + ".norm1", b + ".norm_attn")
        norm(p + ".norm2", b + ".norm_ff")
    for l in range(n_dec):
        p, b = f"transformer.decoder.layers.{l}", f"decoder.layers.{l}"
        mha(p + ".self_attn", b + ".self_attn")
        mha(p + ".multihead_attn", b + ".cross_attn")
        linear(p + ".linear1", b + ".ff.linear_inner")
        linear(p + ".linear2", b + ".ff.linear_outer")
        norm(p + ".norm1", b + ".norm_self")
        norm(p + ".norm2", b + ".norm_cross")
        norm(p + ".norm3", b + ".norm_ff")
    if norm_first:
        norm("transformer.encoder.norm", "encoder.norm")
        norm("transformer.decoder.norm", "decoder.norm")
    linear("generator", "output")
    unused = set(sd) - used
    assert not unused, f"state_dict keys the mapping does not use: {sorted(unused)}"
    return out


def attend_forward(w, src, tgt_in, cfg):
    """attend's Transformer::forward, literally, on Burn-layout tensors `w`."""
    d, h = cfg["d_model"], cfg["n_heads"]
    dk = d // h
    pre = cfg["norm"] == "pre"
    act = torch.relu if cfg["activation"] == "relu" else (lambda x: torch.nn.functional.gelu(x))

    def lin(x, p):
        return x @ w[p + ".weight"] + w[p + ".bias"]

    def ln(x, p):
        return torch.nn.functional.layer_norm(x, (d,), w[p + ".gamma"], w[p + ".beta"], LAYER_NORM_EPS)

    def heads(x):  # [b, s, d] -> [b, h, s, dk]
        b, s, _ = x.shape
        return x.reshape(b, s, h, dk).transpose(1, 2)

    def attn(p, q_in, kv_in, key_pad, causal):
        q, k, v = heads(lin(q_in, p + ".query")), heads(lin(kv_in, p + ".key")), heads(lin(kv_in, p + ".value"))
        scores = q @ k.transpose(2, 3) / math.sqrt(dk)
        scores = scores.masked_fill(key_pad[:, None, None, :], MASK_VALUE)
        if causal is not None:
            scores = scores.masked_fill(causal[None, None], MASK_VALUE)
        ctx = torch.softmax(scores, -1) @ v  # [b, h, s_q, dk]
        b, _, s, _ = ctx.shape
        return lin(ctx.transpose(1, 2).reshape(b, s, d), p + ".output")

    def ff(x, p):
        return lin(act(lin(x, p + ".linear_inner")), p + ".linear_outer")

    def embed(ids, table):
        x = w[table][ids] * math.sqrt(d)
        pe = w["positional.learned.weight"] if cfg["positional"] == "learned" else sinusoid_table(cfg["max_len"], d)
        return x + pe[: ids.size(1)][None]

    src_pad, tgt_pad = src == PAD, tgt_in == PAD
    x = embed(src, "src_embed.embedding.weight")
    for l in range(cfg["encoder_layers"]):
        p = f"encoder.layers.{l}"
        if pre:
            x = x + attn(p + ".self_attn", ln(x, p + ".norm_attn"), ln(x, p + ".norm_attn"), src_pad, None)
            x = x + ff(ln(x, p + ".norm_ff"), p + ".ff")
        else:
            x = ln(x + attn(p + ".self_attn", x, x, src_pad, None), p + ".norm_attn")
            x = ln(x + ff(x, p + ".ff"), p + ".norm_ff")
    memory = ln(x, "encoder.norm") if pre else x
    s = tgt_in.size(1)
    causal = torch.triu(torch.ones(s, s, dtype=torch.bool), diagonal=1)
    y = embed(tgt_in, "tgt_embed.embedding.weight")
    for l in range(cfg["decoder_layers"]):
        p = f"decoder.layers.{l}"
        if pre:
            n = ln(y, p + ".norm_self")
            y = y + attn(p + ".self_attn", n, n, tgt_pad, causal)
            y = y + attn(p + ".cross_attn", ln(y, p + ".norm_cross"), memory, src_pad, None)
            y = y + ff(ln(y, p + ".norm_ff"), p + ".ff")
        else:
            y = ln(y + attn(p + ".self_attn", y, y, tgt_pad, causal), p + ".norm_self")
            y = ln(y + attn(p + ".cross_attn", y, memory, src_pad, None), p + ".norm_cross")
            y = ln(y + ff(y, p + ".ff"), p + ".norm_ff")
    if pre:
        y = ln(y, "decoder.norm")
    return lin(y, "output"), memory


# ---------------------------------------------------------------------------

def randomise(model: nn.Module):
    """Every parameter random, so a wrong mapping shows: matrices N(0, 1/fan_in)
    (fan_in = the input width, dim 1 of a PyTorch weight), embeddings N(0, 1/d_model)
    (x sqrt(d_model) gives unit scale), LayerNorm weights N(1, 0.5), every other
    1-D parameter (biases, LayerNorm biases) N(0, 0.5)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2:
                fan_in = p.size(1)
                p.normal_(0.0, fan_in ** -0.5)
            elif ".norm" in name and name.endswith(".weight"):
                p.normal_(1.0, 0.5)
            else:
                p.normal_(0.0, 0.5)


def build(cfg):
    return Translator(cfg["src_vocab"], cfg["tgt_vocab"], cfg["d_model"], cfg["n_heads"], cfg["d_ff"],
                      cfg["encoder_layers"], cfg["decoder_layers"], cfg["dropout"], cfg["norm"] == "pre",
                      cfg["activation"], cfg["positional"], cfg["max_len"])


def attend_model_section(cfg):
    """The `[model]` section of a translate config.toml that builds the same model."""
    return {
        "arch": "transformer",
        "d_model": cfg["d_model"],
        "n_heads": cfg["n_heads"],
        "d_ff": cfg["d_ff"],
        "encoder_layers": cfg["encoder_layers"],
        "decoder_layers": cfg["decoder_layers"],
        "dropout": cfg["dropout"],
        "norm": cfg["norm"],
        "positional": cfg["positional"],
        "activation": cfg["activation"],
        "max_len": cfg["max_len"],
        "share_embeddings": False,
        "tie_output": False,
        "bidirectional": False,
        "attention_score": "additive",
    }


def rounded(t: torch.Tensor):
    """Nested lists of the f32 values (repr of the f32 as a Python float: exact)."""
    return t.detach().to(torch.float32).tolist()


def dumps(obj, indent=0):
    """JSON with one line per innermost list (numbers, bools) and per short entry."""
    pad, inner = " " * indent, " " * (indent + 1)
    if isinstance(obj, dict):
        items = [f"{inner}{json.dumps(k)}: {dumps(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(v, (list, dict)) for v in obj):
        return "[\n" + ",\n".join(inner + dumps(v, indent + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj)


def make(name, cfg, seed):
    torch.manual_seed(seed)
    model = build(cfg)
    randomise(model)
    model.eval()

    # Source: tokens then <eos>, padded with <pad>; target input: <bos> then tokens, padded.
    src = torch.tensor([[5, 6, 7, 8, 9, 3],
                        [10, 4, 3, PAD, PAD, PAD]])
    tgt_in = torch.tensor([[BOS, 4, 9, 12, 6],
                           [BOS, 7, 5, PAD, PAD]])
    assert int(src.max()) < cfg["src_vocab"] and int(tgt_in.max()) < cfg["tgt_vocab"]
    with torch.no_grad():
        logits = model(src, tgt_in)
        memory = model.encode(src)

    os.makedirs(OUT_DIR, exist_ok=True)
    pt_path = os.path.join(OUT_DIR, name + ".pt")
    sd = model.state_dict()
    torch.save(sd, pt_path)

    # (1) Reloading into a fresh, differently initialised model reproduces the logits exactly.
    torch.manual_seed(seed + 1000)
    fresh = build(cfg)
    fresh.load_state_dict(torch.load(pt_path, weights_only=True))
    fresh.eval()
    with torch.no_grad():
        again = fresh(src, tgt_in)
    assert torch.equal(again, logits), "reloaded state_dict gives different logits"

    # (2) attend's forward on the mapped tensors matches; (3) a wrong mapping does not.
    with torch.no_grad():
        mapped = to_attend(sd, cfg["encoder_layers"], cfg["decoder_layers"], cfg["norm"] == "pre", cfg["positional"])
        mirror, mirror_memory = attend_forward(mapped, src, tgt_in, cfg)
        wrong = to_attend(sd, cfg["encoder_layers"], cfg["decoder_layers"], cfg["norm"] == "pre", cfg["positional"],
                          swap_qk=True)
        wrong_logits, _ = attend_forward(wrong, src, tgt_in, cfg)
    real = ~(src == PAD)
    diff = (mirror - logits).abs().max().item()
    mem_diff = (mirror_memory - memory).abs()[real].max().item()
    wrong_diff = (wrong_logits - logits).abs().max().item()
    assert diff < 1e-4, f"attend's forward on the mapped weights differs by {diff}"
    assert mem_diff < 1e-4, f"encoder output differs by {mem_diff}"
    assert wrong_diff > 0.1, f"swapping query/key changes the logits by only {wrong_diff}"

    # How peaked the attention is (a saturated softmax would hide mapping errors).
    with torch.no_grad():
        x = model.positional(model.src_embed(src) * math.sqrt(cfg["d_model"]))
        layer0 = model.transformer.encoder.layers[0]
        xin = layer0.norm1(x) if cfg["norm"] == "pre" else x
        _, att = layer0.self_attn(xin, xin, xin, key_padding_mask=src == PAD, need_weights=True,
                                  average_attn_weights=False)
    peak = att.max(-1).values.mean().item()

    doc = {
        "about": "PyTorch nn.Transformer translator (tools/pytorch_translator_fixture.py) for attend's "
                 "PyTorch import; mapping in docs/pytorch-mapping.md. logits = attend "
                 "Seq2SeqModel::forward(src, Some(src_pad), tgt_in, Some(tgt_pad)) on the imported weights.",
        "torch_version": torch.__version__,
        "python_version": sys.version.split()[0],
        "seed": seed,
        "weights": name + ".pt",
        "config": cfg,
        "attend_model": attend_model_section(cfg),
        "attend_transformer_config": {
            "src_vocab": cfg["src_vocab"], "tgt_vocab": cfg["tgt_vocab"], "d_model": cfg["d_model"],
            "n_heads": cfg["n_heads"], "d_ff": cfg["d_ff"], "encoder_layers": cfg["encoder_layers"],
            "decoder_layers": cfg["decoder_layers"], "dropout": cfg["dropout"],
            "norm_first": cfg["norm"] == "pre", "positional": cfg["positional"], "max_len": cfg["max_len"],
            "share_embeddings": False, "tie_output": False, "activation": cfg["activation"],
        },
        "special_ids": {"pad": PAD, "unk": UNK, "bos": BOS, "eos": EOS},
        "src": src.tolist(),
        "src_pad": (src == PAD).tolist(),
        "tgt_in": tgt_in.tolist(),
        "tgt_pad": (tgt_in == PAD).tolist(),
        "logits_shape": list(logits.shape),
        "logits": rounded(logits),
        "encoder_output_note": "encoder output [batch, s_src, d_model] (attend: Transformer::encode); "
                               "compare only at non-padding source positions",
        "encoder_output": rounded(memory),
        "pytorch_state_dict": {k: list(v.shape) for k, v in sd.items()},
        "attend_tensors": {k: list(v.shape) for k, v in mapped.items()},
        "checks": {
            "reload_max_abs_diff": 0.0,
            "attend_mirror_max_abs_diff": diff,
            "attend_mirror_encoder_max_abs_diff": mem_diff,
            "swapped_qk_max_abs_diff": wrong_diff,
            "encoder_layer0_mean_max_attention_weight": peak,
            "suggested_tolerance": 1e-4,
        },
    }
    json_path = os.path.join(OUT_DIR, name + ".json")
    with open(json_path, "w") as f:
        f.write(dumps(doc) + "\n")
    print(f"{name}: {len(sd)} tensors, {sum(v.numel() for v in sd.values())} parameters; "
          f"mirror diff {diff:.2e}, encoder diff {mem_diff:.2e}, swapped q/k diff {wrong_diff:.2f}, "
          f"mean peak attention {peak:.2f}; {os.path.getsize(pt_path)} + {os.path.getsize(json_path)} bytes")


BASE = dict(src_vocab=11, tgt_vocab=13, d_model=16, n_heads=2, d_ff=32, encoder_layers=2, decoder_layers=2,
            dropout=0.1, max_len=64)

if __name__ == "__main__":
    torch.manual_seed(0)
    torch.set_num_threads(1)
    make("tiny_translator", dict(BASE, norm="pre", activation="relu", positional="sinusoidal"), seed=0)
    make("tiny_translator_post", dict(BASE, norm="post", activation="gelu", positional="learned"), seed=1)
