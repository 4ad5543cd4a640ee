"""The baseline the benchmark measures the service against: the smallest FastAPI app that serves
the six countries with a typed `response_model`, from memory (read once from the seed file)."""

import json
from pathlib import Path

from fastapi import FastAPI
from pydantic import BaseModel

SEED_FILE = Path(__file__).resolve().parent.parent / "seed" / "data.json"


class Country(BaseModel):
    id: str
    iso2: str
    iso_numeric: str
    name: str
    capital: str
    region: str


COUNTRIES = [Country.model_validate(c) for c in json.loads(SEED_FILE.read_text())["countries"]]

app = FastAPI()


@app.get("/api/v1/countries", response_model=list[Country])
async def countries() -> list[Country]:
    return COUNTRIES
