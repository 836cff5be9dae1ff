"""The API root: /api/v1/, bearer tokens on every route, routers added per app."""

from ninja import NinjaAPI

from accounts.auth import read_auth
from portal.api_errors import document_errors, install_error_handlers


class PortalApi(NinjaAPI):
    """A NinjaAPI whose OpenAPI document lists every operation's error statuses."""

    def get_openapi_schema(self, **kwargs):
        return document_errors(super().get_openapi_schema(**kwargs))


api = PortalApi(
    title="MLOps Portal API",
    version="1",
    description=(
        "Predict with the registry's models and call LLM providers. "
        "Authenticate with `Authorization: Bearer <token>` (create tokens in the portal). "
        'Every error is JSON `{"detail": ...}`; a 422 lists the first field-level errors '
        "and counts them all in `error_count`."
    ),
    urls_namespace="api",
    auth=read_auth,
)
install_error_handlers(api)

api.add_router("/", "accounts.api.router")
api.add_router("/", "models_registry.api.router")
api.add_router("/", "predictions.api.router")
api.add_router("/", "predictions.batch_api.router")
