"""Does the demo's guided classifier learn, and which part holds it back? A short probe per variant.

Trains each variant for a few epochs on one demo dataset (the demo generator's, or an easier one
with larger, stronger defects) with the demo's heads and losses, and prints per epoch the
training losses and on the validation split: image AUROC of the classifier, image AUROC of the
mask's maximum, and mean Dice at 0.5. Variants:

- ``vit``: a random DINOv2 of the "demo" size with the published models' linear patchify.
- ``vit-conv-stem``: the same with the convolutional stem (``stem="conv"``), the demo's network.
- ``vit-no-prior``: the same with the mask head's bias at 0 (sigmoid 0.5) instead of the defect
  prior (Lin et al. 2017): what the bias initialisation is worth.
- ``cnn``: the backbone swapped for a 4-layer CNN (stride 8) producing the same token grid, everything else
  the same: a control showing that the data, heads and losses can learn in this budget.

    .venv/bin/python experiments/guided_classifier/learning_probe.py --out bench_out/guided_probe \\
        --variants vit vit-conv-stem vit-no-prior cnn --epochs 20

``--first-generator`` writes the data with the generator's first defect settings (4-20 px,
15-60 grey levels, 1-2 px lines) instead of today's.

One seed, one dataset: it tells a network that learns from one that does not, not a ranking.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
import types

import numpy as np
import torch


class CnnTokens(torch.nn.Module):
    """(N, 3, S, S) -> tokens (N, 1 + (S/8)^2, D) like the demo ViT's: a CLS (the mean) and a grid."""

    def __init__(self, hidden: int) -> None:
        super().__init__()

        def block(inputs: int, outputs: int, stride: int) -> torch.nn.Sequential:
            return torch.nn.Sequential(
                torch.nn.Conv2d(inputs, outputs, 3, stride, 1),
                torch.nn.BatchNorm2d(outputs),
                torch.nn.ReLU(),
            )

        self.net = torch.nn.Sequential(
            block(3, 32, 2), block(32, 64, 2), block(64, hidden, 2), block(hidden, hidden, 1)
        )

    def forward(self, pixel_values: torch.Tensor) -> types.SimpleNamespace:
        tokens = self.net(pixel_values).flatten(2).transpose(1, 2)
        return types.SimpleNamespace(last_hidden_state=torch.cat([tokens.mean(1, keepdim=True), tokens], 1))


def probe(data: pathlib.Path, variant: str, epochs: int, lr: float, seed: int) -> list[dict]:
    from defectkit.evaluation.metrics import auroc
    from defectkit.models.guided_classifier.config import GuidedClassifierConfig
    from defectkit.models.guided_classifier.data.dataset import ImageDataset
    from defectkit.models.guided_classifier.data.layout import read_split
    from defectkit.models.guided_classifier.loss import guided_loss
    from defectkit.models.guided_classifier.model import GuidedClassifier

    torch.manual_seed(seed)
    config = GuidedClassifierConfig(stem="conv" if variant == "vit-conv-stem" else "patch")  # 128, patch 8
    model = GuidedClassifier(config)
    if variant == "vit-no-prior":
        torch.nn.init.zeros_(model.decoder.out.bias)
    if variant == "cnn":
        model.backbone = CnnTokens(model.backbone.config.hidden_size)
    train_set = ImageDataset(read_split(data, "train"), config.image_size, augment=config.augment, seed=seed)
    val_set = ImageDataset(read_split(data, "val"), config.image_size, augment="none")
    val = [val_set[i] for i in range(len(val_set))]
    images, masks = torch.stack([v[0] for v in val]), torch.stack([v[1] for v in val])
    labels = np.array([int(v[3]) for v in val])
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    loader = torch.utils.data.DataLoader(train_set, batch_size=16, shuffle=True)
    rows = []
    for epoch in range(epochs):
        start = time.perf_counter()
        train_set.set_epoch(epoch)
        model.train()
        losses = []
        for image, mask, has_mask, label in loader:
            out = model(image)
            loss, logs = guided_loss(out, label, mask, has_mask, config, epoch / epochs, model.log_vars)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append((logs["loss_classification"], logs["loss_segmentation"]))
        model.eval()
        with torch.no_grad():
            outs = [model(batch) for batch in images.split(32)]
        probability = torch.cat([o.probabilities[:, 1] for o in outs]).numpy()
        predicted = torch.cat([o.mask for o in outs]) > 0.5
        truth = masks > 0.5
        dice = [
            float(2 * (predicted[i] & truth[i]).sum() / (predicted[i].sum() + truth[i].sum()).clamp(min=1))
            for i in np.flatnonzero(labels == 1)
        ]
        classification, segmentation = np.mean(losses, axis=0)
        rows.append(
            {
                "epoch": epoch,
                "loss_classification": float(classification),
                "loss_segmentation": float(segmentation),
                "val_image_auroc": float(auroc(labels, probability)),
                "val_mask_max_auroc": float(
                    auroc(labels, torch.cat([o.mask for o in outs]).flatten(1).amax(1).numpy())
                ),
                "val_mean_dice": float(np.mean(dice)),
                "seconds": time.perf_counter() - start,
            }
        )
        print(variant, json.dumps({k: round(v, 3) for k, v in rows[-1].items()}), flush=True)
    return rows


def table(results: dict[str, list[dict]]) -> str:
    """Markdown: per variant the best and last validation figures and the median epoch time."""
    lines = [
        "| variant | val image AUROC, best / last | val mask-max AUROC, best "
        "| val Dice, best / last | s/epoch |",
        "| --- | --- | --- | --- | --- |",
    ]
    for variant, rows in results.items():
        lines.append(
            f"| {variant} "
            f"| {max(r['val_image_auroc'] for r in rows):.3f} / {rows[-1]['val_image_auroc']:.3f} "
            f"| {max(r['val_mask_max_auroc'] for r in rows):.3f} "
            f"| {max(r['val_mean_dice'] for r in rows):.3f} / {rows[-1]['val_mean_dice']:.3f} "
            f"| {np.median([r['seconds'] for r in rows]):.1f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("bench_out/guided_probe"))
    parser.add_argument("--variants", nargs="+", default=["vit", "vit-conv-stem", "vit-no-prior", "cnn"])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--first-generator", action="store_true", help="the first, fainter defects")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.first_generator:
        from defectkit.models.guided_classifier.data import demo_surfaces

        demo_surfaces.DEFECT_SIZE, demo_surfaces.DEFECT_CONTRAST = (4, 20), (15.0, 60.0)
        demo_surfaces.LINE_WIDTH = (1, 3)
    from defectkit.models.guided_classifier.data.demo import make_demo_images

    data = args.out / "data"
    if not (data / "dataset.json").is_file():
        make_demo_images(data, seed=0, overwrite=True, progress=False)
    results = {}
    for variant in args.variants:
        results[variant] = probe(data, variant, args.epochs, args.lr, args.seed)
        (args.out / "probe.json").write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
