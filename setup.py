"""Build hook: the wheel carries copies of `schemas/` and `rules/` as `checker/_data/`.

Everything else is configured in pyproject.toml. The checker reads these directories from
the checkout when there is one (editable installs; see checker/resources.py); a wheel built
with `pip install .` or `pip wheel .` (as pre-commit builds its hook environments) has no
checkout beside it, so the copies go inside the package.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
DATA_DIRS = ("schemas", "rules")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".*")


class build_py_with_data(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's directories
            return
        target = Path(self.build_lib) / "checker" / "_data"
        for name in DATA_DIRS:
            source = HERE / name
            if not source.is_dir():
                raise RuntimeError(f"{source} is missing: it is built into the wheel")
            shutil.rmtree(target / name, ignore_errors=True)
            shutil.copytree(source, target / name, ignore=IGNORED)


setup(cmdclass={"build_py": build_py_with_data})
