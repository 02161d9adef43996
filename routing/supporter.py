"""Who supports a demand: a person, identified like a requester, or nobody.

A supporter names themselves by national code or phone, which the API normalises (Persian
digits, spaces and dashes; `+98`, `0098` and a leading `0` are one number: the key store's
`canonical_phone`) and turns into the key store's opaque id of that person through the keyed
hash it already keeps for requesters (`services/privacy/`): the same person whoever records
the support and through whichever channel, and the same one who submitted demands with that
national code or phone. Neither value reaches the log or the read models: the request carries
the person's id only. A support naming neither is anonymous, counted apart.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, validates_schema

from services import identity_fields
from services.privacy.vault import Vault

# How a person stands in the key store when they are known only as a supporter.
SUPPORTER_KIND = "citizen"


class SupporterV1(Schema):
    """The person supporting: their national code or phone (or both), as a requester gives
    them. Never stored in clear: only the key store's id of the person is recorded."""

    class Meta:
        unknown = RAISE

    national_id = identity_fields.national_code()
    phone = identity_fields.phone()

    @validates_schema
    def _someone(self, data: dict[str, Any], **kwargs) -> None:
        if not data.get("national_id") and not data.get("phone"):
            raise ValidationError("Give a national code or a phone (or leave `supporter` out "
                                  "for an anonymous support).")


def support_payload(body: dict[str, Any], vault: Vault, demand_id: str) -> dict[str, Any]:
    """The SupportRequested payload for an API body: the supporter's national code or phone
    replaced by the key store's id of the person (made on first sight), or none."""
    identity = {k: v for k, v in (body.get("supporter") or {}).items() if v}
    supporter_id = None
    if identity:
        # The vault finds the person by the keyed hash of national code, then phone (linking
        # the other to them), or makes one: the same id a requester with them has.
        sealed = vault.seal({"kind": SUPPORTER_KIND, **identity}, demand_id)
        supporter_id = sealed["requester_id"]
    return {"supporter_id": supporter_id, "on_behalf_of": body.get("on_behalf_of")}
