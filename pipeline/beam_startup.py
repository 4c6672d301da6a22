"""What Beam spends on a build before its first record, cut where Beam spends it for nothing.

This build's graph has about 725 transforms, and Beam's own per-transform work at start-up
cost more CPU than thousands of pages do. Three of its costs are kept here:

- **DoFn specs.** Beam finds a DoFn's state and timer parameters by taking the signature of
  every method of the DoFn, and it does so each time it meets the DoFn: when the ParDo is
  made, when the graph is turned into its portable form, and in every bundle processor. For
  about 500 ParDos that is 4,000 walks and 130,000 signatures. The specs are the defaults of
  the methods' parameters, which a class fixes, so they are kept per class (``cache_dofn_specs``).
  Instances whose specs could differ from their class's are looked up every time: a wrapped
  callable (``beam.Map``) whose function has default arguments, or an instance holding a
  method of its own.
- **Argument lists.** Beam also takes the signature of each method it will call (``process``,
  ``setup``, ``finish_bundle``...) when it wraps a DoFn, again in every bundle processor: about
  a millisecond per DoFn. A function's argument names and defaults are fixed by its code and
  its defaults, so they are kept per function object (``cache_function_args``); a function
  whose defaults were replaced since is read again. Functions unpickled anew (lambdas) are
  new objects and are read as before.
- **Options views.** Beam asks a pipeline's options for a typed view (``view_as``) twice at
  every transform it applies, and each new view parses every registered option again, about a
  millisecond each. Views of one options object all read and write its one option table, so
  ``BuildOptions`` makes a view once per class and hands it out again.

(Graph-time type inference, the third, is an option: ``pipeline.run.pipeline_options``.)
"""

from __future__ import annotations

import types
import weakref
from typing import Any, TypeVar

from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms import core, userstate
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


def cache_dofn_specs(uncached: Any = userstate.get_dofn_specs) -> None:
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


ArgSpec = tuple[list[str], list[Any]]
# function -> {bound?: (its __defaults__, its __kwdefaults__, argument spec)}
_arg_specs: weakref.WeakKeyDictionary[types.FunctionType, dict[bool, tuple[Any, Any, ArgSpec]]] = (
    weakref.WeakKeyDictionary())


def cache_function_args(uncached: Any = core.get_function_args_defaults) -> None:
    """Route Beam's argument-list lookups through a per-function cache (idempotent)."""
    if getattr(core.get_function_args_defaults, "_m3w_cached", False):
        return

    def get_function_args_defaults(f: Any) -> ArgSpec:
        bound = isinstance(f, types.MethodType)  # a bound method's signature drops `self`
        func = f.__func__ if bound else f
        if type(func) is not types.FunctionType:  # partials, builtins, callable objects
            return uncached(f)
        per = _arg_specs.setdefault(func, {})
        hit = per.get(bound)
        if hit is None or hit[0] is not func.__defaults__ or hit[1] is not func.__kwdefaults__:
            hit = per[bound] = (func.__defaults__, func.__kwdefaults__, uncached(f))
        args, defaults = hit[2]
        return list(args), list(defaults)  # copies: callers own what they get

    get_function_args_defaults._m3w_cached = True  # type: ignore[attr-defined]
    get_function_args_defaults.uncached = uncached  # type: ignore[attr-defined]
    core.get_function_args_defaults = get_function_args_defaults


_View = TypeVar("_View", bound=PipelineOptions)
_views: weakref.WeakKeyDictionary[PipelineOptions, dict[type, PipelineOptions]] = (
    weakref.WeakKeyDictionary())


class BuildOptions(PipelineOptions):
    """PipelineOptions whose views are kept (no options of its own)."""

    def view_as(self, cls: type[_View]) -> _View:
        views = _views.setdefault(self, {})
        view = views.get(cls)
        if view is None:
            view = views[cls] = super().view_as(cls)
        return view  # type: ignore[return-value]
