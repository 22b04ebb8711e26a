"""Task gradients on shared modules: conflict diagnostics and PCGrad.

`train.diagnose_every: N` asks, every N updates, for one batch of each task's gradient on every
module two or more of the tasks share, without updating anything: the data positions, the noise
and the random state are put back afterwards, so the run goes on as it would have without the
check. Each shared module gets the cosine similarity of every pair of task gradients (near 1: the
tasks pull the same way; below 0: they fight) and each task's gradient norm, written to
`metrics.jsonl` (`split: diagnose`); `mtseq2seq diagnose RUN_DIR` prints them (`diagnose.py`).

`train.gradient_surgery: pcgrad` (Yu et al. 2020) changes an update of several tasks
(`every_task`): each task's gradient is projected off the others' wherever the two point apart
(negative dot product), in a random order per update, before they are summed.
"""
from __future__ import annotations

import itertools
import random
from typing import Callable, Iterable

import torch
from torch import Tensor, nn

GradientOf = Callable[[str], None]  # runs one task's forward and backward into .grad


def shared_modules(model: nn.Module, tasks: list[str]) -> dict[str, list[str]]:
    """Module path (`encoders.en`, `decoders.de`) -> the tasks among ``tasks`` using it, for
    every module two or more of them use."""
    users: dict[str, list[str]] = {}
    for task in tasks:
        encoder, decoder = model.tasks[task]
        slots = (encoder,) if isinstance(encoder, str) else encoder
        for path in [f"encoders.{s}" for s in slots] + [f"decoders.{decoder}"]:
            users.setdefault(path, []).append(task)
    return {path: names for path, names in sorted(users.items()) if len(names) > 1}


def module_gradients(model: nn.Module, tasks: list[str], backward: GradientOf,
                     modules: list[str]) -> dict[str, dict[str, Tensor]]:
    """task -> module path -> that task's gradient on the module, flattened (zeros where a
    parameter got none); ``.grad`` is left empty."""
    grads: dict[str, dict[str, Tensor]] = {}
    for task in tasks:
        model.zero_grad(set_to_none=True)
        backward(task)
        grads[task] = {path: flat_grad(model.get_submodule(path).parameters())
                       for path in modules}
    model.zero_grad(set_to_none=True)
    return grads


def flat_grad(params: Iterable[nn.Parameter]) -> Tensor:
    """The gradients of ``params`` in one (P,) vector, zeros where a parameter has none."""
    parts = [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).float()
             for p in params]
    return torch.cat(parts) if parts else torch.zeros(0)


def conflict_report(grads: dict[str, dict[str, Tensor]],
                    modules: dict[str, list[str]]) -> list[dict]:
    """One record per shared module: pairwise cosines ("a|b") and norms of its tasks' gradients."""
    records = []
    for path, tasks in modules.items():
        norms = {t: float(grads[t][path].norm()) for t in tasks}
        cosines = {f"{a}|{b}": cosine(grads[a][path], grads[b][path])
                   for a, b in itertools.combinations(tasks, 2)}
        records.append({"module": path, "cosine": cosines, "norm": norms})
    return records


def cosine(a: Tensor, b: Tensor) -> float:
    """Cosine similarity of two gradients; 0 when either is all zeros."""
    denom = float(a.norm() * b.norm())
    return float(a @ b) / denom if denom > 0 else 0.0


def pcgrad(grads: list[Tensor], rng: random.Random) -> Tensor:
    """The sum of the task gradients ``grads`` (each (P,), flattened over the same parameters),
    each first projected onto the normal plane of every other one it conflicts with (in a
    random order), as PCGrad does."""
    projected = []
    for i, g in enumerate(grads):
        g = g.clone()
        others = [j for j in range(len(grads)) if j != i]
        rng.shuffle(others)
        for j in others:
            dot = float(g @ grads[j])
            if dot < 0:
                g -= dot / max(float(grads[j] @ grads[j]), 1e-20) * grads[j]
        projected.append(g)
    return torch.stack(projected).sum(dim=0)


def pcgrad_backward(params: list[nn.Parameter], tasks: list[str], backward: GradientOf,
                    rng: random.Random) -> None:
    """Run each task's backward on its own, then set ``.grad`` of ``params`` to the PCGrad
    combination of the task gradients (a parameter no task reached keeps no gradient, so the
    optimizer leaves it alone)."""
    flat, touched = [], set()
    for task in tasks:
        for p in params:
            p.grad = None
        backward(task)
        touched |= {i for i, p in enumerate(params) if p.grad is not None}
        flat.append(flat_grad(params))
    combined = pcgrad(flat, rng)
    offset = 0
    for i, p in enumerate(params):
        part = combined[offset:offset + p.numel()]
        p.grad = part.view_as(p).to(p.dtype).clone() if i in touched else None
        offset += p.numel()


def diagnose(trainer) -> list[dict]:
    """The conflict records of ``trainer``'s current stage at this update (none when its tasks
    share no module); batches are drawn and then the data positions and random state restored."""
    tasks = list(trainer.stage.tasks)
    modules = shared_modules(trainer.model, tasks)
    if not modules:
        return []
    positions = {t: it.state_dict() for t, it in trainer.data.train.items()}
    torch_state, python_state = torch.get_rng_state(), random.getstate()
    grads = module_gradients(trainer.model, tasks, trainer.task_backward, list(modules))
    for task, state in positions.items():
        trainer.data.train[task].load_state_dict(state)
    torch.set_rng_state(torch_state)
    random.setstate(python_state)
    return conflict_report(grads, modules)
