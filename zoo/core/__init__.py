"""Model-agnostic token operations on ``[B, N, C]`` tensors (torch only)."""
