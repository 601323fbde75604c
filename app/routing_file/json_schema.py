"""The routing file's JSON Schema, generated from its marshmallow schemas (apispec).

Editors use it to check the file as it is typed (`flask otp schema > routing.schema.json`).
It checks the shape; what needs the whole file or the environment (names declared elsewhere,
`${VAR}`, the adapters' own settings) is left to `flask otp check`.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import fields

from .document import RoutingFileSchema

DRAFT = "http://json-schema.org/draft-07/schema#"
_COMPONENTS = "#/components/schemas/"
_DEFINITIONS = "#/definitions/"


def document() -> dict[str, Any]:
    """A draft-07 JSON Schema of the whole routing file."""
    plugin = MarshmallowPlugin()
    spec = APISpec("routing file", "1", "3.1.0", plugins=[plugin])
    assert plugin.converter is not None
    plugin.converter.add_attribute_function(_property_names)  # type: ignore[no-untyped-call]
    spec.components.schema("RoutingFile", schema=RoutingFileSchema)
    definitions = spec.to_dict()["components"]["schemas"]
    root = definitions.pop("RoutingFile")
    schema = {"$schema": DRAFT, "title": "OTP service routing file", **root}
    document: dict[str, Any] = _local_refs({**schema, "definitions": definitions})
    return document


def _property_names(self: Any, field: fields.Field, **kwargs: Any) -> dict[str, Any]:  # type: ignore[type-arg]
    """What the keys of a mapping field must look like (apispec leaves them out)."""
    keys = getattr(field, "key_field", None)
    if keys is None:
        return {}
    names = {k: v for k, v in self.field2property(keys).items() if k in ("enum", "pattern")}
    return {"propertyNames": names} if names else {}


def _local_refs(node: Any) -> Any:
    """OpenAPI's component references turned into the schema's own definitions."""
    if isinstance(node, dict):
        return {
            key: value.replace(_COMPONENTS, _DEFINITIONS) if key == "$ref" else _local_refs(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_local_refs(item) for item in node]
    return node
