"""SiTo, Training-Free and Hardware-Friendly Acceleration for Diffusion Models via Similarity-based Token
Pruning (AAAI 2025; no arXiv version).

Run: ``tokzoo repro sito`` (or ``python repro/sito.py``).

Paper notation -> zoo: the pruning ratio is ``prune_ratio`` (``keep_ratio = 1 - prune_ratio``), the
official ``max_downsample_ratio`` is ``max_downsample``, ``prune_*_flag`` are ``prune_selfattn``,
``prune_crossattn``, ``prune_mlp``; ``noise_alpha`` and ``sim_beta`` keep their names.

- Analytic: the token count the official code is written for (4,096 full-resolution tokens of SD at
  512 px), and the tokens it prunes at its README's example ratio 0.7.
- Conformance: tokzoo against the authors' repository on an identical tiny UNet (a checkout given by
  ``TOKZOO_OFFICIAL_SITO``; the two import fixes it needs are in ``zoo/bench/diffusion_official.py``).
- Not set up: the README's "1.90x and 1.75x acceleration on COCO30K and ImageNet with 1.33 and 1.15 FID
  reduction" and the ToMeSD comparison at 1.63x vs 1.65x come without their pruning ratios in the text
  (the result table is an image), so no measurement could use the paper's setting.
"""

from __future__ import annotations

from zoo.bench.diffusion_claims import merged_share, tokens_at
from zoo.bench.diffusion_official import sito_conformance
from zoo.repro import Claim, PaperSpec, Source, printed

COMMIT = "708dddb4dc59fd4219c3b343f441f2f8251c90c6"
REPO = "github.com/EvelynZhang-epiclab/SiTo"
CODE = Source(f"{REPO} sito.py@{COMMIT[:7]}",
              "module-level counter count_num = torch.zeros((2, 4096)): one entry per full-resolution token of SD at "
              "512 px (patch.py: 'original_h, original_w = sito_info[\"size\"]  # 64,64')",
              f"https://{REPO}/blob/{COMMIT}/sito.py")
README = Source(f"{REPO} README.md@{COMMIT[:7]}", "section 'Apply SiTo': sito.apply_patch(model, prune_ratio = 0.7, "
                "max_downsample_ratio = 1, ...)", f"https://{REPO}/blob/{COMMIT}/README.md")
ALGO = Source(f"{REPO} sito.py@{COMMIT[:7]}", "prune_and_recover_tokens", f"https://{REPO}/blob/{COMMIT}/sito.py")

CLAIMS = [
    Claim(
        id="tokens-512px", kind="analytic",
        description="Tokens in the full-resolution transformer blocks of SD 1.x at 512x512",
        reported=4096, unit="tokens", tolerance=0,
        setting={"model": "SD 1.5 UNet (repro/configs/sd15-unet.json)", "image": "512x512, VAE factor 8: 64x64 latent",
                 "metric": "tokens of the first transformer block"},
        source=CODE, measure=tokens_at(512),
    ),
    Claim(
        id="pruned-share-readme-example", kind="analytic",
        description="Share of the full-resolution tokens SiTo prunes at the README example's ratio",
        reported=70, unit="%", tolerance=printed(0),
        setting={"model": "SD 1.5 UNet", "prune_ratio": 0.7, "max_downsample": 1,
                 "metric": "100 * int(N * prune_ratio) / N per pruned block (capped at the non-base tokens)"},
        source=README, measure=merged_share(0.7, 512), method="sito", params={"prune_ratio": 0.7},
    ),
    Claim(
        id="equal-to-official-code", kind="conformance",
        description="Largest output difference between tokzoo's SiTo and the authors' code",
        reported=0.0, unit="max |difference|", tolerance=1e-6, direction="lower",
        setting={"harness": "zoo.bench.diffusion_official:sito_conformance", "model": "tiny SD 1.x-layout UNet, random weights, float32, batch 2",
                 "options": "prune_ratio 0.5 / 0.7 with max_downsample 2 / 0.3 with noise_alpha 0.5, sim_beta 0.5",
                 "similarity dtype": "float16 (the official code's)", "noise": "torch.manual_seed(3) before each run",
                 "official": f"{REPO}@{COMMIT[:7]} from --official PATH", "metric": "max |tokzoo - official|"},
        source=ALGO,
        measure=sito_conformance([dict(prune_ratio=0.5), dict(prune_ratio=0.7, max_downsample=2),
                                  dict(prune_ratio=0.3, noise_alpha=0.5, sim_beta=0.5)]),
        method="sito", params={"prune_ratio": 0.5},
        needs=("cpu", f"official:EvelynZhang-epiclab/SiTo@{COMMIT}"),
    ),
]

SPEC = PaperSpec(
    paper_id="sito",
    title="Training-Free and Hardware-Friendly Acceleration for Diffusion Models via Similarity-based Token Pruning",
    arxiv="",
    method="sito",
    claims=CLAIMS,
    notes=__doc__,
)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
