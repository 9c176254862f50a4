"""Compile a template body once per version: MJML to responsive HTML, CSS inlined, text part derived.

MJML compilation takes ~10-30 ms a document and CSS inlining a few more, far too slow to repeat for
every recipient. Only the Jinja parts of a body depend on the recipient, so we compile around them:

1. Every Jinja construct is swapped for an inert placeholder: an expression `{{ ... }}` becomes a
   word (`mwje7z`) that MJML and the CSS inliner copy through text and attribute values untouched; a
   statement `{% ... %}` becomes an HTML comment (`<!--mwjs3z-->`), because comments are the one
   node an HTML5 parser leaves in place inside tables (text between `<tr>`s would be moved out of the
   table). A statement standing between MJML components is wrapped in `<mj-raw>`, which MJML copies
   verbatim into the output at that spot.
2. MJML compiles that document once; css-inline inlines it once; the text part is derived once.
3. The placeholders are swapped back for the original Jinja text, giving one HTML template and one
   text template for the version, each rendered per recipient by the sandboxed Jinja environment.

This is only correct if the compiled output keeps each statement exactly once, in the original
order, outside Outlook conditional comments, and each expression within the same statements as in
the source (MJML copies some attributes, e.g. a background colour, into several places: harmless for
an expression, fatal for `{% if %}`). `precompile` verifies exactly that and returns None when it
does not hold; the caller then runs the whole pipeline per recipient (slow, but always right).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import css_inline
from jinja2 import Environment, TemplateSyntaxError, meta, nodes
from mjml import mjml_to_html

from mailwright.templates.textpart import html_to_text

_JINJA = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}", re.DOTALL)
_INCLUDE = re.compile(r"\{%-?\s*include\s+[\"']([^\"']+)[\"']\s*-?%\}")
_PLACEHOLDER = re.compile(r"mwj[es]\d+z")
_STATEMENT_COMMENT = re.compile(r"<!--mwjs(\d+)z-->")
_EXPRESSION = re.compile(r"mwje(\d+)z")
_STATEMENT_MARK = re.compile(r"\x00(\d+)\x00")
_CONDITIONAL = re.compile(r"<!--\[if.*?<!\[endif\]-->", re.DOTALL)
_ATTRIBUTES_BLOCK = re.compile(r"<mj-attributes\b.*?</mj-attributes>", re.DOTALL)
_BRACE = re.compile(r"\{(?=[{%#])")
# A tag (attributes may hold quoted '>'), a comment, or a statement marker.
_SCAN = re.compile(
    r"<!--.*?-->|<(/?)([a-zA-Z][\w:-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>|\x00(\d+)\x00", re.DOTALL
)
# MJML components whose content is HTML copied as is (statements inside them need no <mj-raw>).
_ENDING_TAGS = frozenset(
    {
        "mj-text",
        "mj-button",
        "mj-table",
        "mj-raw",
        "mj-style",
        "mj-title",
        "mj-preview",
        "mj-navbar-link",
        "mj-social-element",
        "mj-accordion-title",
        "mj-accordion-text",
    }
)
_MAX_INCLUDE_DEPTH = 8

INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


@dataclass(frozen=True)
class Precompiled:
    """One version's body as Jinja source: responsive, CSS-inlined HTML and its text part."""

    html_source: str
    text_source: str


class MjmlError(Exception):
    """MJML refused the document."""


def expand_includes(source: str, partials: Mapping[str, str], _depth: int = 0) -> str:
    """Inline `{% include "name" %}` of known partials as text (an include sees the same context)."""
    if _depth > _MAX_INCLUDE_DEPTH:
        return source

    def replace(match: re.Match[str]) -> str:
        body = partials.get(match.group(1))
        return match.group(0) if body is None else expand_includes(body, partials, _depth + 1)

    return _INCLUDE.sub(replace, source)


def unknown_includes(source: str, partials: Mapping[str, str]) -> list[str]:
    """Names included by a source that are not known partials."""
    return [name for name in _INCLUDE.findall(source) if name not in partials]


def compile_mjml(mjml: str) -> str:
    """MJML to HTML with the CSS inlined (`@media` rules kept, nothing fetched)."""
    result = mjml_to_html(mjml)
    if result.errors:
        raise MjmlError("; ".join(str(e) for e in result.errors))
    return str(INLINER.inline(result.html))


def inline_css(html: str) -> str:
    """Inline a plain HTML document's CSS (`@media` rules kept, nothing fetched)."""
    return str(INLINER.inline(html))


def escape_braces(text: str) -> str:
    """Make literal `{{`, `{%` and `{#` in generated markup print as themselves under Jinja."""
    return _BRACE.sub("{{ '{' }}", text)


@dataclass
class _Protected:
    text: str
    statements: list[str]
    expressions: list[str]
    # For each expression: how many statements precede it in the source (its scope), or -1 when it
    # reads no name a statement binds (then MJML may copy it anywhere, e.g. a brand colour default).
    expression_scope: list[int]
    prelude: str
    epilogue: str
    # Expressions in <mj-attributes> are defaults: they vanish when no component uses them.
    optional: frozenset[int] = frozenset()


def _protect(source: str, *, mjml: bool) -> _Protected | None:
    if _PLACEHOLDER.search(source) or "\x00" in source or re.search(r"\{%-?\s*raw", source):
        return None
    statements: list[str] = []
    expressions: list[str] = []
    scope: list[int] = []

    def swap(match: re.Match[str]) -> str:
        text = match.group(0)
        if text.startswith("{#"):
            return ""
        if text.startswith("{%"):
            statements.append(text)
            return f"\x00{len(statements) - 1}\x00"
        expressions.append(text)
        scope.append(len(statements))
        return f"mwje{len(expressions) - 1}z"

    marked = _JINJA.sub(swap, source)
    bound = _bound_names(source)
    if bound is None:
        return None
    scope = [position if _reads(expressions[i], bound) else -1 for i, position in enumerate(scope)]
    out: list[str] = []
    prelude: list[str] = []
    epilogue: list[str] = []
    ending: str | None = None
    inside_root = not mjml
    after_root = False
    position = 0
    for match in _SCAN.finditer(marked):
        out.append(marked[position : match.start()])
        position = match.end()
        whole = match.group(0)
        if match.group(4) is not None:
            index = int(match.group(4))
            comment = f"<!--mwjs{index}z-->"
            if ending is not None:
                out.append(comment)
            elif not inside_root:
                # Statements around the <mjml> root (set, import, macro) render nothing themselves.
                (epilogue if after_root else prelude).append(statements[index])
            elif mjml:
                out.append(f"<mj-raw>{comment}</mj-raw>")
            else:
                out.append(comment)
            continue
        if "\x00" in whole:
            return None  # a statement inside a tag's attributes: MJML may copy it; not safe
        out.append(whole)
        closing, name = match.group(1), (match.group(2) or "").lower()
        if not name:
            continue
        if ending is not None:
            if closing and name == ending:
                ending = None
            continue
        self_closing = whole.rstrip(">").rstrip().endswith("/")
        if mjml and name == "mjml":
            inside_root, after_root = (False, True) if closing else (True, False)
        elif mjml and not closing and not self_closing and name in _ENDING_TAGS:
            ending = name
    out.append(marked[position:])
    optional = frozenset(
        int(index) for block in _ATTRIBUTES_BLOCK.findall(marked) for index in _EXPRESSION.findall(block)
    )
    return _Protected(
        "".join(out), statements, expressions, scope, "".join(prelude), "".join(epilogue), optional
    )


_PARSER = Environment()


def _bound_names(source: str) -> set[str] | None:
    """Names the template's statements bind (loop targets, set, with, macro parameters)."""
    try:
        ast = _PARSER.parse(source)
    except TemplateSyntaxError:
        return None
    return {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}


@lru_cache(maxsize=4096)
def _reads_names(expression: str) -> frozenset[str] | None:
    try:
        return frozenset(meta.find_undeclared_variables(_PARSER.parse(expression)))
    except TemplateSyntaxError:
        return None


def _reads(expression: str, bound: set[str]) -> bool:
    """Whether an expression reads any of the bound names (conservatively True when unsure)."""
    names = _reads_names(expression)
    return names is None or bool(names & bound)


def _placeholders_intact(html: str, protected: _Protected) -> bool:
    order = [int(m.group(1)) for m in _STATEMENT_COMMENT.finditer(html)]
    if order != list(range(len(protected.statements))):
        return False
    for block in _CONDITIONAL.finditer(html):
        if "mwjs" in block.group(0):
            return False
    seen = [False] * len(protected.expressions)
    preceding = 0
    for match in re.finditer(r"<!--mwjs\d+z-->|mwje(\d+)z", html):
        if match.group(1) is None:
            preceding += 1
            continue
        index = int(match.group(1))
        if index >= len(seen) or protected.expression_scope[index] not in (-1, preceding):
            return False
        seen[index] = True
    return all(seen[i] or i in protected.optional for i in range(len(seen)))


def _restore(text: str, protected: _Protected) -> str:
    text = escape_braces(text)
    text = _STATEMENT_COMMENT.sub(lambda m: protected.statements[int(m.group(1))], text)
    text = _EXPRESSION.sub(lambda m: protected.expressions[int(m.group(1))], text)
    return protected.prelude + text + protected.epilogue


def precompile(source: str, *, mjml: bool) -> Precompiled | None:
    """Compile a body once with its Jinja parts kept as Jinja; None when that cannot be done safely."""
    protected = _protect(source, mjml=mjml)
    if protected is None:
        return None
    html = compile_mjml(protected.text) if mjml else inline_css(protected.text)
    if not _placeholders_intact(html, protected):
        return None
    text = html_to_text(html, keep_comment=lambda data: bool(re.fullmatch(r"mwjs\d+z", data)))
    return Precompiled(html_source=_restore(html, protected), text_source=_restore(text, protected))
