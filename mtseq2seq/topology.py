"""The graph of slots and tasks: checks a recipe's wiring and describes which modules are shared.

`check_recipe` returns every problem it finds (plugins, types, options, slots, vocabularies, sizes,
data files) as strings starting with a YAML path, so `load_recipe` can report them all at once.
"""
from __future__ import annotations

import re
from typing import Any

import torch

from .config import ModuleConfig, Recipe
from .data.files import check_data_files
from .errors import UserError, close_match, short_repr, unknown
from .modules import DECODERS, ENCODERS
from .plugins import plugin_failure
from .registry import Registry, load_plugin
from .scheduler import SCHEDULERS
from .schema import coerce, constructor_problems
from .task_names import canonical_task, tasks_hint
from .tasks import KINDS

_SLOT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
MAX_LAYERS = 1024  # checking builds every layer (on the meta device): a typo of 10**6 would hang


def check_recipe(recipe: Recipe, check_files: bool = True) -> list[str]:
    problems = check_plugins(recipe)
    problems += apply_module_defaults(recipe)
    problems += check_vocabs(recipe)
    enc_sizes = check_modules(recipe.encoders, ENCODERS, "encoders", "output_size", problems)
    dec_sizes = check_modules(recipe.decoders, DECODERS, "decoders", "memory_size", problems)
    problems += check_tasks(recipe, enc_sizes, dec_sizes)
    problems += check_schedule(recipe)
    problems += check_valid(recipe)
    problems += check_train(recipe)
    if check_files:
        problems += check_data_files(recipe)
    return problems


def check_plugins(recipe: Recipe) -> list[str]:
    problems = []
    for i, path in enumerate(recipe.plugins):
        try:
            load_plugin(path)
        except UserError as err:
            problems += [f"plugins[{i}]: {p}" for p in err.problems]
        except Exception as err:  # the user's code failed: show its frames, keep checking the rest
            problems.append(f"plugins[{i}]: loading '{path}' failed:\n{plugin_failure(err)}")
    return problems


def apply_module_defaults(recipe: Recipe) -> list[str]:
    """Fill each encoder/decoder from `modules:`: its type from `modules.type`, then the options
    under `modules.<type>` that its constructor accepts (its own options win)."""
    defaults = recipe.modules or {}
    if not isinstance(defaults, dict):
        return ["modules: expected a mapping like {type: transformer, transformer: {dim: 256}}"]
    problems = _check_module_defaults(defaults)
    for section, registry, modules in (("encoders", ENCODERS, recipe.encoders),
                                       ("decoders", DECODERS, recipe.decoders)):
        for slot, module in modules.items():
            if module.type is None and isinstance(defaults.get("type"), str):
                module.type = defaults.get("type")
            if module.type is None:
                problems.append(f"{section}.{slot}.type: missing (name a type here or set "
                                f"modules.type; known: {', '.join(registry.names())})")
                continue
            shared = defaults.get(module.type) if module.type in registry else None
            if isinstance(shared, dict):
                accepted = registry.options(module.type)
                module.options = {**{k: v for k, v in shared.items() if k in accepted},
                                  **module.options}
    return problems


def _check_module_defaults(defaults: dict) -> list[str]:
    problems = []
    known_types = set(ENCODERS.names()) | set(DECODERS.names())
    for key, value in defaults.items():
        if key == "type":
            if not isinstance(value, str) or value not in known_types:
                problems.append(f"modules.type: {unknown('module type', value, known_types)}")
            continue
        if key not in known_types:
            problems.append(f"modules.{key}: not a module type (known: "
                            f"{', '.join(sorted(known_types))}, type{close_match(key, known_types)})")
            continue
        if not isinstance(value, dict):
            problems.append(f"modules.{key}: expected a mapping of options, got "
                            f"{short_repr(value)}")
            continue
        accepted = set()
        for registry in (ENCODERS, DECODERS):
            if key in registry:
                accepted |= set(registry.options(key))
        for option in value:
            if option not in accepted:
                problems.append(f"modules.{key}.{option}: unknown option for type '{key}' (known: "
                                f"{', '.join(sorted(accepted))}{close_match(option, accepted)})")
    return problems


def check_vocabs(recipe: Recipe) -> list[str]:
    problems = []
    for slot, vocab in recipe.vocabs.items():
        if not _SLOT_NAME.match(slot):
            problems.append(f"vocabs.{slot}: a slot name must be letters, digits, '_' or '-' "
                            "and start with a letter")
        if vocab.share is not None:
            target = recipe.vocabs.get(vocab.share)
            if target is None:
                problems.append(f"vocabs.{slot}.share: no vocabulary for slot '{vocab.share}'"
                                f"{close_match(vocab.share, recipe.vocabs)}")
            elif target.share is not None:
                problems.append(f"vocabs.{slot}.share: slot '{vocab.share}' itself shares "
                                f"'{target.share}'; name '{target.share}' directly")
        elif vocab.type == "sentencepiece" and vocab.size < 8:
            problems.append(f"vocabs.{slot}.size: got {vocab.size}, expected at least 8")
    return problems


def check_modules(modules: dict[str, ModuleConfig], registry: Registry, section: str,
                  size_attr: str, problems: list[str]) -> dict[str, int]:
    """Check types and options; build each module on the meta device to read its size."""
    sizes = {}
    for slot, module in modules.items():
        path = f"{section}.{slot}"
        if not _SLOT_NAME.match(slot):
            problems.append(f"{path}: a slot name must be letters, digits, '_' or '-' "
                            "and start with a letter")
        if module.type is None:
            continue
        if module.type not in registry:
            problems.append(f"{path}.type: "
                            f"{unknown(f'{registry.kind} type', module.type, registry.names())}")
            continue
        option_problems = registry.check_kwargs(module.type, module.options, path)
        option_problems += check_option_values(registry, module.type, module.options, path)
        problems += option_problems
        if not option_problems:
            size = _meta_size(registry, module, path, size_attr, problems)
            if size is not None:
                sizes[slot] = size
    return sizes


def _meta_size(registry: Registry, module: ModuleConfig, path: str, size_attr: str,
               problems: list[str]) -> int | None:
    try:
        with torch.device("meta"):
            built = registry.build(module.type, module.options, path, vocab_size=16, pad_id=0)
    except UserError as err:
        problems += err.problems
        return None
    except ValueError as err:  # the constructor's own check, written for users
        problems.append(f"{path}: {err}")
        return None
    except Exception as err:  # the options are wrong in a way only the constructor notices
        problems.append(f"{path}: these options do not build the {registry.kind}: "
                        f"{type(err).__name__}: {str(err)[:200]}")
        return None
    return getattr(built, size_attr, None)


def check_option_values(registry: Registry, name: str, options: dict, path: str) -> list[str]:
    """Option types from the constructor's annotations (converted in place), and a layer limit."""
    problems = constructor_problems(registry.get(name), options, path)
    layers = options.get("layers")
    if isinstance(layers, int) and layers > MAX_LAYERS:
        problems.append(f"{path}.layers: got {layers}, expected at most {MAX_LAYERS}")
    return problems


def check_tasks(recipe: Recipe, enc_sizes: dict[str, int], dec_sizes: dict[str, int]) -> list[str]:
    problems = [] if recipe.tasks else ["tasks: a recipe needs at least one task"]
    for name, task in recipe.tasks.items():
        path = f"tasks.{name}"
        if task.kind is not None and task.kind not in KINDS:
            problems.append(f"{path}.kind: {unknown('task kind', task.kind, KINDS)}")
        for side, slots in (("encoder", recipe.encoders), ("decoder", recipe.decoders)):
            slot = getattr(task, side)
            if slot is None:
                continue
            if slot not in slots:
                problems.append(f"{path}.{side}: no {side} for slot '{slot}' (defined: "
                                f"{', '.join(sorted(slots)) or 'none'}{close_match(slot, slots)})")
            if slot not in recipe.vocabs:
                problems.append(f"{path}.{side}: slot '{slot}' has no vocabulary; add vocabs.{slot}")
        if task.encoder in enc_sizes and task.decoder in dec_sizes:
            if enc_sizes[task.encoder] != dec_sizes[task.decoder]:
                problems.append(
                    f"{path}: size mismatch: encoder '{task.encoder}' outputs "
                    f"{enc_sizes[task.encoder]} but decoder '{task.decoder}' expects memory of "
                    f"{dec_sizes[task.decoder]} (set the same dim on both)")
        if task.ratio is not None and not task.ratio > 0:
            problems.append(f"{path}.ratio: got {task.ratio}, expected a positive number")
    return problems


def check_valid(recipe: Recipe) -> list[str]:
    """Metric names, the selection target and the weights of the mean."""
    from .metrics import METRICS

    problems = []
    for name, task in recipe.tasks.items():
        if task.metric is not None and task.metric not in METRICS:
            problems.append(f"tasks.{name}.metric: {unknown('metric', task.metric, METRICS)}")
    valid = recipe.valid
    if valid.select != "mean":
        select = _task_named(valid.select, recipe, "valid.select", problems)
        valid.select = select or valid.select  # `en-de` names the task en>de from here on
        if select is None:
            problems.append(f"valid.select: got '{valid.select}', expected 'mean' or a task name"
                            f"{tasks_hint(valid.select, recipe.tasks)}")
    weights: dict = {}
    for key, weight in (valid.weights or {}).items():
        task = _task_named(str(key), recipe, f"valid.weights.{key}", problems)
        if task is None:
            problems.append(f"valid.weights.{key}: no such task"
                            f"{tasks_hint(str(key), recipe.tasks)}")
        elif task in weights:
            problems.append(f"valid.weights.{key}: the task {task} has a weight already")
        ok, value = coerce(weight, float)
        if not ok or value < 0:
            problems.append(f"valid.weights.{key}: got {short_repr(weight)}, "
                            "expected a number of at least 0")
        weights[task or key] = weight
    valid.weights = weights
    return problems


def _task_named(name: str, recipe: Recipe, path: str, problems: list[str]) -> str | None:
    """The recipe's task that ``name`` names (`en-de` for en>de); an ambiguous alias is a problem."""
    try:
        return canonical_task(str(name), recipe.tasks)
    except UserError as err:
        problems.append(f"{path}: {err}")
        return name  # reported; not reported again as unknown


def check_train(recipe: Recipe) -> list[str]:
    """What the schema cannot say about `train:`: Adam's betas and the device name."""
    train, problems = recipe.train, []
    if len(train.betas) != 2 or not all(0 <= b < 1 for b in train.betas):
        problems.append(f"train.betas: got {short_repr(train.betas)}, expected two numbers "
                        "in [0, 1), e.g. [0.9, 0.98]")
    if train.device != "auto":
        try:
            torch.device(train.device)
        except Exception:
            problems.append(f"train.device: got {short_repr(train.device)}, expected auto, cpu, "
                            "cuda or cuda:N")
    return problems


def check_schedule(recipe: Recipe) -> list[str]:
    schedule = recipe.schedule
    if schedule.type not in SCHEDULERS:
        return [f"schedule.type: {unknown('scheduler type', schedule.type, SCHEDULERS.names())}"]
    problems = SCHEDULERS.check_kwargs(schedule.type, schedule.options, "schedule")
    problems += check_option_values(SCHEDULERS, schedule.type, schedule.options, "schedule")
    if not problems:  # a trial build with stand-in tasks catches what only the constructor checks
        try:
            SCHEDULERS.build(schedule.type, schedule.options, "schedule", tasks=["a"],
                             ratios=[1.0], sizes=[1], seed=1)
        except Exception as err:
            problems.append(f"schedule: these options do not build a scheduler: {err}")
    return problems


def describe(recipe: Recipe) -> str:
    """Text picture of the graph: tasks, and which slots several tasks share."""
    lines = ["tasks:"]
    for name, task in recipe.tasks.items():
        lines.append(f"  {name:<16} {task.kind:<12} {task.encoder} -> {task.decoder}  "
                     f"ratio {task.ratio:g}")
    for side in ("encoder", "decoder"):
        users: dict[str, list[str]] = {}
        for name, task in recipe.tasks.items():
            users.setdefault(getattr(task, side), []).append(name)
        for slot, names in users.items():
            module: Any = (recipe.encoders if side == "encoder" else recipe.decoders)[slot]
            shared = f"shared by {', '.join(names)}" if len(names) > 1 else f"used by {names[0]}"
            lines.append(f"{side} {slot} ({module.type}): {shared}")
    return "\n".join(lines)
