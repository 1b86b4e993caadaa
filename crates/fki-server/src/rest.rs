//! The LoRa-compatible OIO REST API (contract §1): one set of generic handlers for every class in
//! the table. A handler parses the request, builds the caller's [`Kontekst`], calls the engine
//! and shapes the answer exactly as LoRa nests it.
//!
//! Tenancy (see `docs/security.md`): every handler takes the caller's [`Kontekst`] from a request
//! extension put there by [`crate::sts::guard::oio_rest`]: from the token (reads scoped to the
//! token's CVR plus fælles objects, new objects owned by that CVR), or under `--dev-open` from
//! [`kontekst`] (the `X-FKI-*` headers).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, FromRequest, Multipart, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fki_oio::json::{Mode, parse_uuid, parse_write};
use fki_oio::query::{Forespoergsel, parse_class_query, parse_read};
use fki_oio::spec::{self, ClassSpec};
use fki_oio::store::{RegWindow, Scope};
use fki_oio::{Kontekst, OioError, Skriv};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, message};

pub const HEADER_MYNDIGHED: &str = "x-fki-myndighed";
pub const HEADER_FAELLES: &str = "x-fki-faelles";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{service}/{class}", get(class_get).post(opret))
        .route(
            "/{service}/{class}/{uuid}",
            get(laes).put(importer).patch(ret).delete(slet),
        )
}

type ApiResult = Result<Response, ApiError>;

/// The class at `/{service}/{class}`, or a 404.
pub fn lookup(service: &str, class: &str) -> Result<&'static ClassSpec, ApiError> {
    spec::class(service, class).ok_or_else(|| {
        ApiError(OioError::NoSuchClass {
            service: service.into(),
            class: class.into(),
        })
    })
}

fn uuid_param(s: &str) -> Result<Uuid, ApiError> {
    parse_uuid(s, "uuid").map_err(ApiError)
}

/// Parse a raw query string into name/value pairs, keeping repeats and order.
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn no_query(raw: &Option<String>) -> Result<(), ApiError> {
    let pairs = query_pairs(raw.as_deref());
    if pairs.is_empty() {
        Ok(())
    } else {
        let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        Err(ApiError::bad_request(format!(
            "Unsupported argument(s): {}",
            names.join(", ")
        )))
    }
}

/// The caller's context under `--dev-open`: the owner of new objects is the `X-FKI-Myndighed`
/// header (else the server's `--myndighed`), and with that header reads are scoped to it (plus
/// fælles objects) as they would be under its token; without it reads see everything.
/// `X-FKI-Faelles: true` marks new objects fælleskommunale.
pub fn kontekst(state: &AppState, headers: &HeaderMap) -> Result<Kontekst, ApiError> {
    let myndighed = match headers.get(HEADER_MYNDIGHED) {
        Some(v) => {
            let s = v.to_str().unwrap_or_default().trim();
            if s.len() != 8 || !s.chars().all(|c| c.is_ascii_digit()) {
                return Err(ApiError::validation(
                    "X-FKI-Myndighed",
                    "expected a CVR number of 8 digits",
                ));
            }
            Some(s.to_owned())
        }
        None => state.config.myndighed.clone(),
    };
    let faelles = headers
        .get(HEADER_FAELLES)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    let scope = match (headers.get(HEADER_MYNDIGHED), &myndighed) {
        (Some(_), Some(m)) => Scope::Myndigheder(vec![m.clone()]),
        _ => Scope::All,
    };
    Ok(Kontekst {
        scope,
        myndighed,
        faelles,
        brugerref: None,
    })
}

/// The JSON body: `application/json` (or any type whose body parses as JSON), or
/// `multipart/form-data` with the JSON text in a field named `json` (contract §1.2).
/// `Ok(None)` for an empty body.
pub struct JsonBody(pub Option<Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        let text: Bytes = if multipart {
            let mut mp = Multipart::from_request(req, state)
                .await
                .map_err(IntoResponse::into_response)?;
            let mut json_field = None;
            loop {
                match mp.next_field().await {
                    Ok(Some(f)) => {
                        let name = f.name().unwrap_or_default().to_owned();
                        if name == "json" {
                            json_field =
                                Some(f.bytes().await.map_err(IntoResponse::into_response)?);
                        } else {
                            return Err(ApiError::validation(
                                name,
                                "file parts are not supported; send the object as the 'json' field",
                            )
                            .into_response());
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return Err(e.into_response()),
                }
            }
            json_field.unwrap_or_default()
        } else {
            Bytes::from_request(req, state).await.map_err(|e| {
                let status = e.status();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    message(status, "OIO-TOO-LARGE", "request body too large")
                } else {
                    message(status, "OIO-BAD-BODY", e.body_text())
                }
            })?
        };
        if text.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(None));
        }
        serde_json::from_slice(&text)
            .map(|v| JsonBody(Some(v)))
            .map_err(|e| ApiError::validation("", format!("malformed JSON: {e}")).into_response())
    }
}

fn require_body(body: Option<Value>) -> Result<Value, ApiError> {
    body.ok_or_else(|| ApiError::validation("", "the body is empty"))
}

fn uuid_json(uuid: Uuid) -> Value {
    json!({ "uuid": uuid.to_string() })
}

async fn exists(state: &AppState, spec: &ClassSpec, uuid: Uuid) -> Result<bool, ApiError> {
    let h = state
        .engine
        .store()
        .read(&[uuid], RegWindow::Current)
        .await
        .map_err(|e| ApiError(e.into()))?;
    Ok(h.iter().any(|h| h.objekt.klasse == spec.name))
}

/// POST /{service}/{class}: opret.
async fn opret(
    State(state): State<AppState>,
    Path((service, class)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    Extension(ctx): Extension<Kontekst>,
    body: JsonBody,
) -> ApiResult {
    let spec = lookup(&service, &class)?;
    no_query(&raw)?;
    let a = parse_write(spec, &require_body(body.0)?, Mode::Create)?;
    let uuid = state
        .engine
        .write(&ctx, spec, Uuid::new_v4(), Skriv::Opret(a))
        .await?;
    Ok((StatusCode::CREATED, axum::Json(uuid_json(uuid))).into_response())
}

/// PUT /{service}/{class}/{uuid}: importer.
async fn importer(
    State(state): State<AppState>,
    Path((service, class, uuid)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    Extension(ctx): Extension<Kontekst>,
    body: JsonBody,
) -> ApiResult {
    let spec = lookup(&service, &class)?;
    let uuid = uuid_param(&uuid)?;
    no_query(&raw)?;
    let a = parse_write(spec, &require_body(body.0)?, Mode::Create)?;
    state
        .engine
        .write(&ctx, spec, uuid, Skriv::Importer(a))
        .await?;
    Ok(axum::Json(uuid_json(uuid)).into_response())
}

/// PATCH /{service}/{class}/{uuid}: ret, or passiver with `"livscyklus": "Passiv"`.
async fn ret(
    State(state): State<AppState>,
    Path((service, class, uuid)): Path<(String, String, String)>,
    Extension(ctx): Extension<Kontekst>,
    body: JsonBody,
) -> ApiResult {
    let spec = lookup(&service, &class)?;
    let uuid = uuid_param(&uuid)?;
    // LoRa answers 404 for an unknown object before it looks at the body.
    let parsed =
        require_body(body.0).and_then(|b| parse_write(spec, &b, Mode::Update).map_err(ApiError));
    let a = match parsed {
        Ok(a) => a,
        Err(e) => {
            if !exists(&state, spec, uuid).await? {
                return Err(ApiError(OioError::NotFound {
                    klasse: spec.name.into(),
                    uuid,
                }));
            }
            return Err(e);
        }
    };
    state.engine.write(&ctx, spec, uuid, Skriv::Ret(a)).await?;
    Ok(axum::Json(uuid_json(uuid)).into_response())
}

/// DELETE /{service}/{class}/{uuid}: slet. An optional JSON body may carry `note`.
async fn slet(
    State(state): State<AppState>,
    Path((service, class, uuid)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    Extension(ctx): Extension<Kontekst>,
    body: JsonBody,
) -> ApiResult {
    let spec = lookup(&service, &class)?;
    let uuid = uuid_param(&uuid)?;
    no_query(&raw)?;
    let note = match body.0 {
        None => None,
        Some(Value::Object(o)) => match o.get("note") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(ApiError::validation("note", "expected a string")),
        },
        Some(_) => return Err(ApiError::validation("", "the body must be a JSON object")),
    };
    state
        .engine
        .write(&ctx, spec, uuid, Skriv::Slet { note })
        .await?;
    Ok((StatusCode::ACCEPTED, axum::Json(uuid_json(uuid))).into_response())
}

/// GET /{service}/{class}/{uuid}: laes.
async fn laes(
    State(state): State<AppState>,
    Path((service, class, uuid)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    Extension(ctx): Extension<Kontekst>,
) -> ApiResult {
    let spec = lookup(&service, &class)?;
    let uuid = uuid_param(&uuid)?;
    let (tid, konsolider) = parse_read(&query_pairs(raw.as_deref()))?;
    let obj = state.engine.laes(&ctx, spec, uuid, tid, konsolider).await?;
    let mut out = serde_json::Map::new();
    out.insert(uuid.to_string(), Value::Array(vec![obj]));
    Ok(axum::Json(Value::Object(out)).into_response())
}

/// GET /{service}/{class}?…: list or search (contract §4.1).
async fn class_get(
    State(state): State<AppState>,
    Path((service, class)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    Extension(ctx): Extension<Kontekst>,
) -> ApiResult {
    let spec = lookup(&service, &class)?;
    let pairs = query_pairs(raw.as_deref());
    let results = match parse_class_query(spec, &pairs, Scope::All)? {
        Forespoergsel::List {
            mut uuids,
            tid,
            konsolider,
        } => {
            uuids.sort();
            uuids.dedup();
            let objs = state
                .engine
                .list(&ctx, spec, &uuids, tid, konsolider)
                .await?;
            if objs.is_empty() {
                json!([])
            } else {
                json!([objs])
            }
        }
        Forespoergsel::Soeg {
            query,
            tid,
            list,
            konsolider,
        } => {
            let hits = state.engine.soeg(&ctx, &query).await?;
            if list {
                let objs = state
                    .engine
                    .list(&ctx, spec, &hits, tid, konsolider)
                    .await?;
                if objs.is_empty() {
                    json!([])
                } else {
                    json!([objs])
                }
            } else {
                json!([hits.iter().map(Uuid::to_string).collect::<Vec<_>>()])
            }
        }
    };
    Ok(axum::Json(json!({ "results": results })).into_response())
}
