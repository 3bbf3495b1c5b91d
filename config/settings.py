"""Settings for the 12345 hotline system.

The embedded default needs no services: SQLite in WAL mode and the in-memory channel layer.
Setting DATABASE_URL (PostgreSQL) and REDIS_URL switches to the production backends.
"""

import importlib.util
import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.security import content_security_policy, socket_origins
from core.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("HOTLINE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)
(VAR_DIR / "static").mkdir(exist_ok=True)


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _demo_secret_key() -> str:
    # A per-installation random key kept beside the embedded database, so the demo is never
    # run with a key that is published in the repository.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


# Production (README "Production settings"): HOTLINE_PRODUCTION=1 behind a TLS-terminating proxy needs a real
# DJANGO_SECRET_KEY, refuses DEBUG and switches on HTTPS-only cookies, the HTTPS redirect and HSTS (end of file).
PRODUCTION = _env_bool("HOTLINE_PRODUCTION", False)
if PRODUCTION and not os.environ.get("DJANGO_SECRET_KEY"):
    raise ImproperlyConfigured("HOTLINE_PRODUCTION=1 needs DJANGO_SECRET_KEY (a long random string, kept secret).")
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _demo_secret_key()
# Rotating the key (docs/OPERATIONS.md): the old keys stay here until the sessions signed with them expired.
SECRET_KEY_FALLBACKS = _env_list("DJANGO_SECRET_KEY_FALLBACKS", "")
DEBUG = _env_bool("DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("HOTLINE_PRODUCTION=1 and DEBUG=1 exclude each other: unset DEBUG.")
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    # API tokens: hashed at rest, with an expiry, one per device (organisation/identity/tokens.py).
    "knox",
    # Login throttling and lockout per account and per address (organisation/identity/lockout.py).
    "axes",
    # The second factor (TOTP) for the roles that need it (organisation/identity/second_factor.py).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # The Content-Security-Policy header (BSD-3-Clause); its policy is at the end of this file.
    "csp",
    # The project's apps in layer order, lowest first (docs/ARCHITECTURE.md).
    "core",
    "organisation",
    "realtime",
    "exchange",
    "gis.apps.GeoConfig",
    "callcenter",
    "dispatch",
    "emergency.apps.EmergencyConfig",
    "archive",
    "demo.apps.DemoConfig",
    # Open311 GeoReport v2 at /open311/v2/ (open311/; README "Open311").
    "open311",
]

MIDDLEWARE = [
    # First: every response carries an X-Request-ID and every log line of the request names it (core/request_id.py).
    "core.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Chinese unless the user chose a language (the switch in the header sets a cookie): the browser's
    # Accept-Language is not asked, so every screen of a Chinese centre starts in Chinese.
    "core.middleware.ChosenLanguageMiddleware",
    # A JSON body nested deeper than 64 levels is a 400, one past DATA_UPLOAD_MAX_MEMORY_SIZE a 413, for every view.
    "core.json_body.JsonBodyLimitMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Logs every request made with an API key, with its status (exchange/keys/usage.py).
    "exchange.keys.usage.ApiKeyUsageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # A role that needs the second factor sees nothing but its enrolment or verification page until it is given.
    "organisation.identity.second_factor.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a login refused for a lockout into the 429 page (organisation/identity/lockout.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(VAR_DIR / "hotline.sqlite3")),
            "OPTIONS": {
                # WAL is switched on once per file (core/sqlite.py); IMMEDIATE transactions take the
                # write lock up front instead of failing on upgrade.
                "init_command": "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
            "TEST": {"NAME": os.environ.get("SQLITE_TEST_PATH") or None},
            # Kept open between requests and socket commands, as for PostgreSQL: opening a SQLite
            # connection (and running its PRAGMAs) cost a socket command about a millisecond.
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    }

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # No socket timeout: redis-py 8's 5 s default races channels_redis' 5 s blocking pop
            # (django/channels_redis#422) and breaks idle receives.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": None}], "capacity": 1000, "expiry": 30},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# Django's cache: shared by every process in Redis when there is one (the API keys' per-key rate limits,
# exchange/keys/auth.py, count across all web processes); otherwise per process, in memory.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "hotline",
        }
    }

AUTH_USER_MODEL = "organisation.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Axes first: it refuses a locked-out account or address before the password is even checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
# Logging out ends on the app's own login page, not the admin's "logged out" page.
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# Leaflet ships inside django-leaflet; its static files are used directly because installing the app
# would import django.contrib.gis, which needs the GDAL system library that we otherwise do without.
STATICFILES_DIRS = [Path(importlib.util.find_spec("leaflet").origin).parent / "static"]  # type: ignore[union-attr,arg-type]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# While developing, static files edited under a running server are re-read instead of served stale.
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = VAR_DIR / "media"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "knox.auth.TokenAuthentication",
        # Other systems' keys: Authorization: ApiKey hk_... or X-Api-Key (exchange/keys/drf.py).
        "exchange.keys.drf.ApiKeyAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Every operation's error statuses (400/401/403/404/409/413/429) documented once (core/openapi.py).
    "DEFAULT_SCHEMA_CLASS": "core.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "core.pagination.BoundedLimitOffsetPagination",
    # JSON nested deeper than 64 levels is a 400 (Python's decoder would overflow its stack); form bodies for
    # the token endpoint and multipart for attachments as DRF's defaults.
    "DEFAULT_PARSER_CLASSES": [
        "core.json_body.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.api_errors.handle_api_exception",
    "DEFAULT_RENDERER_CLASSES": [
        # JSON with typed phone and ID numbers masked in free text for agencies (organisation/privacy.py).
        "organisation.privacy.FreeTextJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "12345 Hotline and Emergency Linkage API",
    "DESCRIPTION": "Tickets, work orders and the shared workflow. Coordinates are WGS84 unless stated.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "TicketStateEnum": "callcenter.models.TicketState",
        "WorkOrderStateEnum": "dispatch.models.WorkOrderState",
        "ExtensionStateEnum": "dispatch.models.ExtensionState",
        "SupervisionStateEnum": "dispatch.models.SupervisionState",
        "AgencyFunctionEnum": "organisation.models.AgencyFunction",
        "AgencyKindEnum": "organisation.models.AgencyKind",  # the management API (#19)
        "ReplyOutcomeEnum": "dispatch.models.ReplyOutcome",
        "IncidentTypeEnum": "emergency.models.IncidentType",
        "IncidentStateEnum": "emergency.states.IncidentState",
        "AgencyTaskStatusEnum": "emergency.states.AgencyTaskStatus",
        "IncidentLevelEnum": "emergency.models.IncidentLevel",
        "AffectedAreaKindEnum": "emergency.models.AffectedAreaKind",
        "EmergencyLineEnum": "emergency.models.EmergencyLine",
        "EscalationLevelEnum": "dispatch.models.EscalationLevel",
        "JurisdictionLevelEnum": "gis.models.Level",
    },
}

# Personal data never goes to logs: loggers below carry ids and codes only.
# Logs (docs/OPERATIONS.md "Logs"): JSON lines with timestamp, level, logger, message and request id, phone
# and ID-card numbers and secret query parameters masked; HOTLINE_LOG_FORMAT=text for plain lines in development.
LOGGING = logging_config(os.environ.get("HOTLINE_LOG_FORMAT", "json"), os.environ.get("LOG_LEVEL", "INFO"))

# --- Base map tiles (README "Base map"): HOTLINE_MAP_TILES picks a preset; the screens get its layers and the
# tiles' coordinate system (every overlay is shifted into it for display; storage stays WGS84).
_MAP_TILE_SYSTEMS = ("wgs84", "gcj02")  # BD-09 tiles (Baidu) use their own tiling, which Leaflet cannot show
_TIANDITU = (
    "https://t{s}.tianditu.gov.cn/%s_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=%s&STYLE=default"
    "&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=%s"
)
_AMAP = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
_TENCENT = "https://rt{s}.map.gtimg.com/tile?z={z}&x={x}&y={y}&styleid=1000&scene=0"  # rows from the south: tms
_OSM = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


def _tile_layer(url: str, attribution: Any, subdomains: list[str], max_zoom: int, tms: bool = False) -> dict[str, Any]:
    return {"url": url, "subdomains": subdomains, "attribution": attribution, "tms": tms, "max_zoom": max_zoom}


def _base_map(preset: str, system: str, *layers: dict[str, Any]) -> dict[str, Any]:
    return {"preset": preset, "coordinate_system": system, "layers": list(layers)}


def map_tiles(env: dict[str, str]) -> dict[str, Any]:
    """The base map from the HOTLINE_MAP_TILE* variables: {"preset", "coordinate_system", "layers"}."""
    from django.core.exceptions import ImproperlyConfigured

    url = env.get("HOTLINE_MAP_TILE_URL", "").strip()
    preset = env.get("HOTLINE_MAP_TILES", "").strip().lower() or ("custom" if url else "")
    if preset in ("", "none"):
        return _base_map("", "wgs84")
    if preset == "tianditu":
        key = env.get("HOTLINE_TIANDITU_KEY", "").strip()
        if not key:
            raise ImproperlyConfigured(
                "HOTLINE_MAP_TILES=tianditu needs HOTLINE_TIANDITU_KEY: a Tianditu browser key (tk) from "
                "https://console.tianditu.gov.cn/ . Set it, or choose another HOTLINE_MAP_TILES preset."
            )
        digits, credit = [str(n) for n in range(8)], _("Map data © Tianditu")
        vector, labels = (_tile_layer(_TIANDITU % (name, name, key), credit, digits, 18) for name in ("vec", "cva"))
        return _base_map(preset, "wgs84", vector, labels)
    if preset == "amap":
        return _base_map(preset, "gcj02", _tile_layer(_AMAP, _("Map data © AutoNavi (Amap)"), list("1234"), 18))
    if preset == "tencent":
        return _base_map(preset, "gcj02", _tile_layer(_TENCENT, _("Map data © Tencent"), list("0123"), 18, tms=True))
    if preset == "osm":
        return _base_map(preset, "wgs84", _tile_layer(_OSM, _("© OpenStreetMap contributors"), [], 19))
    if preset != "custom":
        raise ImproperlyConfigured(
            f"HOTLINE_MAP_TILES={preset!r} is not a preset: use tianditu, amap, tencent, osm, custom or leave it empty."
        )
    if not url:
        raise ImproperlyConfigured("HOTLINE_MAP_TILES=custom needs HOTLINE_MAP_TILE_URL (a {z}/{x}/{y} template).")
    system = env.get("HOTLINE_MAP_TILE_COORDINATE_SYSTEM", "").strip().lower() or "wgs84"
    if system not in _MAP_TILE_SYSTEMS:
        raise ImproperlyConfigured(f"HOTLINE_MAP_TILE_COORDINATE_SYSTEM must be wgs84 or gcj02, not {system!r}.")
    subdomains = [s.strip() for s in env.get("HOTLINE_MAP_TILE_SUBDOMAINS", "").split(",") if s.strip()]
    if "{s}" in url and not subdomains:
        subdomains = ["a", "b", "c"]  # Leaflet's own default, as before the presets
    try:
        max_zoom = int(env.get("HOTLINE_MAP_TILE_MAX_ZOOM", "").strip() or "19")
    except ValueError:
        raise ImproperlyConfigured("HOTLINE_MAP_TILE_MAX_ZOOM must be a whole number.") from None
    attribution = env.get("HOTLINE_MAP_TILE_ATTRIBUTION", "").strip()
    return _base_map(preset, system, _tile_layer(url, attribution, subdomains, max_zoom))


HOTLINE: dict[str, Any] = {
    # Country used to normalise callers' phone numbers given without a country code.
    "PHONE_REGION": os.environ.get("HOTLINE_PHONE_REGION", "CN"),
    "TICKET_NUMBER_PREFIX": "12345",
    # Administrative code of the city the centre serves; agencies with it work city-wide.
    "CITY_ADCODE": os.environ.get("HOTLINE_CITY_ADCODE", "450200"),
    # The city a single-city database's rows are put into when cities arrive (organisation migration 0003), and
    # what intake does with a point outside every city's service area: "accept" it unrouted (the operator is
    # warned) or "refuse" it (400 outside_service_area).
    "CITY_CODE": os.environ.get("HOTLINE_CITY_CODE", "liuzhou"),
    "CITY_NAME": os.environ.get("HOTLINE_CITY_NAME", "柳州市"),
    "OUTSIDE_SERVICE_AREA": os.environ.get("HOTLINE_OUTSIDE_SERVICE_AREA", "accept"),
    # Optional base map tiles (map_tiles above); without them the jurisdictions are the base layer.
    "MAP_TILES": map_tiles(dict(os.environ)),
    "IDEMPOTENCY_KEY_TTL_HOURS": 24,
    # Events older than this are pruned; a client further behind gets a snapshot instead of a replay.
    "EVENT_RETENTION_HOURS": float(os.environ.get("HOTLINE_EVENT_RETENTION_HOURS", "24")),
    # How often each process re-reads the event log in case a channel-layer doorbell was lost.
    "EVENT_POLL_SECONDS": float(os.environ.get("HOTLINE_EVENT_POLL_SECONDS", "1")),
    # A screen further behind than this many events gets a snapshot instead of a replay (a replay holds the
    # process's database thread while it runs), and a user may hold this many live sockets per web process.
    "REPLAY_MAX_EVENTS": int(os.environ.get("HOTLINE_REPLAY_MAX_EVENTS", "2000")),
    "MAX_SOCKETS_PER_USER": int(os.environ.get("HOTLINE_MAX_SOCKETS_PER_USER", "30")),
    # Timers (docs/ARCHITECTURE.md "Timers and escalation"): office hours for "wh" limits (empty: off;
    # WorkingPeriod rows in the database win), the ladder, the longest worker sleep, and whether the
    # PostgreSQL worker commits without waiting for the WAL flush (a crash may then lose the last batches'
    # escalations, which are fired again: their timers roll back with them).
    "WORKING_HOURS": [p for p in os.environ.get("HOTLINE_WORKING_HOURS", "").split(",") if p],
    "ESCALATION": {
        "warning_fraction": 0.8,
        "serious_after_working_days": 5,
        "levels": ["warning", "overdue", "serious"],
    },
    "TIMER_MAX_SLEEP_SECONDS": float(os.environ.get("HOTLINE_TIMER_MAX_SLEEP_SECONDS", "30")),
    # Units (docs/AVL.md): a position older than this is stale (flagged, never recommended).
    "UNIT_STALE_SECONDS": float(os.environ.get("HOTLINE_UNIT_STALE_SECONDS", "120")),
    # AVL fixes further in the future than this (device clock ahead) are refused.
    "AVL_FUTURE_TOLERANCE_SECONDS": 60,
    # unit.moved coalescing per unit: at most one per interval; then only after this much movement or heartbeat.
    "UNIT_MOVED_EVENT_MIN_SECONDS": float(os.environ.get("HOTLINE_UNIT_MOVED_EVENT_MIN_SECONDS", "5")),
    "UNIT_MOVED_EVENT_MIN_METRES": 25,
    "UNIT_MOVED_EVENT_HEARTBEAT_SECONDS": 60,
    # Agencies with fewer work orders in the period are left out of the supervision ranking (?min_volume=).
    "SUPERVISION_MIN_VOLUME": int(os.environ.get("HOTLINE_SUPERVISION_MIN_VOLUME", "10")),
    # /health/ready (core/health.py): the longest an event may wait for this process's hub, how old the newest
    # timer worker heartbeat may be (default: three longest sleeps, at least 60 s), whether one is required.
    "READY_MAX_EVENT_LAG_SECONDS": float(os.environ.get("HOTLINE_READY_MAX_EVENT_LAG_SECONDS", "30")),
    "TIMER_HEARTBEAT_STALE_SECONDS": float(os.environ.get("HOTLINE_TIMER_HEARTBEAT_STALE_SECONDS", "0")),
    "READY_REQUIRES_TIMERS": _env_bool("HOTLINE_READY_REQUIRES_TIMERS", True),
    # Whether an outbox worker's heartbeat is required (only while an active webhook subscription exists).
    "READY_REQUIRES_OUTBOX": _env_bool("HOTLINE_READY_REQUIRES_OUTBOX", True),
    # /metrics (core/metrics.py): open to these networks when not relayed by a proxy, else with the token
    # (Authorization: Bearer <HOTLINE_METRICS_TOKEN>).
    "METRICS_ALLOWED_NETWORKS": _env_list("HOTLINE_METRICS_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128"),
    "METRICS_TOKEN": os.environ.get("HOTLINE_METRICS_TOKEN", ""),
    # The outbox worker (docs/OPERATIONS.md "Outbox and webhooks"): failures before a delivery is parked, the
    # retry backoff (base doubling per failure, capped, with jitter), its longest sleep, webhook time-outs.
    "OUTBOX_MAX_FAILURES": int(os.environ.get("HOTLINE_OUTBOX_MAX_FAILURES", "8")),
    "OUTBOX_BACKOFF_BASE_SECONDS": float(os.environ.get("HOTLINE_OUTBOX_BACKOFF_BASE_SECONDS", "10")),
    "OUTBOX_BACKOFF_CAP_SECONDS": float(os.environ.get("HOTLINE_OUTBOX_BACKOFF_CAP_SECONDS", "3600")),
    "OUTBOX_MAX_SLEEP_SECONDS": float(os.environ.get("HOTLINE_OUTBOX_MAX_SLEEP_SECONDS", "5")),
    "WEBHOOK_CONNECT_TIMEOUT_SECONDS": 5.0,
    "WEBHOOK_READ_TIMEOUT_SECONDS": 10.0,
    # API keys of other systems (exchange/keys/): the longest validity a new key may get, and the rate of a key
    # without its own ("<n>/s|min|hour|day").
    "API_KEY_MAX_DAYS": int(os.environ.get("HOTLINE_API_KEY_MAX_DAYS", "365")),
    "API_KEY_DEFAULT_RATE": os.environ.get("HOTLINE_API_KEY_DEFAULT_RATE", "120/min"),
}

# --- Open311 GeoReport v2 (open311/; README "Open311") ----------------------------------------------------------
# The jurisdiction_id this installation answers to; whether a POST is accepted at once or through a token (then
# `manage.py run_open311_intake` accepts it); the appeal type of a request that names none; the appeal types that
# are never public (reports, 举报: their reporters are protected); the contact shown by discovery.
HOTLINE["OPEN311_JURISDICTION_ID"] = os.environ.get("HOTLINE_OPEN311_JURISDICTION_ID", "liuzhou.12345.gov.cn")
HOTLINE["OPEN311_ASYNC"] = _env_bool("HOTLINE_OPEN311_ASYNC", False)
HOTLINE["OPEN311_DEFAULT_APPEAL_TYPE"] = "help"
HOTLINE["OPEN311_PRIVATE_APPEAL_TYPES"] = ["report"]
HOTLINE["OPEN311_CONTACT"] = os.environ.get("HOTLINE_OPEN311_CONTACT", "")

# --- Attachments (dispatch/attachments/, documented in its README.md) -----------------------------------------
# Files go through Django's storage API only: STORAGES["default"] above (the file system under MEDIA_ROOT by
# default; any storage backend, e.g. an S3-compatible one, can be configured there). They are never served
# from a media URL, only through the scoped views under /api/attachments/.
HOTLINE["ATTACHMENT_MAX_BYTES"] = int(os.environ.get("HOTLINE_ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024)))
# Images above this many pixels are refused before they are decoded (decompression bombs).
HOTLINE["ATTACHMENT_MAX_PIXELS"] = int(os.environ.get("HOTLINE_ATTACHMENT_MAX_PIXELS", "50000000"))
HOTLINE["ATTACHMENT_THUMBNAIL_PX"] = 320
# Recognised by their bytes; image/heic only if a HEIF plugin for Pillow is installed (none is by default).
HOTLINE["ATTACHMENT_TYPES"] = [
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/heic",
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
]
# The API schema's name for the attachment kinds (drf-spectacular would otherwise make one up).
if isinstance(_enum_names := SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"], dict):
    _enum_names["AttachmentKindEnum"] = "dispatch.attachments.models.AttachmentKind"
# --- end of attachments -------------------------------------------------------------------------------------

# --- Archive (归档; archive/rules.py, docs/OPERATIONS.md "Archive") --------------------------------------------
# Where closed tickets' and incidents' BagIt packages go through the outbox: an http(s) URL (a tar POSTed) or an
# absolute folder (copied in atomically). Empty: archiving is off.
HOTLINE["ARCHIVE_DESTINATION"] = os.environ.get("HOTLINE_ARCHIVE_DESTINATION", "")
# "on_close": queued in the transaction that closes; "batch": only the records office's batches.
HOTLINE["ARCHIVE_TRIGGER"] = os.environ.get("HOTLINE_ARCHIVE_TRIGGER", "on_close")
# "masked" (default) or "full": callers' phone numbers in the package (confidential callers are always masked).
HOTLINE["ARCHIVE_CALLER_PHONES"] = os.environ.get("HOTLINE_ARCHIVE_CALLER_PHONES", "masked")
# Retention period (保管期限) per appeal type code, "incident" or "default": years, or "permanent" (永久).
HOTLINE["ARCHIVE_RETENTION_YEARS"] = {"default": 10, "incident": 30}
HOTLINE["ARCHIVE_ALLOW_PRIVATE_NETWORK"] = _env_bool("HOTLINE_ARCHIVE_ALLOW_PRIVATE_NETWORK", False)
HOTLINE["ARCHIVE_SIGNING_SECRET"] = os.environ.get("HOTLINE_ARCHIVE_SIGNING_SECRET", "")
HOTLINE["ARCHIVE_STAGING_DIR"] = os.environ.get("HOTLINE_ARCHIVE_STAGING_DIR", str(VAR_DIR / "archive-staging"))
# --- end of archive -------------------------------------------------------------------------------------------

# --- Identity (organisation/identity/, README "Logging in") ----------------------------------------------------
import datetime as _dt  # noqa: E402

# API tokens (django-rest-knox): stored hashed, valid this long, all of a user's revoked on a password change,
# deactivation, role change or logout from the API; a socket opened with one is closed when it is revoked.
REST_KNOX = {
    "TOKEN_TTL": _dt.timedelta(hours=float(os.environ.get("HOTLINE_TOKEN_TTL_HOURS", "12"))),
    "AUTH_HEADER_PREFIX": "Token",
}
# Lockout (django-axes): after this many failed logins an account, and separately an address, is refused with
# 429 for the cool-off period, on every login path (the login page, the admin's, /api/auth/token/).
AXES_FAILURE_LIMIT = int(os.environ.get("HOTLINE_LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = _dt.timedelta(minutes=float(os.environ.get("HOTLINE_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "organisation.identity.lockout.locked_out_response"
AXES_VERBOSE = False  # its log lines name the user and the address; the audit log records lockouts instead
# The second factor's issuer name in authenticator apps.
OTP_TOTP_ISSUER = os.environ.get("HOTLINE_OTP_ISSUER", "12345")
# --- end of identity -------------------------------------------------------------------------------------------

# --- Deploy security (README "Production settings"; config/security.py) ----------------------------------------
# Every page is served with a Content-Security-Policy that allows no inline script or style: only the site's
# own static files, plus the base map's tile servers for images.
CONTENT_SECURITY_POLICY = content_security_policy(HOTLINE["MAP_TILES"])
# Browser sockets must come from one of these exact origins (scheme, host and port; realtime/origin.py).
HOTLINE["SOCKET_ORIGINS"] = socket_origins(CSRF_TRUSTED_ORIGINS, ALLOWED_HOSTS, secure_only=PRODUCTION)
if PRODUCTION:
    # TLS ends at the proxy (nginx), which must set X-Forwarded-Proto (and strip any the client sent).
    if _env_bool("HOTLINE_TLS_PROXY", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = _env_bool("HOTLINE_SSL_REDIRECT", True)
    # Probed over plain HTTP from inside the cluster (health checks, the metrics scraper).
    SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics"]
    SECURE_HSTS_SECONDS = int(os.environ.get("HOTLINE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("HOTLINE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = _env_bool("HOTLINE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
# --- end of deploy security ------------------------------------------------------------------------------------

# --- Incident exchange and public alerts (docs/OPERATIONS.md "Incident exchange (EIDO)", "Signing CAP alerts") ---
import json as _json  # noqa: E402

# The centre as an EIDO agency (a domain name) and its issuing element; the partner centres EIDOs go to, as JSON:
# {"fire119": {"name": "119指挥中心", "url": "https://...", "secret": "...", "allow_private_network": false}}.
HOTLINE["EIDO_AGENCY_ID"] = os.environ.get("HOTLINE_EIDO_AGENCY_ID", "yjld.12345.liuzhou.gov.cn")
HOTLINE["EIDO_ELEMENT_ID"] = os.environ.get("HOTLINE_EIDO_ELEMENT_ID", "")
HOTLINE["EIDO_PARTNERS"] = _json.loads(os.environ.get("HOTLINE_EIDO_PARTNERS", "{}") or "{}")
# CAP: how long an Alert/Update and a Cancel stay current (<expires>; a Cancel stays in the Atom feed that long),
# and the optional XML-DSig signing pair (PEM files; both unset: unsigned).
HOTLINE["CAP_ALERT_EXPIRES_HOURS"] = float(os.environ.get("HOTLINE_CAP_ALERT_EXPIRES_HOURS", "48"))
HOTLINE["CAP_CANCEL_EXPIRES_HOURS"] = float(os.environ.get("HOTLINE_CAP_CANCEL_EXPIRES_HOURS", "24"))
HOTLINE["CAP_SIGNING_KEY_FILE"] = os.environ.get("HOTLINE_CAP_SIGNING_KEY_FILE", "")
HOTLINE["CAP_SIGNING_CERT_FILE"] = os.environ.get("HOTLINE_CAP_SIGNING_CERT_FILE", "")
HOTLINE["CAP_SIGNING_KEY_PASSWORD"] = os.environ.get("HOTLINE_CAP_SIGNING_KEY_PASSWORD", "")
# --- end of incident exchange ------------------------------------------------------------------------------------
