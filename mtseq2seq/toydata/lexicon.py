"""The toy corpus dictionary: English word lists by part of speech, and the two invented lexicons.

Content words of the synthetic languages `de` and `fr` are invented from a hash of the English word, so
they are fixed forever (independent of the corpus seed and of the order of these lists) and share no
structure with English that a model could copy. Function words (articles, relative pronouns, "and")
are small hand-written tables whose form depends on gender, case or the gap of a relative clause.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

NOUNS = tuple("""
    dog cat mouse bird horse cow fish rabbit fox wolf bear lion tiger monkey sheep goat duck frog snake owl
    man woman boy girl child teacher doctor farmer baker king queen soldier student sailor painter singer
    house garden tree river table chair box ball book car boat bridge road hill forest city village castle
    tower window door lamp cup hat coat shoe key apple cake bread stone flower field lake ship
    """.split())
ADJECTIVES = tuple("""
    big small old young red blue green happy sad tall quiet loud brave clever lazy angry hungry tired
    little strange friendly black white yellow heavy soft dark bright pretty ugly kind shy wild rich poor
    """.split())
TRANSITIVE_VERBS = tuple("""
    saw chased liked found helped followed watched pushed pulled carried painted visited called kissed
    bit caught loved hated feared admired touched washed fed met heard greeted bought sold built broke
    dropped lifted opened cleaned hid
    """.split())
INTRANSITIVE_VERBS = tuple("""
    slept ran laughed cried danced sang jumped smiled waited walked swam fell sat stood shouted played
    rested worked arrived hurried
    """.split())
# Prepositions are split by what they attach to, so that every sentence has exactly one parse.
NOUN_PREPOSITIONS = ("with", "of", "from", "without", "about")
VERB_PREPOSITIONS = ("in", "on", "near", "under", "behind", "beside", "inside", "outside", "above", "below")
DEFINITE, INDEFINITE = "the", ("a", "an")
CONJUNCTION, RELATIVE = "and", "that"

DE_GENDERS = ("m", "f", "n")
FR_GENDERS = ("m", "f")
CASES = ("nom", "acc", "dat")
# de articles: (definite?, gender, case) -> form. Every cell differs, so the form reveals the case.
DE_ARTICLES = {
    (definite, gender, case): ("d" if definite else "ein") + vowel + ending
    for definite in (True, False)
    for gender, vowel in zip(DE_GENDERS, "aio")
    for case, ending in zip(CASES, "rnm")
}
# de relative pronouns: (gender of the head noun, case of the gap) -> form.
DE_RELATIVES = {
    (gender, case): "w" + vowel + ending
    for gender, vowel in zip(DE_GENDERS, "aio")
    for case, ending in zip(CASES, "rnm")
}
DE_AND = "unt"
FR_ARTICLES = {(True, "m"): "lo", (True, "f"): "la", (False, "m"): "un", (False, "f"): "una"}
FR_RELATIVES = {"nom": "ki", "acc": "ke"}  # the gap is the clause's subject or its object
FR_AND = "e"
FR_FEMININE_SUFFIX = "a"  # fr adjectives agree with a feminine noun by taking this suffix

# Sound inventories of the invented languages: (onsets, vowels, codas).
_SOUNDS = {
    "de": (("b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "w", "z", "sch", "kr", "tr"),
           ("a", "e", "i", "o", "u", "ei", "au"), ("", "", "n", "r", "t", "k")),
    "fr": (("b", "c", "d", "f", "j", "l", "m", "n", "p", "r", "s", "t", "v", "ch"),
           ("a", "e", "i", "o", "u", "ou", "ai"), ("", "", "", "l", "n", "s")),
}


@dataclass(frozen=True)
class Lexicon:
    """English categories plus the invented translations and grammatical genders of both languages."""

    de: dict[str, str]
    fr: dict[str, str]
    de_gender: dict[str, str]
    fr_gender: dict[str, str]

    def english_vocabulary(self) -> set[str]:
        """Every English word the grammar can emit."""
        return set(_content_words()) | {DEFINITE, *INDEFINITE, CONJUNCTION, RELATIVE}


def _content_words() -> tuple[str, ...]:
    return (NOUNS + ADJECTIVES + TRANSITIVE_VERBS + INTRANSITIVE_VERBS
            + NOUN_PREPOSITIONS + VERB_PREPOSITIONS)


def _digest(*parts: str) -> bytes:
    # hashlib, not hash(): Python salts str hashes per process, and the lexicon must never change.
    return hashlib.sha256(":".join(parts).encode("utf-8")).digest()


def invent_word(language: str, english: str, attempt: int = 0) -> str:
    """A pronounceable made-up word for `english` in `language` ("de" or "fr"); `attempt` re-rolls it."""
    onsets, vowels, codas = _SOUNDS[language]
    digest = _digest(language, english, str(attempt))
    syllables = 2 + (digest[0] % 4 == 0)  # mostly two syllables, sometimes three
    word = ""
    for index in range(syllables):
        onset, vowel, coda = digest[1 + 3 * index: 4 + 3 * index]
        word += onsets[onset % len(onsets)] + vowels[vowel % len(vowels)]
        if index == syllables - 1:
            word += codas[coda % len(codas)]
    return word


def _invent_lexicon(language: str, reserved: set[str], suffixes: tuple[str, ...] = ("",)) -> dict[str, str]:
    """Invent one distinct word per English content word, avoiding the language's function words.

    Every inflected form (word + each of `suffixes`) is kept distinct too, so no surface form is ambiguous.
    """
    taken = set(reserved)
    lexicon: dict[str, str] = {}
    for english in sorted(_content_words()):  # sorted: the result must not depend on list order
        attempt = 0
        while taken & (forms := {invent_word(language, english, attempt) + s for s in suffixes}):
            attempt += 1
        taken |= forms
        lexicon[english] = invent_word(language, english, attempt)
    return lexicon


@functools.lru_cache(maxsize=1)
def build_lexicon() -> Lexicon:
    """The one fixed lexicon of the toy languages (built once, then cached)."""
    de_reserved = {*DE_ARTICLES.values(), *DE_RELATIVES.values(), DE_AND}
    fr_reserved = {*FR_ARTICLES.values(), *FR_RELATIVES.values(), FR_AND}
    return Lexicon(
        de=_invent_lexicon("de", de_reserved),
        fr=_invent_lexicon("fr", fr_reserved, suffixes=("", FR_FEMININE_SUFFIX)),
        de_gender={noun: DE_GENDERS[_digest("de-gender", noun)[0] % 3] for noun in NOUNS},
        fr_gender={noun: FR_GENDERS[_digest("fr-gender", noun)[0] % 2] for noun in NOUNS},
    )
