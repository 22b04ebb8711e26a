"""Training in several processes with torch.distributed, launched by `torchrun` (one process per
GPU, or per group of CPU cores; on one machine or several).

Every rank trains the same task at the same update (the scheduler is seeded alike on all ranks)
on its own shard of that task's batches (`TaskIterator` deals out one stream of batches, batch i
to rank i mod world). Before a batch's backward its loss sum and target tokens are summed over the
ranks, and each rank back-propagates its loss sum over the tokens of all ranks, so that after the
gradients are summed an update equals the one of a batch holding every rank's batch.

Why not DistributedDataParallel: a multi-task update touches only the modules its task calls.
DDP expects every parameter it wraps in every backward (or `find_unused_parameters`, a graph walk
per step), and one DDP per module would prefix every checkpoint key. Here the gradients a backward
produced are summed after it, in a few flat buckets (`RankSync.reduce_gradients`): the parameters
no rank touched take no part and keep no gradient, so the optimizer leaves them bitwise unchanged.
The buckets are sent asynchronously, the flattening of the next overlapping the sending of the
last; the reduction does not overlap the backward itself (which bucket is ready when would have to
agree across ranks), and `bench/distributed_speed.py` measures what it costs.

In one process (no torchrun: no `WORLD_SIZE` in the environment) every method here returns at
once and nothing is sent, so a single run is exactly what it was before this module.
"""
from __future__ import annotations

import os
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Iterator, Mapping, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn

from .devices import pick_device
from .errors import UserError

T = TypeVar("T")
BUCKET_BYTES = 16 << 20  # gradients sent per collective (the flattening of the next overlaps it)


@dataclass(frozen=True)
class Ranks:
    """Where this process stands among the run's processes (torchrun's environment)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0  # the rank on this machine: which GPU to take

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that writes checkpoints, logs and metrics."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


ONE_PROCESS = Ranks()


def ranks_from_env(env: Mapping[str, str] | None = None) -> Ranks:
    """The ranks torchrun set (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`); one process without them."""
    env = os.environ if env is None else env
    if "WORLD_SIZE" not in env:
        return ONE_PROCESS
    values = {}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        text = env.get(name, "0")
        try:
            values[name] = int(text)
        except ValueError:
            raise UserError(f"environment variable {name}={text!r} is not a whole number; "
                            "start several processes with torchrun, which sets it") from None
    ranks = Ranks(values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"])
    if ranks.world < 1 or not 0 <= ranks.rank < ranks.world:
        raise UserError(f"RANK={ranks.rank} with WORLD_SIZE={ranks.world}: a rank must be in "
                        f"0..WORLD_SIZE-1")
    return ranks


def backend_for(name: str, device: torch.device) -> str:
    """`train.dist_backend`: 'auto' is NCCL for GPUs and gloo for CPUs."""
    if name != "auto":
        return name
    return "nccl" if device.type == "cuda" else "gloo"


def device_for(name: str, ranks: Ranks) -> torch.device:
    """`train.device` for this rank: several ranks on GPUs take GPU ``local_rank`` each."""
    device = pick_device(name)
    if device.type == "cuda" and ranks.active and device.index is None:
        return torch.device("cuda", ranks.local_rank)
    return device


@contextmanager
def process_group(ranks: Ranks, backend: str, device: torch.device,
                  timeout_s: float) -> Iterator[None]:
    """Join the run's process group (from torchrun's `MASTER_ADDR`/`MASTER_PORT`) for the
    duration; a collective that waits longer than ``timeout_s`` fails instead of hanging."""
    if not ranks.active:
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend_for(backend, device), rank=ranks.rank,
                            world_size=ranks.world, timeout=timedelta(seconds=timeout_s))
    try:
        yield
    finally:
        dist.destroy_process_group()


def lost_contact(err: BaseException, ranks: Ranks) -> UserError | None:
    """The error to show when a collective failed because another rank crashed or timed out
    (None for other errors, which keep their traceback)."""
    if not ranks.active or not isinstance(err, (RuntimeError, dist.DistError)):
        return None
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return UserError(f"rank {ranks.rank} of {ranks.world}: lost contact with the other ranks "
                     f"({text}); another rank probably crashed (see its output) or stopped "
                     f"answering for train.dist_timeout seconds. The last checkpoint rank 0 "
                     f"wrote is complete; continue with the same command and --resume")


class RankSync:
    """What the trainer asks of the other ranks: totals of a batch, gradient sums, an agreed
    stop, gathered states. With one rank every call returns at once."""

    def __init__(self, ranks: Ranks = ONE_PROCESS, device: torch.device | None = None) -> None:
        self.ranks = ranks
        self.device = device if device is not None else torch.device("cpu")  # NCCL: the GPU
        self.seconds = 0.0  # spent in collectives (waiting for slower ranks included)

    @property
    def active(self) -> bool:
        return self.ranks.active

    def totals(self, loss_sum: Tensor, tokens: int) -> tuple[float, int]:
        """A batch's loss sum and target tokens, summed over the ranks."""
        if not self.active:
            return float(loss_sum), tokens
        start = time.perf_counter()
        both = torch.tensor([float(loss_sum), float(tokens)], dtype=torch.float64,
                            device=self.device)
        dist.all_reduce(both)
        self.seconds += time.perf_counter() - start
        return float(both[0]), int(both[1])

    def reduce_gradients(self, params: list[nn.Parameter]) -> None:
        """Sum the ``.grad`` of ``params`` over the ranks. A parameter some rank touched and this
        one did not gets a zero gradient first; one no rank touched keeps none."""
        if not self.active:
            return
        start = time.perf_counter()
        touched = torch.tensor([p.grad is not None for p in params], dtype=torch.uint8,
                               device=self.device)
        dist.all_reduce(touched, op=dist.ReduceOp.MAX)
        grads = []
        for param, flag in zip(params, touched.tolist()):
            if flag and param.grad is None:
                param.grad = torch.zeros_like(param)
            if flag:
                grads.append(param.grad)
        pending = []
        for bucket in _buckets(grads):
            flat = torch.cat([g.reshape(-1) for g in bucket])  # (sum of numels,)
            pending.append((bucket, flat, dist.all_reduce(flat, async_op=True)))
        for bucket, flat, work in pending:
            work.wait()
            offset = 0
            for grad in bucket:
                grad.copy_(flat[offset:offset + grad.numel()].view_as(grad))
                offset += grad.numel()
        self.seconds += time.perf_counter() - start

    def agree_stop(self, requested: str | None) -> str | None:
        """The stop signal's name if any rank got one (so all stop at this update), else None."""
        if not self.active:
            return requested
        start = time.perf_counter()
        code = torch.tensor([int(getattr(signal, requested)) if requested else 0],
                            device=self.device)
        dist.all_reduce(code, op=dist.ReduceOp.MAX)
        self.seconds += time.perf_counter() - start
        return signal.Signals(int(code)).name if int(code) else None

    def gather(self, obj: Any) -> list[Any]:
        """``obj`` of every rank, in rank order (pickled; for small things)."""
        if not self.active:
            return [obj]
        found: list[Any] = [None] * self.ranks.world
        dist.all_gather_object(found, obj)
        return found

    def from_main(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def main_first(self, work: Callable[[], T]) -> T:
        """``work()`` on rank 0, then (once it succeeded) on the other ranks: rank 0 writes what
        the others then read. Rank 0's error stops every rank, with its message."""
        if not self.active:
            return work()
        result, failure = None, None
        if self.ranks.is_main:
            try:
                result = work()
            except UserError as err:
                failure = err
        message = self.from_main(str(failure) if failure is not None else None)
        if failure is not None:
            raise failure
        if message is not None:
            raise UserError(f"rank 0 failed: {message}")
        return result if self.ranks.is_main else work()

    def mine(self, items: list) -> list:
        """This rank's share of ``items`` (every world-th, from its rank on)."""
        return items[self.ranks.rank::self.ranks.world]

    def same_weights(self, module: nn.Module) -> None:
        """Rank 0's parameters and buffers on every rank (they start alike from the seed; this
        makes sure)."""
        if not self.active:
            return
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, src=0)

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def _buckets(grads: list[Tensor]) -> Iterator[list[Tensor]]:
    """``grads`` in consecutive groups of one dtype and at most about ``BUCKET_BYTES`` each."""
    bucket: list[Tensor] = []
    size = 0
    for grad in grads:
        nbytes = grad.numel() * grad.element_size()
        if bucket and (size + nbytes > BUCKET_BYTES or grad.dtype != bucket[0].dtype):
            yield bucket
            bucket, size = [], 0
        bucket.append(grad)
        size += nbytes
    if bucket:
        yield bucket
