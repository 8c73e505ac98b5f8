"""Zip archives through zipfile's documented API.

``ZipFile.NameToInfo`` (name → entry) is an undocumented attribute; :func:`entries` gives the same mapping from
the documented ``infolist()`` — the last entry of a duplicated name, as zipfile's own ``getinfo()`` and
``read()`` take it — built once per open archive (an archive opened for reading does not change).
"""

from __future__ import annotations

import weakref
import zipfile
from collections.abc import Mapping
from types import MappingProxyType

_ENTRIES: weakref.WeakKeyDictionary[zipfile.ZipFile, Mapping[str, zipfile.ZipInfo]] = weakref.WeakKeyDictionary()


def entries(zf: zipfile.ZipFile) -> Mapping[str, zipfile.ZipInfo]:
    """Name → entry of an archive opened for reading (read-only)."""
    found = _ENTRIES.get(zf)
    if found is None:
        found = _ENTRIES[zf] = MappingProxyType({info.filename: info for info in zf.infolist()})
    return found
