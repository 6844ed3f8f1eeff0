r"""Redact a connector's secrets from anything shown to people: text, headers, requests, outcomes.

A secret can travel in more than one spelling, and a target may echo it in any of them. Each
secret is found with every character written as itself or in any of the encodings a target may
apply: percent-encoding (either case of hex digits, `+` for a space), JSON escapes (`\uXXXX` in
either case, `\/`, `\"`, ...) and HTML character references (`&amp;`, `&#47;`, `&#x2F;`), mixed
freely. The same goes for its base64 forms (standard and URL-safe, with or without padding) and,
for basic auth and OAuth clients, the base64 inside a Basic header. Headers that carry
credentials by nature (Authorization, the connector's token headers, cookies) are redacted whole.
A URL-based connector's real URL is shown as its redacted form (`urls.redacted_url`, the form
admins see in its configuration), a URL joined to it as that form plus the joined part.

urllib3 logs each request line (path and query included) at DEBUG: `scrub_http_library_logs`
hides the secrets of URL-based connectors from those records, should an operator turn DEBUG on.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import logging
import re
import string
import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from urllib.parse import quote, quote_plus

from eventrelay.connectors import urls
from eventrelay.connectors.models import Credentials
from eventrelay.outbound.outcome import Outcome
from eventrelay.outbound.request import OutboundRequest

REDACTED = "[REDACTED]"
ALWAYS_SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"}
)
# A secret's prefix this long at the end of a cut body is redacted too.
_MIN_TAIL = 4


_HTML_NAMED = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos"}
_JSON_SHORT = {
    '"': '\\"',
    "\\": "\\\\",
    "/": "\\/",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
# Characters that percent-encoding, JSON and HTML escaping leave as they are: matched as themselves.
_KEPT_BY_ENCODERS = frozenset(string.ascii_letters + string.digits + "-._~")
_SPELLED_ONE_WAY = re.compile(r"[A-Za-z0-9._~-]+")
# Compiled secret patterns kept per process (compiling costs ~0.3 ms per encodable character).
_PATTERN_CACHE_SIZE = 512


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogatepass")


def _base64_forms(secret: str) -> set[str]:
    """The secret alone, base64-encoded (standard and URL-safe, with and without padding)."""
    raw = _utf8(secret)
    forms = {base64.b64encode(raw).decode("ascii"), base64.urlsafe_b64encode(raw).decode("ascii")}
    return forms | {form.rstrip("=") for form in forms}


def _spellings(secret: str) -> set[str]:
    """Whole-secret spellings, for a secret cut off at the end of a truncated body."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret)[1:-1].replace("/", "\\/"),
        html.escape(secret),
    }
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), form) for form in forms}
    return {form for form in forms if form}


def _hex(digits: str) -> str:
    return "".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in digits)


def _character(char: str) -> str:
    """A regular expression for one character of a secret, written as itself or encoded."""
    if char in _KEPT_BY_ENCODERS:
        return re.escape(char)
    encoded = _utf8(char)
    forms = [re.escape(char)]
    forms.append("".join("%" + _hex(f"{byte:02X}") for byte in encoded))
    if char == " ":
        forms.append(r"\+")
    code = ord(char)
    units = [code] if code < 0x10000 else [0xD800 + ((code - 0x10000) >> 10), 0xDC00 + (code & 0x3FF)]
    forms.append("".join(r"\\u" + _hex(f"{unit:04X}") for unit in units))
    if char in _JSON_SHORT:
        forms.append(re.escape(_JSON_SHORT[char]))
    forms.append(f"&#0*{code};")
    forms.append(f"&#[xX]0*{_hex(f'{code:X}')};")
    if char in _HTML_NAMED:
        forms.append(f"&{_HTML_NAMED[char]};")
    return "(?:" + "|".join(forms) + ")"


@functools.lru_cache(maxsize=_PATTERN_CACHE_SIZE)
def _pattern(secret: str) -> re.Pattern[str]:
    """Every spelling of `secret`: each character as itself or encoded."""
    return re.compile("".join(_character(char) for char in secret))


def _redact(text: str, secret: str) -> str:
    """`text` with every spelling of `secret` replaced."""
    if _SPELLED_ONE_WAY.fullmatch(secret):
        # Most tokens: no character an encoder changes, so a plain search finds every spelling.
        return text.replace(secret, REDACTED) if secret in text else text
    return _pattern(secret).sub(REDACTED, text)


# Characters that end a URL inside text (a log line, an error, a JSON document).
_URL_END = " \t\r\n\"'<>"


def _url_forms(secret_urls: Iterable[str]) -> list[tuple[str, str, str]]:
    """(real URL without its trailing `/`s, redacted form, those `/`s) of each secret URL,
    longest first (a test URL under the base URL is replaced whole)."""
    forms = [
        (url.rstrip("/"), urls.redacted_url(url), url[len(url.rstrip("/")) :])
        for url in dict.fromkeys(secret_urls)
        if url and urls.has_secret(url)
    ]
    return sorted(forms, key=lambda form: len(form[0]), reverse=True)


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


class Redactor:
    def __init__(
        self,
        secrets: Iterable[str] = (),
        sensitive_headers: Iterable[str] = (),
        secret_urls: Iterable[str] = (),
    ) -> None:
        raw: set[str] = set()
        for secret in secrets:
            if secret:
                raw |= {secret, *_base64_forms(secret)}
        self._set(raw)
        self._sensitive_headers = ALWAYS_SENSITIVE_HEADERS | {name.lower() for name in sensitive_headers}
        self._urls = _url_forms(secret_urls)

    def _set(self, raw: set[str]) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self._raw = sorted(raw, key=len, reverse=True)
        self._tails = sorted({form for secret in raw for form in _spellings(secret)}, key=len, reverse=True)

    @classmethod
    def for_credentials(cls, credentials: Credentials | None, extra: Iterable[str] = ()) -> Redactor:
        if credentials is None:
            return cls(extra)
        secrets = [*credentials.secret_values(), *extra]
        if credentials.username is not None and credentials.password is not None:
            secrets.append(_basic(credentials.username, credentials.password.get_secret_value()))
        if credentials.client_id is not None and credentials.client_secret is not None:
            client_secret = credentials.client_secret.get_secret_value()
            secrets.append(_basic(credentials.client_id, client_secret))
            secrets.append(_basic(quote_plus(credentials.client_id), quote_plus(client_secret)))
        real_urls = [url.get_secret_value() for url in (credentials.base_url, credentials.test_url) if url]
        return cls(secrets, sensitive_headers=credentials.token_headers.keys(), secret_urls=real_urls)

    def with_secrets(self, secrets: Iterable[str]) -> Redactor:
        merged = Redactor(secrets, self._sensitive_headers)
        merged._set(set(merged._raw) | set(self._raw))
        merged._urls = self._urls
        return merged

    def text(self, text: str) -> str:
        text = self._show_urls_redacted(text)
        for secret in self._raw:
            text = _redact(text, secret)
        return text

    def _show_urls_redacted(self, text: str) -> str:
        for stem, shown, own_slashes in self._urls:
            pieces: list[str] = []
            position = 0
            while (found := text.find(stem, position)) >= 0:
                pieces += [text[position:found], shown]
                position = found + len(stem)
                # A real URL ending in `/` keeps it when used as it is or with `?…`/`#…` appended;
                # a path joined to it (`join_url` strips the base's `/`s) brings its own `/`.
                if own_slashes and text.startswith(own_slashes, position):
                    following = text[position + len(own_slashes) : position + len(own_slashes) + 1]
                    if not following or following in _URL_END or following in "?#":
                        position += len(own_slashes)
            text = "".join([*pieces, text[position:]])
        return text

    def binary(self, data: bytes) -> bytes:
        # surrogateescape decodes any bytes (invalid UTF-8 as lone surrogates) and restores them.
        text = data.decode("utf-8", errors="surrogateescape")
        for secret in self._raw:
            text = _redact(text, secret)
        return text.encode("utf-8", errors="surrogateescape")

    def truncated_binary(self, data: bytes) -> bytes:
        """Like `binary`, and also redacts a secret cut off at the end of a truncated body."""
        data = self.binary(data)
        for secret in self._tails:
            encoded = _utf8(secret)
            for length in range(len(encoded) - 1, _MIN_TAIL - 1, -1):
                if data.endswith(encoded[:length]):
                    return data[: len(data) - length] + REDACTED.encode()
        return data

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {
            name: REDACTED if name.lower() in self._sensitive_headers else self.text(value)
            for name, value in headers.items()
        }

    def request(self, request: OutboundRequest) -> OutboundRequest:
        return OutboundRequest(
            method=request.method,
            url=self.text(request.url),
            headers=self.headers(request.headers),
            body=self.binary(request.body) if request.body is not None else None,
        )

    def outcome(self, outcome: Outcome) -> Outcome:
        return replace(
            outcome,
            headers=self.headers(outcome.headers),
            body=self.truncated_binary(outcome.body) if outcome.body_truncated else self.binary(outcome.body),
            error=self.text(outcome.error) if outcome.error is not None else None,
        )


# Loggers of the HTTP stack that may write a request URL (logger filters are not inherited).
HTTP_LIBRARY_LOGGERS = (
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "requests",
)
# Secrets remembered for log scrubbing, newest kept (a process serves a bounded set of connectors).
_MAX_SCRUBBED_SECRETS = 4096


class _LogScrubber(logging.Filter):
    """Replaces known secrets in the records of the loggers it is attached to."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: dict[str, None] = {}
        self._redactor = Redactor()
        self._lock = threading.Lock()
        self._attached = False

    def attach(self, logger_names: Iterable[str]) -> None:
        """Attach to the named loggers, once."""
        with self._lock:
            if not self._attached:
                for name in logger_names:
                    logging.getLogger(name).addFilter(self)
                self._attached = True

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            new = [secret for secret in secrets if secret and secret not in self._secrets]
            if not new:
                return
            for secret in new:
                self._secrets[secret] = None
            while len(self._secrets) > _MAX_SCRUBBED_SECRETS:
                del self._secrets[next(iter(self._secrets))]
            self._redactor = Redactor(self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        redactor = self._redactor
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to fix; let logging report it
            return True
        scrubbed = redactor.text(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        return True


_scrubber = _LogScrubber()


def scrub_http_library_logs(secrets: Iterable[str]) -> None:
    """Hide `secrets` from what the HTTP stack logs from now on (this process)."""
    _scrubber.attach(HTTP_LIBRARY_LOGGERS)
    _scrubber.add(secrets)
