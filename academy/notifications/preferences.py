"""Which emails a person may turn off. Receipts, password resets, invitations, release notices,
extension decisions and credential changes always go: they are records of something that
happened to the person, or the only way to act on it."""

from __future__ import annotations

#: Emails people may choose not to get, with what the settings page calls them.
OPTIONAL = {
    "deadline_reminder": "Reminders before an assignment is due",
    "credential_expiry": "Reminders before a credential expires",
    "feedback_overdue": "Alerts when feedback you owe is overdue (tutors)",
    "admin_digest": "The academy's overdue-feedback digest (admins)",
}
ESSENTIAL = "essential"


def wants(user, category: str) -> bool:
    if category == ESSENTIAL or user is None:
        return True
    return category not in (user.email_opt_outs or [])
