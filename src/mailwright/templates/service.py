"""Templates: save with checks, list, resolve a language variant, render for contacts, preview."""

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from mailwright.contacts import service as contacts
from mailwright.contacts.schemas import ContactOut
from mailwright.core.errors import InvalidInput, NotFound
from mailwright.core.runtime import Runtime
from mailwright.core.settings import Settings, get_settings
from mailwright.core.uow import UnitOfWork
from mailwright.templates import checks, coupons, repository
from mailwright.templates.context import (
    PersonalRecommender,
    Recommender,
    ShopBranding,
    build_context,
    contact_context,
    message_context,
    preview_coupon_code,
    sample_event,
    shop_context,
)
from mailwright.templates.engine import RenderError, VariantSource, compile_variant, render_compiled
from mailwright.templates.library import builtin_templates
from mailwright.templates.models import EmailTemplate, TemplateVariant
from mailwright.templates.schemas import (
    RenderedOut,
    RenderFailure,
    RenderSuccess,
    SavedTemplate,
    TemplateIn,
    TemplateOut,
    ValidationReport,
    VariantOut,
)

RECOMMENDATIONS_PER_MESSAGE = 4


def shop_for(settings: Settings) -> dict[str, Any]:
    """The `shop` context of an installation."""
    return shop_context(settings, ShopBranding())


def validate_template(uow: UnitOfWork, data: TemplateIn, settings: Settings) -> ValidationReport:
    """Run the save-time checks without saving."""
    return checks.validate(data, shop_for(settings), uow.now())


def save_template(
    uow: UnitOfWork, data: TemplateIn, settings: Settings, *, builtin: bool = False
) -> SavedTemplate:
    """Check a template and store it as a new version; refused (InvalidInput) when a check fails."""
    report = validate_template(uow, data, settings)
    if not report.ok:
        first = report.errors[0]
        where = f" ({first.locale}, {first.part}" + (f", line {first.line}" if first.line else "") + ")"
        raise InvalidInput(
            f"template {data.name!r} refused: {first.message}{where}",
            field="variants",
            details=[i.model_dump() for i in report.errors],
        )
    now = uow.now()
    session = uow.session
    template = repository.template_by_name(session, data.name)
    if template is None:
        template = EmailTemplate(name=data.name, builtin=builtin, created_at=now, current_version=0)
        session.add(template)
    template.kind, template.description = data.kind, data.description
    template.default_locale, template.updated_at = data.default_locale, now
    template.current_version += 1
    session.flush()
    for locale, variant in data.variants.items():
        session.add(
            TemplateVariant(
                template_id=template.id,
                version=template.current_version,
                locale=locale,
                subject=variant.subject,
                subject_variants=list(variant.subject_variants),
                preheader=variant.preheader,
                body=variant.body,
                body_format=variant.body_format,
                text=variant.text,
                created_at=now,
            )
        )
    session.flush()
    return SavedTemplate(template=_out(session, template, with_bodies=False), report=report)


def _out(session: Session, template: EmailTemplate, *, with_bodies: bool) -> TemplateOut:
    variants = repository.variants_of(session, template.id, template.current_version)
    return TemplateOut(
        id=template.id,
        name=template.name,
        kind=template.kind,
        description=template.description,
        default_locale=template.default_locale,
        builtin=template.builtin,
        version=template.current_version,
        locales=[v.locale for v in variants],
        created_at=template.created_at,
        updated_at=template.updated_at,
        variants=[VariantOut.model_validate(v) for v in variants] if with_bodies else [],
    )


def list_templates(session: Session) -> list[TemplateOut]:
    """Every template with its current version and locales."""
    return [_out(session, t, with_bodies=False) for t in repository.list_templates(session)]


def get_template(session: Session, name: str) -> TemplateOut:
    """One template with the bodies of its current variants, or NotFound."""
    template = repository.template_by_name(session, name)
    if template is None:
        raise NotFound(f"no template named {name!r}", field="name")
    return _out(session, template, with_bodies=True)


def locale_chain(contact_locale: str | None, shop_default: str, template_default: str) -> list[str]:
    """Locales to try, most specific first: pt-BR -> pt -> the shop's default -> the template's."""
    chain: list[str] = []
    if contact_locale:
        tag = contact_locale.replace("_", "-").strip()
        chain += [tag, tag.split("-", 1)[0]]
    chain += [shop_default, shop_default.split("-", 1)[0], template_default]
    seen: list[str] = []
    for candidate in chain:
        if candidate and candidate.lower() not in [s.lower() for s in seen]:
            seen.append(candidate)
    return seen


def pick_variant(variants: Sequence[VariantOut], chain: Sequence[str]) -> VariantOut:
    """The first variant along the fallback chain (case-insensitive), else the first one stored."""
    by_locale = {v.locale.lower(): v for v in variants}
    for candidate in chain:
        found = by_locale.get(candidate.lower())
        if found is not None:
            return found
    return variants[0]


_COUPON_POOL = re.compile(r"""coupon_pool\s*=\s*["']([^"']+)["']""")


def empty_coupon_pools(session: Session, names: Iterable[str]) -> dict[str, list[str]]:
    """Per template among `names`, the coupon pools its emails take codes from that have none left.

    Such an email fails to render (no code to give) until codes are uploaded: worth saying before sending.
    """
    found: dict[str, list[str]] = {}
    for name in sorted(set(names)):
        template = repository.template_by_name(session, name)
        if template is None:
            continue
        bodies = [v.body for v in repository.variants_of(session, template.id, template.current_version)]
        pools = sorted({pool for body in bodies for pool in _COUPON_POOL.findall(body)})
        empty = [pool for pool in pools if coupons.remaining(session, pool) == 0]
        if empty:
            found[name] = empty
    return found


def _source(variant: VariantOut) -> VariantSource:
    return VariantSource(
        subject=variant.subject,
        body=variant.body,
        body_format=variant.body_format,
        preheader=variant.preheader,
        text=variant.text,
        subject_variants=tuple(variant.subject_variants),
    )


def render_many(
    uow: UnitOfWork,
    name: str,
    contact_ids: Sequence[int],
    settings: Settings,
    *,
    events: Mapping[int, Mapping[str, Any]] | None = None,
    messages: Mapping[int, Mapping[str, Any]] | None = None,
    recommender: Recommender | None = None,
    claim_coupons: bool = True,
    subject_variant: int = 0,
    link_rewriter: Callable[[str], str] | None = None,
) -> list[RenderSuccess | RenderFailure]:
    """Render a template for each contact: a result or a failure per contact, never one for all."""
    template = get_template(uow.session, name)
    if not template.variants:
        raise NotFound(f"template {name!r} has no content", field="name")
    shop = shop_for(settings)
    picks = (recommender or PersonalRecommender(uow.now())).for_contacts(
        uow.session, contact_ids, RECOMMENDATIONS_PER_MESSAGE
    )
    results: list[RenderSuccess | RenderFailure] = []
    profiles = contacts.get_profiles(uow.session, contact_ids)  # the batch's profiles in a few queries
    for contact_id in contact_ids:
        profile = profiles.get(contact_id)
        if profile is None:
            results.append(RenderFailure(contact_id=contact_id, reason=f"no contact with id {contact_id}"))
            continue
        message = (messages or {}).get(contact_id) or _default_message(settings, profile)
        event = (events or {}).get(contact_id) or {}
        try:
            rendered = _render_one(
                uow,
                template,
                profile,
                settings,
                shop,
                event,
                message,
                picks.get(contact_id, []),
                claim_coupons=claim_coupons,
                subject_variant=subject_variant,
                link_rewriter=link_rewriter,
            )
        except RenderError as exc:
            results.append(RenderFailure(contact_id=contact_id, reason=str(exc)))
            continue
        results.append(RenderSuccess(contact_id=contact_id, message=rendered))
    return results


def _default_message(settings: Settings, profile: ContactOut) -> dict[str, Any]:
    # Delivery passes the signed links of the real message; previews get inert placeholders.
    return message_context(unsubscribe_url=f"https://mailwright.invalid/unsubscribe/preview-{profile.id}")


def _render_one(
    uow: UnitOfWork,
    template: TemplateOut,
    profile: ContactOut,
    settings: Settings,
    shop: dict[str, Any],
    event: Mapping[str, Any],
    message: Mapping[str, Any],
    recommendations: Sequence[Mapping[str, Any]],
    *,
    claim_coupons: bool,
    subject_variant: int = 0,
    link_rewriter: Callable[[str], str] | None = None,
) -> RenderedOut:
    chain = locale_chain(profile.locale, settings.default_locale, template.default_locale)
    variant = pick_variant(template.variants, chain)

    def coupon_code(pool: str) -> str:
        """One code from the pool for this contact, the same one on every render."""
        return coupons.claim(uow.session, str(pool), f"contact:{profile.id}", uow.now())

    context = build_context(
        contact=contact_context(profile),
        shop=shop,
        message=message,
        variant_locale=variant.locale,
        event=event,
        recommendations=recommendations,
        coupon_code=coupon_code if claim_coupons else preview_coupon_code,
        now=uow.now(),
    )
    rendered = render_compiled(
        compile_variant(_source(variant)),
        context,
        subject_variant=subject_variant,
        link_rewriter=link_rewriter,
    )
    return RenderedOut(
        template=template.name,
        locale=variant.locale,
        version=variant.version,
        subject=rendered.subject,
        preheader=rendered.preheader,
        html=rendered.html,
        text=rendered.text,
    )


def preview(
    uow: UnitOfWork,
    name: str,
    contact_email: str,
    settings: Settings,
    *,
    event: Mapping[str, Any] | None = None,
    recommender: Recommender | None = None,
) -> RenderedOut:
    """Exactly what a contact would get (no coupon code is taken from a pool for a preview)."""
    profile = contacts.find_by_email(uow.session, contact_email)
    if profile is None:
        raise NotFound(f"no contact with email {contact_email}", field="contact")
    result = render_many(
        uow,
        name,
        [profile.id],
        settings,
        events={profile.id: dict(event or {})},
        recommender=recommender,
        claim_coupons=False,
    )[0]
    if isinstance(result, RenderFailure):
        raise InvalidInput(f"template {name!r} failed for {contact_email}: {result.reason}", field="template")
    return result.message


def install_builtins(uow: UnitOfWork, settings: Settings) -> list[str]:
    """Store the built-in library templates that are not in the database yet; returns their names."""
    added = []
    for template in builtin_templates():
        if repository.template_by_name(uow.session, template.name) is None:
            save_template(uow, template, settings, builtin=True)
            added.append(template.name)
    return added


def write_builtin_previews(
    runtime_or_uow: Runtime | UnitOfWork,
    out_dir: Path,
    contact_email: str,
    *,
    settings: Settings | None = None,
) -> list[Path]:
    """Render every built-in template for one contact into out_dir (NAME.LOCALE.html and .txt)."""
    if isinstance(runtime_or_uow, Runtime):
        with runtime_or_uow.uow() as uow:
            return write_builtin_previews(uow, out_dir, contact_email, settings=runtime_or_uow.settings)
    uow = runtime_or_uow
    settings = settings or get_settings()
    install_builtins(uow, settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for template in builtin_templates():
        rendered = preview(uow, template.name, contact_email, settings, event=sample_event())
        base = out_dir / f"{template.name}.{rendered.locale}"
        html_path, text_path = base.with_suffix(base.suffix + ".html"), base.with_suffix(base.suffix + ".txt")
        html_path.write_text(rendered.html, encoding="utf-8")
        text_path.write_text(f"Subject: {rendered.subject}\n\n{rendered.text}", encoding="utf-8")
        written += [html_path, text_path]
    return written
