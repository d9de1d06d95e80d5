"""Evidence: photos and files stored by content hash, with their EXIF time and place
(shown, not trusted), a thumbnail for the console, and which issues they belong to.

Blobs go to a directory by default (`GRIDFLOW_EVIDENCE_DIR`) or to an S3-compatible
store (`GRIDFLOW_EVIDENCE_S3_BUCKET`, through boto3). The event that cites evidence
records its SHA-256, so the audit chain covers the files too.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from stores.db import Database
from stores.images import NO_PHOTO, PILLOW_FORMATS, ImageRefused, read_photo

DEFAULT_MAX_PIXELS = 40_000_000
STAGED = "-"  # uploaded before the issue exists (for `report`): linked when cited

SIGNATURES = [
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
]


def sniff(data: bytes) -> str | None:
    """The type the bytes really are (never the client's word for it)."""
    for magic, kind in SIGNATURES:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes | None: ...
    def exists(self, key: str) -> bool: ...


class DirectoryStore:
    def __init__(self, root: str) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if path.exists():
            return  # content-addressed: the same bytes are stored once
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.exists() else None

    def exists(self, key: str) -> bool:
        return self._path(key).exists()


class S3Store:
    def __init__(self, bucket: str, prefix: str = "evidence/", endpoint: str | None = None) -> None:
        try:
            import boto3
        except ImportError:  # an optional extra: say what to install, at start
            raise ValueError(
                "GRIDFLOW_EVIDENCE_S3_BUCKET is set but boto3 is not installed: "
                "pip install 'gridflow[s3]'"
            ) from None

        self.bucket, self.prefix = bucket, prefix
        region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        self.s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region)

    def put(self, key: str, data: bytes) -> None:
        if not self.exists(key):
            self.s3.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)

    def get(self, key: str) -> bytes | None:
        try:
            body: bytes = self.s3.get_object(Bucket=self.bucket, Key=self.prefix + key)[
                "Body"
            ].read()
            return body
        except self.s3.exceptions.NoSuchKey:
            return None

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=self.prefix + key)
            return True
        except self.s3.exceptions.ClientError as exc:  # HEAD answers a bare 404
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise


class EvidenceRefused(Exception):
    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details


class Evidence:
    def __init__(
        self,
        db: Database,
        store: BlobStore,
        max_bytes: int = 10 << 20,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.db, self.store, self.max_bytes, self.max_pixels = db, store, max_bytes, max_pixels

    def upload(
        self, issue_id: str | None, uploaded_by: str, filename: str | None, data: bytes
    ) -> dict[str, Any]:
        if len(data) > self.max_bytes:
            raise EvidenceRefused(
                413, "payload_too_large", f"evidence is limited to {self.max_bytes} bytes"
            )
        if not data:
            raise EvidenceRefused(
                422, "validation_failed", "the file is empty", fields={"file": "empty"}
            )
        kind = sniff(data)
        if kind is None:
            raise EvidenceRefused(
                415, "unsupported_media_type", "photos (JPEG, PNG, WebP) and PDF documents only"
            )
        sha = hashlib.sha256(data).hexdigest()
        try:
            photo = read_photo(data, kind, self.max_pixels) if kind in PILLOW_FORMATS else NO_PHOTO
        except ImageRefused as exc:
            raise EvidenceRefused(
                422, "validation_failed", exc.problem, fields={"file": exc.problem}
            ) from None
        self.store.put(sha, data)
        if photo.thumbnail:
            self.store.put(f"thumb-{sha}", photo.thumbnail)
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO gridflow_evidence (sha256, issue_id, uploaded_by, content_type, size, "
                "filename, exif_time, exif_lat, exif_lon, uploaded_at) VALUES "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (sha256, issue_id) DO NOTHING",
                (
                    sha,
                    issue_id or STAGED,
                    uploaded_by,
                    kind,
                    len(data),
                    (filename or "")[:200],
                    photo.time,
                    photo.lat,
                    photo.lon,
                    datetime.now(UTC).isoformat(),
                ),
            )
        return {
            "evidence_id": sha,
            "content_type": kind,
            "size": len(data),
            "exif": {
                "time": photo.time,
                "lat": photo.lat,
                "lon": photo.lon,
                "note": "as the camera wrote it: not checked",
            },
            "thumbnail": photo.thumbnail is not None,
        }

    def unknown(self, issue_id: str | None, principal_id: str, ids: list[str]) -> list[str]:
        """Ids neither uploaded to this issue nor staged by this principal."""
        if not ids:
            return []
        marks = ", ".join(["%s"] * len(ids))
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT sha256 FROM gridflow_evidence WHERE sha256 IN ({marks}) AND "
                "(issue_id = %s OR (issue_id = %s AND uploaded_by = %s))",
                [*ids, issue_id or "", STAGED, principal_id],
            )
            known = {r[0] for r in cur.fetchall()}
        return [i for i in ids if i not in known]

    def positions(self, ids: list[str]) -> dict[str, tuple[float, float]]:
        """The EXIF positions read from the original bytes at upload (presence at 报到)."""
        if not ids:
            return {}
        marks = ", ".join(["%s"] * len(ids))
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT sha256, exif_lat, exif_lon FROM gridflow_evidence WHERE sha256 IN "
                f"({marks}) AND exif_lat IS NOT NULL AND exif_lon IS NOT NULL",
                list(ids),
            )
            return {sha: (float(lat), float(lon)) for sha, lat, lon in cur.fetchall()}

    def link(self, issue_id: str, principal_id: str, ids: list[str]) -> None:
        """Staged uploads cited by an action now belong to its issue."""
        with self.db.transaction() as cur:
            for sha in ids:
                cur.execute(
                    "INSERT INTO gridflow_evidence (sha256, issue_id, uploaded_by, content_type, "
                    "size, filename, exif_time, exif_lat, exif_lon, uploaded_at) SELECT sha256, "
                    "%s, uploaded_by, content_type, size, filename, exif_time, exif_lat, exif_lon, "
                    "uploaded_at FROM gridflow_evidence WHERE sha256 = %s AND issue_id = %s "
                    "AND uploaded_by = %s ON CONFLICT (sha256, issue_id) DO NOTHING",
                    (issue_id, sha, STAGED, principal_id),
                )

    def info(self, sha: str) -> list[dict[str, Any]]:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT issue_id, uploaded_by, content_type, size, filename, exif_time, "
                "exif_lat, exif_lon, uploaded_at FROM gridflow_evidence WHERE sha256 = %s",
                (sha,),
            )
            cols = (
                "issue_id",
                "uploaded_by",
                "content_type",
                "size",
                "filename",
                "exif_time",
                "exif_lat",
                "exif_lon",
                "uploaded_at",
            )
            return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
