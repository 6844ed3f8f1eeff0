"""Redaction: every spelling of every secret is replaced, whatever surrounds it."""

from __future__ import annotations

import base64
import html
import json
from urllib.parse import quote, quote_plus

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from eventrelay.connectors.models import Credentials
from eventrelay.connectors.redaction import REDACTED, Redactor
from eventrelay.outbound.outcome import Outcome, OutcomeKind
from eventrelay.outbound.request import OutboundRequest

PASSWORD = 'pa ss/wo+rd&"x\u00e9'
CREDENTIALS = Credentials(
    username="svc",
    password=PASSWORD,
    token_headers={"X-Api-Key": "tok-123456"},
    client_id="client",
    client_secret="cs/+=secret",
    access_token="at-abcdef",
    refresh_token="rt-ghijkl",
)


def test_every_secret_and_its_encodings_are_redacted() -> None:
    redactor = Redactor.for_credentials(CREDENTIALS)
    spellings = [
        PASSWORD,
        quote(PASSWORD, safe=""),
        quote_plus(PASSWORD),
        json.dumps(PASSWORD)[1:-1],
        base64.b64encode(f"svc:{PASSWORD}".encode()).decode(),
        "tok-123456",
        "cs/+=secret",
        quote_plus("cs/+=secret"),
        base64.b64encode(b"client:" + quote_plus("cs/+=secret").encode()).decode(),
        "at-abcdef",
        "rt-ghijkl",
    ]
    for spelling in spellings:
        redacted = redactor.text(f"before {spelling} after")
        assert redacted == f"before {REDACTED} after", spelling


def test_identifiers_are_kept() -> None:
    assert Redactor.for_credentials(CREDENTIALS).text("user svc, client client") == "user svc, client client"


def test_credential_headers_are_redacted_whole() -> None:
    redactor = Redactor.for_credentials(CREDENTIALS)
    headers = {
        "Authorization": "Bearer unknown",
        "x-api-key": "other",
        "Cookie": "a=b",
        "Accept": "at-abcdef",
    }
    assert redactor.headers(headers) == {
        "Authorization": REDACTED,
        "x-api-key": REDACTED,
        "Cookie": REDACTED,
        "Accept": REDACTED,
    }


def test_requests_and_outcomes_are_redacted() -> None:
    redactor = Redactor.for_credentials(CREDENTIALS)
    request = redactor.request(
        OutboundRequest("POST", "https://a.example/?key=tok-123456", {"X-Trace": "1"}, b'{"t": "at-abcdef"}')
    )
    assert request.url == f"https://a.example/?key={REDACTED}"
    assert request.body == f'{{"t": "{REDACTED}"}}'.encode()
    outcome = redactor.outcome(
        Outcome(OutcomeKind.PERMANENT, status=401, headers={"location": "/?t=rt-ghijkl"}, body=b"rt-ghijkl")
    )
    assert outcome.headers == {"location": f"/?t={REDACTED}"}
    assert outcome.body == REDACTED.encode()


def test_a_secret_cut_off_at_the_end_of_a_truncated_body_is_redacted() -> None:
    redactor = Redactor(["0123456789abcdef"])
    outcome = redactor.outcome(
        Outcome(OutcomeKind.SUCCESS, status=200, body=b"data 0123456", body_truncated=True)
    )
    assert outcome.body == b"data " + REDACTED.encode()


@given(
    secret=st.text(min_size=4, max_size=40).filter(lambda s: s.strip() != ""),
    before=st.text(max_size=40),
    after=st.text(max_size=40),
)
@settings(max_examples=1000)
def test_no_secret_survives_redaction_whatever_surrounds_it(secret: str, before: str, after: str) -> None:
    assume(secret not in REDACTED)
    redactor = Redactor([secret])
    text = before + secret + after + secret
    redacted = redactor.text(text)
    assert secret not in redacted
    assert secret.encode() not in redactor.binary(text.encode())


ECHOED = "cs/+=secret&<'\"é x"


@given(choices=st.lists(st.integers(min_value=0, max_value=5), min_size=len(ECHOED), max_size=len(ECHOED)))
@settings(max_examples=300)
def test_each_character_in_any_encoding_a_target_may_apply_is_redacted(choices: list[int]) -> None:
    """A target echoing a secret may percent-encode (either case), JSON- or HTML-escape each
    character, or leave it as it is, in any mix. (Letters, digits and `-._~`, which these
    encoders leave as they are, are matched as themselves.)"""

    def spell(char: str, choice: int) -> str:
        if char.isascii() and (char.isalnum() or char in "-._~"):
            return char
        encoded = char.encode()
        forms = [
            char,
            "".join(f"%{byte:02x}" for byte in encoded),
            "".join(f"%{byte:02X}" for byte in encoded),
            json.dumps(char)[1:-1] if char != "/" else "\\/",
            f"&#x{ord(char):x};",
            f"&#{ord(char)};",
        ]
        return forms[choice]

    spelled = "".join(spell(char, choice) for char, choice in zip(ECHOED, choices, strict=True))
    redactor = Redactor([ECHOED])
    assert redactor.text(f"<p>{spelled}</p>") == f"<p>{REDACTED}</p>"
    assert redactor.binary(f"<p>{spelled}</p>".encode()) == f"<p>{REDACTED}</p>".encode()


def test_the_encodings_targets_were_seen_to_echo_are_redacted() -> None:
    secret = "cs/+=secret&<'\"é"
    redactor = Redactor([secret])
    echoes = {
        "base64 of the secret alone": base64.b64encode(secret.encode()).decode(),
        "URL-safe base64 without padding": base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
        "JSON with \\/ escapes": json.dumps(secret).replace("/", "\\/")[1:-1],
        "HTML entities": html.escape(secret),
        "lowercase percent-encoding": quote(secret, safe="").lower(),
        "base64 inside JSON with \\/ escapes": json.dumps(base64.b64encode(secret.encode()).decode())[
            1:-1
        ].replace("/", "\\/"),
    }
    for form, echoed in echoes.items():
        assert redactor.text(f"x {echoed} y") == f"x {REDACTED} y", form
        assert redactor.binary(f"x {echoed} y".encode()) == f"x {REDACTED} y".encode(), form


def test_undecodable_bytes_around_a_secret_come_back_unchanged() -> None:
    redactor = Redactor(["s3cr/et"])
    assert redactor.binary(b"\xff\xfe s3cr%2fet \x80") == b"\xff\xfe " + REDACTED.encode() + b" \x80"
