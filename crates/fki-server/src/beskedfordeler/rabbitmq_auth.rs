//! fki decides who may do what on RabbitMQ (item 5b of issue 4), through RabbitMQ's standard
//! HTTP auth backend (`rabbitmq_auth_backend_http`), pointed at these routes:
//!
//! ```text
//! auth_backends.1 = internal          # fki's own service user (FKI_AMQP_URL), guest in tests
//! auth_backends.2 = http
//! auth_http.http_method   = post
//! auth_http.user_path     = http://127.0.0.1:8080/rabbitmq/auth/user
//! auth_http.vhost_path    = http://127.0.0.1:8080/rabbitmq/auth/vhost
//! auth_http.resource_path = http://127.0.0.1:8080/rabbitmq/auth/resource
//! auth_http.topic_path    = http://127.0.0.1:8080/rabbitmq/auth/topic
//! ```
//!
//! Two kinds of RabbitMQ users exist for fki, both short-lived:
//!
//! - **Gateway sessions** ([`super::gateway`]): after the gateway verified a client's SAML
//!   assertion (SASL EXTERNAL) or access token (PLAIN), it opens its upstream connection as a
//!   one-time user `fki-gw-<uuid>` with a random password, registered here ([`AmqpAdgange::
//!   registrer`]) until the token expires or the connection ends.
//! - **Direct PLAIN** (local use): username = the system's UUID, password = an access token from
//!   the REST flow (`/service/AccessTokenService_1/token`) for `bfo_afsend/2` or `bfo_modtag/2`.
//!
//! What a user may do follows from its token's audience, system and CVR:
//!
//! | audience | may |
//! |---|---|
//! | `bfo_afsend/2` | write to exchange `AFSEND_BESKED_EXCHANGE`; read the direct reply-to pseudo-queue |
//! | `bfo_modtag/2` | configure and read the queues named by the UUIDs of its own dueslag (owner = the token's system, myndighed = its CVR) |
//!
//! and nothing else; vhosts: only the upstream vhost fki itself uses. Every answer is the plain
//! text `allow` or `deny`, as the backend expects. The agreement behind a token is checked again
//! when a user logs in.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::Router;
use axum::extract::{RawForm, RawQuery, State};
use axum::routing::any;
use uuid::Uuid;

use super::{BFO_AFSEND, BFO_MODTAG};
use crate::AppState;

/// The exchange KOMBIT's senders publish to.
pub const AFSEND_EXCHANGE: &str = "AFSEND_BESKED_EXCHANGE";

/// What a RabbitMQ user stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bevilling {
    pub system: Uuid,
    pub cvr: String,
    /// The token's entity ID (`bfo_afsend/2` or `bfo_modtag/2`).
    pub audience: String,
    pub udloeber: Instant,
}

/// The gateway sessions' one-time users (password hashed), bounded.
#[derive(Debug, Default)]
pub struct AmqpAdgange {
    brugere: Mutex<HashMap<String, (String, Bevilling)>>,
    /// Direct PLAIN logins: the grants of each system's tokens that logged in, until they
    /// expire (RabbitMQ's later checks name the user only).
    direkte: Mutex<HashMap<Uuid, Vec<Bevilling>>>,
}

/// Largest number of live gateway sessions.
const MAKS_SESSIONER: usize = 10_000;

impl AmqpAdgange {
    /// Register a one-time user for a gateway session: (username, password).
    pub fn registrer(&self, b: Bevilling) -> Option<(String, String)> {
        let navn = format!("fki-gw-{}", Uuid::new_v4());
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        let kode: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut m = self.brugere.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() >= MAKS_SESSIONER {
            let nu = Instant::now();
            m.retain(|_, (_, b)| b.udloeber > nu);
            if m.len() >= MAKS_SESSIONER {
                return None;
            }
        }
        m.insert(
            navn.clone(),
            (fki_sts::ca::fingerprint_sha256(kode.as_bytes()), b),
        );
        Some((navn, kode))
    }

    /// The session has ended.
    pub fn fjern(&self, navn: &str) {
        self.brugere
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(navn);
    }

    fn direkte_login(&self, b: Bevilling) {
        let nu = Instant::now();
        let mut m = self.direkte.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() >= MAKS_SESSIONER {
            m.retain(|_, v| {
                v.retain(|b| b.udloeber > nu);
                !v.is_empty()
            });
        }
        let v = m.entry(b.system).or_default();
        v.retain(|x| x.udloeber > nu && *x != b);
        v.push(b);
    }

    fn direkte(&self, system: Uuid) -> Vec<Bevilling> {
        let nu = Instant::now();
        self.direkte
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&system)
            .map(|v| v.iter().filter(|b| b.udloeber > nu).cloned().collect())
            .unwrap_or_default()
    }

    fn bevilling(&self, navn: &str, kode: Option<&str>) -> Option<Bevilling> {
        let m = self.brugere.lock().unwrap_or_else(|p| p.into_inner());
        let (hash, b) = m.get(navn)?;
        if b.udloeber <= Instant::now() {
            return None;
        }
        if let Some(k) = kode
            && !crate::admin::same_secret(
                fki_sts::ca::fingerprint_sha256(k.as_bytes()).as_bytes(),
                hash.as_bytes(),
            )
        {
            return None;
        }
        Some(b.clone())
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/rabbitmq/auth/user", any(user))
        .route("/rabbitmq/auth/vhost", any(vhost))
        .route("/rabbitmq/auth/resource", any(resource))
        .route("/rabbitmq/auth/topic", any(topic))
}

/// The request's parameters: the form body (POST) or the query string (GET).
fn params(q: Option<String>, form: &[u8]) -> HashMap<String, String> {
    let src: Vec<u8> = if form.is_empty() {
        q.unwrap_or_default().into_bytes()
    } else {
        form.to_vec()
    };
    form_urlencoded::parse(&src).into_owned().collect()
}

fn svar(ok: bool) -> &'static str {
    if ok { "allow" } else { "deny" }
}

/// The grant of a RabbitMQ user: a gateway session, or a system UUID with an access token.
async fn bevilling(st: &AppState, navn: &str, kode: Option<&str>) -> Option<Bevilling> {
    if navn.starts_with("fki-gw-") {
        return st.beskedfordeler.amqp_adgange.bevilling(navn, kode);
    }
    let system: Uuid = navn.parse().ok()?;
    let token = kode?;
    let e = st.sts.access_tokens.get(token)?;
    if e.system != system || (e.audience != BFO_AFSEND && e.audience != BFO_MODTAG) {
        return None;
    }
    st.sts
        .active_agreements(e.system, e.service, &e.cvr)
        .await
        .ok()?;
    Some(Bevilling {
        system,
        cvr: e.cvr.clone(),
        audience: e.audience.clone(),
        udloeber: e.expires,
    })
}

async fn user(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    RawForm(form): RawForm,
) -> &'static str {
    let p = params(q, &form);
    let (Some(u), Some(pw)) = (p.get("username"), p.get("password")) else {
        return svar(false);
    };
    match bevilling(&st, u, Some(pw)).await {
        Some(b) => {
            if !u.starts_with("fki-gw-") {
                st.beskedfordeler.amqp_adgange.direkte_login(b);
            }
            svar(true)
        }
        None => {
            tracing::info!(username = %u, "RabbitMQ login refused");
            svar(false)
        }
    }
}

async fn vhost(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    RawForm(form): RawForm,
) -> &'static str {
    let p = params(q, &form);
    let (Some(u), Some(v)) = (p.get("username"), p.get("vhost")) else {
        return svar(false);
    };
    let ok = !bevillinger(&st, u).is_empty() && *v == upstream_vhost(&st);
    svar(ok)
}

fn upstream_vhost(st: &AppState) -> String {
    vhost_of(st.config.amqp_url.as_deref().unwrap_or(""))
}

/// The virtual host of an `amqp://…/vhost` URL (percent-decoded; `/` when none is named).
pub fn vhost_of(url: &str) -> String {
    let after_host = url
        .strip_prefix("amqp://")
        .or_else(|| url.strip_prefix("amqps://"))
        .unwrap_or(url);
    let path = match after_host.split_once('/') {
        Some((_, p)) => p.split('?').next().unwrap_or(""),
        None => "",
    };
    let decoded: String =
        form_urlencoded::parse(format!("v={}", path.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
    if decoded.is_empty() {
        "/".to_owned()
    } else {
        decoded
    }
}

async fn resource(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    RawForm(form): RawForm,
) -> &'static str {
    let p = params(q, &form);
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    for b in bevillinger(&st, get("username")) {
        if tilladt(&st, &b, get("resource"), get("name"), get("permission")).await {
            return svar(true);
        }
    }
    svar(false)
}

async fn topic(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    RawForm(form): RawForm,
) -> &'static str {
    let p = params(q, &form);
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    // Topic checks only happen on topic exchanges; fki's are direct. Same rule as the exchange.
    for b in bevillinger(&st, get("username")) {
        if tilladt(&st, &b, "exchange", get("name"), get("permission")).await {
            return svar(true);
        }
    }
    svar(false)
}

/// The grants behind a user RabbitMQ already authenticated through [`user`].
fn bevillinger(st: &AppState, navn: &str) -> Vec<Bevilling> {
    let a = &st.beskedfordeler.amqp_adgange;
    if navn.starts_with("fki-gw-") {
        return a.bevilling(navn, None).into_iter().collect();
    }
    match navn.parse::<Uuid>() {
        Ok(system) => a.direkte(system),
        Err(_) => Vec::new(),
    }
}

/// The rule table of the module docs.
pub async fn tilladt(
    st: &AppState,
    b: &Bevilling,
    resource: &str,
    name: &str,
    permission: &str,
) -> bool {
    if b.udloeber <= Instant::now() {
        return false;
    }
    match (b.audience.as_str(), resource, permission) {
        (BFO_AFSEND, "exchange", "write") => name == AFSEND_EXCHANGE,
        (BFO_AFSEND, "queue", "read") => name.starts_with("amq.rabbitmq.reply-to"),
        (BFO_MODTAG, "queue", "read" | "configure") => {
            let Ok(u) = name.parse::<Uuid>() else {
                return false;
            };
            matches!(
                st.beskedfordeler.store.hent_dueslag(u).await,
                Ok(Some(d)) if d.ejer == b.system && d.myndighed == b.cvr
            )
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::vhost_of;

    #[test]
    fn vhosts() {
        assert_eq!(vhost_of("amqp://guest:guest@127.0.0.1:5672/%2f"), "/");
        assert_eq!(vhost_of("amqp://guest:guest@127.0.0.1:5672/BF"), "BF");
        assert_eq!(vhost_of("amqp://127.0.0.1"), "/");
        assert_eq!(vhost_of("amqp://h/a%20b?heartbeat=10"), "a b");
    }
}
