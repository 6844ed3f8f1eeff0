"""An equivalent `curl` command for a request, so an admin can replay a test action by hand.

The command is built from a request whose secrets are already redacted: it shows `[REDACTED]`
where a credential goes, and the admin substitutes their own. Every part is shell-quoted, so a
header or body value cannot break out of its argument.
"""

from __future__ import annotations

import shlex

from eventrelay.outbound.request import OutboundRequest

# curl negotiates compression itself with --compressed (and then decodes the body it prints).
_ACCEPT_ENCODING = "accept-encoding"


def curl_command(request: OutboundRequest, *, max_time_seconds: float | None = None) -> str:
    """One line: `curl -sS -i -X METHOD 'URL' -H 'Name: value' ... --data-raw 'BODY'`.

    Redirects are not followed (curl's default, like the outbound client); `max_time_seconds`
    adds `--max-time` so the command gives up when the service would.
    """
    parts = ["curl", "-sS", "-i", "-X", request.method.upper(), request.url]
    compressed = False
    for name, value in request.headers.items():
        if name.lower() == _ACCEPT_ENCODING:
            compressed = True
            continue
        # `Name;` is how curl sends a header with an empty value (`Name:` would remove it).
        parts += ["-H", f"{name}: {value}" if value else f"{name};"]
    if compressed:
        parts.append("--compressed")
    if max_time_seconds is not None:
        parts += ["--max-time", f"{max_time_seconds:g}"]
    if request.body is not None:
        # --data-raw sends the text as is (--data-binary would read a file for a body starting with @).
        parts += ["--data-raw", request.body.decode("utf-8", errors="replace")]
    return " ".join(shlex.quote(part) for part in parts)
