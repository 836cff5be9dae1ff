from django.http import HttpResponse
from ninja import Router

from accounts.auth import predict_auth
from predictions import services
from predictions.schemas import PredictIn, PredictOut

router = Router(tags=["predict"])


@router.post(
    "/models/{name}/predict",
    response=PredictOut,
    auth=predict_auth,
    url_name="predict",
)
def predict(request, response: HttpResponse, name: str, payload: PredictIn):
    """Predict with the model's production version; counts one quota unit per row."""
    body, quota = services.prediction_run(
        user=request.auth, model_name=name, rows=payload.inputs, request_id=request.request_id
    )
    for header, value in quota.headers().items():
        response[header] = value
    return body
