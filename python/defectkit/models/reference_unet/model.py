"""The reference UNet: DRAEM's discriminative sub-network over (target, ref1, ref2).

The architecture is exactly the discriminative network of DRAEM (Zavrtanik,
Kristan, Skocaj, "DRAEM - A discriminatively trained reconstruction embedding
for surface anomaly detection", ICCV 2021): a six-block encoder and a five-step
decoder with skip connections. Only the input differs: instead of the image
and its reconstruction, the network sees the target capture and two reference
captures of the same surface, and learns to mark what the target has and both
references lack.

Attribute names follow the DRAEM reference code (``encoder_segment.block1``,
``decoder_segment.up_b``, ``fin_out``, ...), so a seed checkpoint's
``state_dict`` loads without renaming.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from defectkit.errors import InvalidArgumentError
from defectkit.models.reference_unet.config import UNetConfig

__all__ = ["ReferenceUNet", "ReferenceUNetOutput", "count_flops"]

# Five 2x max-pools between the six encoder blocks: H and W must survive them exactly.
SIZE_MULTIPLE = 32
# Channel counts ONNX Runtime's INT8 convolution runs well, measured at 992 x 192 on 2 cores by
# experiments/reference_unet/conv_channels.py (results/conv_channels-2026-11-30.md): 3 input
# channels take 1.9x the time of 4, and 1-8 output channels 2.0-2.8x the time of 16. Eval mode
# (what export traces) pads the first conv's input to a multiple of 4 with zero weights and
# computes the head's one logit in 16 identical output channels, keeping the first: the same
# numbers, faster kernels, nothing retrained.
INPUT_CHANNEL_MULTIPLE = 4
HEAD_LANES = 16


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """Conv3x3-BN-ReLU twice: one encoder block, or the merge step after a skip concatenation."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def up_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """Bilinear 2x upsample then Conv3x3-BN-ReLU (DRAEM upsamples instead of using transposed convs)."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


# Channel width of each UNet level (full resolution first) in units of the base width w.
LEVEL_WIDTHS = (1, 2, 4, 8, 8, 8)


def _space_to_depth(x: torch.Tensor, stride: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C * stride^2, H / stride, W / stride); the input itself at stride 1."""
    return F.pixel_unshuffle(x, stride) if stride > 1 else x


class Encoder(nn.Module):
    """Six double-conv blocks of widths w, 2w, 4w, 8w, 8w, 8w with a 2x max-pool between each.

    ``input_stride`` 2 rearranges every 2 x 2 pixel block of the input into channels (space to
    depth, ``pixel_unshuffle``: each pixel is still seen) and starts at ``block2`` on that
    half-resolution input: the full-resolution block (``block1``) is left out.
    """

    def __init__(self, in_channels: int, width: int, input_stride: int = 1) -> None:
        super().__init__()
        self.input_stride = input_stride
        self.levels = tuple(range(input_stride, len(LEVEL_WIDTHS) + 1))  # stride 1: 1..6, 2: 2..6
        channels = in_channels * input_stride**2
        for level in self.levels:  # registered in DRAEM's order: block1, mp1, block2, ...
            setattr(self, f"block{level}", double_conv(channels, LEVEL_WIDTHS[level - 1] * width))
            if level < len(LEVEL_WIDTHS):
                setattr(self, f"mp{level}", nn.MaxPool2d(2))
            channels = LEVEL_WIDTHS[level - 1] * width
        self.pad_input = True  # eval mode: the first conv as INT8 kernels like it (_first_block_eval)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        # Level 1 (N, w, H, W), 2 (N, 2w, H/2, W/2), ... 6 (N, 8w, H/32, W/32), input scale H.
        first = getattr(self, f"block{self.levels[0]}")
        if self.pad_input and not self.training:
            features = [self._first_block_eval(first, x)]
        else:
            features = [first(_space_to_depth(x, self.input_stride))]
        for level in self.levels[1:]:
            pooled = getattr(self, f"mp{level - 1}")(features[-1])
            features.append(getattr(self, f"block{level}")(pooled))
        return tuple(features)

    def _first_block_eval(self, block: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
        """The first block on the raw input, equal to the training path, in kernels INT8 runs fast.

        Its first conv reads the input padded to a multiple of INPUT_CHANNEL_MULTIPLE channels
        (zeros, read by zero weights). At stride 2 the pixel unshuffle and that 3 x 3 conv fold
        into one 6 x 6 conv of stride 2 on the full-resolution input (tap ``2a + i`` of the big
        kernel is tap ``a`` of the small one on block offset ``i``), which leaves out the 6-D
        Transpose that ``pixel_unshuffle`` exports to (12 % of the INT8 strip graph's time).
        """
        conv, stride = block[0], self.input_stride
        channels = conv.in_channels // stride**2  # raw input channels
        pad = -channels % INPUT_CHANNEL_MULTIPLE
        if channels == 1 or (pad == 0 and stride == 1):  # one channel: padding would multiply the work
            return block(_space_to_depth(x, stride))
        out, _, k, _ = conv.weight.shape
        # (out, C * s * s, k, k) indexed [o, c, i, j, a, b]
        #   -> (out, C, k * s, k * s) indexed [o, c, (a, i), (b, j)]
        weight = conv.weight.reshape(out, channels, stride, stride, k, k).permute(0, 1, 4, 2, 5, 3)
        weight = weight.reshape(out, channels, k * stride, k * stride)
        zeros = weight.new_zeros(out, pad, k * stride, k * stride)
        weight = torch.cat((weight, zeros), dim=1)  # a traced shape
        padded = F.pad(x, (0, 0, 0, 0, 0, pad))
        return block[1:](F.conv2d(padded, weight, conv.bias, stride=stride, padding=conv.padding[0] * stride))


class ComparingEncoder(nn.Module):
    """One shared :class:`Encoder` run on each capture alone; target and references compared per scale.

    At each of the six scales the target's features ``t`` are concatenated with
    ``min over references r of |t - r|`` and merged back to the scale's width by a 1x1 conv.
    The minimum is what "present in the target and absent from both references" means: an
    anomaly that a reference shares leaves one difference near zero, whatever its size or
    contrast, where stacked input channels leave the network to learn that. It did not score
    better on the demo (docs/experiments/reference_unet.md, "Tried on the 96-strip recipe"):
    what stacking got wrong there, a faint smudge in both references, differs from both the
    same way a smudge of the other sign in the target would, so no rule over differences can
    tell the two apart.
    """

    def __init__(self, captures: int, width: int) -> None:
        super().__init__()
        self.captures = captures
        self.shared = Encoder(1, width)
        w = width
        self.merge = nn.ModuleList(
            nn.Sequential(nn.Conv2d(2 * c, c, kernel_size=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
            for c in (w, 2 * w, 4 * w, 8 * w, 8 * w, 8 * w)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        # All captures in one batch: one pass through the encoder, and BN sees them all.
        features = self.shared(x.flatten(0, 1).unsqueeze(1))  # six maps of (N * C, c, h, w)
        merged = []
        for feature, merge in zip(features, self.merge, strict=True):
            per_capture = feature.unflatten(0, (-1, self.captures))  # (N, C, c, h, w)
            target = per_capture[:, 0]
            difference = (target - per_capture[:, 1]).abs()
            for k in range(2, self.captures):
                difference = torch.minimum(difference, (target - per_capture[:, k]).abs())
            merged.append(merge(torch.cat((target, difference), dim=1)))  # (N, c, h, w)
        return tuple(merged)


# The decoder's steps from the deepest level up, DRAEM's names: (upsample, merge, level it makes).
DECODER_STEPS = (
    ("up_b", "db_b", 5), ("up1", "db1", 4), ("up2", "db2", 3), ("up3", "db3", 2), ("up4", "db4", 1),
)  # fmt: skip


class Decoder(nn.Module):
    """Upsample + conv, concatenate the matching encoder features, double conv; five times.

    The step that makes level ``j`` outputs the width of level ``j - 1`` (w at level 1), so the
    classifier conv reads w channels. ``first_level`` 2 stops one step short, at half resolution.
    """

    def __init__(self, width: int, num_classes: int, first_level: int = 1) -> None:
        super().__init__()
        self.steps = tuple(step for step in DECODER_STEPS if step[2] >= first_level)
        channels = LEVEL_WIDTHS[-1] * width
        for up, merge, level in self.steps:
            out = LEVEL_WIDTHS[max(level - 2, 0)] * width
            setattr(self, up, up_conv(channels, out))
            setattr(self, merge, double_conv(out + LEVEL_WIDTHS[level - 1] * width, out))
            channels = out
        # A Sequential of one conv, as in DRAEM, so checkpoint keys read fin_out.0.*.
        self.fin_out = nn.Sequential(nn.Conv2d(channels, num_classes, kernel_size=3, padding=1))

    def trunk(self, features: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The encoder maps (shallowest first, the deepest at level 6) -> (N, w, h, w') at the
        scale of the decoder's last level, the features the classifier conv reads. Encoder maps
        above that level (block1 when the decoder stops at half resolution) feed only the pool."""
        first = len(LEVEL_WIDTHS) + 1 - len(features)  # the level of features[0]: 1, or 2 without block1
        x = features[-1]
        for up, merge, level in self.steps:
            x = getattr(self, merge)(torch.cat((getattr(self, up)(x), features[level - first]), dim=1))
        return x

    def forward(self, features: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return self.fin_out(self.trunk(features))  # (N, num_classes, H, W)

    def defect_logit(self, features: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """(N, 1, H, W) ``l1 - l0`` of a two-class head, from one folded output channel.

        ``softmax(l)[1] == sigmoid(l1 - l0)`` exactly, and the classifier conv is linear, so
        one conv channel with weights ``W1 - W0`` and bias ``b1 - b0`` gives the same
        probability as the trained two-channel head: the exported graph ends in a one-channel
        conv and a Sigmoid (an INT8 kernel) instead of a two-channel conv and a float Softmax,
        which took 10 % of the width-16 INT8 kernel time (benchmarks/results/2026-11-23-vm.md).
        The logit is computed in HEAD_LANES identical channels and the first kept (see
        HEAD_LANES). Checkpoints keep the two-channel head, so nothing is retrained.
        """
        return folded_defect_conv(self.fin_out[0], self.trunk(features))


def folded_defect_conv(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) ``l1 - l0`` of a two-class conv on ``x``, computed as one folded channel in
    HEAD_LANES identical lanes (see :meth:`Decoder.defect_logit`)."""
    weight = (conv.weight[1:2] - conv.weight[0:1]).expand(HEAD_LANES, -1, -1, -1)  # (16, c, k, k)
    bias = (conv.bias[1:2] - conv.bias[0:1]).expand(HEAD_LANES)  # (16,)
    return F.conv2d(x, weight, bias, padding=conv.padding)[:, :1]


class ReferenceUNetOutput(NamedTuple):
    """What the network returns in eval mode; the field names the exported output."""

    heatmap: torch.Tensor  # (N, 1, H, W) probability that the pixel holds a defect (class 1)


def defect_probability_of(logits: torch.Tensor) -> torch.Tensor:
    """(N, 2, H, W) logits -> (N, 1, H, W) defect probability (class 1), as the loss sees it."""
    return torch.softmax(logits, dim=1)[:, 1:2]


class ReferenceUNet(nn.Module):
    """DRAEM's discriminative UNet over (target, ref1, ref2) channels.

    Args:
        config: Network shape; defaults to :class:`UNetConfig` ().

    Example:
        >>> model = ReferenceUNet(UNetConfig(width=8)).eval()
        >>> model(torch.rand(2, 3, 128, 128)).heatmap.shape
        torch.Size([2, 1, 128, 128])
    """

    def __init__(self, config: UNetConfig | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else UNetConfig()
        config = self.config
        if config.fusion == "compare":
            self.encoder_segment: nn.Module = ComparingEncoder(config.in_channels, config.width)
        else:  # input stride 2: the captures' 2 x 2 pixel blocks as channels, at level 2 (no block1)
            self.encoder_segment = Encoder(config.in_channels, config.width, config.input_stride)
        # head stride 2: the decoder's last step makes level 2 (no up4 / db4 at full resolution)
        self.decoder_segment = Decoder(config.width, config.num_classes, config.head_stride)
        if config.readout:  # block1's features read into the logit at full resolution
            k = config.readout
            self.readout = nn.Conv2d(config.width, config.num_classes, kernel_size=k, padding=k // 2)

    def _full_resolution(
        self, logits: torch.Tensor, features: tuple[torch.Tensor, ...], folded: bool = False
    ) -> torch.Tensor:
        """Head stride 2: the half-resolution logits upsampled bilinearly to the input's size, plus
        the readout of block1's features (``features[0]``) if configured; ``folded``: the one
        defect-logit channel of :meth:`Decoder.defect_logit`."""
        if self.config.head_stride == 1:
            return logits
        stride = self.config.head_stride
        logits = F.interpolate(logits, scale_factor=stride, mode="bilinear", align_corners=False)
        if not self.config.readout:
            return logits
        fine = folded_defect_conv(self.readout, features[0]) if folded else self.readout(features[0])
        return logits + fine

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Per-pixel class logits, (N, num_classes, H, W); class 1 is "defect".

        Args:
            x: (N, C, H, W) float32 in [0, 1]; C = ``config.in_channels``; H, W multiples of 32.

        Raises:
            InvalidArgumentError: if ``x`` is not 4-D with the configured channels and H, W multiples of 32.
        """
        self._check_input(x)
        features = self.encoder_segment(x)  # six maps, (N, w, H, W) ... (N, 8w, H/32, W/32); stride 2: five
        return self._full_resolution(self.decoder_segment(features), features)  # (N, num_classes, H, W)

    def forward(self, x: torch.Tensor) -> torch.Tensor | ReferenceUNetOutput:
        """Training mode: the logits the loss takes. Eval mode: :class:`ReferenceUNetOutput`, the
        exported outputs (the export contract)."""
        if self.training:
            return self.logits(x)  # (N, num_classes, H, W)
        return ReferenceUNetOutput(heatmap=self.defect_probability(x))

    def defect_probability(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) in [0, 1] -> (N, 1, H, W) defect probability, in either mode.

        Two classes (the default): ``sigmoid`` of the folded defect logit
        (:meth:`Decoder.defect_logit`), equal to the softmax of the two logits.
        """
        if self.config.num_classes != 2:
            return defect_probability_of(self.logits(x))
        self._check_input(x)
        features = self.encoder_segment(x)
        logit = self.decoder_segment.defect_logit(features)
        return torch.sigmoid(self._full_resolution(logit, features, folded=True))

    def _check_input(self, x: torch.Tensor) -> None:
        # Evaluated on Python ints at trace time: an export with static shapes carries no trace of it.
        shape = tuple(x.shape)
        if len(shape) != 4 or shape[1] != self.config.in_channels:
            msg = f"expected input (N, {self.config.in_channels}, H, W), got shape {shape}"
            raise InvalidArgumentError(msg)
        if shape[2] % SIZE_MULTIPLE or shape[3] % SIZE_MULTIPLE:
            msg = f"input height and width must be multiples of {SIZE_MULTIPLE}, got shape {shape}"
            raise InvalidArgumentError(msg)


def count_flops(model: nn.Module, height: int, width: int) -> float:
    """Counts the GFLOP of one forward pass over a single (1, C, height, width) input.

    Uses :class:`torch.utils.flop_counter.FlopCounterMode`, which counts a multiply-add as two
    FLOPs and covers convolutions (and matmuls); BN, ReLU, pooling and upsampling are not counted
    and are negligible next to the convolutions.

    Args:
        model: A :class:`ReferenceUNet` (anything with ``config.in_channels`` or taking 3 channels).
        height: Input height in pixels.
        width: Input width in pixels.

    Returns:
        GFLOP (1e9 FLOPs) per forward of one image.
    """
    from torch.utils.flop_counter import FlopCounterMode

    config = getattr(model, "config", None)
    in_channels = getattr(config, "in_channels", 3)
    parameter = next(model.parameters())
    x = torch.zeros(1, in_channels, height, width, dtype=parameter.dtype, device=parameter.device)
    was_training = model.training
    encoders: list[Encoder] = []
    model.eval()
    try:
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            # The trained network's logits: the work that matters, not the zero-weight input
            # channel and repeated head lanes eval mode adds for the INT8 kernels' sake.
            encoders = [m for m in model.modules() if isinstance(m, Encoder)]
            for encoder in encoders:
                encoder.pad_input = False
            model.logits(x) if hasattr(model, "logits") else model(x)
    finally:
        for encoder in encoders:
            encoder.pad_input = True
        model.train(was_training)
    return counter.get_total_flops() / 1e9
