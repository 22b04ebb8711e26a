"""Rule-based translation of a toy English tree into the synthetic language `de`.

What a model has to learn beyond word substitution:
- verb-final order in relative clauses (main clauses keep English order: subject, verb, object);
- articles agree with the noun's gender (3 genders) and the NP's case: nominative for subjects,
  accusative for objects, dative after any preposition;
- relative pronouns agree with the head noun's gender and take the case of the gap in the clause.
"""
from __future__ import annotations

from . import lexicon as lex
from .tree import Node, Word, relative_gap


def translate(tree: Node) -> str:
    """The `de` sentence for a sentence tree (label S)."""
    return " ".join(render(tree))


def render(node: Node, case: str = "nom", head_gender: str | None = None,
           verb_final: bool = False) -> list[str]:
    """`de` tokens of any constituent, given what its context decides.

    Args:
        node: the constituent (S, NP, VP, PP or SBAR).
        case: case of an NP ("nom", "acc", "dat"); ignored by other labels.
        head_gender: gender of the noun an SBAR modifies (needed for the relative pronoun).
        verb_final: whether a VP is inside a relative clause (its verb then goes last).
    """
    if node.label == "S":
        return _clause(node, verb_final)
    if node.label == "NP":
        return _noun_phrase(node, case)
    if node.label == "VP":
        return _verb_phrase(node, verb_final)
    if node.label == "PP":
        preposition, object_np = node.children
        return [_word(preposition)] + _noun_phrase(object_np, "dat")
    if node.label == "SBAR":
        assert head_gender is not None, "an SBAR needs the gender of the noun it modifies"
        return _relative_clause(node, head_gender)
    raise AssertionError(f"unknown label {node.label!r}")


def relative_pronoun(head_gender: str, gap_case: str) -> str:
    """The `de` relative pronoun for a head noun of `head_gender` and a gap in `gap_case`."""
    return lex.DE_RELATIVES[(head_gender, gap_case)]


def article(definite: bool, gender: str, case: str) -> str:
    """The `de` article for a noun of `gender` in `case`."""
    return lex.DE_ARTICLES[(definite, gender, case)]


def _clause(node: Node, verb_final: bool) -> list[str]:
    tokens: list[str] = []
    for child in node.child_nodes():
        tokens += _noun_phrase(child, "nom") if child.label == "NP" else _verb_phrase(child, verb_final)
    return tokens


def _relative_clause(node: Node, head_gender: str) -> list[str]:
    (clause,) = node.child_nodes("S")
    return [relative_pronoun(head_gender, relative_gap(node))] + _clause(clause, verb_final=True)


def _verb_phrase(node: Node, verb_final: bool) -> list[str]:
    if node.is_coordination():
        first, second = node.child_nodes("VP")
        return _verb_phrase(first, verb_final) + [lex.DE_AND] + _verb_phrase(second, verb_final)
    (verb,) = node.child_words("VERB")
    rest: list[str] = []
    for child in node.child_nodes():
        rest += _noun_phrase(child, "acc") if child.label == "NP" else render(child)
    return rest + [_word(verb)] if verb_final else [_word(verb)] + rest


def _noun_phrase(node: Node, case: str) -> list[str]:
    if node.is_coordination():
        first, second = node.child_nodes("NP")
        return _noun_phrase(first, case) + [lex.DE_AND] + _noun_phrase(second, case)
    (noun,) = node.child_words("NOUN")
    gender = lex.build_lexicon().de_gender[noun.text]
    tokens: list[str] = []
    for child in node.children:
        if isinstance(child, Node):
            tokens += render(child, head_gender=gender)
        elif child.pos == "DET":
            tokens.append(article(child.text == lex.DEFINITE, gender, case))
        else:
            tokens.append(_word(child))
    return tokens


def _word(word: Word) -> str:
    return lex.build_lexicon().de[word.text]
