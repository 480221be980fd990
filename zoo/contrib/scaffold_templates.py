"""Templates of the files ``tokzoo new-method`` writes (``string.Template``, ``$$name`` fields).

Kept as Python strings so that they ship inside the package. Each generated file fails
loudly until the contributor replaces its TODOs: the method's ``install`` raises
``NotImplementedError``, the repro script raises at import (it has no sourced claim), and
the test file checks real behaviour (tokens reduced, model restored) and the docstrings.

Catalog text never becomes code: a field ending in ``_lit`` is a Python literal made with
``repr`` (a complete string literal, whatever the text holds), and docstring/comment fields
are escaped for the place they go (:func:`zoo.contrib.scaffold.docstring_text`); the scaffold
then checks that the generated files have the template's structure.
"""

from __future__ import annotations

METHOD = r'''"""$heading

TODO(contributor): describe the method in a few sentences, for the method's page on the
site: what it scores or matches, on which tokens ([B, N, C]), where it acts ($placement
in the $family model family), and how the paper's budget maps onto ``keep_ratio`` /
``keep_tokens`` (fill ``paper_notation`` below with the same mapping).

Paper: $paper_url$code_line
Status: planned. Scaffolded by ``tokzoo new-method $method_id``: ``install`` raises
``NotImplementedError`` and tests/test_method_$module.py fails until it is implemented.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from zoo.interface import Method, check_budget, check_int, check_layer


@dataclass
class $class_name(Method):
    """$short: TODO(contributor) one line saying what it does (shown in `tokzoo methods`)."""

    k: int = 2
    keep_ratio: float | None = None
    keep_tokens: int | None = None

    id: ClassVar[str] = $method_id_lit
    arxiv: ClassVar[str] = $arxiv_lit
    families: ClassVar[tuple[str, ...]] = ($family_lit,)
    placement: ClassVar[str] = $placement_lit
    paper_notation: ClassVar[dict[str, str]] = {
        # TODO(contributor): paper symbol -> how it maps onto the fields, e.g.
        # "K": "k: the layer after which tokens are reduced",
        # "R": "keep_ratio = 1 - R (the paper's R is the fraction dropped)",
    }

    def validate(self) -> None:
        check_int(self, "k", self.k, low=0)
        check_budget(self, self.keep_ratio, self.keep_tokens)
        if self.keep_ratio is None and self.keep_tokens is None:
            self.keep_ratio = 0.5

    def check_model(self, adapter: Any) -> None:
        check_layer(self, "k", self.k, adapter.depth(adapter.pruning_stage or adapter.stages[0]))

    def install(self, adapter: Any, patch: Any, run: Any) -> None:
        raise NotImplementedError(
            "$method_id is scaffolded but not implemented yet: write $class_name.install in "
            "zoo/papers/$module.py (score the tokens and call an adapter primitive such as "
            "adapter.install_token_pruning, recording every change in `patch`); see CONTRIBUTING.md, "
            "'Add a method'."
        )
'''

REPRO = r'''"""$short (arXiv $arxiv_text): the paper's reported numbers and how tokzoo checks them.

Run: ``tokzoo repro $method_id`` (or ``python repro/$method_id.py``).

TODO(contributor): say how the paper's notation maps onto the zoo's parameters and which
counting convention its FLOPs use (see repro/fastv.py for a complete example).
"""

from __future__ import annotations

from zoo.repro import Claim, PaperSpec

# One Claim per number the paper reports, each with the exact place it is printed
# (Source("arXiv:$arxiv_text" + version, "Table 2, row ...", url)), the setting, a tolerance
# and a measure function. Never write a number here that you cannot point to in the paper.
CLAIMS: list[Claim] = []

# The placeholder below is deliberately NOT a Claim: it has no reported value and no source,
# so nothing can mistake it for a result. It keeps this script from running until replaced.
UNSOURCED_TODO = {
    "status": "unsourced, not runnable",
    "todo": $todo_lit,
}

if not CLAIMS:
    raise NotImplementedError(
        "repro/$method_id.py has no claims yet (scaffolded by `tokzoo new-method`): add the paper's "
        "reported numbers as Claim objects with their sources to CLAIMS, then delete UNSOURCED_TODO."
    )

SPEC = PaperSpec(
    paper_id=$method_id_lit,
    title=$title_lit,
    arxiv=$arxiv_lit,
    method=$method_id_lit,
    claims=CLAIMS,
    notes=__doc__,
)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
'''

TEST = r'''"""$method_id: scaffolded by ``tokzoo new-method``; these tests fail until it is implemented.

Keep them and add more: then add the method to its family's shared case list
($case_list), which drives every method through the same checks.
"""

from __future__ import annotations

import sys

import pytest

torch = pytest.importorskip("torch")

import zoo  # noqa: E402

METHOD = $method_id_lit


def test_docs_are_written():
    """The site's method page comes from these docstrings and ``paper_notation``."""
    cls = zoo.method_class(METHOD)
    module_doc = sys.modules[cls.__module__].__doc__ or ""
    assert "TODO" not in module_doc and "TODO" not in (cls.__doc__ or ""), "replace the TODOs in the docstrings"
    assert cls.paper_notation, "map the paper's notation onto the parameters in paper_notation"


def test_reduces_tokens_and_removes_cleanly(tmp_path):
$model_setup

    with torch.no_grad():
        base = forward()
        with zoo.apply(model, METHOD) as handle:
            reduced = forward()
        after = forward()
    tokens = handle.run.tokens["$stage"]
    assert tokens and tokens[-1] < handle.run.input_tokens["$stage"], "the method must reduce tokens"
    assert reduced.shape == base.shape and torch.isfinite(reduced).all()
    assert torch.equal(after, base), "removing the method must restore the model exactly"
'''

MODEL_SETUP = {
    "timm-vit": r'''    from vit_fixtures import tiny_vit

    model = tiny_vit("deit")
    images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))

    def forward():
        return model(images)
''',
    "llava": r'''    from vlm_fixtures import build_tiny_llava, load_tiny_llava, make_inputs

    model = load_tiny_llava(build_tiny_llava(tmp_path / "llava"))
    inputs = make_inputs(model)

    def forward():  # next-token logits [B, V] (pruning inside the LLM shortens the sequence)
        return model(**inputs).logits[:, -1]
''',
}

MISSING_SETUP = r'''    pytest.fail("no tiny-model fixture for the $family family yet: build a tiny random model here")
    model = forward = None
'''
