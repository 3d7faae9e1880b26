"""What the FHIR API supports: resources, search parameters, includes, identifier systems.

One table drives the parser, the query layer and the CapabilityStatement, so the statement lists
exactly what the server accepts.

Identifier and code systems are those of the national Annuaire Santé FHIR API and the FR Core
profiles. A savoir-faire code carries the code system OID (`urn:oid:...`) that the official
value set J107 (EnsembleSavoirFaire_RASS) gives it: the specialités ordinales of TRE_R38 are
`urn:oid:1.2.250.1.213.2.28`. Profession codes carry the G15 terminology. MSSanté mailboxes are
`telecom` entries with `system: email` and the FR Core email-type extension coded `MSSANTE`
in TRE_R256-TypeMessagerie, as the Annuaire Santé profile of an MSSanté mailbox does.
"""

RPPS = "https://rpps.esante.gouv.fr"
IDNPS = "urn:oid:1.2.250.1.71.4.2.1"
FINESS = "http://finess.esante.gouv.fr"
SIRET = "https://sirene.fr"
IDNST = "urn:oid:1.2.250.1.71.4.2.2"
IDENTIFIER_TYPE = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"

NOS = "https://mos.esante.gouv.fr/NOS"
PROFESSION = f"{NOS}/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
SPECIALITE_ORDINALE = f"{NOS}/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
SPECIALITES_ORDINALES_OID = "urn:oid:1.2.250.1.213.2.28"
# A search may name the R38 terminology by its FHIR URL: it is the same code system.
SYSTEM_ALIASES = {SPECIALITE_ORDINALE: SPECIALITES_ORDINALES_OID}
FONCTION = f"{NOS}/TRE_R21-Fonction/FHIR/TRE-R21-Fonction"
SECTEUR_ACTIVITE = f"{NOS}/TRE_R02-SecteurActivite/FHIR/TRE-R02-SecteurActivite"

EMAIL_TYPE_EXTENSION = (
    "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type"
)
EMAIL_TYPE = f"{NOS}/TRE_R256-TypeMessagerie/FHIR/TRE-R256-TypeMessagerie"

# Without _total=accurate, a search counts its matches up to this many (FHIR leaves the default
# to the server): counting the 20,000 namesakes of a common name would cost more than the page.
TOTAL_LIMIT = 1000

RESOURCE_TYPES = ("Practitioner", "PractitionerRole", "Organization")

_COMMON = {"_id": "id", "_lastUpdated": "date", "active": "boolean", "mailbox-mss": "address"}

SEARCH_PARAMETERS = {
    "Practitioner": {
        **_COMMON,
        "identifier": "token",
        "family": "string",
        "given": "string",
        "name": "string",
    },
    "PractitionerRole": {
        **_COMMON,
        "practitioner": "reference",
        "organization": "reference",
        "role": "token",
        "specialty": "token",
    },
    "Organization": {
        **_COMMON,
        "identifier": "token",
        "name": "string",
        "address-city": "string",
        "address-postalcode": "string",
        "type": "token",
        "partof": "reference",
    },
}

# "address" (mailbox-mss) is a string parameter matched whole, case-insensitively: no modifier.
MODIFIERS = {
    "string": (None, "exact", "contains"),
    "address": (None,),
    "token": (None,),
    "id": (None,),
    "reference": (None,),
    "boolean": (None,),
    "date": (None,),
}

REFERENCE_TARGETS = {
    ("PractitionerRole", "practitioner"): "Practitioner",
    ("PractitionerRole", "organization"): "Organization",
    ("Organization", "partof"): "Organization",
}

# Chained parameters (FHIR R4 Search §3.1.1.4.8): a reference parameter, a dot, then a parameter
# of the resource it points to, e.g. PractitionerRole?practitioner.name=lefe. They let one search
# combine a name, a speciality and a place, as the portal's form does.
CHAINS = {
    ("PractitionerRole", "practitioner"): ("identifier", "family", "given", "name"),
    ("PractitionerRole", "organization"): (
        "identifier",
        "name",
        "address-city",
        "address-postalcode",
        "type",
    ),
}

INCLUDES = {
    "Practitioner": (),
    "PractitionerRole": ("PractitionerRole:practitioner", "PractitionerRole:organization"),
    "Organization": ("Organization:partof",),
}

REVINCLUDES = {
    "Practitioner": ("PractitionerRole:practitioner",),
    "PractitionerRole": (),
    "Organization": ("PractitionerRole:organization",),
}

DOCUMENTATION = {
    "_id": "The logical id of the resource.",
    "_lastUpdated": "When the resource last changed (prefixes eq, gt, ge, lt, le).",
    "active": "Whether the entry is still in the national directory.",
    "mailbox-mss": "An MSSanté mailbox address (exact, case-insensitive).",
    "identifier": "An identifier: system|value or value (RPPS, idNatPs, FINESS, SIRET).",
    "family": "Family name: accent- and case-insensitive prefix; :exact, :contains.",
    "given": "Given name: accent- and case-insensitive prefix; :exact, :contains.",
    "name": "Any part of the name: accent- and case-insensitive prefix; :exact, :contains.",
    "practitioner": (
        "The practitioner of the role (Practitioner/id or id); chains: practitioner.identifier,"
        " practitioner.family, practitioner.given, practitioner.name."
    ),
    "organization": (
        "The organisation of the role (Organization/id or id); chains: organization.identifier,"
        " organization.name, organization.address-city, organization.address-postalcode,"
        " organization.type."
    ),
    "role": "The profession (G15) or function (R21) of the role: system|code or code.",
    "specialty": "The savoir-faire of the role (R38 specialités ordinales...): system|code.",
    "address-city": "The city: accent- and case-insensitive prefix; :exact, :contains.",
    "address-postalcode": "The postcode: prefix; :exact, :contains.",
    "type": "The activity sector (R02): system|code or code.",
    "partof": "The legal entity the organisation belongs to (Organization/id or id).",
}

FHIR_TYPES = {
    "address": "string",
    "id": "token",
    "date": "date",
    "boolean": "token",
    "string": "string",
    "token": "token",
    "reference": "reference",
}
