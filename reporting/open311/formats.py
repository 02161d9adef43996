"""Open311's two formats: XML (the GeoReport v2 default) and JSON, for answers and errors.

The XML is built with the standard library's ElementTree, in the spec's element names: a list
is a container whose children are named after what it holds (`<services><service>…`,
`<service_requests><request>…`, `<errors><error>…`, `<attributes><attribute>…`,
`<values><value>…`); None is an empty element and a boolean is `true` or `false`.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from flask import Response

FORMATS = ("xml", "json")
# A container's name -> the name of each element it holds.
ITEMS = {"services": "service", "service_requests": "request", "errors": "error",
         "attributes": "attribute", "values": "value"}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _fill(ET.SubElement(element, key), inner)
    elif isinstance(value, list):
        item = ITEMS.get(element.tag, "item")
        for inner in value:
            _fill(ET.SubElement(element, item), inner)
    else:
        element.text = _text(value)


def to_xml(root: str, value: Any) -> bytes:
    """`value` (a list, a dict or a scalar) as the XML document `<root>…</root>`."""
    element = ET.Element(root)
    _fill(element, value)
    return ET.tostring(element, encoding="utf-8", xml_declaration=True)


def render(root: str, value: Any, fmt: str, status: int = 200) -> Response:
    """An answer in the format asked: XML under `root`, or JSON as it is."""
    if fmt == "json":
        body = json.dumps(value, ensure_ascii=False).encode()
        return Response(body, status, mimetype="application/json")
    return Response(to_xml(root, value), status, content_type="text/xml; charset=utf-8")


def error_list(code: int, descriptions: list[str]) -> list[dict[str, Any]]:
    return [{"code": code, "description": d} for d in descriptions]


def errors(code: int, descriptions: list[str], fmt: str) -> Response:
    """Open311's error list: `[{code, description}]`, or `<errors><error>…</errors>`."""
    return render("errors", error_list(code, descriptions), fmt, code)


def format_of(path: str) -> str:
    """The format a URL asks for: `.json` is JSON, anything else XML (the spec's default)."""
    return "json" if path.endswith(".json") else "xml"
