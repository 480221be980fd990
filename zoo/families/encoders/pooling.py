"""Mean pooling of an encoder's token outputs, with or without a token-reduction method applied.

sentence-transformers' mean pooling averages the token embeddings under the attention mask:
``sum_i m_i h_i / sum_i m_i``. After a reduction the output has fewer tokens, some standing for
several inputs (merges) and, in padded batches, padding slots at the end of shorter rows. The
faithful counterpart weights each output token by the number of input tokens it stands for
(``adapter.output_sizes()``; 0 for padding slots): ``sum_j s_j h_j / sum_j s_j``. Pruned tokens
count for nothing (only survivors are averaged); with no reduction it is exactly the masked mean.
"""

from __future__ import annotations

from typing import Any


def mean_pool(hidden: Any, attention_mask: Any = None, handle: Any = None) -> Any:
    """Mean-pool ``hidden`` ``[B, N', C]`` -> ``[B, C]``.

    ``attention_mask`` ``[B, N]``: the mask given to the model (used when nothing was reduced).
    ``handle``: the ``zoo.apply`` handle active during the forward (its adapter knows the output
    tokens' sizes and padding slots), or ``None`` for an unreduced forward.
    """
    import torch

    weights = None
    adapter = getattr(handle, "adapter", None)
    if adapter is not None and hasattr(adapter, "output_sizes"):
        sizes, valid = adapter.output_sizes(), adapter.output_mask()
        if sizes is not None and sizes.shape[1] == hidden.shape[1]:
            weights = sizes.squeeze(-1)
        elif valid is not None and valid.shape[1] == hidden.shape[1]:
            weights = valid.to(hidden.dtype)
    if weights is None:
        if attention_mask is not None and attention_mask.shape[1] == hidden.shape[1]:
            weights = attention_mask.to(hidden.dtype)
        else:
            weights = torch.ones(hidden.shape[:2], dtype=hidden.dtype, device=hidden.device)
    weights = weights.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1e-9)
