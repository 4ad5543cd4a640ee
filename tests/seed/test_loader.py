"""The seed loader: a pure parse step and a load step that is all-or-nothing and idempotent."""

import re
import subprocess
import sys

import pytest
from sqlalchemy import text

from app.main import PROJECT_ROOT
from seed.loader import DEFAULT_FILE, SeedError, load, load_file, parse
from tests.conftest import SEED_VERSION, edited_seed


def counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("country", "summit", "citation", "summit_participant")
        }


def test_parse_pins_every_quote_to_its_offsets():
    dataset = parse(DEFAULT_FILE)
    article = next(s for s in dataset["sources"] if s["id"] == "article")["text"]
    summit = next(s for s in dataset["summits"] if s["number"] == 1)
    citation = summit["sources"][0]
    assert citation["quote"].startswith("From May 18 to 19, 2023")
    assert article[citation["start"] : citation["end"]] == citation["quote"]
    assert {name: len(records) for name, records in dataset.items()} == {
        "sources": 7,
        "countries": 6,
        "people": 2,
        "summits": 2,
        "mechanism": 1,
        "agreements": 2,
        "cooperation-centers": 3,
        "trade-statistics": 2,
        "priority-areas": 6,
        "principles": 4,
        "commitments": 6,
    }


def test_second_load_changes_nothing_and_says_so(engine):
    before = counts(engine)
    report = load_file(engine)
    assert not report.changed
    assert report.lines()[-1] == "nothing changed: the database already holds this data"
    assert counts(engine) == before


def test_a_quote_not_in_the_article_is_refused_and_nothing_is_written(engine, tmp_path):
    def edit(data):
        data["summits"][1]["city"] = "Almaty"  # a valid change in the same file
        data["countries"][3]["sources"][0]["quote"] = "Tajikistan hosted the Olympics"

    path = edited_seed(tmp_path, edit)
    with pytest.raises(SeedError) as refused:
        load_file(engine, path)
    message = str(refused.value)
    assert str(path) in message
    assert "countries[3] (id 'TJK')" in message
    assert "'Tajikistan hosted the Olympics'" in message
    assert "not found" in message
    with engine.connect() as connection:
        city = connection.execute(text("SELECT city FROM summit WHERE number = 2")).scalar_one()
    assert city == "Astana"


def test_an_ambiguous_quote_is_refused(tmp_path):
    def edit(data):
        data["people"][0]["sources"][0]["quote"] = "Kazakhstan"  # the article says it twice

    with pytest.raises(SeedError, match=r"ambiguous: it occurs 2 times"):
        parse(edited_seed(tmp_path, edit))


def test_a_database_refusal_rolls_back_the_whole_load(engine, tmp_path):
    def edit(data):
        data["countries"][0]["capital"] = "Peking"  # valid, written before the failure
        data["summits"][0]["participants"].append("FRA")  # no such country: FK violation

    path = edited_seed(tmp_path, edit)
    before = counts(engine)
    with pytest.raises(SeedError, match=r"summits 'first-summit': refused by the database"):
        load(engine, parse(path), label=str(path))
    assert counts(engine) == before
    with engine.connect() as connection:
        capital = connection.execute(text("SELECT capital FROM country WHERE id = 'CHN'"))
        assert capital.scalar_one() == "Beijing"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["summits"][0].update(end_date="2023-05-01"), "end_date is before start_date"),
        (lambda d: d["trade-statistics"][0].update(value=-1), "greater than or equal to 0"),
        (lambda d: d["trade-statistics"][0].update(currency="yuan"), "currency"),
        (lambda d: d["agreements"][0].update(id="Not A Slug"), "id: String should match"),
        (lambda d: d.update(planets=[]), "unknown collections ['planets']"),
    ],
)
def test_invalid_records_are_refused(engine, tmp_path, edit, message):
    with pytest.raises(SeedError, match=re.escape(message)):
        load_file(engine, edited_seed(tmp_path, edit))


def test_the_command_line_reports_per_collection(database_url, tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "seed"],
        cwd=PROJECT_ROOT,
        env={"DATABASE_URL": database_url, "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "countries              6 records: 0 created, 0 updated, 6 unchanged" in run.stdout
    assert "nothing changed" in run.stdout

    run = subprocess.run(
        [sys.executable, "-m", "seed", "--if-empty"],
        cwd=PROJECT_ROOT,
        env={"DATABASE_URL": database_url, "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout == (
        f"seed: the database already holds data (version {SEED_VERSION}); not loaded\n"
    )

    bad = edited_seed(tmp_path, lambda d: d["people"][0]["sources"][0].update(quote="nope"))
    run = subprocess.run(
        [sys.executable, "-m", "seed", str(bad)],
        cwd=PROJECT_ROOT,
        env={"DATABASE_URL": database_url, "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    assert "refused, the database is unchanged" in run.stderr
    assert "people[0] (id 'xi-jinping')" in run.stderr
