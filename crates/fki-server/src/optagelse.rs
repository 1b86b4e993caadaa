//! Recording every call and delivery (issue 8 item 2), on top of the audit log
//! (`fki_store::adgang::AuditEntry` with `sf`, `operation`, `status`): the ground the compliance
//! checks stand on.
//!
//! - **Calls** (`haendelse` `kald`): every request to a KOMBIT service of [`crate::tjenester`]
//!   and to the OIO REST API passes [`optag_kald`] (a route layer). The request carries a
//!   [`Slot`] as an extension; the authentication steps (`sts::guard::authenticate`, the
//!   WS-Security extractor) write into it which service the request was for and, once the token
//!   and agreement are accepted, the calling system and its CVR. After the answer the layer
//!   records: system and CVR (when authenticated), the service's entity ID and SF number (from
//!   the entity via `KENDTE_SERVICES`, else the service table's first), the operation (the SOAP
//!   action's last segment, else `METHOD /route`), the HTTP status, the outcome (`ok` 2xx,
//!   `afvist` 401/403 and SOAP requests the WS-Security checks refused, with the refusal code
//!   in `aarsag`; `ugyldig` other 4xx, `fejl` 5xx: other SOAP faults are 500), the TLS client
//!   certificate's SHA-256 (so a call without a valid token is still attributable to the
//!   system whose certificate made it) and the correlation (`x-TransaktionsId`, else the
//!   Slot's reference).
//! - **Deliveries** (`levering`): each push attempt (`beskedfordeler::push`), to the dueslag's
//!   owner, SF1461 `ModtagBesked`, with the receiver's answer.
//!
//! Recording never slows or fails a request: entries go through a bounded queue
//! ([`KOE`]) to one writer task that stores them in batches (`AdgangStore::audit_mange`); a full
//! queue drops entries, logged and counted (`fki_optagelse_tabt_total`). Entries older than the
//! retention (`Config::optagelse_dage`, `--recording-retention-days`) are pruned hourly, with
//! the rest of the audit log. Query them with `fki audit --haendelse kald --sf SF1520` or
//! `GET /admin/audit?haendelse=kald&sf=SF1520`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use fki_store::adgang::{AdgangStore, AuditEntry, KENDTE_SERVICES};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::AppState;
use crate::tjenester::Tjeneste;

/// Entries that may wait for the writer; more are dropped (counted).
pub const KOE: usize = 16_384;
/// Entries written per batch at most.
const BATCH: usize = 512;
/// How long the writer gathers entries before a batch that is not full.
const SAMLE: Duration = Duration::from_millis(100);

/// What the authentication learnt about a request's caller.
#[derive(Debug, Clone, Default)]
pub struct Anvender {
    /// The service's entity ID.
    pub entity: Option<String>,
    pub system: Option<Uuid>,
    pub cvr: Option<String>,
    /// WS-Addressing MessageID or another correlation.
    pub reference: Option<String>,
    /// The request was refused by the security checks, with this code (`no_token`,
    /// `expired`, `no_agreement` …): a SOAP fault is recorded as `afvist`, not `fejl`.
    pub afvist: Option<String>,
    /// The operation as the handler read it from the Body (SOAP services whose clients send
    /// no SOAPAction); else it is taken from the request.
    pub operation: Option<String>,
}

/// A request extension the authentication writes into (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Slot(Arc<Mutex<Anvender>>);

impl Slot {
    fn med(&self, f: impl FnOnce(&mut Anvender)) {
        let mut a = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut a);
    }

    fn tag(&self) -> Anvender {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Slot {
    /// The request is for the service `entity` (before its token is checked).
    pub fn tjeneste(&self, entity: &str) {
        self.med(|a| a.entity = Some(entity.to_owned()));
    }

    /// The request's caller was accepted.
    pub fn kalder(&self, c: &crate::sts::guard::Caller) {
        self.med(|a| {
            a.entity = Some(c.service.clone());
            a.system = Some(c.system);
            a.cvr = Some(c.cvr.clone());
            if a.reference.is_none() {
                a.reference = c.transaktions_id.clone();
            }
        });
    }
}

impl Slot {
    /// The security checks refused the request (`code`).
    pub fn afvist(&self, code: &str) {
        self.med(|a| a.afvist = Some(code.to_owned()));
    }

    /// The handler read the request as the operation `navn`.
    pub fn operation(&self, navn: &str) {
        self.med(|a| a.operation = Some(navn.to_owned()));
    }
}

/// [`Slot::tjeneste`] on the request's slot, if it has one (a recorded route).
pub fn saet_tjeneste(ext: &axum::http::Extensions, entity: &str) {
    if let Some(s) = ext.get::<Slot>() {
        s.tjeneste(entity);
    }
}

/// [`Slot::kalder`] on the request's slot, if it has one.
pub fn saet_kalder(ext: &axum::http::Extensions, c: &crate::sts::guard::Caller) {
    if let Some(s) = ext.get::<Slot>() {
        s.kalder(c);
    }
}

/// The SF number of a service entity ID fki knows.
pub fn sf_for_entity(entity: &str) -> Option<&'static str> {
    KENDTE_SERVICES
        .iter()
        .find(|(e, _, _)| *e == entity)
        .map(|(_, _, sf)| *sf)
}

/// The outcome word for an HTTP status.
pub fn udfald(status: u16) -> &'static str {
    match status {
        200..=299 => "ok",
        401 | 403 => "afvist",
        400..=499 => "ugyldig",
        _ => "fejl",
    }
}

/// The recorder: a queue and its writer (see the module docs).
#[derive(Debug)]
pub struct Optager {
    tx: mpsc::Sender<AuditEntry>,
    pub optaget: AtomicU64,
    pub tabt: AtomicU64,
}

impl Optager {
    /// Start the writer and the hourly pruning (entries older than `dage` days; 0: never).
    /// Must be called inside a Tokio runtime.
    pub fn start(store: Arc<dyn AdgangStore>, dage: u32) -> Arc<Optager> {
        let (tx, rx) = mpsc::channel(KOE);
        let o = Arc::new(Optager {
            tx,
            optaget: AtomicU64::new(0),
            tabt: AtomicU64::new(0),
        });
        tokio::spawn(skriver(store.clone(), rx, o.clone()));
        if dage > 0 {
            tokio::spawn(beskaer(store, dage));
        }
        o
    }

    /// Queue an entry; never waits.
    pub fn optag(&self, e: AuditEntry) {
        if self.tx.try_send(e).is_err() {
            let n = self.tabt.fetch_add(1, Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::error!(tabt = n, "recording queue full: call records dropped");
            }
        }
    }

    /// A push delivery attempt to `system` (the dueslag's owner) for `cvr`: operation
    /// `ModtagBesked`.
    pub fn levering(
        &self,
        system: Uuid,
        cvr: &str,
        status: i64,
        resultat: &str,
        reference: String,
    ) {
        self.levering_som(
            "ModtagBesked",
            system,
            cvr,
            Some(status),
            resultat,
            reference,
        );
    }

    /// A levering handed to `system`'s RabbitMQ queue (the broker confirmed it; the receiver
    /// acknowledges it to RabbitMQ, which fki does not see): operation `BeskedHent (AMQP)`.
    pub fn levering_amqp(&self, system: Uuid, cvr: &str, reference: String) {
        self.levering_som("BeskedHent (AMQP)", system, cvr, None, "ok", reference);
    }

    fn levering_som(
        &self,
        operation: &str,
        system: Uuid,
        cvr: &str,
        status: Option<i64>,
        resultat: &str,
        reference: String,
    ) {
        self.optag(AuditEntry {
            tid: fki_oio::time::now(),
            haendelse: "levering".into(),
            system: Some(system),
            service: Some(crate::beskedfordeler::BFO_MODTAG.into()),
            myndighed: Some(cvr.to_owned()),
            resultat: resultat.into(),
            reference: Some(reference),
            sf: Some("SF1461".into()),
            operation: Some(operation.into()),
            status,
            ..Default::default()
        });
    }
}

async fn skriver(store: Arc<dyn AdgangStore>, mut rx: mpsc::Receiver<AuditEntry>, o: Arc<Optager>) {
    let mut buf = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut buf, BATCH).await > 0 {
        // Under load, gather for a moment: few, large transactions cost the store least.
        if buf.len() < BATCH {
            tokio::time::sleep(SAMLE).await;
            while buf.len() < BATCH {
                match rx.try_recv() {
                    Ok(e) => buf.push(e),
                    Err(_) => break,
                }
            }
        }
        let n = buf.len() as u64;
        match store.audit_mange(&buf).await {
            Ok(()) => {
                o.optaget.fetch_add(n, Relaxed);
            }
            Err(e) => {
                o.tabt.fetch_add(n, Relaxed);
                tracing::error!(antal = n, error = %e, "call records could not be stored: dropped");
            }
        }
        buf.clear();
    }
}

async fn beskaer(store: Arc<dyn AdgangStore>, dage: u32) {
    let mut t = tokio::time::interval(Duration::from_secs(3600));
    loop {
        t.tick().await;
        let graense = fki_oio::time::now() - i64::from(dage) * 86_400_000_000;
        match store.audit_prune(graense).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(slettet = n, dage, "audit log pruned (retention)"),
            Err(e) => tracing::warn!(error = %e, "pruning the audit log failed"),
        }
    }
}

/// The operation of a request: the SOAP action's last segment (`SOAPAction` header, or SOAP
/// 1.2's `action` parameter), else `METHOD /route`.
fn operation(req: &Request) -> String {
    if let Some(a) = crate::sts::soap::soap_action(req.headers()) {
        return a
            .trim_end_matches('/')
            .rsplit(['/', '#'])
            .next()
            .unwrap_or(&a)
            .to_owned();
    }
    let rute = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| req.uri().path().to_owned());
    format!("{} {rute}", req.method())
}

/// The route layer recording a call (see the module docs); `t` is the service the routes
/// belong to (`None`: the OIO REST API, whose SF comes from the token's service).
pub async fn optag_kald(
    State((st, t)): State<(AppState, Option<&'static Tjeneste>)>,
    mut req: Request,
    next: Next,
) -> Response {
    let slot = Slot::default();
    req.extensions_mut().insert(slot.clone());
    let start = std::time::Instant::now();
    let operation = operation(&req);
    let transaktion = crate::sts::issue::transaktions_id(req.headers());
    // The TLS client certificate attributes a call even when it has no valid token.
    let certifikat = req
        .extensions()
        .get::<crate::tls::ClientCert>()
        .map(|c| c.sha256.to_string());
    let res = next.run(req).await;
    let a = slot.tag();
    let status = res.status().as_u16();
    let varighed = format!("{} µs", start.elapsed().as_micros());
    let sf = a
        .entity
        .as_deref()
        .and_then(sf_for_entity)
        .or_else(|| t.and_then(|t| t.sf.first().copied()));
    st.optager.optag(AuditEntry {
        tid: fki_oio::time::now(),
        haendelse: "kald".into(),
        system: a.system,
        service: a.entity,
        myndighed: a.cvr,
        certifikat_sha256: certifikat,
        resultat: if a.afvist.is_some() {
            "afvist".into()
        } else {
            udfald(status).into()
        },
        aarsag: Some(match &a.afvist {
            Some(kode) => format!("{kode}; {varighed}"),
            None => varighed,
        }),
        reference: transaktion.or(a.reference),
        sf: sf.map(str::to_owned),
        operation: Some(a.operation.unwrap_or(operation)),
        status: Some(i64::from(status)),
        ..Default::default()
    });
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_and_outcomes() {
        let r = |h: &[(&str, &str)], path: &str| {
            let mut b = Request::builder().method("POST").uri(path);
            for (k, v) in h {
                b = b.header(*k, *v);
            }
            operation(&b.body(axum::body::Body::empty()).unwrap())
        };
        assert_eq!(
            r(
                &[(
                    "SOAPAction",
                    "\"http://serviceplatformen.dk/xml/wsdl/soap11/CPR/PersonBaseDataExtended/4/PersonLookup\""
                )],
                "/x"
            ),
            "PersonLookup"
        );
        assert_eq!(
            r(
                &[(
                    "content-type",
                    "application/soap+xml; charset=utf-8; action=\"http://kombit.dk/sts/organisation/bruger/laes\""
                )],
                "/x"
            ),
            "laes"
        );
        assert_eq!(r(&[], "/cpr/personer"), "POST /cpr/personer");
        assert_eq!(udfald(200), "ok");
        assert_eq!(udfald(401), "afvist");
        assert_eq!(udfald(404), "ugyldig");
        assert_eq!(udfald(500), "fejl");
        assert_eq!(
            sf_for_entity("http://cpr.serviceplatformen.dk/service/personbasedataextended/4"),
            Some("SF1520")
        );
        assert_eq!(sf_for_entity("urn:ukendt"), None);
    }
}
