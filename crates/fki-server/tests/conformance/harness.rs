//! The harness: a real fki server started in-process on a free loopback port, over SQLite (a
//! temporary directory) or PostgreSQL (a fresh database from `fki_store::testing`), and a small
//! typed HTTP client for it.
//!
//! Test bodies are `async fn name(s: &Srv)`; [`both!`](crate::both) turns one into a
//! `name::sqlite` and a `name::postgres` test. The PostgreSQL variant needs
//! `FKI_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`); without it the
//! variant prints a skip line and passes.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use fki_server::{Config, ServerHandle};
use fki_store::testing::{DropGuard, fresh_postgres};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, Method};
use serde_json::Value;
use uuid::Uuid;

/// The storage backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running server and a client for it.
pub struct Srv {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    http: Client,
    handle: Option<ServerHandle>,
    guard: Option<DropGuard>,
    _dir: tempfile::TempDir,
}

/// An answer: status, JSON body (`Null` when the body is not JSON), raw text, content type.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub content_type: String,
    /// The `Location` header, if any.
    pub location: Option<String>,
    /// What was asked, for failure messages.
    pub request: String,
}

impl Resp {
    /// Assert the status; on mismatch the message shows the request and the full answer.
    #[track_caller]
    pub fn expect(self, status: u16) -> Resp {
        assert_eq!(
            self.status, status,
            "{} answered {} (expected {status}): {}",
            self.request, self.status, self.text
        );
        self
    }

    /// Assert a 400 validation failure naming `field`, with a non-empty `reason`.
    #[track_caller]
    pub fn expect_invalid(self, field: &str) -> Resp {
        let r = self.expect(400);
        assert_eq!(
            r.body["field"].as_str(),
            Some(field),
            "{}: wrong or missing 'field' in {}",
            r.request,
            r.text
        );
        assert!(
            r.body["reason"].as_str().is_some_and(|s| !s.is_empty()),
            "{}: missing 'reason' in {}",
            r.request,
            r.text
        );
        r
    }

    /// The `message` of an error body (validation bodies carry one too).
    #[track_caller]
    pub fn message(&self) -> &str {
        self.body["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no 'message' in {}", self.request, self.text))
    }
}

impl Srv {
    /// Start a server on `backend` (None: PostgreSQL is not configured; the caller skips).
    pub async fn start(
        backend: Backend,
        test: &str,
        configure: impl FnOnce(&mut Config),
    ) -> Option<Srv> {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, guard) = match backend {
            Backend::Sqlite => (None, None),
            Backend::Postgres => {
                let Ok(base) = std::env::var("FKI_TEST_POSTGRES_URL") else {
                    eprintln!("skipped {test} on PostgreSQL: FKI_TEST_POSTGRES_URL is not set");
                    return None;
                };
                let (url, guard) = fresh_postgres(&base)
                    .await
                    .expect("a fresh PostgreSQL test database");
                (Some(url), Some(guard))
            }
        };
        let mut config = Config::for_test(dir.path().to_path_buf(), url);
        configure(&mut config);
        let handle = fki_server::start(config).await.expect("server starts");
        let srv = Srv {
            base: handle.url(),
            http: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .expect("HTTP client"),
            handle: Some(handle),
            guard,
            _dir: dir,
        };
        let health = srv.get("/health").await.expect(200);
        let want = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        assert_eq!(
            health.body["backend"], want,
            "server runs on the wrong backend"
        );
        Some(srv)
    }

    /// Stop the server and drop the PostgreSQL database.
    pub async fn finish(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), h.shutdown()).await;
        }
        if let Some(g) = self.guard.take() {
            g.cleanup().await.expect("dropping the test database");
        }
    }

    // -----------------------------------------------------------------------------------------
    // Raw requests

    /// Send a request; `body` is sent as-is with `content_type` when given.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Resp {
        let request = format!("{method} {path_and_query}");
        let mut rb = self
            .http
            .request(method, format!("{}{path_and_query}", self.base));
        if let Some((ct, bytes)) = body {
            rb = rb.header(CONTENT_TYPE, ct).body(bytes);
        }
        let r = rb.send().await.unwrap_or_else(|e| panic!("{request}: {e}"));
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let location = r
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = r.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            body,
            text,
            content_type,
            location,
            request,
        }
    }

    fn json_body(v: &Value) -> Option<(&'static str, Vec<u8>)> {
        Some(("application/json", serde_json::to_vec(v).expect("JSON")))
    }

    pub async fn get(&self, path_and_query: &str) -> Resp {
        self.send(Method::GET, path_and_query, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::POST, path, Self::json_body(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::PUT, path, Self::json_body(body)).await
    }

    pub async fn patch_path(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::PATCH, path, Self::json_body(body)).await
    }

    // -----------------------------------------------------------------------------------------
    // Typed operations; `cls` is `service/class`, e.g. `organisation/organisationenhed`.

    /// POST a create body; asserts 201 and `{"uuid": …}`.
    pub async fn create(&self, cls: &str, body: &Value) -> Uuid {
        let r = self.post(&format!("/{cls}"), body).await.expect(201);
        let keys: Vec<&String> = r.body.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["uuid"], "create answer {}", r.text);
        r.body["uuid"]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .unwrap_or_else(|| panic!("create answer without a UUID: {}", r.text))
    }

    pub async fn import(&self, cls: &str, uuid: Uuid, body: &Value) -> Resp {
        self.put(&format!("/{cls}/{uuid}"), body).await
    }

    pub async fn patch(&self, cls: &str, uuid: Uuid, body: &Value) -> Resp {
        self.patch_path(&format!("/{cls}/{uuid}"), body).await
    }

    /// PATCH and assert 200 with `{"uuid": uuid}`.
    pub async fn ret(&self, cls: &str, uuid: Uuid, body: &Value) {
        let r = self.patch(cls, uuid, body).await.expect(200);
        assert_eq!(r.body, serde_json::json!({"uuid": uuid.to_string()}));
    }

    pub async fn delete(&self, cls: &str, uuid: Uuid) -> Resp {
        self.send(Method::DELETE, &format!("/{cls}/{uuid}"), None)
            .await
    }

    /// GET one object with query parameters.
    pub async fn read(&self, cls: &str, uuid: Uuid, query: &[(&str, &str)]) -> Resp {
        self.get(&format!("/{cls}/{uuid}{}", qs(query))).await
    }

    /// Read and unwrap `{"<uuid>": [object]}`; asserts 200 and the nesting.
    pub async fn obj(&self, cls: &str, uuid: Uuid, query: &[(&str, &str)]) -> Value {
        let r = self.read(cls, uuid, query).await.expect(200);
        let o = r.body.as_object().expect("read answer is an object");
        assert_eq!(o.len(), 1, "read answer has one key: {}", r.text);
        let list = o[&uuid.to_string()]
            .as_array()
            .unwrap_or_else(|| panic!("read answer not keyed by the UUID: {}", r.text));
        assert_eq!(list.len(), 1, "read answer holds one object: {}", r.text);
        assert_eq!(list[0]["id"], uuid.to_string());
        list[0].clone()
    }

    /// The registreringer of a read, newest first.
    pub async fn regs(&self, cls: &str, uuid: Uuid, query: &[(&str, &str)]) -> Vec<Value> {
        self.obj(cls, uuid, query).await["registreringer"]
            .as_array()
            .expect("registreringer")
            .clone()
    }

    /// The single registrering of a read (asserts there is exactly one).
    pub async fn reg(&self, cls: &str, uuid: Uuid, query: &[(&str, &str)]) -> Value {
        let mut regs = self.regs(cls, uuid, query).await;
        assert_eq!(regs.len(), 1, "expected one registrering: {regs:#?}");
        regs.remove(0)
    }

    /// Every registrering of a readable object, newest first.
    pub async fn history(&self, cls: &str, uuid: Uuid) -> Vec<Value> {
        self.regs(cls, uuid, ALL_TIME).await
    }

    /// GET `/{cls}?{raw}` (raw query text, already encoded).
    pub async fn query_raw(&self, cls: &str, raw: &str) -> Resp {
        self.get(&format!("/{cls}?{raw}")).await
    }

    /// A search: asserts 200 and `{"results": [[uuid…]]}`; returns the hits in answer order.
    pub async fn search_raw(&self, cls: &str, raw: &str) -> Vec<Uuid> {
        let r = self.query_raw(cls, raw).await.expect(200);
        let outer = r.body["results"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: no results array: {}", r.request, r.text));
        assert_eq!(
            outer.len(),
            1,
            "{}: results nest one array: {}",
            r.request,
            r.text
        );
        outer[0]
            .as_array()
            .unwrap_or_else(|| panic!("{}: inner results not an array: {}", r.request, r.text))
            .iter()
            .map(|v| {
                Uuid::parse_str(v.as_str().expect("search hits are UUID strings")).expect("a UUID")
            })
            .collect()
    }

    /// A search with encoded parameters.
    pub async fn search(&self, cls: &str, query: &[(&str, &str)]) -> Vec<Uuid> {
        let q = qs(query);
        self.search_raw(cls, q.trim_start_matches('?')).await
    }

    /// A search, hits sorted (for comparisons as sets).
    pub async fn search_sorted(&self, cls: &str, query: &[(&str, &str)]) -> Vec<Uuid> {
        let mut v = self.search(cls, query).await;
        v.sort();
        v
    }
}

/// Every registrering over all valid time.
pub const ALL_TIME: &[(&str, &str)] = &[
    ("registreretFra", "-infinity"),
    ("registreretTil", "infinity"),
    ("virkningFra", "-infinity"),
    ("virkningTil", "infinity"),
];

/// All valid time, current registrering.
pub const ALL_VALID: &[(&str, &str)] = &[("virkningFra", "-infinity"), ("virkningTil", "infinity")];

/// `?a=b&c=d`, form-encoded (`%` becomes `%25`, `+` becomes `%2B`); empty for no pairs.
pub fn qs(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    format!("?{}", s.finish())
}

/// The current instant as an RFC 3339 UTC literal with microseconds.
pub fn now_literal() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A few milliseconds, so that instants recorded around writes are strictly between them.
pub async fn tick() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

/// Parse a registrering bound (`tidsstempeldatotid`).
#[track_caller]
pub fn parse_iso(s: &Value) -> DateTime<FixedOffset> {
    let s = s.as_str().expect("a timestamp string");
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("'{s}' is not RFC 3339: {e}"))
}
