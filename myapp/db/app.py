"""`App`: the declaration of one app whose database the framework manages (Django's AppConfig).

An app names its ORM metadata, its registry of replaceable objects and its
migrations package, each as an object or an import path resolved only when
a command needs it, so declaring an App imports nothing of the app's.
Everything else that used to say "myapp" derives from the label: the
environment variables' prefix, the migration lock's key and the embedded
server's database.

    app = App("shop", metadata="shop.models:Base", objects="shop.db.objects:registry",
              migrations="shop.db.migrations")
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence, Union

from .errors import ConfigurationError

#: The App commands use when none is given: myapp's own, declared in myapp/apps.py.
DEFAULT_APP = "myapp.apps:app"
#: Chooses the App when ``--app`` is not given (``MODULE:ATTR``).
APP_VARIABLE = "MYAPP_DB_APP"

_LABEL = re.compile(r"^[a-z][a-z0-9_]*$")


def import_object(spec: str, what: str) -> Any:
    """Import ``"package.module:attribute"`` (or ``"package.module"``); a one-line error if it fails."""
    module_name, _, attribute = spec.partition(":")
    if not module_name:
        raise ConfigurationError(f"{what} {spec!r} is not an import path: write 'package.module:attribute'")
    try:
        found = importlib.import_module(module_name)
    except Exception as exc:  # an app's own import error: say where, not a traceback
        raise ConfigurationError(
            f"cannot import {what} {spec!r}: {type(exc).__name__}: {exc}; fix the import path or that module"
        ) from exc
    for part in attribute.split(".") if attribute else ():
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ConfigurationError(
                f"cannot import {what} {spec!r}: module {module_name!r} has no attribute {attribute!r}"
            ) from None
    return found


class App:
    """One app: its label, ORM metadata, registry of replaceable objects and migrations.

    :param label: a lower-case identifier, e.g. ``"shop"``; the lock key, the embedded
        database's name and (upper-cased) the environment variables' prefix derive from it.
    :param metadata: the ORM's `MetaData` (or a declarative base that has one), or its
        import path ``"shop.models:metadata"``; None for an app without tables.
    :param objects: the registry of views, functions and materialized views (any iterable of
        replaceable objects), or its import path; None for none.
    :param migrations: the migrations package (``"shop.db.migrations"``) or folder. Only its
        ``versions/`` folder is needed: an ``env.py`` or ``script.py.mako`` in it overrides
        the framework's.
    :param env_prefix: prefix of the environment variables (default: the label upper-cased):
        ``SHOP_DATABASE_URL``, ``SHOP_DATA_DIR``, ``SHOP_MIGRATIONS_DIR``, ...
    :param plugins: modules of plugins this app ships, registered like the built-ins.
    :param version: the app's version, as applied revisions record it (default: the version of
        the installed distribution that ships the migrations package).
    :param shared_schemas: schemas that every tenant shares (where shared tables, objects and
        extensions live): never migrated as a tenant, and put after the tenant's schema on its
        ``search_path`` so that unqualified names a tenant lacks (an extension's types) resolve.
    """

    def __init__(
        self,
        label: str,
        *,
        migrations: Union[str, os.PathLike],
        metadata: Any = None,
        objects: Any = None,
        env_prefix: Optional[str] = None,
        plugins: Sequence[str] = (),
        version: Optional[str] = None,
        shared_schemas: Sequence[str] = (),
    ):
        if not isinstance(label, str) or not _LABEL.match(label):
            raise ConfigurationError(
                f"App label {label!r} must be a lower-case identifier such as 'shop'"
            )
        self.label = label
        self.env_prefix = env_prefix or label.upper()
        self._metadata, self._objects, self._migrations = metadata, objects, migrations
        self.plugins = tuple(plugins)
        self._version = version
        self.shared_schemas = tuple(shared_schemas)

    def __repr__(self) -> str:
        return f"App({self.label!r})"

    # -- what derives from the label --------------------------------------------

    def variable(self, name: str) -> str:
        """The name of one of this app's environment variables, e.g. ``SHOP_DATABASE_URL``."""
        return f"{self.env_prefix}_{name}"

    @property
    def lock_key(self) -> int:
        """The key of the session-level advisory lock that serialises this app's migrations."""
        return self.lock_key_for(None)

    def lock_key_for(self, schema: Optional[str]) -> int:
        """The migration lock's key for one tenant schema (None: the database's own, `lock_key`).

        Every tenant has a key of its own, so two tenants migrate in parallel
        while two runs on one tenant wait for each other.
        """
        name = f"{self.label}.db" if schema is None else f"{self.label}.db/{schema}"
        digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)

    @property
    def database_name(self) -> str:
        """The database the embedded server holds for this app."""
        return self.label

    def default_data_dir(self) -> Path:
        """The per-user folder of this app's embedded server."""
        from .runtime import embedded

        return embedded.default_data_dir(self.label)

    def package_version(self) -> Optional[str]:
        """The app's version: declared, else its distribution's (None when it is not installed)."""
        if self._version is not None or not isinstance(self._migrations, str) or "/" in self._migrations:
            return self._version
        if hasattr(self, "_found_version"):
            return self._found_version
        from importlib import metadata

        top = self._migrations.split(".")[0]
        self._found_version = None
        for name in [top, *metadata.packages_distributions().get(top, [])]:
            try:
                self._found_version = metadata.version(name)
                break
            except metadata.PackageNotFoundError:
                continue
        return self._found_version

    # -- what the app declares, resolved when needed ----------------------------

    def metadata(self):
        """The ORM `MetaData` (an empty one when the app declares none)."""
        import sqlalchemy as sa

        value = self._metadata
        if isinstance(value, str):
            value = import_object(value, f"the metadata of app {self.label!r}")
        if value is None:
            return sa.MetaData()
        value = getattr(value, "metadata", value)  # a declarative base
        if not isinstance(value, sa.MetaData):
            raise ConfigurationError(
                f"the metadata of app {self.label!r} is {value!r}, not a SQLAlchemy MetaData"
            )
        return value

    def objects(self) -> List[Any]:
        """The app's replaceable objects, in registry order (not cached: a registry may be swapped)."""
        from .replaceable import ReplaceableObject

        value = self._objects
        if isinstance(value, str):
            value = import_object(value, f"the objects of app {self.label!r}")
        try:
            found = list(value or ())
        except TypeError:
            raise ConfigurationError(f"the objects of app {self.label!r} are {value!r}, not an iterable") from None
        wrong = [o for o in found if not isinstance(o, ReplaceableObject)]
        if wrong:
            raise ConfigurationError(
                f"the objects of app {self.label!r} hold {wrong[0]!r}, which is not a replaceable object"
            )
        return found

    def migrations_dir(self, environ: Optional[Mapping[str, str]] = None) -> Path:
        """The folder holding ``versions/`` (``<PREFIX>_MIGRATIONS_DIR`` overrides it)."""
        environ = os.environ if environ is None else environ
        override = environ.get(self.variable("MIGRATIONS_DIR"))
        if override:
            return Path(override).expanduser()
        value = self._migrations
        if isinstance(value, os.PathLike) or (isinstance(value, str) and ("/" in value or os.sep in value)):
            return Path(value)
        try:
            spec = importlib.util.find_spec(value)
        except (ImportError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot find the migrations package {value!r} of app {self.label!r}: {exc}"
            ) from None
        if spec is None or not spec.submodule_search_locations:
            raise ConfigurationError(
                f"the migrations of app {self.label!r}, {value!r}, name no package; "
                "give a package that holds a versions/ folder, or its path"
            )
        return Path(list(spec.submodule_search_locations)[0])


def load_app(spec: Union[str, App, None] = None, environ: Optional[Mapping[str, str]] = None) -> App:
    """The App ``spec`` names (``MODULE:ATTR``), else ``$MYAPP_DB_APP``, else myapp's own."""
    if isinstance(spec, App):
        return spec
    environ = os.environ if environ is None else environ
    spec = spec or environ.get(APP_VARIABLE) or DEFAULT_APP
    found = import_object(spec, "the app")
    if not isinstance(found, App):
        raise ConfigurationError(f"{spec!r} is {found!r}, not a myapp.db.App; point --app at an App declaration")
    return found

