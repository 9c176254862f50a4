"""Templates stored with versions and checks, rendered for real contacts, coupons, the built-in library."""

import shutil
import subprocess
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailwright.core.errors import InvalidInput
from mailwright.core.runtime import Runtime
from mailwright.templates import coupons, service
from mailwright.templates.library import builtin_templates
from mailwright.templates.schemas import RenderFailure, RenderSuccess, TemplateIn, VariantIn

GOOD = """<mjml><mj-body>{% include "blocks/header.mjml" %}<mj-section><mj-column>
<mj-text>Hi {{ contact.first_name | default("there") }}</mj-text>
<mj-image src="https://x.example/a.png" />
</mj-column></mj-section>{% include "blocks/footer.mjml" %}</mj-body></mjml>"""


def template(body: str = GOOD, variants: dict[str, VariantIn] | None = None) -> TemplateIn:
    return TemplateIn(name="t1", variants=variants or {"en": VariantIn(subject="Hello", body=body)})


def test_save_refuses_a_syntax_error_with_its_line(runtime: Runtime) -> None:
    body = GOOD.replace("</mj-text>", "</mj-text>\n{% if contact.first_name %}\n", 1)
    with pytest.raises(InvalidInput) as caught, runtime.uow() as uow:
        service.save_template(uow, template(body), runtime.settings)
    errors = caught.value.details
    assert errors[0]["code"] == "syntax" and errors[0]["line"] is not None and errors[0]["line"] >= 2


def test_marketing_template_without_unsubscribe_is_refused(runtime: Runtime) -> None:
    body = GOOD.replace('{% include "blocks/footer.mjml" %}', "")
    with pytest.raises(InvalidInput, match="unsubscribe"), runtime.uow() as uow:
        service.save_template(uow, template(body), runtime.settings)
    transactional = TemplateIn(
        name="t2", kind="transactional", variants={"en": VariantIn(subject="s", body=body)}
    )
    with runtime.uow() as uow:
        assert service.save_template(uow, transactional, runtime.settings).report.ok


def test_warnings_for_unknown_variables_missing_alt_and_size(runtime: Runtime) -> None:
    body = GOOD.replace("Hi {{", f"{'x' * 120_000} Hi {{{{")
    with runtime.uow() as uow:
        saved = service.save_template(uow, template(body), runtime.settings)
        assert {"image_without_alt", "html_too_large"} <= {i.code for i in saved.report.warnings}
        typo = service.validate_template(
            uow,
            template(GOOD.replace('contact.first_name | default("there")', "contact.frist_name")),
            runtime.settings,
        )
    assert not typo.ok
    assert any(i.code == "unknown_variable" and "frist_name" in i.message for i in typo.issues)


def test_versions_and_locale_fallback_chain(runtime: Runtime, make_contact: Callable[..., int]) -> None:
    variants = {
        "en": VariantIn(subject="EN {{ contact.first_name }}", body=GOOD),
        "pt": VariantIn(subject="PT {{ contact.first_name }}", body=GOOD),
        "pt-BR": VariantIn(subject="BR {{ contact.first_name }}", body=GOOD),
    }
    with runtime.uow() as uow:
        service.save_template(uow, template(variants=variants), runtime.settings)
        service.save_template(
            uow,
            template(variants={**variants, "pt-BR": VariantIn(subject="BR2", body=GOOD)}),
            runtime.settings,
        )
    br = make_contact("br@example.com", firstName="Bia", locale="pt-BR")
    pt = make_contact("pt@example.com", firstName="Rui", locale="pt-PT")
    de = make_contact("de@example.com", firstName="Jan", locale="de-DE")
    with runtime.uow() as uow:
        results = service.render_many(uow, "t1", [br, pt, de], runtime.settings)
    subjects = [r.message.subject for r in results if isinstance(r, RenderSuccess)]
    assert subjects == ["BR2", "PT Rui", "EN Jan"]
    assert all(isinstance(r, RenderSuccess) and r.message.version == 2 for r in results)


def test_one_bad_recipient_does_not_stop_the_batch(
    runtime: Runtime, make_contact: Callable[..., int]
) -> None:
    body = GOOD.replace("Hi {{", "{{ 12 // (contact.properties.vip_level | default(1)) }} Hi {{")
    with runtime.uow() as uow:
        service.save_template(uow, template(body), runtime.settings)
    a = make_contact("a@example.com", vip_level=1)
    b = make_contact("b@example.com", vip_level=0)
    c = make_contact("c@example.com", vip_level=3, firstName="<b>Cy</b>")
    with runtime.uow() as uow:
        results = service.render_many(uow, "t1", [a, b, 999_999, c], runtime.settings)
    expected: list[type[object]] = [RenderSuccess, RenderFailure, RenderFailure, RenderSuccess]
    assert [type(r) for r in results] == expected
    assert "ZeroDivisionError" in results[1].reason  # type: ignore[union-attr]
    assert "&lt;b&gt;Cy&lt;/b&gt;" in results[3].message.html  # type: ignore[union-attr]


def test_coupon_pool_hands_each_code_out_once(runtime: Runtime) -> None:
    with runtime.uow() as uow:
        assert coupons.upload_codes(uow.session, "welcome", ["A1", "A2", "A2", "A3"], uow.now()) == 3
        got = [coupons.claim(uow.session, "welcome", f"contact:{i}", uow.now()) for i in range(3)]
        assert sorted(got) == ["A1", "A2", "A3"]
        assert coupons.claim(uow.session, "welcome", "contact:1", uow.now()) == got[1]
        with pytest.raises(coupons.CouponPoolExhausted):
            coupons.claim(uow.session, "welcome", "contact:99", uow.now())


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pool_size=st.integers(1, 8), claims=st.lists(st.integers(0, 12), max_size=20))
def test_coupon_claims_never_repeat_a_code(runtime: Runtime, pool_size: int, claims: list[int]) -> None:
    pool = f"p{pool_size}-{len(claims)}-{abs(hash(tuple(claims)))}"
    with runtime.uow() as uow:
        coupons.upload_codes(uow.session, pool, [f"C{i}" for i in range(pool_size)], uow.now())
        given_to: dict[int, str] = {}
        for who in claims:
            try:
                code = coupons.claim(uow.session, pool, f"k{who}", uow.now())
            except coupons.CouponPoolExhausted:
                assert len(set(given_to)) >= pool_size and who not in given_to
                continue
            assert given_to.setdefault(who, code) == code
        assert len(set(given_to.values())) == len(given_to)


def test_rendering_claims_a_unique_code_per_contact(
    runtime: Runtime, make_contact: Callable[..., int]
) -> None:
    ids = [make_contact(f"w{i}@example.com") for i in range(3)]
    with runtime.uow() as uow:
        service.install_builtins(uow, runtime.settings)
        coupons.upload_codes(uow.session, "welcome", ["W-1", "W-2", "W-3"], uow.now())
        first = service.render_many(uow, "welcome_3", ids, runtime.settings)
        again = service.render_many(uow, "welcome_3", ids[:1], runtime.settings)
    codes = [
        next(c for c in ("W-1", "W-2", "W-3") if c in r.message.html)
        for r in first
        if isinstance(r, RenderSuccess)
    ]
    assert sorted(codes) == ["W-1", "W-2", "W-3"]
    assert isinstance(again[0], RenderSuccess) and codes[0] in again[0].message.html


def test_every_builtin_template_validates_and_renders(
    runtime: Runtime, make_contact: Callable[..., int], tmp_path: Path
) -> None:
    names = {t.name for t in builtin_templates()}
    assert len(names) >= 17
    make_contact("sample@example.com", firstName="Sam", locale="de-DE")
    with runtime.uow() as uow:
        installed = service.install_builtins(uow, runtime.settings)
    assert set(installed) == names
    written = service.write_builtin_previews(runtime, tmp_path, "sample@example.com")
    htmls = [p for p in written if p.suffix == ".html"]
    assert len(htmls) == len(names)
    assert any(p.name == "welcome_1.de.html" for p in htmls)  # the German variant for a German contact
    for path in htmls:
        html = path.read_text()
        assert ("@media" in html and "Sam" in html) or "Hallo" in html


def test_api_validates_saves_lists_and_previews(
    client: TestClient, admin_token: str, make_contact: Callable[..., int]
) -> None:
    headers = {"Authorization": f"Bearer {admin_token}"}
    data = template().model_dump()
    assert client.post("/api/v1/templates/validate", json=data).status_code == 401
    assert client.post("/api/v1/templates/validate", json=data, headers=headers).json()["ok"] is True
    assert client.post("/api/v1/templates", json=data, headers=headers).status_code == 201
    assert [t["name"] for t in client.get("/api/v1/templates", headers=headers).json()] == ["t1"]
    make_contact("api@example.com", firstName="Ida")
    r = client.post(
        "/api/v1/templates/t1/preview", json={"contact_email": "api@example.com"}, headers=headers
    )
    assert r.status_code == 200 and "Hi Ida" in r.json()["html"] and "Hi Ida" in r.json()["text"]


def _message(subject: str, html: str, text: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Mailwright Demo Shop <hello@shop.example.com>"
    msg["To"] = "Sam Sample <sample@example.com>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(
        __import__("datetime").datetime(2026, 11, 2, 9, 0, tzinfo=__import__("datetime").UTC)
    )
    msg["Message-ID"] = make_msgid(domain="shop.example.com")
    msg["List-Unsubscribe"] = "<https://shop.example.com/u/token>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def test_builtin_templates_score_below_3_in_spamassassin(
    runtime: Runtime, make_contact: Callable[..., int]
) -> None:
    binary = shutil.which("spamassassin")
    if binary is None:
        pytest.skip("spamassassin is not installed (apt-get install -y spamassassin)")
    make_contact("sa@example.com", firstName="Sam")
    scores = {}
    with runtime.uow() as uow:
        service.install_builtins(uow, runtime.settings)
        for name in sorted({t.name for t in builtin_templates()}):
            out = service.preview(
                uow,
                name,
                "sa@example.com",
                runtime.settings,
                event=__import__("mailwright.templates.context", fromlist=["sample_event"]).sample_event(),
            )
            raw = _message(out.subject, out.html, out.text)
            report = subprocess.run(
                [binary, "-L", "-t"], input=raw, capture_output=True, timeout=120, check=False
            )
            header = next(
                line
                for line in report.stdout.decode(errors="replace").splitlines()
                if line.startswith("X-Spam-Status:")
            )
            scores[name] = float(header.split("score=")[1].split()[0])
    print(scores)
    assert all(score < 3.0 for score in scores.values()), scores
