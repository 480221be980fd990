"""Issue 17: `tokzoo bench` refuses bad arguments with one clear line (exit code 2, no traceback) before a
model is built, shows progress on stderr only, and warns (and marks the record) when the machine is busy."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("timm")

from zoo.cli import app  # noqa: E402

VIT = ["--model", "vit_tiny_patch16_224"]


@pytest.fixture
def no_build(monkeypatch):
    """Fail the test if a bench function (which builds the model) is reached."""
    import zoo.bench

    def refuse(family):
        raise AssertionError(f"a {family} bench was started for arguments that cannot work")

    monkeypatch.setattr(zoo.bench, "bench_function", refuse)


def _bench(*args: str):
    return CliRunner().invoke(app, ["bench", *args, "--repeats", "1", "--warmup", "0"])


CASES = [
    # unknown model / configuration names, per family
    (["tome", "--model", "no_such_vit"], "--model", "not a timm model name"),
    (["tome", "--model", "vit_tiny_patch16_22"], "--model", "close: vit_tiny_patch16_224"),
    (["tome", "--model", "resnet18"], "--model", "needs a ViT"),
    (["fastv", "--model", "no-such-config"], "--model", "allowed: llava-1.5-0.4b"),
    (["dycoke", "--model", "no-such-video"], "--model", "llava-onevision-7b-layout-tiny-lm"),
    (["tome", "--family", "hf-bert", "--model", "bert-bas"], "--model", "hf-bert bench models: bert-base, minilm-l6"),
    (["tomesd", "--model", "sd99"], "--model", "allowed: sd15-unet"),
    (["fastv", "--model", "bert-base"], "--model", "'bert-base' is a hf-bert model; fastv runs on llava"),
    (["no-such-method"], "METHOD", "unknown method 'no-such-method'"),
    # image sizes
    (["tome", *VIT, "--img-size", "0"], "--img-size", "must be a positive number"),
    (["tome", *VIT, "--img-size", "-32"], "--img-size", "must be a positive number"),
    (["tome", *VIT, "--img-size", "30"], "--img-size", "not a multiple of vit_tiny_patch16_224's patch size 16; e.g. 32"),
    (["tome", "--model", "clip-vit-b16", "--img-size", "200"], "--img-size", "patch size 16"),
    (["tome", "--model", "bert-base", "--img-size", "224"], "--img-size", "takes no image size"),
    (["fastv", "--model", "llava-1.5-160m", "--img-size", "336"], "--img-size", "leave --img-size out"),
    (["tomesd", "--img-size", "500"], "--img-size", "not a multiple of 64"),
    (["tome", *VIT, "--seq-len", "12"], "--seq-len", "takes images"),
    (["tome", "--model", "bert-base", "--seq-len", "4096"], "--seq-len", "at most 512"),
    (["dycoke", "--model", "llava-onevision-7b-layout-tiny-lm", "-b", "2"], "--batch-size", "batch 1"),
    # dtype and device
    (["tome", *VIT, "--dtype", "fp64"], "--dtype", "allowed: fp32, float32, bf16"),
    (["tome", *VIT, "--device", "meta"], "--device", "nothing can be timed on them"),
    (["tome", *VIT, "--device", "tpu"], "--device", "allowed: cpu, cuda, cuda:N"),
    # method parameters: the message names the parameter
    (["tome", *VIT, "-p", "bogus=1"], "-p bogus", "tome has no parameter 'bogus'; its parameters: r, inflect"),
    (["tome", *VIT, "--keep-ratio", "1.5"], "method parameters", "keep_ratio=1.5"),
    (["tome", *VIT, "-p", "r=abc"], "method parameters", "r='abc'"),
    (["fastv", "-p", "k=-1"], "method parameters", "k"),
    # families
    (["tome", "--family", "llava"], "--family", "tome runs on timm-vit"),
    (["fastv", "--family", "qwen2.5-vl"], "--family", "give --model qwen2.5-vl-7b-vision"),
]


@pytest.mark.parametrize("args, option, message", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_arguments_are_one_clear_line_before_any_model_is_built(no_build, args, option, message):
    res = _bench(*args)
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit) and "Traceback" not in res.output
    assert res.output.startswith(f"error: {option}: ") and message in res.output, res.output
    assert res.stdout == ""  # errors go to stderr


def test_output_that_is_a_folder_or_cannot_be_written_is_refused_before_the_run(no_build, tmp_path):
    res = _bench("tome", *VIT, "--output", str(tmp_path))
    assert res.exit_code == 2 and f"error: --output: {tmp_path} is a folder" in res.output
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    res = _bench("tome", *VIT, "--output", str(blocker / "sub" / "r.json"))
    assert res.exit_code == 2 and f"{blocker} is a file, not a folder" in res.output


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_output_in_a_read_only_folder_is_refused(no_build, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        res = _bench("tome", *VIT, "--output", str(folder / "r.json"))
    finally:
        folder.chmod(0o700)
    assert res.exit_code == 2 and "cannot write in" in res.output


def test_cuda_without_a_gpu_says_so(no_build):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    res = _bench("tome", *VIT, "--device", "cuda")
    assert res.exit_code == 2 and "error: --device: cuda: CUDA is not available here" in res.output


def test_valid_arguments_pass_the_checks():
    from zoo.bench.validate import check_bench_args

    assert check_bench_args("tome", {"r": 4}, model="vit_tiny_patch16_224", img_size=32) == "timm-vit"
    assert check_bench_args("tome", {}, model="minilm-l6", seq_len=128) == "hf-bert"
    assert check_bench_args("fastv", {"k": 2}, model="qwen2.5-vl-narrow-vision") == "qwen2.5-vl"
    assert check_bench_args("fastv", {"k": 2}, model="llava-onevision-0.5b") == "llava-onevision"
    assert check_bench_args("dycoke", {}) == "llava-onevision"
    assert check_bench_args("tomesd", {"ratio": 0.5}, img_size=1024) == "diffusers-unet"


def _tiny_vit_run(monkeypatch, load: float, *extra: str):
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    return CliRunner().invoke(app, ["bench", "tome", "-p", "r=1", *VIT, "--img-size", "32", "-b", "1",
                                    "--dtype", "fp32", "--threads", "1", "--warmup", "1", "--repeats", "2", *extra])


def test_progress_goes_to_stderr_and_json_stays_clean(monkeypatch):
    res = _tiny_vit_run(monkeypatch, 0.1, "--json")
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)  # stdout is the record only
    for step in ("building vit_tiny_patch16_224", "recorded forward", "warmup 1/1", "pair 1/2", "pair 2/2", "done"):
        assert step in res.stderr
    assert "machine busy" not in res.stderr and record["hardware"]["busy_machine"] is False


def test_busy_machine_is_warned_and_marked_in_the_record(monkeypatch, tmp_path):
    out = tmp_path / "r.json"
    res = _tiny_vit_run(monkeypatch, 9.5, "--output", str(out))
    assert res.exit_code == 0, res.output
    assert "warning: machine busy: load average 9.5 on 2 CPUs; the timings will be noisy" in res.stderr
    assert "machine busy: noisy" in res.stdout
    record = json.loads(out.read_text())
    assert record["hardware"]["busy_machine"] is True and record["hardware"]["load_average_start"] == 9.5


def test_every_decoder_bench_config_implies_its_own_adapter():
    """A --model of any zoo.bench.vlm configuration selects the adapter of its kind (the new
    LLaVA-NeXT/Qwen2-VL/text configurations were read as LLaVA-1.5)."""
    from zoo.bench import vlm
    from zoo.bench.validate import implied_family
    from zoo.families import ADAPTERS

    for name in vlm.CONFIGS:
        fam = implied_family(name)
        assert fam == vlm.config_kind(name) and fam in ADAPTERS, name
