"""How far a learner has got through modules' learning content."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from academy.content.models import ContentSection, Resource, ResourceCompletion
from academy.extensions import db


@dataclass(frozen=True)
class Progress:
    done: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def progress_for(user_id: int, module_ids: Iterable[int]) -> dict[int, Progress]:
    """Resources completed of resources available, per module, in one query."""
    module_ids = list(module_ids)
    if not module_ids:
        return {}
    completed = (
        sa.select(ResourceCompletion.resource_id)
        .where(ResourceCompletion.user_id == user_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(
            ContentSection.module_id,
            sa.func.count(Resource.id),
            sa.func.count(completed.c.resource_id),
        )
        .join(Resource, Resource.section_id == ContentSection.id)
        .outerjoin(completed, completed.c.resource_id == Resource.id)
        .where(ContentSection.module_id.in_(module_ids))
        .group_by(ContentSection.module_id)
    ).all()
    found = {module_id: Progress(done=done, total=total) for module_id, total, done in rows}
    return {module_id: found.get(module_id, Progress(0, 0)) for module_id in module_ids}
