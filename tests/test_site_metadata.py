"""The committed method metadata (``site/data/methods.json``) is current, and the site builds
from it with only the ``site`` extra (torch, timm, transformers and diffusers unimportable)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_committed_metadata_is_current():
    """Regenerates everything (method docs, and every schedule by running the implementations on
    the reference setups) and compares with the committed file; `tokzoo site metadata` fixes it."""
    from zoo.site import metadata

    committed = metadata.load(ROOT)
    fresh = metadata.generate()
    stale = metadata.stale_parts(committed, fresh)
    assert stale == [], f"site/data/methods.json is not current ({', '.join(stale)}): run `tokzoo site metadata`"
    from zoo.papers import REGISTRY

    assert set(fresh["methods"]) == set(REGISTRY)


def test_metadata_records_parameters_and_schedules():
    from zoo.site import metadata

    doc = metadata.load(ROOT)
    assert doc is not None, "site/data/methods.json is missing: run `tokzoo site metadata`"
    tome = doc["methods"]["tome"]
    assert tome["fields"]["r"]["effective"] == "16" and "int" in tome["fields"]["r"]["type"]
    sched = doc["schedules"]["tome"]["timm-vit"]
    assert sched["default"]["stages"]["vit"]["input"] == 197
    assert [p["params"] for p in sched["budgets"]] == [{"keep_ratio": r} for r in (0.8, 0.6, 0.4, 0.2)]
    assert set(doc["reference_setups"]) >= {"timm-vit", "llava", "hf-bert", "diffusers-unet"}
    bert = doc["schedules"]["tome"]["hf-bert"]["default"]["stages"]["text"]
    assert bert["input"] == 512 and len(bert["after"]) == 12
    unet = doc["schedules"]["tomesd"]["diffusers-unet"]
    step = unet["default"]["stages"]["denoiser"]
    assert step["input"] == 4096 and len(step["after"]) == len(step["keys"]) == 16
    assert [p["params"] for p in unet["budgets"]][:3] == [{"keep_ratio": r} for r in (0.75, 0.5, 0.25)]
    assert "ca-tome: unknown parameter(s) keep_ratio" in doc["schedules"]["ca-tome"]["diffusers-unet"]["budgets"][0]["error"]


def test_unet_setup_refuses_reductions_its_cost_does_not_count():
    """ToMeSD merging at the feed-forward too would be mis-costed (the cost counts the feed-forward on
    the full grid): the site's runner records an error instead of a schedule."""
    from zoo.site import metadata

    setup = next(s for s in metadata.REFERENCE_SETUPS if s.adapter == "diffusers-unet")
    run = metadata._runner(setup)
    assert run("tomesd", {})["denoiser"]["after"][0] == 2048
    with pytest.raises(ValueError, match="reduces at mlp"):
        run("tomesd", {"merge_mlp": True})


def test_every_reference_setup_names_a_registered_adapter():
    """A renamed adapter would silently drop every schedule of its methods from the site."""
    from zoo.families import ADAPTERS
    from zoo.site.metadata import REFERENCE_SETUPS

    assert [s.adapter for s in REFERENCE_SETUPS if s.adapter not in ADAPTERS] == []


def test_stale_parts_names_what_changed():
    from zoo.site import metadata

    a = {"schema": 1, "methods": {"x": {"doc": "a"}}, "schedules": {}}
    b = {"schema": 1, "methods": {"x": {"doc": "b"}, "y": {}}, "schedules": {}}
    assert metadata.stale_parts(a, b) == ["methods.x", "methods.y"]
    assert metadata.stale_parts(None, b) == ["the file is missing"]


_NO_TORCH = textwrap.dedent("""
    import importlib.abc, sys
    HEAVY = ("torch", "torchvision", "timm", "transformers", "diffusers", "accelerate")

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in HEAVY:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)

    sys.meta_path.insert(0, Block())
    from pathlib import Path
    from zoo.site.build import build
    result = build(Path(sys.argv[1]), root=Path(sys.argv[2]), repo_url="")
    loaded = [m for m in HEAVY if m in sys.modules]
    assert not loaded, loaded
    print(len(result.data.methods), len(result.data.schedules), "|".join(result.notes))
""")


@pytest.mark.slow
def test_site_builds_without_the_model_libraries(tmp_path):
    proc = subprocess.run([sys.executable, "-c", _NO_TORCH, str(tmp_path / "out"), str(ROOT)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    n_methods, n_schedules, notes = proc.stdout.strip().split(" ", 2)
    committed = json.loads((ROOT / "site" / "data" / "methods.json").read_text(encoding="utf-8"))
    assert int(n_methods) == len(committed["methods"]) and int(n_schedules) == len(committed["schedules"])
    assert "method metadata read from site/data/methods.json" in notes
    for method_id in committed["methods"]:
        assert (tmp_path / "out" / "html" / "methods" / method_id / "index.html").is_file(), method_id


def test_metadata_carries_the_uniform_support_matrix():
    from zoo.families import ADAPTERS
    from zoo.papers import REGISTRY
    from zoo.site import metadata

    doc = metadata.load(ROOT)
    cells = doc["support_matrix"]
    assert {(c["method"], c["adapter"]) for c in cells} == {(m, a) for m in REGISTRY for a in ADAPTERS}
    assert len(cells) == len(REGISTRY) * len(ADAPTERS)
    assert metadata.SUPPORT_MATRIX_PROVIDER == ("zoo.support", "support_records")
