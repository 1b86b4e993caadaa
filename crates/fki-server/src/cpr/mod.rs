//! CPR on the Serviceplatform (issue 7): SF1520 PersonBaseDataExtended v4 `PersonLookup` at
//! `/service/CPR/PersonBaseDataExtended/4`, SOAP 1.1 as the WSDL binds it
//! (`../shared/specs/sf1520-cpr-personbasedataextended/wsdl/token/PersonBaseDataExtendedService.wsdl`),
//! answered from the generated population ([`fki_cpr::register::Register`], read from
//! `<data-dir>/cpr/*.jsonl` at start).
//!
//! Security: WS-Security with a holder-of-key assertion for
//! `http://cpr.serviceplatformen.dk/service/personbasedataextended/4` and an active agreement for
//! the token's CVR ([`WsSecured`]). The request's contexts are honoured: `AuthorityContext`'s
//! `MunicipalityCVR` must be the token's CVR; `InvocationContext`, when sent, must name the
//! caller's system (`UserSystemUUID`), this service (`ServiceUUID`) and one of the caller's
//! active agreements for it (`ServiceAgreementUUID`). The agreements' data restrictions
//! ([`Udsnit`]) decide what the answer shows. Every refusal and an unknown person are a
//! SOAP 1.1 fault with a `ServiceplatformFault` detail (`ErrorCode`, `ErrorText`; the codes are
//! fki's, docs/cpr.md).

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use fki_cpr::nummer::Cpr;
use fki_cpr::personlookup::{self, Forespoergsel, Udsnit};
use fki_cpr::register::Register;
use fki_sts::wssec::SoapVersion;
use fki_sts::xml;
use uuid::Uuid;

use crate::AppState;
use crate::sts::soap::{SecuredService, WsSecured};

/// Entity ID of CPR PersonBaseDataExtended v4 (SF1520).
pub const ENTITY_CPR_PERSONBASEDATAEXTENDED: &str =
    "http://cpr.serviceplatformen.dk/service/personbasedataextended/4";

/// The SF1520 service (tokens with this audience).
pub struct PersonBaseDataExtended;
impl SecuredService for PersonBaseDataExtended {
    const ENTITY_ID: &'static str = ENTITY_CPR_PERSONBASEDATAEXTENDED;
}

/// `POST /service/CPR/PersonBaseDataExtended/4` (and with a trailing slash).
pub fn routes() -> Router<AppState> {
    let h = post(
        |State(st): State<AppState>, secured: WsSecured<PersonBaseDataExtended>| async move {
            person_lookup(&st, &secured).await
        },
    );
    Router::new()
        .route(personlookup::STI, h.clone())
        .route(&format!("{}/", personlookup::STI), h)
        .route("/cpr/personer", axum::routing::get(personer))
}

pub mod haendelser;
pub mod samling;

pub use haendelser::load_register;

/// Read every `*.jsonl` population file of `dir` (absent: an empty register).
pub fn load_population(dir: &Path) -> anyhow::Result<Register> {
    let mut reg = Register::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(reg);
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    for f in files {
        let file =
            std::fs::File::open(&f).map_err(|e| anyhow::anyhow!("opening {}: {e}", f.display()))?;
        let (p, v) = reg
            .laes_jsonl(std::io::BufReader::new(file))
            .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        tracing::info!(file = %f.display(), personer = p, virksomheder = v, "CPR population loaded");
    }
    Ok(reg)
}

/// fki's `ErrorCode`s.
pub mod fejlkode {
    /// The request is not a valid PersonLookupRequest.
    pub const UGYLDIG_FORESPOERGSEL: &str = "UgyldigForespoergsel";
    /// `AuthorityContext` names another municipality than the token.
    pub const AUTHORITY_CONTEXT: &str = "AuthorityContextAfvist";
    /// `InvocationContext` does not match the caller, the service or an active agreement.
    pub const INVOCATION_CONTEXT: &str = "InvocationContextAfvist";
    /// No person with that number.
    pub const IKKE_FUNDET: &str = "PersonIkkeFundet";
}

fn sp_fault(sender: bool, code: &str, tekst: &str) -> Response {
    let faultcode = if sender { "soap:Client" } else { "soap:Server" };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"{}\"><soap:Body><soap:Fault>\
<faultcode>{faultcode}</faultcode><faultstring>{}</faultstring><detail>{}</detail></soap:Fault></soap:Body></soap:Envelope>",
        SoapVersion::Soap11.namespace(),
        xml::escape_text(tekst),
        personlookup::fault_detail(code, tekst)
    );
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/xml; charset=utf-8"),
        )],
        xml,
    )
        .into_response()
}

async fn person_lookup(st: &AppState, secured: &WsSecured<PersonBaseDataExtended>) -> Response {
    let ugyldig = |t: &str| sp_fault(true, fejlkode::UGYLDIG_FORESPOERGSEL, t);
    let f = match crate::sts::soap::laes_operation(
        &secured.body,
        secured.soap_version,
        personlookup::laes,
    ) {
        Ok(f) => f,
        Err(e) => return ugyldig(&e),
    };
    let udsnit = match &secured.caller {
        Some(caller) => match kontekster(st, caller, &f).await {
            Ok(u) => u,
            Err(r) => return r,
        },
        None => Udsnit::ALT,
    };
    let reg = st.cpr.laes();
    let Some(person) = Cpr::parse(&f.pnr).and_then(|c| reg.person(&c)) else {
        return sp_fault(
            true,
            fejlkode::IKKE_FUNDET,
            &format!("no person with PNR {}", f.pnr),
        );
    };
    let svar = personlookup::svar(person, &reg, personlookup::idag(), udsnit);
    crate::sts::soap::envelope(secured.soap_version, None, &svar)
}

/// The AuthorityContext and InvocationContext checks (see the module docs), and what the
/// caller's active agreements let it see.
async fn kontekster(
    st: &AppState,
    caller: &crate::sts::guard::Caller,
    f: &Forespoergsel,
) -> Result<Udsnit, Response> {
    if let Some(m) = &f.myndighed
        && *m != caller.cvr
    {
        return Err(sp_fault(
            true,
            fejlkode::AUTHORITY_CONTEXT,
            &format!(
                "AuthorityContext/MunicipalityCVR {m} is not the municipality of the token ({})",
                caller.cvr
            ),
        ));
    }
    let (service, aftaler, udsnit) = aftaler(st, caller, ENTITY_CPR_PERSONBASEDATAEXTENDED)
        .await
        .map_err(|r| sp_fault(r.status.is_client_error(), &r.code, &r.reason))?;
    let Some(ic) = &f.invocation else {
        return Ok(udsnit);
    };
    let afvist = |t: String| sp_fault(true, fejlkode::INVOCATION_CONTEXT, &t);
    if ic.user_system != caller.system {
        return Err(afvist(format!(
            "InvocationContext/UserSystemUUID {} is not the calling system",
            ic.user_system
        )));
    }
    if ic.service != service {
        return Err(afvist(format!(
            "InvocationContext/ServiceUUID {} is not this service ({service})",
            ic.service
        )));
    }
    if !aftaler.iter().any(|a| a.uuid == ic.service_agreement) {
        return Err(afvist(format!(
            "InvocationContext/ServiceAgreementUUID {} is not an active agreement of the caller for this service and CVR",
            ic.service_agreement
        )));
    }
    Ok(udsnit)
}

/// A REST call of a CPR service (`entity`): the token (`Authorization: Holder-of-key|Bearer`,
/// audited) and an active agreement for its CVR; what the agreements let the caller see. A
/// refusal is the JSON answer to give.
pub(crate) async fn rest_adgang(
    st: &AppState,
    parts: &axum::http::request::Parts,
    entity: &str,
) -> Result<Udsnit, Response> {
    let caller = crate::sts::guard::authenticate_audited(&st.sts, parts, entity)
        .await
        .map_err(|r| r.json())?;
    aftaler(st, &caller, entity)
        .await
        .map(|(_, _, u)| u)
        .map_err(|r| r.json())
}

/// The CPR service's UUID (`entity`), the caller's active agreements for it, and what they let
/// it see.
async fn aftaler(
    st: &AppState,
    caller: &crate::sts::guard::Caller,
    entity: &str,
) -> Result<(Uuid, Vec<fki_store::adgang::Serviceaftale>, Udsnit), crate::sts::Refusal> {
    let service = st.sts.own_service(entity).await?;
    let aftaler = st
        .sts
        .active_agreements(caller.system, service, &caller.cvr)
        .await?;
    let udsnit = aftaler
        .iter()
        .map(|a| {
            Udsnit::af(
                a.dataafgraensninger
                    .iter()
                    .map(|d| (d.navn.as_str(), d.vaerdi.as_str())),
            )
        })
        .reduce(Udsnit::eller)
        .unwrap_or(Udsnit::ALT);
    Ok((service, aftaler, udsnit))
}

/// Largest page of `GET /cpr/personer`, and the default.
pub const MAKS_PERSONER: usize = 1000;
const STANDARD_PERSONER: usize = 100;

/// `GET /cpr/personer?navn=&foedselsdato=&vejnavn=&husnummer=&postnummer=&kommunekode=&maks=`:
/// the Query service (see docs/cpr.md). A token for the CPR service (`Authorization:
/// Holder-of-key|Bearer <token>` on HTTPS with its certificate) and an agreement, as on the REST
/// API; the agreement's data restrictions shape the answer.
async fn personer(State(st): State<AppState>, req: axum::extract::Request) -> Response {
    let (parts, _) = req.into_parts();
    let udsnit = if st.sts.settings.dev_open {
        tracing::warn!("--dev-open: CPR query let through without a token");
        Udsnit::ALT
    } else {
        match rest_adgang(&st, &parts, ENTITY_CPR_PERSONBASEDATAEXTENDED).await {
            Ok(u) => u,
            Err(r) => return r,
        }
    };
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let mut q = fki_cpr::soeg::PersonSoeg::default();
    let mut maks = STANDARD_PERSONER;
    let bad = |felt: &str, why: &str| crate::error::ApiError::validation(felt, why).into_response();
    for (k, v) in pairs {
        let v = v.trim().to_owned();
        match k.as_str() {
            "navn" => q.navn = Some(v),
            "foedselsdato" => match chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d") {
                Ok(d) => q.foedselsdato = Some(d),
                Err(_) => return bad("foedselsdato", "expected YYYY-MM-DD"),
            },
            "vejnavn" => q.vejnavn = Some(v),
            "husnummer" => q.husnummer = Some(v),
            "postnummer" => match v.parse() {
                Ok(n) => q.postnummer = Some(n),
                Err(_) => return bad("postnummer", "expected a number"),
            },
            "kommunekode" if v.len() == 4 && v.bytes().all(|b| b.is_ascii_digit()) => {
                q.kommunekode = Some(v)
            }
            "kommunekode" => return bad("kommunekode", "expected 4 digits"),
            "maks" => match v.parse::<usize>() {
                Ok(n) if (1..=MAKS_PERSONER).contains(&n) => maks = n,
                _ => return bad("maks", &format!("expected 1..{MAKS_PERSONER}")),
            },
            other => return bad(other, "unknown parameter"),
        }
    }
    if q.er_tom() {
        return bad(
            "",
            "give at least one of navn, foedselsdato, vejnavn, husnummer, postnummer, kommunekode",
        );
    }
    let reg = st.cpr.laes();
    let (hits, flere) = fki_cpr::soeg::soeg(&reg, &q, udsnit, maks);
    axum::Json(serde_json::json!({
        "personer": hits.iter().map(|p| fki_cpr::soeg::person_json(p, udsnit)).collect::<Vec<_>>(),
        "flere": flere,
    }))
    .into_response()
}

/// The Query service in the OpenAPI document.
pub fn openapi_paths(
    paths: &mut serde_json::Map<String, serde_json::Value>,
    _schemas: &mut serde_json::Map<String, serde_json::Value>,
) {
    samling::openapi_paths(paths);
    haendelser::openapi_paths(paths);
    let param = |n: &str, d: &str, t: &str| serde_json::json!({"name": n, "in": "query", "required": false, "description": d, "schema": {"type": t}});
    paths.insert(
        "/cpr/personer".into(),
        serde_json::json!({"get": {
            "tags": ["cpr"],
            "summary": "CPR Query: people by name, birth date and address (a token for the CPR PersonBaseDataExtended service)",
            "operationId": "cpr_personer",
            "parameters": [
                param("navn", "Every word must occur in the name (case-insensitive)", "string"),
                param("foedselsdato", "YYYY-MM-DD", "string"),
                param("vejnavn", "Street name, whole, case-insensitive", "string"),
                param("husnummer", "House number", "string"),
                param("postnummer", "Postal code", "integer"),
                param("kommunekode", "Municipality code, 4 digits", "string"),
                param("maks", "At most this many (1..1000, default 100)", "integer"),
            ],
            "responses": {
                "200": {"description": "`{\"personer\": [...], \"flere\": bool}`: matches in CPR-number order; the agreement's data restrictions leave out numbers or addresses", "content": {"application/json": {"schema": {"type": "object", "properties": {"personer": {"type": "array", "items": {"type": "object"}}, "flere": {"type": "boolean"}}}}}},
                "400": {"description": "No criterion, or a malformed one", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "401": {"description": "No valid token"},
                "403": {"description": "No active agreement"}
            }
        }}),
    );
}

/// The register behind the CPR services, shared: read by the look-ups, changed by the CPR
/// events (SF1320_A). A lock poisoned by a panicking writer is taken over (the register's
/// changes are whole-person replacements, never half-applied to one person).
#[derive(Debug, Clone)]
pub struct CprRegister {
    register: Arc<std::sync::RwLock<Register>>,
    /// One simulation at a time, and where its log is.
    pub simulering: haendelser::Simulering,
}

impl CprRegister {
    pub fn new(r: Register, log: haendelser::Logfil) -> CprRegister {
        CprRegister {
            register: Arc::new(std::sync::RwLock::new(r)),
            simulering: Arc::new(tokio::sync::Mutex::new(log)),
        }
    }

    /// Read access; hold it only while building one answer.
    pub fn laes(&self) -> std::sync::RwLockReadGuard<'_, Register> {
        self.register.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access, for applying changes.
    pub fn skriv(&self) -> std::sync::RwLockWriteGuard<'_, Register> {
        self.register.write().unwrap_or_else(|e| e.into_inner())
    }
}
