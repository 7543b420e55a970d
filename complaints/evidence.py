"""Evidence in the case file (guide 5.2): call recordings reported by Twilio, and files staff
attach. Files are stored under instance/case-files/ (never under static/), named by a random
id, and served only through a staff page."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import exists, select

from callbacks.models import CallbackTask
from complaints.models import CaseFile, CaseStage, ComplaintCase, Recording
from complaints.services import CaseError
from core.accounts import User, audit
from core.db import db, utcnow

MAX_FILE_BYTES = 4 * 1024 * 1024
# Extension -> (content type, how the file must begin). Checked on the bytes, not the name.
ALLOWED = {
    "pdf": ("application/pdf", (b"%PDF-",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "mp3": ("audio/mpeg", (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")),
    "wav": ("audio/wav", (b"RIFF",)),
    "txt": ("text/plain", None),
}


def files_dir() -> Path:
    path = Path(current_app.config.get("CASE_FILES_DIR") or Path(current_app.instance_path) / "case-files")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _check(filename: str, data: bytes) -> str:
    """The content type of an acceptable file; CaseError (shown to staff) otherwise."""
    if not data:
        raise CaseError(_("The file is empty."))
    if len(data) > MAX_FILE_BYTES:
        raise CaseError(_("The file is too large: at most 4 MB."))
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext not in ALLOWED:
        raise CaseError(_("This type of file is not accepted: use PDF, PNG, JPEG, MP3, WAV or text."))
    content_type, magic = ALLOWED[ext]
    if magic is None:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CaseError(_("The file's content does not match its type.")) from exc
    elif not data.startswith(magic):
        raise CaseError(_("The file's content does not match its type."))
    return content_type


def safe_name(filename: str) -> str:
    """The name shown and offered on download: no path, no control characters."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>').strip() or "file"
    return name[-120:]


def store_file(case: ComplaintCase, kind: str, filename: str, data: bytes, user: User | None,
               content_type: str | None = None) -> CaseFile:
    """Writes the bytes first, then the row (caller commits): a crash leaves at worst an
    unreferenced file, never a row without its bytes."""
    if kind == "attachment":
        content_type = _check(filename, data)
    stored = f"{case.id}-{secrets.token_hex(16)}"
    (files_dir() / stored).write_bytes(data)
    row = CaseFile(case_id=case.id, kind=kind, filename=safe_name(filename), content_type=content_type,
                   size=len(data), sha256=hashlib.sha256(data).hexdigest(), stored_name=stored,
                   uploaded_by_id=user.id if user else None)
    db.session.add(row)
    if kind == "attachment":
        audit("complaint_file", f"case:{case.id}", user=user, filename=row.filename, size=row.size)
    return row


def file_path(row: CaseFile) -> Path:
    """Where the bytes of a case file are kept."""
    return files_dir() / row.stored_name


def file_bytes(row: CaseFile) -> bytes:
    return file_path(row).read_bytes()


def case_of_task(task_id: int) -> ComplaintCase | None:
    row = db.session.scalar(select(CaseStage).where(CaseStage.task_id == task_id))
    return row.case if row else None


def store_recording(task: CallbackTask, form: dict) -> Recording | None:
    """Twilio's recording status callback (idempotent on RecordingSid: Twilio retries). Only a
    completed recording is stored; returns None for other statuses. Caller commits."""
    if form.get("RecordingStatus", "completed") != "completed":
        return None
    case = case_of_task(task.id)
    if case is None:
        return None
    sid = form["RecordingSid"]
    existing = db.session.scalar(select(Recording).where(Recording.recording_sid == sid))
    if existing is not None:
        return existing
    try:
        duration = max(int(form.get("RecordingDuration") or 0), 0)
    except ValueError:
        duration = 0
    recording = Recording(case_id=case.id, task_id=task.id, recording_sid=sid,
                          call_sid=form.get("CallSid", ""), url=form["RecordingUrl"], duration=duration,
                          at=utcnow())
    db.session.add(recording)
    return recording


def without_evidence(now: datetime | None = None, days: int = 7):
    """A SQL condition: accepted (or received, if never accepted) more than `days` ago, with no
    recording and no attached file."""
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    accepted = (select(CaseStage.completed_at)
                .where(CaseStage.case_id == ComplaintCase.id, CaseStage.name == "accepted", CaseStage.round == 1)
                .scalar_subquery())
    from sqlalchemy import func
    return ((func.coalesce(accepted, ComplaintCase.received_at) < cutoff)
            & ~exists().where(Recording.case_id == ComplaintCase.id)
            & ~exists().where(CaseFile.case_id == ComplaintCase.id, CaseFile.kind == "attachment"))


def has_evidence(case: ComplaintCase) -> bool:
    return bool(case.recordings) or any(f.kind == "attachment" for f in case.files)


def lacks_evidence(case: ComplaintCase, days: int, now: datetime | None = None) -> bool:
    now = now or utcnow()
    accepted = case.stages[0].completed_at if case.stages else None
    return not has_evidence(case) and (accepted or case.received_at) < now - timedelta(days=days)
