"""Closed vocabularies of the catalog and the zoo, one description per term.

Every label in ``catalog.yaml`` must be a key of one of these mappings; the validator
rejects anything else and lists what is allowed. Keep this module free of heavy imports:
the CLI imports it.
"""

from __future__ import annotations

MODALITY: dict[str, str] = {
    "image": "Still images (classification, detection, segmentation, image VLMs, image generation).",
    "video": "Video frames or clips (video transformers, video LLMs, video generation).",
    "text": "Natural-language or code tokens as the reduced input (LLM prompts, BERT inputs, long context).",
    "audio": "Speech or general audio (ASR, audio LLMs, audio generation).",
    "3d": "Point clouds, meshes, 3D scenes or 3D generation.",
    "other": "Other data: graphs, time series, gaze, tabular, hardware traces.",
}

TECHNIQUE: dict[str, str] = {
    "pruning": "Drops tokens judged unimportant (attention, norm, learned predictor, text relevance).",
    "merging": "Combines similar tokens into one (bipartite matching, clustering, averaging).",
    "pooling": "Fixed spatial or temporal pooling / downsampling of token grids.",
    "resampling": "Learned compressor: query resamplers, Q-Former, learned projectors that emit fewer tokens.",
    "routing": "Tokens skip layers or exit early (mixture-of-depths, dynamic depth, token routing).",
    "caching": "Reuses token computations across steps or frames instead of recomputing them.",
    "kv-compression": "Evicts, merges or quantizes entries of the key/value cache.",
    "tokenization": "Produces fewer tokens at the input (adaptive patching, re-tokenization, compact tokenizers).",
    "sparse-attention": "Restricts which tokens attend to which, keeping the token count.",
    "hardware": "Hardware or system co-design for token reduction (accelerators, dataflow).",
    "analysis": "Studies, benchmarks or surveys of token reduction rather than a new method.",
    "architecture": "A new model whose design uses few tokens (not a plug-in reduction method).",
}

FAMILY: dict[str, str] = {
    "vit": "Vision transformers for recognition (ViT, DeiT, Swin, hierarchical ViTs).",
    "dense-vit": "Vision transformers for detection, segmentation, matting, depth (DETR, SAM, ...).",
    "video-vit": "Video transformers (TimeSformer, ViViT, VideoMAE) outside LLMs.",
    "vlm": "Vision-language models with an LLM decoder on images (LLaVA, Qwen-VL, InternVL).",
    "video-llm": "Vision-language models on video (Video-LLaVA, LLaVA-OneVision video, VideoChat).",
    "clip": "Dual-encoder or encoder-only vision-language models (CLIP, BLIP, ViLT, retrieval).",
    "llm": "Decoder-only language models on text.",
    "encoder-lm": "Encoder language models (BERT, RoBERTa, T5 encoders).",
    "diffusion": "Diffusion models (UNet or DiT), image or video generation.",
    "speech": "Speech and audio models (Whisper, wav2vec, audio LLMs, audio generation).",
    "ssm": "State-space or Mamba models.",
    "other": "Any other model family (point-cloud networks, graph transformers, ...).",
}

ZOO_STATUS: dict[str, str] = {
    "none": "No implementation in tokzoo.",
    "planned": "An implementation is planned (issue open).",
    "implemented": "Implemented in tokzoo under the registered method id.",
}

VENUE_KIND: dict[str, str] = {
    "conference": "A peer-reviewed conference (main track).",
    "workshop": "A workshop at a conference.",
    "journal": "A journal or transactions.",
    "preprint": "Not (yet) published at a venue: arXiv or OpenReview only.",
}

VENUE_NOTE: dict[str, str] = {
    "Oral": "Oral presentation.",
    "Spotlight": "Spotlight presentation.",
    "Highlight": "Highlight paper (CVPR).",
    "Findings": "Findings of an ACL-family conference.",
}

REPRO_STATUS: dict[str, str] = {
    "reproduced": "Every measured claim is within tolerance.",
    "partial": "Some claims reproduced, others not run (hardware, weights or data missing).",
    "deviates": "At least one measured claim is outside tolerance.",
    "failed": "The measurement could not be completed.",
    "not run": "No claim has been measured.",
    "analytic only": "Every claim is analytic (FLOPs, token counts) and matches; no speed, conformance or "
                     "accuracy claim exists to check the method itself.",
    "reproduced, no accuracy claim": "Every claim matches (arithmetic, speed or agreement with the authors' code), "
                                     "but the paper has no accuracy claim: its results were not checked.",
}

CLAIM_KIND: dict[str, str] = {
    "analytic": "FLOPs, token counts, ratios: computed from configs, exact, runs everywhere.",
    "fidelity": "Agreement with the unreduced model (logit/feature distance, top-1 agreement).",
    "accuracy": "Task accuracy on a benchmark (needs weights and data).",
    "latency": "Wall-clock time of one forward / prefill / generation.",
    "throughput": "Items per second.",
    "conformance": "Same kept tokens and outputs as the authors' own code on identical random weights.",
}

#: what users see: claim kinds grouped into four status kinds (CLI, JSON, ``tokzoo show``, site)
CLAIM_KIND_GROUP: dict[str, tuple[str, ...]] = {
    "analytic": ("analytic",),
    "speed": ("latency", "throughput"),
    "conformance": ("conformance",),
    "accuracy": ("accuracy", "fidelity"),
}

PLACEMENT: dict[str, str] = {
    "vision-encoder": "Inside or right after the vision tower, before the projector/LLM.",
    "projector": "In the vision-language projector.",
    "llm-prefill": "Inside the language model during prefill.",
    "llm-decode": "Inside the language model during decoding.",
    "backbone": "Inside the blocks of a single-stack transformer (ViT, BERT, DiT).",
    "denoiser": "Inside the transformer blocks of a diffusion denoiser (UNet or DiT), at every denoising step.",
}

VOCABULARIES: dict[str, dict[str, str]] = {
    "modality": MODALITY,
    "technique": TECHNIQUE,
    "family": FAMILY,
    "zoo.status": ZOO_STATUS,
    "venue.kind": VENUE_KIND,
    "venue.note": VENUE_NOTE,
    "repro_status": REPRO_STATUS,
    "claim.kind": CLAIM_KIND,
    "placement": PLACEMENT,
}
