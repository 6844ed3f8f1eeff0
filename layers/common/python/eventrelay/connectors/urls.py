"""URL-based connectors (auth type `none`): the URL is the credential.

A Slack incoming webhook (`https://hooks.slack.com/services/T000/B000/XXXX`), a Teams or a Zapier
hook authenticates by its URL alone. For such a connector everything after the host (path, query,
fragment: the URL's *secret part*) is a secret:
- the real URL lives only in Secrets Manager, and in memory while a call is made: the caller
  loads it once per call (`models.LoadedConnector`), and a relative request URL is joined to it;
- what is stored in the config table, shown to admins and compared by `apply` is the *redacted
  form* `https://hooks.slack.com/[REDACTED:<fingerprint>]`. The fingerprint (48 bits of a SHA-256
  of the URL) tells two URLs apart, so a changed URL shows as a change, without revealing it;
- the redactor shows the real URL as its redacted form (`Redactor.for_credentials`), and treats
  the secret part, and each piece of it that looks like a token, as a secret (`secret_values`),
  so a target echoing the path (a 404 page) cannot leak it. A redacted form is never mapped back
  to a real URL: a request URL holding one is refused (`REDACTED_IN_URL`).
A URL whose secret part is empty (`https://hooks.example`, `https://hooks.example/`) is not
secret and is kept as it is.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, quote, unquote, urlsplit

_FINGERPRINT_HEX = 12
_REDACTED_PART = re.compile(r"^/\[REDACTED:[0-9a-f]{12}\]$")
# A redacted form anywhere in a URL (values rendered into URLs are percent-encoded, so a raw
# bracket can only come from a template or a connector URL).
REDACTED_IN_URL = re.compile(r"\[REDACTED:[0-9a-f]{12}\]")
# Characters `requests` leaves unencoded when it re-quotes a URL (requests.utils.requote_uri).
_REQUOTE_SAFE = "!#$%&'()*+,/:;=?@[]~"
# A piece of the secret part is redacted on its own when it looks like a token: long enough and
# holding a digit (Slack's T0123ABCD, Zapier's numeric ids), or simply long.
_TOKEN_MIN_WITH_DIGIT = 6
_TOKEN_MIN = 16


def is_absolute(url: str) -> bool:
    return "://" in url


def _origin_length(url: str) -> int:
    """Length of `scheme://authority` at the start of an absolute URL (0 if it is not one)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return 0
    origin = f"{parts.scheme}://{parts.netloc}"
    if not parts.scheme or not parts.netloc or url[: len(origin)].lower() != origin.lower():
        return 0
    return len(origin)


def secret_part(url: str) -> str:
    """Everything after the authority of an absolute URL; "" when that is nothing or a lone `/`."""
    length = _origin_length(url)
    if not length:
        return ""
    rest = url[length:]
    return "" if rest in ("", "/") else rest


def is_redacted(url: str) -> bool:
    """Whether `url` is a redacted form (`scheme://host/[REDACTED:<fingerprint>]`)."""
    length = _origin_length(url)
    return bool(length) and _REDACTED_PART.match(url[length:]) is not None


def has_secret(url: str) -> bool:
    """Whether an absolute URL carries a secret part and is not already a redacted form."""
    return bool(secret_part(url)) and not is_redacted(url)


def url_fingerprint(url: str) -> str:
    digest = hashlib.sha256(b"eventrelay connector url\x00" + url.encode("utf-8")).hexdigest()
    return digest[:_FINGERPRINT_HEX]


def redacted_url(url: str) -> str:
    """The form of `url` that may be stored and shown: its secret part replaced by a fingerprint."""
    if not has_secret(url):
        return url
    return f"{url[: _origin_length(url)]}/[REDACTED:{url_fingerprint(url)}]"


def _token_like(piece: str) -> bool:
    if len(piece) >= _TOKEN_MIN:
        return True
    return len(piece) >= _TOKEN_MIN_WITH_DIGIT and any(character.isdigit() for character in piece)


def secret_values(url: str) -> list[str]:
    """What the redactor must hide for a secret URL: its secret part (as written, and as `requests`
    re-quotes it) and every path segment, query value or fragment that looks like a token."""
    part = secret_part(url)
    if not part or is_redacted(url):
        return []
    values = [part, quote(part, safe=_REQUOTE_SAFE)]
    try:
        parts = urlsplit(url)
    except ValueError:  # a stored URL was validated; stay safe anyway
        return values
    pieces = [*parts.path.split("/"), parts.fragment]
    pieces += [value for _key, value in parse_qsl(parts.query, keep_blank_values=True)]
    pieces += [piece for piece in parts.query.split("&") if "=" not in piece]
    for piece in pieces:
        for form in {piece, unquote(piece)}:
            if _token_like(form):
                values.append(form)
    return list(dict.fromkeys(value for value in values if value))
