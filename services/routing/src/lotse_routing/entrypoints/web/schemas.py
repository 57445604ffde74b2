"""JSON Schemas of the routing API's request bodies (published in its OpenAPI document)."""

from typing import Any

from lotse_contracts import CancelReason, ConsentRole, DeclineReason, Informed, LegalDomain, ReferralStatus
from lotse_kit.openapi import answer_object, paged_answer

from lotse_routing.domain.lifecycle import Action
from lotse_routing.use_cases.referrals import DATA_CATEGORIES, ConsentForm, Urgency
from lotse_routing.use_cases.responsibility import ResidenceOf

_ID = {"type": "string", "minLength": 1, "maxLength": 64}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 2000}

LOCATION = {"type": "string", "minLength": 2, "maxLength": 200}

CONSENT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["given_by", "given_at", "form", "recipient_organization_id", "data_categories", "informed_of"],
    "description": "the client's consent to this referral (SGB X § 67b); without it nothing is stored",
    "properties": {
        "given_by": {"type": "string", "minLength": 1, "maxLength": 200},
        "given_by_role": {
            "enum": [r.value for r in ConsentRole],
            "default": ConsentRole.CLIENT.value,
            "description": "who consented: the client, the person with custody or a legal representative; a client "
            "under 15 (by the birth date given) does not consent alone (§ 36 SGB I)",
        },
        "informed_of": {
            "type": "array",
            "items": {"enum": [i.value for i in Informed]},
            "uniqueItems": True,
            "description": "what the client was told before consenting (SGB X § 67b Abs. 2): the purpose, the "
            "consequences of refusing (refusal) and how to withdraw (withdrawal); all three are needed",
        },
        "given_at": {"type": "string", "format": "date-time"},
        "form": {"enum": [f.value for f in ConsentForm]},
        "recipient_organization_id": _ID,
        "data_categories": {
            "type": "array",
            "items": {"enum": list(DATA_CATEGORIES)},
            "minItems": 1,
            "uniqueItems": True,
        },
        "onward_transfer": {
            "type": "boolean",
            "default": False,
            "description": "the client agreed that the recipient may pass the referral, with these data, to the "
            "body competent instead (SGB I § 16); without it a forward waits for a consent naming the new body",
        },
    },
}

NEW_REFERRAL: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["legal_domain", "location", "reason", "client"],
    "properties": {
        "legal_domain": {
            "type": "string",
            "maxLength": 40,
            "description": "the Rechtskreis: " + ", ".join(d.value for d in LegalDomain) + " (common spellings too)",
        },
        "location": {**LOCATION, "description": "PLZ, 'PLZ Ort', postal address, Gemeinde name or AGS"},
        "residence_of": {
            "enum": [r.value for r in ResidenceOf],
            "description": "whose habitual residence the location is: client (the default but for SGB_VIII); "
            "SGB_VIII: parents or custodial_parent (§ 86)",
        },
        "topic": {"type": "string", "maxLength": 200},
        "language": {"type": "string", "pattern": "^[a-z]{2,3}$"},
        "urgency": {"enum": [u.value for u in Urgency], "default": "normal"},
        "reason": {**_TEXT, "description": "a short reason for the recipient (stored encrypted)"},
        "recipient_organization_id": {**_ID, "description": "where the answer is ambiguous: the chosen candidate"},
        "service_id": {
            **_ID,
            "description": "an offer of the directory the client is referred to: its organisation receives the "
            "referral, no jurisdiction decides it (the consent names that organisation)",
        },
        "draft": {"type": "boolean", "default": False},
        "client": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "description": "the client's data the recipient needs (stored encrypted)",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "birth_date": {"type": "string", "format": "date"},
                "phone": {"type": "string", "maxLength": 50},
                "email": {"type": "string", "format": "email", "maxLength": 200},
                "address": {"type": "string", "maxLength": 300},
            },
        },
        "consent": CONSENT,
    },
}

STEP: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "reason_code": {
            "enum": [r.value for r in DeclineReason] + [r.value for r in CancelReason],
            "description": "decline: one of the fixed reasons; cancel: client_moved or no_longer_needed",
        },
        "note": {**_TEXT, "description": "why (needed for 'sonstiges'), or the outcome of complete and fail"},
        "to_organization_id": {**_ID, "description": "forward: the organisation to forward to"},
    },
}

ACTIONS = tuple(a.value for a in Action)


# -- answers (published in the OpenAPI document; the schemathesis run checks every answer against them) --

_STR = {"type": "string"}
_OPT_STR = {"type": ["string", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_DAY = {"type": ["string", "null"], "format": "date"}
_STATUSES = {"enum": [s.value for s in ReferralStatus]}


_CANDIDATE = answer_object(
    {
        "organization_id": _STR,
        "name": _OPT_STR,
        "email": _OPT_STR,
        "jurisdiction": answer_object(
            {
                "id": _STR,
                "region_key": _STR,
                "postal_codes": {"type": "array", "items": _STR},
                "source": _STR,
                "verified_on": _DAY,
                "declared_by": _OPT_STR,
                "confirmed_by": _OPT_STR,
            }
        ),
        "explanation": _STR,
        "office": {
            "anyOf": [
                {"type": "null"},
                answer_object(
                    {
                        "location_id": _STR,
                        "name": _STR,
                        "address": _STR,
                        "opening_hours": {"type": "array", "items": _STR},
                        "phone": _OPT_STR,
                        "distance_km": {"type": ["number", "null"]},
                    }
                ),
            ]
        },
    }
)

ANSWER = answer_object(
    {
        "outcome": {"enum": ["responsible", "ambiguous", "no_jurisdiction"]},
        "legal_domain": {"enum": [d.value for d in LegalDomain]},
        "residence_of": {"enum": [r.value for r in ResidenceOf]},
        "places": {
            "type": "array",
            "items": answer_object(
                {
                    "region_key": _STR,
                    "gemeinde_key": _OPT_STR,
                    "postal_code": _OPT_STR,
                    "label": _STR,
                    "weight": {"type": "integer"},
                }
            ),
        },
        "explanation": _STR,
        "decides": {"enum": ["gemeinde", "postal_code", "data", None]},
        "likely_organization_id": _OPT_STR,
        "candidates": {"type": "array", "items": _CANDIDATE},
    }
)

_SUMMARY_PROPERTIES: dict[str, Any] = {
    "id": _STR,
    "status": _STATUSES,
    "legal_domain": {"enum": [d.value for d in LegalDomain]},
    "region_key": _STR,
    "place_name": _OPT_STR,
    "topic": _OPT_STR,
    "urgency": {"enum": [u.value for u in Urgency]},
    "sender_organization_id": _STR,
    "recipient_organization_id": _STR,
    "recipient_name": _STR,
    "parent_id": _OPT_STR,
    "forwarded_to_id": _OPT_STR,
    "first_received_on": _DAY,
    "requested_at": _TIME,
    "updated_at": _TIME,
    "revision": {"type": "integer"},
    "allowed_actions": {"type": "array", "items": {"enum": list(ACTIONS)}},
}
SUMMARY = answer_object(
    {
        **_SUMMARY_PROPERTIES,
        "acknowledge_by": {**_OPT_STR, "description": "until when the recipient is to acknowledge (open referrals)"},
        "overdue": {"type": "boolean", "description": "not acknowledged by then: the reminder is due or was sent"},
    },
    required=list(_SUMMARY_PROPERTIES),
)

REFERRAL = answer_object(
    {
        **_SUMMARY_PROPERTIES,
        "postal_code": _OPT_STR,
        "residence_of": {"enum": [r.value for r in ResidenceOf]},
        "language": _OPT_STR,
        "decision": {"type": "object"},
        "explanation": _STR,
        "decline_reason": _OPT_STR,
        "acknowledged_at": _TIME,
        "accepted_at": _TIME,
        "closed_at": _TIME,
        "erased_at": _TIME,
        "client": {"type": ["object", "null"]},
        "reason": _OPT_STR,
        "consent": answer_object(
            {
                "id": _STR,
                "given_by": _OPT_STR,
                "given_at": _TIME,
                "form": {"enum": [f.value for f in ConsentForm]},
                "recipient_organization_id": _STR,
                "data_categories": {"type": "array", "items": _STR},
                "onward_transfer": {"type": "boolean"},
                "given_by_role": {"anyOf": [{"enum": [r.value for r in ConsentRole]}, {"type": "null"}]},
                "informed_of": {"anyOf": [{"type": "array", "items": _STR}, {"type": "null"}]},
                "withdrawn_at": _TIME,
            }
        ),
        "history": {
            "type": "array",
            "items": answer_object(
                {
                    "at": _TIME,
                    "action": _STR,
                    "status_before": {"anyOf": [_STATUSES, {"type": "null"}]},
                    "status_after": _STATUSES,
                    "side": _STR,
                    "by": answer_object({"subject": _OPT_STR, "role": _OPT_STR, "organization_id": _OPT_STR}),
                    "reason_code": _OPT_STR,
                    "reason_label": _OPT_STR,
                    "note": _OPT_STR,
                }
            ),
        },
        "notifications": {
            "type": "array",
            "items": answer_object(
                {
                    "organization_id": _STR,
                    "side": _STR,
                    "channel": _STR,
                    "about": _STR,
                    "outcome": _STR,
                    "attempts": {"type": "integer"},
                    "at": _TIME,
                }
            ),
        },
    }
)

REFERRAL_PAGE = {
    **paged_answer(SUMMARY),
    "properties": {
        **paged_answer(SUMMARY)["properties"],
        "counts_by_status": {
            "type": "object",
            "additionalProperties": {"type": "integer", "minimum": 0},
            "description": "how many of the caller's referrals are in each status, and `overdue`: how many wait "
            "for an acknowledgement that was due (whatever status and overdue filter)",
        },
    },
}


PERSON: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "birth_date"],
    "description": "the person as they identify themselves: found whatever the case, accents, punctuation and "
    "order of the names; referrals stored with this name but no birth date are found too (matched_by name_only)",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "birth_date": {"type": "string", "format": "date"},
    },
}

ERASURE: dict[str, Any] = {
    **PERSON,
    "required": ["name", "birth_date", "referral_ids"],
    "properties": {
        **PERSON["properties"],
        "referral_ids": {
            "type": "array",
            "items": {"type": "string", "pattern": "^[0-9a-fA-F-]{36}$"},
            "minItems": 1,
            "maxItems": 500,
            "uniqueItems": True,
            "description": "the person's referrals to erase: each about them and closed",
        },
    },
}

_AUDIT_ENTRY = {
    "at": _TIME,
    "subject": _STR,
    "role": _STR,
    "organization_id": _OPT_STR,
    "action": _STR,
    "consent_id": _OPT_STR,
    "allowed": {"type": "boolean"},
}
AUDIT = answer_object({"contents": {"type": "array", "items": answer_object(_AUDIT_ENTRY)}})

SUBJECT_REPORT = answer_object(
    {
        "name": _STR,
        "birth_date": _STR,
        "produced_at": _TIME,
        "produced_by": _STR,
        "retention_days": {
            "type": "integer",
            "description": "how long after a referral closed its client data is kept (LOTSE_ROUTING_RETENTION_DAYS)",
        },
        "referrals": {
            "type": "array",
            "items": {
                **REFERRAL,
                "required": [*REFERRAL["required"], "matched_by", "erasable"],
                "properties": {
                    **REFERRAL["properties"],
                    "matched_by": {"enum": ["name_and_birth_date", "name_only"]},
                    "erasable": {"type": "boolean", "description": "closed: can be erased on request now"},
                },
            },
        },
        "consents": {"type": "array", "items": REFERRAL["properties"]["consent"]},
        "audit": {"type": "array", "items": answer_object({**_AUDIT_ENTRY, "referral_id": _OPT_STR})},
    }
)

ERASED = answer_object({"erased": {"type": "array", "items": _STR}})

WITHDRAWN = answer_object({"consent_id": _STR, "cancelled_referrals": {"type": "array", "items": _STR}})

_COUNT = {"type": ["integer", "null"], "minimum": 0}
FIGURES = answer_object(
    {
        "min_cell": {"type": "integer"},
        "counts": {
            "type": "array",
            "items": answer_object(
                {
                    "legal_domain": _STR,
                    "region_key": _STR,
                    "status": _STATUSES,
                    "decline_reason": _OPT_STR,
                    "count": _COUNT,
                    "suppressed": {"type": "boolean"},
                }
            ),
        },
        "months": {
            "type": "array",
            "items": answer_object(
                {"month": _STR, "legal_domain": _STR, "count": _COUNT, "suppressed": {"type": "boolean"}}
            ),
        },
        "forwarded": {
            "type": "object",
            "additionalProperties": answer_object({"count": _COUNT, "suppressed": {"type": "boolean"}, "of": _COUNT}),
        },
        "median_hours": {
            "type": "object",
            "additionalProperties": answer_object(
                {
                    "to_acknowledged": {"type": ["number", "null"]},
                    "to_accepted": {"type": ["number", "null"]},
                    "referrals": _COUNT,
                    "suppressed": {"type": "boolean"},
                }
            ),
        },
    }
)
