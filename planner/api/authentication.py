"""API keys: knox's digests, sent the way DRF's keys were (`Authorization: Token <key>`)."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework import exceptions

PRINTABLE_ASCII = re.compile(rb"[\x21-\x7e]+")


class TokenAuthentication(KnoxTokenAuthentication):
    """knox's authentication, refusing a key that cannot be one before it is looked up.

    Keys are printable ASCII (knox's are hexadecimal, and so are DRF's earlier ones moved by
    `hash_api_keys`). knox decodes the header as UTF-8 and queries with it: other bytes would
    be a 500 (a UnicodeDecodeError, or a NUL that PostgreSQL refuses) instead of a 401.
    """

    def authenticate_credentials(self, token: bytes) -> tuple[Any, Any]:
        if not PRINTABLE_ASCII.fullmatch(token):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        return super().authenticate_credentials(token)


class TokenScheme(OpenApiAuthenticationExtension):
    """The key in the OpenAPI schema: `Authorization: Token <key>` (declared beside the class,
    so it is registered whenever the class is in use)."""

    target_class = TokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=self.target.authenticate_header(None)
        )
