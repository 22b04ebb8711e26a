"""The graph of slots and tasks: checks a recipe's wiring (plugins, module types and options,
slots, vocabularies where a slot reads or writes tokens, sizes), each problem as a string that
starts with its YAML path. `loader.check_recipe` runs these with the section and file checks.
"""
from __future__ import annotations

import inspect
import re

import torch
from torch import nn

from ..errors import UserError, choices_hint, close_match, short_repr, unknown
from ..modules import DECODERS, ENCODERS, HEADS
from ..plugins import plugin_failure
from ..registry import Registry, load_plugin
from ..tasks import KINDS
from .config import ModuleConfig, Recipe, TaskConfig
from .data_files import input_kind
from .schema import constructor_problems

_SLOT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
MAX_LAYERS = 1024  # checking builds every layer (on the meta device): a typo of 10**6 would hang
_STAND_INS = {"vocab_size": 16, "pad_id": 0, "num_labels": 4}  # provided args for a trial build


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


def decoder_registries(recipe: Recipe) -> dict[str, Registry]:
    """Decoder slot -> the registry its type comes from: the one its tasks' kind names
    (`DECODERS` for seq2seq kinds, `HEADS` for heads); `DECODERS` for a slot no task uses."""
    found = {slot: DECODERS for slot in recipe.decoders}
    for task in reversed(list(recipe.tasks.values())):  # the first task naming a slot decides
        if task.kind in KINDS and task.decoder in found:
            found[task.decoder] = KINDS.get(task.kind).decoder_registry
    return found


def apply_module_defaults(recipe: Recipe) -> list[str]:
    """Fill each encoder/decoder from `modules:`: its type from `modules.type` (where that type
    is one its registry holds), then the options under `modules.<type>` that its constructor
    accepts (its own options win)."""
    defaults = recipe.modules or {}
    if not isinstance(defaults, dict):
        return ["modules: expected a mapping like {type: transformer, transformer: {dim: 256}}"]
    problems = _check_module_defaults(defaults)
    registries = {**{("encoders", s): ENCODERS for s in recipe.encoders},
                  **{("decoders", s): r for s, r in decoder_registries(recipe).items()}}
    for (section, slot), registry in registries.items():
        module = getattr(recipe, section)[slot]
        default_type = defaults.get("type")
        if module.type is None and isinstance(default_type, str) and default_type in registry:
            module.type = default_type
        if module.type is None:
            problems.append(f"{section}.{slot}.type: missing; name a {registry.kind} type here "
                            f"or set modules.type{choices_hint('', registry.names())}")
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
    option_types = known_types | set(HEADS.names())  # `modules.<type>:` may give heads' options
    for key, value in defaults.items():
        if key == "type":
            if not isinstance(value, str) or value not in known_types:
                problems.append(f"modules.type: {unknown('module type', value, known_types)}")
            continue
        if key not in option_types:
            problems.append(f"modules.{key}: {unknown('module type', key, option_types)}")
            continue
        if not isinstance(value, dict):
            problems.append(f"modules.{key}: expected a mapping of options, got "
                            f"{short_repr(value)}")
            continue
        accepted = set()
        for registry in (ENCODERS, DECODERS, HEADS):
            if key in registry:
                accepted |= set(registry.options(key))
        for option in value:
            if option not in accepted:
                problems.append(f"modules.{key}.{option}: "
                                f"{unknown('option', option, accepted, f'for type {key!r}')}")
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


def check_modules(modules: dict[str, ModuleConfig], registries: dict[str, Registry],
                  section: str, size_attr: str, problems: list[str]) -> dict[str, int]:
    """Check each slot's type (in its registry) and options; build each module on the meta
    device to read its size."""
    sizes = {}
    for slot, module in modules.items():
        path, registry = f"{section}.{slot}", registries[slot]
        if not _SLOT_NAME.match(slot):
            problems.append(f"{path}: a slot name must be letters, digits, '_' or '-' "
                            "and start with a letter")
        elif hasattr(nn.ModuleDict, slot):  # modules are held in an nn.ModuleDict by slot
            problems.append(f"{path}: the slot name '{slot}' is taken by torch (nn.Module has "
                            f"an attribute of that name); name the slot otherwise, e.g. '{slot}s'")
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
    accepted = inspect.signature(registry.get(module.type).__init__).parameters
    stand_ins = {k: v for k, v in _STAND_INS.items() if k in registry.provided and k in accepted}
    try:
        with torch.device("meta"):
            built = registry.build(module.type, module.options, path, **stand_ins)
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
    registries = decoder_registries(recipe)
    for name, task in recipe.tasks.items():
        path = f"tasks.{name}"
        if task.kind is not None and task.kind not in KINDS:
            problems.append(f"{path}.kind: {unknown('task kind', task.kind, KINDS.names())}")
        problems += _slot_problems(recipe, task, path)
        if task.kind in KINDS and task.decoder in registries and \
                KINDS.get(task.kind).decoder_registry is not registries[task.decoder]:
            problems.append(f"{path}.decoder: slot '{task.decoder}' holds a "
                            f"{registries[task.decoder].kind} for another task; a {task.kind} "
                            f"task needs a {KINDS.get(task.kind).decoder_registry.kind}")
        problems += _size_problems(task, path, enc_sizes, dec_sizes)
        problems += _source_problems(recipe, task, path)
        for side, file_name in (task.files or {}).items():
            if side not in ("encoder", "decoder"):
                problems.append(f"{path}.files.{side}: {unknown('side', side, ['decoder', 'encoder'])}")
            elif not isinstance(file_name, str) or not _SLOT_NAME.match(file_name):
                problems.append(f"{path}.files.{side}: got {short_repr(file_name)}, expected a file "
                                "name like the slot names (letters, digits, '_' or '-')")
    return problems


def _size_problems(task: TaskConfig, path: str, enc_sizes: dict[str, int],
                   dec_sizes: dict[str, int]) -> list[str]:
    """Every encoder of the task outputs the size its decoder reads (the memories of a
    multi-source task are concatenated, so they must agree)."""
    problems = []
    for i, slot in enumerate(task.encoder_slots if task.encoder is not None else ()):
        if slot in enc_sizes and task.decoder in dec_sizes and \
                enc_sizes[slot] != dec_sizes[task.decoder]:
            where = f"{path}.encoder[{i}]" if isinstance(task.encoder, list) else path
            problems.append(
                f"{where}: size mismatch: encoder '{slot}' outputs {enc_sizes[slot]} but "
                f"decoder '{task.decoder}' expects memory of {dec_sizes[task.decoder]} (set the "
                "same dim on both)")
    return problems


def _source_problems(recipe: Recipe, task: TaskConfig, path: str) -> list[str]:
    """A head's task reads one text encoder (its labels align with the words); `files:` may
    rename the encoder side only of a one-encoder task."""
    if task.kind not in KINDS or task.encoder is None:
        return []
    problems = []
    if KINDS.get(task.kind).decoder_registry is HEADS:
        if isinstance(task.encoder, list):
            problems.append(f"{path}.encoder: a {task.kind} task reads one encoder slot, got "
                            f"{len(task.encoder)}")
        elif task.encoder in recipe.encoders and input_kind(recipe, task.encoder) != "tokens":
            problems.append(f"{path}.encoder: a {task.kind} task reads text; slot "
                            f"'{task.encoder}' reads {input_kind(recipe, task.encoder)}")
    if isinstance(task.encoder, list) and "encoder" in (task.files or {}):
        problems.append(f"{path}.files.encoder: a multi-source task reads each encoder slot's "
                        "own files; rename the files instead")
    return problems


def _slot_problems(recipe: Recipe, task: TaskConfig, path: str) -> list[str]:
    """The task's slots exist, and have a vocabulary where they read or write tokens."""
    problems = []
    if task.encoder is not None:
        for i, slot in enumerate(task.encoder_slots):
            where = f"{path}.encoder[{i}]" if isinstance(task.encoder, list) else f"{path}.encoder"
            problems += _one_slot_problems(recipe, task, where, "encoder", slot)
    if task.decoder is not None:
        problems += _one_slot_problems(recipe, task, f"{path}.decoder", "decoder", task.decoder)
    return problems


def _one_slot_problems(recipe: Recipe, task: TaskConfig, where: str, side: str,
                       slot: str) -> list[str]:
    slots = recipe.encoders if side == "encoder" else recipe.decoders
    if slot not in slots:
        return [f"{where}: no {side} for slot '{slot}'{choices_hint(slot, slots)}"]
    if slot not in recipe.vocabs and _needs_vocab(recipe, task, side, slot):
        return [f"{where}: slot '{slot}' has no vocabulary; add vocabs.{slot}"]
    if side == "encoder" and slot in recipe.vocabs and input_kind(recipe, slot) == "features":
        return [f"vocabs.{slot}: slot '{slot}' reads features (.npy), which need no "
                "vocabulary; remove vocabs." + slot]
    return []


def _needs_vocab(recipe: Recipe, task: TaskConfig, side: str, slot: str) -> bool:
    """An encoder needs its slot's vocabulary if it reads tokens (text or facts); a decoder if
    its kind says."""
    if side == "decoder":
        return task.kind not in KINDS or KINDS.get(task.kind).target_vocab
    return input_kind(recipe, slot) in ("tokens", "facts")
