"""The plain-text part of a message, produced from its HTML.

A streaming converter (no tree): it keeps every piece of text, link and comment in document order.
That order is what lets the compiled-once pipeline turn the HTML of a template version, with its
Jinja statements still standing as `<!--...-->` markers, into a text template whose loops and
conditions still wrap the right lines. Tree-building converters (inscriptis, which sits on lxml)
move text they find between table rows, which would tear a `{% for %}` away from its rows.
"""

import re
from collections.abc import Callable
from html.parser import HTMLParser

_BLOCK = frozenset(
    {"p", "div", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "section", "hr"}
)
_SKIP = frozenset({"style", "script", "head", "title"})
_SPACES = re.compile(r"[ \t\r\f\v\u200b]+")
# Runs of spacing that collapsing to one space changes: two or more characters, or any that is not
# a plain space. A lone space is left alone, so text with ordinary spacing needs no substitution.
_SPACE_RUNS = re.compile(r"[\t\r\f\v\u200b][ \t\r\f\v\u200b]*| [ \t\r\f\v\u200b]+")
_ODD_SPACE = re.compile(r"[\t\r\f\v\u200b]")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_TRAILING = re.compile(r"[ \t]+\n")
_LEADING = re.compile(r"\n[ \t]+")


class _Converter(HTMLParser):
    def __init__(self, keep_comment: Callable[[str], bool]) -> None:
        super().__init__(convert_charrefs=True)
        self.keep_comment = keep_comment
        self.out: list[str] = []
        self.skip_depth = 0
        self.hidden_depth = 0
        self.tag_stack: list[tuple[str, bool]] = []
        self.link: str | None = None
        self.link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag in _SKIP:
            self.skip_depth += 1
            return
        # The preheader sits in a hidden div: it is the inbox preview, not body text.
        hidden = "display:none" in values.get("style", "").replace(" ", "")
        if tag not in ("br", "img", "hr", "meta", "link", "input"):
            self.tag_stack.append((tag, hidden))
            if hidden:
                self.hidden_depth += 1
        if tag == "br" or tag in _BLOCK:
            self._emit("\n")
        elif tag == "td":
            self._emit(" ")
        elif tag == "a":
            self.link = values.get("href", "")
            self.link_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        while self.tag_stack:
            open_tag, hidden = self.tag_stack.pop()
            if hidden:
                self.hidden_depth -= 1
            if open_tag == tag:
                break
        if tag == "a" and self.link is not None:
            label = _SPACES.sub(" ", "".join(self.link_text)).strip()
            href = self.link
            self.link = None
            # An image-only link (a product photo) repeats the titled link next to it: leave it out.
            if not label:
                return
            if href and not href.startswith(("mailto:", "#")) and label != href:
                self._emit(f"{label}: {href}")
            else:
                self._emit(label)
        elif tag in _BLOCK:
            self._emit("\n")

    def handle_data(self, data: str) -> None:
        if self.skip_depth or self.hidden_depth:
            return
        if self.link is not None:
            self.link_text.append(data)
        else:
            self._emit(data)

    def handle_comment(self, data: str) -> None:
        if self.keep_comment(data):
            self._emit(f"<!--{data}-->")

    def _emit(self, text: str) -> None:
        self.out.append(text)


def html_to_text(html: str, *, keep_comment: Callable[[str], bool] | None = None) -> str:
    """Readable plain text of an HTML email: paragraphs, 'label: url' links, no markup."""
    converter = _Converter(keep_comment or (lambda _data: False))
    converter.feed(html)
    converter.close()
    return tidy_text("".join(converter.out))


def tidy_text(text: str) -> str:
    """Collapse runs of spaces and blank lines, as a rendered text part should look."""
    # This runs on every recipient's text part: each step first checks, with a cheap substring test,
    # that it has something to change (the substitutions cost ~30 us a message even when they do not).
    if "  " in text or _ODD_SPACE.search(text):
        text = _SPACE_RUNS.sub(" ", text)
    # Spacing is now plain single spaces, so only " \n" and "\n " are left to trim around newlines.
    if " \n" in text:
        text = _TRAILING.sub("\n", text)
    if "\n " in text:
        text = _LEADING.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip() + "\n"
