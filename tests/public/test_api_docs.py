"""The API page explains every operation of the OpenAPI document, and that document is valid."""

from __future__ import annotations

import re
from html import unescape

from openapi_spec_validator import validate


def _rows(page: str) -> dict[str, str]:
    """Request ("GET /api/v1/themes") -> the text of its "What it returns" cell."""
    body = page.split('<tbody class="nhsuk-table__body">', 1)[1].split("</tbody>", 1)[0]
    rows = {}
    for row in re.findall(r"<tr.*?</tr>", body, re.S):
        cells = [
            " ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split())
            for cell in re.findall(r"<td.*?</td>", row, re.S)
        ]
        request, returns = (c.removeprefix("Request ") for c in cells)
        rows[request] = returns.removeprefix("What it returns ")
    return rows


def test_openapi_document_is_valid_and_has_the_partner_post(client):
    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    assert "post" in document["paths"]["/feedback"]


def test_every_operation_has_its_summary_and_filters(client):
    document = client.get("/api/v1/openapi.json").get_json()
    rows = _rows(client.get("/api").get_data(as_text=True))
    expected = {
        f"{method.upper()} /api/v1{path}": operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert set(rows) == set(expected)
    assert "POST /api/v1/feedback" in rows and "GET /api/v1/feedback" not in rows
    for request, operation in expected.items():
        assert rows[request].startswith(operation["summary"]), request
    for name in ("engagement", "theme", "status", "area", "q"):
        assert f" {name} : " in rows["GET /api/v1/responses"], name
    assert "Filters: engagement : only this engagement" in rows["GET /api/v1/statistics"]
    assert "Filters" not in rows["GET /api/v1/themes"]
    assert "Authorization: Bearer" in rows["POST /api/v1/feedback"]
    assert "Idempotency-Key" in rows["POST /api/v1/feedback"]
