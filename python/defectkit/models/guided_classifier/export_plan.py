"""guided_classifier's side of ``defectkit export``: one graph that takes the image as the camera
gives it (uint8 NHWC, any size, grey or RGB), resizes and normalises inside, and returns the
class probabilities and the defect mask at the input's own size (docs/ARTIFACT.md)."""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from torch import nn

from defectkit._version import __version__
from defectkit.artifact import ArtifactMetadata, TensorSpec
from defectkit.errors import InvalidArgumentError
from defectkit.evaluation.metrics import evaluate
from defectkit.models.family import ExportPlan, GraphBuild
from defectkit.models.graph_parts import tensor_types
from defectkit.models.guided_classifier.data.images import read_image, read_mask
from defectkit.models.guided_classifier.data.layout import read_split
from defectkit.models.guided_classifier.model import MEAN, STD, GuidedClassifier

__all__ = ["ImageExportPlan", "ImageGraph", "ImageSample"]


# What guided_classifier's INT8 quantises, and whose outputs stay float (ImageExportPlan.quantization).
QUANTISED_OPS = ("MatMul", "Gemm", "Conv")
FLOAT_OUTPUT_OPS = ("MatMul", "Gemm")


class ImageOutput(NamedTuple):
    probabilities: torch.Tensor  # (1, classes)
    mask: torch.Tensor  # (1, 1, H, W) at the input's size


class ImageGraph(nn.Module):
    """uint8 (1, H, W, C) with C 1 or 3 -> ImageOutput: the preprocessing in the graph."""

    def __init__(self, model: GuidedClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> ImageOutput:
        size = self.model.config.image_size
        x = image.permute(0, 3, 1, 2).float() * (1.0 / 255.0)  # (1, C, H, W)
        x = x.expand(-1, 3, -1, -1)  # a grey channel repeated; RGB unchanged
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)  # (1, 3, S, S)
        out = self.model.heads(x)
        height, width = image.shape[1:3]
        mask_logits = F.interpolate(
            out.mask_logits, size=(height, width), mode="bilinear", align_corners=False
        )
        # One image: the reshape states the fixed batch and channel (Resize's shape inference loses them).
        mask = torch.sigmoid(mask_logits).reshape(1, 1, height, width)
        return ImageOutput(torch.softmax(out.class_logits, dim=1), mask)


@dataclasses.dataclass
class ImageSample:
    """One validation image as export measures it."""

    image: np.ndarray  # (H, W, 3) uint8
    mask: np.ndarray | None  # (H, W) bool; all False for a normal image; None: not known
    label: int
    category: str


def samples_of(data: pathlib.Path, split: str) -> list[ImageSample]:
    samples = []
    for record in read_split(data, split):
        image = read_image(record.path)
        if record.label == 0:
            mask = np.zeros(image.shape[:2], bool)
        else:
            mask = read_mask(record.mask_path, image.shape) if record.mask_path else None
        samples.append(ImageSample(image, mask, record.label, "defect" if record.label else "good"))
    return samples


class _Runner:
    """An exported image graph in ONNX Runtime: one sample -> (mask (H, W), defect probability)."""

    def __init__(self, model: onnx.ModelProto, defect_class: int) -> None:
        self.session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        self.defect_class = defect_class

    def run(self, sample: ImageSample) -> tuple[np.ndarray, float]:
        probabilities, mask = self.session.run(None, {"image": sample.image[None]})
        return mask[0, 0], float(probabilities[0, self.defect_class])


# Ops that carry a computed value on to an output without learning anything: walking up from an
# output through these, the first Softmax or Sigmoid met is that output's head.
_HEAD_PASS_THROUGH = frozenset(
    {"Resize", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Cast", "Flatten", "Slice",
     "Concat", "Shape", "Gather", "Expand"}
)  # fmt: skip


def output_heads(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes from each output up to and including the learned op before it (the
    classifier's last Gemm, the mask's last Conv), if a Softmax or Sigmoid is among them; none
    for an output without one."""
    producer = {name: n for n in model.graph.node for name in n.output}
    heads: set[str] = set()
    for output in model.graph.output:
        path, frontier, found = set(), [output.name], False
        while frontier:
            node = producer.get(frontier.pop())
            if node is None or node.name in path:
                continue
            if node.op_type in ("Softmax", "Sigmoid"):  # and on up: the logits' resize too
                path.add(node.name)
                frontier.extend(node.input)
                found = True
            elif node.op_type in _HEAD_PASS_THROUGH:
                path.add(node.name)
                frontier.extend(node.input)
            else:  # the learned op that makes the logits: float too, or its output Q clips them
                path.add(node.name)
        if found:
            heads |= path
    return sorted(heads)


class ImageExportPlan(ExportPlan):
    kinds = ("image",)
    reference_kind = "image"

    def __init__(self, network: GuidedClassifier, info: dict, train: Any, options: Any) -> None:
        if options.graph not in ("auto", "image") or options.roi or options.output_format != "raw":
            msg = "export: a guided_classifier artifact has one graph (image) and no --roi or --output-format"
            raise InvalidArgumentError(msg)
        self.network, self.info, self.train, self.options = network.eval(), info, train, options
        self.config = network.config
        self.data = pathlib.Path(options.data or train.data)
        self.module = ImageGraph(self.network).eval()
        self._validation = samples_of(self.data, "val")

    def graph(self, kind: str) -> GraphBuild:
        size = self.config.image_size
        example = torch.zeros(1, size, size, 3, dtype=torch.uint8)
        axes = {"image": {1: "height", 2: "width", 3: "channels"}, "mask": {2: "height", 3: "width"}}
        return GraphBuild(self.module, (example,), ["image"], axes)

    def runner(self, kind: str, model: onnx.ModelProto) -> _Runner:
        return _Runner(model, self.config.defect_class)

    def validation(self) -> Sequence[ImageSample]:
        return self._validation

    def more_validation(self, round_index: int, count: int) -> Sequence[ImageSample]:
        return []  # real images cannot be synthesised for a user's data: the split is what decides

    def calibration(self, kind: str) -> list[dict[str, np.ndarray]]:
        records = read_split(self.data, "train")
        picks = np.linspace(
            0, len(records) - 1, num=min(self.options.calibration_count * 2, len(records))
        ).round()
        return [{"image": read_image(records[int(i)].path)[None]} for i in dict.fromkeys(picks)]

    def fixed_float(self, model: onnx.ModelProto) -> list[str]:
        """The output heads: each output's Softmax or Sigmoid, the resizes and reshapes around it
        and the learned op that makes its logits. Their values are probabilities that a line
        thresholds, not only a ranking: calibrated to the range the calibration images reach,
        INT8 clipped the demo's mask at 0.25 (AUROC unchanged, every pixel below 0.5)."""
        return output_heads(model)

    def quantization(self) -> dict:
        """INT8 for the matrix products and convolutions only, the products' outputs left float:
        ONNX Runtime then runs each product as one integer GEMM producing float (QGemm,
        MatMulIntegerToFloat) instead of GEMM, Quantize, Dequantize; LayerNorm, GELU and softmax
        stay float. (A convolution keeps the Quantize after it: ONNX Runtime has no INT8 Conv with
        float output.) Measured on ViT-S/14 224 (``python -m benchmarks.guided_int8``, variant
        ``gemm_float_out`` against ``export``, everything quantised; 6 interleaved rounds,
        benchmarks/results/guided_int8-vits14_224-2026-11-30-vm.md): 2.44x ONNX Runtime FP32
        instead of 1.92x, and closer to FP32 (max probability difference 0.0006 instead of 0.0080).

        Not ``dynamic_op_types`` (activations quantised at run time): on the CPU provider it is
        1.10x faster than this, but ONNX Runtime's OpenVINO EP runs it 3.8x slower than this, and
        the EP is ViT-S's fastest configuration (2.61x ONNX Runtime FP32 on an Intel Xeon, paired;
        ``experiments/guided_classifier/dynamic_int8.py``, docs/experiments/guided_classifier.md)."""
        return {
            "op_types_to_quantize": list(QUANTISED_OPS),
            "extra_options": {"OpTypesToExcludeOutputQuantization": list(FLOAT_OUTPUT_OPS)},
        }

    def float_groups(self, model: onnx.ModelProto) -> dict[str, list[str]]:
        """``attention``: the attention's activation x activation products (queries x keys,
        weights x values); ``patch_embed``: the convolutions before the transformer (the
        patchify, or the conv stem); ``decoder``: those after it, the segmentation decoder's. The
        output heads are always float (:meth:`fixed_float`)."""
        nodes = list(model.graph.node)
        initializers = {i.name for i in model.graph.initializer}
        heads = set(output_heads(model))
        first_matmul = next((i for i, n in enumerate(nodes) if n.op_type == "MatMul"), len(nodes))
        convs = [(i, n) for i, n in enumerate(nodes) if n.op_type == "Conv" and n.name not in heads]
        groups = {  # nodes are in topological order
            "attention": [
                n.name
                for n in nodes
                if n.op_type == "MatMul" and not set(n.input) & initializers and n.name not in heads
            ],
            "patch_embed": [n.name for i, n in convs if i < first_matmul],
            "decoder": [n.name for i, n in convs if i > first_matmul],
        }
        return {name: members for name, members in groups.items() if members}

    def accuracy(self, samples: Sequence[ImageSample], heatmaps: list, scores: list[float]) -> dict:
        records = [
            {"category": s.category, "label": s.label, "mask": s.mask, "heatmap": h, "score": score}
            for s, h, score in zip(samples, heatmaps, scores, strict=True)
        ]
        result = evaluate(records)
        return {k: result[k] for k in ("image_auroc", "pixel_auroc", "thresholds", "count")}

    def parity(self, kind: str, runner: _Runner, samples: Sequence[ImageSample]) -> dict[str, float]:
        mask_diff = probability_diff = 0.0
        for sample in samples:
            mask, probability = runner.run(sample)
            with torch.no_grad():
                out = self.module(torch.from_numpy(sample.image[None]))
            mask_diff = max(mask_diff, float(np.abs(mask - out.mask[0, 0].numpy()).max()))
            probability_diff = max(probability_diff, abs(probability - float(out.probabilities[0, -1])))
        return {"onnx_vs_torch_mask": mask_diff, "onnx_vs_torch_probability": probability_diff}

    def metadata(
        self, kind: str, model: onnx.ModelProto, precision: str, thresholds: dict, provenance: dict
    ) -> ArtifactMetadata:
        types = tensor_types(model)
        backbone = self.network.backbone.config
        return ArtifactMetadata(
            family="guided_classifier",
            precision=precision,
            inputs=[
                TensorSpec(
                    "image", *types["image"], "NHWC", 255.0, "the image as the camera gives it, grey or RGB"
                )
            ],
            outputs=[
                TensorSpec("probabilities", *types["probabilities"], "NC", None, "class probabilities"),
                TensorSpec(
                    "mask", *types["mask"], "NCHW", None, "defect probability per pixel, at the input's size"
                ),
            ],
            thresholds={"defect": thresholds["image"], "pixel": thresholds["pixel"]},
            family_section={
                "classes": list(self.config.classes),
                "defect_class": self.config.defect_class,
                "input_size": [self.config.image_size, self.config.image_size],
                "mean": list(MEAN),
                "std": list(STD),
                "backbone": self.config.backbone,
                "backbone_size": self.config.size if not self.config.pretrained else "pretrained",
                "hidden_size": backbone.hidden_size,
                "patch_size": backbone.patch_size,
                "pooling": self.config.pooling,
            },
            provenance={
                **provenance,
                "defectkit_version": __version__,
                "exported_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            },
        )
