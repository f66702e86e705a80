"""``train(config)``: the training run of any family, resumable, single- or multi-process.

The loop is written once: budget, optimiser, seed, device, precision, EMA,
atomic checkpoints, resume and DDP. What the family owns (its network, data,
loss, validation) comes from ``defectkit.families.get(config.family)``.

Every random choice derives from (seed, epoch, index): a family's items from
the dataset's per-item generator, the order from the sampler's (seed + epoch)
generator. A resumed run therefore continues with
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

from defectkit import families
from defectkit._version import __version__
from defectkit.errors import FileMissingError
from defectkit.training import distributed
from defectkit.training.averaging import WeightAverage
from defectkit.training.checkpoint import (
    FORMAT_VERSION,
    load_checkpoint,
    remove_stale_temporaries,
    save_atomically,
)
from defectkit.training.config import TrainConfig, resolve_device, resolve_precision

logger = logging.getLogger("defectkit")


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
    state: dict[str, Any],
    metrics: dict,
    average: WeightAverage | None = None,
) -> dict[str, Any]:
    # "model" holds the weights to inspect with (the average when there is one); a resume
    # continues from the raw weights in "trained_model".
    extra = {}
    if average is not None:
        extra = {"trained_model": on_cpu(model.state_dict()), "average": average.state()}
    shown = model if average is None else average.model
    family = families.get(config.family)
    return {
        **extra,
        **state,  # the family's own plain values (reference_unet: patch_size)
        "format": "defectkit-checkpoint",
        "format_version": FORMAT_VERSION,
        "family": family.name,
        "defectkit_version": __version__,
        "epoch": epoch,
        "selection_metric": family.selection_metric,
        "best_metric": best,
        "train_config": config.to_dict(),
        "model": on_cpu(shown.state_dict()),
        "optimizer": on_cpu(optimizer.state_dict()),
        "scheduler_last_epoch": scheduler.last_epoch,
        "metrics": {k: v for k, v in metrics.items() if isinstance(v, (int, float, str))},
    }


def best_metric(state: dict[str, Any]) -> float:
    """The best validation metric a checkpoint records (runs before the family seam: pixel AUROC)."""
    return state["best_metric"] if "best_metric" in state else state["best_pixel_auroc"]


def selection_key(state: dict[str, Any]) -> str:
    return f"val_{state.get('selection_metric', 'pixel_auroc')}"


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
    if last["metrics"].get(selection_key(last)) != best_metric(last):
        return
    best = out / "best.pt"
    if not best.exists() or load_checkpoint(best)["epoch"] != last["epoch"]:
        save_atomically(last, best)


def make_optimizer(config: TrainConfig, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    """Adam or AdamW over the family's parameter groups (a group without ``lr`` takes config.lr)."""
    kind = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return kind(groups, lr=config.lr, weight_decay=config.weight_decay)


def train(config: TrainConfig, *, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Trains ``config.family`` on ``config.data`` into ``config.out``.

    Writes ``config.json``, ``metrics.jsonl`` (a row per epoch), ``last.pt``
    and ``best.pt`` (by the family's validation selection metric). With
    ``resume``, continues from ``last.pt`` exactly where it stopped.

    Returns:
        The last epoch's metrics row.
    """
    config.validate()
    family = families.get(config.family)
    device = resolve_device(config.device, local_rank=int(os.environ.get("LOCAL_RANK", "0")))
    world = distributed.init_world()
    if config.threads:
        torch.set_num_threads(config.threads)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    out = pathlib.Path(config.out)
    data = family.training_data(config, world.rank)
    dataset = data.dataset
    config = config.with_epochs_for(len(dataset))

    torch.manual_seed(config.seed)
    model = family.build(config.family_config).to(device)  # initialised on the CPU, then moved: same weights
    if data.memory_format is not None:  # reference_unet: channels-last, faster oneDNN convolutions
        model = model.to(memory_format=data.memory_format)
    autocast_dtype = resolve_precision(config.precision, device)
    average = WeightAverage(model, config.ema_decay) if config.ema_decay > 0 else None
    autocast = torch.autocast(
        device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None
    )
    optimizer = make_optimizer(config, family.parameter_groups(model, config))
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
        start_epoch, best = state["epoch"] + 1, best_metric(state)
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
    step_fn = family.training_step(config)
    steps_per_epoch = math.ceil(len(sampler) / config.batch_size)  # batches (schedules count these)
    total_steps = config.epochs * steps_per_epoch
    row: dict[str, Any] = {}
    if world.is_main:
        logger.info("training %s on %s on %s", family.name, data.description, device)

    for epoch in range(start_epoch, config.epochs):
        family.epoch_start(model, optimizer, epoch, config)
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
        losses, wait_s, seen, logs = [], 0.0, 0, {}
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
            batch = tuple(t.to(device, non_blocking=True) for t in batch)
            share_done = (epoch * steps_per_epoch + step) / max(1, total_steps - 1)
            loss, logs = step_fn(trained, batch, share_done, autocast)
            # Gradient accumulation: the optimiser steps every `accumulate` batches (and at the
            # epoch's end), on gradients summed over them.
            (loss / config.accumulate if config.accumulate > 1 else loss).backward()
            if (step + 1) % config.accumulate == 0 or step + 1 == len(loader):
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                if average is not None:
                    average.update(model)
            losses.append(loss.item())
            seen += len(batch[0])
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            fetch_start = time.perf_counter()
        scheduler.step()
        elapsed = time.perf_counter() - epoch_start

        if world.is_main:
            # Only epochs from the first candidate on can become best.pt; the family may look at
            # less of its validation set before (a curve for the log).
            shown = model if average is None else average.model
            metrics = family.validate(shown, data.validation, full=epoch >= first_candidate)
            row = {
                "epoch": epoch,
                "loss": sum(losses) / max(1, len(losses)),
                "lr": optimizer.param_groups[0]["lr"],
                **logs,
                **{f"val_{name}": value for name, value in metrics.items()},
                "samples_per_s": seen * world.size / elapsed,
                "data_wait_share": wait_s / elapsed,
                "epoch_s": elapsed,
                "precision": str(autocast_dtype or torch.float32).removeprefix("torch."),
            }
            if epoch == first_candidate:
                best = -math.inf  # earlier epochs were only stand-ins until the candidates begin
            score = metrics[family.selection_metric]
            improved = score > best
            best = max(best, score)
            payload = checkpoint_payload(
                model, optimizer, scheduler, epoch, best, config, data.state, row, average
            )
            # Order matters for a kill at any moment: the metrics row first (a
            # resume drops rows past last.pt), then last.pt, then best.pt (a
            # resume repairs best.pt from last.pt).
            append_metrics(out / "metrics.jsonl", row)
            save_atomically(payload, out / "last.pt")
            if improved:
                save_atomically(payload, out / "best.pt")
            logger.info(
                "epoch %d/%d loss %.4f %s (%.0f items/s, data %.0f%%)",
                epoch + 1,
                config.epochs,
                row["loss"],
                "  ".join(f"val {k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float)),
                row["samples_per_s"],
                100 * row["data_wait_share"],
            )
        distributed.barrier(world)

    distributed.shutdown(world)
    return row


def load_model(
    run_or_checkpoint: str | os.PathLike[str], which: str = "best"
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuilds the trained model from a run folder (``best.pt``) or a checkpoint file.

    Returns:
        (model in eval mode, the checkpoint payload without the weights, ``train_config`` as a
        :class:`TrainConfig` under ``config``).
    """
    run_or_checkpoint = pathlib.Path(run_or_checkpoint)
    path = run_or_checkpoint / f"{which}.pt" if run_or_checkpoint.is_dir() else run_or_checkpoint
    state = load_checkpoint(path)
    config = TrainConfig.from_dict(state["train_config"])
    family = families.get(state.get("family", config.family))
    model = family.build(config.family_config)
    model.load_state_dict(state["model"])
    model.eval()
    info = {k: v for k, v in state.items() if k not in ("model", "optimizer", "trained_model", "average")}
    info["path"] = str(path)
    info["config"] = config
    return model, info
