"""The JSON documents of an image (docker-save ``manifest.json``, ``oci-layout``,
``index.json``, manifests, indexes, configs, engine answers): parsed with bounds, and
their fields read with their types checked.

Every one of them is hostile input. A document is refused when it is larger than
``MAX_DOCUMENT`` or nests deeper than the parser's recursion bound (about 1,000 levels;
an image's documents nest a handful, and the parser would raise RecursionError).
A field of the wrong type is refused with a sentence naming the document and the field.
"""

from __future__ import annotations

import json
import re
from typing import Any

from auditor.errors import FormatError

MAX_DOCUMENT = 16 * 1024 * 1024  # manifests, indexes and configs are small; refuse giants
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_lone_surrogates(value: Any) -> Any:
    """``value`` with each lone surrogate in its strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_no_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_no_lone_surrogates(k): _no_lone_surrogates(v) for k, v in value.items()}
    return value


def load_json(raw: bytes, what: str) -> Any:
    """``raw`` parsed, or FormatError: not JSON, too large, or nested too deeply."""
    if len(raw) > MAX_DOCUMENT:
        raise FormatError(f"{what} is larger than {MAX_DOCUMENT // (1 << 20)} MiB, the most "
                          "auditor reads for an image document")
    try:
        doc = json.loads(raw)
        # A lone surrogate ("\ud800") is valid JSON and no valid text: it would stop every
        # later encode (a fingerprint, a report). Rare, so looked for in the bytes first.
        return _no_lone_surrogates(doc) if _SURROGATE_ESCAPE.search(raw) else doc
    except RecursionError:
        pass
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"{what} is not valid JSON ({str(exc)[:100]})") from None
    raise FormatError(f"{what} nests too deeply (about 1,000 levels or more): "
                      "not an image document")


def load_object(raw: bytes, what: str) -> dict[str, Any]:
    doc = load_json(raw, what)
    if not isinstance(doc, dict):
        raise FormatError(f"{what} is not a JSON object")
    return doc


def opt_str(doc: dict[str, Any], key: str, what: str) -> str | None:
    """``doc[key]``: a string, or None when absent or null; any other type is refused."""
    value = doc.get(key)
    if value is None or isinstance(value, str):
        return value
    raise FormatError(f"{what}: {key!r} is {_kind(value)}, not a string")


def opt_dict(doc: dict[str, Any], key: str, what: str) -> dict[str, Any]:
    """``doc[key]``: an object, or {} when absent or null; any other type is refused."""
    value = doc.get(key)
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise FormatError(f"{what}: {key!r} is {_kind(value)}, not an object")


def opt_list(doc: dict[str, Any], key: str, what: str) -> list[Any]:
    """``doc[key]``: a list, or [] when absent or null; any other type is refused."""
    value = doc.get(key)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise FormatError(f"{what}: {key!r} is {_kind(value)}, not a list")


def str_list(doc: dict[str, Any], key: str, what: str) -> list[str]:
    """``doc[key]``: a list of strings ([] when absent or null)."""
    items = opt_list(doc, key, what)
    for item in items:
        if not isinstance(item, str):
            raise FormatError(f"{what}: {key!r} holds {_kind(item)}, not only strings")
    return items


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), "null")
