"""The Celery worker loads what delivering needs and no more: the web framework and the migration tool
stay out of its memory."""

import subprocess
import sys

LEFT_OUT = ("flask", "werkzeug", "jinja2", "alembic", "jsonschema")


def test_the_worker_module_imports_neither_web_framework_nor_alembic() -> None:
    probe = (
        "import sys, lotse_notify.entrypoints.worker as w; assert hasattr(w, 'register');"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(LEFT_OUT)!r}))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_the_probe_sees_an_import_of_the_web_app() -> None:
    """The same probe on the WSGI app's module does see Flask (the test above can fail)."""
    probe = "import sys, lotse_notify.entrypoints.web; print('flask' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "True"
