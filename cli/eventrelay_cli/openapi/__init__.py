"""The OpenAPI document: `document.build_document()`; `python -m eventrelay_cli.openapi` writes it."""
