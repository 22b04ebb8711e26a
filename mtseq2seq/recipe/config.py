"""A recipe's typed sections: one dataclass per YAML section, and the binding of a merged mapping
to them (`parse_recipe`, every schema problem collected with its YAML path).

The pieces below the builder (`build/`) each receive their own section (`TrainConfig`,
`ValidConfig`, `VocabConfig`, ...), never the whole `Recipe`. Reading the files is in
`yaml_files.py`; the checks that need the registries are in `topology.py` and `sections.py`.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

from ..data.noise import NoiseConfig
from ..errors import short_repr, unknown
from .schema import bind, ranged

SEED_MAX = 2**31 - 1


@dataclass
class VocabConfig:
    type: Literal["sentencepiece", "words", "labels"] = "sentencepiece"  # labels: a closed set
    size: int = ranged(8000, 1)
    model_type: Literal["unigram", "bpe"] = "unigram"
    character_coverage: float = ranged(1.0, 0.0, 1.0)
    share: Optional[str] = None  # slot whose vocabulary this slot uses (trained on both slots' text)
    unk_label: Optional[str] = None  # labels: what an unseen label maps to (default: an error)


@dataclass
class ModuleConfig:
    type: Optional[str] = None  # default: modules.type
    options: dict = field(default_factory=dict)  # everything but `type`; checked by the registry


@dataclass
class TaskConfig:
    kind: str
    encoder: Union[str, list[str]]  # a slot, or several (a multi-source task: [history, facts])
    decoder: str
    train: str = "train"
    valid: Union[str, list[str], None] = "valid"  # a list: the first selects; null: not validated
    test: Union[str, list[str], None] = "test"  # a list: each scored, one scores file per split
    ratio: Union[float, list] = 1.0  # how often: a number, or [[step, ratio], ...] (curriculum.py)
    start_at: int = ranged(0, 0)  # the first update that may schedule the task
    stop_at: Optional[int] = ranged(None, 0)  # no update from this one on schedules it
    loss_weight: float = 1.0  # how much: multiplies the task's loss (above 0)
    data_dir: Optional[str] = None  # overrides the recipe's data_dir for this task
    metric: Optional[str] = None  # overrides the task kind's metric
    max_len_a: Optional[float] = ranged(None, 0.0)  # decoding stops at a * source len + b
    max_len_b: Optional[int] = ranged(None, 0)
    patience: int = ranged(0, 0)  # stop training this task after N validations without a new best
    files: dict = field(default_factory=dict)  # side -> file name, if not the slot: {decoder: sentiment}
    batch_tokens: Optional[int] = ranged(None, 1)  # this task's batches, if not train.batch_tokens
    noise: Any = None  # source noise of training batches: a `data.noise.NoiseConfig` once bound
    embedding: Optional[Literal["encoder", "decoder", "both"]] = None  # a learned task vector
    tgt_tag: Optional[str] = None  # a reserved token put before every source: "<2de>"

    @property
    def encoder_slots(self) -> tuple[str, ...]:
        """The task's encoder slots, in order (one for most tasks)."""
        return tuple(self.encoder) if isinstance(self.encoder, list) else (self.encoder,)

    @property
    def slots(self) -> tuple[str, ...]:
        """Every slot the task names: its encoder slots, then its decoder slot."""
        return (*self.encoder_slots, self.decoder)

    def file_name(self, side: str) -> str:
        """What the files of ``side`` ('encoder' or 'decoder') are called: `<split>.<name>`; a
        multi-source task's encoder slots each read their own slot's files."""
        if side == "encoder" and isinstance(self.encoder, list):
            raise ValueError("a multi-source task has one file name per encoder slot")
        return self.files.get(side) or getattr(self, side)


@dataclass
class ScheduleConfig:
    type: str = "round_robin"
    options: dict = field(default_factory=dict)


@dataclass
class TrainConfig:
    max_steps: int = ranged(10000, 1)
    batch_tokens: int = ranged(4096, 1)
    max_len: int = ranged(128, 1)  # longer training sentences dropped, counted (classification: cut)
    optimizer: Literal["adam", "adamw"] = "adam"
    lr: float = ranged(5e-4, 0.0)
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])
    weight_decay: float = ranged(0.0, 0.0)
    lr_schedule: Literal["inverse_sqrt", "constant", "plateau"] = "inverse_sqrt"
    warmup: int = ranged(4000, 0)
    plateau_factor: float = ranged(0.5, 0.0, 1.0)
    plateau_patience: int = ranged(2, 1)
    clip_norm: float = ranged(1.0, 0.0)  # 0 disables clipping
    label_smoothing: float = ranged(0.1, 0.0, 1.0, high_open=True)
    accumulate: int = ranged(1, 1)  # batches per update
    log_every: int = ranged(100, 1)
    keep_last: int = ranged(0, 0)  # also keep checkpoint_step<N>.pt of the last N validations (0: none)
    max_bad_steps: int = ranged(10, 1)  # updates in a row with a non-finite loss/gradient: stop
    precision: Literal["fp32", "bf16", "auto"] = "fp32"  # bf16 autocast; auto: bf16 if native
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: Optional[int] = ranged(None, 1)  # torch intra-op threads on CPU
    fast_paths: Literal["tune", "default"] = "tune"  # tune: measured per machine (fast_paths.py)
    loss_weighting: Literal["fixed", "uncertainty"] = "fixed"  # uncertainty: learned (loss_weights.py)
    freeze: list[str] = field(default_factory=list)  # module paths (globs) not trained: freezing.py
    diagnose_every: int = ranged(0, 0)  # task-gradient conflicts on shared modules (gradients.py)
    gradient_surgery: Literal["none", "pcgrad"] = "none"  # pcgrad: for updates of several tasks
    dist_backend: Literal["auto", "gloo", "nccl"] = "auto"  # torchrun runs: auto = nccl on GPUs
    dist_timeout: int = ranged(1800, 1)  # seconds a rank waits for the others before failing
    compile: bool = False  # torch.compile of the layer blocks (compiling.py)
    tensorboard: Optional[bool] = None  # events in <run_dir>/tensorboard; unset: if installed


@dataclass
class StageConfig:
    """One stage of `stages:` (run in order by one `train` command); unset keys: the recipe's."""

    max_steps: int = field(metadata={"low": 1})  # this stage's updates (required)
    tasks: Optional[list[str]] = None  # the tasks it trains (default: every task)
    schedule: Any = None  # a `ScheduleConfig` once bound (default: the recipe's `schedule:`)
    lr: Optional[float] = ranged(None, 0.0)
    warmup: Optional[int] = ranged(None, 0)
    lr_schedule: Optional[Literal["inverse_sqrt", "constant", "plateau"]] = None
    freeze: Optional[list[str]] = None  # default: train.freeze

    def train_config(self, train: TrainConfig) -> TrainConfig:
        """``train`` (the recipe's `train:`) with this stage's keys."""
        overrides = {key: getattr(self, key) for key in ("max_steps", "lr", "warmup",
                                                         "lr_schedule", "freeze")
                     if getattr(self, key) is not None}
        return dataclasses.replace(train, **overrides)


@dataclass
class InitFromConfig:
    """`init_from:` chosen modules' weights from another run's checkpoint (`init_from.py`)."""

    checkpoint: str
    modules: Union[dict, list]  # {this model's module path: the checkpoint's}, or a list of paths


@dataclass
class ValidConfig:
    every: int = ranged(1000, 1)
    max_sentences: Optional[int] = ranged(None, 1)  # teacher-forced loss/accuracy: cap per task
    decode: bool = True  # also decode and score each task with its metric
    decode_sentences: Optional[int] = ranged(None, 1)  # cap on decoded sentences per task, for speed
    beam: int = ranged(1, 1)  # beam size for validation decoding and the final test scores
    alpha: float = ranged(0.6, 0.0)  # length penalty (GNMT); 0 ranks by plain log-probability
    sample: bool = False  # sample (temperature, top_k, top_p, sample_seed) instead of beam search
    temperature: float = ranged(1.0, 0.0)
    top_k: int = ranged(0, 0)  # keep the k most probable tokens (0: all)
    top_p: float = ranged(1.0, 0.0, 1.0)  # nucleus: the most probable tokens summing to top_p
    sample_seed: int = ranged(1, 0, SEED_MAX)
    select: str = "mean"  # best checkpoint + early stopping: weighted mean of main metrics, or a task
    weights: dict = field(default_factory=dict)  # task -> weight in the mean (default 1)
    patience: int = ranged(0, 0)  # stop after this many validations without a new best (0: never)


@dataclass
class ToyDataConfig:
    kind: Literal["corpus", "dialogue"] = "corpus"  # the toy corpus, or the toy grounded dialogue
    seed: int = ranged(1, 0, SEED_MAX)
    train: int = ranged(20000, 1)
    valid: int = ranged(500, 1)
    test: int = ranged(500, 1)


@dataclass
class Recipe:
    name: str = ""
    seed: int = ranged(1, 0, SEED_MAX)
    run_dir: Optional[str] = None  # default: runs/<name>
    data_dir: str = "data"
    toy_data: Optional[dict] = None  # generate the toy corpus into data_dir when missing
    plugins: list[str] = field(default_factory=list)
    vocabs: dict = field(default_factory=dict)
    modules: dict = field(default_factory=dict)  # {type: default type, <type>: default options}
    encoders: dict = field(default_factory=dict)
    decoders: dict = field(default_factory=dict)
    tasks: dict = field(default_factory=dict)
    schedule: Any = None
    train: Any = None
    valid: Any = None
    stages: Optional[dict] = None  # name -> `StageConfig` once bound; none: one stage of it all
    init_from: Any = None  # an `InitFromConfig` once bound
    path: str = ""  # the recipe file (not a YAML key)
    resolved: dict = field(default_factory=dict)  # the merged YAML, stored in checkpoints

    def task_data_dir(self, task: str) -> Path:
        return Path(self.tasks[task].data_dir or self.data_dir)


_TOP_KEYS = {"include", "name", "seed", "run_dir", "data_dir", "toy_data", "plugins", "vocabs",
             "modules", "encoders", "decoders", "tasks", "schedule", "train", "valid", "stages", "init_from"}


def parse_recipe(raw: dict, path: str, problems: list[str]) -> Recipe:
    """Typed recipe from the merged mapping; schema problems are appended to ``problems``."""
    for key in raw:
        if key not in _TOP_KEYS:
            problems.append(f"{key}: {unknown('top-level key', key, _TOP_KEYS)}")
    top = {k: v for k, v in raw.items() if k in _TOP_KEYS and k != "include"}
    recipe = bind(Recipe, top, "", problems)
    recipe.path, recipe.resolved = path, copy.deepcopy(raw)
    recipe.name = recipe.name or Path(path).stem
    recipe.vocabs = _bind_each(VocabConfig, recipe.vocabs, "vocabs", problems)
    recipe.encoders = _bind_each(ModuleConfig, recipe.encoders, "encoders", problems, extra=True)
    recipe.decoders = _bind_each(ModuleConfig, recipe.decoders, "decoders", problems, extra=True)
    recipe.tasks = _bind_each(TaskConfig, recipe.tasks, "tasks", problems)
    for name, task in recipe.tasks.items():
        problems += _encoder_list_problems(task, f"tasks.{name}.encoder")
        if task.noise is not None:
            task.noise = bind(NoiseConfig, task.noise, f"tasks.{name}.noise", problems)
    recipe.schedule = bind(ScheduleConfig, recipe.schedule, "schedule", problems, allow_extra=True)
    recipe.train = bind(TrainConfig, _unset_max_steps(recipe.train, recipe.stages), "train",
                        problems)
    recipe.valid = bind(ValidConfig, recipe.valid, "valid", problems)
    if recipe.toy_data is not None:
        recipe.toy_data = bind(ToyDataConfig, recipe.toy_data, "toy_data", problems)
    if recipe.init_from is not None:
        recipe.init_from = bind(InitFromConfig, recipe.init_from, "init_from", problems)
    if recipe.stages is not None:
        recipe.stages = _bind_stages(recipe.stages, recipe.train, raw, problems)
    return recipe


def _unset_max_steps(train: Any, stages: Any) -> Any:
    """`train:` without a `max_steps: null` that unsets an include's, allowed with `stages:`."""
    if stages is not None and isinstance(train, dict) and "max_steps" in train \
            and train["max_steps"] is None:
        return {k: v for k, v in train.items() if k != "max_steps"}
    return train


def _bind_stages(raw: Any, train: TrainConfig, top: dict, problems: list[str]) -> dict:
    """`stages:` a mapping of name -> stage, in order (`StageConfig.train_config`: `train:` with
    the stage's keys). `train.max_steps` then is their sum (a stage sets its own)."""
    if isinstance(top.get("train"), dict) and top["train"].get("max_steps") is not None:
        problems.append("train.max_steps: with stages:, each stage sets its own max_steps "
                        "(e.g. stages.<name>.max_steps); the run's is their sum (a recipe whose "
                        "include sets one unsets it with `train: {max_steps: null}`)")
    if not isinstance(raw, dict) or not raw:
        problems.append(f"stages: expected a mapping of stage names to stages, e.g. {{pretrain: "
                        f"{{tasks: [en-en], max_steps: 1000}}, finetune: {{...}}}}, got "
                        f"{short_repr(raw)}")
        return {}
    stages = _bind_each(StageConfig, raw, "stages", problems)
    for name, stage in stages.items():
        if stage.schedule is not None:
            stage.schedule = bind(ScheduleConfig, stage.schedule, f"stages.{name}.schedule",
                                  problems, allow_extra=True)
    train.max_steps = sum(s.max_steps or 0 for s in stages.values()) or train.max_steps
    return stages


def _encoder_list_problems(task: TaskConfig, path: str) -> list[str]:
    """A list of encoder slots: non-empty, no repeats; a one-slot list becomes the slot."""
    if not isinstance(task.encoder, list):
        return []
    if not task.encoder:
        task.encoder = None
        return [f"{path}: an empty list; name one encoder slot, or several for a multi-source task"]
    repeated = sorted({s for s in task.encoder if task.encoder.count(s) > 1})
    if repeated:
        return [f"{path}: slot(s) {', '.join(repeated)} named twice; each encoder runs once"]
    if len(task.encoder) == 1:
        task.encoder = task.encoder[0]
    return []


def _bind_each(cls: type, raw: Any, path: str, problems: list[str], extra: bool = False) -> dict:
    if not isinstance(raw, dict):
        problems.append(f"{path}: expected a mapping of slot or task names, got {short_repr(raw)}")
        return {}
    return {str(k): bind(cls, v, f"{path}.{k}", problems, allow_extra=extra) for k, v in raw.items()}
