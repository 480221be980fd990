"""Vision-tower signals of video frames for decoder models (an addition beside the decoder runtime).

Some video methods score tokens by the vision tower's attention (HoliTom: the attention each
patch receives in the last vision layer, averaged over heads and queries; FastVID: a frame-level
query's attention over the patches). The decoder runtime sees the language model's input; this
module captures, during the model's own ``get_video_features`` call, the input of the
self-attention of the vision layer whose output the model feeds to the projector, and on demand
turns it into per-patch maps pooled to the language model's per-frame grid **with the model's own
video pooling** (LLaVA-OneVision: ``apply_pooling``, bilinear; LLaVA-NeXT-Video: the resampler's
average/max pool).

The maps are computed right after the model's ``get_video_features`` returns (they are part of
encoding the video, as in the official codes, where the vision tower or a separate attention head
produces them), only for the kinds a method asks for.

``received [F, h, w]``: ``mean over heads and queries of softmax(q k^T / sqrt(d))``, patch columns;
``mean_query [F, h, w]``: ``mean over heads of softmax(mean_q(q) k^T / sqrt(d))`` (FastVID's rule for
towers without an attention-pooling head). Towers with a [CLS] token (CLIP) drop its column when
the model drops it from the features (``vision_feature_select_strategy="default"``).

Supported adapters: :data:`SUPPORTED` (a separate table, so that the decoder adapters stay as they
are); Qwen2-VL/Qwen2.5-VL are not (window attention, 2 x 2 merger: no per-token map without more
plumbing). Everything is installed through the method's :class:`zoo.interface.Patch`.
"""

from __future__ import annotations

import functools
from typing import Any

#: adapter name -> why not, for the adapters without video vision signals
MISSING: dict[str, str] = {
    "qwen2-vl": "its vision tower mixes window and full attention over 2x2-merged patches; tokzoo has no per-token "
                "vision attention map for it",
    "qwen2.5-vl": "its vision tower mixes window and full attention over 2x2-merged patches; tokzoo has no per-token "
                  "vision attention map for it",
}
SUPPORTED: tuple[str, ...] = ("llava-onevision", "llava-next-video")


class VideoVisionSignals:
    """Captures the vision tower's feature-layer attention input for every ``get_video_features`` call."""

    def __init__(self, adapter: Any, patch: Any, kinds: tuple[str, ...] = ("received", "mean_query")) -> None:
        if adapter.name not in SUPPORTED:
            raise TypeError(f"vision-tower video signals are not available on {adapter.name}: "
                            f"{MISSING.get(adapter.name, 'not supported')} (supported: {', '.join(SUPPORTED)})")
        self.adapter = adapter
        inner = adapter.model.model
        self.inner = inner
        cfg = adapter.config
        layers = adapter.vision_layers
        feature_layer = cfg.vision_feature_layer
        if not isinstance(feature_layer, int):
            raise TypeError("vision-tower video signals need a single vision_feature_layer (got a list)")
        n_states = len(layers) + 1  # hidden_states: the embeddings, then every layer's output
        index = feature_layer % n_states
        if index == 0:
            raise TypeError("vision_feature_layer selects the patch embeddings: no attention produced them")
        self.attn = layers[index - 1].self_attn
        self.drop_cls = getattr(cfg, "vision_feature_select_strategy", "full") == "default"
        bad = [k for k in kinds if k not in ("received", "mean_query")]
        if bad:
            raise ValueError(f"unknown vision signal(s) {bad}; allowed: received, mean_query")
        self.kinds = tuple(kinds)
        self._active = False
        self.inputs = None  # [V * F, n, Cv] of the last call
        self.maps: dict[str, Any] = {}  # kind -> [V * F, h * w], computed as part of the video encoding
        self.frames = 0
        original = inner.get_video_features

        @functools.wraps(original)
        def get_video_features(*args, **kwargs):
            pv = kwargs.get("pixel_values_videos", args[0] if args else None)
            self._active, self.inputs, self.maps = True, None, {}
            self.frames = int(pv.shape[1]) if pv is not None and pv.dim() == 5 else 0
            try:
                out = original(*args, **kwargs)
            finally:
                self._active = False
            if self.inputs is not None:  # the maps are part of encoding the video (as the official codes)
                self.maps = {k: self._maps(self.inputs, k) for k in self.kinds}
            return out

        patch.set_attr(inner, "get_video_features", get_video_features)
        patch.add_hook(self.attn.register_forward_pre_hook(self._capture, with_kwargs=True))
        patch.on_undo(self._clear)

    def _clear(self) -> None:
        self.inputs, self.maps = None, {}

    def _capture(self, module, args, kwargs):
        if self._active:
            self.inputs = (args[0] if args else kwargs["hidden_states"]).detach()

    # ------------------------------------------------------------------ maps
    def _qk(self, x):
        a = self.attn
        f, n, _ = x.shape
        heads = getattr(a, "num_heads", None) or a.config.num_attention_heads
        q = a.q_proj(x).reshape(f, n, heads, -1).transpose(1, 2).float()
        k = a.k_proj(x).reshape(f, n, heads, -1).transpose(1, 2).float()
        return q, k, float(getattr(a, "scale", q.shape[-1] ** -0.5))

    def _patch_columns(self, m):
        return m[..., 1:] if self.drop_cls else m

    def _pool(self, maps):
        """``[F, n]`` patch maps -> ``[F, h * w]`` on the language model's per-frame grid (the model's pooling)."""
        import torch

        x = maps[..., None].to(self.inputs.dtype)
        if self.adapter.name == "llava-onevision":
            return self.inner.apply_pooling(x)[..., 0].float()
        pool = self.inner.vision_resampler.pool
        if not isinstance(pool, (torch.nn.AvgPool2d, torch.nn.MaxPool2d)):
            raise TypeError("llava-next-video with spatial_pool_mode='conv' has no pooling for an attention map")
        side = int(round(maps.shape[-1] ** 0.5))
        return pool(x.reshape(-1, 1, side, side)).flatten(1).float()

    def video_maps(self, index: int, kind: str):
        """``[F, h * w]`` map ``kind`` (``"received"`` or ``"mean_query"``) of video ``index`` of the last call."""
        if kind not in self.maps:
            raise RuntimeError(f"no {kind!r} map: no video was encoded in this forward, or the signal was not "
                               f"requested (requested: {', '.join(self.kinds)})")
        return self.maps[kind][index * self.frames:(index + 1) * self.frames]

    def _maps(self, x, kind: str):
        """``[V * F, h * w]`` map ``kind`` of the captured inputs ``x [V * F, n, Cv]``."""
        import torch

        with torch.no_grad():
            q, k, scale = self._qk(x)
            if kind == "received":
                rows = []
                for f in range(x.shape[0]):  # one frame at a time: [H, n, n] at most
                    att = torch.softmax((q[f] @ k[f].transpose(-1, -2)) * scale, dim=-1)
                    rows.append(att.mean(dim=(0, 1)))
                maps = torch.stack(rows)
            else:
                att = torch.softmax((q.mean(dim=2, keepdim=True) @ k.transpose(-1, -2)) * scale, dim=-1)
                maps = att.mean(dim=1)[:, 0]
            return self._pool(self._patch_columns(maps))
