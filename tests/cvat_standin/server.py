"""CVAT REST API stand-in: a small threaded HTTP server on 127.0.0.1 that keeps state in memory.

It answers the endpoints the cvat_seed role uses, shaped like CVAT v2.73.0 (cvat/schema.yml at upstream
ac6e63b). The behaviours below were compared with a real CVAT v2.73.0 (upstream ac6e63b, production settings, no
SMTP, default throttle; ../shared/real-cvat-bench) on 2026-12-02; tests/contract runs the same assertions against
this stand-in in CI and against a real server when CVAT_CONTRACT_URL is set.

- Content negotiation: /api/* renders only `application/vnd.cvat+json` (also chosen for a missing Accept header,
  `*/*` or `application/*`); `text/html` gets an HTML page (CVAT: DRF's browsable API); any other Accept, e.g.
  `application/json`, answers 406 {"detail": "Could not satisfy the request Accept header."}. DRF picks by
  specificity, not q-value, CVAT's renderer first. `/api/server/health/` (django-health-check) walks the Accept
  media types by q-value: `application/json` or `application/*` -> JSON {"<check>": "working", ...}; `text/html`,
  `text/*`, `*/*` or no header -> HTML; anything else (`application/vnd.cvat+json` alone) -> 406 text/plain
  "Not Acceptable: Supported content types: text/html, application/json". `application/vnd.cvat+json,
  application/json;q=0.9` satisfies both. Response URLs are absolute (http://<Host>/api/...).
- Authentication, in CVAT's order: `Authorization: Token <login key>`, `Authorization: Bearer <access token>`, then
  the `sessionid` cookie. POST /api/auth/login and POST /api/auth/register both log the user in: Set-Cookie
  sessionid + csrftoken (register also answers the new user's login `key`). A request authenticated by the session
  cookie must, on an unsafe method, carry `X-CSRFToken` equal to the csrftoken cookie, else 403 {"detail":
  "CSRF Failed: CSRF token missing."} (or "... CSRF token incorrect."); that includes an anonymous endpoint such
  as a second register by a client that kept the cookies. Token and Bearer requests never need CSRF.
- Access tokens (Bearer): created read_only=true unless the request says otherwise; value "<8>.<32>". A token may
  list and view users and access tokens, never change them (PATCH /api/users/{id} -> 403 {"detail": "You do not
  have permission to perform this action."}, CVAT's access_token_plugin.users rego); a read-only token may not
  use any unsafe method. A superuser's login key (Token) may PATCH users.
- Registration (rules in cvat_rules.py, shared with the role): user name 5..150 characters of [\\w.@+-],
  unique case-insensitively; optional e-mail validated and lower-cased; first_name/last_name refused when blank;
  passwords 8..256, not entirely numeric, not common (a sample of Django's list), not too similar to the user's
  attributes; CVAT's messages and body shapes (a duplicate e-mail answers the list body
  ["A user is already registered with this e-mail address."]). CVAT looks up "" like any e-mail: once one user
  without an e-mail exists, every later registration without an e-mail gets that same answer. Registering the
  e-mail of a placeholder user (left by an invitation) takes that user over (same id, new name), as CVAT does;
  its membership stays inactive. A registration carrying a valid Bearer/Token header is an authenticated
  request: it is NOT throttled as anonymous (checked on the real server while the anonymous limit was
  exhausted: 201) and the header keeps authenticating as its owner.
- Throttling (`anon_rate`, default "100/minute" = CVAT's DEFAULT_THROTTLE_RATES["anon"]; None disables): DRF's
  AnonRateThrottle per client address, sliding window, counted only for anonymous requests that reach a DRF
  view's throttle check (login, register, /api/server/about; not health, not a 401, 403 CSRF or 406). Over the
  limit: 429 {"detail": "Request was throttled. Expected available in N seconds."} (N = ceil of the time until the
  oldest counted request leaves the window; "1 second." singular) with header `Retry-After: N`.
- Organisations: slug rules from cvat_rules.py (16 characters, letters, digits, _ and -), name <= 64.
- Invitations (ORG_INVITATION_CONFIRM = "No"): an existing user with a usable password is added at once (accepted
  true, expired null). Any role including owner is a valid choice for the superuser. An e-mail without an account
  creates a placeholder user (username = e-mail, lower-cased, unusable password) and an inactive membership
  (joined_date null) with a pending invitation (accepted false), and then, without mail backend
  (EMAIL_BACKEND = None), answers 500 with the JSON string "Email backend is not configured." (both left behind);
  with `mail_backend=True` it answers 201 (expired false: sent). Inviting a member again: 400
  ["The user is a member of the organization already."]. Without organisation context: 500 (HTML page).
- Labels: an attribute without `mutable` -> 400 {"labels": [{}, {"attributes": [{"mutable": ["This field is
  required."]}]}]}; default_value defaults to "" for select/radio too. Quality settings of a project report
  inherit: true. Webhooks omit last_status/last_delivery_date until a delivery exists.
- Tasks: before data, data null, dimension/mode/media_type "", and NO size, data_cloud_storage_id,
  image_quality or data_chunk_size keys (CVAT omits fields read through the missing Data object).
  POST /api/tasks/{id}/data/ answers 202 {"rq_id": "action=create&target=task&target_id=<id>"}; creation errors
  come through GET /api/requests/{rq_id} (status "failed", message as CVAT words it):
  `gt_pool` with a sorting_method other than random -> 'rest_framework.exceptions.ValidationError:
  [ErrorDetail(string=\'validation mode "gt_pool" can only be used with "random" sorting\', code=\'invalid\')]';
  a missing S3 key -> "rest_framework.exceptions.NotFound: The file '<key>' not found on the cloud storage
  '<bucket>'". A failed task keeps size 0, jobs.count 0, media_type "" but `data` set (not null) and the files
  of the failed request: a second POST /data is accepted (202) but CVAT appends the new files to the old ones, so
  it fails again on the same missing key (the task must be deleted and created again). A task with media:
  second POST -> 400 ["Adding more data is not supported"]. `gt` adds one ground-truth job; `gt_pool` takes the
  pool out of the regular frames, adds frames_per_job honeypots to each job, reports segment_size 0, overlap 0,
  one extra (ground-truth) job and size = regular + jobs * honeypots + pool (12 images, pool 3, 1 per job,
  segment 4 -> size 15, 4 jobs).
- Cloud storage: CVAT 2.73 keeps "key secret" only (no session_token; a PATCH resets it);
  GET /api/cloudstorages/{id}/status probes with the stored credentials ("AVAILABLE" | "NOT_FOUND" |
  "FORBIDDEN"); creation checks the bucket with the credentials given.
- Lists are paginated (count/next/previous/results, `page_size`, `page`) in CVAT's default order (-id; labels and
  quality settings by id), organisation context by `X-Organization` or `?org=`/`?org_id=`.

Test controls (not counted): `GET /_standin/stats` (requests by method, writes), `POST /_standin/faults`
{"unavailable": N} (the next N requests answer 503, e.g. CVAT still starting) or
{"fail": {"method": "POST", "path": "/api/projects", "after": K, "status": 500, "count": 1}} (a 5xx in the
middle, before the request is processed), `POST /_standin/reset_stats`, `GET /_standin/state`.

What it does NOT prove: CVAT's permission engine beyond the above (every authenticated user is treated as the
superuser), real media decoding (a task's size comes from the number of S3 objects under the given keys), job
contents, e-mail delivery, CVAT's full list of common passwords, and messages of checks not listed here.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import secrets
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

import importlib.util
from pathlib import Path

# CVAT's input rules are written once, in the role (module_utils/cvat_rules.py: no Ansible import), and shared here
_RULES_PATH = Path(__file__).resolve().parents[2] / "roles" / "cvat_seed" / "module_utils" / "cvat_rules.py"
_spec = importlib.util.spec_from_file_location("cvat_rules", _RULES_PATH)
rules = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rules)

VERSION = "2.73.0"
ROLES = rules.ORG_ROLES
CVAT_JSON = "application/vnd.cvat+json"
NO_PERMISSION = {"detail": "You do not have permission to perform this action."}
HEALTH = {"Cache backend: default": "working", "Cache backend: media": "working", "DatabaseBackend": "working",
          "DatabaseBackend[default]": "working", "DiskUsage": "working", "MemoryUsage": "working",
          "OPAHealthCheck": "working"}
SAFE = ("GET", "HEAD", "OPTIONS")


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ApiError(Exception):
    def __init__(self, status: int, body, content_type: str = CVAT_JSON):
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.content_type = content_type


def parse_rate(rate):
    """'100/minute' -> (100, 60.0); None -> None (DRF's SimpleRateThrottle.parse_rate)."""
    if rate is None:
        return None
    num, period = str(rate).split("/")
    return int(num), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]


def _media_ranges(accept: str):
    out = []
    for token in accept.split(","):
        token = token.strip()
        if not token:
            continue
        parts = [p.strip() for p in token.split(";")]
        q = 1.0
        for p in parts[1:]:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 1.0
        out.append((parts[0].lower(), q))
    return out


def negotiate_api(accept: str | None) -> str | None:
    """DRF's DefaultContentNegotiation with CVAT's renderers (CVATAPIRenderer, BrowsableAPIRenderer): by
    specificity, renderer order within one level; q-values are not weighed."""
    renderers = (CVAT_JSON, "text/html")
    ranges = _media_ranges(accept or "*/*")

    def precedence(mt):
        if mt == "*/*":
            return 0
        return 1 if mt.endswith("/*") else 2
    for level in (2, 1, 0):
        group = [mt for mt, _ in ranges if precedence(mt) == level]
        for renderer in renderers:
            for mt in group:
                if mt == "*/*" or mt == renderer or (mt.endswith("/*") and renderer.startswith(mt[:-1])):
                    return renderer
    return None


def negotiate_health(accept: str | None) -> str | None:
    """django-health-check 3.20: media types by q-value; html or json."""
    for mt, _ in sorted(_media_ranges(accept or "*/*"), key=lambda x: x[1], reverse=True):
        if mt in ("text/html", "application/xhtml+xml", "text/*", "*/*"):
            return "text/html"
        if mt in ("application/json", "application/*"):
            return "application/json"
    return None


class State:
    def __init__(self, admin: str, password: str, s3_endpoint: str | None, anon_rate="100/minute",
                 mail_backend: bool = False):
        self.lock = threading.RLock()
        self.s3_endpoint = s3_endpoint
        self.anon_rate = parse_rate(anon_rate)
        self.mail_backend = mail_backend
        self.anon_history: dict[str, list[float]] = {}
        self.ids: dict[str, int] = {}
        self.users: dict[int, dict] = {}
        self.passwords: dict[int, str | None] = {}  # None: unusable password (placeholder user)
        self.keys: dict[str, int] = {}  # login key (Authorization: Token) -> user id
        self.sessions: dict[str, dict] = {}  # sessionid -> {"uid", "csrf"}
        self.tokens: dict[str, dict] = {}  # access token value -> token
        self.orgs: dict[int, dict] = {}
        self.memberships: dict[int, dict] = {}
        self.invitations: dict[str, dict] = {}
        self.cloudstorages: dict[int, dict] = {}
        self.cs_secrets: dict[int, dict] = {}
        self.projects: dict[int, dict] = {}
        self.labels: dict[int, dict] = {}
        self.quality: dict[int, dict] = {}
        self.webhooks: dict[int, dict] = {}
        self.webhook_secrets: dict[int, str] = {}
        self.tasks: dict[int, dict] = {}
        self.task_data: dict[int, dict] = {}
        self.requests: dict[str, dict] = {}
        self.stats: dict[str, int] = {}
        self.unavailable = 0
        self.fail_rules: list[dict] = []
        uid = self.add_user(admin, f"{admin}@localhost", password, superuser=True)
        self.admin_id = uid

    def next_id(self, kind: str) -> int:
        self.ids[kind] = self.ids.get(kind, 0) + 1
        return self.ids[kind]

    def add_user(self, username, email, password, superuser=False, first_name="", last_name="") -> int:
        uid = self.next_id("user")
        self.users[uid] = {
            "url": f"/api/users/{uid}", "id": uid, "username": username, "first_name": first_name,
            "last_name": last_name, "email": email, "groups": ["admin"] if superuser else ["user"],
            "is_staff": superuser, "is_superuser": superuser, "is_active": True, "last_login": None,
            "date_joined": now(), "has_analytics_access": superuser,
        }
        self.passwords[uid] = password
        return uid

    def basic_user(self, uid):
        u = self.users[uid]
        return {k: u[k] for k in ("url", "id", "username", "first_name", "last_name")}

    def login(self, uid) -> tuple[str, dict]:
        """A login key (one per user, like DRF's Token) and a new session: (key, cookies)."""
        key = next((k for k, v in self.keys.items() if v == uid), None) or secrets.token_hex(20)
        self.keys[key] = uid
        sid, csrf = secrets.token_hex(16), secrets.token_urlsafe(24)[:32]
        self.sessions[sid] = {"uid": uid, "csrf": csrf}
        self.users[uid]["last_login"] = now()
        return key, {"csrftoken": csrf, "sessionid": sid}


def paginate(items: list, query: dict, path: str, base: str) -> dict:
    size_raw = query.get("page_size", "10")
    size = 10 ** 9 if size_raw == "all" else max(int(size_raw or 10), 1)
    page = max(int(query.get("page", "1")), 1)
    start = (page - 1) * size
    chunk = items[start:start + size]

    def link(p):
        q = dict(query, page=str(p))
        return f"{base}{path}?{urlencode(sorted(q.items()))}"
    return {"count": len(items), "next": link(page + 1) if start + size < len(items) else None,
            "previous": link(page - 1) if page > 1 else None, "results": chunk}


def absolute(obj, base: str):
    """CVAT's hyperlinks are absolute: {"url": "/api/..."} -> "http://host/api/..." (recursively)."""
    if isinstance(obj, dict):
        return {k: (base + v if k == "url" and isinstance(v, str) and v.startswith("/api/") else absolute(v, base))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [absolute(x, base) for x in obj]
    return obj


class Handler(BaseHTTPRequestHandler):
    server_version = "cvat-standin"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    @property
    def st(self) -> State:
        return self.server.state  # type: ignore[attr-defined]

    @property
    def base(self) -> str:
        return f"http://{self.headers.get('Host', '127.0.0.1')}"

    # -- plumbing ------------------------------------------------------------------------------------
    def _send(self, status: int, body=None, cookies: dict | None = None, content_type: str = CVAT_JSON,
              headers: dict | None = None):
        if isinstance(body, (bytes, str)) and content_type != CVAT_JSON and content_type != "application/json":
            raw = body.encode() if isinstance(body, str) else body
        elif content_type == "text/html" and body is not None:
            raw = ("<html><head><title>CVAT API stand-in</title></head><body><pre>%s</pre></body></html>"
                   % json.dumps(absolute(body, self.base), indent=2)).encode()
            content_type = "text/html; charset=utf-8"
        else:
            raw = b"" if body is None else json.dumps(absolute(body, self.base), separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Vary", "Accept, Origin, Cookie")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        for k, v in (cookies or {}).items():
            flags = "; HttpOnly" if k == "sessionid" else ""
            self.send_header("Set-Cookie", f"{k}={v}; Path=/; SameSite=Lax{flags}")
        self.end_headers()
        self.wfile.write(raw)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(400, {"detail": "JSON parse error - Expecting value"})

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method: str):
        parts = urlsplit(self.path)
        path, query = parts.path, dict(parse_qsl(parts.query))
        try:
            data = self._body() if method in ("POST", "PATCH", "PUT") else {}
        except ApiError as e:
            return self._send(e.status, e.body)
        if path.startswith("/_standin/"):
            return self._control(method, path, data)
        st = self.st
        with st.lock:
            st.stats[method] = st.stats.get(method, 0) + 1
            st.stats[f"{method} {re.sub(r'/[0-9]+', '/{id}', path)}"] = st.stats.get(
                f"{method} {re.sub(r'/[0-9]+', '/{id}', path)}", 0) + 1
            if st.unavailable > 0:
                st.unavailable -= 1
                return self._send(503, {"detail": "Service Unavailable (stand-in fault)"})
            for rule in st.fail_rules:
                if rule["method"] == method and re.fullmatch(rule["path"], path):
                    rule["seen"] += 1
                    if rule["seen"] > rule["after"] and rule["count"] > 0:
                        rule["count"] -= 1
                        return self._send(rule["status"], {"detail": "Internal Server Error (stand-in fault)"})
            if path == "/api/server/health/" and method == "GET":
                kind = negotiate_health(self.headers.get("Accept"))
                if kind is None:
                    return self._send(406, "Not Acceptable: Supported content types: text/html, application/json",
                                      content_type="text/plain")
                if kind == "application/json":
                    return self._send(200, HEALTH, content_type="application/json")
                return self._send(200, "<html><head><title>System status</title></head><body>"
                                  + "".join(f"<p>{k}: {v}</p>" for k, v in HEALTH.items()) + "</body></html>",
                                  content_type="text/html; charset=utf-8")
            renderer = negotiate_api(self.headers.get("Accept"))
            if renderer is None:
                return self._send(406, {"detail": "Could not satisfy the request Accept header."})
            try:
                status, body, cookies = self._route(method, path, query, data)
            except ApiError as e:
                if e.content_type != CVAT_JSON:
                    return self._send(e.status, e.body, content_type=e.content_type)
                headers = {"Retry-After": str(e.body.pop("_wait"))} if e.status == 429 else None
                return self._send(e.status, e.body, content_type=renderer, headers=headers)
        self._send(status, body, cookies, content_type=renderer)

    def _control(self, method, path, data):
        st = self.st
        with st.lock:
            if path == "/_standin/stats":
                stats = dict(st.stats)
                stats["writes"] = sum(v for k, v in st.stats.items() if k in ("POST", "PATCH", "PUT", "DELETE"))
                return self._send(200, stats, content_type="application/json")
            if path == "/_standin/reset_stats":
                st.stats.clear()
                return self._send(200, {}, content_type="application/json")
            if path == "/_standin/faults":
                st.unavailable = int(data.get("unavailable", 0))
                st.fail_rules = []
                if data.get("fail"):
                    f = data["fail"]
                    st.fail_rules.append({"method": f["method"], "path": f["path"], "after": int(f.get("after", 0)),
                                          "status": int(f.get("status", 500)), "count": int(f.get("count", 1)), "seen": 0})
                return self._send(200, {}, content_type="application/json")
            if path == "/_standin/state":
                return self._send(200, {
                    "tasks": list(st.tasks.values()), "task_data": {str(k): v for k, v in st.task_data.items()},
                    "cloudstorage_credentials": {str(k): sorted(v) for k, v in st.cs_secrets.items()},
                    "webhook_secret_set": {str(k): bool(v) for k, v in st.webhook_secrets.items()}},
                    content_type="application/json")
        return self._send(404, {"detail": "Not found."}, content_type="application/json")

    # -- auth and context ------------------------------------------------------------------------------
    def _cookies(self) -> dict:
        out = {}
        for part in self.headers.get("Cookie", "").split(";"):
            if "=" in part:
                k, v = part.strip().split("=", 1)
                out[k] = v
        return out

    def _authenticate(self, method) -> tuple[int | None, dict | None]:
        """(user id or None, access token or None), in CVAT's order: Token, Bearer, session cookie (+ CSRF)."""
        auth = self.headers.get("Authorization", "")
        st = self.st
        if auth.startswith("Token "):
            if auth[6:] not in st.keys:
                raise ApiError(401, {"detail": "Invalid token."})
            return st.keys[auth[6:]], None
        if auth.startswith("Bearer "):
            tok = st.tokens.get(auth[7:])
            if not tok:
                raise ApiError(401, {"detail": "Invalid token."})
            tok["last_used_date"] = now()
            return tok["_user"], tok
        cookies = self._cookies()
        sess = st.sessions.get(cookies.get("sessionid", ""))
        if sess is None:
            return None, None
        if method not in SAFE:  # DRF SessionAuthentication.enforce_csrf
            if "csrftoken" not in cookies:
                raise ApiError(403, {"detail": "CSRF Failed: CSRF cookie not set."})
            header = self.headers.get("X-CSRFToken")
            if not header:
                raise ApiError(403, {"detail": "CSRF Failed: CSRF token missing."})
            if header != cookies["csrftoken"]:
                raise ApiError(403, {"detail": "CSRF Failed: CSRF token incorrect."})
        return sess["uid"], None

    def _throttle_anon(self):
        """DRF AnonRateThrottle: sliding window per client address; a refused request is not recorded."""
        st = self.st
        if st.anon_rate is None:
            return
        num, duration = st.anon_rate
        t = time.monotonic()
        hist = [x for x in st.anon_history.get(self.client_address[0], []) if x > t - duration]
        if len(hist) >= num:
            wait = math.ceil(duration - (t - hist[-1]))
            st.anon_history[self.client_address[0]] = hist
            unit = "second" if wait == 1 else "seconds"
            raise ApiError(429, {"detail": f"Request was throttled. Expected available in {wait} {unit}.",
                                 "_wait": wait})
        hist.insert(0, t)
        st.anon_history[self.client_address[0]] = hist

    def _org(self, query) -> dict | None:
        slug = self.headers.get("X-Organization") or query.get("org")
        org_id = query.get("org_id")
        st = self.st
        if slug:
            for o in st.orgs.values():
                if o["slug"] == slug:
                    return o
            raise ApiError(404, {"detail": "No Organization matches the given query."})
        if org_id:
            o = st.orgs.get(int(org_id))
            if o is None:
                raise ApiError(404, {"detail": "No Organization matches the given query."})
            return o
        return None

    def _page(self, items, query, path, order="-id"):
        items = list(items)
        if order and items and isinstance(items[0], dict) and "id" in items[0]:
            items.sort(key=lambda x: x["id"], reverse=order.startswith("-"))
        return 200, paginate(items, query, path, self.base), None

    @staticmethod
    def _scope(items, org):
        oid = org["id"] if org else None
        return [x for x in items if x.get("organization") == oid]

    @staticmethod
    def _get(table, oid, what="object"):
        obj = table.get(oid)
        if obj is None:
            raise ApiError(404, {"detail": "Not found."})
        return obj

    def _token_permission(self, tok, method, path):
        """CVAT's access-token rules: users and access tokens list/view only (access_token_plugin.users and
        .access_tokens rego); projects and tasks writable unless read-only; everything else: a read-only token
        may use safe methods only (AccessTokenReadOnlyDefaultPermission)."""
        if tok is None or method in SAFE:
            return
        if path.startswith("/api/users") or path.startswith("/api/auth/access_tokens"):
            raise ApiError(403, dict(NO_PERMISSION))
        if tok["read_only"]:
            raise ApiError(403, dict(NO_PERMISSION))

    # -- routes ------------------------------------------------------------------------------------------
    def _route(self, method, path, query, data):  # noqa: C901 - a routing table
        st = self.st
        uid, tok = self._authenticate(method)  # CSRF is enforced here, before any throttle
        public = (path == "/api/server/about" and method == "GET") or (
            path in ("/api/auth/login", "/api/auth/register") and method == "POST")
        if public and uid is None:
            self._throttle_anon()
        if path == "/api/server/about" and method == "GET":
            return 200, {"name": "Computer Vision Annotation Tool", "description": "CVAT API stand-in",
                         "version": VERSION, "logo_url": "", "subtitle": "stand-in"}, None
        if path == "/api/auth/login" and method == "POST":
            name = str(data.get("username") or data.get("email") or "")
            for user_id, u in st.users.items():
                if name and name.lower() in (u["username"].lower(), u["email"].lower()) \
                        and st.passwords.get(user_id) is not None and st.passwords.get(user_id) == data.get("password"):
                    key, cookies = st.login(user_id)
                    return 200, {"key": key}, cookies
            raise ApiError(400, {"non_field_errors": ["Unable to log in with provided credentials."]})
        if path == "/api/auth/register" and method == "POST":
            return self._register(data)

        if uid is None:
            raise ApiError(401, {"detail": "Authentication credentials were not provided."})
        self._token_permission(tok, method, path)
        org = self._org(query)

        if path == "/api/auth/access_tokens" and method == "POST":
            if not data.get("name"):
                raise ApiError(400, {"name": ["This field is required."]})
            tid = st.next_id("token")
            value = f"{secrets.token_urlsafe(6)[:8]}.{secrets.token_urlsafe(24)[:32]}"
            tok = {"id": tid, "name": data["name"], "created_date": now(), "updated_date": now(),
                   "expiry_date": data.get("expiry_date"), "last_used_date": None,
                   "read_only": bool(data.get("read_only", True)), "owner": st.basic_user(uid), "_user": uid}
            st.tokens[value] = tok
            return 201, dict({k: v for k, v in tok.items() if k != "_user"}, value=value), None
        if path == "/api/auth/access_tokens/self" and method == "GET":
            if not tok:
                raise ApiError(404, {"detail": "Not found."})
            return 200, {k: v for k, v in tok.items() if k != "_user"}, None
        if path == "/api/auth/access_tokens" and method == "GET":
            items = [{k: v for k, v in t.items() if k != "_user"} for t in st.tokens.values() if t["_user"] == uid]
            return self._page(items, query, path)

        # users
        if path == "/api/users/self" and method == "GET":
            return 200, st.users[uid], None
        if path == "/api/users" and method == "GET":
            items = list(st.users.values())
            if org:
                members = {m["user"]["id"] for m in st.memberships.values() if m["organization"] == org["id"]}
                items = [u for u in items if u["id"] in members]
            if query.get("search"):
                s = query["search"].lower()
                items = [u for u in items if any(s in u[k].lower() for k in ("username", "first_name", "last_name"))]
            for k in ("username", "first_name", "last_name"):
                if query.get(k):
                    items = [u for u in items if u[k] == query[k]]
            return self._page(items, query, path)
        m = re.fullmatch(r"/api/users/(\d+)", path)
        if m:
            u = self._get(st.users, int(m.group(1)))
            if method == "PATCH":
                for k in ("first_name", "last_name", "email", "is_active"):
                    if k in data:
                        u[k] = data[k]
            return 200, u, None

        # organizations
        if path == "/api/organizations":
            if method == "GET":
                mine = {m["organization"] for m in st.memberships.values() if m["user"]["id"] == uid}
                items = [o for o in st.orgs.values() if st.users[uid]["is_superuser"] or o["id"] in mine]
                for k in ("slug", "name"):
                    if query.get(k):
                        items = [o for o in items if o[k] == query[k]]
                return self._page(items, query, path)
            if method == "POST":
                errs = {}
                slug_errs = rules.slug_errors(data["slug"]) if "slug" in data else [rules.REQUIRED]
                if not slug_errs and any(o["slug"] == data["slug"] for o in st.orgs.values()):
                    slug_errs = [rules.SLUG_TAKEN]
                if slug_errs:
                    errs["slug"] = slug_errs
                if "name" in data and rules.org_name_errors(data["name"]):
                    errs["name"] = rules.org_name_errors(data["name"])
                if errs:
                    raise ApiError(400, errs)
                oid = st.next_id("org")
                o = {"id": oid, "slug": data["slug"], "name": data.get("name", ""),
                     "description": data.get("description", ""), "created_date": now(), "updated_date": now(),
                     "contact": data.get("contact", {}), "owner": st.basic_user(uid)}
                st.orgs[oid] = o
                self._add_member(oid, uid, "owner", joined=o["created_date"])
                return 201, o, None
        m = re.fullmatch(r"/api/organizations/(\d+)", path)
        if m:
            o = self._get(st.orgs, int(m.group(1)))
            if method == "PATCH":
                if "name" in data and rules.org_name_errors(data["name"]):
                    raise ApiError(400, {"name": rules.org_name_errors(data["name"])})
                for k in ("name", "description", "contact"):
                    if k in data:
                        o[k] = data[k]
                o["updated_date"] = now()
            return 200, o, None

        # memberships and invitations (the superuser may do anything the API accepts, as CVAT's OPA rules say)
        if path == "/api/memberships" and method == "GET":
            items = [x for x in st.memberships.values() if org is None or x["organization"] == org["id"]]
            if query.get("user"):
                items = [x for x in items if x["user"]["username"] == query["user"]]
            if query.get("role"):
                items = [x for x in items if x["role"] == query["role"]]
            return self._page(items, query, path)
        m = re.fullmatch(r"/api/memberships/(\d+)", path)
        if m:
            ms = self._get(st.memberships, int(m.group(1)))
            if method == "PATCH":
                if "role" in data and data["role"] not in ROLES:
                    raise ApiError(400, {"role": [f"\"{data['role']}\" is not a valid choice."]})
                ms["role"] = data.get("role", ms["role"])
                inv = st.invitations.get(ms["invitation"] or "")
                if inv:
                    inv["role"] = ms["role"]
            elif method == "DELETE":
                del st.memberships[ms["id"]]
                st.invitations.pop(ms["invitation"] or "", None)
                return 204, None, None
            return 200, ms, None
        if path == "/api/invitations":
            if method == "POST":
                return self._invite(uid, org, data)
            items = [i for i in st.invitations.values() if org is None or i["organization"] == org["id"]]
            items.sort(key=lambda i: i["created_date"], reverse=True)
            return self._page(items, query, path, order=None)

        # cloud storages
        if path == "/api/cloudstorages":
            if method == "GET":
                return self._page(self._scope(st.cloudstorages.values(), org), query, path)
            if method == "POST":
                self._check_cs(data, None)
                cid = st.next_id("cs")
                cs = {"id": cid, "owner": st.basic_user(uid), "manifests": list(data.get("manifests", [])),
                      "created_date": now(), "updated_date": now(), "provider_type": data["provider_type"],
                      "resource": data["resource"], "display_name": data["display_name"],
                      "credentials_type": data["credentials_type"],
                      "specific_attributes": data.get("specific_attributes", ""), "description": data.get("description", ""),
                      "organization": org["id"] if org else None}
                st.cloudstorages[cid] = cs
                # like CVAT 2.73 (Credentials.convert_to_db): only "key secret" is stored for KEY_SECRET_KEY_PAIR;
                # the session token served the creation check above and is dropped
                st.cs_secrets[cid] = {k: data[k] for k in ("key", "secret_key") if data.get(k)}
                return 201, cs, None
        m = re.fullmatch(r"/api/cloudstorages/(\d+)/status", path)
        if m and method == "GET":
            # like CVAT: HeadBucket with the STORED credentials; a JSON string AVAILABLE | NOT_FOUND | FORBIDDEN
            cs = self._get(st.cloudstorages, int(m.group(1)))
            try:
                self._s3(dict(cs, **st.cs_secrets.get(cs["id"], {}))).head_bucket(Bucket=cs["resource"])
                return 200, "AVAILABLE", None
            except Exception as e:  # noqa: BLE001
                code = str(getattr(e, "response", {}).get("Error", {}).get("Code", ""))
                return 200, "NOT_FOUND" if code in ("404", "NoSuchBucket") else "FORBIDDEN", None
        m = re.fullmatch(r"/api/cloudstorages/(\d+)", path)
        if m:
            cs = self._get(st.cloudstorages, int(m.group(1)))
            if method == "PATCH":
                creds = dict(st.cs_secrets.get(cs["id"], {}))
                # like CVAT 2.73 (Credentials.mapping_with_new_values): a PATCH resets the session token
                creds.update({k: data[k] for k in ("key", "secret_key") if k in data})
                merged = dict(cs, **{k: v for k, v in data.items() if k not in ("key", "secret_key", "session_token")})
                self._check_cs(dict(merged, **creds), cs["id"])
                for k in ("manifests", "resource", "display_name", "credentials_type", "specific_attributes", "description"):
                    if k in data:
                        cs[k] = data[k]
                st.cs_secrets[cs["id"]] = creds
                cs["updated_date"] = now()
            return 200, cs, None

        # projects and labels
        if path == "/api/projects":
            if method == "GET":
                items = self._scope(st.projects.values(), org)
                if query.get("name"):
                    items = [x for x in items if x["name"] == query["name"]]
                return self._page(items, query, path)
            if method == "POST":
                if not data.get("name"):
                    raise ApiError(400, {"name": ["This field is required."]})
                self._check_new_labels(data.get("labels", []))
                pid = st.next_id("project")
                pr = {"url": f"/api/projects/{pid}", "id": pid, "name": data["name"], "owner": st.basic_user(uid),
                      "assignee": None, "guide_id": None, "bug_tracker": "", "task_subsets": [],
                      "created_date": now(), "updated_date": now(), "status": "annotation", "dimension": None,
                      "organization": org["id"] if org else None, "organization_id": org["id"] if org else None,
                      "target_storage": None, "source_storage": None,
                      "tasks": {"count": 0, "url": f"/api/tasks?project_id={pid}"},
                      "labels": {"url": f"/api/labels?project_id={pid}"}, "assignee_updated_date": None}
                st.projects[pid] = pr
                self._apply_labels(pid, data.get("labels", []))
                qid = st.next_id("quality")
                st.quality[qid] = {"id": qid, "task_id": None, "project_id": pid, "job_filter": "", "inherit": True,
                                   "target_metric": "accuracy", "target_metric_threshold": 0.7,
                                   "max_validations_per_job": 0, "iou_threshold": 0.4, "oks_sigma": 0.09,
                                   "point_size_base": "group_bbox_size", "line_thickness": 0.01,
                                   "low_overlap_threshold": 0.8, "compare_line_orientation": True,
                                   "line_orientation_threshold": 0.1, "compare_groups": True,
                                   "group_match_threshold": 0.5, "check_covered_annotations": True,
                                   "object_visibility_threshold": 0.05, "panoptic_comparison": True,
                                   "compare_attributes": True, "empty_is_annotated": False,
                                   "created_date": now(), "updated_date": now(), "_org": pr["organization"]}
                return 201, pr, None
        m = re.fullmatch(r"/api/projects/(\d+)", path)
        if m:
            pr = self._get(st.projects, int(m.group(1)))
            if method == "PATCH":
                if "name" in data:
                    pr["name"] = data["name"]
                if "labels" in data:
                    self._apply_labels(pr["id"], data["labels"])
                pr["updated_date"] = now()
            return 200, pr, None
        if path == "/api/labels" and method == "GET":
            items = [lab for lab in st.labels.values()
                     if org is None or st.projects[lab["project_id"]]["organization"] == org["id"]]
            if query.get("project_id"):
                items = [lab for lab in items if lab["project_id"] == int(query["project_id"])]
            return self._page(items, query, path, order="id")

        # quality settings
        if path == "/api/quality/settings" and method == "GET":
            items = [q for q in st.quality.values() if org is None or q["_org"] == org["id"]]
            if query.get("project_id"):
                items = [q for q in items if q["project_id"] == int(query["project_id"])]
            return self._page([{k: v for k, v in q.items() if k != "_org"} for q in items], query, path, order="id")
        m = re.fullmatch(r"/api/quality/settings/(\d+)", path)
        if m:
            q = self._get(st.quality, int(m.group(1)))
            if method == "PATCH":
                for k, v in data.items():
                    if k not in q or k in ("id", "task_id", "project_id", "created_date"):
                        raise ApiError(400, {k: ["Unknown or read-only field."]})
                    if k == "target_metric" and v not in ("accuracy", "precision", "recall"):
                        raise ApiError(400, {k: [f"\"{v}\" is not a valid choice."]})
                    if k.endswith("threshold") and not (0 <= float(v) <= 1):
                        raise ApiError(400, {k: ["Ensure this value is less than or equal to 1."]})
                    q[k] = v
                q["updated_date"] = now()
            return 200, {k: v for k, v in q.items() if k != "_org"}, None

        # webhooks
        if path == "/api/webhooks":
            if method == "GET":
                items = self._scope(st.webhooks.values(), org)
                return self._page(items, query, path)
            if method == "POST":
                errs = {}
                for f in ("target_url", "type", "events"):
                    if not data.get(f):
                        errs[f] = ["This field is required."]
                if data.get("type") == "project" and not data.get("project_id"):
                    errs["project_id"] = ["project_id is required for project webhooks"]
                if errs:
                    raise ApiError(400, errs)
                wid = st.next_id("webhook")
                w = {"id": wid, "url": f"/api/webhooks/{wid}", "target_url": data["target_url"],
                     "description": data.get("description", ""), "type": data["type"],
                     "content_type": data.get("content_type", "application/json"), "is_active": data.get("is_active", True),
                     "enable_ssl": data.get("enable_ssl", True), "created_date": now(), "updated_date": now(),
                     "owner": st.basic_user(uid), "project_id": data.get("project_id"),
                     "organization": org["id"] if org else None, "events": list(data["events"])}
                st.webhooks[wid] = w
                st.webhook_secrets[wid] = data.get("secret", "")
                return 201, w, None
        m = re.fullmatch(r"/api/webhooks/(\d+)", path)
        if m:
            w = self._get(st.webhooks, int(m.group(1)))
            if method == "PATCH":
                for k in ("target_url", "description", "content_type", "is_active", "enable_ssl", "events"):
                    if k in data:
                        w[k] = data[k]
                if "secret" in data:
                    st.webhook_secrets[w["id"]] = data["secret"]
            return 200, w, None

        # tasks
        if path == "/api/tasks":
            if method == "GET":
                items = self._scope(st.tasks.values(), org)
                for k in ("name", "project_id"):
                    if query.get(k):
                        items = [x for x in items if str(x[k]) == query[k]]
                return self._page(items, query, path)
            if method == "POST":
                if not data.get("name"):
                    raise ApiError(400, {"name": ["This field is required."]})
                if data.get("project_id") and data["project_id"] not in st.projects:
                    raise ApiError(400, {"project_id": ["Invalid project_id"]})
                tid = st.next_id("task")
                t = {"url": f"/api/tasks/{tid}", "id": tid, "name": data["name"], "project_id": data.get("project_id"),
                     "project_name": st.projects[data["project_id"]]["name"] if data.get("project_id") else None,
                     "owner": st.basic_user(uid), "assignee": None, "bug_tracker": "", "created_date": now(),
                     "updated_date": now(), "overlap": data.get("overlap"), "segment_size": data.get("segment_size", 0),
                     "status": "annotation", "guide_id": None,
                     "data": None, "dimension": "", "mode": "", "media_type": "", "subset": "",
                     "organization": org["id"] if org else None, "organization_id": org["id"] if org else None,
                     "target_storage": None, "source_storage": None,
                     "jobs": {"count": 0, "completed": 0, "validation": 0, "url": f"/api/jobs?task_id={tid}"},
                     "labels": {"url": f"/api/labels?task_id={tid}"}, "assignee_updated_date": None,
                     "validation_mode": None, "consensus_enabled": False}
                st.tasks[tid] = t
                return 201, t, None
        m = re.fullmatch(r"/api/tasks/(\d+)", path)
        if m and method == "GET":
            return 200, self._get(st.tasks, int(m.group(1))), None
        if m and method == "DELETE":
            t = self._get(st.tasks, int(m.group(1)))
            del st.tasks[t["id"]]
            st.task_data.pop(str(t["id"]), None)
            return 204, None, None
        m = re.fullmatch(r"/api/tasks/(\d+)/data/?", path)
        if m and method == "POST":
            return self._attach_data(self._get(st.tasks, int(m.group(1))), data)
        m = re.fullmatch(r"/api/requests/(.+)", path)
        if m and method == "GET":
            return 200, self._get(st.requests, m.group(1)), None
        raise ApiError(404 if method == "GET" else 405, {"detail": f"Method \"{method}\" not allowed." if method != "GET" else "Not found."})

    # -- tasks -------------------------------------------------------------------------------------------
    @staticmethod
    def _validation_params_errors(vp):
        """ValidationParamsSerializer.validate (cvat/apps/engine/serializers.py at ac6e63b)."""
        def one_of(keys):
            n = sum(k in vp for k in keys)
            opts = ", ".join(f'"{k}"' for k in keys)
            return None if n == 1 else (f"One of the fields {opts} required" if n == 0 else
                                        f"Only 1 of the fields {opts} can be used")
        if not isinstance(vp, dict) or vp.get("mode") not in ("gt", "gt_pool"):
            return {"mode": [rules.REQUIRED if not isinstance(vp, dict) or "mode" not in vp
                             else f"\"{vp.get('mode')}\" is not a valid choice."]}
        fsm = vp.get("frame_selection_method")
        if vp["mode"] == "gt_pool":
            if fsm not in ("manual", "random_uniform"):
                return {"non_field_errors": ['The "frame_selection_method" field must be one of \'manual\', '
                                             '\'random_uniform\'']}
            err = one_of(["frames_per_job_count", "frames_per_job_share"])
            if err:
                return {"non_field_errors": [err]}
        elif fsm is not None and fsm not in ("manual", "random_uniform", "random_per_job"):
            return {"frame_selection_method": [f"\"{fsm}\" is not a valid choice."]}
        if fsm == "random_uniform":
            err = one_of(["frame_count", "frame_share"])
        elif fsm == "random_per_job":
            err = one_of(["frames_per_job_count", "frames_per_job_share"])
        elif fsm == "manual":
            err = None if "frames" in vp else 'The "frames" field is required'
        else:
            err = None
        return {"non_field_errors": [err]} if err else None

    def _attach_data(self, t, data):
        """POST /api/tasks/{id}/data/: CVAT validates the request, then creates the media in a background job
        (reported by /api/requests/{rq_id}); the Data object and its files stay when that job fails."""
        st = self.st
        if t["media_type"]:
            raise ApiError(400, ["Adding more data is not supported"])
        if not data.get("server_files"):
            raise ApiError(400, {"server_files": ["No media data found"]})
        cs = st.cloudstorages.get(data.get("cloud_storage_id"))
        if cs is None:
            raise ApiError(400, {"cloud_storage_id": ["Cloud storage not found"]})
        vp = data.get("validation_params")
        if vp is not None:
            err = self._validation_params_errors(vp)
            if err:
                raise ApiError(400, {"validation_params": err})
        prev = st.task_data.get(str(t["id"]), {})
        files = list(prev.get("server_files", [])) + list(data["server_files"])  # CVAT appends to the Data
        st.task_data[str(t["id"])] = dict(data, server_files=files)
        t.update(data=t["id"], data_cloud_storage_id=cs["id"], size=0, updated_date=now())
        rq = f"action=create&target=task&target_id={t['id']}"
        req = {"id": rq, "status": "finished", "message": "", "progress": 0.0, "created_date": now(),
               "started_date": now(), "finished_date": now(), "owner": {"id": t["owner"]["id"],
                                                                        "username": t["owner"]["username"]},
               "result_url": None, "result_id": None,
               "operation": {"type": "create:task", "target": "task", "project_id": t["project_id"],
                             "task_id": t["id"], "job_id": None, "org_id": t["organization"], "format": None,
                             "lightweight": None}}
        st.requests[rq] = req
        try:
            if vp and vp["mode"] == "gt_pool" and data.get("sorting_method", "lexicographical") != "random":
                raise ApiError(400, "rest_framework.exceptions.ValidationError: [ErrorDetail(string='validation mode "
                                    "\"gt_pool\" can only be used with \"random\" sorting', code='invalid')]\n")
            n = self._count_objects(cs, files)
        except ApiError as e:
            req.update(status="failed", message=e.body if isinstance(e.body, str) else json.dumps(e.body))
            return 202, {"rq_id": rq}, None
        seg = t["segment_size"] or 0
        mode = (vp or {}).get("mode")
        if mode == "gt_pool":
            pool = int(vp.get("frame_count") or round(float(vp.get("frame_share", 0)) * n))
            regular = n - pool
            per_job = int(vp.get("frames_per_job_count") or round(float(vp.get("frames_per_job_share", 0)) * (seg or regular)))
            jobs = max(1, math.ceil(regular / (seg or regular or 1)))
            size, count, seg_out = regular + jobs * per_job + pool, jobs + 1, 0
        else:
            jobs = max(1, math.ceil(n / (seg or n or 1)))
            size, count, seg_out = n, jobs + (1 if mode == "gt" else 0), seg or n
        t.update(size=size, segment_size=seg_out, overlap=t["overlap"] or 0, mode="annotation", media_type="image",
                 dimension="2d", image_quality=data.get("image_quality", 70), data_chunk_size=72,
                 data_original_chunk_type="imageset", data_compressed_chunk_type="imageset", validation_mode=mode)
        t["jobs"]["count"] = count
        return 202, {"rq_id": rq}, None

    # -- helpers -----------------------------------------------------------------------------------------
    def _add_member(self, oid, uid, role, invitation=None, joined=None, active=True):
        st = self.st
        mid = st.next_id("membership")
        ms = {"id": mid, "user": st.basic_user(uid), "organization": oid, "is_active": active,
              "joined_date": (joined or now()) if active else None, "role": role, "invitation": invitation}
        st.memberships[mid] = ms
        return ms

    def _register(self, data):
        st = self.st
        if not isinstance(data, dict):
            raise ApiError(400, {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
        errors = rules.registration_errors(data, similarity=False, username_exists=lambda n: any(
            u["username"].lower() == n.lower() for u in st.users.values()))
        if errors:
            raise ApiError(400, errors)
        email = rules.normalize_email(data["email"]) if data.get("email") else ""
        # CVAT looks the e-mail up even when none is given: "" matches every user without an e-mail, so only the
        # first registration without an e-mail succeeds (later ones: "already registered with this e-mail")
        same = [i for i, u in st.users.items() if u["email"].lower() == email]
        if same and st.passwords[same[0]] is not None:
            raise ApiError(400, [rules.EMAIL_TAKEN])
        names = {k: str(data.get(k, "")).strip() for k in ("first_name", "last_name")}
        username = str(data["username"]).strip()
        pw_errors = rules.password_errors(data["password1"], dict(names, username=username, email=email))
        if pw_errors:
            raise ApiError(400, {"non_field_errors": pw_errors})
        if same:  # a placeholder user left by an invitation: CVAT takes it over (get_dummy_or_regular_user)
            user_id = same[0]
            st.users[user_id].update(username=username, **names)
            st.passwords[user_id] = data["password1"]
            for ms in st.memberships.values():
                if ms["user"]["id"] == user_id:
                    ms["user"] = st.basic_user(user_id)
        else:
            user_id = st.add_user(username, email, data["password1"], **names)
        key, cookies = st.login(user_id)
        u = st.users[user_id]
        return 201, {"username": u["username"], "email": u["email"], "first_name": u["first_name"],
                     "last_name": u["last_name"], "email_verification_required": False, "key": key}, cookies

    def _invite(self, uid, org, data):
        st = self.st
        if org is None:  # CVAT: an unhandled error (no organisation), Django's HTML 500 page
            raise ApiError(500, "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Server Error (500)</title>\n"
                                "</head>\n<body>\n  <h1>Server Error (500)</h1><p></p>\n</body>\n</html>\n",
                           content_type="text/html; charset=utf-8")
        errs = {}
        if "role" not in data:
            errs["role"] = [rules.REQUIRED]
        elif data["role"] not in ROLES:
            errs["role"] = [f"\"{data['role']}\" is not a valid choice."]
        email_errs = rules.email_errors(data["email"]) if "email" in data else [rules.REQUIRED]
        if email_errs:
            errs["email"] = email_errs
        if errs:
            raise ApiError(400, errs)
        email = rules.normalize_email(data["email"])
        user_id = next((i for i, u in st.users.items() if u["email"].lower() == email), None)
        if user_id is None:  # CVAT creates a placeholder user with an unusable password
            user_id = st.add_user(email, email, None)
        if any(x["user"]["id"] == user_id and x["organization"] == org["id"] for x in st.memberships.values()):
            raise ApiError(400, ["The user is a member of the organization already."])
        regular = st.passwords[user_id] is not None
        key = secrets.token_urlsafe(48)[:64]
        ms = self._add_member(org["id"], user_id, data["role"], invitation=key, active=regular)
        inv = {"key": key, "created_date": now(), "owner": st.basic_user(uid), "role": data["role"],
               "user": st.basic_user(user_id), "organization": org["id"], "expired": None, "accepted": regular,
               "organization_info": {"id": org["id"], "slug": org["slug"]}}
        st.invitations[key] = inv
        if not regular:  # Invitation.send(): e-mail the invitation, which needs a mail backend
            if not st.mail_backend:
                raise ApiError(500, "Email backend is not configured.")
            inv["expired"] = False
        del ms  # the membership stays, active only for a regular user
        return 201, inv, None

    def _apply_labels(self, pid, labels):
        st = self.st
        current = {lab["name"]: lab for lab in st.labels.values() if lab["project_id"] == pid}
        for spec in labels:
            if "id" in spec:
                lab = st.labels.get(spec["id"])
                if lab is None or lab["project_id"] != pid:
                    raise ApiError(400, {"labels": [f"Label {spec['id']} does not exist in the project"]})
            elif spec.get("name") in current:
                raise ApiError(400, {"labels": [f"Label '{spec['name']}' already exists"]})
            else:
                lid = st.next_id("label")
                lab = {"id": lid, "name": spec["name"], "color": spec.get("color") or "#%06x" % (lid * 2654435 % 0xFFFFFF),
                       "attributes": [], "type": spec.get("type", "any"), "sublabels": [],
                       "project_id": pid, "parent_id": None, "has_parent": False}
                st.labels[lid] = lab
                current[lab["name"]] = lab
            for k in ("name", "color", "type"):
                if spec.get(k):
                    lab[k] = spec[k]
            attrs = {a["name"]: a for a in lab["attributes"]}
            for a in spec.get("attributes", []):
                if a.get("input_type", "select") not in ("checkbox", "radio", "number", "text", "select"):
                    raise ApiError(400, {"input_type": [f"\"{a.get('input_type')}\" is not a valid choice."]})
                cur = None
                if "id" in a:
                    cur = next((x for x in lab["attributes"] if x["id"] == a["id"]), None)
                cur = cur or attrs.get(a["name"])
                if cur is None:
                    cur = {"id": st.next_id("attribute"), "name": a["name"]}
                    lab["attributes"].append(cur)
                values = [str(v) for v in a.get("values", [])]
                cur.update(mutable=bool(a.get("mutable", cur.get("mutable", False))),
                           input_type=a.get("input_type", cur.get("input_type", "select")), values=values,
                           default_value=str(a["default_value"]) if a.get("default_value") is not None
                           else cur.get("default_value", ""))

    @staticmethod
    def _check_new_labels(labels):
        """POST /api/projects: every attribute needs name, mutable, input_type and values (AttributeSerializer);
        CVAT's error body lists one entry per label ({} when it is fine)."""
        if not isinstance(labels, list):
            raise ApiError(400, {"labels": ['Expected a list of items but got type "%s".' % type(labels).__name__]})
        out, bad = [], False
        for spec in labels:
            attr_errs = []
            for a in spec.get("attributes", []) if isinstance(spec, dict) else []:
                e = {f: [rules.REQUIRED] for f in ("name", "mutable", "input_type", "values") if f not in a}
                attr_errs.append(e)
            errs = {}
            if isinstance(spec, dict) and not spec.get("name"):
                errs["name"] = [rules.REQUIRED if "name" not in spec else rules.BLANK]
            if any(attr_errs):
                errs["attributes"] = attr_errs
            bad = bad or bool(errs)
            out.append(errs)
        if bad:
            raise ApiError(400, {"labels": out})

    def _check_cs(self, data, cid):
        errs = {}
        for f in ("provider_type", "resource", "display_name", "credentials_type"):
            if not data.get(f):
                errs[f] = ["This field is required."]
        if errs:
            raise ApiError(400, errs)
        if data["provider_type"] != "AWS_S3_BUCKET":
            raise ApiError(400, {"provider_type": ["stand-in supports AWS_S3_BUCKET only"]})
        if data["credentials_type"] == "KEY_SECRET_KEY_PAIR" and not (data.get("key") and data.get("secret_key")):
            raise ApiError(400, {"key": ["key and secret_key are required for KEY_SECRET_KEY_PAIR"]})
        try:
            self._s3(data).head_bucket(Bucket=data["resource"])
        except Exception as e:  # noqa: BLE001 - CVAT answers 400 for any access problem
            raise ApiError(400, [f"The resource {data['resource']} is not available: {type(e).__name__}"])

    def _s3(self, data):
        import boto3

        attrs = dict(parse_qsl(data.get("specific_attributes", "")))
        creds = self.st.cs_secrets.get(data.get("id"), {}) if "key" not in data else data
        return boto3.client("s3", endpoint_url=attrs.get("endpoint_url") or self.st.s3_endpoint,
                            region_name=attrs.get("region", "us-east-1"),
                            aws_access_key_id=creds.get("key") or "anonymous",
                            aws_secret_access_key=creds.get("secret_key") or "anonymous",
                            aws_session_token=creds.get("session_token"))

    def _count_objects(self, cs, files):
        """Media frames: one per object under a directory ("prefix/"), one per existing key; a missing key (or an
        empty directory, not checked against CVAT) fails like CVAT's task creation job."""
        try:
            s3 = self._s3(dict(cs, **self.st.cs_secrets.get(cs["id"], {})))
            total = 0
            for f in files:
                keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
                    Bucket=cs["resource"], Prefix=f) for o in page.get("Contents", [])]
                found = len(keys) if f.endswith("/") else int(f in keys)
                if not found:
                    raise ApiError(404, f"rest_framework.exceptions.NotFound: The file '{f}' not found on the cloud "
                                        f"storage '{cs['resource']}'\n")
                total += found
            return total
        except ApiError:
            raise
        except Exception as e:  # noqa: BLE001
            raise ApiError(400, f"Cannot read {files} from {cs['resource']}: {type(e).__name__}\n")


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, admin: str, password: str, s3_endpoint: str | None, anon_rate="100/minute",
                 mail_backend: bool = False):
        super().__init__(("127.0.0.1", port), Handler)
        self.state = State(admin, password, s3_endpoint, anon_rate=anon_rate, mail_backend=mail_backend)


def serve_in_thread(port=0, admin="admin", password="admin-password", s3_endpoint=None, anon_rate="100/minute",
                    mail_backend=False) -> StandinServer:
    """Starts the stand-in on 127.0.0.1:`port` (0: any free port). `anon_rate`: CVAT's anonymous throttle
    ("100/minute" as upstream; None disables it); `mail_backend`: True models a CVAT with SMTP configured."""
    srv = StandinServer(port, admin, password, s3_endpoint, anon_rate=anon_rate, mail_backend=mail_backend)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--admin", default="admin")
    ap.add_argument("--password", default="admin-password")
    ap.add_argument("--s3-endpoint", default=None)
    ap.add_argument("--anon-rate", default="100/minute", help='e.g. "100/minute"; "none" disables the throttle')
    ap.add_argument("--mail-backend", action="store_true", help="invitations of unknown e-mails succeed")
    args = ap.parse_args()
    rate = None if args.anon_rate.lower() == "none" else args.anon_rate
    srv = StandinServer(args.port, args.admin, args.password, args.s3_endpoint, anon_rate=rate,
                        mail_backend=args.mail_backend)
    print(f"listening on http://127.0.0.1:{srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
