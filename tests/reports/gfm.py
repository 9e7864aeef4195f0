"""Markdown rendered as GitHub renders it (``cmarkgfm``: GitHub's cmark-gfm with its table,
autolink, strikethrough and tagfilter extensions), and what in the result would be live."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import cmarkgfm
from cmarkgfm.cmark import Options

# The elements auditor's own Markdown makes; anything else came from the payload.
OURS = {"p", "h3", "h4", "strong", "em", "table", "thead", "tbody", "tr", "th", "td", "code",
        "pre", "ul", "ol", "li", "br", "sub", "details", "summary", "hr"}
# What GitHub turns into a mention, a cross-reference or an emoji outside code.
_GITHUB_TEXT = re.compile(r"(?<![\w`])@[A-Za-z0-9]|(?<![\w&])#[0-9]|:[a-z0-9_+-]+:"
                          r"|https?://|www\.|\w@\w")


def render(markdown: str) -> str:
    """HTML as github.com makes it from a comment (raw HTML kept, as GitHub then
    sanitises it: ``tagfilter`` is what disarms ``<script>`` and the like)."""
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


# Payloads mark what they put inside the raw HTML auditor itself uses (<sub>, <summary>)
# with this word: rendered inside such an element, it came through as HTML.
MARKER = "PWN"
_OUR_RAW = ("sub", "summary")  # our <details> holds image text: its <summary> does not


class _Walk(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []  # outside code and pre
        self.marked: list[str] = []  # the marker inside one of our raw HTML elements
        self._in_code = 0
        self._in_raw: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in ("code", "pre"):
            self._in_code += 1
        if tag in _OUR_RAW:
            self._in_raw.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("code", "pre"):
            self._in_code -= 1
        if tag in _OUR_RAW and tag in self._in_raw:
            self._in_raw.remove(tag)

    def handle_data(self, data: str) -> None:
        if self._in_raw and MARKER in data and not self._in_code:
            self.marked.append(f"<{self._in_raw[-1]}>{data}")
        if not self._in_code:
            self.text.append(data)


def live(markdown: str) -> list[str]:
    """What in ``markdown`` would render as something other than text: elements auditor
    does not make (links, images, raw HTML), and mentions, references, emojis and
    autolinks GitHub would make of the text outside code."""
    walk = _Walk()
    walk.feed(render(markdown))
    found = [f"<{tag}>" for tag in walk.tags if tag not in OURS] + walk.marked
    found += [m.group() for m in _GITHUB_TEXT.finditer("".join(walk.text))]
    return found
