"""Document validation against the JSON Schema files in `store/schemas/` (the one jsonschema user).

Errors come out in KAZOO's shape: `{"<field>": {"<rule>": {"message", "target", "value"}}}`, the field a
dotted path (`notify.callback.attempts`) and the rule the JSON Schema keyword (`required`, `minLength`,
`type`, `enum`, ...), which is what KAZOO's own validator reports; a failed `format` is KAZOO's
`wrong_format` (`{"message", "value", "format"}`). The one format checked is KAZOO's `email` (jesse's
rule: one `@` with something on each side).
"""

import copy
import json
import re
from functools import cache
from importlib import resources

from jsonschema import Draft7Validator, FormatChecker

Errors = dict[str, dict[str, dict]]

_MESSAGES = {
    "minLength": "String must be at least {target} characters",
    "maxLength": "String must not be more than {target} characters",
    "type": "Value did not match type(s): {target}",
    "enum": "Value not found in enumerated list of values",
    "minimum": "Value must be at least {target}",
    "maximum": "Value must be at most {target}",
    "pattern": "Failed to match pattern '{target}'",
    "minItems": "The list is not at least {target} items",
    "maxItems": "The list is more than {target} items",
}


@cache
def schema(name: str) -> dict:
    """The JSON Schema `store/schemas/<name>.json` as a dict (read once; callers must not mutate it)."""
    return json.loads(resources.files("store").joinpath(f"schemas/{name}.json").read_text())


_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("email")
def _is_email(instance: object) -> bool:
    return not isinstance(instance, str) or re.fullmatch(r"[^@]+@[^@]+", instance) is not None


@cache
def _validator(name: str) -> Draft7Validator:
    return Draft7Validator(schema(name), format_checker=_FORMATS)


def error(field: str, rule: str, message: str, **detail) -> Errors:
    """One KAZOO validation error for `field`, e.g. error("mailbox", "unique", "...")."""
    return {field: {rule: {"message": message, **detail}}}


def validate(name: str, document: object) -> Errors:
    """Every violation of schema `name` by `document`; empty when it is valid."""
    if not isinstance(document, dict):
        return error(
            "data", "type", "Value did not match type(s): object", target="object", value=document
        )
    errors: Errors = {}
    for failure in _validator(name).iter_errors(document):
        path = [str(part) for part in failure.absolute_path]
        if failure.validator == "required":
            for missing in failure.validator_value:
                if missing not in failure.instance:
                    field = ".".join([*path, missing])
                    errors.setdefault(field, {})["required"] = {
                        "message": "Field is required but missing"
                    }
            continue
        if failure.validator == "format":
            errors.setdefault(".".join(path), {})["wrong_format"] = {
                "message": "Field is not in the correct format",
                "value": failure.instance,
                "format": failure.validator_value,
            }
            continue
        target = failure.validator_value
        shown = (
            ", ".join(target)
            if failure.validator == "type" and isinstance(target, list)
            else target
        )
        message = _MESSAGES.get(failure.validator, failure.message).format(target=shown)
        detail = {"message": message, "target": target, "value": failure.instance}
        errors.setdefault(".".join(path) or "data", {})[failure.validator] = detail
    return errors


def with_defaults(name: str, document: dict) -> dict:
    """A copy of `document` with every top-level default of schema `name` filled in where absent."""
    filled = dict(document)
    for key, spec in schema(name)["properties"].items():
        if "default" in spec and key not in filled:
            filled[key] = copy.deepcopy(spec["default"])
    return filled
