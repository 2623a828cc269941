"""The Open Badges 3.0 OpenBadgeCredential for an issued credential, before it is signed.

Every property here is defined by the VC 2.0 or Open Badges 3.0 context (VC 2.0 has no @vocab,
so an undefined one would be dropped from what is signed); tests check the whole document
survives a JSON-LD round trip.
"""

from __future__ import annotations

import hashlib
import secrets
from decimal import ROUND_HALF_UP, Decimal

from academy.core.urls import external_url
from academy.credentials import keys, proof
from academy.credentials.models import Credential

CONTEXT = [proof.VC_V2, proof.OB_V3, proof.OB_EXTENSIONS]


def credits(value) -> float:
    """Credits are xsd:float in Open Badges: round to one decimal place so no binary fraction
    reaches the canonical form."""
    return float(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def identity_hash(email: str, salt: str) -> str:
    """Open Badges' hashed identifier: `sha256$` + hex SHA-256 of the email then the salt. The
    email is lower-cased first, as the spec asks of email identities."""
    return "sha256$" + hashlib.sha256((email.strip().lower() + salt).encode()).hexdigest()


def public_url(credential: Credential) -> str:
    return external_url("credentials_public.credential_page", uuid=credential.uuid)


def achievement_id(credential: Credential) -> str:
    if credential.kind == "module":
        return external_url(
            "credentials_public.achievement", kind="module", code=credential.module.code
        )
    return external_url(
        "credentials_public.achievement", kind="programme", code=credential.programme.code
    )


def _module_achievement(credential: Credential) -> dict:
    module = credential.module
    outcomes = "".join(f"\n- {outcome}" for outcome in module.learning_outcomes or [])
    narrative = (
        f"Passed every assessment of {module.code} {module.title}, a level {module.level} module, "
        f"with an overall mark of at least {module.pass_mark}%."
    )
    if outcomes:
        narrative += "\n\nLearning outcomes:" + outcomes
    achievement_ref = achievement_id(credential)
    return {
        "id": achievement_ref,
        "type": ["Achievement"],
        "achievementType": "Course",
        "name": f"{module.code} {module.title}",
        "description": module.summary
        or f"{module.title}: a module of the {credential.issuer_name}.",
        "criteria": {"narrative": narrative},
        "creditsAvailable": credits(module.credits),
        "fieldOfStudy": module.topic_label,
        "humanCode": module.code,
        "resultDescription": [
            {
                "id": f"{achievement_ref}#outcome",
                "type": ["ResultDescription"],
                "name": "Module outcome",
                "resultType": "Status",
                "allowedValue": ["Pass"],
            }
        ],
    }


def _award_achievement(credential: Credential) -> dict:
    programme = credential.programme
    core = ", ".join(module.code for module in programme.core_modules)
    narrative = f"Earned at least {programme.credits_required} credits in {programme.title}"
    narrative += f", passing every core module ({core})." if core else "."
    if programme.award_needs_ratification:
        narrative += " Confirmed by the exam board."
    achievement_ref = achievement_id(credential)
    return {
        "id": achievement_ref,
        "type": ["Achievement"],
        "achievementType": programme.award_type,
        "name": programme.award_title,
        "description": f"{programme.award_title}, awarded by the {credential.issuer_name}.",
        "criteria": {"narrative": narrative},
        "creditsAvailable": credits(programme.credits_required),
        "humanCode": programme.code,
        "resultDescription": [
            {
                "id": f"{achievement_ref}#classification",
                "type": ["ResultDescription"],
                "name": "Classification",
                "resultType": "LetterGrade",
                "allowedValue": ["Pass", "Merit", "Distinction"],
            }
        ],
    }


def build(credential: Credential, status_entries: list[dict]) -> dict:
    """The unsigned credential. The learner is identified by a salted hash of their email, so
    the public document names no one; the public page shows the name to holders of the share
    link only."""
    if credential.kind == "module":
        achievement = _module_achievement(credential)
        result_value = "Pass"
    else:
        achievement = _award_achievement(credential)
        result_value = credential.classification or "Pass"
    salt = secrets.token_hex(16)
    subject = {
        "type": ["AchievementSubject"],
        "identifier": [
            {
                "type": "IdentityObject",
                "identityHash": identity_hash(credential.user.email, salt),
                "identityType": "emailAddress",
                "hashed": True,
                "salt": salt,
            }
        ],
        "achievement": achievement,
        "creditsEarned": credits(credential.credits_earned or 0),
        "result": [
            {
                "type": ["Result"],
                "resultDescription": achievement["resultDescription"][0]["id"],
                "value": result_value,
                "status": "Completed",
            }
        ],
    }
    document = {
        "@context": list(CONTEXT),
        "id": f"urn:uuid:{credential.uuid}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": keys.issuer_profile(),
        "validFrom": proof.iso_seconds(credential.issued_at),
        "name": credential.title,
        "credentialSubject": subject,
        "evidence": [
            {
                "id": public_url(credential),
                "type": ["Evidence"],
                "name": "Verification page",
                "narrative": "The academy's public page for this credential, with its current "
                "status.",
            }
        ],
        "credentialStatus": status_entries,
    }
    if credential.expires_at is not None:
        document["validUntil"] = proof.iso_seconds(credential.expires_at)
    return document
