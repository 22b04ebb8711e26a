"""The special token ids every vocabulary shares (pad 0, unk 1, bos 2, eos 3): their one home.

Batching, search and the vocabularies import them from here, so none of them needs another's code.
"""
PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIALS = ["<pad>", "<unk>", "<s>", "</s>"]
