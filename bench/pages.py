"""The page benchmarks: history over 1,000,000 logged rows, monitoring over 10,000,000."""

import json

import harness  # isort: skip

HISTORY_ROWS = 1_000_000
MONITORING_ROWS = 10_000_000
MONITORING_DAYS = 7
DRIFT_ROWS = 1_000_000
CONNECTIONS = 4


def session_cookie(env, username):
    """A signed-in session for `username`, made the way Django makes them."""
    session = harness.manage(
        "shell",
        "-c",
        "from django.contrib.sessions.backends.cached_db import SessionStore;"
        "from django.contrib.auth import get_user_model, SESSION_KEY, BACKEND_SESSION_KEY,"
        " HASH_SESSION_KEY;"
        f"u = get_user_model().objects.get(username='{username}');"
        "s = SessionStore(); s[SESSION_KEY] = str(u.pk);"
        "s[BACKEND_SESSION_KEY] = 'accounts.backends.CachedPermissionsBackend';"
        "s[HASH_SESSION_KEY] = u.get_session_auth_hash(); s.create(); print(s.session_key)",
        env=env,
    ).split()[-1]  # the key is the last line; anything logged before it is not
    return f"sessionid={session}"


def _load(base, pages, seconds):
    results = []
    for label, (path, cookie, token) in pages.items():
        harness.wrk(base + path, connections=CONNECTIONS, seconds=2, cookie=cookie, token=token)
        load = harness.wrk(
            base + path, connections=CONNECTIONS, seconds=seconds, cookie=cookie, token=token
        )
        print(f"  {label}: {load}")
        results.append({"page": label, "load": load})
    return results


def _logged_rows():
    # The planner's estimate: exact enough for a report, and no COUNT(*) over millions of rows.
    return harness.query(
        "SELECT reltuples::bigint FROM pg_class WHERE relname = 'predictions_prediction'"
    )[0][0]


def history_runs(env, *, base, user, model, token, seconds):
    harness.manage("seed_predictions", user, model, f"--rows={HISTORY_ROWS}", env=env)
    cookie = session_cookie(env, user)
    pages = {
        "history page": ("/history/", cookie, None),
        "history page, filtered (model, status)": (
            "/history/?model=bench-lr&status=ok",
            cookie,
            None,
        ),
        "API /predictions": ("/api/v1/predictions?limit=50", None, token),
    }
    results = _load(base, pages, seconds)
    return {"rows": _logged_rows(), "pages": results}


def monitoring_runs(env, *, base, user, model, seconds):
    """Monitoring pages with 10M rows logged (7 days of them), and a 1M-row drift check."""
    print(f"seeding up to {MONITORING_ROWS:,} logged rows over {MONITORING_DAYS} days")
    harness.manage(
        "seed_predictions",
        user,
        model,
        f"--rows={MONITORING_ROWS}",
        f"--days={MONITORING_DAYS}",
        env=env,
    )
    cookie = session_cookie(env, user)
    pages = {
        f"monitoring, last {span}": (f"/monitoring/?range={span}", cookie, None)
        for span in ("hour", "day", "week")
    }
    pages["model drift page"] = (f"/monitoring/models/{model}/drift/", cookie, None)
    pages["system page"] = ("/monitoring/system/", cookie, None)
    results = _load(base, pages, seconds)
    print(f"drift check over {DRIFT_ROWS:,} rows of a 30-feature model")
    drift = json.loads(
        harness.manage(
            "shell",
            "-c",
            "import json; from monitoring.drift.benchmark import run;"
            f"print(json.dumps(run(rows={DRIFT_ROWS})))",
            env=env,
        ).splitlines()[-1]
    )
    print(f"  drift: {drift}")
    return {"rows": _logged_rows(), "pages": results, "drift": drift}
