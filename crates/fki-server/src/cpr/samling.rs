//! SF1525 Persondata Samling Hent as REST/JSON: `GET /cpr/personer/{pnr}/samling`
//! (`?omraader=navn,adresse,civilstand,status,relationer&historik=true|false`), answered by
//! [`fki_cpr::samling::samling`]. No WSDL/XSD for SF1525 is public (the specs hold none), so
//! the service follows the CPR Query service's conventions: a token for SF1525's entity
//! [`ENTITY_CPR_PERSONDATASAMLING`] and an active agreement for the token's CVR, whose data
//! restrictions (`Udelad`, `SeBeskyttetAdresse`) shape the answer; errors are JSON problems.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fki_cpr::nummer::Cpr;
use fki_cpr::personlookup::Udsnit;
use fki_cpr::samling::{Valg, samling};

use crate::AppState;

/// Entity ID fki gives SF1525 Persondata Samling Hent (PersonStamoplysningerSamlingHent v2).
/// KOMBIT's is not in the public specs; fki's follows the Serviceplatform's pattern.
pub const ENTITY_CPR_PERSONDATASAMLING: &str =
    "http://cpr.serviceplatformen.dk/service/personstamoplysningersamlinghent/2";

/// `GET /cpr/personer/{pnr}/samling`.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/cpr/personer/{pnr}/samling", axum::routing::get(hent))
}

fn ugyldig(felt: &str, tekst: &str) -> Response {
    crate::error::ApiError::validation(felt, tekst).into_response()
}

/// `GET /cpr/personer/{pnr}/samling`.
pub async fn hent(
    State(st): State<AppState>,
    Path(pnr): Path<String>,
    RawQuery(q): RawQuery,
    req: axum::extract::Request,
) -> Response {
    let (parts, _) = req.into_parts();
    let udsnit = if st.sts.settings.dev_open {
        tracing::warn!("--dev-open: CPR Persondata Samling Hent let through without a token");
        Udsnit::ALT
    } else {
        match super::rest_adgang(&st, &parts, ENTITY_CPR_PERSONDATASAMLING).await {
            Ok(u) => u,
            Err(r) => return r,
        }
    };
    let params = crate::admin::params(q);
    if let Some(ukendt) = params
        .keys()
        .find(|k| !["omraader", "historik"].contains(&k.as_str()))
    {
        return ugyldig(ukendt, "unknown parameter");
    }
    let valg = match Valg::af(
        params.get("omraader").map(String::as_str),
        params.get("historik").map(String::as_str),
    ) {
        Ok(v) => v,
        Err(e) => return ugyldig("omraader", &e),
    };
    let Some(cpr) = Cpr::parse(&pnr) else {
        return ugyldig("pnr", "expected 10 digits, a valid CPR number");
    };
    let reg = st.cpr.laes();
    let Some(p) = reg.person(&cpr) else {
        return crate::error::message(
            StatusCode::NOT_FOUND,
            "PersonIkkeFundet",
            format!("no person with PNR {pnr}"),
        );
    };
    axum::Json(samling(p, &reg, &valg, udsnit)).into_response()
}

/// The service in the OpenAPI document.
pub fn openapi_paths(paths: &mut serde_json::Map<String, serde_json::Value>) {
    let param = |n: &str, inn: &str, d: &str, req: bool| serde_json::json!({"name": n, "in": inn, "required": req, "description": d, "schema": {"type": "string"}});
    paths.insert(
        "/cpr/personer/{pnr}/samling".into(),
        serde_json::json!({"get": {
            "tags": ["cpr"],
            "summary": "SF1525 Persondata Samling Hent: one person's data areas, current and with history (a token for the SF1525 service)",
            "operationId": "cpr_persondata_samling",
            "parameters": [
                param("pnr", "path", "The CPR number, 10 digits", true),
                param("omraader", "query", "Comma-separated data areas: navn, adresse, civilstand, status, relationer (default: all)", false),
                param("historik", "query", "true (default): with earlier values; false: current only", false),
            ],
            "responses": {
                "200": {"description": "`{personnummer?, foedselsdato, koen, adressebeskyttelse, dataomraader: {navn: {aktuel, historik}, adresse: …, civilstand: …, status: …, relationer: …}}`; the agreement's data restrictions leave out areas, numbers and protected addresses", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": {"description": "A malformed number, an unknown area or parameter", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "401": {"description": "No valid token"},
                "403": {"description": "No active agreement"},
                "404": {"description": "No such person", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        }}),
    );
}
