"""A toy knowledge-grounded dialogue: answering a question needs one fact from a memory of facts.

`generate_dialogue(out_dir)` writes `{train,valid,test}.{hist,facts,resp}` plus `dialogue_manifest.json`
(it can share a folder with the toy corpus: the names do not overlap). Line i of the three files of a
split is one example:

    facts  3-6 facts about a few entities, shuffled, joined by FACT_SEPARATOR " ||| ":
               the cat is red ||| the dog is small ||| the bird is in the house ||| the cat is happy
    hist   the dialogue so far, turns joined by TURN_SEPARATOR " <turn> " (as data_scripts/cmu_dog.py
           writes them), the user's question last, sometimes after a greeting exchange:
               hello ! <turn> hello ! ask me about the world . <turn> what colour is the cat ?
    resp   the answer: the one fact about that entity and attribute, plus " .":   the cat is red .

Four question types, each about one attribute of an entity (a noun of the toy lexicon that is not a
place): colour ("what colour is the X ?", 6 colours), size ("how big is the X ?", 4 sizes), mood ("how
does the X feel ?", 5 moods) and place ("where is the X ?", 6 prepositions x 20 place nouns). Values are
uniform and independent of everything in `hist`, so without the facts a model can only guess (at best
1/4 of size answers, fewer for the others). The memory always holds exactly one fact about the asked
entity and attribute, and distractors: other attributes of the same entity and the same attribute of
other entities (no entity has two facts of one attribute).

About `GENERIC_SHARE` of the examples are generic turns (a greeting, a thank-you, a goodbye) whose
response is fixed by `hist` and needs no fact; their memory is drawn all the same.

Deterministic like the corpus: a private `random.Random` per split, held-out splits drawn first, and no
(hist, facts) pair occurs twice or in two splits. Written atomically, the manifest last.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..errors import UserError
from . import lexicon as lex
from .corpus import SPLITS
from .writer import _write_lines, manifest_matches, resolve_sizes, write_manifest

DIALOGUE_FORMAT_NAME = "mtseq2seq.toydialogue"
DIALOGUE_FORMAT_VERSION = 1  # bump whenever the output changes
DIALOGUE_MANIFEST_NAME = "dialogue_manifest.json"
DIALOGUE_SLOTS = ("hist", "facts", "resp")
DIALOGUE_DEFAULT_SIZES: dict[str, int] = {"train": 8000, "valid": 300, "test": 300}
FACT_SEPARATOR = " ||| "
TURN_SEPARATOR = " <turn> "  # unlike FACT_SEPARATOR, so turn and fact boundaries differ
GENERIC_SHARE = 0.1
GREETING_SHARE = 0.25  # of the questions, those after a greeting exchange

PLACES = ("house", "garden", "tree", "river", "table", "chair", "box", "car", "boat", "bridge", "road",
          "hill", "forest", "city", "village", "castle", "tower", "field", "lake", "ship")
ENTITIES = tuple(noun for noun in lex.NOUNS if noun not in PLACES)
LOCATIONS = ("in", "on", "near", "under", "behind", "beside")
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "colour": ("red", "blue", "green", "black", "white", "yellow"),
    "size": ("big", "small", "tall", "little"),
    "mood": ("happy", "sad", "angry", "hungry", "tired"),
    "place": tuple(f"{prep} the {place}" for prep in LOCATIONS for place in PLACES),
}
QUESTIONS = {"colour": "what colour is the {} ?", "size": "how big is the {} ?",
             "mood": "how does the {} feel ?", "place": "where is the {} ?"}
GREETINGS = (("hello !", "hello ! ask me about the world ."), ("hi !", "hi ! what do you want to know ?"),
             ("good morning !", "good morning ! how can i help ?"))
GENERIC = (("hello !", "hello ! ask me about the world ."), ("thank you !", "you are welcome !"),
           ("good bye !", "good bye ! come back soon ."),
           ("who are you ?", "i know the facts of this world ."))


@dataclass(frozen=True)
class Fact:
    """One fact of the memory: an entity's value of one attribute."""

    entity: str
    attribute: str  # one of ATTRIBUTES
    value: str

    def text(self) -> str:
        return f"the {self.entity} is {self.value}"


@dataclass(frozen=True)
class DialogueExample:
    """One example; `question` is the asked (entity, attribute), or None for a generic turn."""

    facts: tuple[Fact, ...]
    hist: str
    resp: str
    question: tuple[str, str] | None

    def line(self, slot: str) -> str:
        """The line for `slot` (one of DIALOGUE_SLOTS)."""
        if slot == "facts":
            return FACT_SEPARATOR.join(fact.text() for fact in self.facts)
        return getattr(self, slot)


def make_dialogue(rng: random.Random) -> DialogueExample:
    """Draw one example from `rng` (see the module docstring)."""
    entity, attribute = rng.choice(ENTITIES), rng.choice(tuple(ATTRIBUTES))
    facts = _memory(rng, entity, attribute)
    if rng.random() < GENERIC_SHARE:
        hist, resp = rng.choice(GENERIC)
        return DialogueExample(facts=facts, hist=hist, resp=resp, question=None)
    turns = [QUESTIONS[attribute].format(entity)]
    if rng.random() < GREETING_SHARE:
        turns = [*rng.choice(GREETINGS), *turns]
    (answer,) = [fact for fact in facts if (fact.entity, fact.attribute) == (entity, attribute)]
    return DialogueExample(facts=facts, hist=TURN_SEPARATOR.join(turns), resp=answer.text() + " .",
                           question=(entity, attribute))


def _memory(rng: random.Random, entity: str, attribute: str) -> tuple[Fact, ...]:
    """3-6 shuffled facts: (entity, attribute) once, the rest about 2-4 entities, no pair twice."""
    size = rng.randint(3, 6)
    others = rng.sample([e for e in ENTITIES if e != entity], rng.randint(1, 3))
    pairs = [(e, a) for e in (entity, *others) for a in ATTRIBUTES if (e, a) != (entity, attribute)]
    chosen = [(entity, attribute), *rng.sample(pairs, size - 1)]
    facts = [Fact(e, a, rng.choice(ATTRIBUTES[a])) for e, a in chosen]
    rng.shuffle(facts)
    return tuple(facts)


def sample_dialogue_splits(seed: int, sizes: Mapping[str, int]) -> dict[str, list[DialogueExample]]:
    """Draw every split; no (hist, facts) pair occurs twice, within a split or across splits."""
    seen: set[tuple[str, str]] = set()
    splits: dict[str, list[DialogueExample]] = {}
    for split in ("valid", "test", "train"):  # held-out first: they stay put when train grows
        rng = random.Random(f"mtseq2seq.toydialogue:{seed}:{split}")
        examples: list[DialogueExample] = []
        for _ in range(20 * sizes[split] + 1000):
            if len(examples) == sizes[split]:
                break
            example = make_dialogue(rng)
            key = (example.hist, example.line("facts"))
            if key not in seen:
                seen.add(key)
                examples.append(example)
        if len(examples) < sizes[split]:
            raise UserError(f"toy dialogue: could not draw {sizes[split]} new examples for split "
                            f"'{split}' (got {len(examples)}); ask for fewer")
        splits[split] = examples
    return {split: splits[split] for split in SPLITS}


def generate_dialogue(out_dir: str | os.PathLike, seed: int = 1, sizes: Mapping[str, int] | None = None
                      ) -> dict:
    """Write `{train,valid,test}.{hist,facts,resp}` and `dialogue_manifest.json` into `out_dir`.

    Args:
        out_dir: directory to write to (created if missing; files of an older dialogue are replaced).
        seed: the same seed and sizes always give byte-identical files.
        sizes: examples per split; missing splits take `DIALOGUE_DEFAULT_SIZES` (8000 / 300 / 300).

    Returns:
        The manifest that was written (format, version, seed, sizes, slots, separators, and per file
        its line count and sha256).
    """
    resolved = resolve_sizes(sizes, DIALOGUE_DEFAULT_SIZES)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / DIALOGUE_MANIFEST_NAME).unlink(missing_ok=True)  # incomplete until the new manifest lands
    files: dict[str, dict] = {}
    for split, examples in sample_dialogue_splits(seed, resolved).items():
        for slot in DIALOGUE_SLOTS:
            files[f"{split}.{slot}"] = _write_lines(out / f"{split}.{slot}", [e.line(slot) for e in examples])
    manifest = {"format": DIALOGUE_FORMAT_NAME, "version": DIALOGUE_FORMAT_VERSION, "seed": seed,
                "sizes": resolved, "slots": list(DIALOGUE_SLOTS), "fact_separator": FACT_SEPARATOR,
                "turn_separator": TURN_SEPARATOR, "files": files}
    write_manifest(out / DIALOGUE_MANIFEST_NAME, manifest)
    return manifest


def is_dialogue_current(out_dir: str | os.PathLike, seed: int = 1, sizes: Mapping[str, int] | None = None,
                        check_hashes: bool = True) -> bool:
    """True if `out_dir` holds a complete toy dialogue of this format version, seed and sizes."""
    expected = {"format": DIALOGUE_FORMAT_NAME, "version": DIALOGUE_FORMAT_VERSION, "seed": seed,
                "sizes": resolve_sizes(sizes, DIALOGUE_DEFAULT_SIZES)}
    wanted = {f"{split}.{slot}" for split in SPLITS for slot in DIALOGUE_SLOTS}
    return manifest_matches(out_dir, DIALOGUE_MANIFEST_NAME, expected, wanted, check_hashes)
