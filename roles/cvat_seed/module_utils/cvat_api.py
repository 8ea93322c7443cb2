# -*- coding: utf-8 -*-
# Shared client for the cvat_seed modules: CVAT REST API over Ansible's own HTTP helpers.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small CVAT REST client used by every cvat_* module of the cvat_seed role.

- `Request` from ansible.module_utils.urls (the helper behind open_url; no third-party HTTP library on the
  controller), with one TLS context per client: building it per call (open_url) costs ~50 ms each;
- `Accept: application/vnd.cvat+json, application/json;q=0.9`: CVAT's API renders only its vendor type (406 for a
  plain `application/json`), while `/api/server/health/` wants `application/json`; this one header satisfies both;
- no cookies kept: `POST /api/auth/register` logs the new user in, and a client that sends that session cookie back
  gets 403 "CSRF Failed" on its next POST; header authentication needs no cookie;
- HTTP 429 (CVAT throttles anonymous requests, 100 a minute per address) waits as `Retry-After` (or CVAT's
  "Expected available in N seconds") says and tries again, within `throttle_timeout`; a throttled request was not
  processed, so this is safe for a POST too;
- retries with exponential backoff on 5xx and connection errors; a POST (not idempotent) is only retried
  after the caller's `recheck` lookup shows the first attempt did not land;
- waits for `GET /api/server/health/`;
- paginated reads (`page_size`, follows `next`);
- errors quote CVAT's own message.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import socket
import time

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import urlencode, urlsplit, parse_qsl
from ansible.module_utils.six.moves import http_cookiejar
from ansible.module_utils.urls import Request, make_context

CVAT_ROLES = ('worker', 'supervisor', 'maintainer', 'owner')
ACCEPT = 'application/vnd.cvat+json, application/json;q=0.9'

# The common module arguments of every API module (documented in each module's DOCUMENTATION).
API_ARGSPEC = dict(
    url=dict(type='str', required=True),
    api_token=dict(type='str', no_log=True),
    api_token_type=dict(type='str', default='Bearer', choices=['Bearer', 'Token']),
    username=dict(type='str'),
    password=dict(type='str', no_log=True),
    organization=dict(type='str'),
    validate_certs=dict(type='bool', default=True),
    timeout=dict(type='int', default=30),
    retries=dict(type='int', default=6),
    retry_backoff=dict(type='float', default=1.0),
    health_timeout=dict(type='int', default=300),
    throttle_timeout=dict(type='int', default=600),
    page_size=dict(type='int', default=500),
)


class CvatApiError(Exception):
    def __init__(self, method, path, status, body):
        self.method = method
        self.path = path
        self.status = status
        self.body = body
        super(CvatApiError, self).__init__(
            '%s %s failed with HTTP %s; CVAT said: %s' % (method, path, status, cvat_message(body)))


def cvat_message(body):
    """CVAT's own words from an error body: {"detail": ...}, {"field": ["msg"]} or a list of strings."""
    if body is None or body == '':
        return '(empty body)'
    if isinstance(body, dict):
        if 'detail' in body and len(body) == 1:
            return str(body['detail'])
        return json.dumps(body, sort_keys=True)
    if isinstance(body, list):
        return '; '.join(str(x) for x in body)
    return str(body)[:2000]


class CvatClient:
    RETRY_STATUSES = (500, 502, 503, 504)
    SAFE_POST_RETRY = (502, 503, 504)

    def __init__(self, module, url, api_token=None, api_token_type='Bearer', username=None, password=None,
                 organization=None, validate_certs=True, timeout=30, retries=6, retry_backoff=1.0,
                 health_timeout=300, throttle_timeout=600, page_size=500):
        self.module = module
        self.base = url.rstrip('/')
        self.token = api_token
        self.token_type = api_token_type
        self.username = username
        self.password = password
        self.org = organization
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.retries = retries
        self.backoff = retry_backoff
        self.health_timeout = health_timeout
        self.throttle_timeout = throttle_timeout
        self.page_size = page_size
        self.calls = {'GET': 0, 'POST': 0, 'PATCH': 0, 'PUT': 0, 'DELETE': 0}
        self.throttled_seconds = 0.0
        self.retry_after = None
        # a cookie jar that accepts no cookie (Request always makes one): see the module docstring
        no_cookies = http_cookiejar.CookieJar(http_cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        self._http = Request(context=make_context(validate_certs=validate_certs), use_netrc=False,
                             follow_redirects='safe', timeout=timeout, cookies=no_cookies)

    @classmethod
    def from_module(cls, module):
        return cls(module, **dict((k, module.params.get(k)) for k in API_ARGSPEC))

    # -- transport ---------------------------------------------------------------------------------
    def _url(self, path, params=None):
        if path.startswith('http://') or path.startswith('https://'):
            url = path
        else:
            url = self.base + path
        query = dict(params or {})
        if query:
            sep = '&' if '?' in url else '?'
            url += sep + urlencode(sorted(query.items()))
        return url

    def _headers(self, org, auth):
        headers = {'Accept': ACCEPT, 'Content-Type': 'application/json'}
        if auth and self.token:
            headers['Authorization'] = '%s %s' % (self.token_type, self.token)
        if org and self.org:
            headers['X-Organization'] = self.org
        return headers

    def _once(self, method, url, data, org, auth):
        body = None if data is None else json.dumps(data)
        self.calls[method] = self.calls.get(method, 0) + 1
        self.retry_after = None
        try:
            resp = self._http.open(method, url, data=body, headers=self._headers(org, auth))
            raw = resp.read()
            return resp.getcode(), _decode(raw)
        except HTTPError as e:
            try:
                raw = e.read()
            except Exception:  # pylint: disable=broad-except
                raw = b''
            if e.code == 429:
                self.retry_after = _retry_after(e.headers.get('Retry-After') if e.headers else None, _decode(raw))
            return e.code, _decode(raw)

    def request(self, method, path, data=None, params=None, org=True, auth=True, recheck=None, ok=(200, 201, 202, 204)):
        """One API call with retries. `recheck()` (POST only) returns the object if a failed attempt landed."""
        url = self._url(path, params)
        attempt = 0
        throttle_deadline = time.time() + self.throttle_timeout
        while True:
            status, body, error = None, None, None
            try:
                status, body = self._once(method, url, data, org, auth)
            except (URLError, socket.timeout, ConnectionError, OSError) as e:  # refused, reset, DNS, timeout
                error = e
            if error is None and status in ok:
                return status, body
            if error is None and status == 429 and time.time() < throttle_deadline:
                # throttled requests were not processed: wait as CVAT says and send the same request again
                wait = min(self.retry_after or 1.0, max(throttle_deadline - time.time(), 0.1))
                self.throttled_seconds += wait
                time.sleep(wait)
                continue
            retryable = error is not None or status in self.RETRY_STATUSES
            if method == 'POST' and retryable and not (error is not None or status in self.SAFE_POST_RETRY):
                # a 500 on a POST may have landed: only retry when the lookup proves it did not
                if recheck is None:
                    retryable = False
            if not retryable or attempt >= self.retries:
                if error is not None:
                    raise CvatApiError(method, self.base + path, 'unreachable', str(error))
                raise CvatApiError(method, self.base + path, status, body)
            time.sleep(min(self.backoff * (2 ** attempt), 30))
            attempt += 1
            if method == 'POST' and recheck is not None:
                found = recheck()
                if found is not None:
                    return 201, found

    def get(self, path, params=None, org=True):
        return self.request('GET', path, params=params, org=org)[1]

    def list(self, path, params=None, org=True):
        """Every object of a paginated list: one GET per page, following `next`."""
        query = dict(params or {})
        query['page_size'] = self.page_size
        results = []
        body = self.request('GET', path, params=query, org=org)[1]
        while True:
            if isinstance(body, list):  # a few CVAT endpoints are not paginated
                return results + body
            results.extend(body.get('results', []))
            nxt = body.get('next')
            if not nxt:
                return results
            parts = urlsplit(nxt)
            next_params = dict(parse_qsl(parts.query))
            body = self.request('GET', path, params=next_params, org=org)[1]

    def post(self, path, data, recheck=None, org=True, auth=True):
        return self.request('POST', path, data=data, recheck=recheck, org=org, auth=auth)[1]

    def patch(self, path, data, org=True):
        return self.request('PATCH', path, data=data, org=org)[1]

    def delete(self, path, org=True):
        return self.request('DELETE', path, org=org)[1]

    # -- session -------------------------------------------------------------------------------------
    def wait_healthy(self):
        deadline = time.time() + self.health_timeout
        last = None
        delay = self.backoff
        while True:
            try:
                status, body = self._once('GET', self._url('/api/server/health/'), None, False, False)
                if status == 200:
                    return
                if status == 429:
                    delay = max(delay, self.retry_after or 1.0)
                last = 'HTTP %s: %s' % (status, cvat_message(body))
            except (URLError, socket.timeout, ConnectionError, OSError) as e:
                last = str(e)
            if time.time() >= deadline:
                raise CvatApiError('GET', self.base + '/api/server/health/', 'unhealthy after %ss' % self.health_timeout, last)
            time.sleep(min(delay, 10))
            delay *= 2

    def login(self):
        """Token auth from username/password when no API token was given (POST /api/auth/login)."""
        if self.token:
            return
        if not (self.username and self.password):
            raise CvatApiError('POST', '/api/auth/login', 'not attempted', 'no api_token and no username/password given')
        try:
            body = self.post('/api/auth/login', {'username': self.username, 'password': self.password}, org=False, auth=False)
        except CvatApiError as e:
            # say who failed to log in where, never with what password
            e.args = ('%s (user %s at %s)' % (e, self.username, self.base),)
            raise
        self.token = body['key']
        self.token_type = 'Token'

    def login_key(self):
        """A login key of username/password (for the few calls an access token may not make, e.g. PATCH a user)."""
        saved = self.token, self.token_type
        self.token = None
        try:
            self.login()
            return self.token
        finally:
            self.token, self.token_type = saved

    def connect(self):
        self.wait_healthy()
        self.login()
        return self

    def writes(self):
        return sum(v for k, v in self.calls.items() if k != 'GET')


def _retry_after(header, body):
    """Seconds to wait after a 429: the Retry-After header, else CVAT's "Expected available in N seconds"."""
    try:
        if header:
            return max(float(header), 0.5)
    except ValueError:
        pass
    m = re.search(r'available in (\d+) second', cvat_message(body))
    return max(float(m.group(1)), 0.5) if m else 1.0


def _decode(raw):
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode('utf-8', 'replace')
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def run_module(module, work):
    """Common wrapper: connect, run `work(client)` -> dict, turn CvatApiError into fail_json with CVAT's message."""
    client = CvatClient.from_module(module)
    try:
        client.connect()
        result = work(client)
    except CvatApiError as e:
        module.fail_json(msg=str(e), status=e.status, api_calls=client.calls)
    result.setdefault('changed', False)
    result['api_calls'] = client.calls
    module.exit_json(**result)


def storage_status(client, storage_id):
    """CVAT's probe of a cloud storage with the credentials it holds: AVAILABLE, FORBIDDEN or NOT_FOUND."""
    body = client.get('/api/cloudstorages/%d/status' % storage_id)
    return body if isinstance(body, str) else cvat_message(body)


def wait_storage_available(client, storage_id, timeout):
    """Poll the status until AVAILABLE (new IAM keys take seconds to work); return the last status."""
    deadline = time.time() + timeout
    delay = 1.0
    while True:
        status = storage_status(client, storage_id)
        if status == 'AVAILABLE' or time.time() >= deadline:
            return status
        time.sleep(min(delay, max(deadline - time.time(), 0.1)))
        delay = min(delay * 2, 10)
