"""Pieces of every service's /openapi.json (OpenAPI 3.1), so the documents share one shape.

A service describes its paths with `operation(...)`, takes its request schemas from the pydantic
models it validates with (so the document and the checks cannot drift apart) and serves the
result with `blueprint(build)`.
"""

import re

from flask import Blueprint

ERROR = {
    "type": "object",
    "required": ["error", "details"],
    "properties": {"error": {"type": "string"}, "details": {"type": "object"}},
}
BEARER = {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}


def ref(name):
    """A reference to a schema of the document's components."""
    return {"$ref": f"#/components/schemas/{name}"}


def answer(description, schema=None, media_type="application/json"):
    """A response, with its body's schema when it has one."""
    response = {"description": description}
    if schema is not None:
        response["content"] = {media_type: {"schema": schema}}
    return response


def operation(summary, answers, body=None, parameters=(), roles=()):
    """An operation answering `answers`, plus the errors every protected endpoint can give.

    `body` is a pydantic model (a JSON body) or a ready `content` mapping (e.g. multipart).
    """
    errors = {
        "400": answer("Invalid input", ref("Error")),
        "401": answer("No valid access token", ref("Error")),
    }
    if roles:
        errors["403"] = answer(f"The token lacks the role {' or '.join(roles)}", ref("Error"))
    described = {"summary": summary, "responses": {**answers, **errors}}
    if parameters:
        described["parameters"] = list(parameters)
    if body is not None:
        content = (
            body if isinstance(body, dict) else {"application/json": {"schema": ref(body.__name__)}}
        )
        described["requestBody"] = {"required": True, "content": content}
    return described


def path_parameter(name, kind="string"):
    """A required path parameter."""
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def query_parameters(model):
    """The query parameters a pydantic model validates, one per field."""
    return [
        {"name": name, "in": "query", "schema": schema}
        for name, schema in model.model_json_schema()["properties"].items()
    ]


def schemas_of(*models):
    """Component schemas from the pydantic models the service validates with."""
    return {model.__name__: model.model_json_schema() for model in models}


def document(title, server_url, paths, schemas):
    """A whole OpenAPI 3.1 document, every operation protected by a bearer token."""
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "servers": [{"url": server_url or ""}],
        "paths": paths,
        "components": {"schemas": {**schemas, "Error": ERROR}, "securitySchemes": BEARER},
        "security": [{"bearer": []}],
    }


def blueprint(name, build):
    """A blueprint serving build() at /openapi.json."""
    bp = Blueprint(name, __name__)

    @bp.get("/openapi.json")
    def openapi():
        """The service's OpenAPI 3.1 document."""
        return build()

    return bp


def documented_routes(described):
    """(path, METHOD) of every operation an OpenAPI document describes."""
    return {(path, method.upper()) for path, item in described["paths"].items() for method in item}


def api_routes(app, prefix="/api/v1/"):
    """(path, METHOD) of every route the app serves under prefix, in OpenAPI's path syntax."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(prefix):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            routes |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return routes
