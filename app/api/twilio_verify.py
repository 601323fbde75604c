"""A drop-in for Twilio Verify v2: the Verification and VerificationCheck resources.

Teams written against Twilio's SDKs point the SDK's Verify base URL at this service. The
SDKs send HTTP Basic credentials (the account SID in OTP_TWILIO_ACCOUNT_SID, and an API key
of OTP_API_KEYS as the password) and form-encoded parameters; every answer, errors included,
is in Twilio's JSON shape. Registered only when OTP_TWILIO_ACCOUNT_SID is set; trusted
callers only, so no CORS and no per-IP limit.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask.blueprints import BlueprintSetupState
from marshmallow import ValidationError, validate

from app.errors import as_api_error

from . import auth
from . import twilio_shapes as shapes
from .schemas import APP_HASH, FRIENDLY_NAME, LOCALE
from .twilio_flow import TwilioVerify

bp = Blueprint("twilio_verify", __name__, url_prefix="/v2")

FORM = "application/x-www-form-urlencoded"
CREATE_PARAMETERS = ("To", "Channel", "Locale", "CustomFriendlyName", "AppHash")
CHECK_PARAMETERS = ("Code", "To", "VerificationSid")
UPDATE_STATUSES = ("canceled", "approved")
_EMAIL = validate.And(validate.Email(), validate.Length(max=254))
# Twilio's parameters for what a verification's texts carry: their checks, the service's names.
_TEXTING = {
    "CustomFriendlyName": (FRIENDLY_NAME, "friendly_name"),
    "AppHash": (APP_HASH, "app_hash"),
}


@bp.record_once
def _build(state: BlueprintSetupState) -> None:
    services = state.app.extensions["otp"]
    settings = services.settings
    state.app.extensions["twilio_verify"] = TwilioVerify(
        services.service, settings.twilio_account_sid, settings.twilio_services
    )


def _flow() -> TwilioVerify:
    flow: TwilioVerify = current_app.extensions["twilio_verify"]
    return flow


@bp.before_request
def _caller() -> None:
    """The account SID and a trusted key, then a known service, before anything else."""
    flow = _flow()
    if not auth.basic_matches(flow.account_sid):
        headers = {"WWW-Authenticate": 'Basic realm="Twilio Verify API"'}
        raise shapes.TwilioError(20003, 401, "Authenticate", headers)
    service_sid = (request.view_args or {}).get("service_sid", "")
    if service_sid not in flow.services:
        raise shapes.not_found(f"The Verify service {service_sid} was not found.")


@bp.errorhandler(Exception)
def _twilio_shaped(exc: Exception) -> Response:
    """Every error of this API in Twilio's shape, whatever raised it."""
    if isinstance(exc, shapes.TwilioError):
        return shapes.error_answer(exc)
    return shapes.error_answer(shapes.from_service(as_api_error(exc)))


def _form(allowed: tuple[str, ...], required: tuple[str, ...]) -> dict[str, str]:
    """The request's form parameters: only `allowed`, each at most once, `required` there."""
    if request.content_length and request.mimetype != FORM:
        raise shapes.invalid(f"Send the parameters as {FORM}, as Twilio's SDKs do.")
    for name in request.form:
        if name not in allowed:
            supported = ", ".join(allowed)
            raise shapes.invalid(f"Parameter {name} is not supported here; this takes {supported}.")
        if len(request.form.getlist(name)) > 1:
            raise shapes.invalid(f"Parameter {name} was given more than once.")
    for name in required:
        if not request.form.get(name):
            raise shapes.invalid(f"Missing required parameter {name} in the post body")
    return request.form.to_dict()


def _answer(resource: dict[str, object], status: int = 200) -> Response:
    """The resource as JSON; its SID goes into the request's log line."""
    g.verification_id = resource["sid"]
    response = jsonify(resource)
    response.status_code = status
    return response


def _url(service_sid: str, sid: str) -> str:
    return f"{request.url_root}v2/Services/{service_sid}/Verifications/{sid}"


@bp.post("/Services/<service_sid>/Verifications")
def create_verification(service_sid: str) -> Response:
    data = _form(CREATE_PARAMETERS, ("To", "Channel"))
    channel = shapes.FROM_TWILIO_CHANNEL.get(data["Channel"])
    if channel is None:
        raise shapes.invalid(f"Invalid parameter `Channel`: {data['Channel']}")
    locale = data.get("Locale", "en")
    _check(LOCALE, locale, "Locale")
    if channel == "email":
        _check(_EMAIL, data["To"], "To")
    shown = _flow().create(service_sid, data["To"], channel, locale, **_texting(data))
    return _answer(shapes.verification(shown, _url(service_sid, shown.sid)), 201)


def _texting(data: dict[str, str]) -> dict[str, str]:
    """CustomFriendlyName and AppHash where given, checked, under the service's names."""
    texting = {}
    for parameter, (validator, name) in _TEXTING.items():
        if parameter in data:
            _check(validator, data[parameter], parameter)
            texting[name] = data[parameter]
    return texting


def _check(validator: validate.Validator, value: str, name: str) -> None:
    try:
        validator(value)
    except ValidationError:
        raise shapes.invalid(f"Invalid parameter `{name}`: {value}") from None


@bp.post("/Services/<service_sid>/VerificationCheck")
def check_verification(service_sid: str) -> Response:
    data = _form(CHECK_PARAMETERS, ("Code",))
    key = data.get("VerificationSid") or data.get("To")
    if not key:
        raise shapes.TwilioError(
            60221, 400, "Either a 'To' number or 'VerificationSid' must be specified."
        )
    if not 4 <= len(data["Code"]) <= 10:
        raise shapes.invalid("Invalid parameter `Code`: 4 to 10 characters.")
    shown, token = _flow().check(service_sid, key, data["Code"])
    return _answer(shapes.verification_check(shown, token))


@bp.get("/Services/<service_sid>/Verifications/<sid>")
def fetch_verification(service_sid: str, sid: str) -> Response:
    shown = _flow().fetch(service_sid, sid)
    return _answer(shapes.verification(shown, _url(service_sid, shown.sid)))


@bp.post("/Services/<service_sid>/Verifications/<sid>")
def update_verification(service_sid: str, sid: str) -> Response:
    data = _form(("Status",), ("Status",))
    if data["Status"] not in UPDATE_STATUSES:
        raise shapes.invalid(f"Invalid parameter `Status`: {data['Status']}")
    shown = _flow().update(service_sid, sid, data["Status"])
    return _answer(shapes.verification(shown, _url(service_sid, shown.sid)))
