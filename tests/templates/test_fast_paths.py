"""The render fast paths give exactly what the plain paths they short-cut gave."""

import random
import re
from decimal import Decimal
from typing import Any

import pytest
from jinja2 import StrictUndefined
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mailwright.templates import engine, filters
from mailwright.templates.engine import VariantSource, compile_variant, render_compiled, rewrite_links
from mailwright.templates.textpart import tidy_text

pytestmark = pytest.mark.nodb


class _Data(dict[str, Any]):
    """A dict subclass: it must keep the sandbox's checked path."""


@pytest.mark.parametrize(
    ("source", "data"),
    [
        ("{{ d.name }}", {"d": {"name": "Ada"}}),
        ("{{ d.items }}", {"d": {"items": 3}}),  # a key named like a dict method: the method wins
        ("{{ d.get('x', 1) }}", {"d": {}}),
        ("{{ d.name }}", {"d": _Data(name="Ada")}),
        ("{{ d['name'] }}", {"d": {"name": "Ada"}}),
        ("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", {"d": {"a": 1, "b": 2}}),
    ],
)
def test_dict_attribute_short_path_matches_the_stock_sandbox(source: str, data: dict[str, Any]) -> None:
    stock = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
    assert engine.HTML_ENV.from_string(source).render(data) == stock.from_string(source).render(data)


@pytest.mark.parametrize(
    "source",
    [
        "{{ d.__class__ }}",
        "{{ d.__class__.__mro__ }}",
        "{{ d.update }}",
        "{{ d.clear() }}",
        "{{ d.pop('a') }}",
    ],
)
def test_dict_internals_and_mutators_stay_refused(source: str) -> None:
    with pytest.raises((SecurityError, UndefinedError)):
        engine.HTML_ENV.from_string(source).render({"d": {"a": 1, "__class__": "data"}})


def test_missing_dict_key_is_still_an_undefined_error() -> None:
    with pytest.raises(UndefinedError, match="has no attribute 'missing'"):
        engine.HTML_ENV.from_string("{{ d.missing }}").render({"d": {}})


_SPACES = re.compile(r"[ \t\r\f\v\u200b]+")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_TRAILING = re.compile(r"[ \t]+\n")
_LEADING = re.compile(r"\n[ \t]+")


def _tidy_reference(text: str) -> str:
    """The four unconditional substitutions tidy_text short-cuts."""
    text = _SPACES.sub(" ", text)
    text = _TRAILING.sub("\n", text)
    text = _LEADING.sub("\n", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip() + "\n"


def test_tidy_text_matches_the_unconditional_substitutions() -> None:
    pieces = [" ", "  ", "\t", "\n", "\n\n\n", "\r", "\u200b", "\xa0", "\f", "\v", "a", "word ", "b\n"]
    rng = random.Random(4)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        assert tidy_text(text) == _tidy_reference(text), repr(text)


def test_money_cache_keeps_types_and_currencies_apart() -> None:
    template = engine.TEXT_ENV.from_string("{{ v | money }}|{{ v | money('EUR') }}|{{ v | money_minor }}")
    for value in (49, 49.0, Decimal("49.50"), "49.5", "4950", True, None, "abc"):
        for locale in ("en", "de-DE"):
            expected = "|".join(
                (
                    filters._money_major_text.__wrapped__(value, None, "GBP", locale),
                    filters._money_major_text.__wrapped__(value, "EUR", "GBP", locale),
                    filters._money_minor_text.__wrapped__(value, None, "GBP", locale),
                )
            )
            data = {"v": value, "locale": locale, "currency": "GBP"}
            # Twice: the second render is answered from the cache.
            assert template.render(data) == template.render(data) == expected
    assert template.render({"v": True}) == "||"
    assert template.render({"v": 1, "locale": "en", "currency": "USD"}) == "$1.00|€1.00|$0.01"
    assert template.render({"v": 1.0, "locale": "en", "currency": "USD"}) == "$1.00|€1.00|$0.01"


def test_links_are_rewritten_once_per_distinct_url() -> None:
    html = (
        '<a href="https://a.example/1">x</a><img src="https://a.example/i.png">'
        '<a href="https://a.example/1">y</a><a href="mailto:s@example.com">m</a>'
        '<a href="http://b.example/?q=1&amp;r=2">z</a><a href="https://">empty</a>'
    )
    calls: list[str] = []

    def rewriter(url: str) -> str:
        calls.append(url)
        return f"https://t.example/{len(calls)}"

    assert rewrite_links(html, rewriter) == (
        '<a href="https://t.example/1">x</a><img src="https://a.example/i.png">'
        '<a href="https://t.example/1">y</a><a href="mailto:s@example.com">m</a>'
        '<a href="https://t.example/2">z</a><a href="https://">empty</a>'
    )
    assert calls == ["https://a.example/1", "http://b.example/?q=1&amp;r=2"]


def test_constant_subject_and_preheader_are_rendered_once() -> None:
    body = "<mjml><mj-body><mj-section><mj-column><mj-text>{{ contact.first_name }}</mj-text>"
    body += "</mj-column></mj-section></mj-body></mjml>"
    fixed = compile_variant(VariantSource(subject=" One\r\nline \n", body=body, preheader="Same for all"))
    personal = compile_variant(VariantSource(subject="Hi {{ contact.first_name }}", body=body))
    assert fixed.subject_texts == ("One line",) and fixed.preheader_text == "Same for all"
    assert personal.subject_texts == (None,)
    data = {"contact": {"first_name": "Ada"}}
    assert render_compiled(fixed, data).subject == "One line"
    assert render_compiled(personal, data).subject == "Hi Ada"
