"""The learner's side of credentials through the test client: the wallet, the printable
certificate and who may open it, and external credentials recorded by learners, sponsors and
admins, with their evidence."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.core import clock
from academy.credentials import services
from academy.credentials.models import Credential
from academy.credentials.views import qr_code_svg
from academy.extensions import db

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
BASE = "https://academy.test"


def html(response) -> str:
    return response.get_data(as_text=True)


def errors(response) -> list[str]:
    found = re.findall(r'nhsuk-error-message"[^>]*>.*?</span>\s*([^<]+)<', html(response), re.S)
    return [unescape(message).strip() for message in found]


def nav_links(response) -> list[str]:
    return re.findall(r'nhsuk-header__navigation-link"[^>]*href="([^"]+)"', html(response))


def externals(user) -> list[Credential]:
    return db.session.scalars(
        sa.select(Credential)
        .where(Credential.user_id == user.id, Credential.kind == "external")
        .execution_options(populate_existing=True)
    ).all()


def audit_actions(credential_id: int) -> list[tuple[str, int | None]]:
    return [
        (event.action, event.actor_id)
        for event in db.session.scalars(
            sa.select(AuditEvent)
            .where(
                AuditEvent.object_type == "credential", AuditEvent.object_id == str(credential_id)
            )
            .order_by(AuditEvent.id)
        )
    ]


@pytest.fixture
def client_for(app, login_as):
    """`client_for(user)`: a fresh client signed in as `user`."""
    return lambda user: login_as(user, the_client=app.test_client())


@pytest.fixture
def trust(make):
    return make.organisation(name="Northshire Hospitals NHS Foundation Trust")


@pytest.fixture
def cohort(make):
    return make.cohort()


@pytest.fixture
def learner(make, cohort, trust):
    return make.learner_in(cohort, trust, name="Amelia Hartley-Brown")


@pytest.fixture
def credential(make, learner, cohort):
    return make.credential(learner, cohort)


def external_form(**fields) -> dict:
    data = {
        "title": "PRINCE2 Foundation",
        "issuer": "AXELOS",
        "issued_on": "2023-05-17",
        "expires_on": "",
    }
    data.update(fields)
    return data


# --- the wallet --------------------------------------------------------------------------------


def test_the_wallet_lists_the_learners_own_credentials_with_links_to_share_and_download(
    make, cohort, learner, credential, client_for
):
    someone_else = make.credential()
    services.record_external(
        someone_else.user,
        actor=someone_else.user,
        title="Not mine",
        issuer="Elsewhere",
        issued_on=date(2022, 1, 1),
    )
    services.record_external(
        learner,
        actor=learner,
        title="ITIL 4 Foundation",
        issuer="PeopleCert",
        issued_on=date(2022, 3, 1),
    )
    db.session.commit()

    page = client_for(learner).get("/my/credentials")
    assert page.status_code == 200
    text = html(page)
    assert credential.title in text and "Module pass" in text and "Valid" in text
    public = f"{BASE}/credentials/{credential.uuid}"
    assert f'href="{public}"' in text
    assert re.search(
        rf'<input[^>]*id="share-{credential.uuid}"[^>]*value="{public}"[^>]*readonly', text
    )
    assert f"/credentials/{credential.uuid}.json?download=1" in text
    assert f"/my/credentials/{credential.uuid}/certificate" in text
    # The copy button waits for the script; without it the link is there to select.
    assert re.search(r"<button[^>]*data-copy-target[^>]*hidden", text)
    assert "ITIL 4 Foundation" in text and "PeopleCert" in text and "Self-declared" in text
    assert someone_else.uuid not in text and "Not mine" not in text
    assert "/my/credentials" in nav_links(page)  # someone enrolled holds, or will hold, some


def test_the_json_download_link_gives_the_signed_credential_as_an_attachment(client, credential):
    response = client.get(f"/credentials/{credential.uuid}.json?download=1")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.get_json()["proof"]["cryptosuite"] == "eddsa-rdfc-2022"


def test_the_wallet_shows_a_revoked_or_suspended_credential_and_why(
    make, cohort, learner, credential, client_for
):
    admin = make.user("admin")
    services.revoke(credential, actor=admin, reason="Awarded in error")
    other = make.credential(learner, make.cohort())
    services.suspend(other, actor=admin, reason="Under investigation")
    db.session.commit()
    text = html(client_for(learner).get("/my/credentials"))
    assert "Revoked" in text and "Awarded in error" in text
    assert "Suspended" in text and "Under investigation" in text


def test_the_wallet_is_empty_for_someone_new_and_the_nav_item_is_only_for_holders(make, client_for):
    newcomer = make.user("learner")
    page = client_for(newcomer).get("/my/credentials")
    assert page.status_code == 200
    assert "You do not hold any academy credentials yet" in html(page)
    assert "/my/credentials" not in nav_links(page)


def test_the_wallet_needs_sign_in(client):
    response = client.get("/my/credentials")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


# --- the certificate ---------------------------------------------------------------------------


def test_the_certificate_names_the_holder_and_has_a_qr_code_of_the_public_page(
    learner, credential, client_for
):
    page = client_for(learner).get(f"/my/credentials/{credential.uuid}/certificate")
    assert page.status_code == 200
    text = html(page)
    public = f"{BASE}/credentials/{credential.uuid}"
    assert "Amelia Hartley-Brown" in text and credential.title in text
    assert "15 of 15 credits" in text and credential.uuid in text
    assert credential.issuer_name in text
    assert public in text
    # The QR code is the inline SVG of exactly the public address.
    assert "<svg" in text and str(qr_code_svg(public)) in text
    assert "not valid" not in text


def test_an_award_certificate_gives_the_classification(make, cohort, learner, client_for):
    award = services.issue_award_credential(
        learner, cohort, {"classification": "Distinction", "credits": 60}
    )
    db.session.commit()
    text = html(client_for(learner).get(f"/my/credentials/{award.uuid}/certificate"))
    assert "has been awarded the" in text and award.title in text
    assert "Distinction" in text and "60 of 60 credits" in text


@pytest.mark.parametrize(
    ("change", "banner"),
    [(services.revoke, "REVOKED – not valid"), (services.suspend, "SUSPENDED – not valid")],
)
def test_a_revoked_or_suspended_certificate_says_it_is_not_valid(
    make, learner, credential, client_for, change, banner
):
    change(credential, actor=make.user("admin"), reason="Misconduct panel <outcome>")
    db.session.commit()
    text = html(client_for(learner).get(f"/my/credentials/{credential.uuid}/certificate"))
    assert banner in text
    assert "Misconduct panel &lt;outcome&gt;" in text


def test_an_expired_certificate_says_so(make, client_for):
    module = make.module(credential_valid_months=12)
    cohort = make.cohort(make.programme(modules=[module]))
    credential = make.credential(cohort=cohort)
    with clock.frozen_at(clock.now() + timedelta(days=400)):
        text = html(
            client_for(credential.user).get(f"/my/credentials/{credential.uuid}/certificate")
        )
    assert "EXPIRED" in text


def test_another_learners_certificate_is_not_found(make, cohort, credential, client_for):
    other = make.learner_in(cohort)
    response = client_for(other).get(f"/my/credentials/{credential.uuid}/certificate")
    assert response.status_code == 404
    assert (
        client_for(other)
        .get("/my/credentials/00000000-0000-4000-8000-000000000000/certificate")
        .status_code
        == 404
    )


def test_a_sponsor_sees_their_staffs_certificate_but_no_one_elses(
    make, trust, credential, client_for
):
    sponsor = make.user("sponsor", scope=trust)
    stranger = make.user("sponsor", scope=make.organisation())
    path = f"/my/credentials/{credential.uuid}/certificate"
    assert client_for(sponsor).get(path).status_code == 200
    assert client_for(stranger).get(path).status_code == 404
    assert client_for(make.user("admin")).get(path).status_code == 200


def test_external_credentials_have_no_certificate(learner, client_for):
    external = services.record_external(
        learner, actor=learner, title="BCS Fellowship", issuer="BCS", issued_on=date(2021, 1, 1)
    )
    db.session.commit()
    response = client_for(learner).get(f"/my/credentials/{external.uuid}/certificate")
    assert response.status_code == 404


def test_names_with_accents_and_emoji_are_shown_as_written_and_markup_is_escaped(
    make, cohort, client_for
):
    learner = make.learner_in(cohort, name="Siân O'Brien-Nguyễn 🎓 <b>Dr</b>")
    credential = make.credential(learner, cohort)
    services.record_external(
        learner,
        actor=learner,
        title="Qualité <script>x()</script> ✅",
        issuer="Société",
        issued_on=date(2020, 2, 2),
    )
    db.session.commit()
    signed_in = client_for(learner)
    certificate = html(signed_in.get(f"/my/credentials/{credential.uuid}/certificate"))
    assert "Siân O&#39;Brien-Nguyễn 🎓 &lt;b&gt;Dr&lt;/b&gt;" in certificate
    assert "<b>Dr</b>" not in certificate
    wallet = html(signed_in.get("/my/credentials"))
    assert "Qualité &lt;script&gt;x()&lt;/script&gt; ✅" in wallet and "Société" in wallet
    assert "<script>x()" not in wallet


# --- external credentials ----------------------------------------------------------------------


def test_a_learner_adds_an_external_credential_without_evidence(learner, client_for):
    signed_in = client_for(learner)
    assert signed_in.get("/my/credentials/external/new").status_code == 200
    response = signed_in.post(
        "/my/credentials/external/new", data=external_form(expires_on="2026-05-17")
    )
    assert response.status_code == 302, errors(response)
    assert response.headers["Location"].endswith("/my/credentials")
    (recorded,) = externals(learner)
    assert (recorded.title, recorded.issuer_name, recorded.issued_on, recorded.expires_on) == (
        "PRINCE2 Foundation",
        "AXELOS",
        date(2023, 5, 17),
        date(2026, 5, 17),
    )
    assert recorded.verification == "self_declared" and recorded.evidence_sha256 is None
    assert recorded.recorded_by_id == learner.id
    assert audit_actions(recorded.id) == [("credential.record_external", learner.id)]
    wallet = html(signed_in.get("/my/credentials"))
    assert "has been added" in wallet and "PRINCE2 Foundation" in wallet
    assert "Self-declared" in wallet


def test_a_learner_adds_one_with_evidence_and_downloads_it_as_an_attachment(
    make, learner, client_for
):
    signed_in = client_for(learner)
    response = signed_in.post(
        "/my/credentials/external/new",
        data=external_form(evidence=(io.BytesIO(PDF), "Certificat d’études.pdf")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, errors(response)
    (recorded,) = externals(learner)
    assert recorded.evidence_sha256 and recorded.evidence_name.endswith(".pdf")
    path = f"/my/credentials/{recorded.uuid}/evidence"
    assert path in html(signed_in.get("/my/credentials"))

    download = signed_in.get(path)
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.mimetype == "application/pdf"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    download.close()
    # The learner's sponsor and admins may read it; another learner may not.
    for reader in (make.user("sponsor", scope=learner.organisation), make.user("admin")):
        response = client_for(reader).get(path)
        assert response.status_code == 200 and response.data == PDF
        response.close()
    assert client_for(make.user("learner")).get(path).status_code == 404


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": ""}, "Enter the credential's title"),
        ({"title": "   "}, "Enter the credential's title"),
        ({"issuer": ""}, "Enter the awarding body"),
        ({"issued_on": ""}, "Enter the date it was awarded"),
        ({"issued_on": "31/02/2023"}, "Enter a real date it was awarded"),
        ({"issued_on": (date.today() + timedelta(days=30)).isoformat()}, "cannot be in the future"),
        ({"expires_on": "2023-05-01"}, "The expiry date must be after the award date"),
        ({"title": "x" * 301}, "The title must be 300 characters or fewer"),
        (
            {"evidence": (io.BytesIO(b"<html><script>x()</script></html>"), "certificate.pdf")},
            "must be a PDF",
        ),
        ({"evidence": (io.BytesIO(b"MZ\x90\x00"), "certificate.exe")}, "must be a PDF"),
        ({"evidence": (io.BytesIO(b""), "certificate.pdf")}, "is empty"),
    ],
)
def test_bad_external_credentials_show_form_errors_and_write_nothing(
    learner, client_for, fields, message
):
    credential_events = sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.object_type == "credential"
    )
    before = db.session.scalar(credential_events)
    response = client_for(learner).post(
        "/my/credentials/external/new",
        data=external_form(**fields),
        content_type="multipart/form-data",
    )
    assert response.status_code in (413, 415, 422)
    text = html(response)
    assert "There is a problem" in text
    found = errors(response)
    assert any(message.lower() in error.lower() for error in found), found
    if "evidence" in fields:
        assert 'id="evidence-error"' in text  # on the file box, not just the summary
    assert externals(learner) == []
    assert db.session.scalar(credential_events) == before


def test_a_sponsor_records_one_for_their_staff_but_not_for_others(make, trust, learner, client_for):
    sponsor = make.user("sponsor", scope=trust)
    signed_in = client_for(sponsor)
    path = f"/users/{learner.id}/credentials/external/new"
    assert learner.name in html(signed_in.get(path))
    response = signed_in.post(path, data=external_form(title="Chartered Manager"))
    assert response.status_code == 302, errors(response)
    assert response.headers["Location"].endswith(f"/users/{learner.id}")
    (recorded,) = externals(learner)
    assert recorded.recorded_by_id == sponsor.id and recorded.verification == "self_declared"
    # Their page lists it, with the way to add another.
    page = html(signed_in.get(f"/users/{learner.id}"))
    assert "Chartered Manager" in page and path in page

    outsider = make.user("learner", organisation=make.organisation())
    assert signed_in.get(f"/users/{outsider.id}/credentials/external/new").status_code == 404
    assert (
        signed_in.post(
            f"/users/{outsider.id}/credentials/external/new", data=external_form()
        ).status_code
        == 404
    )
    assert externals(outsider) == []


def test_learners_and_tutors_cannot_record_for_someone_else(make, cohort, learner, client_for):
    path = f"/users/{learner.id}/credentials/external/new"
    classmate = make.learner_in(cohort)
    assert client_for(classmate).post(path, data=external_form()).status_code == 404
    tutor = make.user("tutor", scope=cohort)
    assert client_for(tutor).post(path, data=external_form()).status_code == 403
    assert externals(learner) == []
    # Their own, by the same address, is fine.
    assert client_for(learner).post(path, data=external_form()).status_code == 302


def test_an_admin_records_one_for_anyone(make, learner, client_for):
    admin = make.user("admin")
    response = client_for(admin).post(
        f"/users/{learner.id}/credentials/external/new", data=external_form()
    )
    assert response.status_code == 302
    assert externals(learner)[0].recorded_by_id == admin.id


def test_a_learner_removes_a_self_declared_credential_after_confirming(learner, client_for):
    recorded = services.record_external(
        learner,
        actor=learner,
        title="First aid at work",
        issuer="St John",
        issued_on=date(2024, 1, 9),
    )
    db.session.commit()
    recorded_id = recorded.id
    signed_in = client_for(learner)
    path = f"/my/credentials/{recorded.uuid}/remove"
    confirm = signed_in.get(path)
    assert confirm.status_code == 200 and "Are you sure" in html(confirm)
    assert externals(learner) != []  # asking is not removing
    response = signed_in.post(path)
    assert response.status_code == 302 and response.headers["Location"].endswith("/my/credentials")
    assert externals(learner) == []
    assert audit_actions(recorded_id)[-1] == ("credential.remove_external", learner.id)


def test_once_verified_only_an_admin_removes_it(make, learner, client_for):
    admin = make.user("admin")
    recorded = services.record_external(
        learner,
        actor=learner,
        title="MSc Health Informatics",
        issuer="UCL",
        issued_on=date(2019, 9, 30),
    )
    services.verify_external(recorded, actor=admin)
    db.session.commit()
    path = f"/my/credentials/{recorded.uuid}/remove"
    assert "Remove" not in html(client_for(learner).get("/my/credentials")).split("MSc Health")[1]
    assert client_for(learner).post(path).status_code == 403
    assert externals(learner) != []
    response = client_for(admin).post(path)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/users/{learner.id}")
    assert externals(learner) == []


def test_issued_credentials_cannot_be_removed(learner, credential, client_for):
    assert client_for(learner).post(f"/my/credentials/{credential.uuid}/remove").status_code == 404
