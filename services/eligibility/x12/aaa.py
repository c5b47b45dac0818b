"""AAA reject reasons (AAA03, 005010X279A1) in words for people (pure)."""

from __future__ import annotations

# AAA03 reasons a 271 may carry (X279A1).
REJECTION_TEXT: dict[str, str] = {
    "15": "required application data missing",
    "41": "authorization or access restrictions",
    "42": "the payer could not answer now",
    "43": "invalid or missing provider identification",
    "45": "invalid or missing provider specialty",
    "47": "invalid or missing provider state",
    "48": "invalid or missing referring provider identification",
    "51": "provider not on file",
    "52": "service dates not within the provider's plan enrollment",
    "56": "inappropriate date",
    "57": "invalid or missing date(s) of service",
    "58": "invalid or missing date of birth",
    "60": "date of birth follows the date(s) of service",
    "61": "date of death precedes the date(s) of service",
    "62": "date of service not within the allowable inquiry period",
    "63": "date of service in the future",
    "64": "invalid or missing patient id",
    "65": "invalid or missing patient name",
    "67": "patient not found",
    "68": "duplicate patient id number",
    "71": "date of birth does not match the payer's records",
    "72": "invalid or missing member id",
    "73": "invalid or missing subscriber name",
    "75": "subscriber not found",
    "76": "duplicate subscriber id number",
    "78": "subscriber not in group or plan",
    "79": "invalid participant identification",
    "80": "no response received; the payer could not answer now",
}


def aaa_text(code: str) -> str:
    """The reason an AAA03 code gives, in words; an unknown code is named as such."""
    return REJECTION_TEXT.get(code, f"rejected with reason code {code}")
