"""Adding documents: ``POST /documents`` saves the files into ``input/`` and starts an index job;
``GET /jobs/{id}`` shows its progress."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.server.jobs import Jobs
from graphrag_lite.server.security import require_key, upload_path

router = APIRouter(dependencies=[Depends(require_key)])
COPY_CHUNK = 1024 * 1024


def _jobs(request: Request) -> Jobs:
    jobs: Jobs = request.app.state.jobs
    return jobs


async def _save(upload: UploadFile, target: Path) -> None:
    """Write the upload next to its target, then move it into place (no half-written input file)."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := await upload.read(COPY_CHUNK):
                out.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@router.post("/documents", status_code=202, summary="Upload files into input/ and start an index job")
async def documents(request: Request, files: Annotated[list[UploadFile], File()]) -> JSONResponse:
    rag: GraphRAG = request.app.state.rag
    jobs = _jobs(request)
    jobs.reserve()
    input_dir = rag.settings.input_path
    input_dir.mkdir(parents=True, exist_ok=True)
    try:
        targets = [
            upload_path(input_dir, f.filename or "", list(rag.settings.input.file_types)) for f in files
        ]
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    if len(set(targets)) != len(targets):
        raise HTTPException(400, "Two uploaded files have the same name.")
    for upload, target in zip(files, targets, strict=True):
        await _save(upload, target)
    job = await jobs.start([t.name for t in targets])
    return JSONResponse(job.to_dict(), status_code=202, headers={"Location": f"/jobs/{job.id}"})


@router.get("/jobs/{job_id}", summary="An index job's status and progress")
async def job(job_id: str, request: Request) -> dict[str, Any]:
    found = _jobs(request).jobs.get(job_id)
    if found is None:
        raise HTTPException(404, f"No job with id '{job_id}'.")
    return found.to_dict()
