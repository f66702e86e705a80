"""The model families, by name. Configs, checkpoints and artifacts carry the name; this maps it to
the :class:`~defectkit.models.family.Family` that trains, evaluates and exports that family.

Built-in families are imported on first use (they need torch); ``register`` adds any other, e.g.
one defined in a user's own package or a test.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from defectkit.errors import InvalidArgumentError

if TYPE_CHECKING:
    import os

    from defectkit.models.family import Family, Predictor

__all__ = ["DEFAULT_FAMILY", "artifact_family", "get", "names", "open_predictor", "register"]

DEFAULT_FAMILY = "reference_unet"
# name -> module whose FAMILY is the built-in family (imported when first asked for).
_BUILT_IN = {
    "reference_unet": "defectkit.models.reference_unet.family",
    "guided_classifier": "defectkit.models.guided_classifier.family",
}
_REGISTERED: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Makes ``family`` known by ``family.name`` (replacing a family of that name); returns it."""
    _REGISTERED[family.name] = family
    return family


def names() -> list[str]:
    """Every family name known: built in or registered."""
    return sorted(set(_BUILT_IN) | set(_REGISTERED))


def get(name: str) -> Family:
    """The family called ``name``.

    Raises:
        InvalidArgumentError: no family has that name (the message lists those that exist).
    """
    if name not in _REGISTERED and name in _BUILT_IN:
        importlib.import_module(_BUILT_IN[name])  # registers its FAMILY
    if name not in _REGISTERED:
        msg = f"unknown model family {name!r}; known: {', '.join(names())}"
        raise InvalidArgumentError(msg)
    return _REGISTERED[name]


def artifact_family(path: str | os.PathLike[str]) -> str:
    """The family an artifact names in its metadata (read natively, no onnx needed)."""
    import defectkit

    metadata = defectkit.Model(path).metadata
    family = metadata.get("defectkit.family")
    if family is None:
        msg = f"{path}: not a defectkit artifact (no defectkit.family in its metadata)"
        raise InvalidArgumentError(msg)
    return family


def open_predictor(path: str | os.PathLike[str], threads: int = 0) -> tuple[Family, Predictor]:
    """A run folder, checkpoint or ``.onnx`` artifact, with the family that runs it."""
    import pathlib

    from defectkit.models.family import Predictor

    path = pathlib.Path(path)
    if path.suffix == ".onnx":
        return get(artifact_family(path)), Predictor(artifact=path, threads=threads)
    from defectkit.training import load_model

    model, info = load_model(path)
    return get(info["config"].family), Predictor(model=model, info=info)
