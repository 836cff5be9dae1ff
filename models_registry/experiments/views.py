"""Experiment pages: lists and results for every role that may see the model; actions for admins."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from models_registry.charts import distribution_bars
from models_registry.experiments import services, stats
from models_registry.experiments.forms import ArmFormSet, ConcludeForm, ExperimentForm, PinForm
from models_registry.experiments.models import Experiment
from models_registry.models import MLModel
from portal.forms import add_service_errors
from portal.http import client_ip, render_page

MANAGE = "accounts.manage_models"
LIST_LIMIT = 200


def _visible_model(request, name):
    return get_object_or_404(MLModel.objects.visible_to(request.user), name=name)


def _experiment(request, name, pk):
    model = _visible_model(request, name)
    queryset = Experiment.objects.select_related("model", "plan", "started_by", "stopped_by")
    return get_object_or_404(queryset.prefetch_related("arms__version"), model=model, pk=pk)


@login_required
@require_GET
def experiment_list(request, name=None):
    model = _visible_model(request, name) if name else None
    experiments = Experiment.objects.visible_to(request.user).select_related("model")
    if model is not None:
        experiments = experiments.filter(model=model)
    experiments = experiments.prefetch_related("arms__version")[:LIST_LIMIT]
    context = {
        "model": model,
        "experiments": experiments,
        "can_manage": request.user.has_perm(MANAGE),
    }
    return render_page(request, "models_registry/experiments/list.html", context)


@login_required
@permission_required(MANAGE, raise_exception=True)
@require_http_methods(["GET", "POST"])
def experiment_create(request, name):
    model = _visible_model(request, name)
    versions = model.versions.order_by("-version")
    production = model.production_version
    form = ExperimentForm(request.POST or None, versions=versions)
    initial = [{"name": "control", "version": production}, {"name": "candidate"}]
    arms = ArmFormSet(
        request.POST or None, form_kwargs={"versions": versions}, initial=initial, prefix="arms"
    )
    if request.method == "POST" and form.is_valid() and arms.is_valid():
        data = form.cleaned_data
        chosen = [row for row in arms.cleaned_data if row.get("name")]
        shadow = (
            {"name": data["shadow_name"], "version": data["shadow_version"]}
            if data["shadow_version"]
            else None
        )
        try:
            experiment = services.experiment_create(
                model=model,
                name=data["name"],
                kind=data["kind"],
                description=data["description"],
                arms=[{**row, "weight": row.get("weight") or 0} for row in chosen],
                shadow=shadow,
                plan=form.plan(),
                actor=request.user,
                ip=client_ip(request),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Created {experiment.name}: review it and start it.")
            return redirect("registry:experiment_detail", name=model.name, pk=experiment.pk)
    context = {"model": model, "form": form, "arms": arms}
    return render_page(request, "models_registry/experiments/create.html", context)


@login_required
@require_GET
def experiment_detail(request, name, pk):
    experiment = _experiment(request, name, pk)
    results = stats.experiment_results(experiment)
    context = {
        "model": experiment.model,
        "experiment": experiment,
        "plan": getattr(experiment, "plan", None),
        "results": results,
        "chart": distribution_bars(results),
        "can_manage": request.user.has_perm(MANAGE),
        "serving_arms": experiment.serving_arms(),
    }
    return render_page(
        request, "models_registry/experiments/detail.html", context, partial="results"
    )


def _action(request, name, pk, run, done):
    """Run a service on the experiment; report its refusal or `done` as a message."""
    experiment = _experiment(request, name, pk)
    try:
        run(experiment)
    except services.ExperimentError as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, done)
    return redirect("registry:experiment_detail", name=experiment.model.name, pk=experiment.pk)


def _manage(view):
    return login_required(permission_required(MANAGE, raise_exception=True)(require_POST(view)))


@_manage
def experiment_start(request, name, pk):
    ip = client_ip(request)
    return _action(
        request,
        name,
        pk,
        lambda e: services.experiment_start(experiment=e, actor=request.user, ip=ip),
        "Started: predict calls are now routed between the arms.",
    )


@_manage
def experiment_stop(request, name, pk):
    reason = request.POST.get("reason", "").strip()[:500]
    ip = client_ip(request)
    return _action(
        request,
        name,
        pk,
        lambda e: services.experiment_stop(experiment=e, actor=request.user, reason=reason, ip=ip),
        "Stopped: production answers every call again.",
    )


@_manage
def experiment_conclude(request, name, pk):
    form = ConcludeForm(request.POST)
    form.is_valid()
    data = form.cleaned_data
    ip = client_ip(request)
    return _action(
        request,
        name,
        pk,
        lambda e: services.experiment_conclude(
            experiment=e,
            winner=data.get("winner", ""),
            promote=data.get("promote", False),
            actor=request.user,
            ip=ip,
        ),
        "Concluded.",
    )


@_manage
def experiment_weights(request, name, pk):
    def run(experiment):
        weights = {}
        for arm in experiment.serving_arms():
            raw = request.POST.get(f"weight-{arm.name}", "").strip()
            if raw:
                try:
                    weights[arm.name] = int(raw)
                except ValueError:
                    raise ValidationError(f"Weight of {arm.name} is not a whole number.") from None
        services.arm_weights_set(
            experiment=experiment, weights=weights, actor=request.user, ip=client_ip(request)
        )

    return _action(request, name, pk, run, "Weights saved; users already assigned keep their arm.")


@_manage
def experiment_pin(request, name, pk):
    form = PinForm(request.POST)

    def run(experiment):
        if not form.is_valid():
            raise ValidationError("Give a username.")
        who = User.objects.filter(username=form.cleaned_data["username"]).first()
        if who is None:
            raise ValidationError(f"No user named {form.cleaned_data['username']!r}.")
        services.user_pin(
            experiment=experiment,
            user=who,
            arm_name=form.cleaned_data["arm"],
            actor=request.user,
            ip=client_ip(request),
        )

    arm = request.POST.get("arm") or "no arm (unpinned)"
    return _action(request, name, pk, run, f"{request.POST.get('username')} pinned to {arm}.")
