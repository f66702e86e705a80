"""Prints the requirements of the named extras in pyproject.toml, one per line.

The Makefile installs them before the editable build, so that the build can
run without isolation (and therefore incrementally).
"""

from __future__ import annotations

import pathlib
import sys

import tomllib

project = tomllib.loads((pathlib.Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
requirements = list(project["dependencies"])
for extra in sys.argv[1:]:
    requirements += project["optional-dependencies"][extra]
print("\n".join(requirements))
