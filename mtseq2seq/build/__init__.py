"""The builder layer: the only place that turns a checked recipe into objects.

`prepare.py` (toy data, vocabularies, data checks), `vocabs.py`, `tasks.py` (each task with its
kind, files, metrics and limits), `model.py`, `trainer.py` (data, scheduler, optimizer and the
trainer) and `checkpoint.py` (a trained checkpoint back into model, vocabularies and tasks).
Below this package nothing sees a `Recipe`: each piece receives its own section and the objects
it works with.
"""
