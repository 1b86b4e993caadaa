//! The admin API (`/admin/…`) against a real server on SQLite and (with
//! `FKI_TEST_POSTGRES_URL`) PostgreSQL: token protection, systems (issued and uploaded),
//! services, the agreement lifecycle, the audit log, and the OpenAPI document.

use std::time::Duration;

use fki_server::{Config, ServerHandle};
use fki_store::adgang::AuditEntry;
use fki_store::testing::{DropGuard, fresh_postgres};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

struct Srv {
    base: String,
    token: String,
    http: Client,
    handle: Option<ServerHandle>,
    guard: Option<DropGuard>,
    dir: tempfile::TempDir,
}

impl Srv {
    async fn start(postgres: bool, test: &str) -> Option<Srv> {
        let dir = tempfile::tempdir().unwrap();
        let (url, guard) = if postgres {
            let Ok(base) = std::env::var("FKI_TEST_POSTGRES_URL") else {
                eprintln!("skipped {test} on PostgreSQL: FKI_TEST_POSTGRES_URL is not set");
                return None;
            };
            let (u, g) = fresh_postgres(&base).await.unwrap();
            (Some(u), Some(g))
        } else {
            (None, None)
        };
        let handle = fki_server::start(Config::for_test(dir.path().to_path_buf(), url))
            .await
            .unwrap();
        let token = std::fs::read_to_string(dir.path().join(fki_server::admin::TOKEN_FILE))
            .unwrap()
            .trim()
            .to_owned();
        Some(Srv {
            base: handle.url(),
            token,
            http: Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            handle: Some(handle),
            guard,
            dir,
        })
    }

    async fn call(
        &self,
        m: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (StatusCode, Value, String) {
        let mut r = self.http.request(m, format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            ct,
        )
    }

    /// An authorised call expecting `status`; the JSON body.
    #[track_caller]
    fn expect(got: (StatusCode, Value, String), status: u16, what: &str) -> Value {
        assert_eq!(got.0.as_u16(), status, "{what}: {}", got.1);
        if status >= 400 {
            assert_eq!(got.2, "application/problem+json", "{what}");
            assert_eq!(got.1["status"], status, "{what}: {}", got.1);
            assert!(got.1["detail"].as_str().is_some_and(|d| !d.is_empty()));
        }
        got.1
    }

    async fn get(&self, path: &str, status: u16) -> Value {
        Self::expect(
            self.call(Method::GET, path, None, Some(&self.token)).await,
            status,
            path,
        )
    }

    async fn post(&self, path: &str, body: Value, status: u16) -> Value {
        Self::expect(
            self.call(Method::POST, path, Some(body), Some(&self.token))
                .await,
            status,
            path,
        )
    }

    async fn finish(mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().await.unwrap();
        }
        if let Some(g) = self.guard.take() {
            g.cleanup().await.unwrap();
        }
    }
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let s = super::Srv::start(false, stringify!($name)).await.unwrap();
                super::$name(&s).await;
                s.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(s) = super::Srv::start(true, stringify!($name)).await else { return };
                super::$name(&s).await;
                s.finish().await;
            }
        }
    )*};
}

both!(
    token_is_required,
    systems,
    services,
    aftale_lifecycle,
    audit_log,
    openapi_documents_admin,
);

const ORG: &str = "http://stoettesystemerne.dk/service/organisation/3";

async fn token_is_required(s: &Srv) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.dir.path().join("admin-token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    for (m, path) in [
        (Method::GET, "/admin/systemer"),
        (Method::POST, "/admin/systemer"),
        (Method::GET, "/admin/services"),
        (Method::GET, "/admin/aftaler"),
        (
            Method::POST,
            "/admin/aftaler/00000000-0000-0000-0000-000000000000/revoke",
        ),
        (Method::GET, "/admin/audit"),
    ] {
        for token in [None, Some("wrong"), Some("")] {
            let got = s
                .call(
                    m.clone(),
                    path,
                    Some(json!({"navn": "x", "cvr": "12345678"})),
                    token,
                )
                .await;
            let body = Srv::expect(got, 401, path);
            assert_eq!(body["code"], "unauthorized");
        }
    }
    // Nothing was created by the refused POST.
    assert_eq!(s.get("/admin/systemer", 200).await["systemer"], json!([]));
}

async fn systems(s: &Srv) {
    // fki issues the certificate.
    let created = s
        .post(
            "/admin/systemer",
            json!({"navn": "Test ESDH", "cvr": "12345678"}),
            201,
        )
        .await;
    let sys = &created["system"];
    assert_eq!(sys["rolle"], "anvendersystem");
    assert!(sys["subject"].as_str().unwrap().contains("CVR:12345678"));
    let cert_pem = created["udstedt"]["certifikat_pem"].as_str().unwrap();
    assert!(
        created["udstedt"]["noegle_pem"]
            .as_str()
            .unwrap()
            .contains("PRIVATE KEY")
    );
    assert_eq!(sys["certifikat_pem"].as_str().unwrap(), cert_pem);
    let uuid = sys["uuid"].as_str().unwrap().to_owned();

    // Uploading the same certificate again: 409.
    let dup = s
        .post(
            "/admin/systemer",
            json!({"navn": "Again", "cvr": "12345678", "certifikat": cert_pem}),
            409,
        )
        .await;
    assert!(
        dup["detail"]
            .as_str()
            .unwrap()
            .contains("already registered")
    );

    // Uploading another certificate (here the CA root, as a service provider).
    let root = std::fs::read_to_string(s.dir.path().join("ca").join("root-ca.pem")).unwrap();
    let up = s
        .post(
            "/admin/systemer",
            json!({"navn": "Udbyder", "cvr": "87654321", "rolle": "serviceudbyder", "certifikat": root}),
            201,
        )
        .await;
    assert!(up.get("udstedt").is_none());
    assert_eq!(up["system"]["rolle"], "serviceudbyder");

    // Invalid input.
    for (body, needle) in [
        (json!({"navn": "X", "cvr": "1234"}), "8 digits"),
        (json!({"navn": "", "cvr": "12345678"}), "name"),
        (
            json!({"navn": "X", "cvr": "12345678", "rolle": "boss"}),
            "role",
        ),
        (
            json!({"navn": "X", "cvr": "12345678", "certifikat": "nope"}),
            "certificate",
        ),
        (json!({"navn": "X", "cvr": "12345678", "extra": 1}), "JSON"),
        (json!({"cvr": "12345678"}), "JSON"),
    ] {
        let e = s.post("/admin/systemer", body.clone(), 400).await;
        assert!(
            e["detail"].as_str().unwrap().contains(needle),
            "{body}: {e}"
        );
    }

    let list = s.get("/admin/systemer", 200).await;
    let names: Vec<&str> = list["systemer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["navn"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Test ESDH", "Udbyder"]);
    let one = s.get(&format!("/admin/systemer/{uuid}"), 200).await;
    assert_eq!(one["certifikat_pem"].as_str().unwrap(), cert_pem);
    s.get("/admin/systemer/00000000-0000-0000-0000-000000000000", 404)
        .await;
    s.get("/admin/systemer/nope", 400).await;
}

async fn services(s: &Srv) {
    let list = s.get("/admin/services", 200).await;
    let ids: Vec<&str> = list["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["entity_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), fki_store::adgang::KENDTE_SERVICES.len());
    assert!(ids.contains(&ORG));
    let added = s
        .post(
            "/admin/services",
            json!({"entity_id": "http://fki.dk/service/test/1", "navn": "Test", "sf": "SF9999"}),
            200,
        )
        .await;
    let again = s
        .post(
            "/admin/services",
            json!({"entity_id": "http://fki.dk/service/test/1", "navn": "Test 2", "sf": "SF9999"}),
            200,
        )
        .await;
    assert_eq!(added["uuid"], again["uuid"]);
    assert_eq!(again["navn"], "Test 2");
    s.post(
        "/admin/services",
        json!({"entity_id": "has space", "navn": "T", "sf": "SF1"}),
        400,
    )
    .await;
}

async fn aftale_lifecycle(s: &Srv) {
    let sys = s
        .post(
            "/admin/systemer",
            json!({"navn": "Sys", "cvr": "12345678"}),
            201,
        )
        .await["system"]
        .clone();
    let sys_uuid = sys["uuid"].as_str().unwrap();
    let a = s
        .post(
            "/admin/aftaler",
            json!({"system": "Sys", "service": ORG, "cvr": "29189846",
                   "roller": ["urn:rolle:laes"], "dataafgraensninger": [{"navn": "KLE", "vaerdi": "27.*"}]}),
            201,
        )
        .await;
    assert_eq!(a["status"], "anmodet");
    assert_eq!(a["system"], sys_uuid);
    assert_eq!(a["service_entity_id"], ORG);
    assert_eq!(a["roller"], json!(["urn:rolle:laes"]));
    assert_eq!(
        a["dataafgraensninger"],
        json!([{"navn": "KLE", "vaerdi": "27.*"}])
    );
    let u = a["uuid"].as_str().unwrap();

    let e = s
        .post(&format!("/admin/aftaler/{u}/activate"), json!({}), 409)
        .await;
    assert!(
        e["detail"]
            .as_str()
            .unwrap()
            .contains("cannot become 'aktiv'"),
        "{e}"
    );
    assert_eq!(
        s.post(&format!("/admin/aftaler/{u}/approve"), json!({}), 200)
            .await["status"],
        "godkendt"
    );
    assert_eq!(
        s.post(&format!("/admin/aftaler/{u}/activate"), json!({}), 200)
            .await["status"],
        "aktiv"
    );
    assert_eq!(
        s.get(&format!("/admin/aftaler/{u}"), 200).await["status"],
        "aktiv"
    );
    assert_eq!(
        s.post(&format!("/admin/aftaler/{u}/revoke"), json!({}), 200)
            .await["status"],
        "tilbagekaldt"
    );
    s.post(&format!("/admin/aftaler/{u}/revoke"), json!({}), 409)
        .await;
    s.post(
        "/admin/aftaler/00000000-0000-0000-0000-000000000000/approve",
        json!({}),
        404,
    )
    .await;

    // Straight to aktiv, by system UUID.
    let g = s
        .post(
            "/admin/aftaler",
            json!({"system": sys_uuid, "service": ORG, "cvr": "55133018", "aktiv": true}),
            201,
        )
        .await;
    assert_eq!(g["status"], "aktiv");

    // Bad input.
    s.post(
        "/admin/aftaler",
        json!({"system": "Sys", "service": ORG, "cvr": "1"}),
        400,
    )
    .await;
    s.post(
        "/admin/aftaler",
        json!({"system": "Nope", "service": ORG, "cvr": "29189846"}),
        404,
    )
    .await;
    s.post(
        "/admin/aftaler",
        json!({"system": "Sys", "service": "http://x/1", "cvr": "29189846"}),
        404,
    )
    .await;

    // Filters.
    let all = s.get("/admin/aftaler", 200).await;
    assert_eq!(all["aftaler"].as_array().unwrap().len(), 2);
    let aktiv = s.get("/admin/aftaler?status=aktiv&cvr=55133018", 200).await;
    assert_eq!(aktiv["aftaler"].as_array().unwrap().len(), 1);
    assert_eq!(aktiv["aftaler"][0]["uuid"], g["uuid"]);
    let by_sys = s
        .get(&format!("/admin/aftaler?system=Sys&service={ORG}"), 200)
        .await;
    assert_eq!(by_sys["aftaler"].as_array().unwrap().len(), 2);
    s.get("/admin/aftaler?status=maybe", 400).await;
    s.get("/admin/aftaler?colour=red", 400).await;
}

async fn audit_log(s: &Srv) {
    // Entries come from the STS: write some through a second handle on the server's database.
    let audit_store = match s.guard.as_ref() {
        Some(g) => {
            let base = std::env::var("FKI_TEST_POSTGRES_URL").unwrap();
            let url = format!("{}/{}", base.rsplit_once('/').unwrap().0, g.database());
            fki_store::open_stores(Some(&url), s.dir.path())
                .await
                .unwrap()
        }
        None => fki_store::open_stores(None, s.dir.path()).await.unwrap(),
    };
    let sys = s
        .post(
            "/admin/systemer",
            json!({"navn": "Sys", "cvr": "12345678"}),
            201,
        )
        .await["system"]["uuid"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let base = fki_oio::time::parse("2026-01-01T00:00:00Z").unwrap();
    for (i, (h, cvr)) in [
        ("token_issued", "29189846"),
        ("token_refused", "55133018"),
        ("token_issued", "55133018"),
    ]
    .iter()
    .enumerate()
    {
        audit_store
            .adgang
            .audit(&AuditEntry {
                id: 0,
                tid: base + i64::try_from(i).unwrap() * 3_600_000_000,
                haendelse: (*h).into(),
                system: Some(sys),
                certifikat_sha256: None,
                service: Some(ORG.into()),
                myndighed: Some((*cvr).into()),
                resultat: if *h == "token_issued" {
                    "ok".into()
                } else {
                    "no_agreement".into()
                },
                aarsag: None,
                reference: None,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let all = s.get("/admin/audit", 200).await;
    let entries = all["audit"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["resultat"], "ok");
    assert_eq!(entries[1]["haendelse"], "token_refused");
    let since = s
        .get("/admin/audit?since=2026-01-01T01:00:00Z&cvr=55133018", 200)
        .await;
    assert_eq!(since["audit"].as_array().unwrap().len(), 2);
    let until = s.get("/admin/audit?until=2026-01-01T01:00:00Z", 200).await;
    assert_eq!(until["audit"].as_array().unwrap().len(), 1);
    let limited = s
        .get(
            "/admin/audit?limit=1&system=Sys&haendelse=token_issued",
            200,
        )
        .await;
    assert_eq!(limited["audit"].as_array().unwrap().len(), 1);
    assert_eq!(limited["audit"][0]["myndighed"], "55133018");
    s.get("/admin/audit?limit=0", 400).await;
    s.get("/admin/audit?since=whenever", 400).await;
}

async fn openapi_documents_admin(s: &Srv) {
    let doc: Value = s
        .http
        .get(format!("{}/openapi.json", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for p in [
        "/admin/systemer",
        "/admin/systemer/{uuid}",
        "/admin/services",
        "/admin/aftaler",
        "/admin/aftaler/{uuid}/approve",
        "/admin/aftaler/{uuid}/activate",
        "/admin/aftaler/{uuid}/revoke",
        "/admin/audit",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} missing");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["adminToken"]["scheme"],
        "bearer"
    );
    let parsed: Result<utoipa::openapi::OpenApi, _> = serde_json::from_value(doc);
    assert!(parsed.is_ok(), "{:?}", parsed.err());
}
