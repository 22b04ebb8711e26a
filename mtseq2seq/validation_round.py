"""A validation round of a run: each task of the current stage validated (teacher-forced, and
decoded and scored when `valid.decode`), the best trackers told, the checkpoints written.

In a run of several processes the tasks are dealt out over the ranks (task i to rank i mod world)
and their results gathered, so every rank holds the same results and takes the same decisions
(best, early stop, learning-rate plateau); rank 0 writes the records and the checkpoints. A stop
signal during such a round is acted on after it, when the ranks agree on stopping.
"""
from __future__ import annotations

import logging
from contextlib import nullcontext

from . import interrupt
from .evaluate import TaskScore, evaluate_task, format_scores
from .interrupt import Interrupted
from .search import Sampling
from .tasks import DecodeSettings
from .validate import ValidResult, format_table, validate_task

log = logging.getLogger(__name__)


def validate(trainer) -> tuple[list[ValidResult], list[TaskScore]]:
    """Teacher-forced results for every task of the stage, and decoded scores when
    `valid.decode`, in task order, on each task's first validation split; one record per task
    and split written to metrics.jsonl (a task's further splits, `valid: [a, b]`, are recorded
    with the split `valid:b` and take no part in choosing checkpoints).

    Raises `interrupt.Interrupted` between batches when a stop signal came (one process only);
    the records are written once the whole validation is done, so a stopped one leaves none.
    """
    items = [(name, "valid") for name in trainer.data.valid if name in trainer.stage.tasks]
    items += [key for key in trainer.data.valid_extra if key[0] in trainer.stage.tasks]
    with interrupt.deferred() if trainer.sync.active else nullcontext():
        mine = {item: validate_one(trainer, *item) for item in trainer.sync.mine(items)}
    results = {}
    for part in trainer.sync.gather(mine):
        results.update(part)
    for (name, role), (forced, score) in results.items():
        split = "valid" if role == "valid" else f"valid:{trainer.tasks[name].split_name(role)}"
        record = {"split": split, **forced.as_dict()}
        if score is not None:  # teacher-forced numbers and decoded metrics in one record
            record.update({score.metric: score.score, **score.others, "decoded": score.sentences})
        if role == "valid":
            record.update(trainer.weighting.report().get(name, {}))  # learned loss weights
        results[(name, role)] = (forced, score, record)
    for item in items:
        trainer.log_metrics(results[item][2])
    firsts = [results[item] for item in items if item[1] == "valid"]
    return [f for f, _, _ in firsts], [s for _, s, _ in firsts if s is not None]


def validate_one(trainer, name: str, role: str = "valid") -> tuple[ValidResult, TaskScore | None]:
    """One task's teacher-forced result on one validation split, and its decoded score when
    `valid.decode`."""
    valid, task = trainer.valid_cfg, trainer.tasks[name]
    data = trainer.data.valid[name] if role == "valid" else trainer.data.valid_extra[(name, role)]
    forced = validate_task(trainer.model, task, data, trainer.cfg.batch_tokens, trainer.device,
                           valid.max_sentences)
    if not valid.decode:
        return forced, None
    settings = DecodeSettings(valid.beam, valid.alpha, trainer.cfg.batch_tokens,
                              valid.decode_sentences, Sampling.of(valid))
    refs = trainer.data.valid_refs[name if role == "valid" else (name, role)]
    score = evaluate_task(trainer.model, task, role, data, settings, trainer.device, refs)[0]
    return forced, score


def validate_and_save(trainer) -> None:
    """Validate, then write the checkpoints; a stop during validation saves this step's
    state marked as not validated yet (resuming validates it first)."""
    trainer.pending_validation = True
    try:
        forced, scores = validate(trainer)
    except Interrupted as stop:
        log.warning("%s during the validation of step %d: saving the state; resuming "
                    "validates this step first", stop.signame, trainer.step)
        trainer.save_last()
        return
    trainer.pending_validation = False
    if not forced:
        trainer.save_last()
        return
    main = {s.task: s.score for s in scores} or {r.task: r.acc for r in forced}
    verdict = trainer.tracker.update(trainer.step, main)
    trainer.lr.observe(sum(r.loss for r in forced) / len(forced))
    trainer.stopped_early = verdict.stop
    for task in verdict.tasks_stopped:
        log.info("task %s stopped: no better %s in %d validations; its best checkpoint "
                 "(step %d) stays, the other tasks go on", task, trainer.tasks[task].metrics[0],
                 trainer.tasks[task].patience, trainer.tracker.task_best[task][1])
        trainer.log_metrics({"split": "train", "event": "task_stopped", "task": task})
    log.info("step %d validation (selection score %.2f%s)\n%s%s", trainer.step,
             verdict.selection_score, ", new best" if verdict.overall_improved else "",
             format_table(forced), "\n" + format_scores(scores) if scores else "")
    if verdict.overall_improved:
        trainer.best_report = {"valid": [r.as_dict() for r in forced],
                               "scores": [s.as_dict() for s in scores], "step": trainer.step}
    trainer.save_validation(verdict.overall_improved, verdict.tasks_improved)
    if verdict.stop and len(trainer.tracker.stopped) == len(trainer.tasks):
        log.info("early stop: every task has run out of its own patience")
    elif verdict.stop:
        log.info("early stop: no better '%s' score in %d validations", trainer.tracker.select,
                 trainer.tracker.patience)
