"""The OpenAPI 3.0 description of the public JSON API (kept next to the views it describes)."""

from __future__ import annotations

from typing import Any

from engage.publish.models import ResponseStatus


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _query(name: str, description: str, schema: dict | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


_PAGING = [
    {"$ref": "#/components/parameters/page"},
    {"$ref": "#/components/parameters/per_page"},
]


def _list_operation(
    operation_id: str, summary: str, item: str, parameters: list | None = None
) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "parameters": [*_PAGING, *(parameters or [])],
            "responses": {
                "200": {
                    "description": "One page of results",
                    "content": {
                        "application/json": {
                            "schema": {
                                "allOf": [
                                    _ref("Page"),
                                    {
                                        "type": "object",
                                        "properties": {
                                            "items": {"type": "array", "items": _ref(item)}
                                        },
                                    },
                                ]
                            }
                        }
                    },
                },
                "400": {"$ref": "#/components/responses/BadRequest"},
                "404": {"$ref": "#/components/responses/NotFound"},
            },
        }
    }


def document(*, server: str) -> dict[str, Any]:
    """The OpenAPI document; ``server`` is the API's base URL."""
    string = {"type": "string"}
    date = {"type": "string", "format": "date"}
    timestamp = {"type": "string", "format": "date-time"}
    count = {"type": "integer", "minimum": 0}
    statuses = [s.value for s in ResponseStatus]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "engage: You said, we did",
            "version": "1.0.0",
            "description": (
                "Read-only open data: engagements, the public responses to what people "
                "told us, themes and headline statistics. No personal data is published. "
                "Published under the Open Government Licence v3.0."
            ),
            "license": {
                "name": "Open Government Licence v3.0",
                "url": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
            },
        },
        "servers": [{"url": server}],
        "paths": {
            "/engagements": _list_operation(
                "listEngagements", "Engagements, most recently opened first", "Engagement"
            ),
            "/responses": _list_operation(
                "listResponses",
                "Published responses, newest first",
                "Response",
                [
                    _query("engagement", "Only this engagement (its slug)"),
                    _query("theme", "Only responses on this theme (its slug)"),
                    _query("status", "Only this status", {"type": "string", "enum": statuses}),
                    _query("area", "Only responses to feedback from this area"),
                    _query("q", "Words to find in what people said or what we are doing"),
                ],
            ),
            "/themes": _list_operation("listThemes", "Themes of feedback", "Theme"),
            "/statistics": _list_operation(
                "listStatistics",
                "Headline figures per engagement",
                "Statistics",
                [_query("engagement", "Only this engagement (its slug)")],
            ),
            "/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This document",
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "parameters": {
                "page": {
                    "name": "page",
                    "in": "query",
                    "required": False,
                    "description": "Page number, from 1",
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 1_000_000_000,
                        "default": 1,
                    },
                },
                "per_page": {
                    "name": "per_page",
                    "in": "query",
                    "required": False,
                    "description": "Results per page",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                },
            },
            "responses": {
                "BadRequest": {
                    "description": "A parameter is not valid",
                    "content": {"application/problem+json": {"schema": _ref("Problem")}},
                },
                "NotFound": {
                    "description": "The engagement named does not exist",
                    "content": {"application/problem+json": {"schema": _ref("Problem")}},
                },
            },
            "schemas": {
                "Page": {
                    "type": "object",
                    "required": ["items", "page", "per_page", "total", "pages"],
                    "properties": {
                        "items": {"type": "array", "items": {}},
                        "page": {"type": "integer", "minimum": 1},
                        "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
                        "total": count,
                        "pages": {"type": "integer", "minimum": 1},
                    },
                },
                "Problem": {
                    "type": "object",
                    "required": ["status", "title"],
                    "properties": {
                        "status": {"type": "integer"},
                        "title": string,
                        "detail": string,
                    },
                },
                "Engagement": {
                    "type": "object",
                    "properties": {
                        "slug": string,
                        "title": string,
                        "organisation": string,
                        "summary": string,
                        "opens_on": date,
                        "closes_on": date,
                        "areas": {"type": "array", "items": string},
                        "url": {"type": "string", "format": "uri"},
                        "published_responses": count,
                    },
                },
                "Response": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "url": {"type": "string", "format": "uri"},
                        "engagement": string,
                        "engagement_title": string,
                        "themes": {"type": "array", "items": string},
                        "you_said": {
                            "type": "string",
                            "description": "Reads after: You told us you are concerned that …",
                        },
                        "we_did": {"type": "string", "description": "What we are doing"},
                        "status": {"type": "string", "enum": statuses},
                        "status_label": string,
                        "published_at": timestamp,
                        "updated_at": timestamp,
                        "people_raising": count,
                        "milestones": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"on": date, "text": string},
                            },
                        },
                        "votes": {
                            "type": "object",
                            "properties": {"yes": count, "no": count},
                        },
                    },
                },
                "Theme": {
                    "type": "object",
                    "properties": {
                        "slug": string,
                        "name": string,
                        "description": string,
                        "published_responses": count,
                    },
                },
                "Statistics": {
                    "type": "object",
                    "properties": {
                        "engagement": string,
                        "comments": count,
                        "themes": {"type": "object", "additionalProperties": count},
                        "published_responses": {
                            "type": "object",
                            "additionalProperties": count,
                        },
                        "responsiveness": {
                            "type": "object",
                            "properties": {
                                "comments_answered": count,
                                "share_answered_percent": {
                                    "type": "integer",
                                    "minimum": 0,
                                    "maximum": 100,
                                },
                                "median_days_to_response": {"type": "number", "nullable": True},
                            },
                        },
                    },
                },
            },
        },
    }
