"""What a notification email says: templates (shipped in `templates/`, or an admin's own files of the
same names in `[smtp] templates_dir`), the fields they may name, and the email built from them.

Rules:
- Templates are `string.Template` text (`$caller`, `${mailbox}`, `$$` for a dollar sign): substitution
  only, no code runs from a template. A template naming a field that does not exist is refused when the
  templates are loaded (at start), not when the first email goes out.
- Every value placed in an HTML template is escaped. The transcription fragment (`transcription.txt`,
  `transcription.html`) is filled in first and goes into the body as `$transcription`, or `$transcription`
  is empty when there is none to show.
- A subject is one line: runs of whitespace (line breaks included) become one space.
- Times are shown in the box's zone (else its owner's, else UTC); lengths as H:MM:SS.
"""

import base64
import html
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from importlib import resources
from pathlib import Path
from string import Template

from ivr.config import ConfigError
from store.ids import to_unix
from store.messages import Message
from store.vmboxes import VMBox

BOX_FIELDS = ("box_name", "mailbox", "box_id")
TIME_FIELDS = ("received", "date", "time", "timezone")
CALLER_FIELDS = ("caller", "caller_name", "caller_number")
MESSAGE_FIELDS = (*CALLER_FIELDS, *BOX_FIELDS, *TIME_FIELDS, "callee", "length", "message_id")
FULL_FIELDS = (*CALLER_FIELDS, *BOX_FIELDS, *TIME_FIELDS)

# Template file -> the fields it may name.
TEMPLATES = {
    "new_message_subject.txt": (*MESSAGE_FIELDS, "transcription_text"),
    "new_message.txt": (*MESSAGE_FIELDS, "transcription"),
    "new_message.html": (*MESSAGE_FIELDS, "transcription"),
    "transcription.txt": (*MESSAGE_FIELDS, "transcription_text"),
    "transcription.html": (*MESSAGE_FIELDS, "transcription_text"),
    "box_full_subject.txt": FULL_FIELDS,
    "box_full.txt": FULL_FIELDS,
    "box_full.html": FULL_FIELDS,
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class TemplateError(ConfigError):
    """A template that cannot be used; the message names the file and the reason."""


def _read(name: str, templates_dir: str) -> tuple[str, str]:
    """(text, where it came from) of template `name`: the admin's file when there is one, else ours."""
    if templates_dir:
        own = Path(templates_dir) / name
        if own.is_file():
            return own.read_text(encoding="utf-8"), str(own)
    return (resources.files("ivr.notify") / "templates" / name).read_text(encoding="utf-8"), name


def _checked(name: str, text: str, origin: str) -> Template:
    template = Template(text)
    if not template.is_valid():
        raise TemplateError(
            f"email template {origin}: a `$` that starts no field name (write $$ for a dollar sign)"
        )
    unknown = sorted(set(template.get_identifiers()) - set(TEMPLATES[name]))
    if unknown:
        raise TemplateError(
            f"email template {origin}: unknown field(s) {', '.join(unknown)};"
            f" it may use: {', '.join(TEMPLATES[name])}"
        )
    return template


def load_templates(templates_dir: str = "") -> dict[str, Template]:
    """Every template by file name, checked. Raises TemplateError (or OSError for an unreadable file)."""
    return {name: _checked(name, *_read(name, templates_dir)) for name in TEMPLATES}


def hms(length_ms: int) -> str:
    """A length as H:MM:SS, to the nearest second."""
    seconds = int(length_ms / 1000 + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02}:{seconds % 60:02}"


def _time_fields(unix: float, zone: tzinfo) -> dict[str, str]:
    when = datetime.fromtimestamp(unix, zone)
    date, clock = f"{when:%Y-%m-%d}", f"{when:%H:%M:%S}"
    return {
        "received": f"{date} {clock} {when.tzname()}",
        "date": date,
        "time": clock,
        "timezone": getattr(zone, "key", "UTC"),
    }


def _caller_fields(name: object, number: object) -> dict[str, str]:
    name, number = str(name or "").strip(), str(number or "").strip()
    shown = (
        f"{name} ({number})" if name and number and name != number else number or name or "unknown"
    )
    return {
        "caller": shown,
        "caller_name": name or number or "unknown",
        "caller_number": number or "unknown",
    }


def _box_fields(box: VMBox) -> dict[str, str]:
    return {"box_name": str(box.doc.get("name", "")), "mailbox": box.mailbox, "box_id": box.id}


def message_fields(box: VMBox, message: Message, zone: tzinfo) -> dict[str, str]:
    """The fields of a new-message email (all but the transcription)."""
    doc = message.doc
    return {
        **_caller_fields(doc.get("caller_id_name"), doc.get("caller_id_number")),
        **_box_fields(box),
        **_time_fields(to_unix(doc["timestamp"]), zone),
        "callee": str(doc.get("to") or box.mailbox),
        "length": hms(int(doc.get("length") or 0)),
        "message_id": message.id,
    }


def full_fields(box: VMBox, payload: dict, zone: tzinfo) -> dict[str, str]:
    """The fields of a mailbox-full email, from the report the call queued."""
    return {
        **_caller_fields(payload.get("caller_id_name"), payload.get("caller_id_number")),
        **_box_fields(box),
        **_time_fields(float(payload["unix"]), zone),
    }


@dataclass(frozen=True)
class Content:
    subject: str
    text: str
    html: str


def _escaped(fields: dict[str, str]) -> dict[str, str]:
    return {key: html.escape(value) for key, value in fields.items()}


def _subject(template: Template, fields: dict[str, str]) -> str:
    return " ".join(_CONTROL.sub(" ", template.substitute(fields)).split())


def new_message_content(
    templates: dict[str, Template], fields: dict[str, str], transcription: str | None
) -> Content:
    """Subject and bodies of a new-message email; `transcription` None or empty leaves it out."""
    text_part = html_part = ""
    if transcription:
        text_part = templates["transcription.txt"].substitute(
            fields, transcription_text=transcription
        )
        html_part = templates["transcription.html"].substitute(
            _escaped(fields), transcription_text=html.escape(transcription)
        )
    return Content(
        _subject(
            templates["new_message_subject.txt"],
            {**fields, "transcription_text": transcription or ""},
        ),
        templates["new_message.txt"].substitute(fields, transcription=text_part),
        templates["new_message.html"].substitute(_escaped(fields), transcription=html_part),
    )


def box_full_content(templates: dict[str, Template], fields: dict[str, str]) -> Content:
    """Subject and bodies of a mailbox-full email."""
    return Content(
        _subject(templates["box_full_subject.txt"], fields),
        templates["box_full.txt"].substitute(fields),
        templates["box_full.html"].substitute(_escaped(fields)),
    )


@dataclass(frozen=True)
class Attachment:
    data: bytes
    mime_type: str  # e.g. audio/mpeg
    file_name: str


# CRLF line ends, and 7-bit text (quoted-printable where a part is not ASCII): any SMTP server takes
# it, with or without 8BITMIME.
_WIRE = SMTP.clone(cte_type="7bit")


@dataclass(frozen=True)
class Envelope:
    sender: str  # the From header, as configured ("Voicemail <vm@example.com>" or a bare address)
    recipients: tuple[str, ...]
    message_id: str  # <...@...>
    date: float  # Unix seconds


def build_email(
    envelope: Envelope, content: Content, attachment: Attachment | None = None
) -> bytes:
    """The email as sent over SMTP (CRLF line ends, headers RFC 2047-encoded): text and HTML as
    multipart/alternative, and the attachment (multipart/mixed) when given.

    The email package makes every header and part. The attachment's base64 body, over a thousand
    lines, is written here in one piece: the package writes it line by line, which cost more CPU than
    the whole SMTP session (a burst of emails was bound by it). The package is given a random stand-in
    for the data, whose one base64 line is then replaced by the real body, in the package's own
    76-character lines."""
    email = EmailMessage(policy=_WIRE)
    email["Subject"] = content.subject
    email["From"] = envelope.sender
    email["To"] = ", ".join(envelope.recipients)
    email["Date"] = format_datetime(datetime.fromtimestamp(envelope.date, UTC))
    email["Message-ID"] = envelope.message_id
    email.set_content(content.text)
    email.add_alternative(content.html, subtype="html")
    if attachment is None:
        return email.as_bytes()
    stand_in = secrets.token_bytes(30)  # 40 base64 characters: one line, found once
    maintype, _, subtype = attachment.mime_type.partition("/")
    email.add_attachment(
        stand_in, maintype=maintype, subtype=subtype, filename=attachment.file_name
    )
    # One C call, then CRLF every 76 characters (base64.encodebytes makes a call per line).
    encoded = base64.b64encode(attachment.data)
    body = b"".join(encoded[at : at + 76] + b"\r\n" for at in range(0, len(encoded), 76))
    head, found, tail = email.as_bytes().partition(base64.b64encode(stand_in) + b"\r\n")
    if not found:  # cannot happen unless the email package changes how it writes base64
        raise RuntimeError("the attachment's stand-in is missing from the email")
    return head + body + tail
