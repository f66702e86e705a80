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


def test_state_dict_keys_follow_draem_names() -> None:
    keys = ReferenceUNet(UNetConfig(width=4)).state_dict().keys()
    for key in (
        "encoder_segment.block1.0.weight",
        "encoder_segment.block6.4.running_var",
        "decoder_segment.up_b.1.weight",
        "decoder_segment.db4.3.weight",
        "decoder_segment.fin_out.0.bias",
    ):
        assert key in keys


def test_default_config_is_the_seed_width() -> None:
    config = UNetConfig()
    assert (config.in_channels, config.num_classes, config.width) == (3, 2, 64)
    assert UNetConfig.from_dict(config.to_dict()) == config
    with pytest.raises(InvalidArgumentError):
        UNetConfig.from_dict({"width": 8, "depth": 3})
    with pytest.raises(InvalidArgumentError):
        UNetConfig(width=0)


def test_width_64_output_shape() -> None:
    model = ReferenceUNet().eval()
    with torch.inference_mode():
        logits = model(torch.rand(1, 3, 32, 64))
        probability = model.defect_probability(torch.rand(1, 3, 32, 64))
    assert logits.shape == (1, 2, 32, 64)
    assert probability.shape == (1, 1, 32, 64)


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
    torch.testing.assert_close(p, torch.softmax(model(x), dim=1)[:, 1:2])


def test_count_flops_equals_conv_macs_times_two() -> None:
    model = ReferenceUNet(UNetConfig(width=4))
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
    model.eval()
    with torch.inference_mode():
        model(torch.zeros(1, 3, height, width))
    for hook in hooks:
        hook.remove()
    assert count_flops(model, height, width) == pytest.approx(expected / 1e9, rel=1e-9)
    assert model.training is False
