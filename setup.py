"""Build hook: ship a copy of the repo's catalog.yaml inside the wheel (zoo/data/catalog.yaml).

All metadata lives in pyproject.toml. catalog.yaml at the repository root stays the only
copy in git; an installed (non-editable) package reads the copy made here, an editable
install or a source checkout reads the root file (see zoo/catalog/loader.py).
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithCatalog(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads catalog.yaml from the checkout
        target = Path(self.build_lib) / "zoo" / "data" / "catalog.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        self.copy_file(str(ROOT / "catalog.yaml"), str(target))


setup(cmdclass={"build_py": BuildPyWithCatalog})
