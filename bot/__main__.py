"""`python -m bot`: run Stratus with settings from STRATUS_* variables or a TOML file."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from telegram import Update

from bot.app import freeze_startup_objects
from bot.runtime import build_bot, secrets_of
from bot.settings import Settings, SettingsError
from bot.store import StoreError
from bot.telegram_io import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument("--config", help="a TOML settings file (else $STRATUS_CONFIG)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.load(os.environ, args.config)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(secrets_of(settings))
    try:
        app = build_bot(settings)
    except StoreError as exc:  # one line: which file, what is wrong, what to do
        print(exc, file=sys.stderr)
        return 2
    logging.getLogger(__name__).info("starting with %r", settings)
    freeze_startup_objects()
    app.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
