"""The portal's form models: every form is validated here before anything is sent on."""

import re
from typing import Annotated

from flask import request
from flask_babel import lazy_gettext as _l
from pydantic import Field, StringConstraints, ValidationError, field_validator
from servicekit.validation import CleanStr, Strict

ROLES = (
    "platform-admin",
    "clinician",
    "stroke-requester",
    "stroke-neurologist",
    "rcp-member",
    "rcp-coordinator",
)
ROLE_LABELS = {
    "platform-admin": _l("Administration de la plateforme"),
    "clinician": _l("Clinicien"),
    "stroke-requester": _l("Demandeur Télé-AVC (urgences)"),
    "stroke-neurologist": _l("Neurologue d’astreinte AVC"),
    "rcp-member": _l("Membre de RCP"),
    "rcp-coordinator": _l("Coordonnateur de RCP"),
}
FIELD_LABELS = {
    "username": _l("Identifiant"),
    "given_name": _l("Prénom"),
    "family_name": _l("Nom"),
    "email": _l("Adresse électronique"),
    "rpps": _l("Numéro RPPS"),
    "roles": _l("Rôles"),
    "password": _l("Mot de passe"),
    "label": _l("Nom de l’appareil"),
    "code": _l("Code à 6 chiffres"),
    "q": _l("Recherche"),
}

Name = Annotated[CleanStr, StringConstraints(min_length=1, max_length=100)]
Optional = Annotated[CleanStr, StringConstraints(max_length=200)]


class FormError(Exception):
    """The form has invalid fields; `fields` names them for the user."""

    def __init__(self, fields):
        super().__init__(", ".join(fields))
        self.fields = fields


def labels(fields):
    """The readable labels of field names."""
    return [str(FIELD_LABELS.get(name, name)) for name in fields]


def check_roles(roles):
    """The roles, without duplicates, when every one is a platform role."""
    if any(role not in ROLES for role in roles):
        raise ValueError("unknown role")
    return sorted(set(roles))


class NewAccount(Strict):
    username: Annotated[CleanStr, StringConstraints(pattern=r"^[a-z0-9._-]{3,64}$")]
    given_name: Name
    family_name: Name
    email: Optional = ""
    rpps: Annotated[CleanStr, StringConstraints(pattern=r"^(\d{11})?$")] = ""
    roles: list[str] = Field(default_factory=list)
    password: Annotated[str, StringConstraints(min_length=12, max_length=200)]

    @field_validator("roles")
    @classmethod
    def known_roles(cls, roles):
        return check_roles(roles)

    @field_validator("email")
    @classmethod
    def email_shape(cls, email):
        if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            raise ValueError("not an email address")
        return email

    def payload(self):
        """The body of identity's POST /api/v1/users, without the empty optional fields."""
        body = self.model_dump()
        return {name: value for name, value in body.items() if value != ""}


class RoleChange(Strict):
    roles: list[str] = Field(default_factory=list)

    @field_validator("roles")
    @classmethod
    def known_roles(cls, roles):
        return check_roles(roles)


class NewDevice(Strict):
    label: Annotated[CleanStr, StringConstraints(min_length=1, max_length=60)]


class DeviceCode(Strict):
    code: Annotated[str, StringConstraints(pattern=r"^\d{6}$")]


class Search(Strict):
    q: Annotated[CleanStr, StringConstraints(max_length=100)] = ""
    offset: int = Field(default=0, ge=0, le=100000)


def read(model, list_fields=()):
    """The request's form fields (without the CSRF token) validated by model, or FormError."""
    data = {key: request.form.get(key, "") for key in request.form if key != "csrf_token"}
    for name in list_fields:
        data[name] = request.form.getlist(name)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise FormError(sorted({str(problem["loc"][0]) for problem in exc.errors()})) from exc


def read_query(model):
    """The query string validated by model, or FormError."""
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise FormError(sorted({str(problem["loc"][0]) for problem in exc.errors()})) from exc
