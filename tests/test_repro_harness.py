"""The measurement harness end to end on tiny local models and tiny local data (no network).

- ViT: a tiny timm ViT saved to a checkpoint file, loaded back through timm's pretrained path,
  evaluated on a 4-image ImageFolder written here, via a repro script run by the CLI.
- LLaVA: a tiny LLaVA with a real (tiny, offline) processor, a 3-question local dataset,
  the minimal evaluator with FastV applied and the random control; prefill latency pairing.
"""

from __future__ import annotations

import json
import textwrap

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")

import zoo.repro as zr  # noqa: E402
from zoo.repro.engine import Context, RunOptions  # noqa: E402

TINY_VIT = {"name": "tiny-vit", "family": "timm-vit", "timm_model": "vit_tiny_patch16_224", "source": "test",
            "embed_dim": 32, "depth": 4, "num_heads": 2, "mlp_ratio": 4.0, "patch_size": 16, "img_size": 64,
            "in_chans": 3, "num_classes": 4, "class_token": True}
KW = {"embed_dim": 32, "depth": 4, "num_heads": 2, "img_size": 64, "num_classes": 4}

VIT_SCRIPT = textwrap.dedent('''
    from zoo.repro import Claim, PaperSpec, Source
    from zoo.repro.harness.vit import imagenet_top1, throughput

    KW = {kw!r}
    SRC = Source("test README@0", "Table 1")
    SPEC = PaperSpec("toyvit", "Toy ViT paper", "", method="tome", claims=[
        Claim(id="top1", kind="accuracy", description="d", reported=0.0, unit="%", direction="higher",
              setting={{"model": "tiny"}}, source=SRC, needs=("cpu", "weights:tiny-ckpt", "dataset:tiny-val"),
              measure=lambda ctx: imagenet_top1(ctx, "tiny-vit", "tome", {{"r": 4}}, weights="tiny-ckpt",
                                                data="tiny-val", batch=2, model_kwargs=KW,
                                                control_params={{"layers": [0, 1, 2, 3], "keep_ratio": 0.5}})),
        Claim(id="speed", kind="throughput", description="d", reported=0.5, unit="x", direction="higher",
              setting={{"model": "tiny"}}, source=SRC,
              measure=lambda ctx: throughput(ctx, "tiny-vit", "tome", {{"r": 4}}, batch=2, repeats=2, model_kwargs=KW)),
    ])
''').format(kw=KW)


@pytest.fixture
def tiny_vit_setup(tmp_path, monkeypatch):
    import timm
    from PIL import Image

    repro = tmp_path / "repro"
    (repro / "configs").mkdir(parents=True)
    (repro / "configs" / "tiny-vit.json").write_text(json.dumps(TINY_VIT))
    (repro / "toyvit.py").write_text(VIT_SCRIPT)
    torch.manual_seed(0)
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, **KW)
    ckpt = tmp_path / "tiny.pth"
    torch.save(model.state_dict(), ckpt)
    val = tmp_path / "val"
    for c in range(2):
        (val / f"class{c}").mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (72, 72), color=(60 * c + 20 * i, 100, 30 * i)).save(val / f"class{c}" / f"{i}.png")
    monkeypatch.setenv("TOKZOO_REPRO_DIR", str(repro))
    monkeypatch.setenv("TOKZOO_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return {"ckpt": ckpt, "val": val, "model": model, "results": tmp_path / "results"}


def test_vit_script_end_to_end_through_the_cli(tiny_vit_setup):
    from typer.testing import CliRunner

    from zoo.cli.repro_cmds import repro
    import typer

    app = typer.Typer()
    app.command()(repro)
    s = tiny_vit_setup
    # without the data the accuracy claim is skipped and says what it needs; the command succeeds
    res = CliRunner().invoke(app, ["toyvit", "--no-write", "--claim", "top1", "--json"])
    assert res.exit_code == 0, res.output
    [skipped] = [json.loads(line)["record"] for line in res.stdout.splitlines() if '"record"' in line[:12]]
    assert skipped["status"] == "skipped" and skipped["reason"] == "needs weights tiny-ckpt, dataset tiny-val"
    res = CliRunner().invoke(app, ["toyvit", "--data-dir", f"tiny-val={s['val']}", "--weights", f"tiny-ckpt={s['ckpt']}",
                                   "--threads", "1"])
    assert res.exit_code == 0, res.output
    top1 = json.loads((s["results"] / "toyvit" / "top1.json").read_text())
    assert top1["status"] == "reproduced", (top1["reason"], top1["details"])
    d = top1["details"]
    assert d["images"] == 4 and d["control_top1"] is not None
    # the harness loaded the checkpoint through timm: its baseline equals the saved model's own predictions
    from timm.data import ImageDataset, create_transform, resolve_data_config

    cfg = resolve_data_config({}, model=s["model"])
    cfg["input_size"] = (3, 64, 64)
    ds = ImageDataset(str(s["val"]), transform=create_transform(**cfg))
    with torch.inference_mode():
        correct = sum(int(s["model"].eval()(x[None]).argmax(-1).item() == y) for x, y in ds)
    assert d["baseline_top1"] == pytest.approx(100.0 * correct / 4)
    # top-5 over 4 classes holds every label; top-1 hits are top-5 hits
    assert d["baseline_top5"] == d["method_top5"] == 100.0
    from zoo.repro.harness.vit import _top5_hits

    logits = torch.tensor([[0.0, 1, 2, 3, 4, 5, 6], [6.0, 5, 4, 3, 2, 1, 0]])
    assert _top5_hits(logits, torch.tensor([2, 5])) == 1 and _top5_hits(logits, torch.tensor([6, 0])) == 2
    speed = json.loads((s["results"] / "toyvit" / "speed.json").read_text())
    assert speed["label"].startswith("random weights") and speed["details"]["token_schedule"]["vit"][-1] < 17
    assert speed["measured"] > 0


# ---------------------------------------------------------------- tiny LLaVA
def _tiny_processor(image_size: int, image_token_id: int, vocab_size: int):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import CLIPImageProcessor, LlavaProcessor, PreTrainedTokenizerFast

    words = ["<pad>", "<s>", "</s>", "<unk>", "x", "<image>", "USER:", "ASSISTANT:", "yes", "no", "is", "there",
             "a", "cat", "?", "A.", "B.", "red", "blue", "Answer", "with"]
    vocab = {w: i for i, w in enumerate(words)}
    assert vocab["<image>"] == image_token_id
    for i in range(len(words), vocab_size):
        vocab[f"w{i}"] = i
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", bos_token="<s>",
                                   eos_token="</s>", extra_special_tokens={"image_token": "<image>"})
    images = CLIPImageProcessor(size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size})
    return LlavaProcessor(image_processor=images, tokenizer=fast, patch_size=14, vision_feature_select_strategy="default",
                          image_token="<image>", num_additional_image_tokens=1)


@pytest.fixture
def tiny_llava(tmp_path):
    pytest.importorskip("transformers")
    from PIL import Image

    from vlm_fixtures import IMAGE_TOKEN_ID, VOCAB, build_tiny_llava, load_tiny_llava

    path = build_tiny_llava(tmp_path / "llava", text_layers=4)
    model = load_tiny_llava(path)
    processor = _tiny_processor(56, IMAGE_TOKEN_ID, VOCAB)
    data = tmp_path / "qa"
    data.mkdir()
    rows = [{"id": 0, "image": "a.png", "question": "is there a cat ?", "answer": "yes", "category": "existence"},
            {"id": 0, "image": "a.png", "question": "is there a cat ?", "answer": "no", "category": "existence"},
            {"id": 1, "image": "b.png", "question": "red or blue ?", "choices": ["red", "blue"],
             "correct_choice_idx": 0, "answer": "A", "category": "color"}]
    Image.new("RGB", (60, 60), (200, 10, 10)).save(data / "a.png")
    Image.new("RGB", (60, 60), (10, 10, 200)).save(data / "b.png")
    (data / "examples.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return model, processor, data


def test_minimal_vlm_evaluator_with_fastv_and_random_control(tiny_llava):
    from zoo.repro.harness.vlm import benchmark, evaluate
    from zoo.repro.spec import Claim, Source

    model, processor, data = tiny_llava
    claim = Claim(id="qa", kind="accuracy", description="d", reported=0, unit="%", setting={"m": 1},
                  source=Source("t", "t"), measure=lambda ctx: None, needs=("cpu", "dataset:tiny-qa"))
    ctx = Context(RunOptions(data={"tiny-qa": str(data)}, device="cpu"), claim)
    params = {"k": 1, "keep_ratio": 0.5}
    m = benchmark(ctx, "tiny", "tiny-qa", "fastv", params, scorer="contains", model=model, processor=processor,
                  control_params={"layers": [1], "keep_ratio": 0.5})
    d = m.details
    assert d["examples"] == 3 and d["control"] is not None
    assert 0 <= d["baseline"] <= 100 and m.value == d["method"]
    # the method really acted: the run recorded fewer LLM tokens after layer k
    seen = {}

    def apply_and_watch():
        import zoo

        h = zoo.apply(model, "fastv", **params)
        seen["h"] = h
        return h

    evaluate(model, processor, [json.loads((data / "examples.jsonl").read_text().splitlines()[0]) | {"image": str(data / "a.png")}],
             "yes_no", apply=apply_and_watch, max_new_tokens=1)
    run = seen["h"].run
    assert run.tokens["llm"][-1] < run.input_tokens["llm"]


def test_mme_aggregate_counts_accuracy_plus_per_image():
    from zoo.repro.harness.vlm import mme_perception

    rows = [{"id": "a", "category": "count", "correct": True}, {"id": "a", "category": "count", "correct": True},
            {"id": "b", "category": "count", "correct": True}, {"id": "b", "category": "count", "correct": False}]
    # accuracy 3/4, accuracy+ 1/2 -> 100 * 1.25
    assert mme_perception(rows) == pytest.approx(125.0)


def test_prefill_latency_pairs_baseline_and_method(tiny_llava):
    from zoo.repro.harness.vlm import prefill_latency
    from zoo.repro.spec import Claim, Source

    model, _, _ = tiny_llava
    claim = Claim(id="lat", kind="latency", description="d", reported=1, unit="x", setting={"m": 1},
                  source=Source("t", "t"), measure=lambda ctx: None)
    ctx = Context(RunOptions(device="cpu"), claim)
    m = prefill_latency(ctx, "llava-1.5-7b", "fastv", {"k": 1, "keep_ratio": 0.25}, n_system=4, n_question=5,
                        repeats=2, dtype="float32", model=model)
    assert m.value > 0 and len(m.details["baseline_all_s"]) == 2
    assert m.details["token_schedule"]["llm"][-1] < 1 + 4 + 5 + model.config.image_seq_length


def test_lmms_eval_missing_is_a_skip_not_a_failure(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_lmms(name, *a, **k):
        if name.startswith("lmms_eval"):
            raise ImportError("no lmms_eval here")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_lmms)
    from zoo.repro.harness.vlm import lmms_eval_score

    spec = zr.PaperSpec("toy", "t", "", [zr.Claim(
        id="mme", kind="accuracy", description="d", reported=1, unit="score", setting={"m": 1},
        source=zr.Source("t", "t"), measure=lambda ctx: lmms_eval_score(ctx, "x/y", "mme", "m", "fastv", {}))])
    rec = zr.run_claim(spec, spec.claims[0], RunOptions(write=False))
    assert rec.status == "skipped" and "package lmms_eval (pip install 'tokzoo[eval]')" in rec.reason
