"""Validate request bodies at the edge with pydantic models that reject unknown fields."""

import unicodedata
from typing import Annotated

from flask import request
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from servicekit.errors import ServiceError


class Strict(BaseModel):
    """Base of every request model: unknown fields are refused, strings are trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


def _no_control_characters(value: str) -> str:
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValueError("control characters are not allowed")
    return value


CleanStr = Annotated[str, AfterValidator(_no_control_characters)]


def _details(exc: ValidationError):
    fields = {}
    for problem in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in problem["loc"]) or "body"
        fields[where] = problem["msg"]
    return {"fields": fields}


def parse(model, data):
    """Validate data against model or raise a 400 ServiceError naming each bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ServiceError("The request has invalid fields.", 400, _details(exc)) from exc


def json_body(model):
    """Parse the request's JSON body into model; malformed JSON is a 400, not a 500."""
    if not request.is_json:
        raise ServiceError("The request body must be JSON (Content-Type: application/json).", 415)
    data = request.get_json(silent=True)
    if data is None:
        raise ServiceError("The request body is not valid JSON.", 400)
    if not isinstance(data, dict):
        raise ServiceError("The request body must be a JSON object.", 400)
    return parse(model, data)


def query_args(model):
    """Parse the query string into model."""
    return parse(model, request.args.to_dict())
