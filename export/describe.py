"""What an exported strip artifact says of itself: its ``defectkit.*`` metadata, and file digests."""

from __future__ import annotations

import datetime
import hashlib
import pathlib
from typing import Any

import onnx

from defectkit._version import __version__
from defectkit.export.graphs import GraphSpec
from defectkit.export.metadata import ArtifactMetadata, write_metadata
from defectkit.export.strip_sets import data_fingerprint

__all__ = ["sha256", "write_artifact_metadata"]


def sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def strip_metadata(
    exporter: Any, spec: GraphSpec, precision: str, thresholds: dict, extra: dict
) -> ArtifactMetadata:
    """The metadata of one strip artifact; ``exporter`` carries the run's config and checkpoint."""
    ys, xs = spec.positions
    return ArtifactMetadata(
        family="reference_unet",
        graph=spec.kind,
        input={
            "name": "patch" if spec.kind == "patch" else "strip",
            "layout": "NCHW",
            "dtype": "float32",
            "scale": 255.0,
            "channels": ["target", "ref1", "ref2"],
            "accepted_channels": [4] if spec.roi else ([3] if spec.kind == "patch" else [3, 4]),
            "fourth_channel": "roi" if spec.roi else "ignore",
        },
        image_size=spec.image_size,
        tiling={
            "patch": spec.patch,
            "min_overlap": spec.min_overlap,
            "positions_y": ys,
            "positions_x": xs,
            "stitch": "nearest_centre",
            "mode": {"tiled": "baked", "full_frame": "none", "patch": "runtime"}[spec.kind],
        },
        score={"reduction": "box_mean_max", "box": spec.box, "border": "reflect"},
        outputs={
            "format": "seed3ch" if spec.seed3ch else "raw",
            "heatmap": "heatmap",
            "score": None if spec.kind == "patch" else "score",
        },
        thresholds={"image": thresholds["image"], "pixel": thresholds["pixel"]},
        precision=precision,
        provenance={
            "run_config": exporter.config.to_dict(),
            "checkpoint_epoch": exporter.checkpoint.get("epoch"),
            "data_fingerprint": data_fingerprint(exporter.data),
            "defectkit_version": __version__,
            "exported_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            **extra,
        },
    )


def write_artifact_metadata(
    exporter: Any, model: onnx.ModelProto, spec: GraphSpec, precision: str, thresholds: dict, extra: dict
) -> None:
    """Writes the strip artifact's metadata into ``model``."""
    write_metadata(model, strip_metadata(exporter, spec, precision, thresholds, extra))
