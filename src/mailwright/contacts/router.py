"""Management API: contacts."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from mailwright.contacts import service
from mailwright.contacts.schemas import ContactOut
from mailwright.core.web import RuntimeDep, require_admin

router = APIRouter(prefix="/api/v1/contacts", tags=["contacts"], dependencies=[Depends(require_admin)])


@router.get("", summary="List contacts, or find one by email")
def list_contacts(
    runtime: RuntimeDep,
    email: Annotated[str | None, Query(description="exact address (normalized before matching)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ContactOut]:
    """Contacts newest first; with `email`, the one contact with that address (or an empty list)."""
    with runtime.uow() as uow:
        if email is not None:
            found = service.find_by_email(uow.session, email)
            return [found] if found else []
        return service.list_profiles(uow.session, limit=limit, offset=offset)
