"""What each CLI command does, given parsed arguments."""
from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from dataclasses import asdict
from pathlib import Path

from . import saving
from .build.checkpoint import load_checkpoint
from .build.prepare import prepare as prepare_run
from .build.prepare import run_dir_of
from .data.files import roles_of
from .devices import pick_device
from .distributed import device_for
from .errors import DataError, UserError
from .evaluate import TaskScore, evaluate_task, format_scores
from .inference import generates, note_task_inputs, resolve_pair, translate_lines
from .interrupt import Interrupted, StopRequest, exit_status
from .logs import setup_logging
from .recipe.config import Recipe, ValidConfig
from .recipe.loader import load_recipe
from .search import Sampling
from .task_names import resolve_task
from .tasks import DecodeSettings
from .validate import format_table, validate_task

log = logging.getLogger(__name__)


def _recipe(args: argparse.Namespace, log_file: bool = True) -> tuple[Recipe, Path]:
    """The checked recipe and its run directory; logging to the console (and the run's
    train.log when ``log_file``: evaluate writes nothing into a run directory)."""
    recipe = load_recipe(args.recipe, args.overrides, run_dir=getattr(args, "run_dir", None))
    run_dir = run_dir_of(recipe)
    setup_logging(run_dir if log_file else None, getattr(args, "verbose", False))
    return recipe, run_dir


def prepare(args: argparse.Namespace) -> int:
    recipe, run_dir = _recipe(args)
    vocabs = prepare_run(recipe, run_dir)
    for slot, vocab in sorted(vocabs.items()):
        log.info("vocabulary %s: %s, %d entries", slot, vocab.kind, len(vocab))
    return 0


def train(args: argparse.Namespace) -> int:
    """Train, then score the best checkpoint on each task's test split; 128 + N on signal N.
    Under torchrun each process is one rank of the run (`distributed.py`); rank 0 writes."""
    from .distributed import lost_contact, process_group, ranks_from_env

    ranks = ranks_from_env()
    recipe = load_recipe(args.recipe, args.overrides, run_dir=getattr(args, "run_dir", None))
    run_dir = run_dir_of(recipe)
    setup_logging(run_dir if ranks.is_main else None, getattr(args, "verbose", False), ranks.rank)
    last = run_dir / saving.LAST
    if args.resume and not last.is_file():
        raise UserError(f"--resume: no {last} to continue from (train without --resume to start)")
    cfg = recipe.train
    with process_group(ranks, cfg.dist_backend, device_for(cfg.device, ranks), cfg.dist_timeout):
        try:
            return _train(args, recipe, run_dir, ranks)
        except RuntimeError as err:  # a collective failed: another rank is gone
            found = lost_contact(err, ranks)
            if found is None:
                raise
            raise found from None


def _train(args: argparse.Namespace, recipe: Recipe, run_dir: Path, ranks) -> int:
    from .build.trainer import build_trainer
    from .distributed import RankSync
    from .fast_paths import apply, choose_for_run
    from .init_from import init_modules
    from .validate import ValidResult

    sync = RankSync(ranks)
    vocabs = sync.main_first(lambda: prepare_run(recipe, run_dir))  # rank 0 writes the vocabs
    trainer = build_trainer(recipe, run_dir, vocabs, ranks)
    choices = choose_for_run(trainer.model, recipe.train.batch_tokens, trainer.precision,
                             trainer.device, recipe.train.fast_paths) if ranks.is_main else None
    if ranks.active:  # rank 0's measured choice on every rank
        apply(sync.from_main(choices) or [], trainer.precision)
    if not trainer.resume(restart=args.restart) and recipe.init_from is not None:
        init_modules(trainer.model, recipe.init_from.checkpoint, recipe.init_from.modules, vocabs)
    report = trainer.train()
    last = run_dir / saving.LAST
    if trainer.interrupted:
        if ranks.is_main:
            again = " ".join(["mtseq2seq", "train", shlex.quote(args.recipe),
                              *[f"--set {shlex.quote(o)}" for o in args.overrides],
                              "--run-dir", shlex.quote(str(run_dir)), "--resume"])
            print(f"\nstopped by {trainer.interrupted} at step {trainer.step}; {last} holds the "
                  f"state. Continue with:\n  {again}", file=sys.stderr)
        return exit_status(trainer.interrupted)
    if not ranks.is_main:
        return 0  # rank 0 prints and tests the best checkpoint
    best = run_dir / saving.BEST
    print(f"\nvalidation of the best checkpoint (step {report.get('step')}, {best}):")
    print(format_table([ValidResult(**r) for r in report["valid"]]))
    if with_split(recipe, "test") and best.is_file():
        return _test_best(recipe, best, trainer.device)
    return 0


def _test_best(recipe: Recipe, best: Path, device) -> int:
    """Score ``best`` on every task's test split; a stop signal ends it between batches."""
    with StopRequest("stopping the test decoding") as stop:
        try:
            scores = score_checkpoint(recipe, best, "test", with_split(recipe, "test"),
                                      _settings(recipe), device)
        except Interrupted:
            print(f"\nstopped by {stop.requested} during the test decoding; the checkpoints are "
                  f"complete. Score them with:\n  mtseq2seq evaluate {shlex.quote(recipe.path)} "
                  f"--checkpoint {shlex.quote(str(best))}", file=sys.stderr)
            return exit_status(stop.requested)
    step = saving.read_record(best)["step"]
    print(f"\ntest scores of the best checkpoint ({best}, step {step}):")
    print_scores(scores)
    return 0


def with_split(recipe: Recipe, role: str) -> list[str]:
    """The tasks that name a ``role`` split (a helper task may have `test: null`)."""
    return [name for name, cfg in recipe.tasks.items() if getattr(cfg, role)]


def _settings(recipe: Recipe, args: argparse.Namespace | None = None) -> DecodeSettings:
    """Decoding as the recipe's `valid:` says, with the command line's flags on top."""
    beam, alpha = getattr(args, "beam", None), getattr(args, "alpha", None)
    return DecodeSettings(beam or recipe.valid.beam,
                          recipe.valid.alpha if alpha is None else alpha, recipe.train.batch_tokens,
                          sampling=sampling_from(args, recipe.valid))


def sampling_from(args: argparse.Namespace | None, valid: ValidConfig | None) -> Sampling | None:
    """`--sample` and its options (falling back on the recipe's valid.*), or None for search."""
    flags = {name: getattr(args, name, None) for name in ("temperature", "top_k", "top_p", "seed")}
    if not getattr(args, "sample", False):
        if any(value is not None for value in flags.values()):
            given = [f"--{k.replace('_', '-')}" for k, v in flags.items() if v is not None]
            raise UserError(f"{', '.join(given)}: only used with --sample")
        return Sampling.of(valid) if valid is not None else None
    base = Sampling.of(valid) if valid is not None and valid.sample else Sampling()
    chosen = {"temperature": base.temperature, "top_k": base.top_k, "top_p": base.top_p,
              "seed": base.seed, **{k: v for k, v in flags.items() if v is not None}}
    try:
        return Sampling(**chosen)
    except ValueError as err:
        raise UserError(f"--sample: {err}") from None


def score_checkpoint(recipe: Recipe, path: Path, role: str, tasks: list[str],
                     settings: DecodeSettings, device) -> dict[str, list[TaskScore]]:
    """Decode and score ``tasks`` on each of their ``role`` splits (`test: [a, b]` is two);
    split name -> scores. Each split's table is also written as JSON, next to the checkpoint
    and named by the split, with each task's teacher-forced loss and perplexity on it."""
    loaded = load_checkpoint(path, device, recipe)
    by_split: dict[str, list[tuple[str, str]]] = {}  # split name -> [(task, role key)]
    for name in tasks:
        for key in roles_of(role, loaded.tasks[name].files):
            by_split.setdefault(loaded.tasks[name].split_name(key), []).append((name, key))
    found = {}
    for split, members in by_split.items():
        scores, forced = [], []
        for name, key in members:
            task = loaded.tasks[name]
            data = task.kind.load(task, key, None)
            forced.append(validate_task(loaded.model, task, data, settings.batch_tokens, device))
            scores.append(evaluate_task(loaded.model, task, key, data, settings, device)[0])
        out = path.with_name(f"{path.stem}.{split}.scores.json")
        out.write_text(json.dumps({
            "checkpoint": str(path), "step": loaded.step, "split": split, "role": role,
            "beam": settings.beam, "alpha": settings.alpha,
            "sampling": asdict(settings.sampling) if settings.sampling else None,
            "scores": [s.as_dict() for s in scores],
            "teacher_forced": [f.as_dict() for f in forced]}, indent=2) + "\n")
        print(f"\nteacher-forced on {split} ({path.name}):\n{format_table(forced)}")
        log.info("scores written to %s", out)
        found[split] = scores
    return found


def print_scores(found: dict[str, list[TaskScore]]) -> None:
    """Each split's score table, under the split's name when there are several."""
    for split, scores in found.items():
        print(f"{split}:\n{format_scores(scores)}" if len(found) > 1 else format_scores(scores))


def evaluate(args: argparse.Namespace) -> int:
    recipe, _ = _recipe(args, log_file=False)
    tasks = [resolve_task(task, recipe.tasks, "--tasks", "the recipe")  # `en-de` is en>de
             for task in args.tasks] if args.tasks else with_split(recipe, args.split)
    if not tasks:
        raise UserError(f"--split {args.split}: no task of the recipe names a {args.split} split")
    for task in tasks:
        if not getattr(recipe.tasks[task], args.split):
            raise UserError(f"--split {args.split}: task '{task}' names no {args.split} split "
                            f"(tasks.{task}.{args.split})")
    print_scores(score_checkpoint(recipe, Path(args.checkpoint), args.split, tasks,
                                  _settings(recipe, args), pick_device(args.device)))
    return 0


def translate(args: argparse.Namespace) -> int:
    """Translate stdin (a head's task: one label, or one line of labels, per input line)."""
    from .hypotheses import DEFAULT_MAX_LEN
    from .translate_io import check_pair_args, note_zero_shot, read_input, write_output

    sampling = sampling_from(args, None)
    if sampling is None and (args.beam < 1 or not 1 <= args.n_best <= args.beam):
        raise UserError(f"--beam {args.beam} --n-best {args.n_best}: need 1 <= n-best <= beam")
    if args.n_best < 1:
        raise UserError(f"--n-best {args.n_best}: need at least 1")
    check_pair_args(args.task, args.encoder, args.decoder)  # before the slow checkpoint load
    setup_logging(None, getattr(args, "verbose", False))  # warnings on stderr, stdout stays clean
    device = pick_device(args.device)
    loaded = load_checkpoint(args.checkpoint, device)
    task, pair = resolve_pair(loaded.model, args.task, args.encoder, args.decoder)
    if not generates(loaded.model, pair) and args.n_best > 1:
        raise UserError(f"--n-best {args.n_best}: task {task} predicts labels (one per line)")
    if args.plot_attention and not generates(loaded.model, pair):
        raise UserError(f"--plot-attention: task {task} predicts labels; it has no attention")
    if args.task is None:
        note_zero_shot(loaded.model.tasks, pair)  # a warning if no task trained this pair
        note_task_inputs(loaded.tasks, pair)  # tags and task embeddings need --task
    lines, bad_line = read_input(sys.stdin.buffer, args.skip_bad_lines)
    if generates(loaded.model, pair):
        max_len = loaded.tasks[task].max_len if task else DEFAULT_MAX_LEN
        out: list[list] = [[] for _ in lines]
        for row, hyps in translate_lines(loaded.model, loaded.vocabs, pair, lines, args.beam,
                                         args.alpha, args.n_best, args.batch_size, max_len,
                                         device, sampling,
                                         loaded.tasks[task] if args.task else None):
            out[row] = hyps
        write_output(sys.stdout, out, loaded.vocabs[pair[1]], args.n_best)
        if args.plot_attention:
            _plot_attention(loaded, args.task and task, pair, lines, out, Path(args.plot_attention))
    else:
        for text in _predict_labels(loaded.model, loaded.tasks[task], lines, device):
            print(text)
    if bad_line is not None:
        raise DataError(f"{bad_line}; the {len(lines)} line(s) before it are translated on "
                        "stdout (--skip-bad-lines goes on, with an empty line for a bad one)")
    return 0


def _plot_attention(loaded, task: str | None, pair, lines: list[str], out: list,
                    folder: Path) -> None:
    """Heatmaps of the first translated lines' attention (`attention_plots.py`)."""
    from .attention_plots import plot_attention, translation_pairs

    built = loaded.tasks[task] if task else None
    pairs = translation_pairs(loaded.model, loaded.vocabs, pair, lines, out, built)
    for path in plot_attention(loaded.model, task or pair, pairs, folder, loaded.vocabs):
        print(f"attention heatmap: {path}", file=sys.stderr)


def _predict_labels(model, task, lines: list[str], device) -> list[str]:
    """A head's prediction for every non-empty line (an empty line gives an empty one)."""
    from .evaluate import predict_split

    rows = [i for i, line in enumerate(lines) if line.strip()]
    out = [""] * len(lines)
    if rows:
        data = task.kind.from_lines(task, [lines[i] for i in rows])
        for row, text in zip(rows, predict_split(model, task, data, DecodeSettings(), device)):
            out[row] = text
    return out
