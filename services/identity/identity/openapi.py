"""/openapi.json: the OpenAPI 3.1 description of identity's JSON API (/api/v1).

Request bodies come from the pydantic models the API validates with, so the document and the
checks cannot drift apart. The OpenID Connect endpoints are described by their own discovery
document (/.well-known/openid-configuration).
"""

from flask import current_app
from servicekit.openapi import (
    answer,
    blueprint,
    document,
    operation,
    path_parameter,
    ref,
    schemas_of,
)

from identity import api

ADMIN = ("platform-admin",)
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


def _paths():
    user_id = [path_parameter("user_id")]
    provisioned = {"type": "object", "properties": {"user": USER, "totp_provisioning_uri": {}}}
    return {
        "/api/v1/me": {
            "get": operation(
                "The caller's account, sessions and TOTP devices", {"200": answer("Account")}
            )
        },
        "/api/v1/me/sessions/{session_id}": {
            "delete": operation(
                "End one of the caller's sessions",
                {"204": answer("Ended"), "404": answer("No such session", ref("Error"))},
                parameters=[path_parameter("session_id")],
            )
        },
        "/api/v1/me/totp": {
            "post": operation(
                "Start enrolling a TOTP device", {"201": answer("Pending device")}, api.NewDevice
            )
        },
        "/api/v1/me/totp/{device_id}/confirm": {
            "post": operation(
                "Confirm a pending TOTP device with a code",
                {"200": answer("Device"), "422": answer("Wrong code", ref("Error"))},
                api.DeviceCode,
                parameters=[path_parameter("device_id")],
            )
        },
        "/api/v1/users": {
            "get": operation(
                "Search accounts",
                {"200": answer("A page of accounts")},
                roles=ADMIN,
                parameters=[
                    {"name": name, "in": "query", "schema": {"type": kind}}
                    for name, kind in (("q", "string"), ("offset", "integer"), ("limit", "integer"))
                ],
            ),
            "post": operation(
                "Create an account",
                {
                    "201": answer("Created", provisioned),
                    "409": answer("Duplicate", ref("Error")),
                },
                api.NewUser,
                roles=ADMIN,
            ),
        },
        "/api/v1/users/{user_id}": {
            "get": operation(
                "One account", {"200": answer("Account", USER)}, roles=ADMIN, parameters=user_id
            )
        },
        "/api/v1/users/{user_id}/disable": {
            "post": operation(
                "Disable an account",
                {"200": answer("Account", USER)},
                roles=ADMIN,
                parameters=user_id,
            )
        },
        "/api/v1/users/{user_id}/enable": {
            "post": operation(
                "Enable an account",
                {"200": answer("Account", USER)},
                roles=ADMIN,
                parameters=user_id,
            )
        },
        "/api/v1/users/{user_id}/roles": {
            "put": operation(
                "Replace an account's roles",
                {"200": answer("Account", USER)},
                api.RolesUpdate,
                roles=ADMIN,
                parameters=user_id,
            )
        },
        "/api/v1/users/{user_id}/mfa/reset": {
            "post": operation(
                "Replace an account's TOTP devices",
                {"200": answer("Account", provisioned)},
                roles=ADMIN,
                parameters=user_id,
            )
        },
    }


def build():
    """The OpenAPI document of identity's JSON API."""
    schemas = schemas_of(api.NewUser, api.RolesUpdate, api.NewDevice, api.DeviceCode)
    return document(
        "ENRS identity", current_app.config.get("OIDC_ISSUER"), _paths(), {**schemas, "User": USER}
    )


bp = blueprint("identity_openapi", build)
