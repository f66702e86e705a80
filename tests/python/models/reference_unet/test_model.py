"""ReferenceUNet: DRAEM's discriminative network, layer for layer; shapes, input checks, FLOPs."""

from __future__ import annotations

import pytest
import torch

from defectkit.errors import InvalidArgumentError
from defectkit.models.reference_unet import ReferenceUNet, UNetConfig, count_flops


def conv_params(cin: int, cout: int, k: int = 3) -> int:
    return cin * cout * k * k + cout  # weight + bias (DRAEM keeps nn.Conv2d's default bias)


def bn_params(c: int) -> int:
    return 2 * c  # affine weight + bias; running stats are buffers


def double_params(cin: int, cout: int) -> int:
    return conv_params(cin, cout) + bn_params(cout) + conv_params(cout, cout) + bn_params(cout)


def up_params(cin: int, cout: int) -> int:
    return conv_params(cin, cout) + bn_params(cout)


def draem_discriminative_params(w: int, cin: int = 3, classes: int = 2) -> int:
    """Parameters of DRAEM's DiscriminativeSubNetwork, summed from its layer list."""
    encoder = (
        double_params(cin, w)
        + double_params(w, 2 * w)
        + double_params(2 * w, 4 * w)
        + double_params(4 * w, 8 * w)
        + double_params(8 * w, 8 * w)
        + double_params(8 * w, 8 * w)
    )
    decoder = (
        up_params(8 * w, 8 * w)
        + double_params(16 * w, 8 * w)
        + up_params(8 * w, 4 * w)
        + double_params(12 * w, 4 * w)
        + up_params(4 * w, 2 * w)
        + double_params(6 * w, 2 * w)
        + up_params(2 * w, w)
        + double_params(3 * w, w)
        + up_params(w, w)
        + double_params(2 * w, w)
        + conv_params(w, classes)
    )
    return encoder + decoder


@pytest.mark.parametrize("width", [4, 64])
def test_parameter_count_matches_draem(width: int) -> None:
    model = ReferenceUNet(UNetConfig(width=width))
    assert sum(p.numel() for p in model.parameters()) == draem_discriminative_params(width)


def test_half_resolution_decoder_is_draem_without_up4_and_db4() -> None:
    w = 4
    model = ReferenceUNet(UNetConfig(width=w, head_stride=2))
    dropped = up_params(w, w) + double_params(2 * w, w)  # up4, db4; the classifier reads db3's w channels
    assert sum(p.numel() for p in model.parameters()) == draem_discriminative_params(w) - dropped
    keys = model.state_dict().keys()
    assert "encoder_segment.block1.0.weight" in keys and "decoder_segment.db3.3.weight" in keys
    assert not any(k.split(".")[1] in ("up4", "db4") for k in keys)
    x = torch.rand(2, 3, 64, 96)
    assert model(x).shape == (2, 2, 64, 96)  # training: logits upsampled to the input's size
    model.eval()
    with torch.inference_mode():
        heatmap = model(x).heatmap
        half = model.decoder_segment(model.encoder_segment(x))  # (N, 2, H/2, W/2)
    assert heatmap.shape == (2, 1, 64, 96) and half.shape == (2, 2, 32, 48)
    upsampled = torch.nn.functional.interpolate(half, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(heatmap, torch.softmax(upsampled, dim=1)[:, 1:2])


@pytest.mark.parametrize("kernel", [1, 3])
def test_readout_adds_block1_read_at_full_resolution_to_the_upsampled_logits(kernel: int) -> None:
    """``readout``: the half-resolution decoder's logits upsampled, plus one conv of block1's
    features; eval mode's folded one-channel head gives the same probability as the two logits."""
    w = 4
    torch.manual_seed(0)
    model = ReferenceUNet(UNetConfig(width=w, head_stride=2, readout=kernel))
    plain = sum(p.numel() for p in ReferenceUNet(UNetConfig(width=w, head_stride=2)).parameters())
    assert sum(p.numel() for p in model.parameters()) == plain + w * 2 * kernel * kernel + 2
    x = torch.rand(2, 3, 64, 96)
    assert model(x).shape == (2, 2, 64, 96)
    model.eval()
    with torch.inference_mode():
        heatmap = model(x).heatmap
        features = model.encoder_segment(x)
        half = model.decoder_segment(features)
        fine = model.readout(features[0])  # block1: (N, w, H, W) -> (N, 2, H, W)
    upsampled = torch.nn.functional.interpolate(half, scale_factor=2, mode="bilinear", align_corners=False)
    assert fine.shape == (2, 2, 64, 96)
    torch.testing.assert_close(heatmap, torch.softmax(upsampled + fine, dim=1)[:, 1:2])
    assert (heatmap - torch.softmax(upsampled, dim=1)[:, 1:2]).abs().max() > 1e-3  # the readout counts


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ({"readout": 1}, "head_stride 2"),
        ({"readout": 1, "head_stride": 2, "input_stride": 2}, "input_stride 1"),
        ({"readout": 5, "head_stride": 2}, "readout must be one of"),
    ],
)
def test_readout_needs_block1_and_the_half_resolution_head(shape: dict, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        UNetConfig(**shape)


def test_half_resolution_input_network_is_draem_without_its_full_resolution_level() -> None:
    w = 4
    model = ReferenceUNet(UNetConfig(width=w, input_stride=2, head_stride=2))
    dropped = double_params(3, w) + up_params(w, w) + double_params(2 * w, w)  # block1, up4, db4
    block2 = double_params(4 * 3, 2 * w) - double_params(w, 2 * w)  # reads 2x2 blocks of 3 captures
    assert sum(p.numel() for p in model.parameters()) == draem_discriminative_params(w) - dropped + block2
    keys = model.state_dict().keys()
    assert "encoder_segment.block2.0.weight" in keys and "decoder_segment.db3.3.weight" in keys
    assert not any(k.split(".")[1] in ("block1", "up4", "db4") for k in keys)


def test_half_resolution_input_eval_fold_equals_the_training_path() -> None:
    """Eval mode runs pixel unshuffle + the first 3x3 conv as one 6x6 stride-2 conv on a padded
    input; with random BN statistics it must give what the training path's modules give."""
    torch.manual_seed(0)
    model = ReferenceUNet(UNetConfig(width=4, input_stride=2, head_stride=2))
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    model.eval()
    x = torch.rand(2, 3, 64, 96)
    encoder = model.encoder_segment
    with torch.inference_mode():
        folded = model(x).heatmap
        encoder.pad_input = False  # pixel_unshuffle, then block2 as trained
        plain = model(x).heatmap
        half = encoder.block2(torch.nn.functional.pixel_unshuffle(x, 2))
    assert folded.shape == (2, 1, 64, 96) and half.shape == (2, 8, 32, 48)
    torch.testing.assert_close(folded, plain, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(folded, torch.softmax(model.logits(x), dim=1)[:, 1:2], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize(
    ("strides", "match"),
    [
        ((3, 3), "input_stride"),
        ((1, 4), "head_stride"),
        ((2, 1), "head_stride >="),
        ((True, 1), "input_stride"),
    ],
)
def test_strides_are_checked(strides: tuple[int, int], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        UNetConfig(input_stride=strides[0], head_stride=strides[1])


def test_stride_configs_round_trip_and_old_checkpoints_are_draem() -> None:
    with pytest.raises(InvalidArgumentError, match="full resolution"):
        UNetConfig(fusion="compare", head_stride=2)
    config = UNetConfig(width=4, input_stride=2, head_stride=2)
    assert UNetConfig.from_dict(config.to_dict()) == config
    old = UNetConfig.from_dict({"width": 4})  # a checkpoint from before the options
    assert (old.input_stride, old.head_stride, old.readout) == (1, 1, 0)


def test_width_64_output_shape() -> None:
    model = ReferenceUNet().eval()
    with torch.inference_mode():
        logits = model.logits(torch.rand(1, 3, 32, 64))
        output = model(torch.rand(1, 3, 32, 64))
    assert logits.shape == (1, 2, 32, 64)
    assert output._fields == ("heatmap",) and output.heatmap.shape == (1, 1, 32, 64)


@pytest.mark.parametrize("shape", [(1, 3, 100, 128), (1, 3, 128, 48), (1, 4, 64, 64), (3, 64, 64)])
def test_bad_input_shape_refused(shape: tuple[int, ...]) -> None:
    model = ReferenceUNet(UNetConfig(width=4))
    with pytest.raises(InvalidArgumentError, match=r"shape"):
        model(torch.rand(*shape))


def test_tiny_forward_backward() -> None:
    torch.manual_seed(0)
    model = ReferenceUNet(UNetConfig(width=4))
    x = torch.rand(2, 3, 64, 96)
    logits = model(x)
    assert logits.shape == (2, 2, 64, 96)
    logits.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    model.eval()
    with torch.inference_mode():
        p = model.defect_probability(x)
    assert p.shape == (2, 1, 64, 96)
    assert float(p.min()) >= 0.0 and float(p.max()) <= 1.0
    torch.testing.assert_close(p, torch.softmax(model.logits(x), dim=1)[:, 1:2])  # the folded head
    torch.testing.assert_close(model(x).heatmap, p)  # the eval-mode forward is the probability head


@pytest.mark.parametrize("strides", [(1, 1), (1, 2), (2, 2), (1, 2, 1)])
def test_count_flops_equals_conv_macs_times_two(strides: tuple[int, ...]) -> None:
    readout = strides[2] if len(strides) > 2 else 0
    model = ReferenceUNet(
        UNetConfig(width=4, input_stride=strides[0], head_stride=strides[1], readout=readout)
    )
    height, width = 64, 32
    expected = 0
    hooks = []

    def record(module: torch.nn.Conv2d, _inputs: object, output: torch.Tensor) -> None:
        nonlocal expected
        k = module.kernel_size[0] * module.kernel_size[1]
        expected += 2 * module.in_channels * module.out_channels * k * output.shape[2] * output.shape[3]

    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            hooks.append(module.register_forward_hook(record))
    with torch.no_grad():
        model(torch.zeros(1, 3, height, width))  # training mode: every conv module, two-class head
    for hook in hooks:
        hook.remove()
    model.eval()
    assert count_flops(model, height, width) == pytest.approx(expected / 1e9, rel=1e-9)
    assert model.training is False


def compare_model() -> ReferenceUNet:
    torch.manual_seed(0)
    model = ReferenceUNet(UNetConfig(width=4, fusion="compare"))
    for module in model.modules():  # random BN statistics, so every input difference shows
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


def test_compare_fusion_ignores_the_order_of_the_references() -> None:
    model, x = compare_model(), torch.rand(2, 3, 64, 96)
    with torch.inference_mode():
        torch.testing.assert_close(model.logits(x), model.logits(x[:, [0, 2, 1]]))


def test_compare_fusion_ignores_the_other_reference_when_one_matches_the_target() -> None:
    """min |t - r| over the references: a reference equal to the target makes the other one irrelevant,
    so an anomaly in that other reference alone cannot raise the heatmap."""
    model, x = compare_model(), torch.rand(1, 3, 64, 64)
    x[:, 1] = x[:, 0]
    other = x.clone()
    other[:, 2, 10:40, 20:50] += 0.5  # a large bright anomaly in ref2 only
    with torch.inference_mode():
        torch.testing.assert_close(model.logits(x), model.logits(other))
        stacked = ReferenceUNet(UNetConfig(width=4)).eval()
        # the stacked network has no such guarantee
        assert not torch.allclose(stacked.logits(x), stacked.logits(other))


def test_compare_fusion_shapes_and_config() -> None:
    model = ReferenceUNet(UNetConfig(width=4, fusion="compare"))
    logits = model(torch.rand(2, 3, 64, 32))
    assert logits.shape == (2, 2, 64, 32)
    logits.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    config = UNetConfig(width=4, fusion="compare")
    assert UNetConfig.from_dict(config.to_dict()) == config
    with pytest.raises(InvalidArgumentError, match="fusion"):
        UNetConfig(fusion="add")
    with pytest.raises(InvalidArgumentError, match="reference"):
        UNetConfig(in_channels=1, fusion="compare")
