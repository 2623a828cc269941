"""Who may see the outbox: admins only, since messages hold people's addresses and what was
said to them."""

from __future__ import annotations

from academy.core.policy import is_admin


def can_manage_outbox(user) -> bool:
    return is_admin(user)
