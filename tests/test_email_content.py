"""The bytes of a notification email, as build_email writes them: parsed back by the standard email
parser, the attachment is the very data given, in base64 lines of 76 characters, CRLF line ends
throughout, and headers with non-ASCII text are encoded."""

import email
import os
from email import policy

from ivr.notify.email_content import Attachment, Content, Envelope, build_email

ENVELOPE = Envelope(
    "Voicemail <vm@example.com>", ("ann@example.com", "bob@example.com"), "<m1@example.com>", 0
)
CONTENT = Content("Nouveau message de Zoë", "Zoë a appelé.", "<p>Zoë a appelé.</p>")


def parsed(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


def test_the_attachment_is_the_data_given_in_76_character_lines():
    data = os.urandom(100_003)  # not a multiple of 3: the last line is padded
    raw = build_email(ENVELOPE, CONTENT, Attachment(data, "audio/mpeg", "zoë_2026-12-02.mp3"))
    message = parsed(raw)
    [attachment] = message.iter_attachments()
    assert attachment.get_content() == data
    assert attachment.get_content_type() == "audio/mpeg"
    assert attachment.get_filename() == "zoë_2026-12-02.mp3"
    assert message.get_content_type() == "multipart/mixed"
    assert message.get_body(("plain",)).get_content().strip() == "Zoë a appelé."
    lines = raw.split(b"\r\n")
    assert b"\n" not in b"".join(lines) and max(len(line) for line in lines) <= 78
    assert raw.isascii() and message["Subject"] == "Nouveau message de Zoë"
    assert message["To"] == "ann@example.com, bob@example.com"


def test_without_an_attachment_the_email_is_text_and_html():
    message = parsed(build_email(ENVELOPE, CONTENT))
    assert message.get_content_type() == "multipart/alternative"
    assert list(message.iter_attachments()) == []
