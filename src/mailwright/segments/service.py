"""Segments: create, update, preview, list, members, delete, refresh, and event-driven updates."""

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from mailwright.core.db import lock_keys
from mailwright.core.errors import Conflict, InvalidInput, NotFound
from mailwright.core.settings import Settings
from mailwright.core.uow import UnitOfWork
from mailwright.segments import membership, repository
from mailwright.segments.builtins import BUILTINS, BUILTINS_BY_KEY
from mailwright.segments.compiler import compile_segment
from mailwright.segments.dependencies import MEMBERSHIP_EVENTS, event_dependencies
from mailwright.segments.models import Segment
from mailwright.segments.schemas import (
    DEFINITION_VERSION,
    MemberOut,
    MembersPage,
    PreviewOut,
    RefreshResult,
    SavedSegmentOut,
    SegmentDefinition,
    SegmentIn,
    SegmentOut,
    SegmentUpdate,
    SegmentWarning,
)
from mailwright.segments.validation import parse_definition, referenced_segments

# Contacts first seen this recently are evaluated against every segment on their events: a brand-new
# profile can match "never purchased" or a random bucket whatever the event that created it.
NEW_CONTACT_WINDOW = timedelta(hours=1)
# Past this many touched contacts, an event-driven update refreshes the affected segments for everyone
# (one set-based pass is cheaper than a huge IN list, and SQLite caps bound parameters).
MAX_TOUCHED_CONTACTS = 2000


def _out(segment: Segment) -> SegmentOut:
    return SegmentOut(
        id=segment.id,
        name=segment.name,
        description=segment.description,
        definition=segment.definition,
        definition_version=segment.definition_version,
        builtin=segment.builtin,
        enabled=segment.enabled,
        parameters=segment.parameters or {},
        member_count=segment.member_count,
        refreshed_at=segment.refreshed_at,
        created_at=segment.created_at,
        updated_at=segment.updated_at,
    )


def _find(session: Session, ref: int | str) -> Segment:
    segment: Segment | None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdecimal()):
        segment = repository.by_id(session, int(ref))
        if segment is None and isinstance(ref, str):
            segment = repository.by_name(session, ref)
    else:
        segment = repository.by_name(session, ref)
    if segment is None:
        raise NotFound(f"no segment {ref!r}", field="segment")
    return segment


def _check_references(session: Session, definition: SegmentDefinition, own_id: int | None) -> None:
    """Every referenced segment exists, and following references never leads back to this one."""
    stored = {s.id: s for s in repository.all_segments(session)}
    for ref_id, path in referenced_segments(definition):
        if ref_id not in stored:
            raise InvalidInput(f"{path}.segment_id: no segment with id {ref_id}", field=f"{path}.segment_id")
        if own_id is None:
            continue
        # Depth-first along the stored definitions of the segments this one refers to.
        seen: set[int] = set()
        stack = [ref_id]
        while stack:
            current = stack.pop()
            if current == own_id:
                raise InvalidInput(
                    f"{path}.segment_id: segment {ref_id} refers back to this segment (a cycle)",
                    field=f"{path}.segment_id",
                )
            if current in seen or current not in stored:
                continue
            seen.add(current)
            inner = SegmentDefinition.model_validate(stored[current].definition)
            stack.extend(i for i, _ in referenced_segments(inner))


def _warnings(
    session: Session, definition: SegmentDefinition, now: Any, settings: Settings, own_id: int | None
) -> tuple[int, list[SegmentWarning]]:
    dialect = repository.prepare(session)
    target = compile_segment(definition, dialect=dialect, now=now)
    count = repository.count(session, target)
    found: list[SegmentWarning] = []
    if count < settings.segment_min_members:
        found.append(
            SegmentWarning(
                code="too_small",
                message=f"{count} member(s): below {settings.segment_min_members}, too few to be worth a message",
            )
        )
    if count:
        shared = repository.overlaps(session, target)
        for other in repository.all_segments(session, enabled_only=True):
            if other.id == own_id or not other.member_count:
                continue
            common = shared.get(other.id, 0)
            union = count + other.member_count - common
            ratio = common / union if union else 0.0
            if ratio > settings.segment_overlap_warning:
                found.append(
                    SegmentWarning(
                        code="overlap",
                        message=f"{ratio:.0%} of the members are the same as in segment {other.name!r}",
                        segment_id=other.id,
                        segment=other.name,
                        overlap=round(ratio, 4),
                    )
                )
    return count, found


def preview(
    uow: UnitOfWork, definition: dict[str, Any], settings: Settings, *, sample: int = 10
) -> PreviewOut:
    """How many contacts a definition selects now, a sample of them, and warnings; nothing is saved."""
    parsed = parse_definition(definition)
    _check_references(uow.session, parsed, None)
    count, warnings = _warnings(uow.session, parsed, uow.now(), settings, None)
    target = compile_segment(parsed, dialect=repository.prepare(uow.session), now=uow.now())
    rows = repository.sample(uow.session, target, sample) if sample else []
    return PreviewOut(
        count=count,
        sample=[MemberOut(contact_id=r.id, email=r.email, first_name=r.first_name) for r in rows],
        warnings=warnings,
    )


def create_segment(uow: UnitOfWork, data: SegmentIn, settings: Settings) -> SavedSegmentOut:
    """Store a new segment and compute its members (a backfill: no Segment Entered events)."""
    session = uow.session
    parsed = parse_definition(data.definition)
    _check_references(session, parsed, None)
    if repository.by_name(session, data.name) is not None:
        raise Conflict(f"a segment named {data.name!r} exists", field="name")
    _, warnings = _warnings(session, parsed, uow.now(), settings, None) if data.enabled else (0, [])
    now = uow.now()
    segment = Segment(
        name=data.name,
        description=data.description,
        definition=parsed.model_dump(mode="json", exclude_none=True),
        definition_version=DEFINITION_VERSION,
        builtin=None,
        enabled=data.enabled,
        parameters={},
        member_count=0,
        created_at=now,
        updated_at=now,
    )
    session.add(segment)
    session.flush()
    if segment.enabled:
        membership.refresh_segment(uow, segment, parsed)
    return SavedSegmentOut(segment=_out(segment), warnings=warnings)


def update_segment(
    uow: UnitOfWork, ref: int | str, data: SegmentUpdate, settings: Settings
) -> SavedSegmentOut:
    """Change a segment; a new definition is checked (cycles included) and the members recomputed."""
    session = uow.session
    segment = _find(session, ref)
    definition: dict[str, Any] | None = data.definition
    if data.parameters is not None:
        if segment.builtin is None or segment.builtin not in BUILTINS_BY_KEY:
            raise InvalidInput("only parameterized built-in segments take parameters", field="parameters")
        merged = {**(segment.parameters or {}), **data.parameters}
        definition = BUILTINS_BY_KEY[segment.builtin].build(merged)
        segment.parameters = merged
    warnings: list[SegmentWarning] = []
    changed = False
    if definition is not None:
        parsed = parse_definition(definition)
        _check_references(session, parsed, segment.id)
        stored = parsed.model_dump(mode="json", exclude_none=True)
        changed = stored != segment.definition
        segment.definition, segment.definition_version = stored, DEFINITION_VERSION
    if data.name is not None and data.name != segment.name:
        other = repository.by_name(session, data.name)
        if other is not None:
            raise Conflict(f"a segment named {data.name!r} exists", field="name")
        segment.name = data.name
    if data.description is not None:
        segment.description = data.description
    if data.enabled is not None:
        changed = changed or data.enabled != segment.enabled
        segment.enabled = data.enabled
    segment.updated_at = uow.now()
    session.flush()
    current = SegmentDefinition.model_validate(segment.definition)
    if segment.enabled and changed:
        _, warnings = _warnings(session, current, uow.now(), settings, segment.id)
        membership.refresh_segment(uow, segment, current)
    return SavedSegmentOut(segment=_out(segment), warnings=warnings)


def get_segment(session: Session, ref: int | str) -> SegmentOut:
    """One segment by id or name."""
    return _out(_find(session, ref))


def list_segments(session: Session) -> list[SegmentOut]:
    """Every segment."""
    return [_out(s) for s in repository.all_segments(session)]


def members(session: Session, ref: int | str, *, limit: int = 50, offset: int = 0) -> MembersPage:
    """A page of a segment's current members."""
    segment = _find(session, ref)
    rows = repository.members(session, segment.id, limit=limit, offset=offset)
    return MembersPage(
        segment_id=segment.id,
        total=repository.member_count(session, segment.id),
        limit=limit,
        offset=offset,
        members=[
            MemberOut(contact_id=r.id, email=r.email, first_name=r.first_name, entered_at=r.entered_at)
            for r in rows
        ],
    )


def delete_segment(uow: UnitOfWork, ref: int | str) -> None:
    """Delete a segment and its membership; refused while another segment refers to it."""
    session = uow.session
    segment = _find(session, ref)
    for other in repository.all_segments(session):
        if other.id == segment.id:
            continue
        refs = referenced_segments(SegmentDefinition.model_validate(other.definition))
        if any(i == segment.id for i, _ in refs):
            raise Conflict(f"segment {other.name!r} refers to this segment", field="segment")
    session.delete(segment)
    session.flush()


def install_builtins(uow: UnitOfWork) -> int:
    """Add the built-in segments not installed yet (a renamed or disabled one stays as the shop left it)."""
    session = uow.session
    # Two processes installing at once on PostgreSQL would both insert; the second waits and sees the first.
    lock_keys(session, ["segments:builtins"])
    have = repository.builtin_keys(session)
    taken = {s.name for s in repository.all_segments(session)}
    now = uow.now()
    added = 0
    for builtin in BUILTINS:
        if builtin.key in have:
            continue
        name = builtin.name if builtin.name not in taken else f"{builtin.name} (built-in)"
        parsed = parse_definition(builtin.build(builtin.parameters))
        session.add(
            Segment(
                name=name,
                description=builtin.description,
                definition=parsed.model_dump(mode="json", exclude_none=True),
                definition_version=DEFINITION_VERSION,
                builtin=builtin.key,
                enabled=builtin.enabled,
                parameters=dict(builtin.parameters),
                member_count=0,
                created_at=now,
                updated_at=now,
            )
        )
        added += 1
    if added:
        session.flush()
    return added


def ordered_segments(segments: Iterable[Segment]) -> list[tuple[Segment, SegmentDefinition]]:
    """Segments with their definitions, those referred to before those referring to them."""
    items = {s.id: (s, SegmentDefinition.model_validate(s.definition)) for s in segments}
    done: set[int] = set()
    ordered: list[tuple[Segment, SegmentDefinition]] = []

    def visit(segment_id: int, depth: int) -> None:
        if segment_id in done or segment_id not in items or depth > len(items):
            return
        for ref, _ in referenced_segments(items[segment_id][1]):
            visit(ref, depth + 1)
        done.add(segment_id)
        ordered.append(items[segment_id])

    for segment_id in sorted(items):
        visit(segment_id, 0)
    return ordered


def refresh_segments(
    uow: UnitOfWork,
    *,
    segment_ids: Sequence[int] | None = None,
    contact_ids: Sequence[int] | None = None,
) -> RefreshResult:
    """Recompute enabled segments (all, or these) for all contacts (or these) in one transaction.

    Called by the scheduled recompute, the RFM job after it stores scores, the API and the CLI.
    """
    session = uow.session
    segments = repository.all_segments(session, enabled_only=True)
    if segment_ids is not None:
        wanted = set(segment_ids)
        segments = [s for s in segments if s.id in wanted]
    result = RefreshResult()
    for segment, definition in ordered_segments(segments):
        result.segments.append(membership.refresh_segment(uow, segment, definition, contact_ids=contact_ids))
    return result


def refresh_one(uow: UnitOfWork, ref: int | str) -> RefreshResult:
    """Recompute one segment by id or name, enabled or not asked."""
    segment = _find(uow.session, ref)
    definition = SegmentDefinition.model_validate(segment.definition)
    return RefreshResult(segments=[membership.refresh_segment(uow, segment, definition)])


def on_events(uow: UnitOfWork, contact_ids: Sequence[int], names: Sequence[str]) -> RefreshResult:
    """Re-evaluate, for the touched contacts only, the segments these event names can affect."""
    session = uow.session
    if not contact_ids:
        return RefreshResult()
    arrived = set(names)
    segments = repository.all_segments(session, enabled_only=True)
    affected = [
        s.id for s in segments if arrived & event_dependencies(SegmentDefinition.model_validate(s.definition))
    ]
    if len(contact_ids) > MAX_TOUCHED_CONTACTS:
        return refresh_segments(uow, segment_ids=affected) if affected else RefreshResult()
    result = RefreshResult()
    if affected:
        result = refresh_segments(uow, segment_ids=affected, contact_ids=contact_ids)
    if arrived <= MEMBERSHIP_EVENTS:
        # Our own Segment Entered / Exited: the newcomers they name were checked by the event that made them.
        return result
    newcomers = repository.contacts_created_since(session, contact_ids, uow.now() - NEW_CONTACT_WINDOW)
    others = [s.id for s in segments if s.id not in set(affected)]
    if newcomers and others:
        result.segments += refresh_segments(uow, segment_ids=others, contact_ids=newcomers).segments
    return result


def member_ids(session: Session, segment_ids: Sequence[int]) -> set[int]:
    """The contacts that are members of any of these segments now."""
    return repository.member_ids(session, segment_ids)


def is_member(session: Session, segment_id: int, contact_id: int) -> bool:
    """Whether a contact is in a segment now."""
    return segment_id in repository.segment_ids_of(session, contact_id)


def marketable_ids(uow: UnitOfWork, contact_ids: Sequence[int]) -> set[int]:
    """Those of these contacts who may get marketing mail: live, with an address, subscribed, not suppressed."""
    if not contact_ids:
        return set()
    dialect = repository.prepare(uow.session)
    definition = SegmentDefinition.model_validate(
        {
            "root": {
                "type": "and",
                "conditions": [
                    {"type": "consent", "statuses": ["subscribed"]},
                    {"type": "property", "field": "email", "operator": "is_set"},
                    {"type": "suppressed", "suppressed": False},
                ],
            }
        }
    )
    found: set[int] = set()
    ids = sorted(set(contact_ids))
    for start in range(0, len(ids), MAX_TOUCHED_CONTACTS):
        chunk = ids[start : start + MAX_TOUCHED_CONTACTS]
        target = compile_segment(definition, dialect=dialect, now=uow.now(), contact_ids=chunk)
        matched: list[Any] = list(uow.session.scalars(target))
        found.update(int(i) for i in matched)
    return found
