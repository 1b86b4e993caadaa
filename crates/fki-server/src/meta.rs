//! Self-description (contract §1.5) and the OpenAPI document, all derived from the class table.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use fki_oio::describe;
use fki_oio::json::Mode;
use fki_oio::spec::{self, classes};
use serde_json::{Map, Value, json};
use utoipa_scalar::{Scalar, Servable};

use crate::AppState;
use crate::error::{ApiError, message};
use crate::rest::{lookup, query_pairs};

/// The LoRa version whose REST contract fki follows.
pub const LORA_VERSION: &str = "1.13.1";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/site-map") }))
        .route("/site-map", get(site_map))
        .route("/version", get(version))
        .route("/health", get(health))
        .route("/openapi.json", get(openapi_json))
        .route("/{service}/classes", get(service_classes))
        .route("/{service}/{class}/fields", get(class_fields))
        .route("/{service}/{class}/schema", get(class_schema))
}

/// The browsable API page (Scalar) at `/docs`, reading `/openapi.json`'s document.
///
/// The page (the document embedded: about a megabyte) is rendered once and shared. Scalar's own
/// `Router` conversion keeps it by value in the handler, which axum copies with every clone of
/// the router, that is for every connection: 256 connections held 300 MB of copies
/// (docs/benchmarks.md, session 12).
pub fn docs(openapi: Value) -> Router {
    let html = axum::body::Bytes::from(Scalar::with_url("/docs", openapi).to_html());
    Router::new().route(
        "/docs",
        get(move || {
            let html = html.clone();
            async move { axum::response::Html(html) }
        }),
    )
}

/// Every GET route, sorted (LoRa's `/site-map`).
pub fn site_map_paths() -> Vec<String> {
    let mut paths: Vec<String> = [
        "/",
        "/site-map",
        "/version",
        "/health",
        "/openapi.json",
        "/docs",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for svc in spec::services() {
        paths.push(format!("/{svc}/classes"));
    }
    for c in classes() {
        let base = format!("/{}/{}", c.service, c.name);
        paths.push(format!("{base}/fields"));
        paths.push(format!("{base}/schema"));
        paths.push(format!("{base}/{{uuid}}"));
        paths.push(base);
    }
    paths.sort();
    paths
}

async fn site_map() -> Response {
    axum::Json(json!({ "site-map": site_map_paths() })).into_response()
}

async fn version() -> Response {
    axum::Json(json!({ "lora_version": LORA_VERSION, "fki_version": env!("CARGO_PKG_VERSION") }))
        .into_response()
}

async fn health(State(state): State<AppState>) -> Response {
    match state.engine.store().ping().await {
        Ok(()) => axum::Json(json!({"status": "ok", "backend": state.engine.store().backend()}))
            .into_response(),
        Err(e) => message(
            StatusCode::SERVICE_UNAVAILABLE,
            "FKI-STORE-DOWN",
            e.to_string(),
        ),
    }
}

async fn openapi_json(State(state): State<AppState>) -> Response {
    axum::Json(state.openapi.as_ref().clone()).into_response()
}

fn reject_query(raw: &Option<String>) -> Result<(), ApiError> {
    let pairs = query_pairs(raw.as_deref());
    if pairs.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    Err(ApiError::bad_request(format!(
        "Unsupported argument(s): {}",
        names.join(", ")
    )))
}

async fn service_classes(Path(service): Path<String>) -> Response {
    let map: Map<String, Value> = classes()
        .iter()
        .filter(|c| c.service == service)
        .map(|c| (c.name.to_owned(), describe::fields(c)))
        .collect();
    if map.is_empty() {
        return message(
            StatusCode::NOT_FOUND,
            "OIO-NO-SUCH-SERVICE",
            format!("No service /{service}"),
        );
    }
    axum::Json(Value::Object(map)).into_response()
}

async fn class_fields(
    Path((service, class)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    reject_query(&raw)?;
    Ok(axum::Json(describe::fields(lookup(&service, &class)?)).into_response())
}

async fn class_schema(
    Path((service, class)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    reject_query(&raw)?;
    Ok(axum::Json(describe::json_schema(
        lookup(&service, &class)?,
        Mode::Create,
    ))
    .into_response())
}

/// The OpenAPI 3.1 document: one path pair per class, with the create and update JSON Schemas
/// of each class as components. OpenAPI 3.1 embeds JSON Schema directly.
pub fn openapi() -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let time_params = || {
        [
            ("virkningFra", "Valid-time window start (timestamp literal; zone-less = Europe/Copenhagen)"),
            ("virkningTil", "Valid-time window end"),
            ("virkningstid", "Valid-time instant (not with virkningFra/virkningTil)"),
            ("registreretFra", "Transaction-time window start"),
            ("registreretTil", "Transaction-time window end"),
            ("registreringstid", "Transaction-time instant"),
        ]
        .iter()
        .map(|(n, d)| json!({"name": n, "in": "query", "required": false, "description": d, "schema": {"type": "string"}}))
        .collect::<Vec<_>>()
    };
    let err = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let uuid_answer = json!({"content": {"application/json": {"schema": {"$ref": "#/components/schemas/UuidAnswer"}}}});
    for c in classes() {
        let create = format!("{}-create", c.name);
        let update = format!("{}-update", c.name);
        schemas.insert(create.clone(), describe::json_schema(c, Mode::Create));
        schemas.insert(update.clone(), describe::json_schema(c, Mode::Update));
        let tag = c.service;
        let body = |name: &str| json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}}});
        let mut search_params = time_params();
        search_params.push(json!({"name": "uuid", "in": "query", "required": false, "schema": {"type": "array", "items": {"type": "string", "format": "uuid"}}, "style": "form", "explode": true, "description": "List these objects (alone: list; with other criteria: restrict the search)"}));
        for (n, d) in [
            (
                "brugervendtnoegle",
                "Attribute match; % wildcard, \\% literal; case-insensitive (alias bvn). Any attribute field name works the same way.",
            ),
            ("vilkaarligattr", "Matches any attribute field"),
            ("vilkaarligrel", "UUID of any relation target"),
            (
                "livscykluskode",
                "Lifecycle code of the registrering (also lifts the exclusion of Slettet)",
            ),
            (
                "foersteresultat",
                "Paging offset (results sorted by brugervendtnoegle, then uuid)",
            ),
            ("maximalantalresultater", "Paging limit"),
            ("list", "Return objects instead of UUIDs"),
            ("konsolider", "Merge touching equal periods"),
        ] {
            search_params.push(json!({"name": n, "in": "query", "required": false, "description": d, "schema": {"type": "string"}}));
        }
        for s in c.states {
            search_params.push(json!({"name": s.name, "in": "query", "required": false, "schema": {"type": "string", "enum": s.values}}));
        }
        for r in c.relations {
            search_params.push(json!({"name": r.name, "in": "query", "required": false, "description": format!("Relation target UUID or URN; `{}:objekttype` also checks objekttype", r.name), "schema": {"type": "string"}}));
        }
        paths.insert(
            format!("/{}/{}", c.service, c.name),
            json!({
                "get": {"tags": [tag], "summary": format!("List or search {}", c.name), "operationId": format!("{}_soeg", c.name),
                        "parameters": search_params,
                        "responses": {"200": {"description": "`{\"results\": [[uuid…]]}` for a search, `{\"results\": [[object…]]}` for list", "content": {"application/json": {"schema": {"type": "object", "properties": {"results": {"type": "array"}}}}}},
                                      "400": err("Unsupported or malformed argument")}},
                "post": {"tags": [tag], "summary": format!("Opret {}", c.name), "operationId": format!("{}_opret", c.name),
                         "requestBody": body(&create),
                         "responses": {"201": uuid_answer.clone(), "400": err("Validation failure naming the field")}}
            }),
        );
        let uuid_param = json!({"name": "uuid", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}});
        let mut read_params = time_params();
        read_params.push(uuid_param.clone());
        read_params.push(json!({"name": "konsolider", "in": "query", "required": false, "schema": {"type": "string"}}));
        paths.insert(
            format!("/{}/{}/{{uuid}}", c.service, c.name),
            json!({
                "get": {"tags": [tag], "summary": format!("Laes {}", c.name), "operationId": format!("{}_laes", c.name),
                        "parameters": read_params,
                        "responses": {"200": {"description": "`{\"<uuid>\": [object]}`"}, "404": err("Unknown"), "410": err("Deleted")}},
                "put": {"tags": [tag], "summary": format!("Importer {}", c.name), "operationId": format!("{}_importer", c.name),
                        "parameters": [uuid_param.clone()], "requestBody": body(&create),
                        "responses": {"200": uuid_answer.clone(), "400": err("Validation failure")}},
                "patch": {"tags": [tag], "summary": format!("Ret {} (or passiver with livscyklus=Passiv)", c.name), "operationId": format!("{}_ret", c.name),
                          "parameters": [uuid_param.clone()], "requestBody": body(&update),
                          "responses": {"200": uuid_answer.clone(), "400": err("Validation failure or lifecycle"), "404": err("Unknown")}},
                "delete": {"tags": [tag], "summary": format!("Slet {}", c.name), "operationId": format!("{}_slet", c.name),
                           "parameters": [uuid_param],
                           "responses": {"202": uuid_answer.clone(), "404": err("Unknown")}}
            }),
        );
        paths.insert(
            format!("/{}/{}/fields", c.service, c.name),
            json!({"get": {"tags": [tag], "summary": format!("Structure of {}", c.name), "operationId": format!("{}_fields", c.name), "responses": {"200": {"description": "LoRa's field structure"}}}}),
        );
        paths.insert(
            format!("/{}/{}/schema", c.service, c.name),
            json!({"get": {"tags": [tag], "summary": format!("JSON Schema of a {} create body", c.name), "operationId": format!("{}_schema", c.name), "responses": {"200": {"description": "JSON Schema"}}}}),
        );
    }
    for svc in spec::services() {
        paths.insert(format!("/{svc}/classes"), json!({"get": {"tags": [svc], "summary": format!("Structures of the classes of {svc}"), "operationId": format!("{svc}_classes"), "responses": {"200": {"description": "class → structure"}}}}));
    }
    for (p, s) in [
        ("/site-map", "Every GET route"),
        ("/version", "LoRa contract version"),
        ("/health", "Liveness and storage backend"),
    ] {
        paths.insert(p.into(), json!({"get": {"tags": ["meta"], "summary": s, "operationId": p.trim_start_matches('/').replace('-', "_"), "responses": {"200": {"description": "OK"}}}}));
    }
    schemas.insert(
        "Error".into(),
        json!({"type": "object", "properties": {
        "message": {"type": "string"}, "code": {"type": "string"}, "error": {"type": "integer"},
        "text": {"type": "string"}, "field": {"type": "string"}, "reason": {"type": "string"}}}),
    );
    crate::admin::openapi_paths(&mut paths, &mut schemas);
    crate::beskedfordeler::openapi::openapi_paths(&mut paths, &mut schemas);
    crate::cpr::openapi_paths(&mut paths, &mut schemas);
    paths.extend(crate::sagdokumentindeks::openapi_paths());
    paths.extend(crate::ydelsesindeks::openapi_paths());
    crate::compliance::openapi_paths(&mut paths);
    schemas.insert("UuidAnswer".into(), json!({"type": "object", "properties": {"uuid": {"type": "string", "format": "uuid"}}, "required": ["uuid"]}));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "fki OIO REST API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "LoRa-compatible REST API of fki's bitemporal OIO engine (contract: LoRa 1.13.1). Every object type is generated from fki's class table. The `admin` routes manage the Adgangsstyring registries (IT systems, services, serviceaftaler, audit log) and need the bearer token in <data-dir>/admin-token.",
            "license": {"name": "MPL-2.0", "identifier": "MPL-2.0"}
        },
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": crate::admin::openapi_security_schemes()}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_docs_page_embeds_the_document_and_every_router_copy_serves_it() {
        use tower::ServiceExt as _;
        let doc = openapi();
        let router = docs(doc.clone());
        for r in [router.clone(), router] {
            let res = r
                .oneshot(
                    axum::http::Request::get("/docs")
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            assert!(
                res.headers()[axum::http::header::CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html")
            );
            let body = axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .unwrap();
            let page = std::str::from_utf8(&body).unwrap();
            assert!(page.contains(&serde_json::to_string(&doc).unwrap()));
        }
    }

    #[test]
    fn the_openapi_document_parses_as_openapi_and_covers_every_class() {
        let doc = openapi();
        let parsed: utoipa::openapi::OpenApi =
            serde_json::from_value(doc.clone()).expect("valid OpenAPI");
        for c in classes() {
            assert!(
                parsed
                    .paths
                    .paths
                    .contains_key(&format!("/{}/{}/{{uuid}}", c.service, c.name))
            );
        }
        let mut ids: Vec<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|p| {
                p.as_object()
                    .unwrap()
                    .values()
                    .map(|op| op["operationId"].as_str().unwrap())
            })
            .collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "operationIds must be unique");
    }

    #[test]
    fn site_map_is_sorted_and_has_every_class() {
        let p = site_map_paths();
        let mut sorted = p.clone();
        sorted.sort();
        assert_eq!(p, sorted);
        assert!(p.contains(&"/organisation/organisationenhed".to_owned()));
        assert!(p.contains(&"/klassifikation/classes".to_owned()));
    }
}
