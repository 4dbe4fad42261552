from openapi_spec_validator import validate


def test_openapi_document_is_valid_and_lists_the_api(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json
    validate(document)
    paths = document["paths"]
    assert "/api/v1/auth/me" in paths
    assert "/api/v1/members" in paths
    assert "/api/v1/catalog/families" in paths
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_every_operation_has_a_summary(client):
    document = client.get("/api/v1/openapi.json").json
    missing = [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method != "parameters" and not operation.get("summary")
    ]
    assert missing == []


def test_docs_page_is_served_with_local_assets(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert "/api/v1/docs/static/swagger-ui-bundle.js" in page.text
    assert client.get("/api/v1/docs/static/swagger-ui-bundle.js").status_code == 200
