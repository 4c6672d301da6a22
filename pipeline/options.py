"""The build's Beam options: Beam's own, with each view made once.

Beam asks a pipeline's options for a typed view (``view_as``) at every transform it applies,
twice, and each new view parses every registered option again: about a millisecond each, over
a second per build of this graph. Views of one options object all read and write its one
option table, so a view made once per class serves every later request alike.
"""

from __future__ import annotations

import weakref
from typing import TypeVar

from apache_beam.options.pipeline_options import PipelineOptions

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
