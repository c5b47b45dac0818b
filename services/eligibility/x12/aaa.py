"""AAA reject reasons (AAA03, 005010X279A1) in words for people (pure).

Every code the guide allows in any loop of a 271 has its own text: 2000A and 2100A (the payer),
2100B (the information receiver: us or the provider), 2100C/2100D (the subscriber or dependant)
and 2110C/2110D (one benefit inquiry). `aaa_text(code)` is the one entry point; a code outside
the guide is named as such rather than guessed at.
"""

from __future__ import annotations

REJECTION_TEXT: dict[str, str] = {
    # 2000A / 2100A: the payer or its system
    "04": "the payer's limit on inquiries was exceeded; ask again later",
    "41": "the payer refused access to this information",
    "42": "the payer could not answer now; we will ask again",
    "79": "the payer or its identifier was not recognised",
    "80": "the payer's system did not answer in time; we will ask again",
    "T4": "the payer's name or identifier was missing",
    # 2100B: the information receiver
    "15": "information the payer requires was missing from the request",
    "43": "the provider's identifier (NPI) is missing or not valid",
    "44": "the provider's name is missing or not valid",
    "45": "the provider's specialty is missing or not valid",
    "46": "the provider's phone number is missing or not valid",
    "47": "the provider's state is missing or not valid",
    "48": "the referring provider's identifier is missing or not valid",
    "50": "this provider is not allowed to ask the payer about benefits",
    "51": "the payer has no record of this provider",
    "97": "the provider's address is missing or not valid",
    # 2100C / 2100D: the subscriber or the patient
    "35": "the provider is out of network for this plan",
    "49": "the provider is not the patient's primary care physician",
    "52": "the service date is outside the provider's enrollment with this plan",
    "56": "a date in the request was not appropriate",
    "57": "the date of service is missing or not valid",
    "58": "the date of birth is missing or not valid",
    "60": "the date of birth is after the date of service",
    "61": "the date of death is before the date of service",
    "62": "the date of service is outside the period the payer answers about",
    "63": "the date of service is in the future",
    "64": "the patient's identifier is missing or not valid",
    "65": "the patient's name is missing or not valid",
    "66": "the patient's gender is missing or not valid",
    "67": "the payer did not find this patient",
    "68": "the payer has more than one patient with this identifier",
    "71": "the date of birth does not match the payer's records",
    "72": "the member id is missing or not valid",
    "73": "the subscriber's name is missing or does not match the payer's records",
    "74": "the subscriber's gender is missing or not valid",
    "75": "subscriber not found",  # the payer has no member with this id and name
    "76": "the payer has more than one subscriber with this member id",
    "77": "the payer found the subscriber but not this patient",
    "78": "the subscriber is not in the group or plan named",
    # 2110C / 2110D: one benefit inquiry
    "33": "the request had input errors",
    "53": "the benefit asked about does not fit this provider's type",
    "54": "the service was named with a qualifier the payer does not accept",
    "55": "the service or procedure code named is not appropriate",
    "69": "the service does not fit the patient's age",
    "70": "the service does not fit the patient's gender",
    "98": "the service is experimental",
    "AA": "the payer did not find the authorization number",
    "AE": "the service needs the primary care physician's authorization",
    "AF": "diagnosis codes are missing or not valid",
    "AG": "procedure codes are missing or not valid",
    "AO": "the payer needs more information about the patient's condition",
    "CI": "the certification on file does not match this patient",
    "E8": "the service needs a medical review",
    "IA": "the authorization number is not in a valid format",
    "MA": "the authorization number is missing",
}


def aaa_text(code: str) -> str:
    """The reason an AAA03 code gives, in words; a code outside the guide is named as such."""
    return REJECTION_TEXT.get(code, f"rejected with reason code {code}")
