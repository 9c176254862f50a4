"""CRM field mappings: which CRM property feeds which Mailwright field, and which computed value goes back.

A mapping is `{"pull": {crm property: mailwright field}, "push": {mailwright value: crm property}}`.
Pulled fields are profile columns or `properties.<name>` (custom properties); pushed values are the
figures Mailwright computes. A field mapped both ways follows "the newest change wins" (see sync.py).
"""

from typing import Any

from mailwright.connectors.schemas import MappingRow
from mailwright.core.errors import InvalidInput

PULL_TARGETS = ("email", "first_name", "last_name", "phone", "city", "country")
PUSH_SOURCES = (
    "rfm_segment",
    "lifecycle_stage",
    "churn_risk",
    "predicted_value",
    "last_email_engagement",
    "first_name",
    "last_name",
    "phone",
)

_DEFAULTS: dict[str, dict[str, Any]] = {
    "hubspot": {
        "pull": {
            "email": "email",
            "firstname": "first_name",
            "lastname": "last_name",
            "phone": "phone",
            "city": "city",
            "lifecyclestage": "properties.crm_lifecycle_stage",
        },
        "push": {
            "rfm_segment": "mailwright_rfm_segment",
            "lifecycle_stage": "mailwright_lifecycle_stage",
            "churn_risk": "mailwright_churn_risk",
            "predicted_value": "mailwright_predicted_value",
            "last_email_engagement": "mailwright_last_email_engagement",
        },
    },
    "zoho": {
        "pull": {
            "Email": "email",
            "First_Name": "first_name",
            "Last_Name": "last_name",
            "Phone": "phone",
            "Mailing_City": "city",
            "Lead_Source": "properties.crm_lead_source",
        },
        "push": {
            "rfm_segment": "Mailwright_RFM_Segment",
            "lifecycle_stage": "Mailwright_Lifecycle_Stage",
            "churn_risk": "Mailwright_Churn_Risk",
            "predicted_value": "Mailwright_Predicted_Value",
            "last_email_engagement": "Mailwright_Last_Engagement",
        },
    },
}


def default_mapping(kind: str) -> dict[str, Any]:
    """The mapping a new connection of this CRM starts with."""
    base = _DEFAULTS[kind]
    return {"pull": dict(base["pull"]), "push": dict(base["push"])}


def check_mapping(mapping: dict[str, Any]) -> dict[str, Any]:
    """A valid mapping, or InvalidInput naming the entry at fault."""
    pull = mapping.get("pull") or {}
    push = mapping.get("push") or {}
    if not isinstance(pull, dict) or not isinstance(push, dict):
        raise InvalidInput("field_mapping must have 'pull' and 'push' objects", field="field_mapping")
    for crm, target in pull.items():
        ok = isinstance(target, str) and (
            target in PULL_TARGETS or (target.startswith("properties.") and len(target) > 11)
        )
        if not ok:
            raise InvalidInput(
                f"field_mapping.pull.{crm}: {target!r} is not a Mailwright field "
                f"({', '.join(PULL_TARGETS)} or properties.<name>)",
                field=f"field_mapping.pull.{crm}",
            )
    if "email" not in pull.values():
        raise InvalidInput("field_mapping.pull must map a CRM property to email", field="field_mapping.pull")
    for source, crm in push.items():
        if source not in PUSH_SOURCES or not isinstance(crm, str) or not crm:
            raise InvalidInput(
                f"field_mapping.push.{source}: push one of {', '.join(PUSH_SOURCES)} to a CRM property name",
                field=f"field_mapping.push.{source}",
            )
    return {"pull": dict(pull), "push": dict(push)}


def rows(mapping: dict[str, Any]) -> list[MappingRow]:
    """The mapping as a table: direction, CRM property, Mailwright field."""
    pull = mapping.get("pull") or {}
    push = mapping.get("push") or {}
    pushed_back = {crm: source for source, crm in push.items()}
    out: list[MappingRow] = []
    for crm, target in pull.items():
        both = pushed_back.get(crm) == target
        out.append(
            MappingRow(direction="both" if both else "pull", crm_property=crm, mailwright_field=target)
        )
    for source, crm in push.items():
        if pull.get(crm) != source:
            out.append(MappingRow(direction="push", crm_property=crm, mailwright_field=source))
    return out
