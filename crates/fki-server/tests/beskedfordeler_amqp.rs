//! The Beskedfordeler's AMQP side against a real RabbitMQ (`FKI_TEST_AMQP_URL`; skipped with a
//! notice when it is unset, CI always sets it): afsend as KOMBIT's RPC on
//! `AFSEND_BESKED_EXCHANGE` with direct reply-to, and an amqp dueslag forwarded to its queue.
//!
//! Tests run in parallel and share the broker and the exchange (its name is KOMBIT's): each
//! test server consumes its own afsend queue (`fki.test.afsend.<uuid>`), bound with its own
//! name as routing key, and each test's clients publish with that key, so a server only sees
//! its own test's messages. Amqp dueslag queues are named by fresh UUIDs. Every queue a test
//! makes is deleted when it ends (also when it fails). Every test is bounded by a timeout.
//!
//! Runs on SQLite, and on PostgreSQL too when `FKI_TEST_POSTGRES_URL` is set.

mod common;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use fki_beskedfordeler::kuvert::Haendelsesbesked;
use fki_beskedfordeler::retur::StandardRetur;
use fki_server::beskedfordeler::amqp::{
    AFSEND_BESKED_EXCHANGE, HEADER_DUESLAG, HEADER_LOEBENR, HEADER_TOKEN,
};
use fki_server::beskedfordeler::{BFO_AFSEND, BFO_MODTAG};
use fki_server::{Config, ServerHandle};
use fki_store::testing::{DropGuard, fresh_postgres};
use fki_sts::bpp::PrivilegeList;
use fki_sts::ca::Issued;
use fki_sts::saml::{self, AssertionSpec};
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use serde_json::{Value, json};
use uuid::Uuid;

const EKSEMPEL: &str = include_str!("../../fki-beskedfordeler/tests/fixtures/externTestBesked.xml");
const EKSEMPEL_ID: &str = "01157488-c45c-4fd2-b076-1de12effbf66";
const EKSEMPEL_CVR: &str = "99999999";

const CVR_A: &str = "11111111";
const CVR_B: &str = "22222222";

/// Bound on every test.
const TEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Bound on waiting for one answer or message.
const WAIT: Duration = Duration::from_secs(20);

fn besked(id: Uuid) -> String {
    EKSEMPEL
        .replace(EKSEMPEL_ID, &id.to_string())
        .replace(EKSEMPEL_CVR, CVR_A)
}

fn amqp_url() -> Option<String> {
    match std::env::var("FKI_TEST_AMQP_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            eprintln!("skipped: FKI_TEST_AMQP_URL is not set (no RabbitMQ to test against)");
            None
        }
    }
}

async fn bounded(f: impl Future<Output = ()>) {
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("the test did not finish within its time limit");
}

async fn connect(url: &str) -> Connection {
    tokio::time::timeout(
        WAIT,
        Connection::connect(url, ConnectionProperties::default()),
    )
    .await
    .expect("RabbitMQ answers")
    .expect("RabbitMQ is reachable at FKI_TEST_AMQP_URL")
}

/// Deletes the queues a test made, when dropped (a failed test too): on a thread of its own,
/// with its own runtime, so it also works while a test unwinds.
struct Queues {
    url: String,
    names: Arc<Mutex<Vec<String>>>,
}

impl Queues {
    fn add(&self, name: &str) {
        self.names.lock().unwrap().push(name.to_owned());
    }
}

impl Drop for Queues {
    fn drop(&mut self) {
        let names = std::mem::take(&mut *self.names.lock().unwrap());
        if names.is_empty() {
            return;
        }
        let url = self.url.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let Ok(Ok(conn)) = tokio::time::timeout(
                    WAIT,
                    Connection::connect(&url, ConnectionProperties::default()),
                )
                .await
                else {
                    eprintln!("could not delete the test queues {names:?}");
                    return;
                };
                if let Ok(ch) = conn.create_channel().await {
                    for n in names {
                        let _ = ch
                            .queue_delete(n.into(), QueueDeleteOptions::default())
                            .await;
                    }
                }
                let _ = conn.close(200, "done".into()).await;
            });
        })
        .join();
    }
}

#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

struct System {
    uuid: Uuid,
    cert: Issued,
}

struct Env {
    handle: Option<ServerHandle>,
    guard: Option<DropGuard>,
    _dir: tempfile::TempDir,
    /// The afsend queue of this test's server, and the routing key binding it.
    routing_key: String,
    client: Connection,
    queues: Queues,
}

impl Env {
    async fn start(backend: Backend) -> Option<Env> {
        Self::start_with(backend, false).await
    }

    async fn start_with(backend: Backend, dev_open: bool) -> Option<Env> {
        let amqp = amqp_url()?;
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
        let queues = Queues {
            url: amqp.clone(),
            names: Arc::default(),
        };
        let koe = format!("fki.test.afsend.{}", Uuid::new_v4());
        queues.add(&koe);
        let config = Config {
            amqp_url: Some(amqp.clone()),
            amqp_afsend_queue: koe.clone(),
            amqp_afsend_routing_key: koe.clone(),
            dev_open,
            ..Config::for_test_secure(dir.path().to_path_buf(), url)
        };
        let handle = fki_server::start(config).await.unwrap();
        let client = connect(&amqp).await;
        Some(Env {
            handle: Some(handle),
            guard,
            _dir: dir,
            routing_key: koe,
            client,
            queues,
        })
    }

    fn handle(&self) -> &ServerHandle {
        self.handle.as_ref().unwrap()
    }

    async fn finish(mut self) {
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(WAIT, h.shutdown())
                .await
                .expect("the server stops in time")
                .unwrap();
        }
        let _ = self.client.close(200, "done".into()).await;
        if let Some(g) = self.guard.take() {
            g.cleanup().await.unwrap();
        }
        // `queues` deletes the test's queues when dropped here.
    }

    async fn system(&self, name: &str, cvr: &str) -> System {
        let st = &self.handle().state;
        let (uuid, cert) = common::register_system(st.adgang.as_ref(), &st.ca, name, cvr).await;
        System { uuid, cert }
    }

    async fn agreement(&self, s: &System, entity_id: &str, cvr: &str) {
        common::active_agreement(
            self.handle().state.adgang.as_ref(),
            s.uuid,
            entity_id,
            cvr,
            vec![],
            vec![],
        )
        .await;
    }

    /// An assertion (its XML, as KOMBIT's samples put it in the header) valid from `fra` to
    /// `til`, signed by fki's STS key.
    fn assertion(
        &self,
        s: &System,
        cvr: &str,
        fra: chrono::DateTime<Utc>,
        til: chrono::DateTime<Utc>,
    ) -> String {
        let sts = &self.handle().state.sts;
        let privileges = PrivilegeList::for_cvr(cvr, &[]);
        let mut spec = AssertionSpec::new(
            &sts.key,
            s.cert.cert_der(),
            BFO_AFSEND,
            cvr,
            &privileges,
            fra,
        );
        spec.not_on_or_after = til;
        saml::issue_assertion(&spec).unwrap().xml
    }

    fn token(&self, s: &System, cvr: &str) -> String {
        let nu = Utc::now();
        self.assertion(s, cvr, nu, nu + chrono::Duration::hours(1))
    }

    async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        common::admin(self.handle(), method, path, body).await
    }

    /// A dueslag of `ejer` in CVR A receiving everything.
    async fn dueslag(&self, ejer: &System, levering: &str) -> Uuid {
        let (s, d) = self
            .admin(
                reqwest::Method::POST,
                "/admin/beskedfordeler/dueslag",
                Some(json!({"navn": "indbakke", "ejer": ejer.uuid.to_string(), "myndighed": CVR_A, "levering": levering})),
            )
            .await;
        assert_eq!(s, 201, "{d}");
        assert_eq!(d["levering"], levering);
        let dueslag: Uuid = d["uuid"].as_str().unwrap().parse().unwrap();
        let (s, a) = self
            .admin(
                reqwest::Method::POST,
                "/admin/beskedfordeler/abonnementer",
                Some(json!({"dueslag": dueslag, "filter": "TRUE"})),
            )
            .await;
        assert_eq!(s, 201, "{a}");
        dueslag
    }

    /// A sender's channel, set up for direct reply-to as in KOMBIT's samples.
    async fn rpc(&self) -> Rpc {
        let ch = self.client.create_channel().await.unwrap();
        let svar = ch
            .basic_consume(
                "amq.rabbitmq.reply-to".into(),
                format!("svar-{}", Uuid::new_v4()).into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        Rpc {
            ch,
            svar,
            routing_key: self.routing_key.clone(),
        }
    }
}

struct Rpc {
    ch: Channel,
    svar: lapin::Consumer,
    routing_key: String,
}

impl Rpc {
    /// Publish to AFSEND_BESKED_EXCHANGE (with `reply_to` when `svar` is set); the correlation
    /// ID.
    async fn publish(&self, token: Option<AMQPValue>, body: &str, svar: bool) -> String {
        let corr = Uuid::new_v4().to_string();
        let mut headers = FieldTable::default();
        if let Some(t) = token {
            headers.insert(HEADER_TOKEN.into(), t);
        }
        let mut props = BasicProperties::default()
            .with_correlation_id(corr.clone().into())
            .with_message_id(Uuid::new_v4().to_string().into())
            .with_headers(headers);
        if svar {
            props = props.with_reply_to("amq.rabbitmq.reply-to".into());
        }
        self.ch
            .basic_publish(
                AFSEND_BESKED_EXCHANGE.into(),
                self.routing_key.clone().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                body.as_bytes(),
                props,
            )
            .await
            .unwrap();
        corr
    }

    /// The next answer: (correlation ID, StandardRetur).
    async fn answer(&mut self) -> (String, StandardRetur) {
        let d = tokio::time::timeout(WAIT, self.svar.next())
            .await
            .expect("an answer in time")
            .expect("the reply consumer is open")
            .unwrap();
        let text = String::from_utf8(d.data.clone()).unwrap();
        let corr = d
            .properties
            .correlation_id()
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_default();
        (
            corr,
            StandardRetur::find_in(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
        )
    }

    /// Send and wait for the answer with the same correlation ID.
    async fn call(&mut self, token: Option<AMQPValue>, body: &str) -> StandardRetur {
        let corr = self.publish(token, body, true).await;
        let (c, r) = self.answer().await;
        assert_eq!(c, corr, "the answer carries the request's correlation_id");
        r
    }
}

fn xml_token(t: &str) -> Option<AMQPValue> {
    Some(AMQPValue::LongString(t.into()))
}

async fn until(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let end = tokio::time::Instant::now() + WAIT;
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < end,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------------

async fn rpc_afsend(backend: Backend) {
    let Some(env) = Env::start(backend).await else {
        return;
    };
    let afsender = env.system("Afsender", CVR_A).await;
    let modtager = env.system("Modtager", CVR_A).await;
    env.agreement(&afsender, BFO_AFSEND, CVR_A).await;
    env.agreement(&modtager, BFO_MODTAG, CVR_A).await;
    let d = env.dueslag(&modtager, "pull").await;
    let bf = env.handle().state.beskedfordeler.clone();
    let store = bf.store.clone();
    let token = env.token(&afsender, CVR_A);
    let mut rpc = env.rpc().await;

    // a valid message: 20 with the correlation_id, stored and distributed before the answer
    let id = Uuid::new_v4();
    let r = rpc.call(xml_token(&token), &besked(id)).await;
    assert_eq!(r.status_kode, 20, "{r:?}");
    let stored = store.hent_besked(id).await.unwrap().expect("stored");
    assert_eq!(stored.afsender, afsender.uuid);
    assert_eq!(stored.myndighed, CVR_A);
    let klar = store.klar(d, i64::MAX, 100).await.unwrap();
    assert_eq!(klar.len(), 1);
    assert_eq!(klar[0].besked.besked_id, id);

    // the same BeskedId again, with the token in base64 as bytes: 20, nothing new
    let b64 = base64::engine::general_purpose::STANDARD.encode(&token);
    let r = rpc
        .call(
            Some(AMQPValue::ByteArray(b64.into_bytes().into())),
            &besked(id),
        )
        .await;
    assert_eq!(r.status_kode, 20, "{r:?}");
    assert_eq!(store.klar(d, i64::MAX, 100).await.unwrap().len(), 1);

    // an expired token: 41, as KOMBIT's samples expect (they fetch a new token on 41)
    let nu = Utc::now();
    let udloebet = env.assertion(
        &afsender,
        CVR_A,
        nu - chrono::Duration::hours(2),
        nu - chrono::Duration::hours(1),
    );
    let r = rpc
        .call(xml_token(&udloebet), &besked(Uuid::new_v4()))
        .await;
    assert_eq!(r.status_kode, 41, "{r:?}");
    // a token for CVR B, where the sender has no agreement: 41
    let r = rpc
        .call(
            xml_token(&env.token(&afsender, CVR_B)),
            &besked(Uuid::new_v4()),
        )
        .await;
    assert_eq!(r.status_kode, 41, "{r:?}");
    // a system without any afsend agreement: 41
    let r = rpc
        .call(
            xml_token(&env.token(&modtager, CVR_A)),
            &besked(Uuid::new_v4()),
        )
        .await;
    assert_eq!(r.status_kode, 41, "{r:?}");
    // no token, or garbage for one: 41
    let r = rpc.call(None, &besked(Uuid::new_v4())).await;
    assert_eq!(r.status_kode, 41, "{r:?}");
    let r = rpc
        .call(xml_token("not a token"), &besked(Uuid::new_v4()))
        .await;
    assert_eq!(r.status_kode, 41, "{r:?}");
    // not a valid message: 40, naming what is wrong
    let r = rpc.call(xml_token(&token), "<ikke-xml").await;
    assert_eq!(r.status_kode, 40, "{r:?}");
    let r = rpc
        .call(
            xml_token(&token),
            &besked(Uuid::new_v4()).replace("BeskedId", "BeskedIdx"),
        )
        .await;
    assert_eq!(r.status_kode, 40, "{r:?}");
    assert_eq!(store.klar(d, i64::MAX, 100).await.unwrap().len(), 1);

    // an AfsendBeskedInput envelope is accepted as well
    let id2 = Uuid::new_v4();
    let inner = besked(id2);
    let inner = inner
        .trim_start()
        .strip_prefix("<?xml")
        .map(|r| &r[r.find("?>").unwrap() + 2..])
        .unwrap_or(&inner);
    let input = format!(
        "<bf:AfsendBeskedInput xmlns:bf=\"urn:oio:sts:beskedfordeler:1.0.0\">{inner}</bf:AfsendBeskedInput>"
    );
    let r = rpc.call(xml_token(&token), &input).await;
    assert_eq!(r.status_kode, 20, "{r:?}");
    assert!(store.hent_besked(id2).await.unwrap().is_some());

    // without reply_to: processed and acknowledged all the same
    let id3 = Uuid::new_v4();
    rpc.publish(xml_token(&token), &besked(id3), false).await;
    until("the message without reply_to is stored", async || {
        store.hent_besked(id3).await.unwrap().is_some()
    })
    .await;
    let ids: Vec<Uuid> = store
        .klar(d, i64::MAX, 100)
        .await
        .unwrap()
        .iter()
        .map(|l| l.besked.besked_id)
        .collect();
    assert_eq!(ids, vec![id, id2, id3]);

    // counted like HTTP afsend; refusals audited like HTTP refusals
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(bf.metrics.accepted.load(Relaxed), 3);
    assert_eq!(bf.metrics.duplicates.load(Relaxed), 1);
    assert_eq!(bf.metrics.refused.load(Relaxed), 7);

    // every delivery is a call record: the accepted ones (and the repeat) attributed to the
    // sender with StatusKode 20; the five token refusals as refused, the one for CVR B (a valid
    // token without an agreement) attributed to the sender and its certificate
    let st = &env.handle().state;
    until("the call records are written", async || {
        kald_amqp(st).await.len() >= 11
    })
    .await;
    let kald = kald_amqp(st).await;
    let ok: Vec<_> = kald.iter().filter(|e| e.resultat == "ok").collect();
    assert_eq!(ok.len(), 4, "{kald:#?}");
    assert!(
        ok.iter().all(|e| e.system == Some(afsender.uuid)
            && e.status == Some(20)
            && e.sf.as_deref() == Some("SF1461")),
        "{ok:#?}"
    );
    let afvist: Vec<_> = kald.iter().filter(|e| e.resultat == "afvist").collect();
    assert_eq!(afvist.len(), 5, "{kald:#?}");
    assert!(afvist.iter().all(|e| e.status == Some(41)), "{afvist:#?}");
    let sha = fki_sts::ca::fingerprint_sha256(afsender.cert.cert_der());
    assert!(
        afvist.iter().any(|e| e.system == Some(afsender.uuid)
            && e.myndighed.as_deref() == Some(CVR_B)
            && e.certifikat_sha256.as_deref() == Some(sha.as_str())),
        "{afvist:#?}"
    );
    assert_eq!(
        kald.iter().filter(|e| e.resultat == "ugyldig").count(),
        2,
        "{kald:#?}"
    );

    // everything was acknowledged: nothing is left in the afsend queue
    let ch = env.client.create_channel().await.unwrap();
    let q = ch
        .queue_declare(
            env.routing_key.clone().into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    assert_eq!(q.message_count(), 0);
    env.finish().await;
}

#[tokio::test]
async fn rpc_afsend_sqlite() {
    bounded(rpc_afsend(Backend::Sqlite)).await;
}

#[tokio::test]
async fn rpc_afsend_postgres() {
    bounded(rpc_afsend(Backend::Postgres)).await;
}

async fn amqp_dueslag(backend: Backend) {
    let Some(env) = Env::start(backend).await else {
        return;
    };
    let afsender = env.system("Afsender", CVR_A).await;
    let modtager = env.system("Modtager", CVR_A).await;
    env.agreement(&afsender, BFO_AFSEND, CVR_A).await;
    env.agreement(&modtager, BFO_MODTAG, CVR_A).await;
    let d = env.dueslag(&modtager, "amqp").await;
    env.queues.add(&d.to_string());
    let store = env.handle().state.beskedfordeler.store.clone();
    let token = env.token(&afsender, CVR_A);

    // 20 messages published back to back on one channel, then the 20 answers
    let mut rpc = env.rpc().await;
    let mut sendt = Vec::new();
    for _ in 0..20 {
        let id = Uuid::new_v4();
        rpc.publish(xml_token(&token), &besked(id), true).await;
        sendt.push(id);
    }
    for _ in 0..20 {
        let (_, r) = rpc.answer().await;
        assert_eq!(r.status_kode, 20, "{r:?}");
    }

    // the receiver consumes its queue (named by the dueslag) with manual acknowledgement
    let ch = env.client.create_channel().await.unwrap();
    ch.queue_declare(
        d.to_string().into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    let mut consumer = ch
        .basic_consume(
            d.to_string().into(),
            "modtager".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut modtaget = Vec::new();
    let mut loebenr = Vec::new();
    while modtaget.len() < sendt.len() {
        let m = tokio::time::timeout(WAIT, consumer.next())
            .await
            .expect("a forwarded message in time")
            .unwrap()
            .unwrap();
        assert_eq!(m.properties.delivery_mode(), &Some(2), "persistent");
        let id: Uuid = m
            .properties
            .message_id()
            .as_ref()
            .unwrap()
            .as_str()
            .parse()
            .unwrap();
        let headers = m.properties.headers().as_ref().unwrap().inner();
        match headers.get(HEADER_LOEBENR) {
            Some(AMQPValue::LongLongInt(n)) => loebenr.push(*n),
            other => panic!("loebenr header: {other:?}"),
        }
        assert!(
            matches!(headers.get(HEADER_DUESLAG), Some(AMQPValue::LongString(s)) if s.to_string() == d.to_string())
        );
        // the body is the message with the Beskedfordeler's Leverancerute
        let h = Haendelsesbesked::parse(std::str::from_utf8(&m.data).unwrap()).unwrap();
        assert_eq!(h.besked_id.to_string(), id.to_string());
        let ruter = h.beskedkuvert.leveranceinformation.leveranceruter.unwrap();
        assert_eq!(
            ruter.last().unwrap().modtaget_fra_system,
            Some(afsender.uuid)
        );
        m.ack(BasicAckOptions::default()).await.unwrap();
        modtaget.push(id);
    }
    assert_eq!(modtaget, sendt, "in the order sent");
    assert_eq!(loebenr, (1..=20).collect::<Vec<i64>>());

    // the broker confirmed them all: Kvitteret in the store, nothing waiting
    until("all leveringer are Kvitteret", async || {
        let s = store.status(d, i64::MAX).await.unwrap();
        s.kvitteret == 20 && s.klar == 0
    })
    .await;
    let st = store.status(d, i64::MAX).await.unwrap();
    assert_eq!(st.fejlkoe, 0);

    // a message sent later is forwarded at once (the forwarder is woken)
    let id = Uuid::new_v4();
    let r = rpc.call(xml_token(&token), &besked(id)).await;
    assert_eq!(r.status_kode, 20);
    let m = tokio::time::timeout(WAIT, consumer.next())
        .await
        .expect("the later message in time")
        .unwrap()
        .unwrap();
    assert_eq!(
        m.properties.message_id().as_ref().unwrap().as_str(),
        id.to_string()
    );
    m.ack(BasicAckOptions::default()).await.unwrap();
    until("the later levering is Kvitteret", async || {
        store.status(d, i64::MAX).await.unwrap().kvitteret == 21
    })
    .await;
    assert!(store.klar(d, i64::MAX, 10).await.unwrap().is_empty());

    // each levering handed to the queue is a delivery record of the receiving system
    let st = &env.handle().state;
    let leveringer = async || {
        st.adgang
            .audit_query(&fki_store::adgang::AuditQuery {
                haendelse: Some("levering".into()),
                system: Some(modtager.uuid),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.operation.as_deref() == Some("BeskedHent (AMQP)"))
            .count()
    };
    until("the delivery records are written", async || {
        leveringer().await == 21
    })
    .await;
    env.finish().await;
}

/// The call records of AMQP afsend.
async fn kald_amqp(st: &fki_server::AppState) -> Vec<fki_store::adgang::AuditEntry> {
    st.adgang
        .audit_query(&fki_store::adgang::AuditQuery {
            haendelse: Some("kald".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.operation.as_deref() == Some("AfsendBesked (AMQP)"))
        .collect()
}

#[tokio::test]
async fn amqp_dueslag_sqlite() {
    bounded(amqp_dueslag(Backend::Sqlite)).await;
}

#[tokio::test]
async fn amqp_dueslag_postgres() {
    bounded(amqp_dueslag(Backend::Postgres)).await;
}

/// When the broker takes the consumer away (here: the afsend queue is deleted), fki connects
/// again, declares everything again and goes on answering.
#[tokio::test]
async fn consumes_again_after_losing_its_queue() {
    bounded(async {
        let Some(env) = Env::start(Backend::Sqlite).await else {
            return;
        };
        let afsender = env.system("Afsender", CVR_A).await;
        env.agreement(&afsender, BFO_AFSEND, CVR_A).await;
        let token = env.token(&afsender, CVR_A);
        let mut rpc = env.rpc().await;
        let r = rpc.call(xml_token(&token), &besked(Uuid::new_v4())).await;
        assert_eq!(r.status_kode, 20);

        let ch = env.client.create_channel().await.unwrap();
        ch.queue_delete(
            env.routing_key.clone().into(),
            QueueDeleteOptions::default(),
        )
        .await
        .unwrap();
        // Messages published before the queue is back are not routed; send until one is
        // answered.
        let id = Uuid::new_v4();
        let end = tokio::time::Instant::now() + WAIT;
        loop {
            assert!(
                tokio::time::Instant::now() < end,
                "no answer after the queue was lost"
            );
            let corr = rpc.publish(xml_token(&token), &besked(id), true).await;
            if let Ok(Some(Ok(d))) =
                tokio::time::timeout(Duration::from_millis(500), rpc.svar.next()).await
            {
                let c = d
                    .properties
                    .correlation_id()
                    .as_ref()
                    .map(|c| c.to_string());
                let text = String::from_utf8(d.data.clone()).unwrap();
                assert_eq!(StandardRetur::find_in(&text).unwrap().status_kode, 20);
                if c.as_deref() == Some(corr.as_str()) {
                    break;
                }
            }
        }
        let store = &env.handle().state.beskedfordeler.store;
        assert!(store.hent_besked(id).await.unwrap().is_some());
        env.finish().await;
    })
    .await;
}

/// Under `--dev-open` the sender names its myndighed in a header instead of sending a token,
/// as over HTTP.
#[tokio::test]
async fn dev_open_takes_the_myndighed_from_a_header() {
    bounded(async {
        let Some(env) = Env::start_with(Backend::Sqlite, true).await else {
            return;
        };
        let mut rpc = env.rpc().await;
        let r = rpc.call(None, &besked(Uuid::new_v4())).await;
        assert_eq!(r.status_kode, 41, "the myndighed is required: {r:?}");
        let mut headers = FieldTable::default();
        headers.insert(
            "x-fki-myndighed".into(),
            AMQPValue::LongString(CVR_A.into()),
        );
        let id = Uuid::new_v4();
        let corr = Uuid::new_v4().to_string();
        rpc.ch
            .basic_publish(
                AFSEND_BESKED_EXCHANGE.into(),
                env.routing_key.clone().into(),
                BasicPublishOptions::default(),
                besked(id).as_bytes(),
                BasicProperties::default()
                    .with_correlation_id(corr.clone().into())
                    .with_reply_to("amq.rabbitmq.reply-to".into())
                    .with_headers(headers),
            )
            .await
            .unwrap();
        let (c, r) = rpc.answer().await;
        assert_eq!((c, r.status_kode), (corr, 20));
        let stored = env
            .handle()
            .state
            .beskedfordeler
            .store
            .hent_besked(id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.myndighed, CVR_A);
        env.finish().await;
    })
    .await;
}

/// A configured but unreachable RabbitMQ stops the server from starting, and says why.
/// (Needs no broker: runs always.)
#[tokio::test]
async fn startup_fails_clearly_without_rabbitmq() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            amqp_url: Some("amqp://guest:hemmelig@127.0.0.1:1/%2f".into()),
            ..Config::for_test_secure(dir.path().to_path_buf(), None)
        };
        let e = match fki_server::start(config).await {
            Ok(_) => panic!("started without RabbitMQ"),
            Err(e) => format!("{e:#}"),
        };
        assert!(e.contains("AMQP") && e.contains("RabbitMQ"), "{e}");
        assert!(!e.contains("hemmelig"), "the password stays out: {e}");
    })
    .await;
}
