import pytest

from eventbook import __version__, create_app
from tests.conftest import TEST_SETTINGS


def test_root_describes_the_service(client):
    assert client.get("/").get_json() == {
        "name": "eventbook",
        "version": __version__,
        "docs": "/docs",
        "redoc": "/redoc",
        "openapi": "/openapi.json",
    }


def test_health_answers_while_alive(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_ready_when_the_database_answers(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok"}}


def test_not_ready_without_a_database():
    app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": "postgresql://x@127.0.0.1:1/x"})
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    assert response.get_json() == {
        "error": True,
        "message": "Not ready: database unavailable",
        "status_code": 503,
    }


def test_swagger_ui_is_served_from_the_installed_package(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert b"/docs/assets/swagger-ui-bundle.js" in page.data
    asset = client.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert b"SwaggerUIBundle" in asset.data
    asset.close()


def test_redoc_page_and_its_bundle_are_served_by_the_service(client):
    page = client.get("/redoc")
    assert page.status_code == 200
    assert b"/openapi.json" in page.data
    assert b'src="/redoc/assets/redoc.standalone.js"' in page.data
    bundle = client.get("/redoc/assets/redoc.standalone.js")
    assert bundle.status_code == 200
    assert b"Redoc" in bundle.data
    bundle.close()


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_a_documentation_page_with_a_trailing_slash_redirects_to_it(client, path):
    response = client.get(f"{path}/")
    assert response.status_code == 301
    assert response.headers["Location"] == path


def test_openapi_document_has_the_bearer_scheme_on_protected_operations(client):
    """Which operations carry it is checked with the authentication tests."""
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"] == "3.0.3"
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert spec["paths"]["/auth/me"]["get"]["security"] == [{"bearerAuth": []}]


def test_openapi_document_describes_the_real_error_body(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["components"]["schemas"]["Error"]["required"] == ["error", "message", "status_code"]
    booking = spec["paths"]["/bookings"]["post"]["responses"]
    assert {"201", "400", "401", "404", "429"} <= set(booking)
