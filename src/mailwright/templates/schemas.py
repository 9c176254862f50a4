"""Templates in and out of the templates domain."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["marketing", "transactional"]
BodyFormat = Literal["mjml", "html"]


class VariantIn(BaseModel):
    """One language variant of a template: subject(s), preheader, body and an optional text part."""

    subject: str = Field(min_length=1, max_length=500)
    subject_variants: list[str] = []
    preheader: str = ""
    body: str = Field(min_length=1)
    body_format: BodyFormat = "mjml"
    text: str | None = None


class TemplateIn(BaseModel):
    """A template to create or to save a new version of; `variants` is keyed by locale ('en', 'pt-BR')."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    kind: Kind = "marketing"
    description: str = ""
    default_locale: str = "en"
    variants: dict[str, VariantIn] = Field(min_length=1)


class Issue(BaseModel):
    """A problem found at save time; errors refuse the save, warnings do not."""

    severity: Literal["error", "warning"]
    code: str
    message: str
    locale: str | None = None
    part: str | None = None
    line: int | None = None


class ValidationReport(BaseModel):
    """The save-time checks of a template."""

    ok: bool
    issues: list[Issue] = []
    compiled_once: bool = True
    html_bytes: int = 0

    @property
    def errors(self) -> list[Issue]:
        """Issues that refuse the save."""
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        """Issues that are reported but allow the save."""
        return [i for i in self.issues if i.severity == "warning"]


class VariantOut(BaseModel):
    """A stored language variant of a template version."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    locale: str
    version: int
    subject: str
    subject_variants: list[str]
    preheader: str
    body: str
    body_format: str
    text: str | None
    created_at: datetime


class TemplateOut(BaseModel):
    """A template with the latest version of each of its language variants."""

    id: int
    name: str
    kind: str
    description: str
    default_locale: str
    builtin: bool
    version: int
    locales: list[str]
    created_at: datetime
    updated_at: datetime
    variants: list[VariantOut] = []


class SavedTemplate(BaseModel):
    """A save: the template as stored and the checks' report."""

    template: TemplateOut
    report: ValidationReport


class PreviewIn(BaseModel):
    """What to preview: a contact (by email) and optionally the trigger event's properties."""

    contact_email: str | None = None
    event: dict[str, object] | None = None
    locale: str | None = None
    subject_variant: int = 0


class RenderedOut(BaseModel):
    """One recipient's rendered message."""

    template: str
    locale: str
    version: int
    subject: str
    preheader: str
    html: str
    text: str


class RenderFailure(BaseModel):
    """One recipient whose render failed, and why."""

    contact_id: int
    reason: str


class RenderSuccess(BaseModel):
    """One recipient whose render succeeded."""

    contact_id: int
    message: RenderedOut
