"""The curl line of a test action: every part survives the shell exactly as it was sent."""

from __future__ import annotations

import shlex

from hypothesis import given, settings
from hypothesis import strategies as st

from eventrelay.admin_actions import curl_command
from eventrelay.outbound.request import OutboundRequest

# Header values as HTTP carries them: no control characters.
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"))
header_names = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True)


@settings(max_examples=300)
@given(
    headers=st.dictionaries(header_names, header_values.filter(bool), max_size=5),
    body=st.one_of(st.none(), st.text()),
    path=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30),
)
def test_the_shell_gives_back_every_part_unchanged(
    headers: dict[str, str], body: str | None, path: str
) -> None:
    # Given any request (shell metacharacters, quotes, newlines in the body)
    url = "https://api.example.com/" + path
    request = OutboundRequest("PATCH", url, headers, body.encode("utf-8") if body is not None else None)
    # When it is written as a curl command and split as a POSIX shell would
    argv = shlex.split(curl_command(request))
    # Then method, URL, headers and body come back exactly
    assert argv[:6] == ["curl", "-sS", "-i", "-X", "PATCH", url]
    # (the options end where the body starts: a body may itself read "-H")
    options = argv if body is None else argv[:-2]
    sent_headers = [options[i + 1] for i, part in enumerate(options) if part == "-H"]
    assert sent_headers == [f"{name}: {value}" for name, value in headers.items()]
    if body is None:
        assert "--data-raw" not in argv
    else:
        assert argv[-2:] == ["--data-raw", body]


def test_a_body_starting_with_at_is_sent_as_text_not_read_from_a_file() -> None:
    command = curl_command(OutboundRequest("POST", "https://x.example/", {}, b"@/etc/passwd"))
    assert shlex.split(command)[-2:] == ["--data-raw", "@/etc/passwd"]
    assert "--data-binary" not in command


def test_empty_header_values_timeouts_and_compression() -> None:
    request = OutboundRequest("GET", "https://x.example/", {"X-Empty": "", "Accept-Encoding": "gzip"})
    argv = shlex.split(curl_command(request, max_time_seconds=15))
    assert argv == [
        "curl",
        "-sS",
        "-i",
        "-X",
        "GET",
        "https://x.example/",
        "-H",
        "X-Empty;",
        "--compressed",
        "--max-time",
        "15",
    ]
