"""myapp's own App: what the framework in myapp.db manages for this application.

The one place that names myapp's models, registry and migrations; commands use
it unless ``--app`` (or ``MYAPP_DB_APP``) names another.
"""

from myapp.db.app import App

app = App(
    "myapp",
    metadata="myapp.models:metadata",
    objects="myapp.db.objects:registry",
    migrations="myapp.db.migrations",
)
