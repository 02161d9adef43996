"""Open311's part of the OpenAPI document: each answer in both formats, each error as
Open311's list (`formats`), so the document says what the endpoints really send."""

from __future__ import annotations

from typing import Any

from flask_smorest import Api

ERRORS_JSON = {"type": "array", "items": {
    "type": "object", "required": ["code", "description"],
    "properties": {"code": {"type": "integer"}, "description": {"type": "string"}}}}
XML = {"text/xml": {"schema": {"type": "string",
                                "description": "the same, as GeoReport v2 XML"}}}


def _error(both: bool) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": ERRORS_JSON}}
    if both:
        content.update(XML)
    return {"description": "Open311's error list: [{code, description}], or "
                           "<errors><error><code/><description/></error></errors>",
            "content": content}


def document(api: Api, prefix: str) -> None:
    """Rewrite the operations under `prefix`: answers gain their XML form where the URL
    chooses the format, and every error response (documented or default) is Open311's."""
    for path, operations in api.spec._paths.items():  # apispec keeps no public accessor
        if not path.startswith(prefix):
            continue
        both = "{fmt}" in path
        for method, operation in operations.items():
            if method == "parameters" or not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                if status == "default" or str(status)[0] in "45":
                    operation["responses"][status] = {**_error(both), "description":
                                                      response.get("description",
                                                                   _error(both)["description"])}
                elif both and "content" in response:
                    response["content"] = {**response["content"], **XML}
