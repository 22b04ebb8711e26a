"""Recipes: YAML files -> a checked, typed `Recipe` (`loader.load_recipe`), every problem at once.

`yaml_files.py` reads and merges the files and applies `--set`; `config.py` holds the typed
sections and binds them (`schema.py`); `topology.py`, `sections.py` and `data_files.py` check
what needs the registries or the disk; `describe.py` draws the graph. Nothing here builds a
module: the builder (`build/`) turns a checked recipe into objects.
"""
