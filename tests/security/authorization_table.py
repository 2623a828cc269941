"""The explicit authorization table: for every endpoint of the URL map, what each actor of
tests/security/matrix_world.py gets when every id in the URL names an object of cohort A /
learner A's world (learner A, employed and sponsored by trust A, enrolled in cohort A of
programme A). tests/security/test_authorization_matrix.py calls every route as every actor and
compares.

Outcomes:
  200, 302, ...  the route's normal answer (a read must give exactly this);
  LOGIN          an anonymous visitor sent to sign in (and brought back after);
  401            the API without a token;
  403            a page or section the actor's role may not use (a deliberate role refusal);
  404            an object outside the actor's scope, answered as if it did not exist;
  REACHED        a change (POST, PUT, PATCH, DELETE) that got past authorization: any answer
                 but a refusal (the matrix sends the smallest body, which may well be refused
                 as invalid or conflicting: 400, 409 and 422 all show the object was reached).
For a change, a refusal must be exactly the one given, and must record nothing (no audit
event). A change whose allowed code is written as a number (endpoints that also answer GET)
is checked like REACHED. `Exactly(code)` pins a change's answer to that code: a refusal the
body decides (e.g. 422 for an organisation named in the body that the caller does not sponsor).

Adding a route: add one entry, named by its endpoint, after reading the view's policy checks.
Never copy what the route answers today into the table without asking whether it should.
"""

from __future__ import annotations

from tests.security.matrix_world import ACTORS

LOGIN = "login"
REACHED = "reached"
REFUSALS = frozenset({401, 403, 404, LOGIN})


class Exactly(int):
    """A change's expected code, compared exactly (and, being a refusal, changing nothing)."""

    def __repr__(self) -> str:
        return f"exactly {int(self)}"


def everyone(outcome, **actors) -> dict:
    """`outcome` for every actor, anonymous included, except those named."""
    unknown = set(actors) - set(ACTORS)
    assert not unknown, f"not actors: {unknown}"
    return {actor: actors.get(actor, outcome) for actor in ACTORS}


def page(default, **actors) -> dict:
    """An HTML page behind sign-in: anonymous visitors go to sign in, every signed-in actor
    gets `default` unless named."""
    return everyone(default, anonymous=LOGIN, **actors)


def api(default, **actors) -> dict:
    """An API endpoint: no token is 401, every token holder gets `default` unless named."""
    return everyone(default, anonymous=401, **actors)


# --- shorthand for the usual shapes --------------------------------------------------------------

PUBLIC = everyone(200)
#: Anyone signed in, about themselves (their account, wallet, CPD) or the catalogue.
SIGNED_IN = page(200)
ANY_TOKEN = api(200)
#: Academy administration: every other role is refused the whole page.
ADMIN_PAGE = page(403, admin=200)
ADMIN_API = api(403, admin=200)
#: Teaching cohort A's work: its tutor and admins act; learner A and the programme's examiner
#: can see the object (so 403, not 404); nobody else knows it exists.
TEACHING_PAGE = page(404, learner=403, tutor=200, examiner=403, admin=200)
TEACHING_API = api(404, learner=403, tutor=200, examiner=403, admin=200)
#: Trust A's dashboards and exports: its sponsor and admins; 404 for everyone else, so no one
#: learns another trust's ids.
SPONSOR_REPORT_PAGE = page(404, sponsor=200, admin=200)
SPONSOR_REPORT_API = api(404, sponsor=200, admin=200)
#: Cohort administration: admins; those who can see cohort A are refused the page (403), those
#: who cannot get 404.
COHORT_ADMIN_PAGE = page(403, other_learner=404, other_tutor=404, other_sponsor=404, admin=200)
#: User administration of learner A: the users section refuses those who may not list users
#: (403) before any lookup; tutors and sponsors who list users but not learner A get 404.
USER_ADMIN_PAGE = page(403, other_tutor=404, other_sponsor=404, admin=200)


EXPECTED: dict[str, dict] = {
    # academy_reports
    "academy_reports.caseload": page(403, tutor=200, other_tutor=200, admin=200),
    "academy_reports.report": ADMIN_PAGE,
    "academy_reports.report_csv": ADMIN_PAGE,
    "academy_reports.reports": ADMIN_PAGE,
    # academy_reports_api
    "academy_reports_api.completion_report": ADMIN_API,
    "academy_reports_api.credentials_report": ADMIN_API,
    "academy_reports_api.extensions_report": ADMIN_API,
    "academy_reports_api.feedback_turnaround_report": ADMIN_API,
    # account_access
    "account_access.new_token": page(REACHED),
    "account_access.revoke_token": page(404, learner=REACHED),
    "account_access.sign_out_everywhere": SIGNED_IN,
    "account_access.tokens": SIGNED_IN,
    # api-docs
    "api-docs.openapi_json": PUBLIC,
    "api-docs.openapi_swagger_ui": PUBLIC,
    # assessment: learner A's own work is theirs alone to change (tutors and admins are refused
    # uploads, submission and extension requests with 403: they can see the assignment); the
    # examiner sees the assignment but not drafts, files or receipts.
    "assessment.assignment": page(
        200, other_learner=404, other_tutor=404, sponsor=404, other_sponsor=404
    ),
    "assessment.decide_extension": page(404, learner=403, tutor=200, admin=200),
    "assessment.download": page(404, learner=200, tutor=200, admin=200),
    "assessment.edit": TEACHING_PAGE,
    "assessment.extensions": page(403, tutor=200, other_tutor=200, admin=200),
    "assessment.mine": SIGNED_IN,
    "assessment.new": page(403, tutor=200, other_tutor=200, admin=200),
    "assessment.receipt": page(404, learner=200, tutor=200, admin=200),
    "assessment.remove_file": page(404, learner=REACHED, tutor=403, examiner=403, admin=403),
    "assessment.reopen": TEACHING_PAGE,
    "assessment.request_extension": page(404, learner=200, tutor=403, examiner=403, admin=403),
    # Learner A has already submitted: the page sends them back to the assignment.
    "assessment.submit": page(404, learner=302, tutor=403, examiner=403, admin=403),
    "assessment.teaching": page(403, tutor=200, other_tutor=200, admin=200),
    "assessment.tracking": TEACHING_PAGE,
    "assessment.upload": page(404, learner=REACHED, tutor=403, examiner=403, admin=403),
    # assessment_api: uploads answer 404 to anyone who is not one of the assignment's learners
    # (documented); the examiner may see a submission exists, so its files are 403.
    # The body names cohort A's module: tutor B is refused it as out of scope.
    "assessment_api.create_assignment": api(403, tutor=REACHED, other_tutor=404, admin=REACHED),
    "assessment_api.decide_extension": api(404, learner=403, tutor=REACHED, admin=REACHED),
    "assessment_api.download_file": api(404, learner=200, tutor=200, examiner=403, admin=200),
    "assessment_api.get_assignment": api(
        200, other_learner=404, other_tutor=404, sponsor=404, other_sponsor=404
    ),
    "assessment_api.get_extension": api(404, learner=200, tutor=200, admin=200),
    "assessment_api.get_submission": api(404, learner=200, tutor=200, examiner=403, admin=200),
    "assessment_api.list_assignments": ANY_TOKEN,
    "assessment_api.list_extensions": ANY_TOKEN,
    "assessment_api.list_submissions": TEACHING_API,
    "assessment_api.remove_file": api(404, learner=REACHED, tutor=403, examiner=403, admin=403),
    "assessment_api.reopen": TEACHING_API,
    "assessment_api.request_extension": api(
        404, learner=REACHED, tutor=403, examiner=403, admin=403
    ),
    "assessment_api.submit": api(404, learner=REACHED, tutor=403, examiner=403, admin=403),
    "assessment_api.update_assignment": TEACHING_API,
    "assessment_api.upload_file": api(404, learner=REACHED),
    # audit
    "audit.export": ADMIN_PAGE,
    "audit.index": ADMIN_PAGE,
    # auth
    "auth.account": SIGNED_IN,
    "auth.change_password": SIGNED_IN,
    "auth.forgot_password": PUBLIC,
    "auth.login": everyone(302, anonymous=200),
    "auth.logout": everyone(200, anonymous=302),
    "auth.marks_sharing": SIGNED_IN,
    "auth.reset_password": PUBLIC,
    "auth.set_password": PUBLIC,
    # auth_api
    "auth_api.create_token": everyone(REACHED),
    "auth_api.create_user": api(403, admin=REACHED),
    "auth_api.end_role": api(403, admin=REACHED),
    "auth_api.get_marks_sharing": ANY_TOKEN,
    "auth_api.get_user": api(
        200, other_learner=404, other_tutor=404, other_sponsor=404, examiner=404
    ),
    "auth_api.grant_role": api(403, admin=REACHED),
    "auth_api.list_tokens": ANY_TOKEN,
    "auth_api.list_users": api(200, learner=403, other_learner=403, examiner=403),
    "auth_api.me": ANY_TOKEN,
    "auth_api.put_marks_sharing": api(REACHED),
    "auth_api.revoke_token": api(404, learner=REACHED, admin=REACHED),
    "auth_api.sign_out_everywhere": api(REACHED),
    "auth_api.update_user": api(403, admin=REACHED),
    # catalogue
    "catalogue.edit_module": ADMIN_PAGE,
    "catalogue.edit_programme": ADMIN_PAGE,
    "catalogue.module": SIGNED_IN,
    "catalogue.modules": SIGNED_IN,
    "catalogue.new_module": ADMIN_PAGE,
    "catalogue.new_programme": ADMIN_PAGE,
    "catalogue.programme": SIGNED_IN,
    "catalogue.programmes": SIGNED_IN,
    # catalogue_api
    "catalogue_api.create_module": api(403, admin=REACHED),
    "catalogue_api.create_programme": api(403, admin=REACHED),
    "catalogue_api.get_module": ANY_TOKEN,
    "catalogue_api.get_programme": ANY_TOKEN,
    "catalogue_api.list_modules": ANY_TOKEN,
    "catalogue_api.list_programmes": ANY_TOKEN,
    "catalogue_api.update_module": api(403, admin=REACHED),
    "catalogue_api.update_programme": api(403, admin=REACHED),
    # cohorts: the cohort page is for staff and sponsors (learner A is refused it, 403).
    "cohorts.add_delivery": COHORT_ADMIN_PAGE,
    "cohorts.assign_tutor": COHORT_ADMIN_PAGE,
    "cohorts.edit": COHORT_ADMIN_PAGE,
    "cohorts.edit_delivery": COHORT_ADMIN_PAGE,
    "cohorts.enrol": COHORT_ADMIN_PAGE,
    "cohorts.enrolment": COHORT_ADMIN_PAGE,
    "cohorts.import_confirm": COHORT_ADMIN_PAGE,
    "cohorts.import_upload": COHORT_ADMIN_PAGE,
    "cohorts.index": ADMIN_PAGE,
    "cohorts.mine": page(403, tutor=200, other_tutor=200),
    "cohorts.new": ADMIN_PAGE,
    "cohorts.remove_delivery": COHORT_ADMIN_PAGE,
    "cohorts.remove_tutor": COHORT_ADMIN_PAGE,
    "cohorts.show": page(200, learner=403, other_learner=404, other_tutor=404, other_sponsor=404),
    "cohorts.sponsored": page(403, sponsor=200, other_sponsor=200),
    # cohorts_api
    "cohorts_api.assign_tutor": api(403, admin=REACHED),
    "cohorts_api.change_status": api(403, admin=REACHED),
    "cohorts_api.create_cohort": api(403, admin=REACHED),
    "cohorts_api.enrol": api(403, admin=REACHED),
    "cohorts_api.get_cohort": api(200, other_learner=404, other_tutor=404, other_sponsor=404),
    "cohorts_api.import_enrolments": api(403, admin=REACHED),
    "cohorts_api.list_cohorts": ANY_TOKEN,
    "cohorts_api.list_enrolments": api(
        200, learner=403, other_learner=404, other_tutor=404, other_sponsor=404
    ),
    # content
    "content.complete": page(404, learner=REACHED, tutor=403, examiner=403, admin=403),
    "content.delete_resource": TEACHING_PAGE,
    "content.delete_section": TEACHING_PAGE,
    "content.download": page(
        200, other_learner=404, other_tutor=404, sponsor=404, other_sponsor=404
    ),
    "content.edit_resource": TEACHING_PAGE,
    "content.edit_section": TEACHING_PAGE,
    "content.incomplete": page(404, learner=REACHED, tutor=403, examiner=403, admin=403),
    "content.module": page(200, other_learner=404, other_tutor=404, sponsor=404, other_sponsor=404),
    "content.move_resource": TEACHING_PAGE,
    "content.move_section": TEACHING_PAGE,
    "content.new_resource": TEACHING_PAGE,
    "content.new_section": TEACHING_PAGE,
    "content.resource": page(
        200, other_learner=404, other_tutor=404, sponsor=404, other_sponsor=404
    ),
    # core (the metrics page answers a local address with no METRICS_TOKEN set, as in tests)
    "core.accessibility": PUBLIC,
    "core.healthz": PUBLIC,
    "core.index": everyone(302, anonymous=200),
    "core.metrics_exposition": PUBLIC,
    "core.privacy": PUBLIC,
    "core.readyz": PUBLIC,
    # cpd: a CPD record is its learner's own; even admins only read it (cpd_api.user_record).
    "cpd.delete": page(404, learner=200),
    "cpd.edit": page(404, learner=200),
    "cpd.export_csv": SIGNED_IN,
    "cpd.index": SIGNED_IN,
    "cpd.new": SIGNED_IN,
    "cpd.print_record": SIGNED_IN,
    # cpd_api
    "cpd_api.add_entry": api(REACHED),
    "cpd_api.delete_entry": api(404, learner=REACHED),
    "cpd_api.get_entry": api(404, learner=200),
    "cpd_api.my_record": ANY_TOKEN,
    "cpd_api.update_entry": api(404, learner=REACHED),
    "cpd_api.user_record": api(404, learner=200, tutor=403, sponsor=403, admin=200),
    # credentials: sponsors see their staff's credentials (and external evidence) and may remove
    # a self-declared external one they could have recorded; tutors and examiners see none.
    "credentials.add_external_for": page(404, learner=200, tutor=403, sponsor=200, admin=200),
    "credentials.add_own_external": SIGNED_IN,
    "credentials.certificate": page(404, learner=200, sponsor=200, admin=200),
    "credentials.change_status": page(403, admin=REACHED),
    "credentials.detail": ADMIN_PAGE,
    "credentials.evidence": page(404, learner=200, sponsor=200, admin=200),
    "credentials.register": ADMIN_PAGE,
    "credentials.remove_external": page(404, learner=200, sponsor=200, admin=200),
    "credentials.verify": page(403, admin=REACHED),
    "credentials.wallet": SIGNED_IN,
    # credentials_api
    "credentials_api.download_evidence": api(404, learner=200, sponsor=200, admin=200),
    "credentials_api.get_credential": api(404, learner=200, sponsor=200, admin=200),
    "credentials_api.list_credentials": ANY_TOKEN,
    "credentials_api.record_external": api(
        404, learner=REACHED, tutor=403, sponsor=REACHED, admin=REACHED
    ),
    "credentials_api.reinstate": api(404, learner=403, sponsor=403, admin=REACHED),
    "credentials_api.remove_external": api(404, learner=REACHED, sponsor=REACHED, admin=REACHED),
    "credentials_api.revoke": api(404, learner=403, sponsor=403, admin=REACHED),
    "credentials_api.suspend": api(404, learner=403, sponsor=403, admin=REACHED),
    "credentials_api.verify": api(404, learner=403, sponsor=403, admin=REACHED),
    # credentials_public
    "credentials_public.achievement": PUBLIC,
    "credentials_public.credential_json": PUBLIC,
    "credentials_public.credential_page": PUBLIC,
    "credentials_public.issuer": PUBLIC,
    "credentials_public.issuer_key": PUBLIC,
    "credentials_public.status_list": PUBLIC,
    "credentials_public.verify": PUBLIC,
    # learning
    "learning.home": SIGNED_IN,
    # marking: only admins ratify (the exam board); the examiner reads gradebooks and samples;
    # feedback files are for learner A (released), tutor A and admins.
    "marking.examining": page(403, examiner=200, admin=200),
    "marking.feedback_file": page(404, learner=200, tutor=200, admin=200),
    "marking.gradebook": page(404, learner=403, tutor=200, sponsor=403, examiner=200, admin=200),
    "marking.gradebook_csv": page(
        404, learner=403, tutor=200, sponsor=403, examiner=200, admin=200
    ),
    "marking.mark": TEACHING_PAGE,
    "marking.moderate": TEACHING_PAGE,
    "marking.my_marks": SIGNED_IN,
    "marking.queue": page(403, tutor=200, other_tutor=200, admin=200),
    "marking.ratify": page(404, learner=403, tutor=403, examiner=403, admin=REACHED),
    "marking.release": TEACHING_PAGE,
    "marking.sample": page(403, examiner=200, admin=200),
    # marking_api
    "marking_api.moderate": TEACHING_API,
    "marking_api.my_marks": ANY_TOKEN,
    "marking_api.ratify": api(404, learner=403, tutor=403, examiner=403, admin=REACHED),
    "marking_api.release": TEACHING_API,
    "marking_api.results": ANY_TOKEN,
    "marking_api.save_mark": TEACHING_API,
    # mfa: staff must keep two-factor sign-in (403 on turning it off); for others there is
    # nothing to turn off or regenerate (302 to the MFA page); the sign-in steps send anyone
    # with no sign-in under way back to /sign-in.
    "mfa.disable": page(302, tutor=403, other_tutor=403, admin=403),
    "mfa.manage": SIGNED_IN,
    "mfa.regenerate": page(302, tutor=200, other_tutor=200, admin=200),
    "mfa.set_up": everyone(302),
    "mfa.verify": everyone(302),
    # notifications
    "notifications.outbox": ADMIN_PAGE,
    "notifications.outbox_message": ADMIN_PAGE,
    "notifications.outbox_retry": page(403, admin=REACHED),
    "notifications.preferences": SIGNED_IN,
    # notifications_api
    "notifications_api.get_email_preferences": ANY_TOKEN,
    "notifications_api.get_outbox_message": ADMIN_API,
    "notifications_api.list_outbox": ADMIN_API,
    "notifications_api.put_email_preferences": api(REACHED),
    "notifications_api.retry_outbox_message": api(403, admin=REACHED),
    # organisations
    "organisations.edit": page(403, other_sponsor=404, admin=200),
    "organisations.index": page(403, sponsor=200, other_sponsor=200, admin=200),
    "organisations.new": ADMIN_PAGE,
    "organisations.show": page(403, sponsor=200, other_sponsor=404, admin=200),
    # organisations_api
    "organisations_api.create_organisation": api(403, admin=REACHED),
    "organisations_api.get_organisation": api(404, sponsor=200, admin=200),
    "organisations_api.list_organisations": api(403, sponsor=200, other_sponsor=200, admin=200),
    "organisations_api.update_organisation": api(403, admin=REACHED),
    # privacy: a data export is one's own; erasure is user administration.
    "privacy.erase": USER_ADMIN_PAGE,
    "privacy.export_download": page(REACHED),
    "privacy.export_page": SIGNED_IN,
    # privacy_api
    "privacy_api.erase_user": api(403, admin=REACHED),
    "privacy_api.export_me": ANY_TOKEN,
    # reporting
    "reporting.dashboard": SPONSOR_REPORT_PAGE,
    "reporting.index": page(403, sponsor=302, other_sponsor=302, admin=200),
    "reporting.learner": SPONSOR_REPORT_PAGE,
    # reporting_api
    "reporting_api.get_dashboard": SPONSOR_REPORT_API,
    # reporting_exports
    "reporting_exports.index": SPONSOR_REPORT_PAGE,
    "reporting_exports.progress": SPONSOR_REPORT_PAGE,
    "reporting_exports.staff_credentials": SPONSOR_REPORT_PAGE,
    "reporting_exports.subscriptions": page(403, sponsor=200, other_sponsor=200),
    # reporting_exports_api
    "reporting_exports_api.my_subscriptions": ANY_TOKEN,
    "reporting_exports_api.progress_csv": SPONSOR_REPORT_API,
    "reporting_exports_api.progress_xlsx": SPONSOR_REPORT_API,
    "reporting_exports_api.staff_credentials_csv": SPONSOR_REPORT_API,
    "reporting_exports_api.staff_credentials_xlsx": SPONSOR_REPORT_API,
    # The body names trust A: any other caller is told it is not theirs (422), changing nothing.
    "reporting_exports_api.update_my_subscriptions": api(Exactly(422), sponsor=REACHED),
    # static
    "static": PUBLIC,
    # users: learners and examiners may not list users at all (403).
    "users.edit": USER_ADMIN_PAGE,
    "users.end_role": USER_ADMIN_PAGE,
    "users.grant_role": USER_ADMIN_PAGE,
    "users.index": page(200, learner=403, other_learner=403, examiner=403),
    "users.new": ADMIN_PAGE,
    "users.resend_invitation": USER_ADMIN_PAGE,
    "users.reset_mfa": USER_ADMIN_PAGE,
    "users.show": page(403, tutor=200, other_tutor=404, sponsor=200, other_sponsor=404, admin=200),
    "users.sign_out_everywhere": USER_ADMIN_PAGE,
}


def expected(endpoint: str, method: str, actor: str):
    """The table's outcome for `actor` on `endpoint` (an entry may hold a per-method entry under
    the method's name, e.g. "POST": {...}, where a change differs from the read)."""
    entry = EXPECTED[endpoint]
    outcome = entry.get(method, entry).get(actor)
    assert not (method == "GET" and outcome == REACHED), f"{endpoint}: REACHED is for changes"
    return outcome
