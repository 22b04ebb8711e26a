"""Child process of data_speed.py: `mtseq2seq train ...` up to the end of its first update.

    python bench/first_step_child.py train RECIPE --set ... --run-dir DIR --restart

Runs the real command line (``mtseq2seq.__main__.main``) with ``Trainer.train_step`` wrapped to
print, as one JSON line, the wall-clock times (``time.time()``) at which torch's import started and
ended and the first update started and ended, then exits at once (no validation, no checkpoint).
``import torch`` is done first, on its own, so its cost is measured in this very process.
"""
import time

T_START = time.time()
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

T_TORCH_0 = time.time()
import torch  # noqa: E402,F401

T_TORCH_1 = time.time()
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mtseq2seq import trainer as trainer_module  # noqa: E402

_train_step = trainer_module.Trainer.train_step


def _first_step(self, tasks):
    began = time.time()
    stats = _train_step(self, tasks)
    print(json.dumps({"start": T_START, "torch_import": [T_TORCH_0, T_TORCH_1],
                      "step": [began, time.time()], "tasks": tasks,
                      "tokens": sum(n for _, n in stats.values())}), flush=True)
    os._exit(0)


trainer_module.Trainer.train_step = _first_step

if __name__ == "__main__":
    from mtseq2seq.__main__ import main

    sys.exit(main(sys.argv[1:]))
