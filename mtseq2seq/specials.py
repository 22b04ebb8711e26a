"""The special token ids every vocabulary shares (pad 0, unk 1, bos 2, eos 3): their one home.

Batching, search and the vocabularies import them from here, so none of them needs another's code.
`MASK` is reserved only in the vocabularies of slots that some task masks (`tasks.<t>.noise.mask`,
`data/noise.py`): it is trained in as one more symbol there (id 4), so every other vocabulary,
and every recipe without masking, keeps exactly the ids it had.
"""
PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIALS = ["<pad>", "<unk>", "<s>", "</s>"]
MASK = "<mask>"
