"""FrameFusion (arXiv 2501.01986): similarity merging, then importance pruning, inside the LLM.

Run: ``tokzoo repro framefusion``.

Source: the official README (commit fbec1d2): "a 70% vision token reduction, 3.4-4.4x LLM
speedups, and 1.6-1.9x end-to-end speedups", with ``apply_framefusion(model, cost=0.3, ...)``.
FrameFusion's budget *is* its token cost: ``cost`` is the average, over the decoder layers, of
the share of visual tokens a layer processes, so ``cost = 0.3`` is the 70% reduction.

The analytic claim is measured on tokzoo's implementation, not on the formula: a random-weight
LLaVA-OneVision layout with 28 decoder layers (the Qwen2-7B depth the official cost formula
assumes), a narrow width and 8 frames of 16 tokens; the realised token cost is read from the
run's per-layer token counts (``zoo.flops.video.token_cost``). Random weights decide how much
is merged; the pruning step then spends the rest of the budget, so the realised cost is the
budget up to rounding. The speed-ups need a GPU and the checkpoints: declared, skipped here.
"""

from __future__ import annotations

from zoo.repro import Claim, Measurement, PaperSpec, Source, printed

README = Source("github.com/thu-nics/FrameFusion README.md@fbec1d2", "first paragraph and 'Apply FrameFusion' example",
                "https://github.com/thu-nics/FrameFusion/blob/fbec1d2e6bd383361c2c87ca13e73f80a8c1a9e9/README.md")
PARAMS = {"cost": 0.3, "similarity_lower_bound": 0.6, "ratio_lower_bound": 0.1}


def _reduction(ctx) -> Measurement:
    import torch
    import transformers as tf

    import zoo
    from zoo.flops.video import token_cost

    vision = tf.SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                   image_size=112, patch_size=14)
    text = tf.Qwen2Config(vocab_size=97, hidden_size=48, intermediate_size=96, num_hidden_layers=28,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048)
    torch.manual_seed(0)
    model = tf.LlavaOnevisionForConditionalGeneration(tf.LlavaOnevisionConfig(
        vision_config=vision, text_config=text, image_token_index=5, video_token_index=6,
        vision_feature_layer=-1, vision_feature_select_strategy="full")).eval()
    frames, per_frame, n_text = 8, 16, 24
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(10, 97, (1, n_text + frames * per_frame + 1), generator=g)
    ids[0, 8:8 + frames * per_frame + 1] = 6
    video = torch.randn(1, frames, 3, 112, 112, generator=g)
    with zoo.apply(model, "framefusion", **PARAMS) as handle, torch.no_grad():
        model(input_ids=ids, pixel_values_videos=video)
    n_visual = frames * per_frame + 1  # the grid tokens and the video's newline token
    entering = handle.run.schedule("llm")
    first = handle.run.events["llm"][0].n_before  # the sequence before the first (layer-0) step
    visual = [n - (first - n_visual) for n in entering]
    cost = token_cost(visual, n_visual)
    return Measurement(100 * (1 - cost), params=PARAMS, label="random weights",
                       details={"visual_tokens_per_layer": visual, "token_cost": cost, "decoder_layers": 28,
                                "video": f"{frames} frames x {per_frame} tokens", "events": len(handle.run.events["llm"])})


CLAIMS = [
    Claim(id="vision-token-reduction", kind="analytic", description="Vision-token reduction of FrameFusion at cost 0.3",
          reported=70, unit="%", tolerance=printed(0),
          setting={"model": "LLaVA-OneVision layout, 28 decoder layers (narrow, random weights)", "cost": 0.3,
                   "metric": "1 - token cost (mean over layers of the visual tokens processed / visual tokens in)"},
          source=README, measure=_reduction, method="framefusion", params=PARAMS,
          needs=("cpu", "package:torch", "package:transformers")),
]

SPEC = PaperSpec(paper_id="framefusion",
                 title="FrameFusion: Combining Similarity and Importance for Video Token Reduction on Large Visual "
                       "Language Models",
                 arxiv="2501.01986", method="framefusion", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
