"""JSON Schemas of the routing API's request bodies (published in its OpenAPI document)."""

from typing import Any

from lotse_contracts import CancelReason, DeclineReason, LegalDomain

from lotse_routing.domain.lifecycle import Action
from lotse_routing.use_cases.referrals import DATA_CATEGORIES, ConsentForm, Urgency
from lotse_routing.use_cases.responsibility import ResidenceOf

_ID = {"type": "string", "minLength": 1, "maxLength": 64}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 2000}

LOCATION = {"type": "string", "minLength": 2, "maxLength": 200}

CONSENT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["given_by", "given_at", "form", "recipient_organization_id", "data_categories"],
    "description": "the client's consent to this referral (SGB X § 67b); without it nothing is stored",
    "properties": {
        "given_by": {"type": "string", "minLength": 1, "maxLength": 200},
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
    "required": ["legal_domain", "location", "residence_of", "reason", "client"],
    "properties": {
        "legal_domain": {"enum": [d.value for d in LegalDomain]},
        "location": {**LOCATION, "description": "PLZ, 'PLZ Ort', postal address, Gemeinde name or AGS"},
        "residence_of": {
            "enum": [r.value for r in ResidenceOf],
            "description": "whose habitual residence the location is (SGB_VIII: the parents')",
        },
        "topic": {"type": "string", "maxLength": 200},
        "language": {"type": "string", "pattern": "^[a-z]{2,3}$"},
        "urgency": {"enum": [u.value for u in Urgency], "default": "normal"},
        "reason": {**_TEXT, "description": "a short reason for the recipient (stored encrypted)"},
        "recipient_organization_id": {**_ID, "description": "where the answer is ambiguous: the chosen candidate"},
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
