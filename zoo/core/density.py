"""Density-peak clustering (DPC-KNN) of tokens: the clustering several video methods share.

DPC-KNN (Du et al. 2016, as used by TCFormer and then by PruneVid, FastVID and HoliTom)
scores each token by how *dense* its neighbourhood is and how *far* it is from any denser
token; tokens high on both are cluster centres ("density peaks").

For tokens ``x [B, N, C]``:

- distances ``d_ij = ||x_i - x_j|| / sqrt(C)`` (computed in float32, as the official codes);
- local density ``rho_i = exp(-mean_{j in kNN(i)} d_ij^2)`` over the ``k`` nearest tokens
  (the token itself included: its distance 0 is one of the ``k``);
- distance indicator ``delta_i = min_{j: rho_j > rho_i} d_ij``, or ``max_ij d_ij`` for the
  densest token;
- score ``rho_i * delta_i``; the ``n`` highest-scoring tokens are the centres, in descending
  score order (``torch.topk`` order, which fixes the cluster labels).

The official codes add ``1e-6 * U(0, 1)`` noise to ``rho`` "to ensure no tokens have the same
density". tokzoo adds nothing by default (``noise=None``: deterministic; ties in ``rho`` are
then broken by ``>`` being false both ways, so tied tokens do not count each other as
denser). Pass ``noise [B, N]`` to reproduce a run of the official code exactly.
"""

from __future__ import annotations

import torch


def pairwise_distances(x: torch.Tensor) -> torch.Tensor:
    """``[B, N, N]`` Euclidean distances of x ``[B, N, C]`` divided by ``sqrt(C)`` (float32)."""
    xf = x.float()
    return torch.cdist(xf, xf) / (x.shape[-1] ** 0.5)


def knn_density(dist: torch.Tensor, k: int) -> torch.Tensor:
    """``[B, N]`` local density ``exp(-mean of the k smallest squared distances)`` from dist ``[B, N, N]``."""
    if not 1 <= k <= dist.shape[-1]:
        raise ValueError(f"k={k} nearest neighbours must be within 1..{dist.shape[-1]} (tokens)")
    nearest = torch.topk(dist, k=k, dim=-1, largest=False).values
    return (-(nearest ** 2).mean(dim=-1)).exp()


def peak_scores(x: torch.Tensor, k: int, noise: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DPC-KNN scores of tokens x ``[B, N, C]``: ``(score [B, N], density [B, N], dist [B, N, N])``."""
    dist = pairwise_distances(x)
    density = knn_density(dist, k)
    if noise is not None:
        density = density + noise.to(density.dtype)
    denser = density[:, None, :] > density[:, :, None]  # [B, i, j]: token j is denser than token i
    dist_max = dist.flatten(1).max(dim=-1).values[:, None, None]
    delta = torch.where(denser, dist, dist_max).min(dim=-1).values
    return delta * density, density, dist


def peak_centres(x: torch.Tensor, n_centres: int, k: int, noise: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``n_centres`` density peaks of x ``[B, N, C]``: ``(centres [B, n], dist [B, N, N])``.

    ``centres`` lists token indices in descending score order (the cluster label of centre
    ``centres[:, c]`` is ``c``).
    """
    if not 0 <= n_centres <= x.shape[1]:
        raise ValueError(f"n_centres={n_centres} must be within 0..{x.shape[1]} (tokens)")
    score, _, dist = peak_scores(x, k, noise)
    return torch.topk(score, k=n_centres, dim=-1).indices, dist


def assign_to_centres(dist: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """``[B, N]`` cluster label of every token: its nearest centre; every centre gets its own label.

    dist ``[B, N, N]``, centres ``[B, n]`` (label ``c`` = ``centres[:, c]``). Ties go to the
    lower label (``argmin``).
    """
    to_centres = dist.gather(1, centres[:, :, None].expand(-1, -1, dist.shape[-1]))  # [B, n, N]
    labels = to_centres.argmin(dim=1)
    label_of_centre = torch.arange(centres.shape[1], device=dist.device).expand_as(centres)
    return labels.scatter(1, centres, label_of_centre)


def cluster(x: torch.Tensor, n_clusters: int, k: int, noise: torch.Tensor | None = None
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """DPC-KNN clustering of x ``[B, N, C]``: ``(labels [B, N] in 0..n-1, centres [B, n])``."""
    centres, dist = peak_centres(x, n_clusters, k, noise)
    return assign_to_centres(dist, centres), centres


def cluster_means(x: torch.Tensor, labels: torch.Tensor, n_clusters: int) -> torch.Tensor:
    """``[B, n, C]`` mean of the tokens of each cluster (0 for an empty cluster).

    x ``[B, N, C]``, labels ``[B, N]`` in ``0..n-1``. Computed as a one-hot matrix product in
    x's dtype, as PruneVid's ``compute_cluster_vectors``.
    """
    onehot = torch.nn.functional.one_hot(labels, num_classes=n_clusters).to(x.dtype)  # [B, N, n]
    sums = torch.bmm(onehot.transpose(1, 2), x)
    counts = onehot.sum(dim=1)  # [B, n]
    means = sums / counts.clamp(min=1).unsqueeze(-1)
    return means.masked_fill((counts == 0).unsqueeze(-1), 0)
