"""Every change to modules and programmes. Functions validate, flush and audit; callers commit."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

import sqlalchemy as sa

from academy.audit import services as audit
from academy.auth.services import check_version
from academy.catalogue.models import (
    AWARD_TYPES,
    DEFAULT_PASS_MARK,
    LEVELS,
    TOPICS,
    Module,
    Programme,
    ProgrammeModule,
)
from academy.core import clock
from academy.core.errors import Conflict, DomainError
from academy.extensions import db

log = logging.getLogger(__name__)

#: Codes like DHL701 or PGC-DHL: letters, digits and hyphens, starting with a letter or digit.
CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,19}$")
#: Far above any real award (a doctorate is 540); keeps absurd numbers out of integer columns.
MAX_CREDITS = 1000
MAX_TITLE = 200
MAX_OUTCOMES = 50
MAX_OUTCOME_LENGTH = 1000
#: Fifty years: any credential meant to lapse does so well within it.
MAX_VALID_MONTHS = 600

MODULE_FIELDS = (
    "code", "title", "topic", "credits", "level", "pass_mark", "learning_outcomes", "summary",
    "credential_valid_months",
)  # fmt: skip
PROGRAMME_FIELDS = (
    "code", "title", "award_title", "credits_required", "pass_band", "merit_band",
    "distinction_band", "award_type", "award_needs_ratification", "credential_valid_months",
)  # fmt: skip
#: Fields an update may set to None: an empty summary, a credential that never expires.
CLEARABLE_FIELDS = ("summary", "credential_valid_months")
BANDS = (("pass_band", "pass"), ("merit_band", "merit"), ("distinction_band", "distinction"))


# --- shared checks -----------------------------------------------------------------------------


def _code(value: str | None) -> str:
    code = (value or "").strip().upper()
    if not CODE.match(code):
        raise DomainError(
            "Code must be 2 to 20 letters, digits or hyphens, like DHL701", field="code"
        )
    return code


def _text(value: str | None, field: str, message: str, max_length: int = MAX_TITLE) -> str:
    text = (value or "").strip()
    if not text:
        raise DomainError(message, field=field)
    if len(text) > max_length:
        raise DomainError(f"Must be {max_length} characters or fewer", field=field)
    return text


def _whole_number(value, field: str, message: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DomainError(message, field=field)
    return value


def _valid_months(value) -> int | None:
    """How long credentials stay valid; None means they never expire."""
    if value is None:
        return None
    return _whole_number(
        value,
        "credential_valid_months",
        f"Credential validity must be a whole number of months from 1 to {MAX_VALID_MONTHS}, "
        "or empty if it never expires",
        1,
        MAX_VALID_MONTHS,
    )


# --- modules -----------------------------------------------------------------------------------


def module_snapshot(module: Module) -> dict:
    return {name: getattr(module, name) for name in MODULE_FIELDS}


def module_by_code(code: str) -> Module | None:
    return db.session.scalar(sa.select(Module).where(Module.code == code.strip().upper()))


def _learning_outcomes(outcomes: Iterable[str] | None) -> list[str]:
    if isinstance(outcomes, str) or outcomes is None:
        raise DomainError("Give the learning outcomes as a list", field="learning_outcomes")
    cleaned = []
    for outcome in outcomes:
        if not isinstance(outcome, str) or not outcome.strip():
            raise DomainError("Learning outcomes must not be blank", field="learning_outcomes")
        if len(outcome.strip()) > MAX_OUTCOME_LENGTH:
            raise DomainError(
                f"Each learning outcome must be {MAX_OUTCOME_LENGTH} characters or fewer",
                field="learning_outcomes",
            )
        cleaned.append(outcome.strip())
    if not cleaned:
        raise DomainError("Enter at least one learning outcome", field="learning_outcomes")
    if len(cleaned) > MAX_OUTCOMES:
        raise DomainError(
            f"A module can have at most {MAX_OUTCOMES} learning outcomes",
            field="learning_outcomes",
        )
    return cleaned


def _validate_module(module: Module) -> None:
    module.title = _text(module.title, "title", "Enter the module's title")
    if module.topic not in TOPICS:
        raise DomainError(f"Topic must be one of: {', '.join(TOPICS)}", field="topic")
    module.credits = _whole_number(
        module.credits, "credits", f"Credits must be a whole number from 1 to {MAX_CREDITS}",
        1, MAX_CREDITS,
    )  # fmt: skip
    if module.level not in LEVELS:
        raise DomainError(
            f"Level must be one of: {', '.join(str(level) for level in LEVELS)}", field="level"
        )
    module.pass_mark = _whole_number(
        module.pass_mark, "pass_mark", "Pass mark must be a whole number from 0 to 100", 0, 100
    )
    module.learning_outcomes = _learning_outcomes(module.learning_outcomes)
    module.summary = (module.summary or "").strip()
    module.credential_valid_months = _valid_months(module.credential_valid_months)


def create_module(
    *,
    actor,
    code: str,
    title: str,
    topic: str,
    credits: int,
    level: int,
    learning_outcomes: list[str],
    pass_mark: int = DEFAULT_PASS_MARK,
    summary: str | None = "",
    credential_valid_months: int | None = None,
) -> Module:
    code = _code(code)
    if module_by_code(code) is not None:
        raise Conflict(f"A module with code {code} already exists", field="code")
    module = Module(
        code=code,
        title=title,
        topic=topic,
        credits=credits,
        level=level,
        pass_mark=DEFAULT_PASS_MARK if pass_mark is None else pass_mark,
        learning_outcomes=learning_outcomes,
        summary=summary,
        credential_valid_months=credential_valid_months,
    )
    _validate_module(module)
    db.session.add(module)
    db.session.flush()
    audit.record("module.create", actor=actor, obj=module, after=module_snapshot(module))
    log.info("module %s created by %s", module.code, getattr(actor, "id", "system"))
    return module


def update_module(
    module: Module, *, actor, expected_version: int | None = None, **fields
) -> Module:
    """Change the given fields; a stale `expected_version` is refused before anything changes."""
    check_version(module, expected_version)
    before = module_snapshot(module)
    if fields.get("code") is not None:
        code = _code(fields.pop("code"))
        existing = module_by_code(code)
        if existing is not None and existing.id != module.id:
            raise Conflict(f"A module with code {code} already exists", field="code")
        module.code = code
    for name in MODULE_FIELDS[1:]:
        if name in fields and (fields[name] is not None or name in CLEARABLE_FIELDS):
            setattr(module, name, fields[name])
    _validate_module(module)
    db.session.flush()
    old, new = audit.changes(before, module_snapshot(module))
    if new:
        audit.record("module.update", actor=actor, obj=module, before=old, after=new)
    return module


# --- programmes --------------------------------------------------------------------------------


def programme_snapshot(programme: Programme) -> dict:
    data = {name: getattr(programme, name) for name in PROGRAMME_FIELDS}
    data["modules"] = [
        {"module_id": link.module_id, "core": link.is_core} for link in programme.modules
    ]
    return data


def programme_by_code(code: str) -> Programme | None:
    return db.session.scalar(sa.select(Programme).where(Programme.code == code.strip().upper()))


def _ids(values, field: str) -> list[int]:
    """Ids in the order given, each once."""
    if values is None or isinstance(values, str | bytes):
        raise DomainError("Give a list of module ids", field=field)
    ordered: list[int] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int):
            raise DomainError("Module ids must be whole numbers", field=field)
        if value not in ordered:
            ordered.append(value)
    return ordered


def _modules_by_id(ids: list[int], field: str) -> dict[int, Module]:
    found = {m.id: m for m in db.session.scalars(sa.select(Module).where(Module.id.in_(ids)))}
    unknown = [i for i in ids if i not in found]
    if unknown:
        listed = ", ".join(str(i) for i in unknown)
        raise DomainError(f"No module has id {listed}", field=field)
    return found


def _set_modules(programme: Programme, module_ids, core_module_ids) -> bool:
    """Offer exactly these modules, in this order, marking the core ones; core modules missing
    from `module_ids` are added after the others. True if anything changed."""
    ordered = _ids(module_ids, "module_ids")
    core = _ids(core_module_ids or [], "core_module_ids")
    _modules_by_id(ordered, "module_ids")
    _modules_by_id([i for i in core if i not in ordered], "core_module_ids")
    ordered += [i for i in core if i not in ordered]
    if not ordered:
        raise DomainError("Choose at least one module", field="module_ids")

    existing = {link.module_id: link for link in programme.modules}
    before = [(link.module_id, link.is_core, link.position) for link in programme.modules]
    for position, module_id in enumerate(ordered):
        link = existing.pop(module_id, None)
        if link is None:
            link = ProgrammeModule(module_id=module_id)
            programme.modules.append(link)
        link.is_core = module_id in core
        link.position = position
    for link in existing.values():
        programme.modules.remove(link)
    programme.modules.sort(key=lambda link: link.position)
    after = [(link.module_id, link.is_core, link.position) for link in programme.modules]
    return before != after


def _validate_programme(programme: Programme) -> None:
    programme.title = _text(programme.title, "title", "Enter the programme's title")
    programme.award_title = _text(
        programme.award_title, "award_title", "Enter the title of the award"
    )
    programme.credits_required = _whole_number(
        programme.credits_required,
        "credits_required",
        f"Credits required must be a whole number from 1 to {MAX_CREDITS}",
        1,
        MAX_CREDITS,
    )
    for attribute, name in BANDS:
        _whole_number(
            getattr(programme, attribute),
            attribute,
            f"The {name} band must be a whole number from 0 to 100",
            0,
            100,
        )
    if programme.merit_band < programme.pass_band:
        raise DomainError("The merit band must be at or above the pass band", field="merit_band")
    if programme.distinction_band < programme.merit_band:
        raise DomainError(
            "The distinction band must be at or above the merit band", field="distinction_band"
        )
    if programme.award_type not in AWARD_TYPES:
        raise DomainError(
            f"The award type must be one of: {', '.join(AWARD_TYPES)}", field="award_type"
        )
    if not isinstance(programme.award_needs_ratification, bool):
        raise DomainError(
            "Say whether the award waits for ratification", field="award_needs_ratification"
        )
    programme.credential_valid_months = _valid_months(programme.credential_valid_months)


def create_programme(
    *,
    actor,
    code: str,
    title: str,
    award_title: str,
    credits_required: int,
    module_ids: list[int],
    core_module_ids: list[int] | None = None,
    pass_band: int | None = None,
    merit_band: int | None = None,
    distinction_band: int | None = None,
    award_type: str | None = None,
    award_needs_ratification: bool = False,
    credential_valid_months: int | None = None,
) -> Programme:
    code = _code(code)
    if programme_by_code(code) is not None:
        raise Conflict(f"A programme with code {code} already exists", field="code")
    programme = Programme(
        code=code,
        title=title,
        award_title=award_title,
        credits_required=credits_required,
        pass_band=50 if pass_band is None else pass_band,
        merit_band=60 if merit_band is None else merit_band,
        distinction_band=70 if distinction_band is None else distinction_band,
        award_type=award_type or AWARD_TYPES[0],
        award_needs_ratification=award_needs_ratification,
        credential_valid_months=credential_valid_months,
    )
    _validate_programme(programme)
    _set_modules(programme, module_ids, core_module_ids)
    db.session.add(programme)
    db.session.flush()
    audit.record(
        "programme.create", actor=actor, obj=programme, after=programme_snapshot(programme)
    )
    log.info("programme %s created by %s", programme.code, getattr(actor, "id", "system"))
    return programme


def update_programme(
    programme: Programme, *, actor, expected_version: int | None = None, **fields
) -> Programme:
    """Change the given fields. `module_ids` replaces the list of modules offered (those already
    core stay core unless `core_module_ids` says otherwise); `core_module_ids` alone re-marks
    the current modules."""
    check_version(programme, expected_version)
    before = programme_snapshot(programme)
    if fields.get("code") is not None:
        code = _code(fields.pop("code"))
        existing = programme_by_code(code)
        if existing is not None and existing.id != programme.id:
            raise Conflict(f"A programme with code {code} already exists", field="code")
        programme.code = code
    for name in PROGRAMME_FIELDS[1:]:
        if name in fields and (fields[name] is not None or name in CLEARABLE_FIELDS):
            setattr(programme, name, fields[name])
    _validate_programme(programme)
    module_ids = fields.get("module_ids")
    core_module_ids = fields.get("core_module_ids")
    if module_ids is not None or core_module_ids is not None:
        if module_ids is None:
            module_ids = [link.module_id for link in programme.modules]
        if core_module_ids is None:
            core_module_ids = [link.module_id for link in programme.modules if link.is_core]
            core_module_ids = [i for i in core_module_ids if i in module_ids]
        if _set_modules(programme, module_ids, core_module_ids):
            # Only the link rows changed; touching the programme makes its version move too, so
            # an editor holding the old module list is told the page is stale.
            programme.updated_at = clock.now()
    db.session.flush()
    old, new = audit.changes(before, programme_snapshot(programme))
    if new:
        audit.record("programme.update", actor=actor, obj=programme, before=old, after=new)
    return programme
