"""``train(config)``: the training run, resumable, single- or multi-process.

Every random choice derives from (seed, epoch, index): patches and their
synthetic defects from the dataset's per-item generator, the order from the
sampler's (seed + epoch) generator. A resumed run therefore continues with
exactly the batches an uninterrupted run would have seen.

The model trains on ``TrainConfig.device`` (the CPU by default); data loading,
synthesis and the checkpoints' tensors stay on the CPU.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pathlib
import time
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from defectkit._version import __version__
from defectkit.data.layout import discover_dataset
from defectkit.data.patches import patch_size_for
from defectkit.data.training_set import StripPatchDataset, make_validation_set, read_strip_shape
from defectkit.errors import FileMissingError
from defectkit.models.reference_unet import FocalLoss, ReferenceUNet, UNetConfig, gamma_at
from defectkit.synthesis import SynthesisConfig
from defectkit.training import distributed
from defectkit.training.averaging import WeightAverage
from defectkit.training.checkpoint import (
    FORMAT_VERSION,
    load_checkpoint,
    remove_stale_temporaries,
    save_atomically,
)
from defectkit.training.config import TrainConfig, resolve_device, resolve_precision
from defectkit.training.validation import ValidationSet, held_out_paths, run_validation

logger = logging.getLogger("defectkit")

PREVIEW_STRIPS = 16  # valid/ strips validated on before the epochs that may become best.pt


def synthesis_config(config: TrainConfig) -> SynthesisConfig:
    return SynthesisConfig(
        family=config.synthesis,
        n_defects=tuple(config.n_defects),
        p_defective=config.p_defective,
        p_reference_only=config.p_reference_only,
        misregistration_px=config.misregistration_px,
        p_mirror=config.p_mirror,
        mirror_sign=config.mirror_sign,
        broad_weights=tuple(config.broad_weights),
    )


def build_validation(config: TrainConfig, layout, held_out: list[pathlib.Path], patch: int) -> ValidationSet:
    if layout.valid:
        return ValidationSet(samples=layout.valid, patch_size=patch)
    # Held-out strips with synthetic defects; a different seed from training's.
    x, masks = make_validation_set(held_out, patch, synthesis_config(config), seed=config.seed + 7919)
    return ValidationSet(patches=x, masks=masks, patch_size=patch)


def on_cpu(value: Any) -> Any:
    """``value`` with every tensor in it (nested dicts, lists, tuples) moved to the CPU.

    Checkpoints hold CPU tensors whatever the training device, so a machine
    without that device loads them; CPU tensors are returned as they are.
    """
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {k: on_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(on_cpu(v) for v in value)
    return value


def checkpoint_payload(
    model,
    optimizer,
    scheduler,
    epoch: int,
    best: float,
    config: TrainConfig,
    model_config: UNetConfig,
    patch: int,
    metrics: dict,
    average: WeightAverage | None = None,
) -> dict[str, Any]:
    # "model" holds the weights to inspect with (the average when there is one); a resume
    # continues from the raw weights in "trained_model".
    extra = {}
    if average is not None:
        extra = {"trained_model": on_cpu(model.state_dict()), "average": average.state()}
    shown = model if average is None else average.model
    return {
        **extra,
        "format": "defectkit-checkpoint",
        "format_version": FORMAT_VERSION,
        "family": "reference_unet",
        "defectkit_version": __version__,
        "epoch": epoch,
        "best_pixel_auroc": best,
        "model_config": model_config.to_dict(),
        "patch_size": patch,
        "train_config": config.to_dict(),
        "model": on_cpu(shown.state_dict()),
        "optimizer": on_cpu(optimizer.state_dict()),
        "scheduler_last_epoch": scheduler.last_epoch,
        "metrics": {k: v for k, v in metrics.items() if isinstance(v, (int, float, str))},
    }


def append_metrics(path: pathlib.Path, row: dict) -> None:
    with path.open("a") as handle:
        handle.write(json.dumps(row) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def truncate_metrics(path: pathlib.Path, last_epoch: int) -> None:
    """Drops metric rows past the checkpoint (a run killed between the two writes)."""
    if not path.exists():
        return
    rows = [line for line in path.read_text().splitlines() if line.strip()]
    kept = [line for line in rows if json.loads(line)["epoch"] <= last_epoch]
    path.write_text("".join(line + "\n" for line in kept))


def repair_best(out: pathlib.Path, last: dict[str, Any]) -> None:
    """Rewrites best.pt when a kill fell between writing last.pt and best.pt.

    last.pt is always written first; if its epoch set the best score, best.pt
    must hold that same epoch.
    """
    if last["metrics"].get("val_pixel_auroc") != last["best_pixel_auroc"]:
        return
    best = out / "best.pt"
    if not best.exists() or load_checkpoint(best)["epoch"] != last["epoch"]:
        save_atomically(last, best)


def train(config: TrainConfig, *, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Trains a reference_unet on ``config.data`` into ``config.out``.

    Writes ``config.json``, ``metrics.jsonl`` (a row per epoch), ``last.pt``
    and ``best.pt`` (by validation pixel AUROC). With ``resume``, continues
    from ``last.pt`` exactly where it stopped.

    Returns:
        The last epoch's metrics row.
    """
    config.validate()
    device = resolve_device(config.device, local_rank=int(os.environ.get("LOCAL_RANK", "0")))
    world = distributed.init_world()
    if config.threads:
        torch.set_num_threads(config.threads)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    out = pathlib.Path(config.out)
    layout = discover_dataset(pathlib.Path(config.data))
    train_paths, held_out = held_out_paths(layout.train_good, 0 if layout.valid else config.holdout)
    height, width = read_strip_shape(train_paths[0])
    patch = config.patch_size or patch_size_for(height, width)

    dataset = StripPatchDataset(
        train_paths,
        patch_size=patch,
        synthesis=synthesis_config(config),
        cache_size=config.cache_size,
        seed=config.seed,
        augment=config.augment,
        distractor_masks=config.distractor_weight > 0,
    )
    dataset.validate()
    config = config.with_epochs_for(len(dataset))
    validation = build_validation(config, layout, held_out, patch) if world.is_main else None

    torch.manual_seed(config.seed)
    model_config = UNetConfig(width=config.width, fusion=config.fusion)
    model = ReferenceUNet(model_config).to(device)  # initialised on the CPU, then moved: same weights
    # channels-last lets oneDNN pick faster convolutions (benchmarks/training_step.py: 1.3x per step
    # at width 16 on the development CPU); the layout changes, state_dict values do not.
    model = model.to(memory_format=torch.channels_last)
    autocast_dtype = resolve_precision(config.precision, device)
    average = WeightAverage(model, config.ema_decay) if config.ema_decay > 0 else None
    autocast = torch.autocast(
        device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    milestones = sorted({max(1, round(f * config.epochs)) for f in config.lr_milestones})
    # best.pt candidates start here; before, best.pt holds the best so far (a run stopped early
    # still has one).
    first_candidate = config.first_best_candidate()
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=config.lr_gamma)
    start_epoch, best = 0, -math.inf
    if resume:
        if not (out / "last.pt").exists():
            msg = f"{out}: nothing to resume (no last.pt)"
            raise FileMissingError(msg)
        state = load_checkpoint(out / "last.pt")
        model.load_state_dict(state.get("trained_model", state["model"]))
        if average is not None:
            average.load(state["model"], state["average"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.last_epoch = state["scheduler_last_epoch"]
        start_epoch, best = state["epoch"] + 1, state["best_pixel_auroc"]
        if world.is_main:
            remove_stale_temporaries(out)
            repair_best(out, state)
            truncate_metrics(out / "metrics.jsonl", state["epoch"])
            logger.info("resuming %s after epoch %d", out, state["epoch"])
    elif world.is_main:
        out.mkdir(parents=True, exist_ok=True)
        config.save(out / "config.json")
        (out / "metrics.jsonl").unlink(missing_ok=True)

    if world.distributed:
        trained = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    else:
        trained = model
    sampler = DistributedSampler(
        dataset, num_replicas=world.size, rank=world.rank, shuffle=True, seed=config.seed
    )
    loss_fn = FocalLoss(alpha=config.focal_alpha)
    steps_per_epoch = math.ceil(len(sampler) / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    row: dict[str, Any] = {}
    if world.is_main and validation is not None:
        logger.info(
            "training on %d patches of %d px from %d strips on %s; validating on %s",
            len(dataset),
            patch,
            len(train_paths),
            device,
            validation.description,
        )

    for epoch in range(start_epoch, config.epochs):
        dataset.set_epoch(epoch)
        sampler.set_epoch(epoch)
        loader = DataLoader(
            dataset,
            batch_size=config.batch_size,
            sampler=sampler,
            num_workers=config.workers,
            pin_memory=device.type == "cuda",
        )
        trained.train()
        losses, wait_s, seen = [], 0.0, 0
        epoch_start = fetch_start = time.perf_counter()
        bar = tqdm(
            loader,
            desc=f"epoch {epoch + 1}/{config.epochs}",
            disable=not (progress and world.is_main),
            leave=False,
            unit="batch",
        )
        for step, batch in enumerate(bar):
            wait_s += time.perf_counter() - fetch_start
            x, mask, *rest = (t.to(device, non_blocking=True) for t in batch)
            distractors = rest[0] if rest else None  # items carry it when distractor_weight > 0
            gamma = gamma_at(
                (epoch * steps_per_epoch + step) / max(1, total_steps - 1),
                start=config.gamma_start,
                end=config.gamma_end,
                kind=config.gamma_schedule,
            )
            x = x.contiguous(memory_format=torch.channels_last)
            with autocast:
                logits = trained(x)
            loss = loss_fn(logits.float(), mask, gamma, distractors, config.distractor_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if average is not None:
                average.update(model)
            losses.append(loss.item())
            seen += len(x)
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            fetch_start = time.perf_counter()
        scheduler.step()
        elapsed = time.perf_counter() - epoch_start

        if world.is_main:
            # Only epochs from the first candidate on can become best.pt; the earlier ones get a
            # preview of valid/ (a curve for the log), which keeps a large valid/ split cheap.
            checked = validation if epoch >= first_candidate else validation.preview(PREVIEW_STRIPS)
            metrics = run_validation(model if average is None else average.model, checked)
            row = {
                "epoch": epoch,
                "loss": sum(losses) / max(1, len(losses)),
                "lr": optimizer.param_groups[0]["lr"],
                "gamma": gamma,
                "val_image_auroc": metrics["image_auroc"],
                "val_pixel_auroc": metrics["pixel_auroc"],
                "val_strips": checked.size,
                "val_thresholds": metrics["thresholds"],
                "patches_per_s": seen * world.size / elapsed,
                "data_wait_share": wait_s / elapsed,
                "epoch_s": elapsed,
                "precision": str(autocast_dtype or torch.float32).removeprefix("torch."),
            }
            if epoch == first_candidate:
                best = -math.inf  # earlier epochs were only stand-ins until the candidates begin
            improved = metrics["pixel_auroc"] > best
            best = max(best, metrics["pixel_auroc"])
            payload = checkpoint_payload(
                model, optimizer, scheduler, epoch, best, config, model_config, patch, row, average
            )
            # Order matters for a kill at any moment: the metrics row first (a
            # resume drops rows past last.pt), then last.pt, then best.pt (a
            # resume repairs best.pt from last.pt).
            append_metrics(out / "metrics.jsonl", row)
            save_atomically(payload, out / "last.pt")
            if improved:
                save_atomically(payload, out / "best.pt")
            logger.info(
                "epoch %d/%d loss %.4f val image AUROC %.4f pixel AUROC %.4f (%.0f patches/s, data %.0f%%)",
                epoch + 1,
                config.epochs,
                row["loss"],
                row["val_image_auroc"],
                row["val_pixel_auroc"],
                row["patches_per_s"],
                100 * row["data_wait_share"],
            )
        distributed.barrier(world)

    distributed.shutdown(world)
    return row


def load_model(
    run_or_checkpoint: str | os.PathLike[str], which: str = "best"
) -> tuple[ReferenceUNet, dict[str, Any]]:
    """Rebuilds the trained model from a run folder (``best.pt``) or a checkpoint file.

    Returns:
        (model in eval mode, the checkpoint payload without the weights).
    """
    run_or_checkpoint = pathlib.Path(run_or_checkpoint)
    path = run_or_checkpoint / f"{which}.pt" if run_or_checkpoint.is_dir() else run_or_checkpoint
    state = load_checkpoint(path)
    model = ReferenceUNet(UNetConfig.from_dict(state["model_config"]))
    model.load_state_dict(state["model"])
    model.eval()
    info = {k: v for k, v in state.items() if k not in ("model", "optimizer")}
    info["path"] = str(path)
    return model, info
