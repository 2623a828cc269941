"""Forms for editing a module's learning content, one per kind of resource. The services hold the
rules (web addresses, file types by content, sizes); these check what retyping can fix."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, StopValidation

from academy.content.services import MAX_BODY, MAX_TITLE, MAX_URL, Upload
from academy.core.forms import VersionedForm

BODY_FORMAT_CHOICES = [
    SelectChoice("markdown", "Markdown (headings with #, **bold**, lists with -)"),
    SelectChoice("html", "HTML (basic tags only; scripts and styles are removed)"),
]


def _title(label: str = "Title") -> StringField:
    return StringField(
        label,
        validators=[
            InputRequired("Enter a title"),
            Length(max=MAX_TITLE, message=f"Title must be {MAX_TITLE} characters or fewer"),
        ],
    )


def _long_text(label: str, description: str, required: str | None = None) -> TextAreaField:
    return TextAreaField(
        label,
        description=description,
        validators=[
            InputRequired(required) if required else Optional(),
            Length(max=MAX_BODY, message=f"The text must be {MAX_BODY:,} characters or fewer"),
        ],
    )


class SectionForm(FlaskForm):
    title = _title("Section title")
    summary = _long_text("Summary", "What learners will do in this section (optional)")

    def service_fields(self) -> dict:
        return {"title": self.title.data, "summary": self.summary.data or ""}


class DeleteForm(FlaskForm):
    """A confirmation: only the CSRF token."""


class MoveForm(FlaskForm):
    direction = HiddenField(validators=[InputRequired()])


class _ResourceForm(FlaskForm):
    title = _title()

    def service_fields(self) -> dict:
        return {"title": self.title.data}


class PageForm(_ResourceForm):
    body_format = SelectField("Format", choices=BODY_FORMAT_CHOICES, default="markdown")
    body = _long_text("Text", "The page as learners will read it", "Enter the page's text")

    def service_fields(self) -> dict:
        return {
            **super().service_fields(),
            "body": self.body.data,
            "body_format": self.body_format.data,
        }


class LinkForm(_ResourceForm):
    url = StringField(
        "Web address",
        description="Starting with https://, like https://digital.nhs.uk",
        validators=[
            InputRequired("Enter a web address"),
            Length(max=MAX_URL, message=f"The web address must be {MAX_URL} characters or fewer"),
        ],
    )
    body = _long_text("Description", "Why learners should visit it (optional, Markdown)")

    def service_fields(self) -> dict:
        return {**super().service_fields(), "url": self.url.data, "body": self.body.data or ""}


class ReadingForm(_ResourceForm):
    body = _long_text(
        "Reference",
        "The citation, with any notes for learners (Markdown)",
        "Enter the reference",
    )
    url = StringField(
        "Web address (optional)",
        description="A DOI or library link, starting with https://",
        validators=[
            Optional(),
            Length(max=MAX_URL, message=f"The web address must be {MAX_URL} characters or fewer"),
        ],
    )

    def service_fields(self) -> dict:
        return {**super().service_fields(), "body": self.body.data, "url": self.url.data or ""}


class FileForm(_ResourceForm):
    file = FileField(
        "File",
        description="PDF, Word, Excel, PowerPoint, OpenDocument, plain text, PNG or JPEG, "
        "up to 50 MB",
    )

    #: A new file resource needs a file; when editing, leaving it empty keeps the current one.
    requires_file = True

    def validate_file(self, field) -> None:
        if self.requires_file and not _has_file(field):
            raise StopValidation("Choose a file to upload")

    def service_fields(self) -> dict:
        fields = super().service_fields()
        if _has_file(self.file):
            fields["upload"] = Upload(stream=self.file.data.stream, name=self.file.data.filename)
        return fields


def _has_file(field) -> bool:
    return bool(field.data and getattr(field.data, "filename", None))


class EditPageForm(VersionedForm, PageForm):
    pass


class EditLinkForm(VersionedForm, LinkForm):
    pass


class EditReadingForm(VersionedForm, ReadingForm):
    pass


class EditFileForm(VersionedForm, FileForm):
    requires_file = False


#: For each kind of resource: the form that adds one and the form that edits one.
RESOURCE_FORMS = {
    "page": (PageForm, EditPageForm),
    "link": (LinkForm, EditLinkForm),
    "reading": (ReadingForm, EditReadingForm),
    "file": (FileForm, EditFileForm),
}
