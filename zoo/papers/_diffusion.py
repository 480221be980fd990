"""Shared pieces of the diffusion methods: the families they run on, validation, seeded generators.

Randomness (ToMeSD's random destinations, SiTo's noise): with ``seed=None`` a method forks torch's
global generator state at its first use, exactly like the official packages (``tomesd`` and the
codes built on it fork ``torch.get_rng_state()``), so ``torch.manual_seed(s)`` before generating
controls it; with an integer ``seed`` the application owns a generator seeded with it. Either way
the generator belongs to one application and advances across blocks and denoising steps.
"""

from __future__ import annotations

from typing import Any

from zoo.interface import Method, _fail, check_int

DIFFUSION_FAMILIES: tuple[str, ...] = ("diffusers-unet", "diffusers-dit", "diffusers-mmdit")
PLACEMENT = "denoiser"


class ForkedGenerator:
    """A ``torch.Generator`` made on first use for a device: seeded with ``seed``, or forked from torch's
    global state when ``seed`` is ``None`` (the official codes' ``init_generator``)."""

    def __init__(self, seed: int | None) -> None:
        self.seed = seed
        self.gen: Any = None

    def get(self, device: Any) -> Any:
        import torch

        device = torch.device(device)
        if self.gen is not None and self.gen.device == device:
            return self.gen
        if device.type not in ("cpu", "cuda"):
            if self.gen is None:  # other devices draw on a CPU generator (as the official code)
                self.gen = self._make(torch.device("cpu"))
            return self.gen
        self.gen = self._make(device)
        return self.gen

    def _make(self, device: Any) -> Any:
        import torch

        gen = torch.Generator(device=device)
        if self.seed is not None:
            return gen.manual_seed(self.seed)
        state = torch.get_rng_state() if device.type == "cpu" else torch.cuda.get_rng_state(device)
        return gen.set_state(state)


def check_seed(method: Method, seed: Any) -> None:
    if seed is not None:
        check_int(method, "seed", seed, low=0)


def check_bool(method: Method, name: str, value: Any) -> None:
    if not isinstance(value, bool):
        _fail(name, value, "True or False", method.id)


def check_stride(method: Method, sx: Any, sy: Any) -> None:
    check_int(method, "sx", sx, low=1)
    check_int(method, "sy", sy, low=1)
    if sx * sy < 2:
        _fail("sx", sx, "sx * sy >= 2 (a 1x1 window makes every token a destination: nothing can merge)", method.id)


def check_signals(method: Method, adapter: Any, needs: frozenset[str]) -> None:
    require = getattr(adapter, "require_signals", None)
    if require is not None:
        require(method.id, needs)


def placements(self_attn: bool, cross_attn: bool, mlp: bool) -> frozenset[str]:
    """The places of a transformer block a method acts at (``self_attn``, ``cross_attn``, ``mlp``),
    from its three on/off options (ToMeSD's ``merge_*``, SiTo's and DaTo's ``prune_*``)."""
    return frozenset(p for p, on in (("self_attn", self_attn), ("cross_attn", cross_attn), ("mlp", mlp)) if on)
