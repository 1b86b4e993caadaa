//! Push delivery of the Beskedfordeler (item 5a of issue 4) against a real server
//! (`start_with_stores`, SQLite, `--dev-open`) and small axum receivers on 127.0.0.1: order
//! under random failures, the fejlkø after `maksForsoeg` attempts, repeated BeskedIds, the
//! pushed document (`ModtagBeskedInput` with the Leverancerute), stopping and restarting a
//! dueslag, and HTTPS with fki's client certificate.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use fki_beskedfordeler::kuvert::{Haendelsesbesked, NS_STS, UnikId};
use fki_beskedfordeler::retur::{StandardRetur, StatusKode};
use fki_server::beskedfordeler::push::PushConfig;
use fki_server::{Config, ServerHandle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Client;
use serde_json::{Value, json};
use uuid::Uuid;

/// The receiving municipality: the fixture's `TilladtModtager`.
const CVR: &str = "99999999";
/// KOMBIT's sample Haendelsesbesked; each test message gets its own BeskedId.
const FIXTURE: &str = include_str!("../../fki-beskedfordeler/tests/fixtures/externTestBesked.xml");
const FIXTURE_ID: &str = "01157488-c45c-4fd2-b076-1de12effbf66";

/// Every test is bounded by this.
const TEST_TIMEOUT: Duration = Duration::from_secs(90);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Fast retries for tests.
fn push_config(timeout: Duration) -> PushConfig {
    PushConfig {
        enabled: true,
        timeout,
        backoff_base: ms(5),
        backoff_max: ms(40),
        relist_every: ms(100),
    }
}

struct Bf {
    handle: ServerHandle,
    base: String,
    token: String,
    http: Client,
    /// The receiving system (owner of the dueslag, and the sender of the messages).
    system: String,
    _dir: tempfile::TempDir,
}

impl Bf {
    async fn start(push: PushConfig) -> Bf {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_test(dir.path().to_path_buf(), None);
        config.push = push;
        let stores = fki_server::open_stores(&config).await.unwrap();
        let handle = fki_server::start_with_stores(config, stores).await.unwrap();
        let token = handle.state.admin_token.to_string();
        let http = Client::builder().timeout(ms(30_000)).build().unwrap();
        let mut bf = Bf {
            base: handle.url(),
            handle,
            token,
            http,
            system: String::new(),
            _dir: dir,
        };
        let s = bf
            .admin("/admin/systemer", json!({"navn": "Modtager", "cvr": CVR}))
            .await;
        bf.system = s["system"]["uuid"].as_str().unwrap().to_owned();
        bf
    }

    async fn admin(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// A push dueslag to `callback` that takes every message; its UUID.
    async fn dueslag(&self, callback: &str, maks_forsoeg: i32) -> String {
        let d = self
            .admin(
                "/admin/beskedfordeler/dueslag",
                json!({"navn": "push", "ejer": self.system, "myndighed": CVR, "levering": "push",
                       "callbackUrl": callback, "maksForsoeg": maks_forsoeg}),
            )
            .await;
        let uuid = d["uuid"].as_str().unwrap().to_owned();
        self.admin(
            "/admin/beskedfordeler/abonnementer",
            json!({"dueslag": uuid, "filter": "TRUE"}),
        )
        .await;
        uuid
    }

    /// Send a message with BeskedId `id`; the StatusKode of the answer.
    async fn afsend(&self, id: Uuid) -> u16 {
        let xml = FIXTURE.replace(FIXTURE_ID, &id.to_string());
        let r = self
            .http
            .post(format!("{}/beskedfordeler/afsend", self.base))
            .header("X-FKI-Myndighed", CVR)
            .header("X-FKI-System", &self.system)
            .header("Content-Type", "text/xml; charset=utf-8")
            .body(xml)
            .send()
            .await
            .unwrap();
        let http = r.status();
        let text = r.text().await.unwrap();
        let kode = StandardRetur::find_in(&text).unwrap().status_kode;
        assert_eq!(http.is_success(), kode == 20, "{http}: {text}");
        kode
    }

    fn metrics(&self) -> &fki_server::beskedfordeler::Metrics {
        &self.handle.state.beskedfordeler.metrics
    }

    async fn finish(self) {
        tokio::time::timeout(ms(20_000), self.handle.shutdown())
            .await
            .expect("the server (and its push delivery) stops")
            .unwrap();
    }
}

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Svar {
    Ok,
    Http500,
    StatusKode50,
    /// Answers (500) only after this long: beyond fki's timeout.
    Langsom(Duration),
}

type Beslut = Box<dyn FnMut(Uuid, u64) -> Svar + Send>;

/// What a receiver saw.
#[derive(Default)]
struct Log {
    /// BeskedId of every request, in arrival order.
    requests: Vec<Uuid>,
    /// BeskedIds answered StatusKode 20, in order.
    accepted: Vec<Uuid>,
    /// Requests per BeskedId so far.
    attempts: HashMap<Uuid, u64>,
    /// `AntalLeveranceforsoeg` of every request, per BeskedId.
    antal: HashMap<Uuid, Vec<Option<u64>>>,
    /// The pushed documents, per BeskedId.
    bodies: HashMap<Uuid, Vec<String>>,
    /// Broken rules (checked at arrival).
    violations: Vec<String>,
    in_flight: u32,
}

struct Modtager {
    log: Mutex<Log>,
    beslut: Mutex<Beslut>,
    /// The send order, for the order check at arrival: every message before the requested one
    /// must be accepted, or have had `dead_after` attempts.
    order: Mutex<Vec<Uuid>>,
    dead_after: Option<u64>,
}

impl Modtager {
    /// A receiver answering HTTP 500 until the flag is set, StatusKode 20 from then on.
    fn fejler_indtil_videre() -> (Arc<Modtager>, Arc<std::sync::atomic::AtomicBool>) {
        let virker = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let v = virker.clone();
        let modtager = Modtager::new(
            Box::new(move |_, _| {
                if v.load(Relaxed) {
                    Svar::Ok
                } else {
                    Svar::Http500
                }
            }),
            None,
        );
        (modtager, virker)
    }

    fn new(beslut: Beslut, dead_after: Option<u64>) -> Arc<Modtager> {
        Arc::new(Modtager {
            log: Mutex::default(),
            beslut: Mutex::new(beslut),
            order: Mutex::default(),
            dead_after,
        })
    }

    fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/modtag", post(modtag))
            .with_state(self.clone())
    }

    /// Serve on 127.0.0.1; the callback URL.
    async fn serve(self: &Arc<Self>) -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let app = self.router();
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        format!("http://{addr}/modtag")
    }

    fn expect_order(&self, ids: &[Uuid]) {
        self.order.lock().unwrap().extend_from_slice(ids);
    }

    fn log<T>(&self, f: impl FnOnce(&Log) -> T) -> T {
        f(&self.log.lock().unwrap())
    }

    /// Wait until `cond` holds of the log (failing at once when a rule was broken).
    async fn until(&self, what: &str, cond: impl Fn(&Log) -> bool) {
        let waited = tokio::time::timeout(TEST_TIMEOUT, async {
            while !self.log(|l| cond(l) || !l.violations.is_empty()) {
                tokio::time::sleep(ms(10)).await;
            }
        })
        .await;
        self.log(|l| assert!(l.violations.is_empty(), "{}", l.violations.join("\n")));
        if waited.is_err() {
            let (req, acc, v) =
                self.log(|l| (l.requests.len(), l.accepted.len(), l.violations.join("\n")));
            panic!("timed out waiting for {what}: {req} requests, {acc} accepted; {v}");
        }
    }
}

fn output(kode: StatusKode, tekst: &str) -> String {
    let r = if kode == StatusKode::Ok {
        StandardRetur::ok()
    } else {
        StandardRetur::fejl(kode, tekst)
    };
    r.output_document("ns4", "ModtagBeskedOutput", NS_STS)
}

async fn modtag(State(m): State<Arc<Modtager>>, headers: HeaderMap, body: String) -> Response {
    let besked = Haendelsesbesked::parse_modtag_besked_input(&body);
    let svar = {
        let mut log = m.log.lock().unwrap();
        let ct = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if ct != "text/xml; charset=utf-8" {
            log.violations.push(format!("Content-Type {ct:?}"));
        }
        let h = match besked {
            Ok(h) => h,
            Err(e) => {
                log.violations.push(format!("body does not parse: {e}"));
                return (StatusCode::BAD_REQUEST, "bad").into_response();
            }
        };
        let UnikId::Uuid(id) = h.besked_id else {
            log.violations.push("BeskedId is not a UUID".into());
            return (StatusCode::BAD_REQUEST, "bad").into_response();
        };
        log.in_flight += 1;
        if log.in_flight > 1 {
            log.violations
                .push(format!("{id}: arrived while another request was open"));
        }
        let n = {
            let a = log.attempts.entry(id).or_default();
            *a += 1;
            *a
        };
        let antal = h
            .beskedkuvert
            .leveranceinformation
            .leveranceruter
            .as_ref()
            .and_then(|r| r.last())
            .and_then(|r| r.lokal_udvidelse.as_ref())
            .and_then(|u| u.antal_leveranceforsoeg);
        log.antal.entry(id).or_default().push(antal);
        log.bodies.entry(id).or_default().push(body.clone());
        if log.accepted.contains(&id) {
            log.violations
                .push(format!("{id}: sent again after it was accepted"));
        }
        let order = m.order.lock().unwrap();
        if let Some(pos) = order.iter().position(|o| *o == id) {
            for prev in &order[..pos] {
                let done = log.accepted.contains(prev)
                    || m.dead_after
                        .is_some_and(|d| log.attempts.get(prev) >= Some(&d));
                if !done {
                    log.violations.push(format!(
                        "request for message {pos} ({id}) before {prev} was accepted or given up"
                    ));
                }
            }
        }
        drop(order);
        log.requests.push(id);
        let svar = (m.beslut.lock().unwrap())(id, n);
        if svar == Svar::Ok {
            log.accepted.push(id);
        }
        log.in_flight -= 1;
        svar
    };
    let xml = |kode, tekst| {
        (
            [("content-type", "text/xml; charset=utf-8")],
            output(kode, tekst),
        )
    };
    match svar {
        Svar::Ok => (StatusCode::OK, xml(StatusKode::Ok, "")).into_response(),
        Svar::Http500 => (StatusCode::INTERNAL_SERVER_ERROR, "the receiver broke").into_response(),
        Svar::StatusKode50 => {
            (StatusCode::OK, xml(StatusKode::Fejl, "kan ikke nu")).into_response()
        }
        Svar::Langsom(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::INTERNAL_SERVER_ERROR, "too late").into_response()
        }
    }
}

/// Run a test body with the overall bound.
async fn bounded(f: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(TEST_TIMEOUT + ms(30_000), f)
        .await
        .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_is_kept_under_random_failures() {
    bounded(async {
        let timeout = ms(500);
        let bf = Bf::start(push_config(timeout)).await;
        let mut rng = StdRng::seed_from_u64(0x5eed_f00d);
        let modtager = Modtager::new(
            Box::new(move |_, _| {
                if rng.random_bool(0.6) {
                    return Svar::Ok;
                }
                match rng.random_range(0..3) {
                    0 => Svar::Http500,
                    1 => Svar::StatusKode50,
                    _ => Svar::Langsom(timeout + ms(300)),
                }
            }),
            None,
        );
        let url = modtager.serve().await;
        let dueslag = bf.dueslag(&url, 1000).await;
        let ids: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();
        modtager.expect_order(&ids);
        for id in &ids {
            assert_eq!(bf.afsend(*id).await, 20);
        }
        modtager
            .until("50 accepted", |l| l.accepted.len() >= ids.len())
            .await;
        // Give a wrong extra request a moment to show.
        tokio::time::sleep(ms(200)).await;
        modtager.log(|l| {
            assert!(l.violations.is_empty(), "{}", l.violations.join("\n"));
            assert_eq!(l.accepted, ids, "accepted in send order, each once");
            // Requests ran through the messages once: n's attempts, then n+1's.
            let mut runs = l.requests.clone();
            runs.dedup();
            assert_eq!(runs, ids);
            for id in &ids {
                let n = l.attempts[id];
                let want: Vec<Option<u64>> = (1..=n).map(Some).collect();
                assert_eq!(l.antal[id], want, "AntalLeveranceforsoeg of {id}");
            }
            let failed = l.requests.len() - ids.len();
            assert!(failed > 10, "the receiver failed only {failed} times");
            assert_eq!(bf.metrics().retried.load(Relaxed), failed as u64);
        });
        let m = bf.metrics();
        assert_eq!(m.delivered.load(Relaxed), 50);
        assert_eq!(m.dead_lettered.load(Relaxed), 0);
        let lat = m.delivery_latency.snapshot();
        assert_eq!(lat.count, 50);
        assert!(lat.sum_seconds > 0.0);
        let s = bf
            .get(&format!("/admin/beskedfordeler/dueslag/{dueslag}"))
            .await;
        assert_eq!(s["status"]["kvitteret"], 50, "{s}");
        assert_eq!(s["status"]["klar"], 0, "{s}");
        assert_eq!(s["status"]["fejlkoe"], 0, "{s}");
        bf.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_always_fails_goes_to_the_fejlkoe_and_the_rest_follow() {
    bounded(async {
        let bf = Bf::start(push_config(ms(2_000))).await;
        let ids: Vec<Uuid> = (0..6).map(|_| Uuid::new_v4()).collect();
        let daarlig = ids[1];
        let modtager = Modtager::new(
            Box::new(move |id, _| {
                if id == daarlig {
                    Svar::Http500
                } else {
                    Svar::Ok
                }
            }),
            Some(3),
        );
        let url = modtager.serve().await;
        let dueslag = bf.dueslag(&url, 3).await;
        modtager.expect_order(&ids);
        for id in &ids {
            assert_eq!(bf.afsend(*id).await, 20);
        }
        modtager
            .until("5 accepted", |l| l.accepted.len() >= 5)
            .await;
        tokio::time::sleep(ms(200)).await;
        let rest: Vec<Uuid> = ids.iter().copied().filter(|i| *i != daarlig).collect();
        modtager.log(|l| {
            assert!(l.violations.is_empty(), "{}", l.violations.join("\n"));
            assert_eq!(l.accepted, rest);
            let mut want = vec![ids[0], daarlig, daarlig, daarlig];
            want.extend_from_slice(&ids[2..]);
            assert_eq!(l.requests, want, "three attempts, then the next message");
            assert_eq!(l.antal[&daarlig], vec![Some(1), Some(2), Some(3)]);
        });
        let f = bf
            .get(&format!("/admin/beskedfordeler/dueslag/{dueslag}/fejlkoe"))
            .await;
        let fejlkoe = f["fejlkoe"].as_array().unwrap();
        assert_eq!(fejlkoe.len(), 1, "{f}");
        assert_eq!(fejlkoe[0]["beskedId"], daarlig.to_string());
        assert_eq!(fejlkoe[0]["status"], "fejlkoe");
        assert_eq!(fejlkoe[0]["forsoeg"], 3);
        assert_eq!(fejlkoe[0]["loebenr"], 2);
        let fejl = fejlkoe[0]["sidsteFejl"].as_str().unwrap();
        assert!(
            fejl.contains("3 attempts") && fejl.contains("HTTP 500"),
            "{fejl}"
        );
        let m = bf.metrics();
        assert_eq!(m.dead_lettered.load(Relaxed), 1);
        assert_eq!(m.retried.load(Relaxed), 3);
        assert_eq!(m.delivered.load(Relaxed), 5);
        // Every attempt is recorded for the receiving system (issue 8): 5 answered, 3 failed.
        let frist = std::time::Instant::now() + ms(10_000);
        let leveringer = loop {
            let v = bf.get("/admin/audit?haendelse=levering&sf=SF1461").await;
            let l = v["audit"].as_array().unwrap().clone();
            if l.len() >= 8 || std::time::Instant::now() > frist {
                break l;
            }
            tokio::time::sleep(ms(50)).await;
        };
        assert_eq!(leveringer.len(), 8, "{leveringer:?}");
        assert!(leveringer.iter().all(|e| e["system"] == bf.system.as_str()
            && e["myndighed"] == CVR
            && e["operation"] == "ModtagBesked"));
        let ok = leveringer
            .iter()
            .filter(|e| e["resultat"] == "ok" && e["status"] == 20)
            .count();
        assert_eq!(ok, 5);
        assert_eq!(
            leveringer
                .iter()
                .filter(|e| e["resultat"] == "fejl")
                .count(),
            3
        );
        bf.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_besked_id_is_answered_20_and_delivered_once() {
    bounded(async {
        let bf = Bf::start(push_config(ms(2_000))).await;
        let modtager = Modtager::new(Box::new(|_, _| Svar::Ok), None);
        let url = modtager.serve().await;
        bf.dueslag(&url, 5).await;
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        modtager.expect_order(&[a, b]);
        assert_eq!(bf.afsend(a).await, 20);
        assert_eq!(bf.afsend(a).await, 20, "a repeat is answered 20 too");
        assert_eq!(bf.afsend(b).await, 20);
        modtager
            .until("b accepted", |l| l.accepted.contains(&b))
            .await;
        // The repeat was acknowledged at once; had it been queued, it would come before b.
        tokio::time::sleep(ms(200)).await;
        modtager.log(|l| {
            assert!(l.violations.is_empty(), "{}", l.violations.join("\n"));
            assert_eq!(l.requests, vec![a, b]);
            assert_eq!(l.accepted, vec![a, b]);
        });
        assert_eq!(bf.metrics().duplicates.load(Relaxed), 1);
        assert_eq!(bf.metrics().delivered.load(Relaxed), 2);
        bf.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_push_is_modtag_besked_input_with_the_leverancerute_of_the_attempt() {
    bounded(async {
        let bf = Bf::start(push_config(ms(2_000))).await;
        let modtager = Modtager::new(
            Box::new(|_, n| match n {
                1 => Svar::StatusKode50,
                2 => Svar::Http500,
                _ => Svar::Ok,
            }),
            None,
        );
        let url = modtager.serve().await;
        bf.dueslag(&url, 5).await;
        let id = Uuid::new_v4();
        assert_eq!(bf.afsend(id).await, 20);
        modtager
            .until("accepted", |l| l.accepted.contains(&id))
            .await;
        let bodies = modtager.log(|l| {
            assert!(l.violations.is_empty(), "{}", l.violations.join("\n"));
            assert_eq!(l.antal[&id], vec![Some(1), Some(2), Some(3)]);
            l.bodies[&id].clone()
        });
        assert_eq!(bodies.len(), 3);
        let system: Uuid = bf.system.parse().unwrap();
        for (i, body) in bodies.iter().enumerate() {
            let h = Haendelsesbesked::parse_modtag_besked_input(body).unwrap();
            assert_eq!(h.besked_id, UnikId::Uuid(id));
            assert!(
                h.beskeddata
                    .iter()
                    .any(|d| d.contains("Hello to Beskedfordeler")),
                "the Beskeddata is passed on: {body}"
            );
            let ruter = h
                .beskedkuvert
                .leveranceinformation
                .leveranceruter
                .as_ref()
                .expect("Leveranceruter");
            assert_eq!(ruter.len(), 1, "one hop, ours: {body}");
            let r = &ruter[0];
            assert_eq!(
                r.fordelingssystem,
                Some(UnikId::Uuid(fki_server::beskedfordeler::FORDELINGSSYSTEM))
            );
            assert_eq!(r.modtaget_fra_system, Some(system));
            assert!(r.modtagelses_tidspunkt.is_some() && r.leverance_tidspunkt.is_some());
            assert_eq!(
                r.lokal_udvidelse.as_ref().unwrap().antal_leveranceforsoeg,
                Some(i as u64 + 1)
            );
        }
        // Filtreringsdata travels unchanged.
        let sendt = Haendelsesbesked::parse(&FIXTURE.replace(FIXTURE_ID, &id.to_string())).unwrap();
        let pushed = Haendelsesbesked::parse_modtag_besked_input(&bodies[2]).unwrap();
        assert_eq!(
            pushed.beskedkuvert.filtreringsdata,
            sendt.beskedkuvert.filtreringsdata
        );
        assert_eq!(pushed.beskeddata, sendt.beskeddata);
        bf.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_dueslag_is_not_pushed_until_started_again() {
    bounded(async {
        let bf = Bf::start(push_config(ms(2_000))).await;
        // Fails until told otherwise.
        let (modtager, virker) = Modtager::fejler_indtil_videre();
        let url = modtager.serve().await;
        let dueslag = bf.dueslag(&url, 1000).await;
        let id = Uuid::new_v4();
        assert_eq!(bf.afsend(id).await, 20);
        modtager
            .until("3 attempts", |l| l.requests.len() >= 3)
            .await;
        bf.admin(
            &format!("/admin/beskedfordeler/dueslag/{dueslag}/aktiv"),
            json!({"aktiv": false}),
        )
        .await;
        // The supervisor lists every 100 ms; the worker's backoff is at most 40 ms.
        tokio::time::sleep(ms(300)).await;
        let stopped_at = modtager.log(|l| l.requests.len());
        tokio::time::sleep(ms(500)).await;
        assert_eq!(
            modtager.log(|l| l.requests.len()),
            stopped_at,
            "no pushes to a stopped dueslag"
        );
        virker.store(true, Relaxed);
        bf.admin(
            &format!("/admin/beskedfordeler/dueslag/{dueslag}/aktiv"),
            json!({"aktiv": true}),
        )
        .await;
        modtager
            .until("accepted", |l| l.accepted.contains(&id))
            .await;
        modtager.log(|l| {
            assert!(l.violations.is_empty(), "{}", l.violations.join("\n"));
            assert_eq!(l.accepted, vec![id]);
        });
        bf.finish().await;
    })
    .await;
}

/// A backlog of many times the worker's read-ahead goes out in order, each message once,
/// while the worker reads on behind what it delivered (the recordings still under way), and
/// every message ends Kvitteret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_backlog_goes_out_in_order_once_while_recordings_run_behind() {
    bounded(async {
        let bf = Bf::start(push_config(ms(2_000))).await;
        // The receiver fails until the backlog is queued, then takes everything.
        let (modtager, virker) = Modtager::fejler_indtil_videre();
        let url = modtager.serve().await;
        let dueslag = bf.dueslag(&url, 1000).await;
        let antal = 6 * fki_server::beskedfordeler::push::LAES_FORUD as usize + 7;
        let ids: Vec<Uuid> = (0..antal).map(|_| Uuid::new_v4()).collect();
        modtager.expect_order(&ids);
        for id in &ids {
            assert_eq!(bf.afsend(*id).await, 20);
        }
        virker.store(true, Relaxed);
        modtager
            .until("all accepted", |l| l.accepted.len() >= ids.len())
            .await;
        tokio::time::sleep(ms(300)).await;
        modtager.log(|l| {
            assert!(l.violations.is_empty(), "{}", l.violations.join("\n"));
            assert_eq!(l.accepted, ids, "accepted in send order, each once");
            // Only the head was tried more than once (while the receiver failed).
            for id in &ids[1..] {
                assert_eq!(l.attempts[id], 1, "{id} was sent more than once");
            }
        });
        let s = bf
            .get(&format!("/admin/beskedfordeler/dueslag/{dueslag}"))
            .await;
        assert_eq!(s["status"]["kvitteret"], antal, "{s}");
        assert_eq!(s["status"]["klar"], 0, "{s}");
        assert_eq!(bf.metrics().delivered.load(Relaxed), antal as u64);
        bf.finish().await;
    })
    .await;
}

/// An HTTPS receiver that requires a client certificate from the fki CA: fki presents its STS
/// certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_callbacks_get_fkis_client_certificate() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    bounded(async {
        let bf = Bf::start(push_config(ms(5_000))).await;
        let ca = bf.handle.state.ca.clone();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let issued = ca.issue_server_certificate(&["127.0.0.1"]).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(ca.root_cert_der().to_vec()))
            .unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .unwrap();
        let tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![CertificateDer::from(issued.cert_der().to_vec())],
                PrivateKeyDer::from_pem_slice(issued.key_pem().as_bytes()).unwrap(),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let modtager = Modtager::new(Box::new(|_, _| Svar::Ok), None);
        let app = modtager.router();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let peer_certs: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let pc = peer_certs.clone();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let acceptor = acceptor.clone();
                let app = app.clone();
                let pc = pc.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    if let Some(c) = tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
                        pc.lock().unwrap().push(c.as_ref().to_vec());
                    }
                    let svc = hyper::service::service_fn(
                        move |req: axum::extract::Request<hyper::body::Incoming>| {
                            use tower::ServiceExt;
                            app.clone().oneshot(req.map(axum::body::Body::new))
                        },
                    );
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                    .await;
                });
            }
        });
        bf.dueslag(&format!("https://127.0.0.1:{}/modtag", addr.port()), 5)
            .await;
        let id = Uuid::new_v4();
        assert_eq!(bf.afsend(id).await, 20);
        modtager
            .until("accepted", |l| l.accepted.contains(&id))
            .await;
        let certs = peer_certs.lock().unwrap().clone();
        assert!(!certs.is_empty());
        assert!(certs.iter().all(|c| *c == ca.sts().cert_der));
        modtager.log(|l| assert_eq!(l.requests, vec![id]));
        bf.finish().await;
    })
    .await;
}
