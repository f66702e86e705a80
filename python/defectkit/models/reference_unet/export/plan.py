"""reference_unet's side of ``defectkit export``: strip graphs, their feeds, and what they say.

The generic pipeline (:mod:`defectkit.export.pipeline`) traces, simplifies,
quantises and compares; this plan says what the strip graphs are (tiled,
full-frame, patch), how one runs on a validation strip, which strips decide,
which parts of a graph may stay in float, and the artifact's metadata.
"""

from __future__ import annotations

import datetime
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
import torch

from defectkit._version import __version__
from defectkit.artifact import ArtifactMetadata, TensorSpec
from defectkit.errors import InvalidArgumentError
from defectkit.models.family import ExportPlan, GraphBuild
from defectkit.models.graph_parts import downstream, tensor_types
from defectkit.models.reference_unet.data.dataset import read_strip_shape
from defectkit.models.reference_unet.export.graphs import GRAPH_KINDS, GraphSpec, build_graph
from defectkit.models.reference_unet.export.parity import parity
from defectkit.models.reference_unet.export.runner import GraphRunner, accuracy, graph_feed
from defectkit.models.reference_unet.export.strips import (
    LabelledStrip,
    calibration_strips,
    data_fingerprint,
    extension_strips,
    validation_strips,
)

__all__ = ["StripExportPlan", "node_groups", "score_filter"]


def score_filter(model: onnx.ModelProto) -> list[str]:
    """The image score's box filter (the AveragePool after the sigmoid), by name: float in every
    INT8 candidate. The score is a value a line thresholds, so it is the exact mean of the heatmap
    the artifact returns, not that mean rounded again to the heatmap's 8-bit scale; and ONNX
    Runtime's QLinearAveragePool on the one-channel strip took 1.6-1.7 ms of 22-34 where the float
    pool on the dequantised heatmap did not show in the profile (the two trained demo INT8
    artifacts; docs/experiments/reference_unet.md, "The half-resolution decoder timed alone")."""
    head = set(node_groups(model).get("head", []))  # the sigmoid and everything after it
    return [n.name for n in model.graph.node if n.op_type == "AveragePool" and n.name in head]


def node_groups(model: onnx.ModelProto) -> dict[str, list[str]]:
    """The parts of an exported strip graph that may be kept in float, by name.

    - ``head``: the sigmoid (a softmax in graphs exported before the folded head) and
      everything after it (stitching, ROI, the image score): the probabilities whose ranking
      the AUROCs measure.
    - ``input``: everything before the first convolution (scaling, channel slicing, tiling).
    - ``first_conv`` / ``last_conv``: the network's first convolution and its classifier.
    - ``upsample``: the decoder's bilinear Resize ops.
    """
    nodes = list(model.graph.node)
    convs = [n for n in nodes if n.op_type == "Conv"]
    squash = next((n for n in nodes if n.op_type in ("Sigmoid", "Softmax")), None)
    groups: dict[str, list[str]] = {}
    if squash is not None:
        groups["head"] = downstream(model, squash)
    if convs:
        network = set(downstream(model, convs[0]))
        groups["input"] = [n.name for n in nodes if n.name not in network]
        groups["first_conv"] = [convs[0].name]
        groups["last_conv"] = [convs[-1].name]
    groups["upsample"] = [n.name for n in nodes if n.op_type == "Resize"]
    return {name: members for name, members in groups.items() if members}


class _SampleRunner:
    """A strip graph as the decision set runs it: one labelled strip in, (heatmap, score) out."""

    def __init__(self, graph: GraphRunner) -> None:
        self.graph = graph

    def run(self, sample: LabelledStrip) -> tuple[np.ndarray, float]:
        return self.graph.run(sample.strip)


def _training_data(options: Any, train: Any) -> pathlib.Path:
    data = options.data or pathlib.Path(train.data)
    if not (data / "train" / "good").is_dir():
        msg = f"{data}: the run's training data is not there (no train/good); pass --data"
        raise InvalidArgumentError(msg)
    return data


def _image_size(options: Any, data: pathlib.Path, patch: int) -> tuple[int, int]:
    if options.image_size is None:
        first = next(
            p for p in sorted((data / "train" / "good").iterdir()) if p.suffix.lower() in (".tif", ".tiff")
        )
        size = read_strip_shape(first)
    else:
        size = tuple(int(v) for v in options.image_size)
    if size[0] < patch or size[1] < patch:
        msg = f"export: image size {size[0]}x{size[1]} is smaller than one {patch}x{patch} patch"
        raise InvalidArgumentError(msg)
    return size


class StripExportPlan(ExportPlan):
    """The export plan of one trained reference_unet run.

    Uses the options ``graph`` (auto or a kind), ``image_size``, ``roi``, ``output_format``,
    ``data``, ``calib``, ``calibration_count`` and ``validation_variants``.
    """

    def __init__(self, network: torch.nn.Module, info: dict, train: Any, options: Any) -> None:
        if options.graph != "auto" and options.graph not in GRAPH_KINDS:
            msg = f"export: graph must be auto or one of {', '.join(GRAPH_KINDS)}, got {options.graph!r}"
            raise InvalidArgumentError(msg)
        if options.graph == "patch" and (options.roi or options.output_format != "raw"):
            msg = "export: a patch graph has raw outputs and no ROI input (the runtime applies both)"
            raise InvalidArgumentError(msg)
        self.network, self.info, self.train, self.options = network, info, train, options
        self.patch = int(info["patch_size"])
        self.data = _training_data(options, train)
        self.image_size = _image_size(options, self.data, self.patch)
        self.kinds = ("tiled", "full_frame") if options.graph == "auto" else (options.graph,)
        self.reference_kind = "patch" if options.graph == "patch" else "tiled"
        self.modules: dict[str, torch.nn.Module] = {}
        self._validation = validation_strips(train, self.data, self.image_size, options.validation_variants)
        self._calibration: list[np.ndarray] | None = None

    def spec(self, kind: str) -> GraphSpec:
        full_image = kind != "patch"
        return GraphSpec(
            kind=kind,
            image_size=self.image_size,
            patch=self.patch,
            min_overlap=self.patch // 8,
            roi=self.options.roi and full_image,
            seed3ch=self.options.output_format == "seed3ch" and full_image,
        )

    def graph(self, kind: str) -> GraphBuild:
        spec = self.spec(kind)
        module = self.modules[kind] = build_graph(self.network, spec)
        if kind == "patch":
            example = torch.zeros(1, 3, spec.patch, spec.patch)
            return GraphBuild(module, (example,), ["patch"], {"patch": {0: "batch"}, "heatmap": {0: "batch"}})
        height, width = spec.image_size
        axes = {"strip": {0: "batch"}, "heatmap": {0: "batch"}, "score": {0: "batch"}}
        if not spec.roi:
            axes["strip"][1] = "channels"  # 3 or 4 channels (the fourth ignored)
        example = torch.zeros(1, 4 if spec.roi else 3, height, width)
        return GraphBuild(module, (example,), ["strip"], axes)

    def runner(self, kind: str, model: onnx.ModelProto) -> _SampleRunner:
        spec = self.spec(kind)
        return _SampleRunner(GraphRunner(model, spec.kind, spec.patch, spec.min_overlap, spec.box))

    def validation(self) -> Sequence[LabelledStrip]:
        return self._validation

    def more_validation(self, round_index: int, count: int) -> Sequence[LabelledStrip]:
        return extension_strips(self.train, self.data, self.image_size, round_index, count)

    def calibration(self, kind: str) -> list[dict[str, np.ndarray]]:
        if self._calibration is None:
            self._calibration = calibration_strips(
                self.train, self.data, self.image_size, self.options.calibration_count, self.options.calib
            )
        spec = self.spec(kind)
        ys, xs = spec.positions
        channels = 4 if spec.roi else 3
        return [graph_feed(s, spec.kind, channels, spec.patch, ys, xs) for s in self._calibration]

    def float_groups(self, model: onnx.ModelProto) -> dict[str, list[str]]:
        return node_groups(model)

    def fixed_float(self, model: onnx.ModelProto) -> list[str]:
        return score_filter(model)

    def accuracy(self, samples: Sequence[LabelledStrip], heatmaps: list, scores: list[float]) -> dict:
        return accuracy(samples, heatmaps, scores)

    def parity(self, kind: str, runner: _SampleRunner, samples: Sequence[LabelledStrip]) -> dict[str, float]:
        return parity(self.modules[kind], self.network, kind, runner.graph, samples)

    def metadata(
        self, kind: str, model: onnx.ModelProto, precision: str, thresholds: dict, provenance: dict
    ) -> ArtifactMetadata:
        spec = self.spec(kind)
        ys, xs = spec.positions
        height, width = spec.image_size
        types = tensor_types(model)
        meanings = {
            "strip": ("NCHW", 255.0, "target, ref1, ref2 (+ an ROI or ignored fourth channel) on 0..255"),
            "patch": ("NCHW", 255.0, "tiles of target, ref1, ref2 on 0..255"),
            "heatmap": (
                "NCHW",
                None,
                "defect probability per pixel" + (", channel 0" if spec.seed3ch else ""),
            ),
            "score": ("N", None, "max of the box-mean-filtered heatmap"),
        }

        def specs(names: list[str]) -> list[TensorSpec]:
            return [TensorSpec(name, *types[name], *meanings[name]) for name in names]

        inputs = [i.name for i in model.graph.input]
        outputs = [o.name for o in model.graph.output]
        return ArtifactMetadata(
            family="reference_unet",
            precision=precision,
            inputs=specs(inputs),
            outputs=specs(outputs),
            thresholds={"image": thresholds["image"], "pixel": thresholds["pixel"]},
            family_section={
                "graph": spec.kind,
                "image_size": [height, width],
                "channels": ["target", "ref1", "ref2"],
                "accepted_channels": [4] if spec.roi else ([3] if spec.kind == "patch" else [3, 4]),
                "fourth_channel": "roi" if spec.roi else "ignore",
                "tiling": {
                    "patch": spec.patch,
                    "min_overlap": spec.min_overlap,
                    "positions_y": ys,
                    "positions_x": xs,
                    "stitch": "nearest_centre",
                    "mode": {"tiled": "baked", "full_frame": "none", "patch": "runtime"}[spec.kind],
                },
                "score": {"reduction": "box_mean_max", "box": spec.box, "border": "reflect"},
                "output_format": "seed3ch" if spec.seed3ch else "raw",
            },
            provenance={
                **provenance,
                "data_fingerprint": data_fingerprint(self.data),
                "defectkit_version": __version__,
                "exported_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            },
        )
