"""One rank of a test run (started by tests/test_distributed.py with torchrun's environment:
RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT): trains a recipe through the library
and saves this rank's weights before and after, so the test can compare the ranks.

    python tests/dist_worker.py RECIPE RUN_DIR OUT_DIR [--union WORLD]

``--union WORLD`` (in one process): each update trains one batch made of the batches the WORLD
ranks of a distributed run would train in that update, for the single-process reference.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.nn.utils.rnn import pad_sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtseq2seq.build.prepare import prepare  # noqa: E402
from mtseq2seq.build.trainer import build_trainer  # noqa: E402
from mtseq2seq.data.batching import Batch, TaskIterator  # noqa: E402
from mtseq2seq.distributed import RankSync, process_group, ranks_from_env  # noqa: E402
from mtseq2seq.recipe.loader import load_recipe  # noqa: E402
from mtseq2seq.specials import PAD  # noqa: E402


def merged(batches: list[Batch]) -> Batch:
    """One batch of the rows of ``batches`` (seq2seq batches of one source), padded alike."""
    def cat(tensors: list[torch.Tensor], pad: int | bool) -> torch.Tensor:
        rows = [row for t in tensors for row in t]
        return pad_sequence(rows, batch_first=True, padding_value=pad)

    return Batch(cat([b.src for b in batches], PAD), cat([b.src_mask for b in batches], False),
                 cat([b.tgt_in for b in batches], PAD), cat([b.tgt_out for b in batches], PAD),
                 torch.cat([b.index for b in batches]))


class Union:
    """The batches of ``world`` ranks' shards of one iterator, merged per update."""

    def __init__(self, it: TaskIterator, world: int) -> None:
        self.shards = [TaskIterator(it.data, it.make_batch, it.batch_tokens, it.seed,
                                    shard=(rank, world)) for rank in range(world)]

    def __next__(self) -> Batch:
        return merged([next(shard) for shard in self.shards])

    def state_dict(self) -> dict:
        return self.shards[0].state_dict()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("recipe")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--union", type=int, default=0)
    args = parser.parse_args()
    ranks = ranks_from_env()
    recipe = load_recipe(args.recipe, [], run_dir=str(args.run_dir))
    with process_group(ranks, "gloo", torch.device("cpu"), 60):
        vocabs = RankSync(ranks).main_first(lambda: prepare(recipe, args.run_dir))
        trainer = build_trainer(recipe, args.run_dir, vocabs, ranks)
        if args.union:
            trainer.data.train = {name: Union(it, args.union)
                                  for name, it in trainer.data.train.items()}
        before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
        trainer.train()
        args.out.mkdir(parents=True, exist_ok=True)
        torch.save({"before": before, "after": trainer.model.state_dict(), "step": trainer.step},
                   args.out / f"rank{ranks.rank}.pt")


if __name__ == "__main__":
    main()
