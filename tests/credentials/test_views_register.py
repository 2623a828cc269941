"""The academy's credential register through the test client: filters and search, the detail
page with its history, and revoking, suspending, reinstating and verifying, each audited, refused
to everyone but admins, and answered with a message rather than an error page when the credential
has moved on."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from academy.audit.models import AuditEvent
from academy.core import clock
from academy.credentials import services
from academy.credentials.models import Credential
from academy.extensions import db


def html(response) -> str:
    return response.get_data(as_text=True)


def listed(response) -> set[int]:
    """Ids of the credentials the register's page links to."""
    return {int(n) for n in re.findall(r'href="/admin/credentials/(\d+)"', html(response))}


def fresh(credential: Credential) -> Credential:
    return db.session.scalars(
        sa.select(Credential)
        .where(Credential.id == credential.id)
        .execution_options(populate_existing=True)
    ).one()


def audit_trail(credential: Credential) -> list[tuple]:
    return [
        (event.action, event.actor_id)
        for event in db.session.scalars(
            sa.select(AuditEvent)
            .where(
                AuditEvent.object_type == "credential", AuditEvent.object_id == str(credential.id)
            )
            .order_by(AuditEvent.id)
        )
    ]


@pytest.fixture
def client_for(app, login_as):
    return lambda user: login_as(user, the_client=app.test_client())


@pytest.fixture
def admin(make):
    return make.user("admin", name="Grace Registrar")


@pytest.fixture
def signed_in(admin, client_for):
    return client_for(admin)


@pytest.fixture
def trust(make):
    return make.organisation(name="Eastfield Community NHS Trust")


@pytest.fixture
def credential(make, trust):
    cohort = make.cohort()
    learner = make.learner_in(cohort, trust, name="Olusegun Adeyemi")
    return make.credential(learner, cohort)


@pytest.fixture
def external(make, trust):
    learner = make.user("learner", organisation=trust, name="Maeve O'Sullivan")
    recorded = services.record_external(
        learner,
        actor=learner,
        title="ITIL 4 Foundation",
        issuer="PeopleCert",
        issued_on=date(2022, 4, 1),
    )
    db.session.commit()
    return recorded


# --- who may use the register ------------------------------------------------------------------


@pytest.mark.parametrize("role", ["learner", "sponsor", "tutor", None])
def test_only_admins_open_the_register_or_change_a_credential(
    make, trust, credential, external, client_for, role
):
    user = make.user(role, scope=trust) if role == "sponsor" else make.user(role)
    client = client_for(user)
    assert client.get("/admin/credentials").status_code == 403
    assert client.get(f"/admin/credentials/{credential.id}").status_code == 403
    for action in ("revoke", "suspend"):
        response = client.post(
            f"/admin/credentials/{credential.id}/{action}", data={f"{action}-reason": "No"}
        )
        assert response.status_code == 403
    assert client.post(f"/admin/credentials/{external.id}/verify").status_code == 403
    assert fresh(credential).status == "valid"
    assert fresh(external).verification == "self_declared"
    assert "/admin/credentials" not in html(client.get("/account"))


def test_the_holder_cannot_verify_their_own_external_credential(make, external, client_for):
    client = client_for(external.user)
    assert client.post(f"/admin/credentials/{external.id}/verify").status_code == 403
    assert fresh(external).verification == "self_declared"
    assert audit_trail(external) == [("credential.record_external", external.user_id)]


def test_the_register_is_in_the_admins_navigation(signed_in):
    page = signed_in.get("/account")
    assert re.search(r'nhsuk-header__navigation-link"[^>]*href="/admin/credentials"', html(page))


# --- filters -----------------------------------------------------------------------------------


def test_the_register_filters_by_status_kind_organisation_and_text(
    make, admin, trust, credential, external, signed_in, login_as
):
    elsewhere = make.organisation(name="Westmoor Hospitals")
    revoked = make.credential(
        make.learner_in(cohort := make.cohort(), elsewhere, name="Zoë Ångström"), cohort
    )
    services.revoke(revoked, actor=admin, reason="Awarded in error")
    suspended = make.credential()
    services.suspend(suspended, actor=admin, reason="Under review")
    lapsed = services.record_external(
        suspended.user,
        actor=admin,
        title="Basic Life Support",
        issuer="Resuscitation Council",
        issued_on=date(2020, 1, 1),
        expires_on=date(2021, 1, 1),
    )
    module = make.module(credential_valid_months=6)
    expiring = make.credential(cohort=make.cohort(make.programme(modules=[module])))
    db.session.commit()
    everything = {credential.id, external.id, revoked.id, suspended.id, lapsed.id, expiring.id}

    def ids(query: str = "") -> set[int]:
        response = signed_in.get(f"/admin/credentials?{query}")
        assert response.status_code == 200
        return listed(response)

    assert ids() == everything
    assert ids("status=valid") == {credential.id, external.id, expiring.id}
    assert ids("status=revoked") == {revoked.id}
    assert ids("status=suspended") == {suspended.id}
    assert ids("status=expired") == {lapsed.id}
    with clock.frozen_at(clock.now() + timedelta(days=200)):
        login_as(admin, the_client=signed_in)  # an admin's session ends after 30 idle minutes
        assert ids("status=expired") == {lapsed.id, expiring.id}
        assert ids("status=valid") == {credential.id, external.id}
    assert ids("kind=external") == {external.id, lapsed.id}
    assert ids("kind=module&status=valid") == {credential.id, expiring.id}
    assert ids(f"organisation={trust.id}") == {credential.id, external.id}
    assert ids(f"organisation={elsewhere.id}") == {revoked.id}
    assert ids("q=adeyemi") == {credential.id}  # the learner's name, any case
    assert ids(f"q={external.user.email.upper()}") == {external.id}
    assert ids("q=life+support") == {lapsed.id}  # the title
    assert ids("q=Zo%C3%AB") == {revoked.id}
    assert ids("q=nobody-at-all") == set()
    # Nonsense filters are ignored rather than refused.
    assert ids("status=lost&kind=stolen&organisation=x") == everything


def test_the_register_pages_through_long_lists(make, admin, signed_in):
    learner = make.user("learner")
    for n in range(51):
        services.record_external(
            learner,
            actor=admin,
            title=f"Certificate {n}",
            issuer="Somewhere",
            issued_on=date(2020, 1, 1),
        )
    db.session.commit()
    first, second = signed_in.get("/admin/credentials"), signed_in.get("/admin/credentials?page=2")
    assert len(listed(first)) == 50 and len(listed(second)) == 1
    assert "(51)" in html(first)
    assert not listed(first) & listed(second)


def test_names_with_accents_and_emoji_are_escaped_in_the_register(make, signed_in):
    learner = make.user("learner", name="Siân Nguyễn 🎓 <i>x</i>")
    services.record_external(
        learner,
        actor=learner,
        title="Fellowship <b>FCI</b> ✨",
        issuer="Faculté",
        issued_on=date(2021, 6, 1),
    )
    db.session.commit()
    text = html(signed_in.get("/admin/credentials?q=si%C3%A2n"))
    assert "Siân Nguyễn 🎓 &lt;i&gt;x&lt;/i&gt;" in text
    assert "Fellowship &lt;b&gt;FCI&lt;/b&gt; ✨" in text
    assert "<i>x</i>" not in text and "<b>FCI</b>" not in text


# --- the detail page and its changes ------------------------------------------------------------


def test_the_detail_page_shows_the_facts_and_the_history(credential, signed_in):
    page = signed_in.get(f"/admin/credentials/{credential.id}")
    assert page.status_code == 200
    text = unescape(html(page))
    assert credential.title in text and "Olusegun Adeyemi" in text and credential.uuid in text
    assert "Eastfield Community NHS Trust" in text
    assert "Issued" in text and "The academy (automatic)" not in text  # an admin released it
    assert f"/credentials/{credential.uuid}" in text
    assert "Revoke credential" in text and "Suspend credential" in text
    assert signed_in.get("/admin/credentials/999999").status_code == 404


def test_revoking_needs_a_reason_then_is_audited_and_shown(admin, credential, signed_in):
    path = f"/admin/credentials/{credential.id}/revoke"
    refused = signed_in.post(path, data={"revoke-reason": "   "})
    assert refused.status_code == 422
    assert "Give a reason" in html(refused) and 'id="revoke-reason-error"' in html(refused)
    assert fresh(credential).status == "valid"

    done = signed_in.post(
        path, data={"revoke-reason": "Plagiarism <confirmed> by panel"}, follow_redirects=True
    )
    assert done.status_code == 200
    text = html(done)
    assert "has been revoked" in text
    assert "Plagiarism &lt;confirmed&gt; by panel" in text and "Grace Registrar" in text
    assert fresh(credential).status == "revoked"
    assert audit_trail(credential)[-1] == ("credential.revoke", admin.id)
    # No more status changes are offered, and the public page agrees.
    assert "Suspend credential" not in text and "Revoke credential" not in text
    assert 'data-verdict="revoked"' in html(signed_in.get(f"/credentials/{credential.uuid}"))


def test_revoking_twice_is_a_clear_message_not_an_error_page(admin, credential, signed_in):
    services.revoke(credential, actor=admin, reason="First time")
    db.session.commit()
    response = signed_in.post(
        f"/admin/credentials/{credential.id}/revoke", data={"revoke-reason": "Second time"}
    )
    assert response.status_code == 302
    page = signed_in.get(response.headers["Location"])
    assert "This credential is already revoked" in html(page)
    assert fresh(credential).revoked_reason == "First time"
    assert [a for a, _ in audit_trail(credential)].count("credential.revoke") == 1


def test_suspending_and_reinstating_are_audited(admin, credential, signed_in):
    suspended = signed_in.post(
        f"/admin/credentials/{credential.id}/suspend",
        data={"suspend-reason": "Fitness to practise hearing"},
    )
    assert suspended.status_code == 302
    assert fresh(credential).status == "suspended"
    page = html(signed_in.get(f"/admin/credentials/{credential.id}"))
    assert "Reinstate credential" in page and "Suspend credential" not in page

    refused = signed_in.post(
        f"/admin/credentials/{credential.id}/reinstate", data={"reinstate-reason": ""}
    )
    assert refused.status_code == 422 and fresh(credential).status == "suspended"

    reinstated = signed_in.post(
        f"/admin/credentials/{credential.id}/reinstate",
        data={"reinstate-reason": "Hearing found no case"},
        follow_redirects=True,
    )
    assert "has been reinstated" in html(reinstated)
    assert fresh(credential).status == "valid"
    assert audit_trail(credential)[-2:] == [
        ("credential.suspend", admin.id),
        ("credential.reinstate", admin.id),
    ]
    history = unescape(html(reinstated))
    assert "Fitness to practise hearing" in history and "Hearing found no case" in history


def test_reinstating_what_is_not_suspended_is_a_clear_message(credential, signed_in):
    response = signed_in.post(
        f"/admin/credentials/{credential.id}/reinstate",
        data={"reinstate-reason": "Just in case"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Only a suspended credential can be reinstated" in html(response)


def test_an_admin_verifies_an_external_credential_once(admin, external, signed_in):
    page = html(signed_in.get(f"/admin/credentials/{external.id}"))
    assert "Mark as verified" in page and "Self-declared" in page
    assert "Revoke credential" not in page  # external credentials are removed, not revoked

    verified = signed_in.post(f"/admin/credentials/{external.id}/verify", follow_redirects=True)
    assert "is now verified" in html(verified)
    assert fresh(external).verification == "verified"
    assert fresh(external).verified_by_id == admin.id
    assert audit_trail(external)[-1] == ("credential.verify_external", admin.id)
    assert "Mark as verified" not in html(verified)

    again = signed_in.post(f"/admin/credentials/{external.id}/verify", follow_redirects=True)
    assert again.status_code == 200 and "already verified" in html(again)
    wallet = html(signed_in.get(f"/users/{external.user_id}"))
    assert "Verified" in wallet


def test_issued_credentials_cannot_be_verified_by_hand(credential, signed_in):
    response = signed_in.post(f"/admin/credentials/{credential.id}/verify", follow_redirects=True)
    assert "Only external credentials are verified by hand" in html(response)


def test_the_users_page_lists_their_credentials_for_admins_and_sponsors(
    make, trust, credential, external, signed_in, client_for
):
    learner = credential.user
    page = html(signed_in.get(f"/users/{learner.id}"))
    assert f'href="/admin/credentials/{credential.id}"' in page
    assert f"/my/credentials/{credential.uuid}/certificate" in page
    assert f"/users/{learner.id}/credentials/external/new" in page

    sponsor = make.user("sponsor", scope=trust)
    sponsor_page = html(client_for(sponsor).get(f"/users/{learner.id}"))
    assert f"/my/credentials/{credential.uuid}/certificate" in sponsor_page
    assert "/admin/credentials/" not in sponsor_page
    assert f"/users/{learner.id}/credentials/external/new" in sponsor_page
