"""Renders/s per core of the abandoned-cart template (4 recommended products, tracked links) for
10,000 distinct contacts, next to bare Jinja2 rendering of the same compiled template text (the ceiling).

Run: python bench/render.py. The last line printed is one JSON object with the figures.
"""

import hashlib
import hmac
import json
import platform
import time
from datetime import UTC, datetime

from jinja2 import Environment

from mailwright.core.settings import Settings
from mailwright.templates import context as ctx
from mailwright.templates.engine import VariantSource, compile_variant, render_compiled
from mailwright.templates.library import builtin_templates

CONTACTS = 10_000
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
KEY = b"bench-secret"


def tracker(message_id: int):  # type: ignore[no-untyped-def]
    """A signed click-tracking rewriter, as delivery will apply to every link."""

    def rewrite(url: str) -> str:
        sig = hmac.new(KEY, f"{message_id}:{url}".encode(), hashlib.sha256).hexdigest()[:16]
        return f"https://t.example/c/{message_id}/{sig}?u={url}"

    return rewrite


def main() -> None:
    """Run both measurements and print the figures."""
    variant = next(t for t in builtin_templates() if t.name == "abandoned_cart_1").variants["en"]
    source = VariantSource(subject=variant.subject, body=variant.body, preheader=variant.preheader)
    compiled = compile_variant(source)
    shop = ctx.shop_context(Settings(_env_file=None))
    products = ctx.sample_products()
    contexts = []
    for i in range(CONTACTS):
        contact = ctx.sample_contact(NOW) | {"id": i, "first_name": f"Name{i}", "email": f"c{i}@example.com"}
        contexts.append(
            ctx.build_context(
                contact=contact,
                shop=shop,
                message=ctx.message_context(unsubscribe_url=f"https://shop.example.com/u/{i}"),
                variant_locale="en",
                event=ctx.sample_event() | {"checkout_url": f"https://shop.example.com/checkout/{i}"},
                recommendations=products,
                now=NOW,
            )
        )
    start = time.perf_counter()
    size = 0
    for i, context in enumerate(contexts):
        size += len(render_compiled(compiled, context, link_rewriter=tracker(i)).html)
    full = CONTACTS / (time.perf_counter() - start)
    assert compiled.html is not None
    # Ceiling: the same compiled HTML template text in a plain (unsandboxed) Jinja2 environment.
    plain = Environment(autoescape=True)
    from mailwright.templates.filters import FILTERS

    plain.filters.update(FILTERS)
    bare = plain.from_string(_html_source(source))
    start = time.perf_counter()
    for context in contexts:
        bare.render({**context, "preheader": ""})
    ceiling = CONTACTS / (time.perf_counter() - start)
    print(f"full renders/s (sandbox, subject+html+text, tracked links): {full:,.0f}")
    print(f"bare Jinja2 renders/s of the same template text (ceiling): {ceiling:,.0f}")
    print(f"ratio: {full / ceiling:.2f}; average HTML {size // CONTACTS} bytes")
    print(
        json.dumps(
            {
                "benchmark": "render",
                "contacts": CONTACTS,
                "full_renders_per_s": round(full),
                "ceiling_bare_jinja_per_s": round(ceiling),
                "ratio": round(full / ceiling, 3),
                "html_bytes": size // CONTACTS,
                "machine": platform.processor() or platform.machine(),
            }
        )
    )


def _html_source(source: VariantSource) -> str:
    """The compiled HTML template text of a variant, as the engine compiled it once."""
    from mailwright.templates.compiler import precompile
    from mailwright.templates.engine import prepare_body

    result = precompile(prepare_body(source), mjml=True)
    assert result is not None
    return result.html_source


if __name__ == "__main__":
    main()
