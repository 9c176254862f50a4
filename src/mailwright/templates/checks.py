"""Save-time checks: syntax with line numbers, unknown variables, unsubscribe link, size, image alt text."""

import re
from datetime import datetime
from typing import Any

from mailwright.templates import compiler
from mailwright.templates.blocks import PARTIALS
from mailwright.templates.context import (
    SAMPLE_UNSUBSCRIBE_URL,
    build_context,
    message_context,
    sample_contact,
    sample_event,
    sample_products,
)
from mailwright.templates.engine import (
    RenderError,
    VariantSource,
    compile_variant,
    find_unknown_variables,
    prepare_body,
    render_compiled,
    syntax_errors,
)
from mailwright.templates.schemas import Issue, TemplateIn, ValidationReport

# Gmail clips messages over 102 KB; warn with a little room for tracking links.
HTML_WARN_BYTES = 100 * 1024
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_ALT = re.compile(r"\balt\s*=\s*([\"'])(.*?)\1", re.IGNORECASE | re.DOTALL)


def sample_context(locale: str, shop: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The context save-time checks render with: every standard variable set."""
    return build_context(
        contact=sample_contact(now),
        shop=shop,
        message=message_context(
            unsubscribe_url=SAMPLE_UNSUBSCRIBE_URL, view_in_browser_url="https://mailwright.invalid/v/sample"
        ),
        variant_locale=locale,
        event=sample_event(),
        recommendations=sample_products(),
        now=now,
    )


def validate(template: TemplateIn, shop: dict[str, Any], now: datetime) -> ValidationReport:
    """Run every save-time check on every language variant of a template."""
    issues: list[Issue] = []
    compiled_once = True
    largest = 0
    for locale, variant in template.variants.items():
        parts = {"subject": (variant.subject, False), "preheader": (variant.preheader, False)}
        for i, alternative in enumerate(variant.subject_variants):
            parts[f"subject_variants[{i}]"] = (alternative, False)
        parts["body"] = (variant.body, True)
        if variant.text:
            parts["text"] = (variant.text, False)
        broken = False
        for part, (part_source, escaped) in parts.items():
            for line, message in syntax_errors(part_source, autoescape=escaped):
                broken = True
                issues.append(
                    Issue(
                        severity="error", code="syntax", message=message, locale=locale, part=part, line=line
                    )
                )
        for name in compiler.unknown_includes(variant.body, PARTIALS):
            broken = True
            issues.append(
                Issue(
                    severity="error",
                    code="unknown_block",
                    message=f"no block named {name!r}",
                    locale=locale,
                    part="body",
                )
            )
        if broken:
            continue
        context = sample_context(locale, shop, now)
        source = VariantSource(
            subject=variant.subject,
            body=variant.body,
            body_format=variant.body_format,
            preheader=variant.preheader,
            text=variant.text,
            subject_variants=tuple(variant.subject_variants),
        )
        expanded = prepare_body(source)
        for part, (text, escaped) in {**parts, "body": (expanded, True)}.items():
            for message in find_unknown_variables(text, {**context, "preheader": ""}, autoescape=escaped):
                issues.append(
                    Issue(
                        severity="warning", code="unknown_variable", message=message, locale=locale, part=part
                    )
                )
        try:
            compiled = compile_variant(source)
            rendered = render_compiled(compiled, context)
        except compiler.MjmlError as exc:
            issues.append(Issue(severity="error", code="mjml", message=str(exc), locale=locale, part="body"))
            continue
        except RenderError as exc:
            issues.append(
                Issue(severity="error", code="render", message=str(exc), locale=locale, part="body")
            )
            continue
        compiled_once = compiled_once and compiled.compiled_once
        size = len(rendered.html.encode())
        largest = max(largest, size)
        if template.kind == "marketing" and f'href="{SAMPLE_UNSUBSCRIBE_URL}"' not in rendered.html:
            issues.append(
                Issue(
                    severity="error",
                    code="missing_unsubscribe",
                    message="a marketing email needs a visible unsubscribe link: "
                    '<a href="{{ message.unsubscribe_url }}"> or the footer block',
                    locale=locale,
                    part="body",
                )
            )
        if size > HTML_WARN_BYTES:
            issues.append(
                Issue(
                    severity="warning",
                    code="html_too_large",
                    message=f"rendered HTML is {size // 1024} KB; Gmail clips messages over 102 KB",
                    locale=locale,
                    part="body",
                )
            )
        for tag in _IMG.findall(rendered.html):
            alt = _ALT.search(tag)
            if alt is None or not alt.group(2).strip():
                issues.append(
                    Issue(
                        severity="warning",
                        code="image_without_alt",
                        message=f"image without alt text: {tag[:120]}",
                        locale=locale,
                        part="body",
                    )
                )
        if not compiled.compiled_once:
            issues.append(
                Issue(
                    severity="warning",
                    code="compiled_per_recipient",
                    message="the layout could not be compiled once (a statement inside an attribute or "
                    "between mj-columns?): it will be compiled for every recipient, which is slow",
                    locale=locale,
                    part="body",
                )
            )
    ok = not any(i.severity == "error" for i in issues)
    return ValidationReport(ok=ok, issues=issues, compiled_once=compiled_once, html_bytes=largest)
