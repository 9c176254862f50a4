"""The built-in flow library (YAML files, flows as code) and loading flow files written by users."""

import json
import re
from datetime import datetime
from pathlib import Path
from string import Template
from typing import Any

import yaml
from pydantic import ValidationError

from mailwright.core.errors import InvalidInput
from mailwright.core.settings import Settings
from mailwright.core.uow import UnitOfWork
from mailwright.flows import service
from mailwright.flows.schemas import FlowIn, FlowOut
from mailwright.segments import lifecycle
from mailwright.templates import service as templates

LIBRARY_DIR = Path(__file__).resolve().parent / "library"
# The order the library is listed and installed in.
BUILTIN_KEYS = (
    "welcome_series",
    "abandoned_checkout",
    "abandoned_cart",
    "browse_abandonment",
    "post_purchase",
    "replenishment",
    "win_back",
    "re_engagement",
    "birthday",
    "lifecycle",
)


class _Yaml12Loader(yaml.SafeLoader):
    """YAML with the 1.2 booleans: `yes:` and `no:` (a condition's edges) stay strings."""


_Yaml12Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_text(text: str, *, filename: str) -> dict[str, Any]:
    """A flow file's content (YAML or JSON, by extension) as data; a syntax error names the file and line."""
    try:
        data = json.loads(text) if filename.endswith(".json") else yaml.load(text, Loader=_Yaml12Loader)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{filename}: not valid YAML/JSON: {exc}", field="file") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{filename}: a flow file is a mapping with name and definition", field="file")
    return data


def flow_from_data(data: dict[str, Any], *, filename: str) -> FlowIn:
    """The flow a file describes: `name`, `description` and `definition`."""
    try:
        return FlowIn.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise InvalidInput(f"{filename}: {where}: {error['msg']}", field=where) from exc


def load_file(path: Path, parameters: dict[str, Any] | None = None) -> FlowIn:
    """Read one flow file (YAML or JSON); `${name}` placeholders are filled from `parameters`."""
    text = path.read_text(encoding="utf-8")
    if parameters:
        text = Template(text).safe_substitute({k: str(v) for k, v in parameters.items()})
    return flow_from_data(parse_text(text, filename=path.name), filename=path.name)


def shop_parameters(uow: UnitOfWork, now: datetime) -> dict[str, Any]:
    """Timings learned from the shop: win-back waits for twice its purchase cycle (the at-risk threshold)."""
    thresholds = lifecycle.thresholds_as_of(uow.session, now)
    at_risk = int(thresholds.at_risk_days)
    return {"win_back_days": at_risk, "win_back_until_days": int(thresholds.churned_days) + 90}


def builtin_flows(parameters: dict[str, Any]) -> list[tuple[str, FlowIn]]:
    """Every library flow as (key, flow), with the shop's parameters filled in."""
    return [(key, load_file(LIBRARY_DIR / f"{key}.yaml", parameters)) for key in BUILTIN_KEYS]


def install(
    uow: UnitOfWork,
    settings: Settings,
    *,
    keys: list[str] | None = None,
    activate: bool = False,
    holdout_percent: float | None = None,
) -> list[FlowOut]:
    """Store the library flows (and their built-in templates); optionally switch them on."""
    templates.install_builtins(uow, settings)
    unknown = sorted(set(keys or []) - set(BUILTIN_KEYS))
    if unknown:
        raise InvalidInput(f"no built-in flow {unknown[0]!r}", field="keys")
    if holdout_percent is not None and not 0 <= holdout_percent <= 50:
        raise InvalidInput("holdout_percent must be between 0 and 50", field="holdout_percent")
    out: list[FlowOut] = []
    for key, flow in builtin_flows(shop_parameters(uow, uow.now())):
        if keys is not None and key not in keys:
            continue
        if holdout_percent is not None:
            flow = flow.model_copy(
                update={"definition": {**flow.definition, "holdout_percent": holdout_percent}}
            )
        saved = service.save_flow(uow, flow, builtin=key)
        if activate:
            saved = service.activate(uow, saved.name)
        out.append(saved)
    return out
