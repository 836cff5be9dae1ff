"""The API root: /api/v1/, bearer tokens on every route, routers added per app."""

from ninja import NinjaAPI

from accounts.auth import read_auth
from portal.api_errors import install_error_handlers

api = NinjaAPI(
    title="MLOps Portal API",
    version="1",
    description=(
        "Predict with the registry's models and call LLM providers. "
        "Authenticate with `Authorization: Bearer <token>` (create tokens in the portal)."
    ),
    urls_namespace="api",
    auth=read_auth,
)
install_error_handlers(api)

api.add_router("/", "accounts.api.router")
api.add_router("/", "models_registry.api.router")
api.add_router("/", "predictions.api.router")
api.add_router("/", "predictions.batch_api.router")
