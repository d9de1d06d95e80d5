"""Evidence: upload photos and files (multipart), read them back where allowed.

The routes are plain `def`s: FastAPI runs them in its thread pool, so checking and
decoding a photo never holds the event loop (and every other request) up.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, UploadFile
from fastapi.responses import Response

from api.deps import Services, principal, services
from api.errors import ApiError
from api.issues import parse_issue_id
from api.openapi import ERRORS
from api.schemas import Error
from domain.access import Capability, require
from domain.errors import IssueNotFound
from domain.principals import Principal
from stores.evidence import STAGED, EvidenceRefused

router = APIRouter(tags=["evidence"])
UPLOAD_ERRORS = {
    **ERRORS,
    415: {"model": Error, "description": "`unsupported_media_type`: JPEG, PNG, WebP, PDF"},
}
#: photos are checked by decoding them whole on upload: only they are shown inline
INLINE = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
EXTENSIONS = {**INLINE, "application/pdf": "pdf"}
#: a served file is never a page: no scripts, no plugins, no same-origin powers
SERVED = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


def _read(file: UploadFile, limit: int) -> bytes:
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "payload_too_large", f"evidence is limited to {limit} bytes")
    return data


def _store(
    s: Services, issue_id: str | None, p: Principal, file: UploadFile, data: bytes
) -> dict[str, Any]:
    try:
        return s.evidence.upload(issue_id, p.id, file.filename, data)
    except EvidenceRefused as exc:
        raise ApiError(exc.status, exc.code, exc.message, **exc.details) from None


@router.post(
    "/issues/{issue_id}/evidence",
    status_code=201,
    responses=UPLOAD_ERRORS,
    summary="Upload a photo or file to an issue (multipart field `file`)",
)
def upload_to_issue(
    issue_id: str,
    file: UploadFile = File(...),
    p: Principal = Depends(principal),
    s: Services = Depends(services),
) -> dict[str, Any]:
    issue = s.service.get(parse_issue_id(issue_id), p)
    s.service.require_may_attach(issue, p)
    data = _read(file, s.evidence.max_bytes)
    return _store(s, str(issue.id), p, file, data)


@router.post(
    "/evidence",
    status_code=201,
    responses=UPLOAD_ERRORS,
    summary="Upload evidence before reporting; cite it in the report's `evidence`",
)
def upload_staged(
    file: UploadFile = File(...), p: Principal = Depends(principal), s: Services = Depends(services)
) -> dict[str, Any]:
    require(p, Capability.STAGE_EVIDENCE)
    data = _read(file, s.evidence.max_bytes)
    return _store(s, None, p, file, data)


def _allowed(s: Services, evidence_id: str, p: Principal) -> dict[str, Any]:
    """The evidence's record if `p` may see an issue it belongs to (or staged it)."""
    for row in s.evidence.info(evidence_id):
        if row["issue_id"] == STAGED:
            if row["uploaded_by"] == p.id:
                return row
            continue
        try:
            s.service.get(parse_issue_id(row["issue_id"]), p)
            return row
        except IssueNotFound:
            continue
    raise ApiError(404, "evidence_not_found", f"no evidence {evidence_id} you may see")


def disposition(evidence_id: str, content_type: str, filename: str | None) -> str:
    """Photos inline, anything else as a download; named as uploaded, but always with
    the extension of what the bytes are."""
    ext = EXTENSIONS.get(content_type, "bin")
    name = f"{PurePath(filename or '').stem or evidence_id[:16]}.{ext}"
    how = "inline" if content_type in INLINE else "attachment"
    return f"{how}; filename=\"{evidence_id[:16]}.{ext}\"; filename*=UTF-8''{quote(name, safe='')}"


@router.get(
    "/evidence/{evidence_id}",
    responses={
        **ERRORS,
        200: {"content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
    },
    response_class=Response,
    summary="The file, to those who may see its issue",
)
def read(
    evidence_id: str, p: Principal = Depends(principal), s: Services = Depends(services)
) -> Response:
    row = _allowed(s, evidence_id, p)
    data = s.evidence.store.get(evidence_id)
    if data is None:
        raise ApiError(404, "evidence_not_found", "the file is gone from the store")
    return Response(
        data,
        media_type=row["content_type"],
        headers={
            **SERVED,
            "Content-Disposition": disposition(evidence_id, row["content_type"], row["filename"]),
            "Cache-Control": "private, max-age=86400",
            "ETag": f'"{evidence_id}"',
        },
    )


@router.get(
    "/evidence/{evidence_id}/thumbnail",
    response_class=Response,
    responses={
        **ERRORS,
        200: {"content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
    },
    summary="A 320 px JPEG thumbnail of a photo",
)
def thumbnail(
    evidence_id: str, p: Principal = Depends(principal), s: Services = Depends(services)
) -> Response:
    _allowed(s, evidence_id, p)
    data = s.evidence.store.get(f"thumb-{evidence_id}")
    if data is None:
        raise ApiError(404, "no_thumbnail", "this evidence has no thumbnail")
    headers = {**SERVED, "Content-Disposition": disposition(evidence_id, "image/jpeg", None)}
    return Response(data, media_type="image/jpeg", headers=headers)


@router.get(
    "/evidence/{evidence_id}/info",
    responses=ERRORS,
    summary="Type, size and EXIF time and place (as the camera wrote them)",
)
def info(
    evidence_id: str, p: Principal = Depends(principal), s: Services = Depends(services)
) -> dict[str, Any]:
    row = _allowed(s, evidence_id, p)
    return {"evidence_id": evidence_id, **{k: v for k, v in row.items() if k != "uploaded_by"}}
