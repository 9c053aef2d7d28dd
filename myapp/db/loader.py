"""The revision scripts: an Alembic `Config` built in code and a revision map read once per process."""

from __future__ import annotations

import functools
from argparse import Namespace

from alembic.config import Config
from alembic.script import ScriptDirectory


def config(migrations_dir: str, *, output_buffer=None) -> Config:
    """Build the Alembic `Config` for ``migrations_dir``; no alembic.ini is read."""
    # quiet: Alembic's own "Generating ..." lines would land on stdout.
    cfg = Config(output_buffer=output_buffer, cmd_opts=Namespace(quiet=True))
    cfg.set_main_option("script_location", migrations_dir)
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    cfg.set_main_option("truncate_slug_length", "40")
    return cfg


@functools.lru_cache(maxsize=None)
def scripts(migrations_dir: str) -> ScriptDirectory:
    """Return the `ScriptDirectory` for ``migrations_dir``, shared by every command in this process.

    Its revision map is built on first use and then kept, so a process that
    runs several commands reads and imports the revision files only once.
    """
    return ScriptDirectory.from_config(config(migrations_dir))
