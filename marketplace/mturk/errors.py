"""MTurk's two error shapes. boto3 turns `__type` into its ClientError classes, so every
refusal of a request is one of these two, raised and rendered in MTurk's JSON shape."""

from __future__ import annotations


class MTurkRequestError(Exception):
    """The caller's fault (`__type` "RequestError", HTTP 400): bad parameters, unknown or
    foreign objects, insufficient funds. `turk_error_code` is MTurk's `TurkErrorCode`."""

    def __init__(
        self, message: str, turk_error_code: str = "AWS.MechanicalTurk.ParameterValidationError"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.turk_error_code = turk_error_code


class MTurkServiceFault(Exception):
    """Our fault (`__type` "ServiceFault", HTTP 400 as MTurk sends it)."""

    def __init__(
        self, message: str, turk_error_code: str = "AWS.MechanicalTurk.ServiceFault"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.turk_error_code = turk_error_code
