"""The award credential follows the programme's rules: enough credits, every core module passed,
and, where the programme asks for it, exam-board ratification of the marks behind it."""

import sqlalchemy as sa

from academy.credentials.models import Credential
from academy.extensions import db
from academy.marking import services as marking


def _programme(make, **fields):
    core = [make.module(credits=30), make.module(credits=30)]
    optional = [make.module(credits=15)]
    programme = make.programme(modules=optional, core=core, credits_required=60, **fields)
    return programme, make.cohort(programme=programme)


def _awards(learner):
    return db.session.scalars(
        sa.select(Credential).where(Credential.user_id == learner.id, Credential.kind == "award")
    ).all()


def _pass(make, learner, cohort, module, mark, admin):
    delivery = next(d for d in cohort.deliveries if d.module_id == module.id)
    return make.passed(
        learner,
        cohort,
        mark=mark,
        actor=admin,
        assignment=make.assignment(cohort, delivery=delivery),
    )


def test_the_award_is_issued_with_its_classification_once_the_rules_are_met(make):
    programme, cohort = _programme(make, award_type="Diploma")
    learner = make.learner_in(cohort)
    admin = make.user("admin")
    core_a, core_b = programme.core_modules
    _pass(make, learner, cohort, core_a, 72, admin)
    assert _awards(learner) == []
    _pass(make, learner, cohort, core_b, 66, admin)
    (award,) = _awards(learner)
    assert award.classification == "Merit" and award.credits_earned == 60
    achievement = award.document["credentialSubject"]["achievement"]
    assert achievement["achievementType"] == "Diploma"
    assert award.document["credentialSubject"]["result"][0]["value"] == "Merit"


def test_credits_without_every_core_module_earn_no_award(make):
    programme, cohort = _programme(make)
    programme.credits_required = 45
    db.session.commit()
    learner = make.learner_in(cohort)
    admin = make.user("admin")
    _pass(make, learner, cohort, programme.core_modules[0], 80, admin)
    _pass(make, learner, cohort, programme.optional_modules[0], 80, admin)
    assert _awards(learner) == []


def test_an_award_needing_ratification_waits_for_the_exam_board(make):
    programme, cohort = _programme(make, award_needs_ratification=True)
    learner = make.learner_in(cohort)
    admin = make.user("admin")
    core_a, core_b = programme.core_modules
    _pass(make, learner, cohort, core_a, 60, admin)
    _pass(make, learner, cohort, core_b, 60, admin)
    assert _awards(learner) == []

    # The next cohort's board ratifies before release.
    later = make.cohort(programme=programme)
    other = make.learner_in(later)
    for module in (core_a, core_b):
        delivery = next(d for d in later.deliveries if d.module_id == module.id)
        assignment = make.assignment(later, delivery=delivery)
        submission = make.submission(assignment, other)
        marking.save_mark(submission, actor=admin, expected_version=0, mark=58)
        marking.ratify(assignment, actor=admin)
        marking.release(assignment, actor=admin)
        db.session.commit()
    (award,) = _awards(other)
    assert award.classification == "Pass"
    assert (
        "exam board" in award.document["credentialSubject"]["achievement"]["criteria"]["narrative"]
    )


def test_losing_a_core_pass_revokes_the_award(make):
    programme, cohort = _programme(make)
    learner = make.learner_in(cohort)
    admin = make.user("admin")
    core_a, core_b = programme.core_modules
    _pass(make, learner, cohort, core_a, 70, admin)
    mark = _pass(make, learner, cohort, core_b, 70, admin)
    (award,) = _awards(learner)
    marking.save_mark(mark.submission, actor=admin, expected_version=mark.version, mark=10,
                      reason="Plagiarism confirmed by the academic conduct panel")  # fmt: skip
    db.session.commit()
    assert award.status == "revoked"
    assert "award rules" in award.revoked_reason
