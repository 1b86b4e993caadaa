//! The AMQP gateway for KOMBIT's clients and RabbitMQ's HTTP auth backend, against a real
//! RabbitMQ, with **pika** (Python) as the client — written as KOMBIT's Python users write it
//! (`tests/amqp_gateway_client.py`: TLS, vhost `BF`, SASL EXTERNAL whose response is the SAML
//! assertion) — and direct PLAIN logins to RabbitMQ with lapin.
//!
//! Needs `FKI_TEST_AMQP_URL`, a RabbitMQ whose HTTP auth backend points at
//! `http://127.0.0.1:15690/rabbitmq/auth/*` (`.ci/run` sets that up), and Python 3 with pika
//! (`.ci/run` installs it). Without `FKI_TEST_AMQP_URL` the test prints a notice and returns;
//! with it, a missing piece is a failure. The fixed auth port means these tests run one at a
//! time (a lock).

mod common;

use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use fki_server::beskedfordeler::{BFO_AFSEND, BFO_MODTAG};
use fki_server::{Config, ServerHandle};
use fki_sts::bpp::PrivilegeList;
use fki_sts::ca::Issued;
use fki_sts::saml::{self, AssertionSpec};
use serde_json::{Value, json};
use uuid::Uuid;

const EKSEMPEL: &str = include_str!("../../fki-beskedfordeler/tests/fixtures/externTestBesked.xml");
const EKSEMPEL_ID: &str = "01157488-c45c-4fd2-b076-1de12effbf66";
const CVR: &str = "11111111";
const AUTH_LISTEN: &str = "127.0.0.1:15690";
const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/amqp_gateway_client.py");

static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct System {
    uuid: Uuid,
    cert: Issued,
}

struct Env {
    handle: Option<ServerHandle>,
    dir: tempfile::TempDir,
    amqp_url: String,
    afsend_queue: String,
}

impl Env {
    fn h(&self) -> &ServerHandle {
        self.handle.as_ref().unwrap()
    }

    async fn system(&self, name: &str, services: &[&str]) -> System {
        let st = &self.h().state;
        let (uuid, cert) = common::register_system(st.adgang.as_ref(), &st.ca, name, CVR).await;
        for s in services {
            common::active_agreement(st.adgang.as_ref(), uuid, s, CVR, vec![], vec![]).await;
        }
        System { uuid, cert }
    }

    /// A token file (the assertion XML, as KOMBIT's clients send it) for `s` and `entity_id`.
    fn token_file(&self, s: &System, entity_id: &str) -> String {
        self.token_file_for(s, entity_id, chrono::Duration::hours(8))
    }

    fn token_file_for(&self, s: &System, entity_id: &str, lifetime: chrono::Duration) -> String {
        let a = saml::issue_assertion(
            &AssertionSpec::new(
                &self.h().state.sts.key,
                s.cert.cert_der(),
                entity_id,
                CVR,
                &PrivilegeList::for_cvr(CVR, &[]),
                Utc::now(),
            )
            .with_lifetime(lifetime),
        )
        .unwrap();
        let path = self.dir.path().join(format!("{}.xml", Uuid::new_v4()));
        std::fs::write(&path, a.xml).unwrap();
        path.to_str().unwrap().to_owned()
    }

    fn ca_file(&self) -> String {
        let path = self.dir.path().join("root.pem");
        std::fs::write(
            &path,
            fki_sts::ca::der_to_pem(self.h().state.ca.root_cert_der(), "CERTIFICATE"),
        )
        .unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// Run the pika client; its JSON lines.
    fn pika(&self, args: &[&str]) -> Vec<Value> {
        let port = self.h().amqp_gateway_addr.unwrap().port().to_string();
        let ca = self.ca_file();
        let (cmd, rest) = args.split_first().unwrap();
        let out = Command::new("python3")
            .arg(CLIENT)
            .arg(cmd)
            .args(["127.0.0.1", &port, &ca])
            .args(rest)
            .output()
            .expect("python3 runs (pika is installed by .ci/run)");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "pika client failed: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    async fn admin(&self, path: &str, body: Value) -> Value {
        let (status, v) = common::admin(self.h(), reqwest::Method::POST, path, Some(body)).await;
        assert!((200..300).contains(&status), "{path}: {v}");
        v
    }

    /// An access token of the REST flow for `s` and `entity_id` (as step 2 would give it).
    async fn access_token(&self, s: &System, entity_id: &str) -> String {
        let st = &self.h().state.sts;
        let service = st.own_service(entity_id).await.unwrap();
        st.access_tokens
            .insert(fki_server::sts::tokens::AccessEntry {
                cvr: CVR.into(),
                audience: entity_id.into(),
                certificate_sha256: fki_sts::ca::fingerprint_sha256(s.cert.cert_der()).into(),
                system: s.uuid,
                service,
                assertion_id: "test".into(),
                privileges: PrivilegeList::default(),
                expires: std::time::Instant::now() + Duration::from_secs(600),
            })
            .unwrap()
    }

    async fn finish(mut self) {
        if let Ok(c) = lapin::Connection::connect(&self.amqp_url, Default::default()).await
            && let Ok(ch) = c.create_channel().await
        {
            let _ = ch
                .queue_delete(self.afsend_queue.as_str().into(), Default::default())
                .await;
        }
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), h.shutdown()).await;
        }
    }
}

/// Refused for lack of rights (RabbitMQ's or the gateway's 403 ACCESS_REFUSED), not for any
/// other reason.
fn refused(lines: &[Value]) -> bool {
    lines.iter().any(|l| {
        l.get("refused")
            .and_then(Value::as_str)
            .is_some_and(|r| r.contains("403") || r.contains("ACCESS_REFUSED"))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kombit_client_through_the_gateway_and_plain_logins() {
    let Ok(amqp_url) = std::env::var("FKI_TEST_AMQP_URL") else {
        eprintln!("skipped: FKI_TEST_AMQP_URL is not set (no RabbitMQ to test against)");
        return;
    };
    let _lock = LOCK.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let afsend_queue = format!("fki.test.gateway.{}", Uuid::new_v4());
    let config = Config {
        amqp_url: Some(amqp_url.clone()),
        amqp_afsend_queue: afsend_queue.clone(),
        amqp_afsend_routing_key: String::new(),
        amqp_gateway_listen: Some("127.0.0.1:0".parse().unwrap()),
        rabbitmq_auth_listen: Some(AUTH_LISTEN.parse().unwrap()),
        ..Config::for_test_secure(dir.path().join("data"), None)
    };
    let handle = fki_server::start(config).await.unwrap();
    let env = Env {
        handle: Some(handle),
        dir,
        amqp_url: amqp_url.clone(),
        afsend_queue,
    };
    let run = async {
        let afsender = env.system("Afsender", &[BFO_AFSEND]).await;
        let modtager = env.system("Modtager", &[BFO_MODTAG]).await;
        let fremmed = env.system("Fremmed", &[BFO_MODTAG]).await;
        let d = env
            .admin(
                "/admin/beskedfordeler/dueslag",
                json!({"navn": "amqp", "ejer": modtager.uuid.to_string(), "myndighed": CVR, "levering": "amqp"}),
            )
            .await["uuid"]
            .as_str()
            .unwrap()
            .to_owned();
        env.admin(
            "/admin/beskedfordeler/abonnementer",
            json!({"dueslag": d, "filter": "TRUE"}),
        )
        .await;

        // afsend through the gateway with an EXTERNAL token: answered 20 after the commit
        let id = Uuid::new_v4();
        let msg = env.dir.path().join("besked.xml");
        std::fs::write(
            &msg,
            EKSEMPEL
                .replace(EKSEMPEL_ID, &id.to_string())
                .replace("99999999", CVR),
        )
        .unwrap();
        let tok_afsend = env.token_file(&afsender, BFO_AFSEND);
        let out = env.pika(&["afsend", &tok_afsend, msg.to_str().unwrap()]);
        assert_eq!(out.len(), 1, "{out:?}");
        let reply = out[0]["reply"]
            .as_str()
            .unwrap_or_else(|| panic!("{out:?}"));
        assert!(reply.contains("<StatusKode>20</StatusKode>"), "{reply}");
        assert_eq!(out[0]["correlation_ok"], true);

        // the forwarder hands it to the dueslag's queue (Kvitteret once the broker confirmed)
        let du: Uuid = d.parse().unwrap();
        let store = &env.h().state.beskedfordeler.store;
        for _ in 0..200 {
            if store.status(du, i64::MAX).await.unwrap().kvitteret == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(store.status(du, i64::MAX).await.unwrap().kvitteret, 1);
        // the receiver takes it from its dueslag's queue through the gateway
        let tok_modtag = env.token_file(&modtager, BFO_MODTAG);
        let out = env.pika(&["hent", &tok_modtag, &d, "1"]);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0]["message_id"], id.to_string(), "{out:?}");
        assert!(out[0]["body"].as_str().unwrap().contains("Leverancerute"));

        // refusals: the sender's token cannot read the receiver's queue; another receiver
        // cannot either; an altered assertion does not get in at all
        let out = env.pika(&["hent", &tok_afsend, &d, "1"]);
        assert!(refused(&out), "{out:?}");
        let tok_fremmed = env.token_file(&fremmed, BFO_MODTAG);
        let out = env.pika(&["hent", &tok_fremmed, &d, "1"]);
        assert!(refused(&out), "{out:?}");
        let altered = env.dir.path().join("altered.xml");
        std::fs::write(
            &altered,
            std::fs::read_to_string(&tok_modtag)
                .unwrap()
                .replacen(CVR, "22222222", 1),
        )
        .unwrap();
        let out = env.pika(&["hent", altered.to_str().unwrap(), &d, "1"]);
        assert!(refused(&out), "{out:?}");
        let audit = env
            .h()
            .state
            .adgang
            .audit_query(&fki_store::adgang::AuditQuery {
                haendelse: Some("request_refused".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(!audit.is_empty(), "the refused login is in the audit log");

        // the gateway closes a session when its token expires
        let kort = env.token_file_for(&modtager, BFO_MODTAG, chrono::Duration::seconds(3));
        let out = env.pika(&["hold", &kort, "15"]);
        let closed = out[0]["closed_after"]
            .as_f64()
            .unwrap_or_else(|| panic!("still open after 15 s: {out:?}"));
        assert!((1.0..10.0).contains(&closed), "{out:?}");

        // PLAIN through the gateway: system UUID + access token
        let at = env.access_token(&modtager, BFO_MODTAG).await;
        let out = env.pika(&["plain", &modtager.uuid.to_string(), &at, &d]);
        assert_eq!(out, vec![json!({"ok": true})]);
        let out = env.pika(&["plain", &modtager.uuid.to_string(), "wrong", &d]);
        assert!(refused(&out), "{out:?}");

        // direct PLAIN to RabbitMQ (its HTTP auth backend asks fki): own queue yes, others no
        let (host, vhost) = {
            let rest = amqp_url
                .rsplit_once('@')
                .map_or(amqp_url.as_str(), |(_, h)| h);
            let (h, v) = rest.split_once('/').unwrap_or((rest, "%2f"));
            (h.to_owned(), v.to_owned())
        };
        let direct = format!("amqp://{}:{}@{host}/{vhost}", modtager.uuid, urlencode(&at));
        let c = lapin::Connection::connect(&direct, Default::default())
            .await
            .expect("direct PLAIN login with an access token");
        let ch = c.create_channel().await.unwrap();
        ch.queue_declare(
            d.as_str().into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .expect("its own dueslag's queue");
        let other = Uuid::new_v4().to_string();
        let err = ch
            .basic_consume(
                other.as_str().into(),
                "x".into(),
                Default::default(),
                Default::default(),
            )
            .await;
        assert!(err.is_err(), "a queue that is not its dueslag's");
        let bad = format!("amqp://{}:nope@{host}/{vhost}", modtager.uuid);
        assert!(
            lapin::Connection::connect(&bad, Default::default())
                .await
                .is_err()
        );
    };
    tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("the gateway test did not finish in time");
    env.finish().await;
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
