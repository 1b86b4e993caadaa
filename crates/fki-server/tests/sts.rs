//! Adgangsstyring end to end over real TLS: the SOAP and REST issue flows, tokens on the OIO
//! REST API, the WS-Security layer, and the refusals — each refusal also in the audit log.
//!
//! Runs on SQLite always; the tests whose outcome depends on the store (agreements, tenancy,
//! revocation, audit) also on PostgreSQL when `FKI_TEST_POSTGRES_URL` is set:
//!
//! ```text
//! FKI_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo test -p fki-server --test sts
//! ```

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::response::IntoResponse;
use axum::routing::post;
use base64::Engine;
use chrono::{Duration, Utc};
use fki_server::sts::soap::{SecuredService, WsSecured};
use fki_server::sts::{ENTITY_KLASSIFIKATION, ENTITY_ORGANISATION};
use fki_server::{Config, ServerHandle};
use fki_store::adgang::{AftaleStatus, AuditEntry, AuditQuery, Dataafgraensning};
use fki_store::testing::{DropGuard, fresh_postgres};
use fki_sts::bpp::PrivilegeList;
use fki_sts::ca::{Ca, Issued};
use fki_sts::saml::{self, AssertionSpec, StsKey};
use fki_sts::{wssec, wstrust};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

const CVR_A: &str = "11111111";
const CVR_B: &str = "22222222";
const SOAP_ISSUE: &str = "/runtime/services/kombittrust/14/certificatemixed";
const REST_ISSUE: &str = "/runtime/api/rest/wstrust/v1/issue";
const ACCESS_TOKEN: &str = "/service/AccessTokenService_1/token";
const ROLE: &str = "http://fki.test/roles/usersystemrole/organisation/1";

#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A system with its certificate, registered or not.
struct System {
    uuid: Uuid,
    cert: Issued,
}

struct Env {
    handle: Option<ServerHandle>,
    guard: Option<DropGuard>,
    _dir: tempfile::TempDir,
    https: String,
    http: String,
    https_addr: SocketAddr,
}

impl Env {
    async fn start(backend: Backend) -> Option<Env> {
        let dir = tempfile::tempdir().unwrap();
        let (url, guard) = match backend {
            Backend::Sqlite => (None, None),
            Backend::Postgres => {
                let Ok(base) = std::env::var("FKI_TEST_POSTGRES_URL") else {
                    eprintln!("skipped on PostgreSQL: FKI_TEST_POSTGRES_URL is not set");
                    return None;
                };
                let (u, g) = fresh_postgres(&base).await.unwrap();
                (Some(u), Some(g))
            }
        };
        let config = Config::for_test_secure(dir.path().to_path_buf(), url);
        let handle = fki_server::start(config).await.unwrap();
        let https_addr = handle.https_addr.unwrap();
        Some(Env {
            https: handle.https_url().unwrap(),
            http: handle.url(),
            https_addr,
            handle: Some(handle),
            guard,
            _dir: dir,
        })
    }

    fn handle(&self) -> &ServerHandle {
        self.handle.as_ref().unwrap()
    }

    fn sts(&self) -> &fki_server::sts::Sts {
        &self.handle().state.sts
    }

    fn ca(&self) -> &Ca {
        &self.sts().ca
    }

    async fn finish(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), h.shutdown()).await;
        }
        if let Some(g) = self.guard.take() {
            g.cleanup().await.unwrap();
        }
    }

    /// A new system certificate, registered as an anvendersystem.
    async fn system(&self, name: &str, cvr: &str) -> System {
        let (uuid, cert) =
            common::register_system(self.sts().adgang.as_ref(), self.ca(), name, cvr).await;
        System { uuid, cert }
    }

    /// An active agreement for `system` × `entity_id` × `cvr`.
    async fn agreement(&self, system: &System, entity_id: &str, cvr: &str) -> Uuid {
        common::active_agreement(
            self.sts().adgang.as_ref(),
            system.uuid,
            entity_id,
            cvr,
            vec![ROLE.into()],
            vec![Dataafgraensning {
                navn: fki_sts::bpp::constraint::KLE.into(),
                vaerdi: "25.*".into(),
            }],
        )
        .await
    }

    async fn revoke(&self, aftale: Uuid) {
        self.sts()
            .adgang
            .set_aftale_status(
                aftale,
                AftaleStatus::Tilbagekaldt,
                Utc::now().timestamp_micros(),
            )
            .await
            .unwrap()
            .unwrap();
    }

    /// An HTTPS client presenting `identity` (or no client certificate).
    fn client(&self, identity: Option<&Issued>) -> reqwest::Client {
        common::tls_client(self.ca(), identity, self.https_addr)
    }

    async fn audit(&self, haendelse: &str) -> Vec<AuditEntry> {
        self.sts()
            .adgang
            .audit_query(&AuditQuery {
                haendelse: Some(haendelse.into()),
                ..Default::default()
            })
            .await
            .unwrap()
    }

    /// Assert that the audit log holds a `haendelse` entry with result `code`.
    async fn expect_audit(&self, haendelse: &str, code: &str) -> AuditEntry {
        let all = self.audit(haendelse).await;
        all.iter()
            .find(|e| e.resultat == code)
            .cloned()
            .unwrap_or_else(|| panic!("no {haendelse}/{code} in the audit log: {all:#?}"))
    }

    // -------------------------------------------------------------------- flows

    /// SOAP Issue for `system` → (status, body).
    async fn soap_issue_raw(&self, c: &reqwest::Client, body: String) -> (u16, String) {
        let r = c
            .post(format!("{}{SOAP_ISSUE}", self.https))
            .header("content-type", "application/soap+xml; charset=utf-8")
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    fn issue_request(&self, system: &System, entity_id: &str, cvr: &str) -> String {
        wstrust::build_issue_request(
            system.cert.cert_der(),
            system.cert.key_pem(),
            &format!("{}{SOAP_ISSUE}", self.https),
            entity_id,
            cvr,
            Utc::now(),
        )
        .unwrap()
    }

    /// The assertion XML from a SOAP Issue.
    async fn soap_token(&self, system: &System, entity_id: &str, cvr: &str) -> String {
        let c = self.client(None);
        let (status, body) = self
            .soap_issue_raw(&c, self.issue_request(system, entity_id, cvr))
            .await;
        assert_eq!(status, 200, "{body}");
        wstrust::parse_issue_response(&body).unwrap().assertion_xml
    }

    /// REST step 1 → (status, JSON).
    async fn rest_issue(&self, system: &Issued, entity_id: &str, cvr: &str) -> (u16, Value) {
        let body = json!({
            "TokenType": wstrust::TOKEN_TYPE_SAML20,
            "RequestType": wstrust::REQUEST_TYPE_ISSUE,
            "KeyType": wstrust::KEY_TYPE_PUBLIC_KEY,
            "AnvenderKontekst": {"Cvr": cvr},
            "UseKey": base64::engine::general_purpose::STANDARD.encode(system.cert_der()),
            "AppliesTo": {"EndpointReference": {"Address": entity_id}},
            "OnBehalfOf": null,
        });
        let r = self
            .client(Some(system))
            .post(format!("{}{REST_ISSUE}", self.https))
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// REST step 2 with `client` → (status, JSON).
    async fn exchange(&self, client: &Issued, saml_token_b64: &str) -> (u16, Value) {
        let r = self
            .client(Some(client))
            .post(format!("{}{ACCESS_TOKEN}", self.https))
            .form(&[("saml-token", saml_token_b64)])
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// REST steps 1 and 2: an access token.
    async fn access_token(&self, system: &System, entity_id: &str, cvr: &str) -> String {
        let (s, v) = self.rest_issue(&system.cert, entity_id, cvr).await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = self
            .exchange(
                &system.cert,
                v["RequestedSecurityToken"]["Assertion"].as_str().unwrap(),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["token_type"], "Holder-of-key");
        assert_eq!(v["expires_in"], 3600);
        v["access_token"].as_str().unwrap().to_owned()
    }

    /// An OIO REST call over HTTPS as `client` with `token` (`Authorization: Holder-of-key`).
    async fn oio(
        &self,
        client: Option<&Issued>,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut r = self
            .client(client)
            .request(method, format!("{}{path}", self.https))
            .header("x-TransaktionsId", Uuid::new_v4().to_string())
            .header("x-TransaktionsTid", Utc::now().to_rfc3339());
        if let Some(t) = token {
            r = r.header("authorization", format!("Holder-of-key {t}"));
        }
        for (k, v) in extra {
            r = r.header(*k, *v);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

fn enhed(navn: &str) -> Value {
    json!({
        "attributter": {"organisationenhedegenskaber": [{
            "brugervendtnoegle": navn, "enhedsnavn": navn,
            "virkning": {"from": "2020-01-01", "to": "infinity"}
        }]},
        "tilstande": {"organisationenhedgyldighed": [{
            "gyldighed": "Aktiv",
            "virkning": {"from": "2020-01-01", "to": "infinity"}
        }]}
    })
}

/// Run a test body on SQLite and (if configured) PostgreSQL.
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(env) = super::Env::start(super::Backend::Sqlite).await {
                    super::$name(&env).await;
                    env.finish().await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(env) = super::Env::start(super::Backend::Postgres).await {
                    super::$name(&env).await;
                    env.finish().await;
                }
            }
        }
    };
}

macro_rules! sqlite_only {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(env) = super::Env::start(super::Backend::Sqlite).await {
                    super::$name(&env).await;
                    env.finish().await;
                }
            }
        }
    };
}

use reqwest::Method;

// ------------------------------------------------------------------------------ positive flows

both!(soap_flow_then_oio_rest_with_the_assertion);
async fn soap_flow_then_oio_rest_with_the_assertion(env: &Env) {
    let sys = env.system("ESDH A", CVR_A).await;
    env.agreement(&sys, ENTITY_ORGANISATION, CVR_A).await;
    let assertion = env.soap_token(&sys, ENTITY_ORGANISATION, CVR_A).await;

    // What the STS put into it.
    let v = saml::verify_assertion(
        &assertion,
        &env.sts().trusted,
        fki_server::sts::DEFAULT_ISSUER,
        ENTITY_ORGANISATION,
        Utc::now(),
        Duration::minutes(1),
    )
    .unwrap();
    assert_eq!(v.cvr, CVR_A);
    assert_eq!(v.hok_certificate_der, sys.cert.cert_der());
    assert!(v.not_on_or_after - v.not_before == Duration::hours(8));
    let privs = v.privileges.privileges_for(CVR_A);
    assert_eq!(privs.len(), 1);
    assert_eq!(privs[0].role, ROLE);
    assert_eq!(privs[0].constraints[0].value, "25.*");

    // The assertion itself as the token on the OIO REST API.
    let token = b64(&assertion);
    let (s, created) = env
        .oio(
            Some(&sys.cert),
            Method::POST,
            "/organisation/organisationenhed",
            Some(&token),
            Some(enhed("A-enhed")),
            &[],
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let uuid = created["uuid"].as_str().unwrap();
    let (s, read) = env
        .oio(
            Some(&sys.cert),
            Method::GET,
            &format!("/organisation/organisationenhed/{uuid}"),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 200, "{read}");

    let issued = env.expect_audit("token_issued", "ok").await;
    assert_eq!(issued.system, Some(sys.uuid));
    assert_eq!(issued.myndighed.as_deref(), Some(CVR_A));
    assert_eq!(issued.service.as_deref(), Some(ENTITY_ORGANISATION));
    assert!(issued.reference.is_some(), "the MessageID is the reference");
}

both!(rest_flow_then_oio_rest_with_the_access_token);
async fn rest_flow_then_oio_rest_with_the_access_token(env: &Env) {
    let sys = env.system("ESDH A", CVR_A).await;
    env.agreement(&sys, ENTITY_ORGANISATION, CVR_A).await;
    let (s, v) = env.rest_issue(&sys.cert, ENTITY_ORGANISATION, CVR_A).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["Lifetime"]["Created"].is_string());
    assert!(v["Lifetime"]["Expires"].is_string());
    let token = env.access_token(&sys, ENTITY_ORGANISATION, CVR_A).await;
    let (s, created) = env
        .oio(
            Some(&sys.cert),
            Method::POST,
            "/organisation/organisationenhed",
            Some(&token),
            Some(enhed("B-enhed")),
            &[],
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let (s, found) = env
        .oio(
            Some(&sys.cert),
            Method::GET,
            "/organisation/organisationenhed?bvn=B-enhed",
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 200, "{found}");
    assert_eq!(found["results"][0][0], created["uuid"]);
    env.expect_audit("access_token_issued", "ok").await;
}

// ------------------------------------------------------------------------------ refusals

sqlite_only!(no_token_is_401_on_both_listeners);
async fn no_token_is_401_on_both_listeners(env: &Env) {
    let (s, v) = env
        .oio(
            None,
            Method::GET,
            "/organisation/organisationenhed",
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(v["code"], "no_token");
    let r = reqwest::get(format!("{}/organisation/organisationenhed", env.http))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    // Health and docs stay open, on both listeners.
    let r = reqwest::get(format!("{}/health", env.http)).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = env
        .client(None)
        .get(format!("{}/health", env.https))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

sqlite_only!(token_refusals_forged_altered_expired_not_yet_valid_wrong_audience);
async fn token_refusals_forged_altered_expired_not_yet_valid_wrong_audience(env: &Env) {
    let sys = env.system("ESDH A", CVR_A).await;
    env.agreement(&sys, ENTITY_ORGANISATION, CVR_A).await;
    env.agreement(&sys, ENTITY_KLASSIFIKATION, CVR_A).await;
    let privileges = PrivilegeList::for_cvr(CVR_A, &[]);
    let now = Utc::now();
    let assertion_with = |sts: &StsKey, audience: &str, nb, lifetime| {
        saml::issue_assertion(
            &AssertionSpec::new(sts, sys.cert.cert_der(), audience, CVR_A, &privileges, nb)
                .with_lifetime(lifetime),
        )
        .unwrap()
        .xml
    };
    let real = &env.sts().key;
    let rogue_dir = tempfile::tempdir().unwrap();
    let rogue_ca = Ca::load_or_create(rogue_dir.path()).unwrap();
    let rogue = StsKey {
        issuer: real.issuer.clone(),
        cert_der: rogue_ca.sts().cert_der.clone(),
        key_pem: rogue_ca.sts().key_pem.clone(),
    };
    let good = assertion_with(real, ENTITY_ORGANISATION, now, Duration::hours(1));
    let cases = [
        (
            "forged",
            assertion_with(&rogue, ENTITY_ORGANISATION, now, Duration::hours(1)),
            "token_untrusted_signer",
        ),
        ("altered", good.replace(CVR_A, CVR_B), "token_bad_signature"),
        (
            "expired",
            assertion_with(
                real,
                ENTITY_ORGANISATION,
                now - Duration::hours(10),
                Duration::hours(1),
            ),
            "token_expired",
        ),
        (
            "not yet valid",
            assertion_with(
                real,
                ENTITY_ORGANISATION,
                now + Duration::hours(1),
                Duration::hours(1),
            ),
            "token_not_yet_valid",
        ),
        (
            "wrong audience",
            assertion_with(real, ENTITY_KLASSIFIKATION, now, Duration::hours(1)),
            "token_wrong_audience",
        ),
    ];
    for (what, xml, code) in cases {
        let (s, v) = env
            .oio(
                Some(&sys.cert),
                Method::GET,
                "/organisation/organisationenhed",
                Some(&b64(&xml)),
                None,
                &[],
            )
            .await;
        assert_eq!(s, 401, "{what}: {v}");
        assert_eq!(v["code"], code, "{what}: {v}");
        env.expect_audit("request_refused", code).await;
    }
    // The good one passes.
    let (s, v) = env
        .oio(
            Some(&sys.cert),
            Method::GET,
            "/organisation/organisationenhed",
            Some(&b64(&good)),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 200, "{v}");

    // An access token for Klassifikation on an Organisation route.
    let kl = env.access_token(&sys, ENTITY_KLASSIFIKATION, CVR_A).await;
    let (s, v) = env
        .oio(
            Some(&sys.cert),
            Method::GET,
            "/organisation/organisationenhed",
            Some(&kl),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(v["code"], "token_wrong_audience");
    let (s, _) = env
        .oio(
            Some(&sys.cert),
            Method::GET,
            "/klassifikation/klasse",
            Some(&kl),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 200);
    // Garbage access token.
    let (s, v) = env
        .oio(
            Some(&sys.cert),
            Method::GET,
            "/klassifikation/klasse",
            Some("bm90IGEgdG9rZW4"),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 401);
    assert_eq!(v["code"], "invalid_access_token");
}

both!(tenancy_cvr_a_never_sees_or_writes_cvr_b);
async fn tenancy_cvr_a_never_sees_or_writes_cvr_b(env: &Env) {
    let a = env.system("System A", CVR_A).await;
    let b = env.system("System B", CVR_B).await;
    env.agreement(&a, ENTITY_ORGANISATION, CVR_A).await;
    env.agreement(&b, ENTITY_ORGANISATION, CVR_B).await;
    let ta = env.access_token(&a, ENTITY_ORGANISATION, CVR_A).await;
    let tb = env.access_token(&b, ENTITY_ORGANISATION, CVR_B).await;
    let (s, v) = env
        .oio(
            Some(&b.cert),
            Method::POST,
            "/organisation/organisationenhed",
            Some(&tb),
            Some(enhed("B-hemmelig")),
            &[],
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let b_obj = v["uuid"].as_str().unwrap().to_owned();
    let (s, v) = env
        .oio(
            Some(&b.cert),
            Method::POST,
            "/organisation/organisationenhed",
            Some(&tb),
            Some(enhed("B-faelles")),
            &[("x-fki-faelles", "true")],
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let b_shared = v["uuid"].as_str().unwrap().to_owned();

    let path = |u: &str| format!("/organisation/organisationenhed/{u}");
    // A cannot read B's object: invisible.
    let (s, _) = env
        .oio(
            Some(&a.cert),
            Method::GET,
            &path(&b_obj),
            Some(&ta),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 404);
    // … nor find it.
    let (s, v) = env
        .oio(
            Some(&a.cert),
            Method::GET,
            "/organisation/organisationenhed?bvn=B-%25",
            Some(&ta),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let hits: Vec<&str> = v["results"][0]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(!hits.contains(&b_obj.as_str()), "{v}");
    assert!(
        hits.contains(&b_shared.as_str()),
        "fælles objects are visible: {v}"
    );
    // … nor write it.
    let patch = json!({"attributter": {"organisationenhedegenskaber": [{
        "enhedsnavn": "overtaget", "virkning": {"from": "2021-01-01", "to": "infinity"}}]}});
    let (s, _) = env
        .oio(
            Some(&a.cert),
            Method::PATCH,
            &path(&b_obj),
            Some(&ta),
            Some(patch.clone()),
            &[],
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = env
        .oio(
            Some(&a.cert),
            Method::DELETE,
            &path(&b_obj),
            Some(&ta),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = env
        .oio(
            Some(&a.cert),
            Method::PUT,
            &path(&b_obj),
            Some(&ta),
            Some(enhed("overtaget")),
            &[],
        )
        .await;
    assert_eq!(s, 404);
    // The fælles object: readable, not writable by A.
    let (s, _) = env
        .oio(
            Some(&a.cert),
            Method::GET,
            &path(&b_shared),
            Some(&ta),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = env
        .oio(
            Some(&a.cert),
            Method::PATCH,
            &path(&b_shared),
            Some(&ta),
            Some(patch.clone()),
            &[],
        )
        .await;
    assert_eq!(s, 403, "{v}");
    // Its owner may.
    let (s, v) = env
        .oio(
            Some(&b.cert),
            Method::PATCH,
            &path(&b_shared),
            Some(&tb),
            Some(patch),
            &[],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    // Claiming CVR B with A's token.
    let (s, v) = env
        .oio(
            Some(&a.cert),
            Method::POST,
            "/organisation/organisationenhed",
            Some(&ta),
            Some(enhed("som B")),
            &[("x-fki-myndighed", CVR_B)],
        )
        .await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["code"], "cvr_mismatch");
    env.expect_audit("request_refused", "cvr_mismatch").await;
    // Asking the STS for a CVR B token without an agreement for B.
    let (s, v) = env.rest_issue(&a.cert, ENTITY_ORGANISATION, CVR_B).await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["code"], "no_agreement");
    let e = env.expect_audit("token_refused", "no_agreement").await;
    assert_eq!(e.system, Some(a.uuid));
    assert_eq!(e.myndighed.as_deref(), Some(CVR_B));
}

sqlite_only!(holder_of_key_mismatch);
async fn holder_of_key_mismatch(env: &Env) {
    let a = env.system("System A", CVR_A).await;
    let other = env.system("Andet system", CVR_A).await;
    env.agreement(&a, ENTITY_ORGANISATION, CVR_A).await;
    env.agreement(&other, ENTITY_ORGANISATION, CVR_A).await;
    let token = env.access_token(&a, ENTITY_ORGANISATION, CVR_A).await;
    let (s, v) = env
        .oio(
            Some(&other.cert),
            Method::GET,
            "/organisation/organisationenhed",
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(v["code"], "hok_mismatch");
    // Without any client certificate.
    let (s, v) = env
        .oio(
            None,
            Method::GET,
            "/organisation/organisationenhed",
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(v["code"], "client_certificate_required");
    // The assertion of A, exchanged by the other system.
    let assertion = env.soap_token(&a, ENTITY_ORGANISATION, CVR_A).await;
    let (s, v) = env.exchange(&other.cert, &b64(&assertion)).await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(v["code"], "hok_mismatch");
    // … or presented directly by it.
    let (s, v) = env
        .oio(
            Some(&other.cert),
            Method::GET,
            "/organisation/organisationenhed",
            Some(&b64(&assertion)),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(v["code"], "hok_mismatch");
    env.expect_audit("access_token_refused", "hok_mismatch")
        .await;
    env.expect_audit("request_refused", "hok_mismatch").await;
    // UseKey of another certificate in REST step 1.
    let body = json!({
        "AnvenderKontekst": {"Cvr": CVR_A},
        "UseKey": base64::engine::general_purpose::STANDARD.encode(other.cert.cert_der()),
        "AppliesTo": {"EndpointReference": {"Address": ENTITY_ORGANISATION}},
    });
    let r = env
        .client(Some(&a.cert))
        .post(format!("{}{REST_ISSUE}", env.https))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

both!(revoked_agreement_takes_effect_immediately);
async fn revoked_agreement_takes_effect_immediately(env: &Env) {
    let a = env.system("System A", CVR_A).await;
    let aftale = env.agreement(&a, ENTITY_ORGANISATION, CVR_A).await;
    let token = env.access_token(&a, ENTITY_ORGANISATION, CVR_A).await;
    let assertion = env.soap_token(&a, ENTITY_ORGANISATION, CVR_A).await;
    let get = |t: String| {
        let c = env.client(Some(&a.cert));
        let url = format!("{}/organisation/organisationenhed", env.https);
        async move {
            let r = c
                .get(url)
                .header("authorization", format!("Holder-of-key {t}"))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(get(token.clone()).await.0, 200);
    env.revoke(aftale).await;
    for t in [token, b64(&assertion)] {
        let (s, v) = get(t).await;
        assert_eq!(s, 403, "{v}");
        assert_eq!(v["code"], "agreement_revoked");
    }
    // No new tokens either.
    let c = env.client(None);
    let (s, body) = env
        .soap_issue_raw(&c, env.issue_request(&a, ENTITY_ORGANISATION, CVR_A))
        .await;
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("wst:RequestFailed"), "{body}");
    env.expect_audit("token_refused", "agreement_revoked").await;
    env.expect_audit("request_refused", "agreement_revoked")
        .await;
}

sqlite_only!(soap_issue_refusals);
async fn soap_issue_refusals(env: &Env) {
    let a = env.system("System A", CVR_A).await;
    env.agreement(&a, ENTITY_ORGANISATION, CVR_A).await;
    let c = env.client(None);

    // Replay of a signed Issue request.
    let req = env.issue_request(&a, ENTITY_ORGANISATION, CVR_A);
    assert_eq!(env.soap_issue_raw(&c, req.clone()).await.0, 200);
    let (s, body) = env.soap_issue_raw(&c, req).await;
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("wsse:MessageExpired"), "{body}");
    env.expect_audit("token_refused", "wssec_replay").await;

    // An unregistered system (certificate from the fki CA, never registered).
    let stranger = System {
        uuid: Uuid::nil(),
        cert: env.ca().issue_system_certificate("Fremmed", CVR_A).unwrap(),
    };
    let (s, body) = env
        .soap_issue_raw(&c, env.issue_request(&stranger, ENTITY_ORGANISATION, CVR_A))
        .await;
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("wsse:FailedAuthentication"), "{body}");
    env.expect_audit("token_refused", "unknown_system").await;

    // An unknown service.
    let (s, body) = env
        .soap_issue_raw(
            &c,
            env.issue_request(&a, "http://example.org/nope/1", CVR_A),
        )
        .await;
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("wst:BadRequest"), "{body}");
    env.expect_audit("token_refused", "unknown_service").await;

    // XXE and entity expansion.
    let xxe = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
        env.issue_request(&a, ENTITY_ORGANISATION, CVR_A)
            .replace(CVR_A, "&xxe;")
    );
    let laughs = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>{}",
        env.issue_request(&a, ENTITY_ORGANISATION, CVR_A)
            .replace(CVR_A, "&lol3;")
    );
    for body in [xxe, laughs] {
        let (s, resp) = env.soap_issue_raw(&c, body).await;
        assert_eq!(s, 400, "{resp}");
        assert!(resp.contains("wsse:InvalidSecurity"), "{resp}");
        assert!(!resp.contains("root:"), "{resp}");
    }
    env.expect_audit("token_refused", "wssec_malformed").await;

    // Oversized body.
    let big = format!(
        "{}<!-- {} -->",
        env.issue_request(&a, ENTITY_ORGANISATION, CVR_A),
        "x".repeat(2 * 1024 * 1024)
    );
    let (s, resp) = env.soap_issue_raw(&c, big).await;
    assert_eq!(s, 413, "{resp}");
    env.expect_audit("token_refused", "too_large").await;
    let r = env
        .client(Some(&a.cert))
        .post(format!("{}{REST_ISSUE}", env.https))
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);

    // A DTD in a saml-token.
    let (s, v) = env
        .exchange(
            &a.cert,
            &b64("<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>"),
        )
        .await;
    assert_eq!(s, 401, "{v}");

    // Plain HTTP: the STS is HTTPS only.
    let r = reqwest::Client::new()
        .post(format!("{}{SOAP_ISSUE}", env.http))
        .body(env.issue_request(&a, ENTITY_ORGANISATION, CVR_A))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("wsse:InvalidSecurity"));
    // REST issue needs a client certificate.
    let r = env
        .client(None)
        .post(format!("{}{REST_ISSUE}", env.https))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

// ------------------------------------------------------------------------------ WS-Security layer

struct DummyOrganisation;
impl SecuredService for DummyOrganisation {
    const ENTITY_ID: &'static str = ENTITY_ORGANISATION;
}

async fn dummy(secured: WsSecured<DummyOrganisation>) -> axum::response::Response {
    let caller = secured.caller.as_ref().unwrap();
    format!("{} {}", caller.cvr, secured.payload().unwrap_or_default()).into_response()
}

const SERVICE_ENVELOPE: &str = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><Action xmlns="http://www.w3.org/2005/08/addressing">http://serviceplatformen.dk/xml/wsdl/soap11/Organisation/OrganisationEnhed/5/soeg</Action><MessageID xmlns="http://www.w3.org/2005/08/addressing">urn:uuid:MSGID</MessageID><To xmlns="http://www.w3.org/2005/08/addressing">https://organisation.eksterntest-stoettesystemerne.dk/service/Organisation/OrganisationEnhed/5</To><ReplyTo xmlns="http://www.w3.org/2005/08/addressing"><Address>http://www.w3.org/2005/08/addressing/anonymous</Address></ReplyTo></soap:Header><soap:Body><ns5:SoegInput xmlns:ns5="urn:oio:sts:organisation:organisationenhed:1.1.3.0"><ns5:Navn>Feddet kommune</ns5:Navn></ns5:SoegInput></soap:Body></soap:Envelope>"#;

both!(wssec_layer_verifies_and_refuses_replays);
async fn wssec_layer_verifies_and_refuses_replays(env: &Env) {
    let a = env.system("System A", CVR_A).await;
    let other = env.system("Andet system", CVR_A).await;
    let aftale = env.agreement(&a, ENTITY_ORGANISATION, CVR_A).await;
    let assertion = env.soap_token(&a, ENTITY_ORGANISATION, CVR_A).await;
    let router = axum::Router::new()
        .route("/dummy", post(dummy))
        .with_state(env.handle().state.clone());
    let call = |body: String| {
        let router = router.clone();
        async move {
            let r = router
                .oneshot(
                    axum::http::Request::post("/dummy")
                        .header("content-type", "text/xml")
                        .body(Body::from(body))
                        .unwrap(),
                )
                .await
                .unwrap();
            let s = r.status().as_u16();
            let b = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
            (s, String::from_utf8(b.to_vec()).unwrap())
        }
    };
    let envelope = || SERVICE_ENVELOPE.replace("MSGID", &Uuid::new_v4().to_string());
    let signed =
        wssec::sign_service_request(&envelope(), &assertion, a.cert.key_pem(), Utc::now()).unwrap();
    let (s, body) = call(signed.clone()).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.starts_with(CVR_A), "{body}");
    assert!(body.contains("SoegInput"), "{body}");

    // Replay.
    let (s, body) = call(signed).await;
    assert_eq!(s, 500, "{body}");
    assert!(body.contains("wsse:MessageExpired"), "{body}");
    env.expect_audit("request_refused", "wssec_replay").await;

    // Signed by another key than the holder-of-key certificate's.
    let signed =
        wssec::sign_service_request(&envelope(), &assertion, other.cert.key_pem(), Utc::now())
            .unwrap();
    let (s, body) = call(signed).await;
    assert_eq!(s, 500, "{body}");
    assert!(body.contains("<faultcode>wsse:"), "{body}");

    // Revoked agreement.
    env.revoke(aftale).await;
    let signed =
        wssec::sign_service_request(&envelope(), &assertion, a.cert.key_pem(), Utc::now()).unwrap();
    let (s, body) = call(signed).await;
    assert_eq!(s, 500, "{body}");
    assert!(body.contains("wst:RequestFailed"), "{body}");
}
