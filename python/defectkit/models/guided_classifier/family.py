"""guided_classifier as the generic layers see it: one :class:`~defectkit.models.family.Family`.

Image + mask + label data (images/, masks/, *_labels.txt), a DINOv2/DINOv3
ViT whose segmentation guides its pooling, classification + segmentation
losses in two optional stages, evaluation by classification and mask
metrics, and one export graph that takes the camera's image as it is.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from defectkit import families
from defectkit.models.family import DemoOptions, ExportPlan, Family, Predictor, TrainingData
from defectkit.models.guided_classifier.config import GuidedClassifierConfig
from defectkit.models.guided_classifier.loss import guided_loss
from defectkit.models.guided_classifier.model import GuidedClassifier

if TYPE_CHECKING:
    from defectkit.training.config import TrainConfig

__all__ = ["FAMILY", "GuidedClassifierFamily"]


def _validation_tensors(records: Sequence[Any], size: int) -> dict[str, torch.Tensor]:
    """The validation images resized as training resizes them, with labels, masks and has_mask."""
    from defectkit.models.guided_classifier.data.dataset import ImageDataset

    dataset = ImageDataset(records, size, augment="none", seed=0, cache_size=0)
    items = [dataset[i] for i in range(len(dataset))]
    return {
        name: torch.stack([item[k] for item in items])
        for k, name in enumerate(("image", "mask", "has_mask", "label"))
    }


class GuidedClassifierFamily(Family):
    name = "guided_classifier"
    config_class = GuidedClassifierConfig
    selection_metric = "score"  # image AUROC plus mean Dice: either alone saturates on a small split

    def build(self, config: GuidedClassifierConfig) -> GuidedClassifier:
        return GuidedClassifier(config)

    def training_data(self, train: TrainConfig, rank: int) -> TrainingData:
        from defectkit.models.guided_classifier.backbone import backbone_config
        from defectkit.models.guided_classifier.data.dataset import ImageDataset
        from defectkit.models.guided_classifier.data.layout import read_split

        config: GuidedClassifierConfig = train.family_config
        if config.pretrained and not config.backbone_config:
            config.backbone_config = backbone_config(config)  # recorded in config.json: rebuilds without it
        data = pathlib.Path(train.data)
        records = read_split(data, "train")
        dataset = ImageDataset(
            records,
            config.image_size,
            augment=config.augment,
            seed=train.seed,
            balanced=config.balanced,
            use_masks=config.use_masks,
            cache_size=config.cache_size,
        )
        validation = None
        description = f"{len(records)} images ({dataset.class_counts()}), {len(dataset)} items an epoch"
        if rank == 0:
            val = read_split(data, "val")
            validation = _validation_tensors(val, config.image_size)
            description += f"; validating on {len(val)} images from val_labels.txt"
        return TrainingData(dataset, validation, description, state={"image_size": config.image_size})

    def parameter_groups(self, model: GuidedClassifier, train: TrainConfig) -> list[dict[str, Any]]:
        config: GuidedClassifierConfig = train.family_config
        backbone = list(model.backbone.parameters())
        ids = {id(p) for p in backbone}
        heads = [p for p in model.parameters() if id(p) not in ids]
        return [{"params": heads}, {"params": backbone, "lr": config.backbone_lr or train.lr}]

    def epoch_start(self, model: GuidedClassifier, optimizer: Any, epoch: int, train: TrainConfig) -> None:
        """Stage 1 (epochs before ``freeze_epochs``): the backbone frozen; stage 2: it trains."""
        frozen = epoch < train.family_config.freeze_epochs
        for parameter in model.backbone.parameters():
            parameter.requires_grad_(not frozen)

    def training_step(self, train: TrainConfig):
        config: GuidedClassifierConfig = train.family_config

        def step(model: torch.nn.Module, batch: tuple, progress: float, autocast: Any):
            image, mask, has_mask, label = batch
            with autocast:
                out = model(image)
            inner = model.module if hasattr(model, "module") else model  # DDP wraps it
            return guided_loss(out, label, mask, has_mask, config, progress, inner.log_vars)

        return step

    def validate(self, model: GuidedClassifier, validation: dict, *, full: bool) -> dict[str, Any]:
        from defectkit.evaluation.metrics import auroc

        was_training = model.training
        model.eval()
        try:
            device = next(model.parameters()).device
            with torch.no_grad():
                outs = [model(batch.to(device)) for batch in validation["image"].split(32)]
        finally:
            model.train(was_training)
        probability = torch.cat([o.probabilities[:, -1] for o in outs]).float().cpu().numpy()
        masks = torch.cat([o.mask for o in outs]).float().cpu()
        labels = validation["label"].numpy().astype(int)
        known = (validation["has_mask"] > 0.5) & (validation["label"] > 0.5)
        guess, truth = masks[known] >= 0.5, validation["mask"][known] > 0.5
        inter = (guess & truth).flatten(1).sum(1).float()
        total = guess.flatten(1).sum(1).float() + truth.flatten(1).sum(1).float()
        dice = (
            float(torch.where(total > 0, 2 * inter / total.clamp(min=1), torch.ones_like(total)).mean())
            if len(total)
            else 0.0
        )
        image_auroc = auroc(labels, probability)
        return {
            "image_auroc": image_auroc,
            "mean_dice": dice,
            "score": image_auroc + dice,
            "images": len(labels),
        }

    def evaluate(
        self,
        predictor: Predictor,
        data: pathlib.Path,
        *,
        out: pathlib.Path | None = None,
        progress: bool = True,
    ) -> dict[str, Any]:
        from defectkit.models.guided_classifier.evaluation import evaluate_records, test_records

        return evaluate_records(predictor, test_records(data), out=out, progress=progress)

    def infer(
        self, predictor: Predictor, inputs: Sequence[pathlib.Path], out: pathlib.Path, *, progress: bool
    ) -> list[dict]:
        from defectkit.models.guided_classifier.data.layout import ImageRecord
        from defectkit.models.guided_classifier.evaluation import predict, save_panel

        out.mkdir(parents=True, exist_ok=True)
        records = [ImageRecord(path, -1, None, (path, 0)) for path in inputs]
        rows = []
        for prediction in predict(predictor, records, progress=progress):
            panel = out / f"{prediction.record.path.stem}.png"
            save_panel(panel, prediction, None, 0.5)
            rows.append(
                {"path": str(prediction.record.path), "score": prediction.probability, "panel": str(panel)}
            )
        (out / "scores.csv").write_text(
            "path,score,panel\n" + "".join(f"{r['path']},{r['score']:.6f},{r['panel']}\n" for r in rows)
        )
        return rows

    def demo(self, out: pathlib.Path, options: DemoOptions) -> dict[str, Any]:
        from defectkit.models.guided_classifier.demo import run_demo

        return run_demo(out, options)

    def export_plan(
        self, model: GuidedClassifier, info: dict, train: TrainConfig, options: Any
    ) -> ExportPlan:
        from defectkit.models.guided_classifier.export_plan import ImageExportPlan

        return ImageExportPlan(model, info, train, options)


FAMILY = families.register(GuidedClassifierFamily())
