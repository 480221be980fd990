"""Tiny randomly initialised LLaVA models for the VLM tests (no weights, no network).

``build_tiny_llava(path, ...)`` writes a LLaVA-1.5-layout checkpoint (CLIP vision tower,
two-layer GELU projector, Llama decoder) with ``save_pretrained`` so tests load it back with
the real ``from_pretrained`` path. ``make_inputs`` builds prompts whose image span sits at a
different offset in every row (left padding, a system prefix of varying length), so no test
can pass by assuming fixed offsets.
"""

from __future__ import annotations

from pathlib import Path

import torch

IMAGE_TOKEN_ID = 5
PAD_TOKEN_ID = 0
VOCAB = 97


def tiny_llava_config(*, image_size: int = 56, patch_size: int = 14, vision_layers: int = 3,
                      text_layers: int = 4, hidden: int = 48, heads: int = 4, kv_heads: int = 2,
                      vocab: int = VOCAB):
    """A LLaVA-1.5-layout config: ``(image_size // patch_size) ** 2`` image tokens per image."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig

    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=vision_layers,
                              num_attention_heads=4, image_size=image_size, patch_size=patch_size,
                              projection_dim=32)
    text = LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden,
                       num_hidden_layers=text_layers, num_attention_heads=heads,
                       num_key_value_heads=kv_heads, max_position_embeddings=512,
                       pad_token_id=PAD_TOKEN_ID, bos_token_id=1, eos_token_id=2)
    n_image = (image_size // patch_size) ** 2
    return LlavaConfig(vision_config=vision, text_config=text, image_token_index=IMAGE_TOKEN_ID,
                       image_seq_length=n_image, vision_feature_layer=-2,
                       vision_feature_select_strategy="default")


def build_tiny_llava(path: Path, seed: int = 0, **config_kwargs) -> Path:
    """Save a random tiny LLaVA checkpoint to ``path`` and return it."""
    from transformers import LlavaForConditionalGeneration

    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(tiny_llava_config(**config_kwargs))
    # random init leaves the attention nearly uniform; sharpen it so rankings are well separated
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("q_proj.weight", "k_proj.weight")):
                p.mul_(4.0)
    model.save_pretrained(path)
    return path


def load_tiny_llava(path: Path, *, attn: str = "sdpa", dtype: torch.dtype = torch.float32):
    from transformers import LlavaForConditionalGeneration

    model = LlavaForConditionalGeneration.from_pretrained(path, attn_implementation=attn, dtype=dtype)
    return model.eval()


def make_inputs(model, *, batch: int = 2, prefixes=(3, 6), suffixes=(7, 5), seed: int = 1,
                left_pad: bool = True, images_per_row: int = 1):
    """Prompts ``[pad] BOS prefix <image>*n suffix`` with different prefix/suffix lengths per row.

    Returns ``dict(input_ids, attention_mask, pixel_values)``; rows are left-padded to one length.
    """
    cfg = model.config
    n_img = cfg.image_seq_length
    g = torch.Generator().manual_seed(seed)
    rows = []
    for b in range(batch):
        pre = prefixes[b % len(prefixes)]
        suf = suffixes[b % len(suffixes)]
        body = [1] + torch.randint(10, VOCAB, (pre,), generator=g).tolist()
        for _ in range(images_per_row):
            body += [IMAGE_TOKEN_ID] * n_img
        body += torch.randint(10, VOCAB, (suf,), generator=g).tolist()
        rows.append(body)
    length = max(len(r) for r in rows)
    ids = torch.full((batch, length), PAD_TOKEN_ID, dtype=torch.long)
    mask = torch.zeros((batch, length), dtype=torch.long)
    for b, r in enumerate(rows):
        if left_pad:
            ids[b, length - len(r):] = torch.tensor(r)
            mask[b, length - len(r):] = 1
        else:
            ids[b, :len(r)] = torch.tensor(r)
            mask[b, :len(r)] = 1
    size = cfg.vision_config.image_size
    pixels = torch.randn(batch * images_per_row, 3, size, size, generator=g)
    return {"input_ids": ids, "attention_mask": mask, "pixel_values": pixels.to(model.dtype)}


# --------------------------------------------------------------------------- shared case list
#: (case id, [(method id, params), ...], no-op budget or None). A case with two methods
#: composes a vision-encoder method with an llm-prefill one in one ``zoo.apply``.
VLM_CASES = [
    ("fastv", [("fastv", dict(k=2, keep_ratio=0.5))], [("fastv", dict(k=2, keep_ratio=1.0))]),
    ("fastv-R", [("fastv", dict(k=1, R=0.75))], [("fastv", dict(k=1, R=0.0))]),
    ("fastv-mask", [("fastv", dict(k=2, keep_ratio=0.5, variant="mask"))],
     [("fastv", dict(k=2, keep_ratio=1.0, variant="mask"))]),
    ("pyramiddrop", [("pyramiddrop", dict(layers=(1, 2, 3), lam=0.5))], [("pyramiddrop", dict(layers=(1, 2), lam=1.0))]),
    ("sparsevlm", [("sparsevlm", dict(layers=(0, 1, 2), schedule=(9, 5, 2)))],
     [("sparsevlm", dict(layers=(0, 2), keep_ratio=1.0))]),
    ("sparsevlm-64", [("sparsevlm", dict(layers=(0, 1, 2), tokens=64))], None),
    ("fastervlm", [("fastervlm", dict(keep_ratio=0.25))], [("fastervlm", dict(keep_ratio=1.0))]),
    ("visionzip", [("visionzip", dict(dominant=5, contextual=2))], [("visionzip", dict(keep_tokens=16))]),
    ("prumerge", [("llava-prumerge", dict())], [("llava-prumerge", dict(keep_ratio=1.0))]),
    ("prumerge+", [("llava-prumerge", dict(plus=True, keep_ratio=0.1))], None),
    ("random", [("random", dict(layers=1, keep_ratio=0.5))], [("random", dict(layers=1, keep_ratio=1.0))]),
    ("dart", [("dart", dict(k=2, keep_ratio=0.5, pivot_image=2, pivot_text=2))],
     [("dart", dict(k=2, keep_ratio=1.0, pivot_image=2, pivot_text=2))]),
    ("divprune", [("divprune", dict(keep_ratio=0.25))], [("divprune", dict(keep_ratio=1.0))]),
    ("pooling", [("pooling", dict(keep_ratio=0.25))], [("pooling", dict(stride=1))]),
    ("visionzip+divprune", [("visionzip", dict(dominant=7, contextual=3)), ("divprune", dict(keep_ratio=0.5))], None),
    ("visionzip+fastv", [("visionzip", dict(dominant=7, contextual=3)), ("fastv", dict(k=2, keep_ratio=0.5))],
     None),
    ("prumerge+pyramiddrop", [("llava-prumerge", dict()), ("pyramiddrop", dict(layers=(1, 3), lam=0.5))], None),
]


def compose_sources(kept: list) -> list:
    """Per event, indices into the language model's input of the tokens leaving the event.

    ``kept``: ``Run.kept_indices["llm"]`` (each event's indices into the sequence entering it,
    -1 for padding slots and inserted tokens)."""
    out, src = [], None
    for k in kept:
        cur = k if src is None else torch.where(k >= 0, src.gather(1, k.clamp(min=0)), torch.full_like(k, -1))
        out.append(cur)
        src = cur
    return out


def build_methods(specs):
    """Method instances for ``[(id, params), ...]``."""
    import zoo

    return [zoo.method_class(mid)(**params) for mid, params in specs]


class _Replay:
    """Selector that records its first (prefill) selection and replays it on longer inputs.

    A reference decode without KV cache re-runs the whole prompt plus the generated tokens;
    the replay keeps exactly the prefill's tokens (generated tokens, appended at the end,
    are always kept) so the reference applies the same kept tokens as the cached decode.
    """

    def __init__(self, select) -> None:
        self.select = select
        self.recorded = None

    def __call__(self, ctx):
        from zoo.families.decoders.runtime import PruneSelection

        n = ctx.hidden.shape[1]
        if self.recorded is None:
            sel = self.select(ctx)
            self.recorded = (n, sel)
            return sel
        n0, sel = self.recorded
        tail = torch.arange(n0, n, device=sel.keep.device).expand(sel.keep.shape[0], -1)
        replace = None if sel.replace is None else torch.cat([sel.replace, ctx.hidden[:, n0:n]], dim=1)
        return PruneSelection(keep=torch.cat([sel.keep, tail], dim=1), extra=sel.extra, extra_at=sel.extra_at,
                              replace=replace)


class _ReplayAdapter:
    def __init__(self, adapter) -> None:
        self._adapter = adapter

    def __getattr__(self, name):
        return getattr(self._adapter, name)

    def install_llm_reduction(self, patch, run, events, **kw):
        from dataclasses import replace

        events = [replace(e, select=_Replay(e.select)) for e in events]
        self._adapter.install_llm_reduction(patch, run, events, **kw)

    def install_token_pruning(self, patch, run, **kw):
        # the generic primitive builds its event through self.install_llm_reduction: run it on this wrapper
        type(self._adapter).install_token_pruning(self, patch, run, **kw)


def replaying(method):
    """Wrap a method so that its prefill selections are recorded once and replayed (see :class:`_Replay`)."""
    from zoo.interface import Method

    class Replayed(Method):
        def __init__(self, inner) -> None:
            self.inner = inner
            self.id, self.families, self.placement = inner.id, inner.families, inner.placement

        def check_model(self, adapter) -> None:
            self.inner.check_model(adapter)

        def install(self, adapter, patch, run) -> None:
            self.inner.install(_ReplayAdapter(adapter), patch, run)

        def params(self):
            return self.inner.params()

    return Replayed(method)


def assert_generate_matches_reference(model, specs, inputs: dict, steps: int = 4) -> None:
    """``generate`` with the KV cache under ``specs`` = recomputing prompt + generated tokens without
    cache under the same kept tokens (:func:`replaying`), step by step (logits and greedy tokens)."""
    import zoo

    with zoo.apply(model, *build_methods(specs)):
        with torch.no_grad():
            gen = model.generate(**inputs, max_new_tokens=steps, do_sample=False, output_logits=True,
                                 return_dict_in_generate=True, suppress_tokens=[IMAGE_TOKEN_ID])
    new = gen.sequences[:, inputs["input_ids"].shape[1]:]
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    fixed = {k: v for k, v in inputs.items() if k not in ("input_ids", "attention_mask")}
    with zoo.apply(model, *[replaying(m) for m in build_methods(specs)]):
        for t in range(steps):
            with torch.no_grad():
                out = model(input_ids=ids, attention_mask=mask, position_ids=generate_positions(mask),
                            use_cache=False, **fixed)
            torch.testing.assert_close(out.logits[:, -1], gen.logits[t], rtol=1e-4, atol=1e-4)
            allowed = out.logits[:, -1].clone()
            allowed[:, IMAGE_TOKEN_ID] = float("-inf")  # generate suppressed the placeholder id
            assert torch.equal(allowed.argmax(-1), new[:, t])
            ids = torch.cat([ids, new[:, t:t + 1]], dim=1)
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)


def generate_positions(mask: torch.Tensor) -> torch.Tensor:
    """The position ids ``generate`` derives from a 2D attention mask."""
    return (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)


def unpad_row(inputs: dict, b: int) -> dict:
    """Row ``b`` of a padded batch as a batch of one without padding (its images included)."""
    keep = inputs["attention_mask"][b].bool()
    ids = inputs["input_ids"][b][keep][None]
    per_row = inputs["pixel_values"].shape[0] // inputs["input_ids"].shape[0]
    out = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
           "pixel_values": inputs["pixel_values"][b * per_row:(b + 1) * per_row]}
    if "image_sizes" in inputs:
        out["image_sizes"] = inputs["image_sizes"][b * per_row:(b + 1) * per_row]
    return out


# --------------------------------------------------------------------------- LLaVA-NeXT
def build_tiny_llava_next(path: Path, seed: int = 0) -> Path:
    """A random tiny LLaVA-NeXT checkpoint (anyres: 28 px tiles of 2x2 patches, 2x1/1x2/2x2 grids)."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaNextConfig, LlavaNextForConditionalGeneration

    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                              image_size=28, patch_size=14, projection_dim=32)
    text = LlamaConfig(vocab_size=VOCAB, hidden_size=48, intermediate_size=96, num_hidden_layers=4,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                       pad_token_id=PAD_TOKEN_ID, bos_token_id=1, eos_token_id=2)
    config = LlavaNextConfig(vision_config=vision, text_config=text, image_token_index=IMAGE_TOKEN_ID,
                             image_grid_pinpoints=[[28, 56], [56, 28], [56, 56]], vision_feature_layer=-2)
    torch.manual_seed(seed)
    model = LlavaNextForConditionalGeneration(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("q_proj.weight", "k_proj.weight")):
                p.mul_(4.0)
    model.save_pretrained(path)
    return path


def load_tiny_llava_next(path: Path, *, attn: str = "sdpa"):
    from transformers import LlavaNextForConditionalGeneration

    return LlavaNextForConditionalGeneration.from_pretrained(path, attn_implementation=attn).eval()


def make_next_inputs(model, *, sizes=((30, 50), (50, 30)), prefixes=(3, 6), suffixes=(7, 5), seed: int = 1):
    """Left-padded prompts with one anyres image per row; the placeholder count of each row is
    the number of features the model produces for that image size (base tile, tiles, newlines)."""
    from transformers.models.llava_next.modeling_llava_next import image_size_to_num_patches

    cfg = model.config
    g = torch.Generator().manual_seed(seed)
    tile = cfg.vision_config.image_size
    patches = [image_size_to_num_patches(list(s), cfg.image_grid_pinpoints, tile) for s in sizes]
    pixels = torch.randn(len(sizes), max(patches), 3, tile, tile, generator=g)
    image_sizes = torch.tensor(sizes)
    with torch.no_grad():
        feats = model.model.get_image_features(pixel_values=pixels, image_sizes=image_sizes,
                                               return_dict=True).pooler_output
    rows = []
    for b, f in enumerate(feats):
        body = [1] + torch.randint(10, VOCAB, (prefixes[b % len(prefixes)],), generator=g).tolist()
        body += [IMAGE_TOKEN_ID] * f.shape[0]
        body += torch.randint(10, VOCAB, (suffixes[b % len(suffixes)],), generator=g).tolist()
        rows.append(body)
    length = max(len(r) for r in rows)
    ids = torch.full((len(rows), length), PAD_TOKEN_ID, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for b, r in enumerate(rows):
        ids[b, length - len(r):] = torch.tensor(r)
        mask[b, length - len(r):] = 1
    return {"input_ids": ids, "attention_mask": mask, "pixel_values": pixels, "image_sizes": image_sizes}
