"""/openapi.json describes every route of the directory's JSON API."""

import jsonschema
from servicekit.openapi import api_routes, documented_routes


def test_it_documents_every_api_route(client, app):
    document = client.get("/openapi.json").json

    assert document["openapi"].startswith("3.1")
    assert documented_routes(document) == api_routes(app)


def test_its_schemas_are_valid_json_schemas(client):
    schemas = client.get("/openapi.json").json["components"]["schemas"]

    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)
    assert schemas["ImportUpload"]["additionalProperties"] is False
