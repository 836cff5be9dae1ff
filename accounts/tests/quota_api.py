"""A URLconf for tests: the real API plus one route that spends quota like predict will.

The predict API arrives with the serving issue; until then this route exercises the same
auth class, quota service and error handlers the real routes use.
"""

from django.http import HttpResponse
from django.urls import path
from ninja import NinjaAPI, Schema

from accounts.auth import predict_auth
from accounts.models import QuotaKind
from accounts.quotas import quota_reserve
from portal.api_errors import install_error_handlers
from portal.urls import urlpatterns as portal_urlpatterns

api = NinjaAPI(urls_namespace="quota_test", auth=predict_auth, docs_url=None)
install_error_handlers(api)


class SpendIn(Schema):
    rows: int = 1


@api.post("/spend")
def spend(request, response: HttpResponse, payload: SpendIn):
    status = quota_reserve(user=request.auth, kind=QuotaKind.PREDICTION_ROWS, units=payload.rows)
    for name, value in status.headers().items():
        response[name] = value
    return {"used": status.used}


urlpatterns = [*portal_urlpatterns, path("test-api/", api.urls)]
