from datetime import datetime

from ninja import Schema


class QuotaOut(Schema):
    kind: str
    limit: int
    used: int
    remaining: int
    resets_at: datetime


class TokenInfoOut(Schema):
    name: str
    prefix: str
    scope: str
    expires_at: datetime


class MeOut(Schema):
    username: str
    email: str
    role: str | None
    token: TokenInfoOut
    quotas: list[QuotaOut]
