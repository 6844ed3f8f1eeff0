"""Write the OpenAPI document next to the admin API's code (where the function serves it from)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from eventrelay_cli.openapi.document import build_document


def document_path() -> Path:
    import eventrelay.admin_api

    return Path(eventrelay.admin_api.__file__).parent / "openapi.json"


def render() -> str:
    return json.dumps(build_document(), indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    path = document_path()
    path.write_text(render(), encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
