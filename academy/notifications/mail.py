"""Sending email through the configured backend: console, file, SMTP, or memory for tests."""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from flask import current_app, render_template

from academy.core import clock

#: (file name, MIME type such as "text/csv", content)
Attachment = tuple[str, str, bytes]


def send_email(
    to: str, subject: str, template: str, *, attachments: Sequence[Attachment] = (), **context
) -> EmailMessage:
    """Render `templates/email/<template>.txt` (and `.html` when present) and send it, with any
    `attachments`."""
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_DEFAULT_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="academy")
    message.set_content(render_template(f"email/{template}.txt", **context))
    html_template = f"email/{template}.html"
    if html_template in current_app.jinja_env.list_templates():
        message.add_alternative(render_template(html_template, **context), subtype="html")
    for name, mimetype, content in attachments:
        maintype, _, subtype = mimetype.partition("/")
        # Text attachments are UTF-8; without saying so, readers assume ASCII.
        params = {"charset": "utf-8"} if maintype == "text" else {}
        message.add_attachment(
            content, maintype=maintype, subtype=subtype, filename=name, params=params
        )

    backend = config["MAIL_BACKEND"]
    if backend == "memory":
        current_app.extensions.setdefault("academy_outbox", []).append(message)
    elif backend == "file":
        folder = Path(config["MAIL_FILE_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        stamp = clock.now().strftime("%Y%m%dT%H%M%S%f")
        (folder / f"{stamp}-{template}.eml").write_bytes(bytes(message))
    elif backend == "smtp":
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
            if config["MAIL_USE_TLS"]:
                smtp.starttls()
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
            smtp.send_message(message)
    else:
        print(f"\n--- email to {to}: {subject} ---\n{message.get_body(('plain',)).get_content()}")
    return message


def sent_messages(app) -> list[EmailMessage]:
    """Messages kept by the `memory` backend (tests)."""
    return app.extensions.setdefault("academy_outbox", [])
