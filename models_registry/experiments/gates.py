"""The canary gate: compare the canary arm with control over the current step's window."""

from models_registry.experiments import stats

ADVANCE = "advance"
ROLL_BACK = "roll back"
WAIT = "wait"


def canary_check(*, experiment, plan, canary, control, now):
    """{"decision": advance | roll back | wait, "reason", and the numbers it was made on}."""
    since = plan.step_started_at
    a = stats.arm_summary(model_id=experiment.model_id, arm=canary.name, since=since, until=now)
    b = stats.arm_summary(model_id=experiment.model_id, arm=control.name, since=since, until=now)
    numbers = {
        "canary": {k: a[k] for k in ("requests", "error_rate", "p95_ms")},
        "control": {k: b[k] for k in ("requests", "error_rate", "p95_ms")},
    }
    if a["requests"] < plan.min_requests or b["requests"] < plan.min_requests:
        reason = (
            f"waiting for data: {a['requests']} canary and {b['requests']} control requests, "
            f"{plan.min_requests} each needed"
        )
        return {"decision": WAIT, "reason": reason, **numbers}
    delta = a["error_rate"] - b["error_rate"]
    if delta > plan.max_error_rate_delta:
        reason = (
            f"error rate {a['error_rate']:.1%} vs control {b['error_rate']:.1%} "
            f"(at most +{plan.max_error_rate_delta * 100:.1f} points allowed)"
        )
        return {"decision": ROLL_BACK, "reason": reason, **numbers}
    ratio = a["p95_ms"] / max(b["p95_ms"], stats.MIN_LATENCY_MS)
    numbers["latency_ratio"] = round(ratio, 3)
    if ratio > plan.max_latency_ratio:
        reason = (
            f"p95 latency {a['p95_ms']:.1f} ms vs control {b['p95_ms']:.1f} ms "
            f"({ratio:.2f}x, at most {plan.max_latency_ratio:.2f}x allowed)"
        )
        return {"decision": ROLL_BACK, "reason": reason, **numbers}
    held = (now - since).total_seconds()
    if held < plan.min_step_seconds:
        reason = f"gate passes; the step has run {held:.0f} of {plan.min_step_seconds} s"
        return {"decision": WAIT, "reason": reason, **numbers}
    return {"decision": ADVANCE, "reason": "gate passed", **numbers}
