"""Prediction history: filter, page with 'load more', expand a row, export CSV."""

import csv
import json

from django.contrib.auth.decorators import login_required
from django.db.models.fields.json import KT
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.models import Role
from accounts.roles import role_of
from portal.http import render_page
from predictions import history
from predictions.csv_cells import safe_row
from predictions.forms import HistoryFilterForm
from predictions.models import Prediction

EXPORT_CHUNK = 2000
EXPORT_COLUMNS = (
    "created_at",
    "request_id",
    "user",
    "model",
    "version",
    "arm",
    "rows",
    "latency_ms",
    "status",
    "inputs",
    "outputs",
    "feedback",
)


def _filtered(request, queryset):
    can_see_all = request.user.has_perm("accounts.view_all_history")
    form = HistoryFilterForm(request.GET or None, can_see_all=can_see_all)
    queryset = queryset.for_user(request.user)
    if form.is_bound:
        # A filter that does not parse matches nothing and says why; ignoring it would show
        # (or export) far more than was asked for.
        if form.is_valid():
            queryset = history.filter_history(queryset, **form.filters())
        else:
            queryset = queryset.none()
    return form, queryset


def _show_inputs(user):
    # Viewers see that predictions happened, never what was sent.
    return role_of(user) != Role.VIEWER


@login_required
@require_GET
def history_page(request):
    # A row's inputs and outputs (up to a thousand rows each) load when it is opened.
    rows = (
        Prediction.objects.select_related("user")
        .defer("inputs", "outputs", "probabilities", "error", "out_of_range")
        .annotate(first_output=KT("outputs__0"))
    )
    form, queryset = _filtered(request, rows)
    cursor = request.GET.get("cursor") or None
    try:
        items, next_cursor = history.page(queryset, cursor=cursor)
    except history.BadCursor:
        return HttpResponseBadRequest("Invalid cursor")
    next_query = None
    if next_cursor:
        params = request.GET.copy()
        params["cursor"] = next_cursor
        next_query = params.urlencode()
    export_query = request.GET.copy()
    export_query.pop("cursor", None)
    context = {
        "form": form,
        "items": items,
        "next_query": next_query,
        "export_query": export_query.urlencode(),
        "show_user": request.user.has_perm("accounts.view_all_history"),
        # Rows link to their details by this prefix: one reverse() per page, not per row.
        "detail_url": reverse("predictions:history_detail", args=["-"])[:-2],
    }
    partial = "history-rows" if cursor else "history-table"
    return render_page(request, "predictions/history.html", context, partial=partial)


@login_required
@require_GET
def history_detail(request, request_id):
    """One logged prediction's inputs, outputs and feedback (a history row, opened)."""
    prediction = get_object_or_404(
        Prediction.objects.for_user(request.user).select_related("feedback"),
        request_id=request_id,
    )
    show_inputs = _show_inputs(request.user)
    context = {
        "p": prediction,
        "show_inputs": show_inputs,
        "inputs": json.dumps(prediction.inputs, indent=1) if show_inputs else None,
    }
    return render(request, "predictions/_history_detail.html", context)


def _export_row(p, show_inputs):
    feedback = getattr(p, "feedback", None)
    # Request ids, usernames and arms are chosen by people: made safe for a spreadsheet.
    return safe_row(
        [
            p.created_at.isoformat(),
            p.request_id,
            p.user.username if p.user else "",
            p.model_name,
            p.version_number,
            p.arm,
            p.rows,
            p.latency_ms,
            p.status,
            json.dumps(p.inputs) if show_inputs else "",
            json.dumps(p.outputs),
            json.dumps(feedback.labels) if feedback else "",
        ]
    )


class _Echo:
    def write(self, value):
        return value


@login_required
@require_GET
def history_export(request):
    """Stream the filtered history as CSV, in keyset chunks (constant memory)."""
    form, queryset = _filtered(request, Prediction.objects.select_related("user", "feedback"))
    if form.errors:
        return HttpResponseBadRequest(
            "Invalid filter: "
            + "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()),
            content_type="text/plain",
        )
    show_inputs = _show_inputs(request.user)
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(EXPORT_COLUMNS)
        cursor = None
        while True:
            items, cursor = history.page(queryset, cursor=cursor, limit=EXPORT_CHUNK)
            for p in items:
                yield writer.writerow(_export_row(p, show_inputs))
            if cursor is None:
                return

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="predictions.csv"'
    return response
