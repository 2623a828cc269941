"""Forms for signing in and managing one's own password.

Forms check only what a person can fix by retyping (missing, too long, not matching). The
password rules themselves live in `academy.auth.passwords` and reach the form as a DomainError.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, PasswordField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import EqualTo, InputRequired, Length, ValidationError

from academy.auth.passwords import MAX_LENGTH, MIN_LENGTH

#: Long enough for any real password, short enough that nobody makes argon2 hash megabytes.
SIGN_IN_PASSWORD_MAX = 1024


def looks_like_an_email_address(form: FlaskForm, field: Field) -> None:
    # Deliberately loose: the account lookup decides, and test domains such as `.test` must pass.
    local, at, domain = (field.data or "").strip().rpartition("@")
    if not at or not local or "." not in domain or " " in field.data.strip():
        raise ValidationError("Enter an email address in the correct format, like name@example.com")


def _email_field() -> StringField:
    return StringField(
        "Email address",
        validators=[
            InputRequired("Enter your email address"),
            Length(max=254, message="Email address must be 254 characters or fewer"),
            looks_like_an_email_address,
        ],
    )


def _new_password_field() -> PasswordField:
    return PasswordField(
        "New password",
        description=f"Must be at least {MIN_LENGTH} characters. "
        "A few unrelated words make a strong password that is easy to remember.",
        validators=[
            InputRequired("Enter a new password"),
            Length(max=MAX_LENGTH, message=f"Password must be {MAX_LENGTH} characters or fewer"),
        ],
    )


def _confirm_password_field() -> PasswordField:
    return PasswordField(
        "Confirm new password",
        validators=[
            InputRequired("Confirm your new password"),
            EqualTo("password", message="Passwords do not match"),
        ],
    )


class SignInForm(FlaskForm):
    email = _email_field()
    password = PasswordField(
        "Password",
        validators=[
            InputRequired("Enter your password"),
            Length(max=SIGN_IN_PASSWORD_MAX, message="The email address or password is not right"),
        ],
    )


class ForgotPasswordForm(FlaskForm):
    email = _email_field()


class NewPasswordForm(FlaskForm):
    """Setting a password from a reset or invitation link."""

    password = _new_password_field()
    confirm = _confirm_password_field()


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[
            InputRequired("Enter your current password"),
            Length(max=SIGN_IN_PASSWORD_MAX, message="Your current password is not right"),
        ],
    )
    password = _new_password_field()
    confirm = _confirm_password_field()


class MarksSharingForm(FlaskForm):
    share = RadioField(
        "Can your sponsoring organisation see your marks and feedback?",
        choices=[
            SelectChoice("yes", "Yes, let them see my marks and feedback"),
            SelectChoice("no", "No, they see only whether I passed and my credits"),
        ],
        validators=[InputRequired("Choose whether to share your marks and feedback")],
    )


class SecondFactorForm(FlaskForm):
    """A code from the authenticator app, or (where `accept_recovery`) a recovery code."""

    #: Set when the attempt was refused unchecked because of repeated failures (seconds to wait).
    retry_after = 0

    code = StringField(
        "Code from your authenticator app",
        validators=[
            InputRequired("Enter the code from your authenticator app"),
            Length(max=64, message="Enter the code from your authenticator app"),
        ],
    )

    def __init__(self, *args, accept_recovery: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if accept_recovery:
            self.code.description = "The 6 digits your app shows now, or one of your recovery codes"
        else:
            self.code.description = "The 6 digits your app shows now"


class NewTokenForm(FlaskForm):
    label = StringField(
        "Name",
        description="Something to recognise it by, such as the script or report that uses it",
        validators=[
            InputRequired("Enter a name for the token"),
            Length(max=100, message="Name must be 100 characters or fewer"),
        ],
    )
    write = BooleanField(
        "Allow it to change data",
        description="Leave unticked for a token that only reads, such as one for a report",
    )
    days = RadioField(
        "How long should it last?",
        choices=[
            SelectChoice("30", "30 days"),
            SelectChoice("90", "90 days"),
            SelectChoice("365", "1 year"),
        ],
        default="90",
        validators=[InputRequired("Choose how long the token lasts")],
    )


class SignOutEverywhereForm(FlaskForm):
    revoke_tokens = BooleanField(
        "Also revoke my API tokens",
        description="Scripts using them will stop working until you make new ones",
    )
