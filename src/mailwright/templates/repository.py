"""Queries of the templates domain."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailwright.templates.models import EmailTemplate, TemplateVariant


def template_by_name(session: Session, name: str) -> EmailTemplate | None:
    """A template by its unique name."""
    return session.scalars(select(EmailTemplate).where(EmailTemplate.name == name)).one_or_none()


def list_templates(session: Session) -> Sequence[EmailTemplate]:
    """Every template, by name."""
    return session.scalars(select(EmailTemplate).order_by(EmailTemplate.name)).all()


def variants_of(session: Session, template_id: int, version: int) -> Sequence[TemplateVariant]:
    """The language variants of one version of a template, by locale."""
    return session.scalars(
        select(TemplateVariant)
        .where(TemplateVariant.template_id == template_id, TemplateVariant.version == version)
        .order_by(TemplateVariant.locale)
    ).all()
