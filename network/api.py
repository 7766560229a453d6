"""HTTP routes of the network module; included by the control plane app."""

from fastapi import APIRouter

router = APIRouter()
