"""Production configuration checks: every problem reported at once, by variable name."""

import sys
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

WEAK_SECRET_PREFIXES = ("django-insecure-", "change-me", "changeme")
MIN_SECRET_LENGTH = 50
MIN_SECRET_UNIQUE_CHARS = 5
DATABASE_SCHEMES = {"postgres", "postgresql", "pgsql", "psql", "postgis"}
BROKER_SCHEMES = {"redis", "rediss", "amqp", "amqps", "pyamqp"}
CACHE_SCHEMES = {"redis", "rediss"}
REDIS_SCHEMES = {"redis", "rediss"}
REDIS_DEFAULT_PORT = 6379
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


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


def redis_database(url):
    """(host, port, db) of a redis:// or rediss:// URL, None for anything else or malformed."""
    try:
        parts = urlsplit(url or "")
        if parts.scheme not in REDIS_SCHEMES:
            return None
        db = dict(parse_qsl(parts.query)).get("db") or parts.path.strip("/") or "0"
        host = parts.hostname or "localhost"
        host = "localhost" if host in LOOPBACK_HOSTS else host
        return host, parts.port or REDIS_DEFAULT_PORT, int(db)
    except ValueError:
        return None


def redis_sibling_url(url):
    """The same Redis with the other database of its pair (0 and 1, 2 and 3, ... 14 and 15).

    The cache's default beside the broker: the cache is cleared with FLUSHDB, which must never
    reach the prediction log records buffered in the broker's database. '' for other URLs.
    """
    location = redis_database(url)
    if location is None:
        return ""
    parts = urlsplit(url)
    query = urlencode([(key, value) for key, value in parse_qsl(parts.query) if key != "db"])
    return urlunsplit(parts._replace(path=f"/{location[2] ^ 1}", query=query))


def shared_cache_problem(cache_url, buffer_url):
    """A problem when the cache's Redis database is the prediction log buffer's, else None."""
    buffer = redis_database(buffer_url)
    if buffer is None or redis_database(cache_url) != buffer:
        return None
    return (
        "CACHE_URL and PREDICTION_LOG_BUFFER_URL (both default from CELERY_BROKER_URL) name the "
        f"same Redis database, {buffer[2]}: clearing the cache (FLUSHDB) would delete buffered "
        "prediction log records. Give the cache another database number"
    )


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
    shared = shared_cache_problem(raw.get("cache_url"), raw.get("PREDICTION_LOG_BUFFER_URL"))
    if shared:
        problems.append(shared)
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
