"""The guided classifier's network, backbones and losses."""

from __future__ import annotations

import pytest
import torch

from defectkit.errors import FileMissingError
from defectkit.models.guided_classifier.backbone import save_backbone
from defectkit.models.guided_classifier.config import GuidedClassifierConfig
from defectkit.models.guided_classifier.loss import guided_loss, loss_weights, segmentation_loss
from defectkit.models.guided_classifier.model import GuidedClassifier

TINY = dict(image_size=64, patch_size=8, decoder_channels=16, classifier_hidden=(32, 16))


def tiny(**overrides) -> GuidedClassifier:
    torch.manual_seed(0)
    return GuidedClassifier(GuidedClassifierConfig(**{**TINY, **overrides}))


@pytest.mark.parametrize("stem", ["patch", "conv"])
@pytest.mark.parametrize("backbone", ["dinov2", "dinov3"])
def test_eval_forward_is_the_export_contract(backbone, stem) -> None:
    model = tiny(backbone=backbone, register_tokens=4 if backbone == "dinov3" else 0, stem=stem).eval()
    with torch.no_grad():
        out = model(torch.rand(3, 3, 64, 64))
    assert out._fields == ("probabilities", "mask")
    assert out.probabilities.shape == (3, 2) and torch.allclose(out.probabilities.sum(1), torch.ones(3))
    assert out.mask.shape == (3, 1, 64, 64) and 0 <= float(out.mask.min()) <= float(out.mask.max()) <= 1


def test_guided_pooling_follows_the_mask_and_mean_pooling_does_not() -> None:
    guided, mean = tiny(), tiny(pooling="mean")
    with torch.no_grad():
        for model in (guided, mean):  # a decoder that marks one patch (row 2, column 5) as defect
            model.decoder.out.weight.zero_()
            model.decoder.out.bias.fill_(-8.0)
    logits = torch.full((1, 1, 32, 32), -8.0)
    logits[..., 8:12, 20:24] = 8.0

    def marked(*_) -> torch.Tensor:
        return logits

    guided.decoder.forward, mean.decoder.forward = marked, marked
    x = torch.rand(1, 3, 64, 64)
    attention = guided.heads(x).attention.reshape(8, 8)
    assert int(attention.argmax()) == 2 * 8 + 5 and float(attention.max()) > 0.9
    uniform = mean.heads(x).attention
    assert torch.allclose(uniform, torch.full_like(uniform, 1 / 64))


@pytest.mark.parametrize("detach", [True, False])
def test_detached_guidance_keeps_the_classification_loss_out_of_the_mask_head(detach) -> None:
    model = tiny(detach_guidance=detach).train()
    out = model.heads(torch.rand(2, 3, 64, 64))
    out.class_logits[:, 1].sum().backward()
    gradient = model.decoder.out.weight.grad
    assert (gradient is None or float(gradient.abs().max()) == 0.0) == detach
    assert float(model.classifier[0].weight.grad.abs().max()) > 0  # the classifier still learns


def test_a_config_recorded_before_detach_guidance_resumes_with_the_gradient_attached() -> None:
    assert GuidedClassifierConfig.from_dict({"pooling": "guided"}).detach_guidance is False
    assert GuidedClassifierConfig.from_dict(GuidedClassifierConfig().to_dict()).detach_guidance is True


def test_the_conv_stem_replaces_the_patchify_with_stride_2_steps_onto_the_same_grid() -> None:
    patchify, stem = tiny().backbone, tiny(stem="conv").backbone
    pixels = torch.rand(2, 3, 64, 64)
    assert isinstance(patchify.embeddings.patch_embeddings.projection, torch.nn.Conv2d)
    convs = [
        m for m in stem.embeddings.patch_embeddings.projection.modules() if isinstance(m, torch.nn.Conv2d)
    ]
    assert [c.stride for c in convs] == [(2, 2)] * 3 + [(1, 1)]  # patch 8: three halvings, then 1x1
    with torch.no_grad():
        tokens = [m(pixel_values=pixels).last_hidden_state for m in (patchify, stem)]
    assert tokens[0].shape == tokens[1].shape == (2, 1 + 8 * 8, 96)
    assert not torch.allclose(tokens[0], tokens[1])


def test_a_pretrained_backbone_loads_from_a_local_folder(tmp_path) -> None:
    source = tiny()
    save_backbone(source.backbone, tmp_path / "backbone")
    loaded = tiny(pretrained=str(tmp_path / "backbone"))
    for (name, a), (_, b) in zip(
        source.backbone.state_dict().items(), loaded.backbone.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_a_dinov2_checkpoint_of_another_size_gets_its_position_table_resized_once(tmp_path) -> None:
    save_backbone(tiny(image_size=128).backbone, tmp_path / "backbone")  # a 16 x 16 patch grid
    model = tiny(pretrained=str(tmp_path / "backbone"))  # runs at 64: 8 x 8
    assert model.backbone.embeddings.position_embeddings.shape[1] == 1 + 64
    model.eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 64, 64)).mask.shape == (1, 1, 64, 64)


def test_a_missing_pretrained_folder_is_named(tmp_path) -> None:
    with pytest.raises(FileMissingError, match=f"{tmp_path / 'nothing'}.*config.json"):
        tiny(pretrained=str(tmp_path / "nothing"))


def test_config_problems_are_reported() -> None:
    problems = GuidedClassifierConfig(
        backbone="resnet", image_size=100, patch_size=8, pooling="max"
    ).problems()
    assert len(problems) == 3 and any("multiple of patch_size" in p for p in problems)
    assert GuidedClassifierConfig().problems() == []
    assert GuidedClassifierConfig(stem="conv").problems() == []
    stem_problems = GuidedClassifierConfig(
        stem="conv", patch_size=14, image_size=224, pretrained="/x"
    ).problems()
    assert len(stem_problems) == 2 and any("power-of-two" in p for p in stem_problems)


def test_mixed_supervision_skips_the_segmentation_loss_of_images_without_a_mask() -> None:
    logits = torch.randn(4, 1, 16, 16, requires_grad=True)
    mask = (torch.rand(4, 1, 64, 64) > 0.9).float()
    none_known = segmentation_loss(logits, mask, torch.zeros(4))
    assert float(none_known) == 0.0
    none_known.backward()  # still part of the graph (DDP needs every parameter used)
    two_known = segmentation_loss(logits, mask, torch.tensor([1.0, 0.0, 1.0, 0.0]))
    only_them = segmentation_loss(logits[[0, 2]], mask[[0, 2]], torch.ones(2))
    assert float(two_known) == pytest.approx(float(only_them))


def test_loss_weightings() -> None:
    dynamic = GuidedClassifierConfig(loss_weighting="dynamic", dynamic_switch=0.4)
    assert loss_weights(dynamic, 0.1) == (0.5, 1.0) and loss_weights(dynamic, 0.5) == (1.0, 0.3)
    model = tiny(loss_weighting="uncertainty")
    out = model.train()(torch.rand(2, 3, 64, 64))
    labels, mask, has = torch.tensor([0.0, 1.0]), torch.zeros(2, 1, 64, 64), torch.ones(2)
    total, logs = guided_loss(out, labels, mask, has, model.config, 0.5, model.log_vars)
    total.backward()
    assert model.log_vars.grad is not None and logs["alpha"] == pytest.approx(1.0)  # exp(-0) at the start
    without = GuidedClassifierConfig(**TINY, use_masks=False)
    _, logs = guided_loss(out, labels, mask, has, without, 0.5, None)
    assert logs["loss_segmentation"] == 0.0
