"""Values a DoFn yields from ``finish_bundle``, where Beam needs them windowed explicitly."""

from __future__ import annotations

from typing import Any

from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

_WINDOW = GlobalWindow()


def at_bundle_end(value: Any) -> WindowedValue:
    """``value`` in the global window (every element of the build lives there)."""
    return WindowedValue(value, _WINDOW.max_timestamp(), (_WINDOW,))
