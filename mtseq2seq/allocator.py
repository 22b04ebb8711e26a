"""Keep freed CPU memory for reuse instead of returning it to the system after every tensor.

glibc's ``malloc`` serves large blocks (a training step's activations, logits and gradients: tens of
MiB each) with a fresh ``mmap`` and returns them with ``munmap`` when freed. The next step's tensor
of the same size is then new memory again, and the first touch of each 4 KiB page faults and zeroes
it: in profiles of a CPU training step this cost as much as the matrix products it fed. Raising the
mmap and trim thresholds makes glibc carve such blocks from its heap and keep them when freed, the
way PyTorch's CUDA caching allocator keeps GPU memory: the process holds on to its peak usage.

Only glibc (Linux) has ``mallopt``; elsewhere this does nothing. The trainer calls it for CPU runs.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import platform

M_TRIM_THRESHOLD = -1  # mallopt parameter numbers, from glibc's <malloc.h>
M_MMAP_THRESHOLD = -3
LARGEST = 2**31 - 1  # mallopt takes a C int


def keep_freed_cpu_memory() -> bool:
    """Ask glibc to serve large blocks from its heap and keep freed memory; True if it agreed."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, LARGEST)) and bool(mallopt(M_TRIM_THRESHOLD, LARGEST))
