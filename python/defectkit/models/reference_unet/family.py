"""reference_unet as the generic layers see it: one :class:`~defectkit.models.family.Family`.

Strip inspection by comparison: (target, ref1, ref2) strips in the MVTec layout,
patches with defects synthesised on the fly, the DRAEM-style UNet and its
focal loss, validation by pixel AUROC, evaluation by sliding window (or the
C++ strip Inspector for artifacts), and the tiled / full-frame / patch graphs.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from defectkit import families
from defectkit.models.family import DemoOptions, ExportPlan, Family, Predictor, TrainingData
from defectkit.models.reference_unet.config import ReferenceUNetConfig
from defectkit.models.reference_unet.loss import FocalLoss, gamma_at
from defectkit.models.reference_unet.model import ReferenceUNet

if TYPE_CHECKING:
    from defectkit.training.config import TrainConfig

__all__ = ["FAMILY", "ReferenceUNetFamily"]

PREVIEW_STRIPS = 16  # valid/ strips validated on before the epochs that may become best.pt


class ReferenceUNetFamily(Family):
    name = "reference_unet"
    config_class = ReferenceUNetConfig
    # Pixel AUROC: image AUROC on a validation split of tens of strips moves by a misordered pair.
    selection_metric = "pixel_auroc"

    def build(self, config: ReferenceUNetConfig) -> ReferenceUNet:
        return ReferenceUNet(config.network())

    def training_data(self, train: TrainConfig, rank: int) -> TrainingData:
        from defectkit.data.layout import discover_dataset
        from defectkit.models.reference_unet.data.dataset import StripPatchDataset, read_strip_shape
        from defectkit.models.reference_unet.data.tiling import patch_size_for
        from defectkit.models.reference_unet.validation import build_validation, held_out_paths

        config: ReferenceUNetConfig = train.family_config
        layout = discover_dataset(pathlib.Path(train.data))
        train_paths, held_out = held_out_paths(layout.train_good, 0 if layout.valid else config.holdout)
        patch = config.patch_size or patch_size_for(*read_strip_shape(train_paths[0]))
        dataset = StripPatchDataset(
            train_paths,
            patch_size=patch,
            synthesis=config.synthesis_settings(),
            cache_size=config.cache_size,
            seed=train.seed,
            augment=config.augment,
            distractor_masks=config.distractor_weight > 0,
        )
        dataset.validate()
        validation = None
        description = f"{len(dataset)} patches of {patch} px from {len(train_paths)} strips"
        if rank == 0:
            validation = build_validation(layout, held_out, patch, config.synthesis_settings(), train.seed)
            description += f"; validating on {validation.description}"
        # channels-last lets oneDNN pick faster convolutions (experiments/reference_unet/training_step.py:
        # 1.3x per step at width 16 on the development CPU); the state_dict values do not change.
        return TrainingData(
            dataset, validation, description, state={"patch_size": patch}, memory_format=torch.channels_last
        )

    def parameter_groups(self, model: torch.nn.Module, train: TrainConfig) -> list[dict[str, Any]]:
        return [{"params": list(model.parameters())}]  # one group at train.lr (DRAEM's Adam)

    def epoch_start(self, model: torch.nn.Module, optimizer: Any, epoch: int, train: TrainConfig) -> None:
        """Every epoch trains the whole network alike: nothing changes between epochs."""

    def training_step(self, train: TrainConfig):
        config: ReferenceUNetConfig = train.family_config
        loss_fn = FocalLoss(alpha=config.focal_alpha)

        def step(model: torch.nn.Module, batch: tuple, progress: float, autocast: Any):
            x, mask, *rest = batch
            distractors = rest[0] if rest else None  # items carry it when distractor_weight > 0
            gamma = gamma_at(
                progress, start=config.gamma_start, end=config.gamma_end, kind=config.gamma_schedule
            )
            x = x.contiguous(memory_format=torch.channels_last)
            with autocast:
                logits = model(x)
            loss = loss_fn(logits.float(), mask, gamma, distractors, config.distractor_weight)
            return loss, {"gamma": gamma}

        return step

    def validate(self, model: torch.nn.Module, validation: Any, *, full: bool) -> dict[str, Any]:
        from defectkit.models.reference_unet.validation import run_validation

        checked = validation if full else validation.preview(PREVIEW_STRIPS)
        metrics = run_validation(model, checked)
        return {
            "image_auroc": metrics["image_auroc"],
            "pixel_auroc": metrics["pixel_auroc"],
            "thresholds": metrics["thresholds"],
            "strips": checked.size,
        }

    def _inspector(self, predictor: Predictor) -> tuple[Any, int]:
        """The torch network or, for an artifact, the native strip Inspector; with the patch size."""
        if predictor.artifact is None:
            return predictor.model, int(predictor.info["patch_size"])
        import defectkit

        inspector = defectkit.Inspector(predictor.artifact, threads=predictor.threads)
        return inspector, int(inspector.metadata["tiling"]["patch"])

    def evaluate(
        self,
        predictor: Predictor,
        data: pathlib.Path,
        *,
        out: pathlib.Path | None = None,
        progress: bool = True,
    ) -> dict[str, Any]:
        from defectkit.models.reference_unet.evaluation import evaluate_run

        model, patch = self._inspector(predictor)
        return evaluate_run(model, data, patch, progress=progress)

    def infer(
        self, predictor: Predictor, inputs: Sequence[pathlib.Path], out: pathlib.Path, *, progress: bool
    ) -> list[dict]:
        from defectkit.data.layout import Sample
        from defectkit.models.reference_unet.evaluation import inspect_samples
        from defectkit.models.reference_unet.panels import save_panel, write_scores_csv

        model, patch = self._inspector(predictor)
        samples = [Sample(path=p, category=p.parent.name, mask_path=None) for p in inputs]
        out.mkdir(parents=True, exist_ok=True)
        rows = []
        for sample, strip, heatmap, score in inspect_samples(model, samples, patch, progress=progress):
            name = f"{sample.path.parent.name}_{sample.path.stem}"
            title = f"{sample.path}  score {score:.3f}"
            panel = save_panel(out / f"{name}.png", strip[:3], heatmap, title=title)
            rows.append({"path": str(sample.path), "score": score, "panel": str(panel)})
        write_scores_csv(out / "scores.csv", rows)
        return rows

    def demo(self, out: pathlib.Path, options: DemoOptions) -> dict[str, Any]:
        from defectkit.models.reference_unet.demo import run_demo

        return run_demo(out, options)

    def export_plan(self, model: torch.nn.Module, info: dict, train: TrainConfig, options: Any) -> ExportPlan:
        from defectkit.models.reference_unet.export.plan import StripExportPlan

        return StripExportPlan(model, info, train, options)


FAMILY = families.register(ReferenceUNetFamily())
