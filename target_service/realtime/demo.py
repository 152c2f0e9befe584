"""The demo chat page (target_service/static/): plain HTML and JavaScript, no build step."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

router = APIRouter(tags=["demo"], include_in_schema=False)
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
FILES = {"demo.js": "text/javascript", "demo.css": "text/css"}


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/demo")


@router.get("/demo")
async def page() -> FileResponse:
    return FileResponse(STATIC_DIR / "demo.html", media_type="text/html")


@router.get("/demo/{name}")
async def asset(name: str) -> FileResponse:
    if name not in FILES:
        raise HTTPException(404, f"no demo file {name!r}")
    return FileResponse(STATIC_DIR / name, media_type=FILES[name])
