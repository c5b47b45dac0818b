"""Refusals of the remittance domain."""

from __future__ import annotations

from services.core.errors import Conflict, NotFound, Unprocessable


class RecoupmentPolicyNotFound(NotFound):
    code = "recoupment_policy_not_found"


class BadRecoupmentPolicy(Unprocessable):
    code = "bad_recoupment_policy"


class DefaultPolicyKept(Conflict):
    code = "recoupment_policy_is_default"


class PolicyChangedMeanwhile(Conflict):
    code = "recoupment_policy_changed_meanwhile"
