"""CVAT REST API stand-in: a small threaded HTTP server on 127.0.0.1 that keeps state in memory.

It answers the endpoints the cvat_seed role uses, shaped like CVAT v2.73.0 (cvat/schema.yml at upstream
ac6e63b): pagination (count/next/previous/results, `page_size`, `page`), organisation context
(`X-Organization` header or `?org=`), 400/401/404 bodies in CVAT's shape, auto-accepted invitations
(ORG_INVITATION_CONFIRM = "No"), access tokens (Bearer), login keys (Token) and session cookies (for cvat-sdk),
`/api/server/about` and `/api/server/health/`, per-project quality settings, and a cloud-storage bucket check
against an S3 endpoint (moto in tests) with the credentials it was given.

Test controls (not counted): `GET /_standin/stats` (requests by method, writes), `POST /_standin/faults`
{"unavailable": N} (the next N requests answer 503, e.g. CVAT still starting) or
{"fail": {"method": "POST", "path": "/api/projects", "after": K, "status": 500, "count": 1}} (a 5xx in the
middle, before the request is processed), `POST /_standin/reset_stats`, `GET /_standin/state`.

What it does NOT prove: CVAT's permission engine (OPA rules: every authenticated user is treated as the
superuser here), real data upload and media decoding (a task's size is the declared frame count, or the
number of S3 objects under the given keys), job creation, CVAT's full validation rules (only the ones
implemented below), e-mail confirmation of invitations, and the exact text of CVAT's error messages.
"""
from __future__ import annotations

import argparse
import json
import re
import secrets
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

VERSION = "2.73.0"
ROLES = ("worker", "supervisor", "maintainer", "owner")


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ApiError(Exception):
    def __init__(self, status: int, body):
        super().__init__(str(body))
        self.status = status
        self.body = body


class State:
    def __init__(self, admin: str, password: str, s3_endpoint: str | None):
        self.lock = threading.RLock()
        self.s3_endpoint = s3_endpoint
        self.ids: dict[str, int] = {}
        self.users: dict[int, dict] = {}
        self.passwords: dict[int, str] = {}
        self.keys: dict[str, int] = {}  # login key / session id -> user id
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


class Handler(BaseHTTPRequestHandler):
    server_version = "cvat-standin"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    @property
    def st(self) -> State:
        return self.server.state  # type: ignore[attr-defined]

    # -- plumbing ------------------------------------------------------------------------------------
    def _send(self, status: int, body=None, cookies: dict | None = None):
        raw = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (cookies or {}).items():
            self.send_header("Set-Cookie", f"{k}={v}; Path=/")
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
            raise ApiError(400, {"detail": "JSON parse error"})

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
            try:
                status, body, cookies = self._route(method, path, query, data)
            except ApiError as e:
                return self._send(e.status, e.body)
        self._send(status, body, cookies)

    def _control(self, method, path, data):
        st = self.st
        with st.lock:
            if path == "/_standin/stats":
                stats = dict(st.stats)
                stats["writes"] = sum(v for k, v in st.stats.items() if k in ("POST", "PATCH", "PUT", "DELETE"))
                return self._send(200, stats)
            if path == "/_standin/reset_stats":
                st.stats.clear()
                return self._send(200, {})
            if path == "/_standin/faults":
                st.unavailable = int(data.get("unavailable", 0))
                st.fail_rules = []
                if data.get("fail"):
                    f = data["fail"]
                    st.fail_rules.append({"method": f["method"], "path": f["path"], "after": int(f.get("after", 0)),
                                          "status": int(f.get("status", 500)), "count": int(f.get("count", 1)), "seen": 0})
                return self._send(200, {})
            if path == "/_standin/state":
                return self._send(200, {
                    "tasks": list(st.tasks.values()), "task_data": st.task_data,
                    "cloudstorage_credentials": {str(k): sorted(v) for k, v in st.cs_secrets.items()},
                    "webhook_secret_set": {str(k): bool(v) for k, v in st.webhook_secrets.items()}})
        return self._send(404, {"detail": "Not found."})

    # -- auth and context ------------------------------------------------------------------------------
    def _user(self) -> int:
        auth = self.headers.get("Authorization", "")
        st = self.st
        if auth.startswith("Bearer "):
            tok = st.tokens.get(auth[7:])
            if tok:
                tok["last_used_date"] = now()
                return tok["_user"]
        elif auth.startswith("Token "):
            if auth[6:] in st.keys:
                return st.keys[auth[6:]]
        cookie = self.headers.get("Cookie", "")
        m = re.search(r"sessionid=([^;]+)", cookie)
        if m and m.group(1) in st.keys:
            return st.keys[m.group(1)]
        raise ApiError(401, {"detail": "Authentication credentials were not provided."})

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

    def _page(self, items, query, path):
        base = f"http://{self.headers.get('Host', '127.0.0.1')}"
        return 200, paginate(items, query, path, base), None

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

    # -- routes ------------------------------------------------------------------------------------------
    def _route(self, method, path, query, data):  # noqa: C901 - a routing table
        st = self.st
        if path == "/api/server/health/" and method == "GET":
            return 200, {"status": "ok"}, None
        if path == "/api/server/about" and method == "GET":
            return 200, {"name": "Computer Vision Annotation Tool", "description": "CVAT API stand-in",
                         "version": VERSION, "logo_url": "", "subtitle": "stand-in"}, None
        if path == "/api/auth/login" and method == "POST":
            name = data.get("username") or data.get("email")
            for uid, u in st.users.items():
                if name in (u["username"], u["email"]) and st.passwords.get(uid) == data.get("password"):
                    key = secrets.token_hex(20)
                    st.keys[key] = uid
                    return 200, {"key": key}, {"sessionid": key, "csrftoken": secrets.token_hex(16)}
            raise ApiError(400, {"non_field_errors": ["Unable to log in with provided credentials."]})
        if path == "/api/auth/register" and method == "POST":
            errors = {}
            for f in ("username", "password1", "password2"):
                if not data.get(f):
                    errors[f] = ["This field is required."]
            if data.get("password1") != data.get("password2"):
                errors["non_field_errors"] = ["The two password fields didn't match."]
            if any(u["username"] == data.get("username") for u in st.users.values()):
                errors["username"] = ["A user with that username already exists."]
            if data.get("email") and any(u["email"].lower() == data["email"].lower() for u in st.users.values()):
                errors["email"] = ["A user is already registered with this e-mail address."]
            if errors:
                raise ApiError(400, errors)
            uid = st.add_user(data["username"], data.get("email", ""), data["password1"],
                              first_name=data.get("first_name", ""), last_name=data.get("last_name", ""))
            u = st.users[uid]
            return 201, {"username": u["username"], "email": u["email"], "first_name": u["first_name"],
                         "last_name": u["last_name"], "email_verification_required": False, "key": None}, None

        uid = self._user()
        org = self._org(query)

        if path == "/api/auth/access_tokens" and method == "POST":
            if not data.get("name"):
                raise ApiError(400, {"name": ["This field is required."]})
            tid = st.next_id("token")
            value = secrets.token_urlsafe(32)
            tok = {"id": tid, "name": data["name"], "created_date": now(), "updated_date": now(),
                   "expiry_date": data.get("expiry_date"), "last_used_date": None,
                   "read_only": bool(data.get("read_only", False)), "owner": st.basic_user(uid), "_user": uid}
            st.tokens[value] = tok
            return 201, dict({k: v for k, v in tok.items() if k != "_user"}, value=value), None
        if path == "/api/auth/access_tokens/self" and method == "GET":
            auth = self.headers.get("Authorization", "")
            tok = st.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
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
                items = [u for u in items if query["search"] in u["username"]]
            if query.get("username"):
                items = [u for u in items if u["username"] == query["username"]]
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
                return self._page(items, query, path)
            if method == "POST":
                slug = data.get("slug", "")
                if not slug or len(slug) > 16 or not re.fullmatch(r"[a-zA-Z0-9_-]+", slug):
                    raise ApiError(400, {"slug": ["Enter a valid slug of at most 16 characters."]})
                if any(o["slug"] == slug for o in st.orgs.values()):
                    raise ApiError(400, {"slug": ["organization with this slug already exists."]})
                oid = st.next_id("org")
                o = {"id": oid, "slug": slug, "name": data.get("name", ""), "description": data.get("description", ""),
                     "created_date": now(), "updated_date": now(), "contact": data.get("contact", {}),
                     "owner": st.basic_user(uid)}
                st.orgs[oid] = o
                self._add_member(oid, uid, "owner")
                return 201, o, None
        m = re.fullmatch(r"/api/organizations/(\d+)", path)
        if m:
            o = self._get(st.orgs, int(m.group(1)))
            if method == "PATCH":
                for k in ("name", "description", "contact"):
                    if k in data:
                        o[k] = data[k]
                o["updated_date"] = now()
            return 200, o, None

        # memberships and invitations
        if path == "/api/memberships" and method == "GET":
            items = [x for x in st.memberships.values() if org is None or x["organization"] == org["id"]]
            if query.get("user"):
                items = [x for x in items if x["user"]["username"] == query["user"]]
            return self._page(items, query, path)
        m = re.fullmatch(r"/api/memberships/(\d+)", path)
        if m:
            ms = self._get(st.memberships, int(m.group(1)))
            if method == "PATCH":
                if data.get("role") not in ROLES or data.get("role") == "owner":
                    raise ApiError(400, {"role": [f"\"{data.get('role')}\" is not a valid choice."]})
                if ms["role"] == "owner":
                    raise ApiError(403, {"detail": "You do not have permission to perform this action."})
                ms["role"] = data["role"]
            elif method == "DELETE":
                if ms["role"] == "owner":
                    raise ApiError(403, {"detail": "You do not have permission to perform this action."})
                del st.memberships[ms["id"]]
                return 204, None, None
            return 200, ms, None
        if path == "/api/invitations":
            if org is None:
                raise ApiError(400, {"detail": "Organization context is required"})
            if method == "POST":
                if data.get("role") not in ("worker", "supervisor", "maintainer"):
                    raise ApiError(400, {"role": [f"\"{data.get('role')}\" is not a valid choice."]})
                user = next((u for u in st.users.values() if u["email"].lower() == str(data.get("email", "")).lower()), None)
                if user is None:
                    raise ApiError(400, {"email": ["No user with this email (stand-in: invitations of unknown e-mails are not modelled)."]})
                if any(x["user"]["id"] == user["id"] and x["organization"] == org["id"] for x in st.memberships.values()):
                    raise ApiError(400, {"detail": "The user is already a member of the organization"})
                key = secrets.token_hex(16)
                ms = self._add_member(org["id"], user["id"], data["role"], invitation=key)
                inv = {"key": key, "created_date": now(), "owner": st.basic_user(uid), "role": data["role"],
                       "user": st.basic_user(user["id"]), "organization": org["id"], "expired": False, "accepted": True,
                       "organization_info": {"id": org["id"], "slug": org["slug"], "name": org["name"]}}
                st.invitations[key] = inv
                ms["joined_date"] = now()
                return 201, inv, None
            items = [i for i in st.invitations.values() if i["organization"] == org["id"]]
            return self._page(items, query, path)

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
                st.quality[qid] = {"id": qid, "task_id": None, "project_id": pid, "job_filter": "", "inherit": False,
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
            return self._page(items, query, path)

        # quality settings
        if path == "/api/quality/settings" and method == "GET":
            items = [q for q in st.quality.values() if org is None or q["_org"] == org["id"]]
            if query.get("project_id"):
                items = [q for q in items if q["project_id"] == int(query["project_id"])]
            return self._page([{k: v for k, v in q.items() if k != "_org"} for q in items], query, path)
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
                     "organization": org["id"] if org else None, "events": list(data["events"]), "last_status": 0,
                     "last_delivery_date": now()}
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
                return self._page(self._scope(st.tasks.values(), org), query, path)
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
                     "status": "annotation", "data_chunk_size": None, "data_cloud_storage_id": None, "guide_id": None,
                     "size": 0, "image_quality": 70, "data": None, "dimension": "2d", "mode": "", "subset": "",
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
        m = re.fullmatch(r"/api/tasks/(\d+)/data/?", path)
        if m and method == "POST":
            t = self._get(st.tasks, int(m.group(1)))
            if t["data"] is not None:
                raise ApiError(400, {"detail": "Adding more data is not supported"})
            if not data.get("server_files"):
                raise ApiError(400, {"server_files": ["No media data found"]})
            cs = st.cloudstorages.get(data.get("cloud_storage_id"))
            if cs is None:
                raise ApiError(400, {"cloud_storage_id": ["Cloud storage not found"]})
            vp = data.get("validation_params")
            if vp and vp.get("mode") == "gt_pool" and not (vp.get("frames_per_job_count") or vp.get("frames_per_job_share")):
                raise ApiError(400, {"validation_params": ["frames_per_job_count or frames_per_job_share is required for gt_pool"]})
            size = self._count_objects(cs, data["server_files"])
            t.update(data=t["id"], size=size, data_cloud_storage_id=cs["id"], mode="annotation",
                     image_quality=data.get("image_quality", 70), validation_mode=(vp or {}).get("mode"),
                     data_chunk_size=36)
            seg = t["segment_size"] or size or 1
            t["jobs"]["count"] = max(1, -(-size // seg)) + (1 if vp and vp.get("mode") == "gt" else 0)
            st.task_data[str(t["id"])] = {k: v for k, v in data.items()}
            rq = f"create:task-{t['id']}-{uuid.uuid4().hex[:8]}"
            st.requests[rq] = {"id": rq, "status": "finished", "message": "", "operation": {"type": "create:task", "task_id": t["id"]}}
            return 202, {"rq_id": rq}, None
        m = re.fullmatch(r"/api/requests/(.+)", path)
        if m and method == "GET":
            return 200, self._get(st.requests, m.group(1)), None
        raise ApiError(404 if method == "GET" else 405, {"detail": f"Method \"{method}\" not allowed." if method != "GET" else "Not found."})

    # -- helpers -----------------------------------------------------------------------------------------
    def _add_member(self, oid, uid, role, invitation=None):
        st = self.st
        mid = st.next_id("membership")
        ms = {"id": mid, "user": st.basic_user(uid), "organization": oid, "is_active": True, "joined_date": now(),
              "role": role, "invitation": invitation}
        st.memberships[mid] = ms
        return ms

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
                       "attributes": [], "type": spec.get("type", "any"), "svg": "", "sublabels": [],
                       "project_id": pid, "task_id": None, "parent_id": None, "has_parent": False}
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
                           else (values[0] if values else ""))

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
        try:
            s3 = self._s3(dict(cs, **self.st.cs_secrets.get(cs["id"], {})))
            total = 0
            for f in files:
                resp = s3.list_objects_v2(Bucket=cs["resource"], Prefix=f)
                total += resp.get("KeyCount", 0)
            return total
        except Exception as e:  # noqa: BLE001
            raise ApiError(400, [f"Cannot read {files} from {cs['resource']}: {type(e).__name__}"])


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, admin: str, password: str, s3_endpoint: str | None):
        super().__init__(("127.0.0.1", port), Handler)
        self.state = State(admin, password, s3_endpoint)


def serve_in_thread(port=0, admin="admin", password="admin-password", s3_endpoint=None) -> StandinServer:
    srv = StandinServer(port, admin, password, s3_endpoint)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--admin", default="admin")
    ap.add_argument("--password", default="admin-password")
    ap.add_argument("--s3-endpoint", default=None)
    args = ap.parse_args()
    srv = StandinServer(args.port, args.admin, args.password, args.s3_endpoint)
    print(f"listening on http://127.0.0.1:{srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
