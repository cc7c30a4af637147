"""The page's JavaScript, read from the files of ``aereport/views/js`` (shipped as package data).

Every callback a page runs is a file there, never a string in Python: ``tap_marker.js`` (a
plane's tap), ``transition.js`` (the animated layout switch), and the exported page's
``math.js``, ``runtime.js``, ``decode_tap.js`` and ``explorer_event.js``. ``math.js`` holds the
page's twins of Python arithmetic, tested in Node against it (``tests/test_js.py``).

>>> script("tap_marker.js").startswith("//")
True
"""
from __future__ import annotations

import functools
from importlib import resources


@functools.lru_cache(maxsize=None)
def script(name: str) -> str:
    """The text of ``views/js/<name>``.

    >>> "cb_obj" in script("tap_marker.js")
    True
    """
    return resources.files(__package__).joinpath("js", name).read_text(encoding="utf-8")
