"""Evaluating a guided classifier, trained or exported: image-level classification metrics, mask
IoU and Dice, plots, per-image panels, JSON and a summary CSV.

A trained model runs in PyTorch at its input size (the image resized as the
exported graph resizes it); an artifact runs in the C++ runtime's image head
(``defectkit.ImageClassifier``), what the line runs.
"""

from __future__ import annotations

import csv
import math
import pathlib
from collections.abc import Iterator, Sequence
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score, confusion_matrix, precision_recall_curve, roc_curve
from tqdm import tqdm

from defectkit.evaluation.metrics import auroc, f1_optimal_threshold
from defectkit.models.family import Predictor
from defectkit.models.guided_classifier.data.images import read_image, read_mask
from defectkit.models.guided_classifier.data.layout import ImageRecord, read_split

__all__ = ["Prediction", "classification_metrics", "evaluate_records", "mask_metrics", "predict"]


class Prediction:
    """One image's result: the defect probability and the mask at the image's own size."""

    def __init__(self, record: ImageRecord, image: np.ndarray, probability: float, mask: np.ndarray) -> None:
        self.record, self.image, self.probability, self.mask = record, image, probability, mask


def torch_predict(model: torch.nn.Module, image: np.ndarray) -> tuple[float, np.ndarray]:
    """(H, W, 3) uint8 -> (defect probability, (H, W) mask), resized as the exported graph does."""
    size = model.config.image_size
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0  # (1, 3, H, W)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    with torch.no_grad():
        out = model(x)
        mask = F.interpolate(out.mask, size=image.shape[:2], mode="bilinear", align_corners=False)
    return float(out.probabilities[0, model.config.defect_class]), mask[0, 0].numpy()


def predict(
    predictor: Predictor, records: Sequence[ImageRecord], *, progress: bool = True
) -> Iterator[Prediction]:
    """Runs the model or the artifact on every record, in order."""
    if predictor.artifact is not None:
        import defectkit

        classifier = defectkit.ImageClassifier(predictor.artifact, threads=predictor.threads)

        def run(image: np.ndarray) -> tuple[float, np.ndarray]:
            result = classifier.classify(image)
            return float(result.defect_probability), result.mask
    else:
        predictor.model.eval()

        def run(image: np.ndarray) -> tuple[float, np.ndarray]:
            return torch_predict(predictor.model, image)

    for record in tqdm(records, desc="classifying", unit="image", disable=not progress):
        image = read_image(record.path)
        probability, mask = run(image)
        yield Prediction(record, image, probability, mask)


def classification_metrics(labels: Sequence[int], scores: Sequence[float], threshold: float | None) -> dict:
    """Accuracy, precision, recall, F1 at ``threshold`` (None: the F1-optimal one), AUROC and AP."""
    labels_arr, scores_arr = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    best, best_f1 = f1_optimal_threshold(labels_arr, scores_arr)
    used = best if threshold is None else threshold
    predicted = scores_arr >= used
    tp = int((predicted & (labels_arr == 1)).sum())
    fp = int((predicted & (labels_arr == 0)).sum())
    fn = int((~predicted & (labels_arr == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else math.nan
    recall = tp / (tp + fn) if tp + fn else math.nan
    return {
        "image_auroc": auroc(labels_arr, scores_arr),
        "average_precision": float(average_precision_score(labels_arr, scores_arr)),
        "threshold": float(used),
        "accuracy": float((predicted == (labels_arr == 1)).mean()),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else math.nan,
        "f1_optimal_threshold": float(best),
        "f1_optimal": float(best_f1),
        "confusion_matrix": confusion_matrix(labels_arr, predicted.astype(int), labels=[0, 1]).tolist(),
    }


def mask_metrics(predictions: Sequence[Prediction], threshold: float = 0.5) -> dict:
    """IoU and Dice of the masks at ``threshold``, per defect image with a mask (their means)."""
    ious, dices = [], []
    for p in predictions:
        if p.record.label != 1 or p.record.mask_path is None:
            continue
        truth = read_mask(p.record.mask_path, p.mask.shape)
        guess = p.mask >= threshold
        inter, union = float((truth & guess).sum()), float((truth | guess).sum())
        total = float(truth.sum() + guess.sum())
        ious.append(inter / union if union else 1.0)
        dices.append(2 * inter / total if total else 1.0)
    return {
        "mean_iou": float(np.mean(ious)) if ious else math.nan,
        "mean_dice": float(np.mean(dices)) if dices else math.nan,
        "masked_defect_images": len(dices),
    }


def _plots(labels: Sequence[int], scores: Sequence[float], metrics: dict, out: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    fpr, tpr, _ = roc_curve(labels, scores)
    axes[0].plot(fpr, tpr)
    axes[0].set(
        title=f"ROC (AUROC {metrics['image_auroc']:.3f})",
        xlabel="false positive rate",
        ylabel="true positive rate",
    )
    precision, recall, _ = precision_recall_curve(labels, scores)
    axes[1].plot(recall, precision)
    axes[1].set(title=f"PR (AP {metrics['average_precision']:.3f})", xlabel="recall", ylabel="precision")
    matrix = np.array(metrics["confusion_matrix"])
    axes[2].imshow(matrix, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        axes[2].text(j, i, str(value), ha="center", va="center")
    axes[2].set(
        title=f"confusion at {metrics['threshold']:.3f}",
        xticks=[0, 1],
        yticks=[0, 1],
        xticklabels=["normal", "defect"],
        yticklabels=["normal", "defect"],
        xlabel="predicted",
        ylabel="true",
    )
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=110)
    plt.close(fig)


def save_panel(
    path: pathlib.Path, prediction: Prediction, attention: np.ndarray | None, threshold: float
) -> None:
    """Original, predicted mask, attention map (the pooling weights) and the class, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    views = [("image", prediction.image), ("predicted mask", prediction.mask)]
    if attention is not None:
        views.append(
            (
                "pooling attention",
                cv2.resize(attention, prediction.image.shape[1::-1], interpolation=cv2.INTER_NEAREST),
            )
        )
    fig, axes = plt.subplots(1, len(views), figsize=(3.2 * len(views), 3.4))
    for axis, (title, view) in zip(axes, views, strict=True):
        axis.imshow(view, cmap=None if view.ndim == 3 else "magma")
        axis.set(title=title, xticks=[], yticks=[])
    verdict = "DEFECT" if prediction.probability >= threshold else "normal"
    record = prediction.record
    fig.suptitle(f"{record.path.name}: {verdict} (p = {prediction.probability:.3f}, label {record.label})")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def evaluate_records(
    predictor: Predictor,
    records: Sequence[ImageRecord],
    *,
    threshold: float | None = None,
    out: pathlib.Path | None = None,
    panels: int = 8,
    progress: bool = True,
) -> dict[str, Any]:
    """Every metric on ``records``; with ``out``: curves.png, summary.csv and ``panels`` panels."""
    predictions = list(predict(predictor, records, progress=progress))
    labels = [p.record.label for p in predictions]
    scores = [p.probability for p in predictions]
    result = {
        **classification_metrics(labels, scores, threshold),
        **mask_metrics(predictions),
        "count": len(predictions),
    }
    result["scores"] = [
        {"path": str(p.record.path), "label": p.record.label, "score": p.probability} for p in predictions
    ]
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        _plots(labels, scores, result, out)
        with (out / "summary.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "label", "defect_probability", "predicted"])
            for p in predictions:
                writer.writerow(
                    [
                        p.record.path,
                        p.record.label,
                        f"{p.probability:.6f}",
                        int(p.probability >= result["threshold"]),
                    ]
                )
        shown = [p for p in predictions if p.record.label == 1][: panels // 2] + [
            p for p in predictions if p.record.label == 0
        ][: panels - panels // 2]
        for p in shown:
            attention = None
            if predictor.model is not None:
                x = torch.from_numpy(np.ascontiguousarray(p.image)).permute(2, 0, 1)[None].float() / 255.0
                size = predictor.model.config.image_size
                x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
                attention = predictor.model.attention_map(x)[0].numpy()
            save_panel(out / f"panel_{p.record.path.stem}.png", p, attention, result["threshold"])
    return result


def test_records(data: pathlib.Path) -> list[ImageRecord]:
    """The test split, or the validation split when the data has no test_labels.txt."""
    return read_split(data, "test") or read_split(data, "val")
