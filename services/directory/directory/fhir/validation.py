"""FHIR R4 validation of our documents by the fhir.resources models (a test dependency).

fhir.resources ships R4B, whose Practitioner, PractitionerRole, Organization, Bundle,
OperationOutcome and CapabilityStatement are those of R4. Imported lazily: production images
do not need it.
"""


def validate(document):
    """Parse `document` with the fhir.resources model of its type; raise if it is not valid FHIR.

    A Bundle's entries are validated each with the model of its own type too.
    """
    from fhir.resources.R4B import get_fhir_model_class

    _no_empty_values(document, document["resourceType"])
    model = get_fhir_model_class(document["resourceType"])
    parsed = model.model_validate(document)
    for entry in document.get("entry", ()):
        validate(entry["resource"])
    return parsed


def _no_empty_values(value, path):
    # FHIR JSON forbids empty arrays, empty strings and nulls; the models accept some of them.
    if value is None or value in ("", [], {}):
        raise ValueError(f"{path} is empty, which FHIR JSON does not allow")
    if isinstance(value, dict):
        for key, item in value.items():
            _no_empty_values(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _no_empty_values(item, f"{path}[{index}]")
