"""Driver run by *another* Python interpreter: the authors' LLM-side code on weights and inputs from tokzoo.

FastV, PyramidDrop and SparseVLM prune inside their own copies of the transformers-4.x Llama
decoder forward, which do not import under the transformers 5 that tokzoo uses. This file is
run by an interpreter that has the transformers 4.x of the official repository (see
:mod:`zoo.repro.harness.conformance_llm_tf4`, which writes its input and reads its output).
It imports nothing from tokzoo, only ``torch``, ``safetensors``, ``transformers`` and the
official checkout, and it changes no file of the checkout.

Usage::

    OTHER_PYTHON tf4_driver.py --versions      # installed {"python", "torch", "transformers", ...} as JSON
    OTHER_PYTHON tf4_driver.py EXCHANGE_FOLDER

The exchange folder holds

- ``request.json``: ``method`` (a key of :data:`METHODS`), ``official`` (checkout path),
  ``dtype``, ``config`` (plain ``LlamaConfig`` fields), ``image_start`` and ``image_tokens``
  (the image span in the sequence), ``params`` (the method's settings in the official code's
  own names), ``seed``;
- ``weights.safetensors``: the language model in transformers-4.x ``LlamaForCausalLM`` names
  (``model.embed_tokens.weight``, ``model.layers.<i>....``, ``model.norm.weight``, ``lm_head.weight``);
- ``inputs.safetensors``: ``inputs_embeds`` ``[1, N, C]``, the sequence that enters the
  decoder (text embeddings and projected image features, as LLaVA assembles it).

The driver builds the official model class, loads the weights (strictly: only buffers the
official class registers itself, such as rotary ``inv_freq``, may be missing), runs one
prefill forward with the method off (``baseline``) and on, and writes

- ``result.safetensors``: for the baseline and the method run (and any extra run of a method,
  its tensors prefixed with the run's name), the input of ``lm_head`` (the
  final normalised hidden states, ``baseline_hidden``/``hidden`` ``[1, N', C]``) and its output
  (``baseline_logits``/``logits`` ``[1, N', V]``, read before the official ``logits.float()``,
  which would round a float64 run to float32);
  and, for every reduction of the method run, the hidden states entering the layer after it
  (``entering_layer_<i>`` ``[1, N_i, C]``: kept and new tokens);
- ``result.json``: versions, where ``transformers`` was imported from, the attention class
  of the layers, the hidden-state length entering every decoder layer, and every reduction
  (for each layer whose input is not the previous layer's output: for each token entering
  it, the row of the previous layer's output it is, ``-1`` for a new token such as a merged
  cluster), every attention-mask reduction (a layer whose 4-D mask lets the last query see
  other keys than the layer before: the visible keys), plus the official code's log lines.

Reductions are read from the outside (forward hooks on the decoder layers, exact row
matching), so the same trace serves every method.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import sys
import types
from pathlib import Path
from typing import Any, Callable

DTYPES = ("float64", "float32", "bfloat16", "float16")


# ----------------------------------------------------------------------------- pieces without torch
def match_rows(before: list[bytes], after: list[bytes]) -> list[int]:
    """For each row of ``after`` (raw bytes of one token's hidden state), the index of the identical
    row of ``before``, or ``-1`` when none is identical (a token made by the method). The first
    of identical rows wins."""
    where: dict[bytes, int] = {}
    for i, row in enumerate(before):
        where.setdefault(row, i)
    return [where.get(row, -1) for row in after]


def reductions(inputs: list[tuple[int, list[bytes]]], outputs: list[list[bytes]]) -> list[dict[str, Any]]:
    """The reductions seen between decoder layers.

    ``inputs[i]`` = (length, rows) of the hidden states entering layer ``i``; ``outputs[i]`` = rows
    of its output. A layer whose input differs from the previous output starts a reduction:
    ``{"layer": i, "n_before": ..., "n_after": ..., "kept": [row of the previous output or -1]}``.
    """
    out = []
    for i in range(1, len(inputs)):
        n, rows = inputs[i]
        prev = outputs[i - 1]
        if rows == prev:
            continue
        out.append({"layer": i, "n_before": len(prev), "n_after": n, "kept": match_rows(prev, rows)})
    return out


def official_params(request: dict[str, Any]) -> dict[str, Any]:
    """The request's ``params`` with a clear error when one is missing."""
    params = dict(request.get("params") or {})
    needed = {"fastv": ("agg_layer", "attention_rank", "inplace"),
              "pyramiddrop": ("layer_list", "image_token_ratio_list"),
              "sparsevlm": ("retain_tokens",), "stock": ()}[request["method"]]
    missing = [p for p in needed if p not in params]
    if missing:
        raise ValueError(f"request for {request['method']}: params {missing} missing (given: {sorted(params)})")
    return params


# ----------------------------------------------------------------------------- tracing (torch)
def _row_bytes(t) -> list[bytes]:
    """Raw bytes of each row of ``t [1, N, C]`` (any dtype; one sequence: the official LLaVA-era
    code these comparisons drive handles one sample per forward)."""
    import torch

    flat = t[0].detach().contiguous()
    raw = flat.view(-1).view(torch.uint8).reshape(flat.shape[0], -1).cpu().numpy()
    return [r.tobytes() for r in raw]


def visible_keys(mask) -> list[int] | None:
    """Key columns the last query may attend to under an additive 4-D mask ``[1, 1, N, N]`` (0 = visible,
    very negative = hidden); ``None`` without such a mask."""
    if mask is None or getattr(mask, "dim", lambda: 0)() != 4 or mask.dtype.is_floating_point is False:
        return None
    last = mask[0, 0, -1].float()
    return [int(j) for j in (last > -1e4).nonzero().flatten().tolist()]


def mask_changes(visible: list[list[int] | None], lengths: list[int]) -> list[dict[str, Any]]:
    """Layers whose last query may see other keys than at the layer before while the sequence keeps its
    length (an attention-mask reduction, such as FastV's mask variant): ``[{"layer": i, "visible": [...]}]``."""
    return [{"layer": i, "visible": visible[i]} for i in range(1, len(visible))
            if visible[i] is not None and visible[i - 1] is not None and lengths[i] == lengths[i - 1]
            and visible[i] != visible[i - 1]]


class LayerTrace:
    """Forward hooks on every decoder layer: the hidden states entering and leaving it, and which keys the
    last query may see (from the layer's 4-D attention mask, where one is passed)."""

    def __init__(self, layers) -> None:
        self.inputs: list[tuple[int, list[bytes]]] = []
        self.outputs: list[list[bytes]] = []
        self.entering: list[Any] = []  # the hidden-state tensors entering each layer
        self.visible: list[list[int] | None] = []
        self.handles = []
        for layer in layers:
            self.handles.append(layer.register_forward_pre_hook(self._pre, with_kwargs=True))
            self.handles.append(layer.register_forward_hook(self._post))

    def _pre(self, module, args, kwargs):
        hidden = args[0] if args else kwargs["hidden_states"]
        self.inputs.append((int(hidden.shape[1]), _row_bytes(hidden)))
        self.entering.append(hidden.detach().clone())
        self.visible.append(visible_keys(kwargs.get("attention_mask")))

    def _post(self, module, args, output):
        hidden = output[0] if isinstance(output, (tuple, list)) else output
        self.outputs.append(_row_bytes(hidden))

    def close(self) -> dict[str, Any]:
        """The trace as JSON-able data (``entering`` keeps the tensors of the layers after a reduction)."""
        for h in self.handles:
            h.remove()
        return {"tokens_entering_layer": [n for n, _ in self.inputs],
                "tokens_after_last_layer": len(self.outputs[-1]) if self.outputs else None,
                "reductions": reductions(self.inputs, self.outputs), "mask_reductions": mask_changes(self.visible, [n for n, _ in self.inputs])}


def _torch_dtype(name: str):
    import torch

    if name not in DTYPES:
        raise ValueError(f"dtype={name!r}; allowed: {', '.join(DTYPES)}")
    return getattr(torch, name)


def _load(model, weights: dict, dtype: str):
    """``model`` with ``weights``, its parameters in ``dtype`` (buffers such as rotary tables left as the
    official class built them, as tokzoo's side does); only buffers the official class makes itself
    may be missing from ``weights``."""
    import torch

    with torch.no_grad():
        for p in model.parameters():
            p.data = p.data.to(_torch_dtype(dtype))
    model = model.eval()
    missing, unexpected = model.load_state_dict(weights, strict=False)
    own = {name for name, _ in model.named_buffers()}
    bad = [m for m in missing if m not in own]
    if bad or unexpected:
        raise ValueError(f"weights do not fit the official model: missing {bad[:5]}, unexpected {list(unexpected)[:5]}")
    return model, buffer_summary(missing)


def buffer_summary(names) -> dict[str, int]:
    """``{"model.layers.*.self_attn.rotary_emb.inv_freq": 32}``: names with layer numbers folded."""
    import re

    out: dict[str, int] = {}
    for name in names:
        key = re.sub(r"\.\d+\.", ".*.", name)
        out[key] = out.get(key, 0) + 1
    return out


@contextlib.contextmanager
def _on_path(*folders: Path):
    saved = list(sys.path)
    sys.path[:0] = [str(f) for f in folders]
    try:
        yield
    finally:
        sys.path[:] = saved


def _package_stubs(root: Path, *names: str) -> None:
    """Empty packages whose ``__path__`` is the checkout's folder, so that their ``__init__`` (which
    imports every model of the repository and its demo dependencies) is not run."""
    for name in names:
        mod = types.ModuleType(name)
        mod.__path__ = [str(root.joinpath(*name.split(".")))]
        sys.modules[name] = mod


@contextlib.contextmanager
def _no_cuda_timing():
    """The official SparseVLM forward times itself with ``torch.cuda.Event``/``synchronize`` (no effect on
    its numbers); on a machine without CUDA those calls are replaced by no-ops for the call."""
    import torch

    if torch.cuda.is_available():
        yield
        return

    class Event:
        def __init__(self, *args, **kwargs) -> None:
            pass

        def record(self, *args, **kwargs) -> None:
            pass

        def elapsed_time(self, other) -> float:
            return 0.0

    saved = torch.cuda.Event, torch.cuda.synchronize
    torch.cuda.Event, torch.cuda.synchronize = Event, lambda *a, **k: None
    try:
        yield
    finally:
        torch.cuda.Event, torch.cuda.synchronize = saved


@contextlib.contextmanager
def _default_dtype(dtype: str):
    """torch's default dtype = the run's dtype (float32/float64) during the official forward: the
    transformers-4.x mask helpers fill a default-dtype tensor with ``finfo(run dtype).min``, which
    overflows float32 in a float64 run; the official code run in float64 needs this."""
    import torch

    previous = torch.get_default_dtype()
    if dtype in ("float32", "float64"):
        torch.set_default_dtype(_torch_dtype(dtype))
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record) -> None:
        import re

        self.lines.append(re.sub(r"\x1b\[[0-9;]*m", "", record.getMessage()))  # without terminal colours


# ----------------------------------------------------------------------------- official adapters
def run_fastv(request, root: Path, weights, embeds) -> dict[str, Any]:
    """pkunlp-icler/FastV: the transformers 4.31 fork in ``src/transformers`` (its ``LlamaModel.forward``
    holds FastV), imported from the checkout; ``fast_v_*`` config fields as the repository's
    inference scripts set them (``fast_v_sys_length`` = image start, ``fast_v_image_token_length`` =
    image tokens, ``fast_v_attention_rank`` = kept image tokens, ``fast_v_agg_layer`` = K,
    ``fast_v_inplace``: the token-dropping variant). Eager attention with ``output_attentions``
    (the fork's FastV reads layer K-1's attention map)."""
    p = official_params(request)
    fork = root / "src" / "transformers" / "src"
    sys.path.insert(0, str(fork))
    for name in [m for m in sys.modules if m == "transformers" or m.startswith("transformers.")]:
        del sys.modules[name]
    import transformers
    from transformers import LlamaConfig, LlamaForCausalLM

    if not str(Path(transformers.__file__).resolve()).startswith(str(fork.resolve())):
        raise RuntimeError(f"transformers was imported from {transformers.__file__}, not from the FastV fork {fork}")

    def build(on: bool):
        cfg = LlamaConfig(**request["config"], use_fast_v=on, fast_v_inplace=bool(p["inplace"]),
                          fast_v_sys_length=int(request["image_start"]),
                          fast_v_image_token_length=int(request["image_tokens"]),
                          fast_v_attention_rank=int(p["attention_rank"]), fast_v_agg_layer=int(p["agg_layer"]))
        return LlamaForCausalLM(cfg)

    def forward(model, on, options):
        return model(inputs_embeds=embeds, use_cache=False, output_attentions=True, return_dict=True)

    return _run(build, forward, weights, request, transformers, lambda m: m.model.layers)


def run_pyramiddrop(request, root: Path, weights, embeds) -> dict[str, Any]:
    """Cooperx521/PyramidDrop: ``LlavaLlamaForCausalLM_PDrop`` (its ``forward`` calls ``pdrop_forward``,
    which calls ``pdrop_rank_drop`` after the layers before ``layer_list``) on a LLaVA config without
    a vision tower, SDPA attention (what ``from_pretrained`` picks under transformers 4.37).
    ``image_token_ratio_list`` gets the leading 1.0 that ``llava/eval/run_llava.py`` inserts; the
    three per-sample fields that ``prepare_inputs_labels_for_multimodal_pdrop`` sets are set to the
    values it computes for this sequence (``image_token_posi`` = image start, ``prompt_len`` =
    prompt length without the image placeholder, ``image_tokens`` = image tokens)."""
    p = official_params(request)
    _package_stubs(root, "llava", "llava.model", "llava.model.language_model")
    sys.path.insert(0, str(root))
    import transformers
    from llava.model.language_model.llava_llama_pdrop import LlavaConfig, LlavaLlamaForCausalLM_PDrop

    n, n_img = int(embeds.shape[1]), int(request["image_tokens"])

    def build(on: bool):
        cfg = LlavaConfig(**request["config"])
        cfg._attn_implementation = "sdpa"
        model = LlavaLlamaForCausalLM_PDrop(cfg)
        model.model.layer_list = list(p["layer_list"]) if on else []
        model.model.image_token_ratio_list = [1.0, *[float(r) for r in p["image_token_ratio_list"]]]
        model.model.image_token_posi = [int(request["image_start"])]
        model.model.prompt_len = [n - n_img]
        model.model.image_tokens = [n_img]
        return model

    def forward(model, on, options):
        return model(inputs_embeds=embeds, use_cache=False, return_dict=True)

    return _run(build, forward, weights, request, transformers, lambda m: m.model.layers)


def run_sparsevlm(request, root: Path, weights, embeds) -> dict[str, Any]:
    """Gumpest/SparseVLMs: ``LlavaLlamaDynamicForCausalLM`` (``sparse_llava_llama.py``; its decoder is
    ``LlamaDynamicvitModel`` of ``modelling_sparse_llama.py``) on a LLaVA config without a vision
    tower, SDPA (the only attention it accepts), ``RETAIN_TOKN`` = the budget, ``USE_VERSION`` unset
    (v1.x), ``image_shape`` = image tokens and ``pre_prompt_length_list`` = [image start] as
    ``prepare_sparse_inputs_labels_for_multimodal`` passes them, ``use_cache=True`` as its
    ``generate`` runs the prefill (a pruning layer reads the attention map at index 2 of the layer's
    outputs, which is there only with a cache).

    ``cluster_and_merge`` (``utils.py``) adds ``torch.rand(...) * 1e-6`` to the densities to break
    ties. The method run uses it with that noise set to zero (``utils.torch.rand`` replaced by
    zeros for the call, nothing else of ``torch`` changed); ``params["noise_seeds"]`` adds one run
    per seed with the noise as the official code draws it (``torch.manual_seed(seed)`` first)."""
    import torch

    p = official_params(request)
    os.environ["RETAIN_TOKN"] = str(int(p["retain_tokens"]))
    os.environ.pop("USE_VERSION", None)
    _package_stubs(root, "llava", "llava.model", "llava.model.language_model")
    sys.path.insert(0, str(root))
    import transformers
    from llava.model.language_model import utils as official_utils
    from llava.model.language_model.sparse_llava_llama import LlavaConfig, LlavaLlamaDynamicForCausalLM

    lines = _Lines()
    logging.getLogger("llava.model.language_model.utils").addHandler(lines)
    start, n_img = int(request["image_start"]), int(request["image_tokens"])

    def build(on: bool):
        cfg = LlavaConfig(**request["config"])
        cfg._attn_implementation = "sdpa"
        return LlavaLlamaDynamicForCausalLM(cfg)

    def forward(model, on: bool, options: dict):
        torch.manual_seed(int(options.get("seed", request.get("seed", 0))))
        extra = {"image_shape": n_img, "pre_prompt_length_list": [start]} if on else {}
        with _no_cuda_timing(), _cluster_noise(official_utils, options.get("noise", "zero")):
            return model(inputs_embeds=embeds, use_cache=True, return_dict=True, **extra)

    runs = [("baseline", False, {}), ("method", True, {"noise": "zero"})]
    runs += [(f"noise_seed{int(seed)}", True, {"noise": "as drawn", "seed": int(seed)})
             for seed in p.get("noise_seeds", ())]
    result = _run(build, forward, weights, request, transformers, lambda m: m.model.layers, runs)
    result["official_log"] = lines.lines
    return result


@contextlib.contextmanager
def _cluster_noise(module, mode: str):
    """``mode="zero"``: ``module.torch.rand`` gives zeros during the block (SparseVLM's tie-breaking
    noise off); ``"as drawn"``: unchanged."""
    if mode == "as drawn":
        yield
        return
    if mode != "zero":
        raise ValueError(f"noise={mode!r}; allowed: 'zero', 'as drawn'")
    real = module.torch

    class NoNoise(types.ModuleType):
        def __getattr__(self, name):
            return getattr(real, name)

        @staticmethod
        def rand(*args, **kwargs):
            return real.zeros(*args, **kwargs)

    module.torch = NoNoise("torch")
    try:
        yield
    finally:
        module.torch = real


def run_stock(request, root: Path, weights, embeds) -> dict[str, Any]:
    """The interpreter's own ``transformers.LlamaForCausalLM`` with no method (both runs are the
    baseline): checks the exchange itself, and serves tests run without an official environment."""
    import transformers
    from transformers import LlamaConfig, LlamaForCausalLM

    def build(on: bool):
        cfg = LlamaConfig(**request["config"])
        cfg._attn_implementation = request.get("attn", "eager")
        return LlamaForCausalLM(cfg)

    def forward(model, on, options):
        return model(inputs_embeds=embeds, use_cache=False, return_dict=True)

    return _run(build, forward, weights, request, transformers, lambda m: m.model.layers)


METHODS: dict[str, Callable[..., dict[str, Any]]] = {
    "fastv": run_fastv, "pyramiddrop": run_pyramiddrop, "sparsevlm": run_sparsevlm, "stock": run_stock,
}


BASE_RUNS = (("baseline", False, {}), ("method", True, {}))


def _run(build, forward, weights, request, transformers, layers_of, runs=BASE_RUNS) -> dict[str, Any]:
    """Runs of the official model: ``(name, method on, options)``; baseline = method off.

    ``build(on)`` makes the model, ``forward(model, on, options)`` runs it on the exchange's
    ``inputs_embeds``. Tensors of a run other than ``method`` are prefixed with its name."""
    import torch

    out: dict[str, Any] = {"transformers_file": str(Path(transformers.__file__).resolve()),
                           "transformers": transformers.__version__, "runs": [name for name, _, _ in runs]}
    tensors = {}
    for name, on, options in runs:
        torch.manual_seed(0)
        previous = torch.get_default_dtype()
        torch.set_default_dtype(torch.float32)  # built as the official code builds it, then cast and loaded
        try:
            model = build(on)
        finally:
            torch.set_default_dtype(previous)
        model, own_buffers = _load(model, weights, request["dtype"])
        trace = LayerTrace(layers_of(model))
        head: dict[str, Any] = {}
        hook = model.lm_head.register_forward_hook(lambda mod, args, res: head.update(hidden=args[0], logits=res))
        try:
            with torch.inference_mode(), _default_dtype(request["dtype"]):
                forward(model, on, options)
        finally:
            hook.remove()
        prefix = "" if name == "method" else f"{name}_"
        out[name] = trace.close()
        out[name].update(buffers_not_from_tokzoo=own_buffers, options=options,
                         attention_class=type(layers_of(model)[0].self_attn).__name__)
        for red in out[name]["reductions"]:  # what enters each layer right after a reduction: kept and new tokens
            tensors[f"{prefix}entering_layer_{red['layer']}"] = trace.entering[red["layer"]].contiguous()
        for key, value in head.items():
            tensors[prefix + key] = value.detach().contiguous()
        del model
    out["tensors"] = tensors
    return out


# ----------------------------------------------------------------------------- entry point
def versions(imported: bool = True) -> dict[str, str]:
    """Versions of the interpreter's packages: of the imported modules, or (``imported=False``, quick:
    nothing is imported) of the installed distributions."""
    from importlib import metadata

    out = {"python": platform.python_version(), "executable": sys.executable}
    for name in ("torch", "transformers", "safetensors", "tokenizers", "numpy"):
        try:
            out[name] = __import__(name).__version__ if imported else metadata.version(name)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            out[name] = f"not available ({type(exc).__name__})"
    return out


def main(argv: list[str]) -> int:
    if argv == ["--versions"]:
        print(json.dumps(versions(imported=False)))
        return 0
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    folder = Path(argv[0])
    request = json.loads((folder / "request.json").read_text())
    if request.get("method") not in METHODS:
        raise ValueError(f"method={request.get('method')!r}; allowed: {', '.join(METHODS)}")
    env = versions()  # before the official code can replace transformers on sys.path
    from safetensors.torch import load_file, save_file

    weights = load_file(str(folder / "weights.safetensors"))
    embeds = load_file(str(folder / "inputs.safetensors"))["inputs_embeds"]
    root = Path(request.get("official") or ".").resolve()
    result = METHODS[request["method"]](request, root, weights, embeds)
    tensors = result.pop("tensors")
    save_file(tensors, str(folder / "result.safetensors"))
    result["environment"] = env
    (folder / "result.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
