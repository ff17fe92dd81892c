"""Settings from the environment; the names are a contract (see CONTRACTS.md)."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_SMS_SIGNATURE = "【退役军人志愿服务】"
#: TIMEZONE unless set (Hubei's): web pages, texts, feeds and hours show times in it
DEFAULT_TIMEZONE = "Asia/Shanghai"


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _non_negative_int(name: str, value: str | None) -> int:
    try:
        number = int((value or "0").strip() or "0")
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if number < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return number


def _sqlalchemy_url(url: str) -> str:
    # Operators paste Heroku-style URLs; we speak psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def from_environment(instance_path: str, environ: os._Environ | dict | None = None) -> dict:
    """Build the Flask config mapping for this process."""
    env = os.environ if environ is None else environ
    instance = Path(instance_path)

    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'volunteer_hub.sqlite3'}"
    redis_url = env.get("REDIS_URL") or None

    secret_key = env.get("SECRET_KEY")
    generated_secret = not secret_key
    if generated_secret:
        secret_key = _dev_secret_key(instance)

    public_base_url = (env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None

    return {
        "SQLALCHEMY_DATABASE_URI": _sqlalchemy_url(database_url),
        "REDIS_URL": redis_url,
        "SECRET_KEY": secret_key,
        "SECRET_KEY_GENERATED": generated_secret,
        "PUBLIC_BASE_URL": public_base_url,
        #: reverse proxies in front of us that set X-Forwarded-For/-Proto (werkzeug
        #: ProxyFix); 0 trusts no such header
        "TRUSTED_PROXY_HOPS": _non_negative_int(
            "TRUSTED_PROXY_HOPS", env.get("TRUSTED_PROXY_HOPS")
        ),
        **_sms_settings(env),
        "TIMEZONE": env.get("TIMEZONE") or DEFAULT_TIMEZONE,
        "DRAMATIQ_NAMESPACE": env.get("DRAMATIQ_NAMESPACE") or "volunteer_hub",
        #: embedded mode only: consume the in-process queue in a thread of the web process
        "EMBEDDED_WORKER": _bool(env.get("EMBEDDED_WORKER"), default=True),
        #: the development pages (/dev/sms: console texts and an inbound simulator); also
        #: on whenever Flask runs in debug mode. Never in production.
        "DEV_PAGES": _bool(env.get("DEV_PAGES")),
        #: 签到 is accepted from this many minutes before a shift until its end
        "CHECK_IN_EARLY_MINUTES": int(env.get("CHECK_IN_EARLY_MINUTES") or 30),
        #: 签退 is accepted until this many minutes after a shift's end
        "CHECK_OUT_LATE_MINUTES": int(env.get("CHECK_OUT_LATE_MINUTES") or 120),
        #: a call-out leaves out people whose last shift ended less than this many hours ago
        "CALLOUT_REST_HOURS": float(env.get("CALLOUT_REST_HOURS") or 8),
        #: service time is rounded to this many minutes (half an hour)
        "HOURS_ROUNDING_MINUTES": int(env.get("HOURS_ROUNDING_MINUTES") or 30),
        **_cookie_settings(env, public_base_url),
        "WTF_CSRF_TIME_LIMIT": None,  # tied to the session instead: long forms on a slow phone
        **_rate_limit_settings(env, redis_url),
        "BABEL_DEFAULT_LOCALE": "zh",
        "BABEL_DEFAULT_TIMEZONE": env.get("TIMEZONE") or DEFAULT_TIMEZONE,
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(database_url),
        #: feed bodies each web process keeps by ETag (calendar.body_cache); 0: none
        "FEED_BODY_CACHE_BYTES": int(float(env.get("FEED_BODY_CACHE_MB") or 64) * 2**20),
    }


def _sms_settings(env) -> dict:
    """The SMS gateway and how fast and when texts go out."""
    twilio_sid = env.get("TWILIO_ACCOUNT_SID") or None
    twilio_token = env.get("TWILIO_AUTH_TOKEN") or None
    return {
        "SMS_BACKEND": env.get("SMS_BACKEND")
        or ("twilio" if twilio_sid and twilio_token else "console"),
        "TWILIO_ACCOUNT_SID": twilio_sid,
        "TWILIO_AUTH_TOKEN": twilio_token,
        "TWILIO_FROM_NUMBER": env.get("TWILIO_FROM_NUMBER") or None,
        "TWILIO_MESSAGING_SERVICE_SID": env.get("TWILIO_MESSAGING_SERVICE_SID") or None,
        "TWILIO_API_BASE_URL": env.get("TWILIO_API_BASE_URL") or None,
        "SMS_SIGNATURE": env.get("SMS_SIGNATURE") or DEFAULT_SMS_SIGNATURE,
        #: texts handed to the provider per second, across every worker process
        "SMS_RATE_PER_SECOND": int(env.get("SMS_RATE_PER_SECOND") or 10),
        #: texts of one broadcast or call-out handed to a mainland provider per call; 0: one each
        "SMS_BATCH_SIZE": int(env.get("SMS_BATCH_SIZE") or 100),
        #: seconds a provider call may take before it counts as a transient failure
        "SMS_SEND_TIMEOUT": float(env.get("SMS_SEND_TIMEOUT") or 10),
        #: local time span in which non-urgent broadcasts are held (urgent ones are not)
        "SMS_QUIET_HOURS": env.get("SMS_QUIET_HOURS") or "21:00-08:00",
        #: non-urgent broadcast texts one person gets per local day at most
        "BROADCAST_DAILY_CAP": int(env.get("BROADCAST_DAILY_CAP") or 2),
        **_domestic_sms_settings(env),
        **_sms_limit_settings(env),
    }


#: the mainland providers' settings and the routing, read as given (None when unset):
#: the backends' factories say what is missing, at startup, for the backend in use
_DOMESTIC_SMS_KEYS = (
    "SMS_ROUTES",  # e.g. "+86=aliyun,*=twilio"; unset: every number to SMS_BACKEND
    "SMS_TEMPLATES",  # the TOML file mapping template keys to provider template codes
    "SMS_SIGN_NAME",  # unset: SMS_SIGNATURE without 【】
    "SMS_INBOUND_SECRET",  # unset: the domestic push endpoints answer 404
    "ALIYUN_ACCESS_KEY_ID",
    "ALIYUN_ACCESS_KEY_SECRET",
    "ALIYUN_SMS_ENDPOINT",  # tests and benchmarks only: a local fake
    "TENCENTCLOUD_SECRET_ID",
    "TENCENTCLOUD_SECRET_KEY",
    "TENCENT_SMS_APP_ID",
    "TENCENT_SMS_ENDPOINT",  # tests and benchmarks only: a local fake
    "TENCENT_SMS_REGION",
)


def _domestic_sms_settings(env) -> dict:
    return {key: env.get(key) or None for key in _DOMESTIC_SMS_KEYS}


def _sms_limit_settings(env) -> dict:
    """How much reaches one number, how fast each backend sends, who may push to us."""
    return {
        #: texts one number gets per rolling hour / per local day at most, before the
        #: provider's own per-number flow control refuses them; 0: no cap. Urgent texts
        #: and login codes are never held (see sms/limits.py)
        "SMS_RECIPIENT_HOURLY_CAP": _non_negative_int(
            "SMS_RECIPIENT_HOURLY_CAP", env.get("SMS_RECIPIENT_HOURLY_CAP")
        ),
        "SMS_RECIPIENT_DAILY_CAP": _non_negative_int(
            "SMS_RECIPIENT_DAILY_CAP", env.get("SMS_RECIPIENT_DAILY_CAP")
        ),
        #: per-backend send rates, e.g. "aliyun=50,tencent=20"; a backend not named
        #: sends at SMS_RATE_PER_SECOND
        "SMS_BACKEND_RATES": _backend_rates(env.get("SMS_BACKEND_RATES")),
        #: client addresses (CIDRs) the domestic push endpoints accept; empty: any
        "SMS_PUSH_ALLOWED_IPS": parse_networks(
            "SMS_PUSH_ALLOWED_IPS", env.get("SMS_PUSH_ALLOWED_IPS")
        ),
    }


def _backend_rates(value: str | None) -> dict[str, int]:
    rates: dict[str, int] = {}
    for entry in filter(None, (part.strip() for part in (value or "").split(","))):
        name, equals, rate = (piece.strip() for piece in entry.partition("="))
        if not equals or not name or not rate.isdigit() or int(rate) < 1:
            raise ValueError(f"SMS_BACKEND_RATES: {entry!r} is not like aliyun=50")
        rates[name.lower()] = int(rate)
    return rates


def parse_networks(name: str, value: str | None) -> tuple:
    """Comma-separated addresses or CIDRs as ip_network objects; ValueError names ``name``."""
    import ipaddress

    try:
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False)
            for part in (value or "").split(",")
            if part.strip()
        )
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def _cookie_settings(env, public_base_url: str | None) -> dict:
    """Cookies: HttpOnly always, SameSite=Lax, Secure whenever we are served over https."""
    secure = _bool(
        env.get("SESSION_COOKIE_SECURE"),
        default=bool(public_base_url and public_base_url.startswith("https://")),
    )
    return {
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_DURATION": 30 * 24 * 3600,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure,
        # A remembered login's session lasts as long as its remember-me cookie (web.log_in).
        "PERMANENT_SESSION_LIFETIME": 30 * 24 * 3600,
    }


def _rate_limit_settings(env, redis_url: str | None) -> dict:
    """Flask-Limiter, and the limits on logins and on asking for login codes."""
    return {
        #: volunteers' SMS login codes: requests per phone and per client address
        "LOGIN_CODE_RATE_LIMIT": env.get("LOGIN_CODE_RATE_LIMIT") or "3 per 10 minutes;10 per day",
        "LOGIN_CODE_IP_RATE_LIMIT": env.get("LOGIN_CODE_IP_RATE_LIMIT") or "20 per hour",
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        # While Redis is unreachable each process counts in its own memory (Flask-Limiter
        # logs the switch once, and goes back to Redis when it answers again): logins keep
        # working and stay limited. Anything else the limiter cannot do is logged, not a 500.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        # A Redis that stops answering (rather than refusing) must not hold requests.
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), default=True),
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT") or "10 per minute;50 per hour",
    }


def _engine_options(database_url: str) -> dict:
    # Bound parameters carry phone numbers: keep them out of error messages and logs.
    if database_url.startswith("sqlite"):
        # Writers queue for the file lock rather than failing at once.
        return {"hide_parameters": True, "connect_args": {"timeout": 30}}
    return {"hide_parameters": True, "pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}


def _dev_secret_key(instance: Path) -> str:
    """A per-checkout key kept in the instance folder, so dev sessions survive restarts."""
    key_file = instance / "dev-secret-key"
    try:
        instance.mkdir(parents=True, exist_ok=True)
        if key_file.exists():
            return key_file.read_text().strip()
        key = secrets.token_hex(32)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key
    except OSError:
        return secrets.token_hex(32)
