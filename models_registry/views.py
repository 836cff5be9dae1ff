"""Registry pages: models list and detail (compare, promote, roll back, access), training."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from guardian.shortcuts import assign_perm, get_groups_with_perms, get_users_with_perms, remove_perm

from accounts.models import AuditAction, AuditEvent, User
from accounts.quotas import QuotaExceeded
from models_registry import services
from models_registry.charts import compare_bars
from models_registry.forms import AccessForm, ModelSettingsForm, TrainForm
from models_registry.models import Experiment, MLModel, ModelVersion, TrainingJob
from portal.forms import add_service_errors
from portal.http import client_ip, render_page
from predictions import services as predict_services

USE_PERMISSION = "models_registry.use_mlmodel"
MANAGE = "accounts.manage_models"


def _visible_model(request, name):
    # A model the user may not see is a 404, exactly like one that does not exist.
    return get_object_or_404(MLModel.objects.visible_to(request.user), name=name)


@login_required
@require_GET
def model_list(request):
    models = MLModel.objects.visible_to(request.user).prefetch_related("versions")
    running = {
        e.model_id: e
        for e in Experiment.objects.running()
        .filter(model__in=models)
        .prefetch_related("arms__version")
    }
    rows = []
    for model in models:
        versions = sorted(model.versions.all(), key=lambda v: -v.version)
        production = next((v for v in versions if v.stage == "production"), None)
        rows.append(
            {
                "model": model,
                "production": production,
                "latest": versions[0] if versions else None,
                "count": len(versions),
                "experiment": running.get(model.pk),
                "split": _split(running.get(model.pk)),
            }
        )
    return render_page(request, "models_registry/model_list.html", {"rows": rows})


def _split(experiment):
    """[(arm, percent)] of a running experiment's serving arms, for the traffic column."""
    if experiment is None:
        return []
    arms = sorted(experiment.serving_arms(), key=lambda arm: (not arm.is_control, arm.pk))
    total = sum(arm.weight for arm in arms) or 1
    return [(arm, round(100 * arm.weight / total, 1)) for arm in arms]


@login_required
@require_GET
def model_detail(request, name):
    model = _visible_model(request, name)
    versions = list(model.versions.select_related("created_by").order_by("-version"))
    by_number = {v.version: v for v in versions}
    production = next((v for v in versions if v.stage == "production"), None)
    latest = versions[0] if versions else None
    a = by_number.get(_int(request.GET.get("a"))) or production or latest
    b = by_number.get(_int(request.GET.get("b"))) or next((v for v in versions if v != a), None)
    context = {
        "model": model,
        "versions": versions,
        "production": production,
        "compare_a": a,
        "compare_b": b,
        "chart": compare_bars(a, b) if a and b else None,
        "schema_version": production or latest,
        "can_manage": request.user.has_perm(MANAGE),
        "can_predict": request.user.has_perm("accounts.predict") and production is not None,
        "running_experiment": model.experiments.running().first(),
    }
    if context["can_manage"]:
        context["settings_form"] = ModelSettingsForm(
            initial={
                "description": model.description,
                "restricted": model.restricted,
                "gates": ModelSettingsForm.gates_text(model.gates),
                "max_regression": model.max_regression,
                "enforce_input_ranges": model.enforce_input_ranges,
            }
        )
    if context["can_manage"] and model.restricted:
        context["granted_users"] = get_users_with_perms(
            model, only_with_perms_in=["use_mlmodel"], with_group_users=False
        )
        context["granted_groups"] = get_groups_with_perms(model)
        context["access_form"] = AccessForm()
    return render_page(request, "models_registry/model_detail.html", context, partial="compare")


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@login_required
@permission_required("accounts.predict", raise_exception=True)
@require_POST
def model_predict(request, name):
    """The portal's one-row predict form: same service, quota and log as the API."""
    model = _visible_model(request, name)
    version = model.production_version
    row, result, errors = {}, None, []
    for feature in version.input_schema if version else []:
        raw = request.POST.get(feature["name"], "").strip()
        if raw == "":
            continue
        if feature["type"] == "category":
            row[feature["name"]] = raw
        else:
            try:
                row[feature["name"]] = float(raw)
            except ValueError:
                row[feature["name"]] = raw  # validation reports it as not a number
    try:
        result, _ = predict_services.prediction_run(
            user=request.user,
            model_name=model.name,
            rows=[row],
            request_id=request.request_id,
            client_request_id=request.client_request_id,
        )
    except predict_services.InvalidInputs as exc:
        errors = [f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors]
    except predict_services.NoProductionVersion:
        errors = ["This model has no production version."]
    except QuotaExceeded as exc:
        errors = [str(exc)]
    except predict_services.PredictionFailed:
        errors = ["The model failed on these inputs; the failure is logged in history."]
    return render_page(
        request,
        "models_registry/model_detail.html",
        {"model": model, "result": result, "predict_errors": errors},
        partial="predict-result",
    )


@login_required
@permission_required(MANAGE, raise_exception=True)
@require_POST
def version_promote(request, name, version):
    model = _visible_model(request, name)
    target = get_object_or_404(ModelVersion, model=model, version=version)
    try:
        services.version_promote(version=target, actor=request.user, ip=client_ip(request))
    except services.RegistryError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{target} is now in production.")
    return redirect("registry:model_detail", name=model.name)


@login_required
@permission_required(MANAGE, raise_exception=True)
@require_POST
def model_rollback(request, name):
    model = _visible_model(request, name)
    try:
        target = services.version_rollback(model=model, actor=request.user, ip=client_ip(request))
    except services.RegistryError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Rolled back {model.name} to v{target.version}.")
    return redirect("registry:model_detail", name=model.name)


@login_required
@permission_required(MANAGE, raise_exception=True)
@require_POST
def model_access(request, name):
    model = _visible_model(request, name)
    form = AccessForm(request.POST)
    if form.is_valid():
        who = form.cleaned_data["who"]
        grantee = (
            User.objects.filter(username=who).first() or Group.objects.filter(name=who).first()
        )
        if grantee is None:
            messages.error(request, f"No user or group named {who!r}.")
        else:
            change = assign_perm if form.cleaned_data["grant"] else remove_perm
            change(USE_PERMISSION, grantee, model)
            AuditEvent.objects.record(
                AuditAction.MODEL_ACCESS_GRANTED,
                actor=request.user,
                target=model,
                details={"who": who, "granted": form.cleaned_data["grant"]},
                ip=client_ip(request),
            )
            verb = "can now use" if form.cleaned_data["grant"] else "can no longer use"
            messages.success(request, f"{who} {verb} {model.name}.")
    return redirect("registry:model_detail", name=model.name)


@login_required
@permission_required(MANAGE, raise_exception=True)
@require_POST
def model_settings(request, name):
    model = _visible_model(request, name)
    form = ModelSettingsForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("registry:model_detail", name=model.name)
    changes = {}
    for field, value in form.cleaned_data.items():
        if getattr(model, field) != value:
            changes[field] = {"from": getattr(model, field), "to": value}
            setattr(model, field, value)
    if changes:
        model.save(update_fields=list(changes))
        AuditEvent.objects.record(
            AuditAction.MODEL_SETTINGS_CHANGED,
            actor=request.user,
            target=model,
            details=changes,
            ip=client_ip(request),
        )
        messages.success(request, f"Saved {', '.join(changes)} of {model.name}.")
    return redirect("registry:model_detail", name=model.name)


@login_required
@permission_required(MANAGE, raise_exception=True)
@require_http_methods(["GET", "POST"])
def train(request):
    form = TrainForm(
        request.POST or None,
        request.FILES or None,
        initial={"model_name": request.GET.get("model", "")},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = services.training_start(
                model_name=data["model_name"],
                dataset=data["dataset"],
                estimator=data["estimator"],
                params=data["params"],
                target_column=data["target_column"],
                csv_file=data["csv_file"],
                promote=data["promote"],
                actor=request.user,
                ip=client_ip(request),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return redirect("registry:job_detail", pk=job.pk)
    return render_page(request, "models_registry/train.html", {"form": form})


@login_required
@permission_required(MANAGE, raise_exception=True)
@require_GET
def job_detail(request, pk):
    job = get_object_or_404(TrainingJob, pk=pk)
    version = ModelVersion.objects.filter(training_job=job).select_related("model").first()
    return render_page(
        request, "models_registry/job.html", {"job": job, "version": version}, partial="job-status"
    )
