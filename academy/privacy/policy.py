"""Who may export and who may erase.

Anyone signed in may download their own data, and only their own: there is no id to change in
the request. Erasure is for academy admins, on anyone but themselves (the service refuses that).
"""

from __future__ import annotations

from academy.core.policy import is_admin


def can_export_own_data(user) -> bool:
    return getattr(user, "is_authenticated", False) and getattr(user, "active", False)


def can_erase(user) -> bool:
    return is_admin(user)


#: What public pages show in place of an erased person's name.
NAME_WITHHELD = "Name withheld"


def public_name(user) -> str:
    """The name a public page (a credential's verification page) may show for `user`: none once
    their personal data is erased, though what they earned stays verifiable."""
    return NAME_WITHHELD if user.erased_at is not None else user.name
