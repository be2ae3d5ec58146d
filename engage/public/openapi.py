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


def _problem(description: str, headers: dict | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    }
    if headers:
        response["headers"] = headers
    return response


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 1},
    }
}
_STORED = {
    "application/json": {"schema": {"oneOf": [_ref("FeedbackStored"), _ref("FeedbackBatchStored")]}}
}


def _submit_feedback() -> dict[str, Any]:
    """POST /feedback: partners send feedback; every error is problem details."""
    return {
        "post": {
            "operationId": "submitFeedback",
            "summary": "Send feedback (partner organisations)",
            "description": (
                "One feedback object, or a list of 1 to 500 of them stored all or none: "
                "if any item is not valid, or anything fails, none is stored. Send an "
                "`Idempotency-Key` to retry safely: the same key with the same body is "
                "answered `200` with the references the first request stored; the same "
                "key with another body is `409`. Keys belong to the partner and are kept "
                "for 24 hours. Text loses control characters other than tabs and line "
                "breaks; a value with a NUL or a character that cannot be stored (an "
                "unpaired surrogate such as `\\ud800`) is refused with `422` naming the "
                "field. Every refused field of every item is named in one answer."
            ),
            "security": [{"partnerToken": []}],
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": (
                        "A key of your choosing, unique to this feedback (a UUID, say); "
                        "send the same key when you retry the same request."
                    ),
                    "schema": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 255,
                        "pattern": "^[!-~]([ -~]*[!-~])?$",
                    },
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                _ref("FeedbackIn"),
                                {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": 500,
                                    "items": _ref("FeedbackIn"),
                                },
                            ]
                        }
                    }
                },
            },
            "responses": {
                "200": {
                    "description": (
                        "This Idempotency-Key was used before for the same body: nothing "
                        "new was stored; the references the first request stored"
                    ),
                    "headers": {
                        "Idempotent-Replayed": {
                            "description": "Always true on this answer",
                            "schema": {"type": "string", "enum": ["true"]},
                        }
                    },
                    "content": _STORED,
                },
                "201": {
                    "description": (
                        "Stored: the reference of the object sent, or of each item of the "
                        "list in order"
                    ),
                    "content": _STORED,
                },
                "400": _problem(
                    "The body is not JSON, is empty, or holds more than 500 items; or the "
                    "Idempotency-Key is not 1 to 255 printable ASCII characters"
                ),
                "401": _problem(
                    "No valid partner token",
                    {
                        "WWW-Authenticate": {
                            "description": "Bearer",
                            "schema": {"type": "string"},
                        }
                    },
                ),
                "409": _problem(
                    "This Idempotency-Key was used for a request with a different body; "
                    "nothing was stored"
                ),
                "413": _problem("The body is larger than the server accepts"),
                "415": _problem("The body is not sent as application/json"),
                "422": {
                    "description": (
                        "Some feedback is not valid; nothing was stored. `errors` names each "
                        "field refused"
                    ),
                    "content": {"application/problem+json": {"schema": _ref("ValidationProblem")}},
                },
                "429": _problem("Too many requests (120 a minute per partner)", _RETRY_AFTER),
                "500": _problem("Something went wrong on the server; nothing was stored"),
                "503": _problem("The database cannot be reached", _RETRY_AFTER),
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
                "Published under the Open Government Licence v3.0. Partner organisations "
                "send feedback with POST /feedback and their token. Every error is "
                "problem details (RFC 9457, application/problem+json)."
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
            "/feedback": _submit_feedback(),
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
            "securitySchemes": {
                "partnerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The token `engage create-partner NAME` printed",
                }
            },
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
                    "description": "Problem details (RFC 9457)",
                    "required": ["status", "title"],
                    "properties": {
                        "type": {
                            "type": "string",
                            "description": "about:blank: the status says what kind of problem",
                        },
                        "title": string,
                        "status": {"type": "integer"},
                        "detail": string,
                    },
                },
                "ValidationProblem": {
                    "allOf": [
                        _ref("Problem"),
                        {
                            "type": "object",
                            "required": ["errors"],
                            "properties": {
                                "errors": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["field", "detail"],
                                        "properties": {
                                            "field": {
                                                "type": "string",
                                                "description": (
                                                    "The field refused: text, or items[2].text "
                                                    "in a list (items[2] for the whole item)"
                                                ),
                                            },
                                            "pointer": {
                                                "type": "string",
                                                "description": "JSON pointer, as #/2/text",
                                            },
                                            "detail": string,
                                        },
                                    },
                                }
                            },
                        },
                    ]
                },
                "FeedbackIn": {
                    "type": "object",
                    "required": ["text"],
                    "additionalProperties": False,
                    "properties": {
                        "text": {
                            "type": "string",
                            "minLength": 10,
                            "maxLength": 10000,
                            "description": "The feedback, 10 to 10,000 characters",
                        },
                        "engagement": {
                            "type": "string",
                            "nullable": True,
                            "description": "The engagement's slug; none for general feedback",
                        },
                        "name": {"type": "string", "nullable": True, "maxLength": 200},
                        "email": {
                            "type": "string",
                            "nullable": True,
                            "maxLength": 254,
                            "description": "Acknowledged by email with the reference",
                        },
                        "area": {"type": "string", "nullable": True, "maxLength": 120},
                        "consent_to_quote": {"type": "boolean", "default": False},
                        "contact_me": {"type": "boolean", "default": False},
                    },
                },
                "FeedbackStored": {
                    "type": "object",
                    "required": ["reference", "status"],
                    "properties": {
                        "reference": {"type": "string", "example": "YS-2026-000042"},
                        "status": string,
                    },
                },
                "FeedbackBatchStored": {
                    "type": "object",
                    "required": ["items", "partner"],
                    "properties": {
                        "items": {"type": "array", "items": _ref("FeedbackStored")},
                        "partner": string,
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
                        # Issue 24: comments by the language they were written in.
                        "languages": {
                            "type": "object",
                            "description": (
                                "Comments by the language detected in them, as ISO 639-1"
                                ' codes ("en", "pl", ...); "" while not detected yet.'
                                " Counts only: never the words."
                            ),
                            "additionalProperties": count,
                        },
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
