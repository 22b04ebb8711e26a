"""Rule-based translation of a toy English tree into the synthetic language `fr`.

What a model has to learn beyond word substitution:
- adjectives follow the noun (in their English order) and take a suffix when the noun is feminine;
- articles agree with the noun's gender (2 genders);
- the relative pronoun says whether the clause's gap is its subject or its object.
"""
from __future__ import annotations

from . import lexicon as lex
from .tree import Node, Word, relative_gap


def translate(tree: Node) -> str:
    """The `fr` sentence for a sentence tree (label S)."""
    return " ".join(render(tree))


def render(node: Node) -> list[str]:
    """`fr` tokens of any constituent (S, NP, VP, PP or SBAR); no context is needed."""
    if node.label == "NP" and not node.is_coordination():
        return _noun_phrase(node)
    if node.label == "SBAR":
        (clause,) = node.child_nodes("S")
        return [lex.FR_RELATIVES[relative_gap(node)]] + render(clause)
    tokens: list[str] = []
    for child in node.children:
        tokens += render(child) if isinstance(child, Node) else [_word(child)]
    return tokens


def adjective(english: str, gender: str) -> str:
    """The `fr` form of an adjective agreeing with a noun of `gender`."""
    stem = lex.build_lexicon().fr[english]
    return stem + lex.FR_FEMININE_SUFFIX if gender == "f" else stem


def _noun_phrase(node: Node) -> list[str]:
    (noun,) = node.child_words("NOUN")
    gender = lex.build_lexicon().fr_gender[noun.text]
    (determiner,) = node.child_words("DET")
    adjectives = [adjective(word.text, gender) for word in node.child_words("ADJ")]
    tokens = [lex.FR_ARTICLES[(determiner.text == lex.DEFINITE, gender)], _word(noun)] + adjectives
    for modifier in node.child_nodes():
        tokens += render(modifier)
    return tokens


def _word(word: Word) -> str:
    if word.pos == "CONJ":
        return lex.FR_AND
    return lex.build_lexicon().fr[word.text]
