"""Production configuration checks: every problem reported at once, by variable name."""

import sys
from urllib.parse import urlsplit

WEAK_SECRET_PREFIXES = ("django-insecure-", "change-me", "changeme")
MIN_SECRET_LENGTH = 50
MIN_SECRET_UNIQUE_CHARS = 5
DATABASE_SCHEMES = {"postgres", "postgresql", "pgsql", "psql", "postgis"}
BROKER_SCHEMES = {"redis", "rediss", "amqp", "amqps", "pyamqp"}
CACHE_SCHEMES = {"redis", "rediss"}


class ConfigurationProblems(Exception):
    """Raised with the list of problems; `exit_with_problems` prints them."""

    def __init__(self, problems):
        super().__init__("; ".join(problems))
        self.problems = problems


def _url_problem(name, value, schemes, *, needs_host=True):
    if not value:
        return f"{name} is required when DEBUG is false"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        return f"{name} is not a valid URL ({exc})"
    if parts.scheme not in schemes:
        allowed = ", ".join(sorted(schemes))
        return f"{name} must use one of the schemes {allowed} (got {parts.scheme or 'none'!r})"
    if needs_host and not parts.hostname:
        return f"{name} has no host"
    return None


def secret_key_problem(secret_key):
    if not secret_key:
        return "SECRET_KEY is required when DEBUG is false"
    if (
        len(secret_key) < MIN_SECRET_LENGTH
        or len(set(secret_key)) < MIN_SECRET_UNIQUE_CHARS
        or secret_key.lower().startswith(WEAK_SECRET_PREFIXES)
    ):
        return (
            f"SECRET_KEY is weak: use at least {MIN_SECRET_LENGTH} random characters "
            "(python -c 'import secrets; print(secrets.token_urlsafe(64))')"
        )
    return None


def production_problems(raw):
    """Check the raw environment values a production process needs; return every problem."""
    problems = list(raw.get("parse_errors", []))
    secret = secret_key_problem(raw.get("SECRET_KEY", ""))
    if secret:
        problems.append(secret)
    if not raw.get("ALLOWED_HOSTS"):
        problems.append("ALLOWED_HOSTS is empty: list the host names this portal serves")
    elif "*" in raw["ALLOWED_HOSTS"]:
        problems.append("ALLOWED_HOSTS must not contain '*' in production")
    for name, schemes in (
        ("DATABASE_URL", DATABASE_SCHEMES),
        ("CELERY_BROKER_URL", BROKER_SCHEMES),
    ):
        problem = _url_problem(name, raw.get(name, ""), schemes)
        if problem:
            problems.append(problem)
    if raw.get("CACHE_URL"):
        problem = _url_problem("CACHE_URL", raw["CACHE_URL"], CACHE_SCHEMES)
        if problem:
            problems.append(problem)
    for origin in raw.get("CSRF_TRUSTED_ORIGINS", []):
        if not origin.startswith(("https://", "http://")):
            problems.append(f"CSRF_TRUSTED_ORIGINS entry {origin!r} needs a scheme (https://...)")
    return problems


def exit_with_problems(problems):
    """Print every configuration problem and stop the process (non-zero exit)."""
    lines = ["MLOps Portal refuses to start: the configuration has problems.", ""]
    lines += [f"  - {problem}" for problem in problems]
    lines += ["", "Set these environment variables (see .env.example) and start again."]
    print("\n".join(lines), file=sys.stderr)
    raise SystemExit(78)  # EX_CONFIG
