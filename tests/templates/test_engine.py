"""Sandbox, escaping, locale formatting and the compiled-once pipeline, without the database."""

from datetime import UTC, datetime

import pytest

from mailwright.core.settings import Settings
from mailwright.templates import context as ctx
from mailwright.templates.engine import RenderError, VariantSource, compile_variant, render_compiled

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.nodb

LAYOUT = """<mjml><mj-body><mj-section><mj-column>
<mj-text>{body}</mj-text>
<mj-text><a href="{{{{ message.unsubscribe_url }}}}">Unsubscribe</a></mj-text>
</mj-column></mj-section></mj-body></mjml>"""


def render(body: str, *, subject: str = "Hi", **overrides: object) -> str:
    contact = ctx.sample_contact(NOW)
    contact.update(overrides.pop("contact", {}))  # type: ignore[call-overload]
    context = ctx.build_context(
        contact=contact,
        shop=ctx.shop_context(Settings(_env_file=None)),
        message=ctx.message_context(unsubscribe_url="https://u.example/x"),
        variant_locale=str(overrides.pop("variant_locale", "en")),
        event=overrides.pop("event", ctx.sample_event()),  # type: ignore[arg-type]
        recommendations=ctx.sample_products(),
        now=NOW,
    )
    compiled = compile_variant(VariantSource(subject=subject, body=LAYOUT.format(body=body)))
    return render_compiled(compiled, context).html


@pytest.mark.parametrize(
    "expression",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ contact.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__ }}",
        "{{ os.system('id') }}",
        "{{ recommendations.append(1) }}",
    ],
)
def test_sandbox_escapes_fail_with_a_reason(expression: str) -> None:
    with pytest.raises(RenderError) as caught:
        render(expression)
    reason = str(caught.value)
    assert reason.startswith(("sandbox:", "undefined variable:")), reason


def test_unsafe_attribute_reason_names_the_sandbox() -> None:
    with pytest.raises(RenderError, match=r"sandbox: .*unsafe"):
        render("{{ ''.__class__.__mro__ }}")


def test_markup_in_a_contact_name_is_escaped() -> None:
    html = render("Hi {{ contact.first_name }}", contact={"first_name": '<script>alert("x")</script>'})
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_default_covers_missing_and_empty_names() -> None:
    assert "Hi there," in render(
        'Hi {{ contact.first_name | default("there") }},', contact={"first_name": None}
    )
    assert "Hi Alex," in render('Hi {{ contact.first_name | default("there") }},')


def test_unknown_variable_fails_the_render_clearly() -> None:
    with pytest.raises(RenderError, match=r"undefined variable: .*frist_name"):
        render("{{ contact.frist_name }}")


def test_money_in_the_recipients_locale_with_non_breaking_spaces() -> None:
    html = render("{{ 1234.5 | money }}", contact={"locale": "de-DE"}, event={"currency": "EUR"})
    assert "1.234,50\xa0€" in html
    html = render("{{ 123450 | money_minor }}", contact={"locale": "pt-BR"}, event={"currency": "BRL"})
    assert "R$\xa01.234,50" in html
    html = render("{{ 1234.5 | money }}", contact={"locale": "en-GB"}, event={})
    assert "£1,234.50" in html  # the shop's currency when the event carries none


def test_numbers_and_dates_follow_the_locale() -> None:
    html = render(
        "{{ 1234567.891 | number(2) }} / {{ contact.created_at | date('long') }}", contact={"locale": "fr"}
    )
    assert "1\u202f234\u202f567,89" in html
    assert "2 novembre 2026" in html


def test_loops_and_conditions_survive_the_compiled_once_pipeline() -> None:
    compiled = compile_variant(
        VariantSource(
            subject="s",
            body=LAYOUT.format(body="x").replace(
                "<mj-text>x</mj-text>",
                "{% for p in recommendations %}<mj-text>P:{{ p.title }}</mj-text>{% endfor %}",
            ),
        )
    )
    assert compiled.compiled_once
    context = ctx.build_context(
        contact=ctx.sample_contact(NOW),
        shop=ctx.shop_context(Settings(_env_file=None)),
        message=ctx.message_context(unsubscribe_url="https://u.example/x"),
        variant_locale="en",
        recommendations=ctx.sample_products()[:3],
        now=NOW,
    )
    out = render_compiled(compiled, context)
    assert out.html.count("P:") == 3
    assert [line for line in out.text.splitlines() if line.startswith("P:")] == [
        "P:Linen shirt",
        "P:Canvas tote",
        "P:Wool beanie",
    ]
    assert "@media" in out.html  # css-inline kept the responsive rules


def test_statement_inside_an_attribute_falls_back_to_per_recipient_compile() -> None:
    body = LAYOUT.format(body="x").replace(
        "<mj-section>",
        '<mj-section background-color="{% if contact.order_count %}#eeeeee{% else %}#ffffff{% endif %}">',
    )
    compiled = compile_variant(VariantSource(subject="s", body=body))
    assert not compiled.compiled_once
    assert (
        "#eeeeee"
        in render_compiled(
            compiled,
            ctx.build_context(
                contact=ctx.sample_contact(NOW),
                shop={},
                message=ctx.message_context(unsubscribe_url="https://u.example/x"),
                variant_locale="en",
                now=NOW,
            ),
        ).html
    )


def test_subject_cannot_inject_headers() -> None:
    compiled = compile_variant(
        VariantSource(subject="Hi {{ contact.first_name }}", body=LAYOUT.format(body="x"))
    )
    contact = ctx.sample_contact(NOW) | {"first_name": "A\r\nBcc: victim@example.com"}
    out = render_compiled(
        compiled,
        ctx.build_context(
            contact=contact,
            shop={},
            message=ctx.message_context(unsubscribe_url="u"),
            variant_locale="en",
            now=NOW,
        ),
    )
    assert "\n" not in out.subject and "\r" not in out.subject
