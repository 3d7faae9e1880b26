"""/openapi.json describes every route of the directory's JSON API."""

import re

import jsonschema


def _documented_routes(document):
    return {(path, method.upper()) for path, item in document["paths"].items() for method in item}


def _api_routes(app):
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            routes |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def test_it_documents_every_api_route(client, app):
    document = client.get("/openapi.json").json

    assert document["openapi"].startswith("3.1")
    assert _documented_routes(document) == _api_routes(app)


def test_its_schemas_are_valid_json_schemas(client):
    schemas = client.get("/openapi.json").json["components"]["schemas"]

    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)
    assert schemas["ImportUpload"]["additionalProperties"] is False
