"""State and timer specs of a DoFn, looked up once per DoFn class instead of once per use.

Beam finds a DoFn's state and timer parameters by taking the signature of every method of the
DoFn, and it does so each time it meets the DoFn: when the ParDo is made, when the graph is
turned into its portable form, and in every bundle processor. This build has about 500 ParDos,
so a run made 4,000 such walks and 130,000 signatures: over a second of CPU at start-up, paid
again by every test build. The specs are the defaults of the methods' parameters, which a class
fixes, so they are kept per class. Instances whose specs could differ from their class's are
looked up every time: a wrapped callable (``beam.Map``) whose function has default arguments,
or an instance holding a method of its own.
"""

from __future__ import annotations

import types
from typing import Any

from apache_beam.transforms import userstate
from apache_beam.transforms.core import CallableWrapperDoFn

_by_class: dict[type, tuple[set[Any], set[Any]]] = {}


def class_key(dofn: Any) -> type | None:
    """The class whose specs ``dofn`` shares, or None when its own must be read."""
    if any(isinstance(v, types.MethodType) for v in vars(dofn).values()):
        return None
    if isinstance(dofn, CallableWrapperDoFn):
        fn = dofn._process_argspec_fn()  # the parameters `process` is inspected through
        if not isinstance(fn, types.FunctionType) or fn.__defaults__ or fn.__kwdefaults__:
            return None
    return type(dofn)


def install(uncached: Any = userstate.get_dofn_specs) -> None:
    """Route Beam's spec lookups through the per-class cache (idempotent)."""
    if getattr(userstate.get_dofn_specs, "_m3w_cached", False):
        return

    def get_dofn_specs(dofn: Any) -> tuple[set[Any], set[Any]]:
        key = class_key(dofn)
        if key is None:
            return uncached(dofn)
        specs = _by_class.get(key)
        if specs is None:
            specs = _by_class[key] = uncached(dofn)
        return set(specs[0]), set(specs[1])  # copies: callers own what they get

    get_dofn_specs._m3w_cached = True  # type: ignore[attr-defined]
    get_dofn_specs.uncached = uncached  # type: ignore[attr-defined]
    userstate.get_dofn_specs = get_dofn_specs
