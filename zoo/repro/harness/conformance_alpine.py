"""Conformance of ALPINE: tokzoo's ``alpine`` vs the authors' pruning layer on one random RoBERTa.

``compare(ctx, reference, params, dtype) -> Measurement`` for
:func:`zoo.repro.conformance.conformance_claim`.

The authors' replication package (SMART-Dal/FSE25-Alpine-Replication-Package) runs its pruning
layer inside its own RoBERTa (``polp``, not installable here: it needs its own tokenizer and hub
stack). What decides the result is theirs and is called as it is: ``pruning.AttenPruner.IQRPruner``
(scores, range, the kept mask) and ``pruning.utils.repack_tensor_and_create_mask(..., fuse=True)``
(removal and the merged token). The layer around them follows ``PrunableEncoderLayer.forward``
step by step on the Hugging Face RoBERTa's own modules (post-norm: attention, add & norm, the
pruner on that layer's attention probabilities, repack, feed-forward, add & norm), with the
attention probabilities computed in eager math. tokzoo runs ``zoo.apply(model, "alpine", ...)``
on the same model. Each sentence is compared alone (unpadded: the official code scores and
merges padding, which tokzoo by design does not).
"""

from __future__ import annotations

from typing import Any

from zoo.repro.conformance import Reference, measurement
from zoo.repro.harness.official import imported, max_abs_diff, torch_dtype
from zoo.repro.spec import Measurement

SEED = 0
#: sentence lengths compared (tokens, <s> and </s> included)
LENGTHS = (24, 41, 64)


def tiny_roberta(dtype: str, layers: int = 6):
    """A small random ``RobertaModel`` (eager attention) in ``dtype``."""
    import torch
    from transformers import RobertaConfig, RobertaModel

    torch.manual_seed(SEED)
    config = RobertaConfig(vocab_size=300, hidden_size=64, num_hidden_layers=layers, num_attention_heads=4,
                           intermediate_size=128, max_position_embeddings=130, pad_token_id=1,
                           attn_implementation="eager")
    model = RobertaModel(config, add_pooling_layer=False).eval()
    with torch.no_grad():
        for layer in model.encoder.layer:  # sharper attention, so that scores differ between tokens
            layer.attention.self.query.weight.mul_(4.0)
    return model.to(torch_dtype(dtype))


def sentences() -> list[Any]:
    import torch

    g = torch.Generator().manual_seed(SEED + 1)
    out = []
    for n in LENGTHS:
        ids = torch.randint(5, 300, (1, n), generator=g)
        ids[0, 0], ids[0, -1] = 0, 2  # <s> ... </s>
        out.append(ids)
    return out


def official_forward(model: Any, ids: Any, layers: tuple[int, ...], alpha: float, pruner_mod: Any,
                     utils_mod: Any) -> tuple[Any, list[int]]:
    """``PrunableEncoderLayer.forward`` with the official pruner and repack, on the HF model's modules."""
    import torch

    x = model.embeddings(input_ids=ids)
    mask = torch.ones(ids.shape, dtype=torch.bool)
    counts = []
    for i, layer in enumerate(model.encoder.layer):
        sa = layer.attention.self
        b, n, _ = x.shape
        shape = (b, n, -1, sa.attention_head_size)
        q, k, v = (lin(x).view(shape).transpose(1, 2) for lin in (sa.query, sa.key, sa.value))
        bias = torch.zeros(b, 1, 1, n, dtype=x.dtype).masked_fill(~mask[:, None, None, :], float("-inf"))
        probs = torch.softmax(q @ k.transpose(-1, -2) * sa.scaling + bias, dim=-1)
        ctx = (probs @ v).transpose(1, 2).reshape(b, n, -1)
        residual = layer.attention.output(ctx, x)
        if i in layers:
            pruner = pruner_mod.IQRPruner(idx=i, alpha=alpha)
            kept = pruner(probs, mask[:, None, None, :])
            residual, mask = utils_mod.repack_tensor_and_create_mask(residual, kept, True)
        x = layer.feed_forward_chunk(residual)
        counts.append(int(x.shape[1]))
    return x, counts


def alpine(ctx: Any, reference: Reference, params: dict[str, Any], dtype: str) -> Measurement:
    """tokzoo's ``alpine`` vs the official ``IQRPruner`` + ``repack_tensor_and_create_mask`` (fuse)."""
    import torch

    import zoo

    model = tiny_roberta(dtype)
    depth = len(model.encoder.layer)
    method = zoo.method_class("alpine")(**params)
    layers = method.acting(depth)
    diffs, ours_counts, theirs_counts = {}, [], []
    with imported(reference.path, "pruning.AttenPruner", "pruning.utils") as (pruner_mod, utils_mod):
        for ids in sentences():
            with torch.inference_mode():
                theirs, counts = official_forward(model, ids, layers, float(method.alpha), pruner_mod, utils_mod)
                with zoo.apply(model, "alpine", **params) as h:
                    ours = model(input_ids=ids).last_hidden_state
            n = ids.shape[1]
            ours_counts.append(list(h.run.tokens["text"]))
            theirs_counts.append(counts)
            diffs[f"last hidden state, {n} tokens"] = (max_abs_diff(ours, theirs) if ours.shape == theirs.shape
                                                        else float("inf"))
    same_counts = ours_counts == theirs_counts
    return measurement(reference, dtype, differences=diffs,
                       kept_equal={"same token counts after every block": same_counts},
                       details={"model": "RoBERTa (hidden 64, 6 layers, 4 heads, eager), random weights "
                                         f"(torch.manual_seed({SEED}), query weights x4)",
                                "sentences": list(LENGTHS), "params": dict(params), "layers": list(layers),
                                "tokens_after_block": {"tokzoo": ours_counts, "official": theirs_counts},
                                "official_call": "pruning.AttenPruner.IQRPruner(idx, alpha)(probs, mask); "
                                                 "pruning.utils.repack_tensor_and_create_mask(h, kept, True)"})
