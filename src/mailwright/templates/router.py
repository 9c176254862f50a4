"""Management API: create, validate, preview and list templates."""

from fastapi import APIRouter, Depends

from mailwright.core.errors import InvalidInput
from mailwright.core.web import RuntimeDep, require_admin
from mailwright.templates import service
from mailwright.templates.schemas import (
    PreviewIn,
    RenderedOut,
    SavedTemplate,
    TemplateIn,
    TemplateOut,
    ValidationReport,
)

router = APIRouter(prefix="/api/v1/templates", tags=["templates"], dependencies=[Depends(require_admin)])


@router.get("", summary="List templates")
def list_templates(runtime: RuntimeDep) -> list[TemplateOut]:
    """Every template with its current version and locales."""
    with runtime.uow() as uow:
        return service.list_templates(uow.session)


@router.post("", summary="Create a template or save a new version", status_code=201)
def save_template(data: TemplateIn, runtime: RuntimeDep) -> SavedTemplate:
    """Check and store a template; 400 with the issues when a check fails."""
    with runtime.uow() as uow:
        return service.save_template(uow, data, runtime.settings)


@router.post("/validate", summary="Run the save-time checks without saving")
def validate_template(data: TemplateIn, runtime: RuntimeDep) -> ValidationReport:
    """Syntax, unknown variables, unsubscribe link, size and alt-text checks."""
    with runtime.uow() as uow:
        return service.validate_template(uow, data, runtime.settings)


@router.get("/{name}", summary="One template with its current variants")
def get_template(name: str, runtime: RuntimeDep) -> TemplateOut:
    """A template by name."""
    with runtime.uow() as uow:
        return service.get_template(uow.session, name)


@router.post("/{name}/preview", summary="Render a template for one contact")
def preview_template(name: str, data: PreviewIn, runtime: RuntimeDep) -> RenderedOut:
    """Subject, HTML and text exactly as that contact would get them (no coupon code is used up)."""
    if not data.contact_email:
        raise InvalidInput("give contact_email", field="contact_email")
    with runtime.uow() as uow:
        return service.preview(uow, name, data.contact_email, runtime.settings, event=data.event)
