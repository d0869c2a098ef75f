"""OpenAPI documentation at /schema, browsable with Swagger UI served from this app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import swagger_ui_bundle
from litestar import Request
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.openapi.spec import Components, Schema, SecurityScheme
from litestar.typing import FieldDefinition

SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)
SWAGGER_STATIC = "/static/swagger-ui"


class LocalSwaggerPlugin(OpenAPIRenderPlugin):
    """Swagger UI from our own static files, started by our own script (strict CSP holds)."""

    def __init__(self) -> None:
        super().__init__(path="/", favicon="", style="")

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        title = openapi_schema["info"]["title"]
        return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — API</title>
<link rel="stylesheet" href="{SWAGGER_STATIC}/swagger-ui.css">
</head>
<body data-openapi-url="{self.get_openapi_json_route(request)}">
<div id="swagger-ui"></div>
<script src="{SWAGGER_STATIC}/swagger-ui-bundle.js"></script>
<script src="/static/app/api-docs.js"></script>
</body>
</html>""".encode()


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="safebed",
        version="0.1.0",
        description=(
            "Find a safe bed for a minor, fast. Sign in with POST /api/auth/login (session "
            "cookie) or send a personal API token as 'Authorization: Bearer <token>'. Errors "
            "are RFC 9457 problem details."
        ),
        path="/schema",
        render_plugins=[LocalSwaggerPlugin()],
        components=Components(
            security_schemes={
                "token": SecurityScheme(
                    type="http", scheme="bearer", description="Personal API token"
                ),
                "session": SecurityScheme(
                    type="apiKey", name="safebed_session", security_scheme_in="cookie"
                ),
            }
        ),
        security=[{"token": []}, {"session": []}],
    )


class ClosedStructSchemaPlugin(StructSchemaPlugin):
    """Request bodies refuse unknown fields (msgspec forbid_unknown_fields): the OpenAPI says
    so with additionalProperties: false, so clients and generated requests know it too."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if isinstance(info, msgspec.inspect.StructType) and info.forbid_unknown_fields:
            schema.additional_properties = False
        return schema
