"""`python -m seed [FILE]`: load a data file (default: seed/data.json) into DATABASE_URL."""

import argparse
import sys
from pathlib import Path

from app.config import get_settings
from app.data.engine import make_engine, session_scope
from app.data.reads import dataset_version
from seed.loader import DEFAULT_FILE, SeedError, load_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seed", description=__doc__)
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE)
    parser.add_argument(
        "--if-empty",
        action="store_true",
        help="load only into a database that holds no data yet, so that a restart never"
        " overwrites what writes through the API have changed",
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        if args.if_empty:
            with session_scope(engine) as session:
                version = dataset_version(session)
            if version is not None:
                print(f"seed: the database already holds data (version {version}); not loaded")
                return 0
        report = load_file(engine, args.file)
    except SeedError as error:
        print(f"seed: refused, the database is unchanged: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"seed: loaded {args.file}")
    for line in report.lines():
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
