"""JSON shapes for modules and programmes.

Request schemas check types and sizes; the services check the rules (unique codes, credits above
zero, bands in order, modules that exist), so the API and the HTML forms refuse the same things.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from academy.assessment.schemas import StrictBoolean
from academy.catalogue.models import AWARD_TYPES, LEVELS, TOPICS
from academy.catalogue.services import MAX_OUTCOME_LENGTH, MAX_OUTCOMES, MAX_VALID_MONTHS
from academy.core.api import Id, RequestSchema, Text
from academy.core.pagination import PageArgs

#: Numbers beyond these are refused by the services anyway; bounding them here keeps them inside
#: the database's integer columns whatever path they take.
NUMBER = validate.Range(min=-(2**31), max=2**31 - 1)
MAX_MODULES = 200


def _number(**kwargs) -> fields.Integer:
    return fields.Integer(strict=True, validate=NUMBER, **kwargs)


VALID_MONTHS = (
    f"Months a credential for it stays valid, 1 to {MAX_VALID_MONTHS}; null if it never expires"
)


def _valid_months(**kwargs) -> fields.Integer:
    return fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=1, max=MAX_VALID_MONTHS),
        metadata={"description": VALID_MONTHS},
        **kwargs,
    )


def _award_type(**kwargs) -> fields.String:
    return fields.String(
        validate=validate.OneOf(AWARD_TYPES),
        metadata={
            "enum": list(AWARD_TYPES),
            "description": "The award credential's Open Badges achievementType",
        },
        **kwargs,
    )


RATIFICATION = "The award is issued only once the exam board has ratified every mark behind it"


# --- modules -----------------------------------------------------------------------------------


class ModuleSchema(Schema):
    id = fields.Integer()
    code = fields.String(metadata={"description": "Upper case, unique"})
    title = fields.String()
    topic = fields.String(metadata={"enum": list(TOPICS)})
    credits = fields.Integer()
    level = fields.Integer(metadata={"enum": list(LEVELS), "description": "FHEQ level"})
    pass_mark = fields.Integer(metadata={"description": "Out of 100"})
    learning_outcomes = fields.List(fields.String())
    summary = fields.String()
    credential_valid_months = fields.Integer(
        allow_none=True, metadata={"description": VALID_MONTHS}
    )
    version = fields.Integer(metadata={"description": "Send it back on PATCH"})


_outcomes = {
    "validate": validate.Length(min=1, max=MAX_OUTCOMES),
    "metadata": {"description": "At least one; none blank"},
}


class ModuleCreateSchema(RequestSchema):
    code = Text(required=True, validate=validate.Length(max=20))
    title = Text(required=True, validate=validate.Length(max=200))
    topic = fields.String(required=True, validate=validate.OneOf(TOPICS))
    credits = _number(required=True, metadata={"description": "Above zero"})
    level = fields.Integer(required=True, strict=True, validate=validate.OneOf(LEVELS))
    pass_mark = _number(load_default=50, metadata={"description": "0 to 100; default 50"})
    learning_outcomes = fields.List(
        Text(validate=validate.Length(max=MAX_OUTCOME_LENGTH)), required=True, **_outcomes
    )
    summary = Text(load_default="", validate=validate.Length(max=5000))
    credential_valid_months = _valid_months(load_default=None)


class ModuleUpdateSchema(RequestSchema):
    code = Text(validate=validate.Length(max=20))
    title = Text(validate=validate.Length(max=200))
    topic = fields.String(validate=validate.OneOf(TOPICS))
    credits = _number()
    level = fields.Integer(strict=True, validate=validate.OneOf(LEVELS))
    pass_mark = _number()
    learning_outcomes = fields.List(
        Text(validate=validate.Length(max=MAX_OUTCOME_LENGTH)), **_outcomes
    )
    summary = Text(validate=validate.Length(max=5000))
    credential_valid_months = _valid_months()
    version = fields.Integer(
        required=True, strict=True, metadata={"description": "The version you read"}
    )


class ModuleListArgs(PageArgs):
    topic = fields.String(validate=validate.OneOf(TOPICS), metadata={"enum": list(TOPICS)})


# --- programmes --------------------------------------------------------------------------------


class ProgrammeModuleSchema(Schema):
    id = fields.Integer(attribute="module.id")
    code = fields.String(attribute="module.code")
    title = fields.String(attribute="module.title")
    credits = fields.Integer(attribute="module.credits")
    core = fields.Boolean(attribute="is_core")


class ProgrammeSchema(Schema):
    id = fields.Integer()
    code = fields.String(metadata={"description": "Upper case, unique"})
    title = fields.String()
    award_title = fields.String()
    credits_required = fields.Integer()
    pass_band = fields.Integer(metadata={"description": "Lowest overall mark for a pass"})
    merit_band = fields.Integer(metadata={"description": "Lowest overall mark for a merit"})
    distinction_band = fields.Integer(
        metadata={"description": "Lowest overall mark for a distinction"}
    )
    award_type = fields.String(metadata={"enum": list(AWARD_TYPES)})
    award_needs_ratification = fields.Boolean(metadata={"description": RATIFICATION})
    credential_valid_months = fields.Integer(
        allow_none=True, metadata={"description": VALID_MONTHS}
    )
    module_ids = fields.Function(
        lambda p: [link.module_id for link in p.modules],
        metadata={"type": "array", "items": {"type": "integer"}, "description": "In order"},
    )
    core_module_ids = fields.Function(
        lambda p: [link.module_id for link in p.modules if link.is_core],
        metadata={"type": "array", "items": {"type": "integer"}},
    )
    modules = fields.List(fields.Nested(ProgrammeModuleSchema))
    credits_available = fields.Integer(metadata={"description": "Sum of the modules' credits"})
    version = fields.Integer(metadata={"description": "Send it back on PATCH"})


def _module_ids(**kwargs) -> fields.List:
    return fields.List(Id(), validate=validate.Length(max=MAX_MODULES), **kwargs)


_BANDS = {
    "pass_band": "Default 50",
    "merit_band": "Default 60; at or above the pass band",
    "distinction_band": "Default 70; at or above the merit band",
}


class ProgrammeCreateSchema(RequestSchema):
    code = Text(required=True, validate=validate.Length(max=20))
    title = Text(required=True, validate=validate.Length(max=200))
    award_title = Text(required=True, validate=validate.Length(max=200))
    credits_required = _number(required=True, metadata={"description": "Above zero"})
    module_ids = _module_ids(required=True, metadata={"description": "Modules offered, in order"})
    core_module_ids = _module_ids(
        load_default=list,
        metadata={"description": "Core modules; any not in module_ids are added to it"},
    )
    pass_band = _number(allow_none=True, metadata={"description": _BANDS["pass_band"]})
    merit_band = _number(allow_none=True, metadata={"description": _BANDS["merit_band"]})
    distinction_band = _number(
        allow_none=True, metadata={"description": _BANDS["distinction_band"]}
    )
    award_type = _award_type(load_default="Certificate")
    award_needs_ratification = StrictBoolean(
        load_default=False, metadata={"description": RATIFICATION + "; default false"}
    )
    credential_valid_months = _valid_months(load_default=None)


class ProgrammeUpdateSchema(RequestSchema):
    code = Text(validate=validate.Length(max=20))
    title = Text(validate=validate.Length(max=200))
    award_title = Text(validate=validate.Length(max=200))
    credits_required = _number()
    module_ids = _module_ids(
        metadata={"description": "Replaces the modules offered (core ones: core_module_ids)"}
    )
    core_module_ids = _module_ids(
        metadata={"description": "Alone: which of the current modules are core"}
    )
    pass_band = _number()
    merit_band = _number()
    distinction_band = _number()
    award_type = _award_type()
    award_needs_ratification = StrictBoolean(metadata={"description": RATIFICATION})
    credential_valid_months = _valid_months()
    version = fields.Integer(
        required=True, strict=True, metadata={"description": "The version you read"}
    )
