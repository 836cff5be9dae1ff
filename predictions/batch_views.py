"""Batch job pages: jobs list with an upload form, a job's progress, its result CSV."""

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_POST

from accounts.quotas import QuotaExceeded
from models_registry.models import MLModel
from portal.http import render_page
from predictions.batch.submit import QueueUnavailable, batch_job_submit
from predictions.batch.upload import BadUpload
from predictions.batch_api import result_response
from predictions.models import BatchJob, BatchJobStatus
from predictions.services import ModelNotFound, NoProductionVersion

JOBS_SHOWN = 50


class BatchJobForm(forms.Form):
    model = forms.ChoiceField(label="Model")
    file = forms.FileField(
        label="CSV file", widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"})
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        names = (
            MLModel.objects.visible_to(user)
            .filter(versions__stage="production")
            .values_list("name", flat=True)
        )
        self.fields["model"].choices = [(name, name) for name in names]


def _jobs_page(request, form, status=200):
    jobs = list(
        BatchJob.objects.for_user(request.user).select_related("model", "version", "owner")[
            :JOBS_SHOWN
        ]
    )
    context = {
        "form": form,
        "jobs": jobs,
        "polling": any(not job.is_finished for job in jobs),
        "show_owner": request.user.has_perm("accounts.view_all_history"),
        "max_rows": settings.BATCH_MAX_ROWS,
        "max_mb": settings.BATCH_MAX_UPLOAD_MB,
    }
    return render_page(
        request, "predictions/jobs.html", context, partial="jobs-table", status=status
    )


@login_required
@require_GET
def job_list(request):
    form = None
    if request.user.has_perm("accounts.predict"):
        form = BatchJobForm(user=request.user, initial={"model": request.GET.get("model")})
    return _jobs_page(request, form)


@login_required
@permission_required("accounts.predict", raise_exception=True)
@require_POST
def job_create(request):
    form = BatchJobForm(request.POST, request.FILES, user=request.user)
    if form.is_valid():
        try:
            job, _ = batch_job_submit(
                user=request.user,
                model_name=form.cleaned_data["model"],
                upload=form.cleaned_data["file"],
            )
        except BadUpload as exc:
            form.add_error("file", str(exc))
        except (ModelNotFound, NoProductionVersion):
            form.add_error("model", "This model has no production version to run the job.")
        except QuotaExceeded as exc:
            form.add_error(None, str(exc))
        except QueueUnavailable:
            form.add_error(None, "The job queue is unavailable; try again shortly.")
        else:
            return redirect("predictions:job_detail", pk=job.pk)
    return _jobs_page(request, form)


def _visible_job(request, pk):
    # Someone else's job is a 404, exactly like one that does not exist.
    return get_object_or_404(
        BatchJob.objects.for_user(request.user).select_related("model", "version", "owner"), pk=pk
    )


@login_required
@require_GET
def job_detail(request, pk):
    job = _visible_job(request, pk)
    return render_page(request, "predictions/jobs_detail.html", {"job": job}, partial="job-status")


@login_required
@require_GET
def job_result(request, pk):
    job = _visible_job(request, pk)
    if job.status != BatchJobStatus.SUCCEEDED:
        raise Http404("The job has no result yet")
    return result_response(job)
