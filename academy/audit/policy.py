"""Who may read the audit log: it records everyone's actions, so only academy admins."""

from __future__ import annotations

from academy.core.policy import is_admin


def can_view_audit(user) -> bool:
    return is_admin(user)
