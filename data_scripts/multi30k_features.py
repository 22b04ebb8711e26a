#!/usr/bin/env python
"""Align the official Multi30k ResNet-50 image features with the text of data_scripts/multi30k.py.

Reads one ``.npy`` file per split from ``--from DIR`` and writes ``OUT/{split}.img.npy``, a C-order
``(N, K, D)`` array (N images, K regions, D features, ``--dtype``) whose row *i* is the image of
line *i* of ``OUT/{split}.en`` (and .de/.fr/.cs). Input layouts (``--layout``; ``auto`` goes by the
number of axes and, for 4-D, by which two are equal):

    nd    (N, D)        pooled vectors (avgpool/pool5, D=2048)   -> (N, 1, D)
    nkd   (N, K, D)     regions first (K = 14*14 or 7*7)         -> unchanged
    ndk   (N, D, K)     flattened maps, channels first           -> (N, K, D)
    nchw  (N, C, H, W)  PyTorch maps (res4f_relu 1024x14x14, res5c 2048x7x7) -> (N, H*W, C)
    nhwc  (N, H, W, C)  TensorFlow/Caffe-export maps             -> (N, H*W, C); k = h*W + w

``--pool mean`` averages the K regions (in float64) to ``(N, 1, D)``. A split's features are
``{split}.npy`` or ``{split}[-_.]*.npy`` in DIR (``val`` also valid/dev, ``test_2016_flickr`` also
test_2016/test2016), or ``--name PATTERN`` with ``{split}`` replaced.

Where the features come from (this script downloads nothing, see --help): the multi30k/dataset
repository (https://github.com/multi30k/dataset) made them with its ``scripts/feature-extractor``
(torchvision ResNet-50, resize 256, centre crop 224) as float16 ``{split}-resnet50-avgpool.npy``
(N, 2048) and ``{split}-resnet50-res4frelu.npy`` (N, 1024, 14, 14), rows in the order of
``data/task1/image_splits/{split}.txt``. The links are on the WMT18 multimodal task page
(http://www.statmt.org/wmt18/multimodal-task.html) and in that repository; a copy is in Zenodo
record 4298396 (multi30k_resnet50_features.tar.bz2, as used by ImperialNLP/pysimt). Terms: those
of the Flickr30k images, non-commercial research and educational use.

Examples:
    python data_scripts/multi30k.py --from ../shared/data/multi30k --out data/multi30k
    python data_scripts/multi30k_features.py --from ~/features --out data/multi30k \\
        --images ../shared/data/multi30k/image_splits --name '{split}-resnet50-res4frelu.npy'
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import CHUNK, PrepError, atomic_binary, output_dir, run_cli
from tqdm import tqdm

SPLITS = ("train", "val", "test_2016_flickr")
LANGS = ("en", "de", "fr", "cs")
ALIASES = {"val": ("valid", "dev"), "test_2016_flickr": ("test_2016", "test2016")}
LAYOUT_NDIM = {"nd": 2, "nkd": 3, "ndk": 3, "nchw": 4, "nhwc": 4}
NAME_LISTS = ("{}.txt", "{}_images.txt", "{}-images.txt", "{}.images", "{}_images")
CHUNK_BYTES = 64 << 20  # input rows read per step, as float64, so memory stays flat
NO_DOWNLOAD = ("This script does not download: the official feature files are several GB (train "
               "res4f_relu alone is 29000 x 1024 x 14 x 14 float16, about 11.6 GB) and are hosted "
               "behind links (Google Drive folders, university pages, Zenodo records) that have "
               "moved over the years, so a pinned URL would soon break. Fetch them by hand (from "
               "statmt.org/wmt18/multimodal-task.html, github.com/multi30k/dataset or "
               "zenodo.org/record/4298396) and point --from at their folder.")


def load_numpy() -> Any:
    """The numpy module, imported only when needed, with an installable hint if it is missing."""
    try:
        import numpy
    except ImportError:
        raise PrepError("this script needs numpy to read and write .npy files: "
                        "pip install numpy") from None
    return numpy


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of this script."""
    parser = argparse.ArgumentParser(
        description="Write OUT/{split}.img.npy, shape (N, K, D), from the official Multi30k "
                    "ResNet-50 feature files in --from DIR, after checking that each split has as "
                    "many feature rows as text lines in OUT/{split}.{lang} (from "
                    "data_scripts/multi30k.py) and as names in its image list. Input layouts: "
                    "(N, D), (N, K, D), (N, D, K), (N, C, H, W), (N, H, W, C). Each file is "
                    "replaced atomically; exit status 2 on any data problem. " + NO_DOWNLOAD)
    parser.add_argument("--from", dest="source", type=Path, metavar="DIR", required=True,
                        help="folder holding the downloaded .npy feature files (required)")
    parser.add_argument("--out", type=Path, metavar="DIR", default=Path("data/multi30k"),
                        help="output folder (default: data/multi30k)")
    parser.add_argument("--text", type=Path, metavar="DIR", default=None,
                        help="folder with the {split}.{lang} text of multi30k.py (default: --out)")
    parser.add_argument("--images", type=Path, metavar="DIR", default=None,
                        help="folder with the image-name lists {split}.txt (default: look in "
                             "--from and --from/image_splits; without lists only counts are checked)")
    parser.add_argument("--name", metavar="PATTERN", default=None,
                        help="feature file name, '{split}' replaced, e.g. "
                             "'{split}-resnet50-res4frelu.npy' (default: the one {split}*.npy)")
    parser.add_argument("--splits", nargs="+", metavar="SPLIT", default=None,
                        help=f"splits to write (default: {' '.join(SPLITS)}, plus any other split "
                             "with both text and features, e.g. test_2017_flickr)")
    parser.add_argument("--layout", choices=("auto", *LAYOUT_NDIM), default="auto",
                        help="axes of the input arrays (default: auto)")
    parser.add_argument("--pool", choices=("none", "mean"), default="none",
                        help="mean: average the K regions into one, (N, 1, D) (default: none)")
    parser.add_argument("--dtype", choices=("float32", "float16"), default="float32",
                        help="dtype of the output (default: float32)")
    return parser.parse_args(argv)


@dataclass
class Plan:
    """One split, checked and ready to write: its features (memory-mapped) and its text."""

    split: str
    source: Path
    array: Any
    layout: str
    regions: tuple[int, int, int]  # (N, K, D) after the layout is undone
    text: Path
    names: Path | None


def aliases(split: str) -> tuple[str, ...]:
    """The names a split's files may have, its own first."""
    return (split, *ALIASES.get(split, ()))


def feature_file(folder: Path, split: str, pattern: str | None) -> Path | None:
    """The feature file of ``split`` in ``folder`` (None if there is none); raise if ambiguous."""
    if pattern is not None:
        found = [folder / pattern.replace("{split}", name) for name in aliases(split)]
        return next((path for path in found if path.is_file()), None)
    found = sorted({path for name in aliases(split) for glob in (f"{name}.npy", f"{name}[-_.]*.npy")
                    for path in folder.glob(glob) if path.is_file()})
    if len(found) > 1:
        listing = ", ".join(path.name for path in found)
        raise PrepError(f"several feature files for split {split} in {folder}: {listing}; pick one "
                        "kind with --name, e.g. --name '{split}-resnet50-res4frelu.npy'")
    return found[0] if found else None


def count_lines(path: Path) -> int:
    """Lines of a text file as multi30k.py writes them (split on ``\\n`` only)."""
    count, last = 0, b"\n"
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            count, last = count + block.count(b"\n"), block[-1:]
    return count + (last != b"\n")


def text_lines(folder: Path, split: str) -> tuple[Path, int]:
    """A text file of ``split`` and its line count; raise if there is none or languages differ."""
    counts = {path: count_lines(path) for lang in LANGS
              if (path := folder / f"{split}.{lang}").is_file()}
    if not counts:
        raise PrepError(f"no text for split {split}: expected {folder / split}.en (or .de, .fr, "
                        f".cs), as written by data_scripts/multi30k.py --out {folder}; run it first "
                        "or pass --text DIR")
    if len(set(counts.values())) > 1:
        listing = ", ".join(f"{path} has {count} lines" for path, count in counts.items())
        raise PrepError(f"split {split}: the text files are not line-parallel: {listing}")
    return next(iter(counts.items()))


def name_list(args: argparse.Namespace, split: str) -> Path | None:
    """The image-name list of ``split`` (None if not found and not asked for with --images)."""
    folders = [args.images] if args.images else [args.source, args.source / "image_splits"]
    found = [folder / form.format(name) for folder in folders for name in aliases(split)
             for form in NAME_LISTS]
    path = next((path for path in found if path.is_file()), None)
    if path is None and args.images is not None:
        raise PrepError(f"--images {args.images}: no image-name list for split {split} (looked for "
                        f"{', '.join(form.format(split) for form in NAME_LISTS)})")
    return path


def guess_layout(np: Any, path: Path, array: Any, wanted: str) -> str:
    """The layout of ``array`` (``wanted`` unless auto); raise `PrepError` on a shape it cannot be."""
    shape = tuple(array.shape)
    accepted = ("accepted: (N, D) pooled, (N, K, D) or (N, D, K) regions, (N, C, H, W) or "
                "(N, H, W, C) maps; see --layout")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise PrepError(f"{path}: array of dtype {array.dtype}, expected floating-point features")
    if array.ndim not in (2, 3, 4) or 0 in shape[1:]:
        raise PrepError(f"{path}: array of shape {shape} is not a feature layout ({accepted})")
    layout = wanted
    if wanted == "auto":
        layout = {2: "nd", 3: "nkd"}.get(array.ndim) or (
            "nchw" if shape[2] == shape[3] != shape[1] else
            "nhwc" if shape[1] == shape[2] != shape[3] else "")
    if not layout:
        raise PrepError(f"{path}: cannot tell the axes of shape {shape} (is it (N, C, H, W) or "
                        "(N, H, W, C)?); say which with --layout nchw or --layout nhwc")
    if LAYOUT_NDIM[layout] != array.ndim:
        raise PrepError(f"{path}: --layout {layout} needs a {LAYOUT_NDIM[layout]}-D array, "
                        f"got shape {shape} ({accepted})")
    return layout


def as_regions(block: Any, layout: str) -> Any:
    """Rows ``(b, ...)`` in ``layout`` as a ``(b, K, D)`` view (no copy where possible)."""
    b, shape = block.shape[0], block.shape
    return {"nd": lambda: block[:, None, :], "nkd": lambda: block,
            "ndk": lambda: block.transpose(0, 2, 1),
            "nchw": lambda: block.reshape(b, shape[1], shape[2] * shape[3]).transpose(0, 2, 1),
            "nhwc": lambda: block.reshape(b, shape[1] * shape[2], shape[3])}[layout]()


def plan_split(np: Any, args: argparse.Namespace, split: str, source: Path) -> Plan:
    """Open (memory-mapped) and check one split: layout, feature rows = text lines = image names."""
    try:
        array = np.load(source, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise PrepError(f"{source}: cannot read it as a .npy array ({error})") from None
    layout = guess_layout(np, source, array, args.layout)
    regions = (len(array), *as_regions(array[:0], layout).shape[1:])
    text, lines = text_lines(args.text or args.out, split)
    rows = f"{source} has {regions[0]} feature rows (shape {tuple(array.shape)})"
    if regions[0] != lines:
        raise PrepError(f"split {split}: {rows} but {text} has {lines} lines; the features must "
                        "be those of this split's images, in the order of its image list")
    names = name_list(args, split)
    if names is not None and (listed := count_lines(names)) != lines:
        raise PrepError(f"split {split}: {names} lists {listed} images but {rows} and {text} has "
                        f"{lines} lines")
    if layout == "nkd" and regions[1] > regions[2]:
        print(f"warning: {source}: read as (N, K, D) with K={regions[1]} regions of D="
              f"{regions[2]}; if it is (N, D, K), pass --layout ndk", file=sys.stderr)
    return Plan(split, source, array, layout, regions, text, names)


def choose_splits(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """(split, feature file) for --splits, or for the default splits plus others found."""
    text = args.text or args.out
    wanted = list(dict.fromkeys(args.splits or SPLITS))
    if args.splits is None and text.is_dir():
        stems = sorted({path.name.rpartition(".")[0] for lang in LANGS
                        for path in text.glob(f"*.{lang}")})
        wanted += [stem for stem in stems
                   if stem not in wanted and feature_file(args.source, stem, args.name)]
    chosen = []
    for split in wanted:
        path = feature_file(args.source, split, args.name)
        if path is None:
            looked = args.name.replace("{split}", split) if args.name else f"{split}*.npy"
            raise PrepError(f"no features for split {split}: no {args.source / looked} (name the "
                            "files with --name, or choose splits with --splits)")
        chosen.append((split, path))
    return chosen


def check_finite(np: Any, block: Any, source: Any, plan: Plan, start: int) -> None:
    """Raise `PrepError` if a written block holds NaN or inf, saying whether the input did."""
    if np.isfinite(block).all():
        return
    row = start + int(np.nonzero(~np.isfinite(block).reshape(len(block), -1).all(axis=1))[0][0])
    if not np.isfinite(source).all():
        raise PrepError(f"{plan.source}: row {row} holds NaN or inf; the file is corrupt")
    raise PrepError(f"{plan.source}: row {row} overflows {block.dtype}; use --dtype float32")


def write_split(np: Any, plan: Plan, path: Path, dtype: str, pool: bool) -> tuple[int, ...]:
    """Write ``plan``'s features to ``path`` as (N, K or 1, D) ``dtype``, in bounded chunks."""
    n, k, d = plan.regions
    shape = (n, 1 if pool else k, d)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": shape}
    rows = max(1, CHUNK_BYTES // (8 * k * d))
    with atomic_binary(path) as out, tqdm(total=n, desc=plan.split, unit="img", disable=None,
                                          leave=False) as bar:
        np.lib.format.write_array_header_1_0(out, header)
        for start in range(0, n, rows):
            source = plan.array[start:start + rows]
            block = as_regions(source, plan.layout)
            if pool:
                block = block.mean(axis=1, keepdims=True, dtype=np.float64)
            with np.errstate(over="ignore"):  # check_finite reports it, naming the row
                block = np.ascontiguousarray(block, dtype=dtype)
            check_finite(np, block, source, plan, start)
            out.write(block.data)
            bar.update(len(block))
    return shape


def main(argv: list[str] | None = None) -> int:
    """Check every split, then write them, and print a summary; return the exit status."""
    args = parse_args(argv)
    np = load_numpy()
    if not args.source.is_dir():
        raise PrepError(f"--from {args.source}: no such folder (expected the folder holding the "
                        "downloaded feature files, e.g. train-resnet50-res4frelu.npy)")
    plans = [plan_split(np, args, split, path) for split, path in choose_splits(args)]
    out = output_dir(args.out)
    print(f"Multi30k image features -> {out} ({args.dtype}, --pool {args.pool})")
    for plan in plans:
        shape = write_split(np, plan, out / f"{plan.split}.img.npy", args.dtype, args.pool == "mean")
        checked = f"{plan.names.name} and {plan.text.name}" if plan.names else plan.text.name
        print(f"  {plan.split:<18} {' x '.join(map(str, shape)):<18} from {plan.source.name} "
              f"({plan.layout} {tuple(plan.array.shape)}), aligned with {checked}")
    if any(plan.names is None for plan in plans):
        print("note: no image-name list found for some splits (see --images); their alignment was "
              "checked by count only", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
