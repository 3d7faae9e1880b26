"""/openapi.json: the OpenAPI 3.1 description of identity's JSON API (/api/v1).

Request bodies come from the pydantic models the API validates with, so the document and the
checks cannot drift apart. The OpenID Connect endpoints are described by their own discovery
document (/.well-known/openid-configuration).
"""

from flask import Blueprint, current_app

from identity import api

bp = Blueprint("identity_openapi", __name__)

ERROR = {
    "type": "object",
    "required": ["error", "details"],
    "properties": {"error": {"type": "string"}, "details": {"type": "object"}},
}
USER = {
    "type": "object",
    "properties": {
        name: {"type": kind}
        for name, kind in {
            "id": "string",
            "username": "string",
            "given_name": "string",
            "family_name": "string",
            "email": ["string", "null"],
            "rpps": ["string", "null"],
            "roles": "array",
            "disabled": "boolean",
            "mfa_enabled": "boolean",
            "created_at": "string",
            "last_login_at": ["string", "null"],
        }.items()
    },
}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(description, schema=None):
    answer = {"description": description}
    if schema is not None:
        answer["content"] = {"application/json": {"schema": schema}}
    return answer


def _operation(summary, answers, body=None, admin=False, parameters=None):
    errors = {
        "400": _answer("Invalid input", _ref("Error")),
        "401": _answer("No valid access token", _ref("Error")),
    }
    if admin:
        errors["403"] = _answer("The token lacks the platform-admin role", _ref("Error"))
    operation = {"summary": summary, "responses": {**answers, **errors}}
    if body is not None:
        content = {"application/json": {"schema": _ref(body.__name__)}}
        operation["requestBody"] = {"required": True, "content": content}
    if parameters:
        operation["parameters"] = parameters
    return operation


def _path_parameter(name):
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _paths():
    user_id = [_path_parameter("user_id")]
    provisioned = {"type": "object", "properties": {"user": USER, "totp_provisioning_uri": {}}}
    return {
        "/api/v1/me": {
            "get": _operation(
                "The caller's account, sessions and TOTP devices", {"200": _answer("Account")}
            )
        },
        "/api/v1/me/sessions/{session_id}": {
            "delete": _operation(
                "End one of the caller's sessions",
                {"204": _answer("Ended"), "404": _answer("No such session", _ref("Error"))},
                parameters=[_path_parameter("session_id")],
            )
        },
        "/api/v1/me/totp": {
            "post": _operation(
                "Start enrolling a TOTP device", {"201": _answer("Pending device")}, api.NewDevice
            )
        },
        "/api/v1/me/totp/{device_id}/confirm": {
            "post": _operation(
                "Confirm a pending TOTP device with a code",
                {"200": _answer("Device"), "422": _answer("Wrong code", _ref("Error"))},
                api.DeviceCode,
                parameters=[_path_parameter("device_id")],
            )
        },
        "/api/v1/users": {
            "get": _operation(
                "Search accounts",
                {"200": _answer("A page of accounts")},
                admin=True,
                parameters=[
                    {"name": name, "in": "query", "schema": {"type": kind}}
                    for name, kind in (("q", "string"), ("offset", "integer"), ("limit", "integer"))
                ],
            ),
            "post": _operation(
                "Create an account",
                {
                    "201": _answer("Created", provisioned),
                    "409": _answer("Duplicate", _ref("Error")),
                },
                api.NewUser,
                admin=True,
            ),
        },
        "/api/v1/users/{user_id}": {
            "get": _operation(
                "One account", {"200": _answer("Account", USER)}, admin=True, parameters=user_id
            )
        },
        "/api/v1/users/{user_id}/disable": {
            "post": _operation(
                "Disable an account",
                {"200": _answer("Account", USER)},
                admin=True,
                parameters=user_id,
            )
        },
        "/api/v1/users/{user_id}/enable": {
            "post": _operation(
                "Enable an account",
                {"200": _answer("Account", USER)},
                admin=True,
                parameters=user_id,
            )
        },
        "/api/v1/users/{user_id}/roles": {
            "put": _operation(
                "Replace an account's roles",
                {"200": _answer("Account", USER)},
                api.RolesUpdate,
                admin=True,
                parameters=user_id,
            )
        },
        "/api/v1/users/{user_id}/mfa/reset": {
            "post": _operation(
                "Replace an account's TOTP devices",
                {"200": _answer("Account", provisioned)},
                admin=True,
                parameters=user_id,
            )
        },
    }


def _schemas():
    models = (api.NewUser, api.RolesUpdate, api.NewDevice, api.DeviceCode)
    schemas = {model.__name__: model.model_json_schema() for model in models}
    return {**schemas, "Error": ERROR, "User": USER}


def document():
    """The OpenAPI document of identity's JSON API."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "ENRS identity", "version": "1"},
        "servers": [{"url": current_app.config.get("OIDC_ISSUER", "")}],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
        "security": [{"bearer": []}],
    }


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document of /api/v1."""
    return document()
