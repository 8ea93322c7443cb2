# -*- coding: utf-8 -*-
"""Documentation fragment shared by the cvat_seed modules: how they reach CVAT's REST API.

The options themselves are defined once in module_utils/cvat_api.py (API_ARGSPEC); this is their documentation.
ansible.cfg points doc_fragment_plugins here, so `ansible-doc -M roles/cvat_seed/library <module>` shows them.
"""


class ModuleDocFragment:
    DOCUMENTATION = r'''
options:
  url:
    description: Base URL of CVAT, e.g. C(https://cvat.example.com).
    type: str
    required: true
  api_token:
    description: Access token (Bearer) or session key (Token). When absent, I(username)/I(password) log in.
    type: str
  api_token_type:
    description: C(Bearer) for access tokens (CVAT >= 2.48), C(Token) for login keys.
    type: str
    default: Bearer
    choices: [Bearer, Token]
  username:
    description: User to log in with when no I(api_token) is given.
    type: str
  password:
    description: Password of I(username).
    type: str
  organization:
    description: Organization slug used as context (C(X-Organization) header).
    type: str
  validate_certs:
    description: Verify TLS certificates.
    type: bool
    default: true
  timeout:
    description: Seconds per HTTP request.
    type: int
    default: 30
  retries:
    description: Retries on 5xx and connection errors (exponential backoff).
    type: int
    default: 6
  retry_backoff:
    description: First backoff delay in seconds (doubles each retry, at most 30 s).
    type: float
    default: 1.0
  health_timeout:
    description: Seconds to wait for C(GET /api/server/health/) to answer 200 before anything else.
    type: int
    default: 300
  throttle_timeout:
    description:
      - Seconds in all that one request may wait on HTTP 429 (CVAT throttles anonymous requests, 100 a minute per
        address), as C(Retry-After) says, before it fails.
    type: int
    default: 600
  page_size:
    description: Page size of list reads (C(next) links are followed).
    type: int
    default: 500
'''
