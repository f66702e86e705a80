"""The exported graphs as torch modules: tiled full-image, full-frame, and patch.

Each wraps the trained patch network with what the line would otherwise do by
hand: scaling from 0..255, channel selection, tiling, softmax, stitching and the
image score. They are traced to ONNX by :mod:`defectkit.export.onnx_graph`, and
they are also the PyTorch side of the parity checks.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from defectkit.models.reference_unet.data.tiling import positions_along
from defectkit.models.reference_unet.model import SIZE_MULTIPLE
from defectkit.models.reference_unet.sliding_window import nearest_centre_index

__all__ = [
    "GRAPH_KINDS",
    "FullFrameGraph",
    "GraphSpec",
    "PatchGraph",
    "PatchOutput",
    "StripOutput",
    "TiledGraph",
    "build_graph",
]

GRAPH_KINDS = ("tiled", "full_frame", "patch")
MODEL_CHANNELS = 3  # target, ref1, ref2
INPUT_SCALE = 255.0


class StripOutput(NamedTuple):
    """A full-image graph's outputs (their names in the artifact)."""

    heatmap: torch.Tensor  # (N, 1, H, W) defect probability, or (N, 3, H, W) in the seed's layout
    score: torch.Tensor  # (N,) max of the box-mean-filtered heatmap


class PatchOutput(NamedTuple):
    """A patch graph's output; the runtime tiles, stitches and scores."""

    heatmap: torch.Tensor  # (B, 1, p, p) defect probability


@dataclasses.dataclass(frozen=True)
class GraphSpec:
    """What one exported graph is: its kind, sizes and output conventions."""

    kind: str  # one of GRAPH_KINDS
    image_size: tuple[int, int]  # (H, W) of the strips it takes (patch graphs: the training size)
    patch: int
    min_overlap: int
    box: int = 3  # image score: max of the box x box mean (see evaluation.sliding_window.image_score)
    roi: bool = False  # the fourth input channel masks the heatmap
    seed3ch: bool = False  # heatmap as (N, 3, H, W), channels 1 and 2 zero

    @property
    def positions(self) -> tuple[list[int], list[int]]:
        height, width = self.image_size
        return (
            positions_along(height, self.patch, 1, min_overlap=self.min_overlap),
            positions_along(width, self.patch, 1, min_overlap=self.min_overlap),
        )


def mirror_pad(x: torch.Tensor, k: int) -> torch.Tensor:
    """Pads the last two axes by ``k`` mirroring the edge pixel too (OpenCV's BORDER_REFLECT).

    ONNX Pad's ``reflect`` leaves the edge out (numpy's "reflect"); slicing and flipping gives
    numpy's "symmetric", which is what :func:`image_score` uses through ``cv2.blur``.
    """
    if k == 0:
        return x
    top, bottom = x[..., :k, :].flip(-2), x[..., -k:, :].flip(-2)
    x = torch.cat([top, x, bottom], dim=-2)
    left, right = x[..., :k].flip(-1), x[..., -k:].flip(-1)
    return torch.cat([left, x, right], dim=-1)


def box_max_score(heatmap: torch.Tensor, box: int) -> torch.Tensor:
    """(N, 1, H, W) -> (N,): the maximum of the box-mean-filtered heatmap, as ``image_score``."""
    smoothed = F.avg_pool2d(mirror_pad(heatmap, box // 2), box, stride=1)  # (N, 1, H, W)
    return smoothed.amax(dim=(1, 2, 3))


def _segments(starts: list[int], patch: int, length: int) -> list[tuple[int, int, int]]:
    """Per tile along one axis, ``(tile, begin, end)`` of the output range it owns (nearest centre)."""
    tile, _ = nearest_centre_index(starts, patch, length)
    segments = []
    for t in range(len(starts)):
        owned = (tile == t).nonzero()[0]
        if owned.size:  # contiguous: the rule is monotone in the row index
            segments.append((t, int(owned[0]), int(owned[-1]) + 1))
    return segments


class _StripGraph(nn.Module):
    """Shared front and back of the full-image graphs: scaling, channels, ROI, score, layout."""

    def __init__(self, network: nn.Module, spec: GraphSpec) -> None:
        super().__init__()
        self.network = network
        self.spec = spec

    def probability(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, h, w) in [0, 1] -> (B, 1, h, w) defect probability."""
        return self.network(x).heatmap  # the network's eval-mode output

    def heatmap(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - overridden
        raise NotImplementedError

    def forward(self, strip: torch.Tensor) -> StripOutput:
        x = strip[:, :MODEL_CHANNELS] * (1.0 / INPUT_SCALE)  # (N, 3, H, W) in [0, 1]
        heatmap = self.heatmap(x)  # (N, 1, H, W)
        if self.spec.roi:
            heatmap = heatmap * (strip[:, MODEL_CHANNELS : MODEL_CHANNELS + 1] != 0).to(heatmap.dtype)
        score = box_max_score(heatmap, self.spec.box)  # (N,)
        if self.spec.seed3ch:
            heatmap = torch.cat([heatmap, torch.zeros_like(heatmap), torch.zeros_like(heatmap)], dim=1)
        return StripOutput(heatmap, score)


class TiledGraph(_StripGraph):
    """All tiles of a strip in one batch through one copy of the network, stitched nearest-centre."""

    def heatmap(self, x: torch.Tensor) -> torch.Tensor:
        p = self.spec.patch
        ys, xs = self.spec.positions
        tiles = [x[:, :, y : y + p, x0 : x0 + p] for y in ys for x0 in xs]  # T x (N, 3, p, p)
        probability = self.probability(torch.cat(tiles, dim=0))  # (T * N, 1, p, p), tile-major
        per_tile = probability.reshape(len(tiles), -1, 1, p, p)  # (T, N, 1, p, p)
        height, width = self.spec.image_size
        rows = []
        for r, y0, y1 in _segments(ys, p, height):
            band = [
                per_tile[r * len(xs) + c][:, :, y0 - ys[r] : y1 - ys[r], x0 - xs[c] : x1 - xs[c]]
                for c, x0, x1 in _segments(xs, p, width)
            ]
            rows.append(torch.cat(band, dim=3))  # (N, 1, y1 - y0, W)
        return torch.cat(rows, dim=2)  # (N, 1, H, W)


class FullFrameGraph(_StripGraph):
    """The network once over the whole strip, mirror-padded up to a multiple of 32, then cropped."""

    def heatmap(self, x: torch.Tensor) -> torch.Tensor:
        height, width = self.spec.image_size
        pad_h = -height % SIZE_MULTIPLE
        pad_w = -width % SIZE_MULTIPLE
        # Split the padding between both sides so neither edge of the strip loses more context.
        padding = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
        padded = F.pad(x, padding, mode="reflect")  # (N, 3, H', W')
        probability = self.probability(padded)
        return probability[:, :, padding[2] : padding[2] + height, padding[0] : padding[0] + width]


class PatchGraph(nn.Module):
    """(B, 3, p, p) on the 0..255 scale -> (B, 1, p, p) defect probability; the runtime tiles."""

    def __init__(self, network: nn.Module, spec: GraphSpec) -> None:
        super().__init__()
        self.network = network
        self.spec = spec

    def forward(self, patch: torch.Tensor) -> PatchOutput:
        x = patch[:, :MODEL_CHANNELS] * (1.0 / INPUT_SCALE)
        return PatchOutput(self.network(x).heatmap)


def build_graph(network: nn.Module, spec: GraphSpec) -> nn.Module:
    """The torch module for ``spec.kind``, in eval mode."""
    classes = {"tiled": TiledGraph, "full_frame": FullFrameGraph, "patch": PatchGraph}
    return classes[spec.kind](network, spec).eval()
