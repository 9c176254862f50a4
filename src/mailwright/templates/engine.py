"""The sandboxed Jinja2 engine: compile a template variant once, render it for one recipient."""

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, Undefined
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mailwright.templates import compiler
from mailwright.templates.blocks import PARTIALS
from mailwright.templates.filters import FILTERS
from mailwright.templates.textpart import html_to_text, tidy_text

# Globals a template may call: nothing that reaches outside the context. Jinja's defaults (range,
# dict, lipsum, cycler, joiner, namespace) are replaced by this short list.
_SAFE_GLOBALS: dict[str, Any] = {"range": range, "dict": dict}
_NEWLINES = re.compile(r"[\r\n]+")
_PREVIEW_RE = re.compile(r"<mj-preview\b", re.IGNORECASE)
_HEAD_RE = re.compile(r"<mj-head\s*>", re.IGNORECASE)
_MJML_RE = re.compile(r"<mjml\b[^>]*>", re.IGNORECASE)
_BODY_RE = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
PREHEADER_MJML = "<mj-preview>{{ preheader }}</mj-preview>"
PREHEADER_HTML = (
    '<div style="display:none;max-height:0;overflow:hidden;opacity:0;mso-hide:all">{{ preheader }}</div>'
)


class RecordingUndefined(Undefined):
    """An undefined that records each use instead of failing: the save-time unknown-variable check."""

    __slots__ = ()
    used: list[str] = []

    def _record(self) -> None:
        # The recorder list is swapped in per check (see `find_unknown_variables`).
        RecordingUndefined.used.append(self._undefined_message)

    def __str__(self) -> str:
        self._record()
        return ""

    def __iter__(self) -> Any:
        self._record()
        return iter(())

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__":
            raise AttributeError(name)
        self._record()
        return self


def _finalize(value: Any) -> Any:
    # A missing profile field is None: print nothing rather than the word "None".
    return "" if value is None else value


def _default(value: Any, fallback: Any = "", boolean: bool = False) -> Any:
    """`default` that also stands in for None and "" (a contact without a first name), not only undefined."""
    if isinstance(value, Undefined) or value is None or value == "" or (boolean and not value):
        return fallback
    return value


# Every name a plain dict answers as an attribute (methods and dunders, through `object` too).
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _SandboxedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with a short path for `a.b` on the plain dicts a context is made of."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`obj.attribute` as the sandbox resolves it; a plain dict's data key skips the failed lookup."""
        # `contact.first_name` first tries the Python attribute, which on a dict raises AttributeError
        # (an exception per lookup, ~150 a render) before falling back to the item. For an exact dict
        # and a name dict has no attribute for, that attempt cannot succeed, so go to the item at once:
        # the result is the same, and dict items were never subject to the attribute checks. Anything
        # else (dict methods, dunders, subclasses, other objects) takes the checked path unchanged.
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def _make_env(*, autoescape: bool, undefined: type[Undefined]) -> ImmutableSandboxedEnvironment:
    env = _SandboxedEnvironment(
        autoescape=autoescape,
        undefined=undefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        cache_size=0,
        finalize=_finalize,
    )
    env.globals.clear()
    env.globals.update(_SAFE_GLOBALS)
    env.filters.update(FILTERS)
    env.filters["default"] = env.filters["d"] = _default
    return env


# Immutable sandbox: attribute access to internals (`__class__`, `func_globals`, ...) is refused, and
# context data cannot be mutated (`list.append`), so one recipient's render cannot leak into the next.
HTML_ENV = _make_env(autoescape=True, undefined=StrictUndefined)
TEXT_ENV = _make_env(autoescape=False, undefined=StrictUndefined)
CHECK_HTML_ENV = _make_env(autoescape=True, undefined=RecordingUndefined)
CHECK_TEXT_ENV = _make_env(autoescape=False, undefined=RecordingUndefined)


class RenderError(Exception):
    """One recipient's render failed; the message says why in words a shop owner can act on."""


@dataclass(frozen=True)
class VariantSource:
    """What one language variant of a template version is made of."""

    subject: str
    body: str
    body_format: str = "mjml"  # mjml | html
    preheader: str = ""
    text: str | None = None
    subject_variants: tuple[str, ...] = ()


@dataclass(frozen=True)
class CompiledVariant:
    """A variant ready to render: Jinja templates for subject(s), preheader, HTML and text."""

    key: str
    subjects: tuple[Template, ...]
    preheader: Template
    html: Template | None
    text: Template | None
    # Set when the body could not be compiled once: MJML and CSS inlining then run per recipient.
    per_recipient_source: Template | None
    body_format: str
    # Subjects and preheader that contain no Jinja at all, rendered (and made one line) once; None
    # where a part must be rendered per recipient.
    subject_texts: tuple[str | None, ...] = ()
    preheader_text: str | None = None

    @property
    def compiled_once(self) -> bool:
        """Whether MJML and CSS inlining ran once for this variant rather than per recipient."""
        return self.per_recipient_source is None


@dataclass(frozen=True)
class RenderedEmail:
    """What one recipient gets: subject, preheader, HTML and text."""

    subject: str
    preheader: str
    html: str
    text: str
    subject_variant: int = 0


def prepare_body(source: VariantSource) -> str:
    """The body with its blocks expanded and a preheader slot added where the author left none."""
    body = compiler.expand_includes(source.body, PARTIALS)
    if source.body_format == "mjml":
        if not _PREVIEW_RE.search(body):
            if _HEAD_RE.search(body):
                body = _HEAD_RE.sub(lambda m: m.group(0) + PREHEADER_MJML, body, count=1)
            else:
                body = _MJML_RE.sub(
                    lambda m: m.group(0) + f"<mj-head>{PREHEADER_MJML}</mj-head>", body, count=1
                )
    elif "{{ preheader" not in body:
        body = _BODY_RE.sub(lambda m: m.group(0) + PREHEADER_HTML, body, count=1)
    return body


def variant_key(source: VariantSource) -> str:
    """A content hash: compiled variants are cached by what they contain (ids can be reused)."""
    digest = hashlib.sha256()
    for part in (source.body_format, source.subject, source.preheader, source.body, source.text or ""):
        digest.update(part.encode())
        digest.update(b"\x00")
    for subject in source.subject_variants:
        digest.update(subject.encode())
    return digest.hexdigest()


_JINJA_DELIMITERS = ("{{", "{%", "{#")


def _constant_line(source: str, template: Template) -> str | None:
    # Text without a Jinja delimiter reads nothing from the context, so every recipient gets the
    # same line: render it here instead of building a Jinja context for it per recipient.
    if any(delimiter in source for delimiter in _JINJA_DELIMITERS):
        return None
    return _single_line(template.render())


@lru_cache(maxsize=256)
def _compile_cached(key: str, source: VariantSource) -> CompiledVariant:
    body = prepare_body(source)
    subject_sources = (source.subject, *source.subject_variants)
    subjects = tuple(TEXT_ENV.from_string(s) for s in subject_sources)
    preheader = TEXT_ENV.from_string(source.preheader)
    subject_texts = tuple(_constant_line(s, t) for s, t in zip(subject_sources, subjects, strict=True))
    preheader_text = _constant_line(source.preheader, preheader)
    mjml = source.body_format == "mjml"
    precompiled = compiler.precompile(body, mjml=mjml)
    text: Template | None = None
    if source.text:
        text = TEXT_ENV.from_string(source.text)
    if precompiled is None:
        per_recipient = HTML_ENV.from_string(body)
        return CompiledVariant(
            key,
            subjects,
            preheader,
            None,
            text,
            per_recipient,
            source.body_format,
            subject_texts,
            preheader_text,
        )
    if text is None:
        text = TEXT_ENV.from_string(precompiled.text_source)
    html = HTML_ENV.from_string(precompiled.html_source)
    return CompiledVariant(
        key, subjects, preheader, html, text, None, source.body_format, subject_texts, preheader_text
    )


def compile_variant(source: VariantSource) -> CompiledVariant:
    """Compile a variant once (cached by content); raises TemplateSyntaxError or MjmlError."""
    return _compile_cached(variant_key(source), source)


def _single_line(value: str) -> str:
    # A subject is a header: a newline from the data must never start another header.
    return _NEWLINES.sub(" ", value).strip()


def render_compiled(
    compiled: CompiledVariant,
    context: Mapping[str, Any],
    *,
    subject_variant: int = 0,
    link_rewriter: Callable[[str], str] | None = None,
) -> RenderedEmail:
    """Render a compiled variant for one recipient's context; raises RenderError with the reason."""
    try:
        index = subject_variant if 0 <= subject_variant < len(compiled.subjects) else 0
        subject = compiled.subject_texts[index] if compiled.subject_texts else None
        if subject is None:
            subject = _single_line(compiled.subjects[index].render(context))
        preheader = compiled.preheader_text
        if preheader is None:
            preheader = _single_line(compiled.preheader.render(context))
        data = {**context, "preheader": preheader}
        if compiled.html is not None:
            html = compiled.html.render(data)
        else:
            assert compiled.per_recipient_source is not None
            body = compiled.per_recipient_source.render(data)
            html = (
                compiler.compile_mjml(body) if compiled.body_format == "mjml" else compiler.inline_css(body)
            )
        text = tidy_text(compiled.text.render(data)) if compiled.text is not None else html_to_text(html)
    except SecurityError as exc:
        raise RenderError(f"sandbox: {exc}") from exc
    except UndefinedError as exc:
        reason = str(exc)
        prefix = "sandbox" if "unsafe" in reason else "undefined variable"
        raise RenderError(f"{prefix}: {reason}") from exc
    except TemplateError as exc:
        raise RenderError(f"template error: {exc}") from exc
    except compiler.MjmlError as exc:
        raise RenderError(f"MJML: {exc}") from exc
    except RenderError:
        raise
    except Exception as exc:  # a filter or a helper failed on this recipient's data
        raise RenderError(f"{type(exc).__name__}: {exc}") from exc
    if link_rewriter is not None:
        html = rewrite_links(html, link_rewriter)
    return RenderedEmail(subject, preheader, html, text, index)


_HREF = re.compile(r'href="(https?://[^"]+)"')


def rewrite_links(html: str, rewriter: Callable[[str], str]) -> str:
    """Pass every http(s) link of the HTML through `rewriter`, called once per distinct URL."""
    # A product's URL appears on its image, its title and its button: sign it once per message (the
    # rewriter is a function of the URL for one message, an HMAC in delivery).
    tracked: dict[str, str] = {}

    def replace(match: re.Match[str]) -> str:
        url = match.group(1)
        link = tracked.get(url)
        if link is None:
            link = tracked[url] = rewriter(url)
        return f'href="{link}"'

    return _HREF.sub(replace, html)


def syntax_errors(source: str, *, autoescape: bool = True) -> list[tuple[int | None, str]]:
    """Jinja syntax errors of a source, each with its line number."""
    env = HTML_ENV if autoescape else TEXT_ENV
    try:
        env.parse(source)
        env.from_string(source)
    except TemplateSyntaxError as exc:
        return [(exc.lineno, exc.message or str(exc))]
    except TemplateError as exc:
        return [(None, str(exc))]
    return []


def find_unknown_variables(source: str, context: Mapping[str, Any], *, autoescape: bool = True) -> list[str]:
    """Variables a source uses that the (sample) context does not have, in first-use order."""
    env = CHECK_HTML_ENV if autoescape else CHECK_TEXT_ENV
    saved = RecordingUndefined.used
    RecordingUndefined.used = []
    try:
        env.from_string(source).render(context)
        messages = list(RecordingUndefined.used)
    except TemplateError as exc:
        messages = [str(exc)]
    finally:
        RecordingUndefined.used = saved
    # Only uses count: `{% if x is defined %}` and `x | default(...)` are deliberate, not typos.
    found: list[str] = []
    for message in messages:
        if message not in found:
            found.append(message)
    return found
