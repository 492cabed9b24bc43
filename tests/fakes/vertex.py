"""A fake Vertex AI (ENGINES.md §1b) with the two Google services around it: an OAuth token
endpoint that google-auth's service-account flow really calls (the JWT assertion's RS256
signature and claims are checked), Veo's `predictLongRunning` / `fetchPredictOperation`, and the
GCS JSON API for `gcsUri` results. Knobs: token lifetime, 401 for stale tokens, 429 with
Retry-After, 503, safety blocks, operation errors, results inline or in GCS. Every request is
recorded."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.gemini import RecordedRequest

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
MODEL_PATH = "/v1/projects/{project}/locations/{location}/publishers/google/models/{model}"


@dataclass
class VertexOperation:
    name: str
    polls_until_done: int
    polls: int = 0


@dataclass
class VertexFake:
    video: bytes = b""
    public_key: rsa.RSAPublicKey | None = None
    client_email: str = ""
    token_lifetime_s: int = 3600
    polls_until_done: int = 2
    output: str = "inline"  # inline | gcs
    rate_limited: int = 0
    retry_after_s: str = "3"
    unavailable: int = 0
    blocked_reasons: list[str] | None = None
    operation_error: dict[str, Any] | None = None
    known_models: set[str] | None = None
    base_url: str = ""
    issued: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    requests: list[RecordedRequest] = field(default_factory=list)
    submits: list[RecordedRequest] = field(default_factory=list)
    operations: dict[str, VertexOperation] = field(default_factory=dict)
    gcs_objects: dict[str, bytes] = field(default_factory=dict)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/token", self._token, methods=["POST"]),
                Route(MODEL_PATH + ":predictLongRunning", self._submit, methods=["POST"]),
                Route(MODEL_PATH + ":fetchPredictOperation", self._fetch, methods=["POST"]),
                Route("/v1/publishers/google/models/{model}", self._model),
                Route("/storage/v1/b/{bucket}/o/{object:path}", self._gcs),
            ]
        )

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    async def _record(self, request: Request) -> RecordedRequest:
        raw = await request.body()
        recorded = RecordedRequest(request.method, request.url.path, dict(request.headers))
        if raw:
            try:
                recorded.body = json.loads(raw)
            except ValueError:
                recorded.body = raw
        self.requests.append(recorded)
        return recorded

    async def _token(self, request: Request) -> Response:
        await self._record(request)
        form = await request.form()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        claims = self._verified_claims(str(form.get("assertion", "")))
        if claims is None:
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
                status_code=400,
            )
        token = f"ya29.fake-{len(self.issued) + 1}"
        self.issued.append(token)
        return JSONResponse(
            {"access_token": token, "expires_in": self.token_lifetime_s, "token_type": "Bearer"}
        )

    def _verified_claims(self, assertion: str) -> dict[str, Any] | None:
        """The assertion's claims if it is an RS256 JWT signed by the key file's key, issued by
        its client, for Google's token endpoint and the cloud-platform scope."""
        parts = assertion.split(".")
        if len(parts) != 3 or self.public_key is None:
            return None
        header, payload, signature = (_b64url(p) for p in parts)
        try:
            self.public_key.verify(
                signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception:
            return None
        claims: dict[str, Any] = json.loads(payload)
        if json.loads(header).get("alg") != "RS256":
            return None
        # google-auth always addresses Google's token endpoint, whatever `token_uri` says.
        audiences = {self.token_uri, "https://oauth2.googleapis.com/token"}
        if claims.get("iss") != self.client_email or claims.get("aud") not in audiences:
            return None
        return claims if SCOPE in str(claims.get("scope", "")).split() else None

    def _unauthorized(self, request: Request) -> Response | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.issued or token in self.revoked:
            return _error(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED")
        return None

    def _trouble(self) -> Response | None:
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return _error(429, "Quota exceeded.", "RESOURCE_EXHAUSTED", self.retry_after_s)
        if self.unavailable > 0:
            self.unavailable -= 1
            return _error(503, "The service is currently unavailable.", "UNAVAILABLE")
        return None

    async def _submit(self, request: Request) -> Response:
        recorded = await self._record(request)
        if (refused := self._unauthorized(request) or self._trouble()) is not None:
            return refused
        model = request.path_params["model"]
        if self.known_models is not None and model not in self.known_models:
            return _error(404, f"Publisher Model `{model}` not found.", "NOT_FOUND")
        self.submits.append(recorded)
        prefix = request.url.path.removeprefix("/v1/").removesuffix(":predictLongRunning")
        name = f"{prefix}/operations/op{len(self.submits):04d}"
        self.operations[name] = VertexOperation(name, self.polls_until_done)
        return JSONResponse({"name": name})

    async def _fetch(self, request: Request) -> Response:
        recorded = await self._record(request)
        if (refused := self._unauthorized(request) or self._trouble()) is not None:
            return refused
        operation = self.operations.get(str((recorded.body or {}).get("operationName")))
        if operation is None:
            return _error(404, "Operation not found.", "NOT_FOUND")
        operation.polls += 1
        if operation.polls < operation.polls_until_done:
            return JSONResponse({"name": operation.name, "done": False})
        if self.operation_error is not None:
            return JSONResponse(
                {"name": operation.name, "done": True, "error": self.operation_error}
            )
        return JSONResponse(
            {"name": operation.name, "done": True, "response": self._result(operation)}
        )

    def _result(self, operation: VertexOperation) -> dict[str, Any]:
        kind = "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"
        if self.blocked_reasons is not None:
            return {
                "@type": kind,
                "raiMediaFilteredCount": 1,
                "raiMediaFilteredReasons": self.blocked_reasons,
            }
        if self.output == "gcs":
            obj = f"vgen out/{operation.name.rsplit('/', 1)[1]}/sample_0.mp4"
            self.gcs_objects[f"bucket-1/{obj}"] = self.video
            video = {"gcsUri": f"gs://bucket-1/{obj}", "mimeType": "video/mp4"}
        else:
            encoded = base64.b64encode(self.video).decode()
            video = {"bytesBase64Encoded": encoded, "mimeType": "video/mp4"}
        return {"@type": kind, "videos": [video]}

    async def _model(self, request: Request) -> Response:
        await self._record(request)
        if (refused := self._unauthorized(request)) is not None:
            return refused
        model = request.path_params["model"]
        if self.known_models is not None and model not in self.known_models:
            return _error(404, f"Publisher Model `{model}` not found.", "NOT_FOUND")
        return JSONResponse({"name": f"publishers/google/models/{model}"})

    async def _gcs(self, request: Request) -> Response:
        await self._record(request)
        if (refused := self._unauthorized(request)) is not None:
            return refused
        if request.query_params.get("alt") != "media":
            return _error(400, "alt=media expected", "INVALID_ARGUMENT")
        key = f"{request.path_params['bucket']}/{unquote(request.path_params['object'])}"
        data = self.gcs_objects.get(key)
        if data is None:
            return _error(404, "No such object.", "NOT_FOUND")
        return Response(data, media_type="video/mp4")

    def requests_to(self, suffix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith(suffix)]


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _error(status: int, message: str, code: str, retry_after: str | None = None) -> Response:
    return JSONResponse(
        {"error": {"code": status, "message": message, "status": code}},
        status_code=status,
        headers={"Retry-After": retry_after} if retry_after else None,
    )
