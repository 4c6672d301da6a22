"""Environment fix: let torchvision import under a CPU-only torch. Import before open_clip.

PyPI's torchvision wheel is built against CUDA torch; under the CPU torch its compiled ops
library fails to load, and torchvision's import then dies registering fake kernels for
`torchvision::nms`. Defining the missing operator schemas first is enough for everything
open_clip uses (transforms and models); only the compiled ops (nms, roi_align, io) stay
unavailable. Nothing happens when the library loads normally.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import torch

_LIB: torch.library.Library | None = None  # kept alive: the schemas die with it


def _compiled_ops_load() -> bool:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return True  # no torchvision: nothing to fix
    folder = os.path.dirname(spec.origin)
    libs = [f for f in os.listdir(folder) if f.startswith("_C") and f.endswith((".so", ".pyd"))]
    if not libs:
        return False
    try:
        torch.ops.load_library(os.path.join(folder, libs[0]))
    except (OSError, RuntimeError):
        return False
    return True


def apply() -> None:
    """Register torchvision's operator schemas when its compiled library cannot load."""
    global _LIB
    if _LIB is not None or "torchvision" in sys.modules or _compiled_ops_load():
        return
    _LIB = torch.library.Library("torchvision", "FRAGMENT")
    _LIB.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _LIB.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")


apply()
