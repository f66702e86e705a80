"""Multi-process training under ``torchrun``: who this process is, and the
little glue DDP needs. A plain ``defectkit train`` is a world of one."""

from __future__ import annotations

import dataclasses
import os

import torch
import torch.distributed as dist


@dataclasses.dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        """Only the main process writes files and shows progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def init_world() -> World:
    """Joins the process group torchrun describes in the environment, if any.

    gloo on CPU (what the tests use), nccl when CUDA is available.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return World(rank=dist.get_rank(), size=dist.get_world_size())


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def broadcast_flag(world: World, value: bool) -> bool:
    """Rank 0's decision, shared with every rank (e.g. "stop now")."""
    if not world.distributed:
        return value
    flag = torch.tensor([1 if value else 0])
    dist.broadcast(flag, src=0)
    return bool(flag.item())


def shutdown(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()
