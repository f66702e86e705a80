"""Training-step throughput of reference_unet on this CPU: fp32, channels-last, channels-last + bf16.

    .venv/bin/python experiments/reference_unet/training_step.py [--width 16] [--threads 2]

One Adam step of the focal loss on a batch of 16 random 128 x 128 patches, the median of
the timed steps after two warm-up steps; what `defectkit train` does per batch, without
data loading and validation. bf16 runs under torch.autocast (weights stay fp32), as
`TrainConfig.precision="bf16"` does; on a CPU without native bf16 it is emulated and slow.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from defectkit.models.reference_unet import FocalLoss, ReferenceUNet, UNetConfig


def patches_per_s(width: int, channels_last: bool, bf16: bool, steps: int, batch: int = 16) -> float:
    torch.manual_seed(0)
    model = ReferenceUNet(UNetConfig(width=width))
    x = torch.rand(batch, 3, 128, 128)
    mask = (torch.rand(batch, 1, 128, 128) > 0.99).float()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    loss_fn = FocalLoss(alpha=0.75)
    seconds = []
    for _ in range(steps + 2):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = loss_fn(logits.float(), mask, 2.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seconds.append(time.perf_counter() - start)
    return batch / statistics.median(seconds[2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    print(f"width {args.width}, {args.threads} threads, torch {torch.__version__}, native bf16: {native}")
    for name, channels_last, bf16 in (
        ("fp32", False, False),
        ("fp32 channels-last", True, False),
        ("bf16 channels-last", True, True),
    ):
        print(f"{name:>20}: {patches_per_s(args.width, channels_last, bf16, args.steps):.1f} patches/s")


if __name__ == "__main__":
    main()
