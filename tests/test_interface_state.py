"""zoo.apply's state rules: nested applications, failed applications, copies of patched models.

Each case failed before the fix: a nested apply silently switched the outer method off, a
failing apply removed the handle that was active before it, and ``copy.deepcopy`` of a
patched model gave a copy whose forwards still ran the original's blocks.
"""

from __future__ import annotations

import copy
import pickle

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")

import zoo  # noqa: E402
from zoo.interface import PatchedModelCopyError  # noqa: E402
from vit_fixtures import assert_same_snapshot, snapshot, tiny_vit  # noqa: E402


@pytest.fixture()
def model():
    return tiny_vit("deit")


def _x():
    torch.manual_seed(3)
    return torch.randn(2, 3, 32, 32)


def test_nested_apply_is_refused_and_outer_stays_active(model):
    x = _x()
    with torch.no_grad():
        with zoo.apply(model, "tome", r=6) as outer:
            expected = model(x)
            with pytest.raises(RuntimeError, match=r"enclosing `with zoo.apply"):
                zoo.apply(model, "evit", layers=(1,), keep_rate=0.5)
            assert outer.active
            torch.testing.assert_close(model(x), expected, rtol=0, atol=0)
            assert outer.run.tokens["vit"][-1] < outer.run.input_tokens["vit"]
        assert not outer.active


def test_plain_reapply_replaces_the_previous_handle(model):
    before = snapshot(model)
    first = zoo.apply(model, "tome", r=6)
    second = zoo.apply(model, "tome", r=2)
    assert not first.active and second.active
    second.remove()
    assert_same_snapshot(before, snapshot(model))


def test_failed_apply_leaves_the_previous_handle_active(model):
    x = _x()
    h = zoo.apply(model, "tome", r=6)
    with torch.no_grad():
        expected = model(x)
    with pytest.raises(ValueError):  # block index past the depth: refused before anything changes
        zoo.apply(model, "evit", layers=(1, 7))
    assert h.active
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected, rtol=0, atol=0)
    h.remove()


def test_failure_while_installing_restores_the_previous_handle(model, monkeypatch):
    from zoo.papers.evit import EViT

    x = _x()
    h = zoo.apply(model, "tome", r=6)
    with torch.no_grad():
        expected = model(x)

    def broken_install(self, adapter, patch, run):
        raise RuntimeError("boom while installing")

    monkeypatch.setattr(EViT, "install", broken_install)
    with pytest.raises(RuntimeError, match="boom"):
        zoo.apply(model, "evit", layers=(1,))
    assert h.active and model.__dict__["_tokzoo_handle"] is h
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected, rtol=0, atol=0)
    h.remove()
    assert "_tokzoo_handle" not in model.__dict__


def test_deepcopy_and_pickle_of_a_patched_model_are_refused(model):
    with zoo.apply(model, "tome", r=6):
        with pytest.raises(PatchedModelCopyError, match="remove the handle first"):
            copy.deepcopy(model)
        with pytest.raises(PatchedModelCopyError, match="pickle"):
            pickle.dumps(model)
        with pytest.raises(PatchedModelCopyError):
            copy.deepcopy(model.blocks[1])  # a patched submodule too
        state = model.state_dict()  # weights stay accessible
        assert state
    clone = copy.deepcopy(model)  # after removal: an ordinary, independent copy
    x = _x()
    with torch.no_grad():
        torch.testing.assert_close(clone(x), model(x), rtol=0, atol=0)
    assert pickle.loads(pickle.dumps(model)) is not None


def test_llava_nested_apply_refused_and_copy_guarded(tmp_path):
    pytest.importorskip("transformers")
    from vlm_fixtures import build_tiny_llava, load_tiny_llava, make_inputs

    model = load_tiny_llava(build_tiny_llava(tmp_path / "llava"))
    inputs = make_inputs(model)
    with torch.no_grad():
        with zoo.apply(model, "fastv", k=1, keep_ratio=0.5) as outer:
            expected = model(**inputs).logits
            with pytest.raises(RuntimeError, match="nested applications are refused"):
                zoo.apply(model, "visionzip", dominant=4, contextual=2)
            assert outer.active
            torch.testing.assert_close(model(**inputs).logits, expected, rtol=0, atol=0)
            with pytest.raises(PatchedModelCopyError):
                copy.deepcopy(model)
