//! Crash test of the Beskedfordeler (item 9 of issue 4): `fki serve` is killed with SIGKILL
//! while senders are mid-stream, then started again on the same data. Every message that was
//! answered StatusKode 20 must be in the dueslag, exactly once, and the order of each sender's
//! acknowledged messages must hold. Three kills per backend, at random moments.
//!
//! SQLite always; PostgreSQL too when `FKI_TEST_POSTGRES_URL` is set.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::{Cli, start, wait_ready};
use fki_store::testing::fresh_postgres;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use uuid::Uuid;

const CVR: &str = "11111111";
const EKSEMPEL: &str = include_str!("../../fki-beskedfordeler/tests/fixtures/externTestBesked.xml");
const EKSEMPEL_ID: &str = "01157488-c45c-4fd2-b076-1de12effbf66";

/// A sender keeps sending numbered messages until the server dies; returns the BeskedIds that
/// were answered StatusKode 20, in send order.
async fn sender(url: String) -> Vec<Uuid> {
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut acked = Vec::new();
    loop {
        let id = Uuid::new_v4();
        let body = EKSEMPEL
            .replace(EKSEMPEL_ID, &id.to_string())
            .replace("99999999", CVR);
        let r = c
            .post(format!("{url}/beskedfordeler/afsend"))
            .header("x-fki-myndighed", CVR)
            .body(body)
            .send()
            .await;
        let Ok(r) = r else {
            return acked; // the server is gone
        };
        let text = r.text().await.unwrap_or_default();
        if text.contains("<StatusKode>20</StatusKode>") {
            acked.push(id);
        } else if text.is_empty() {
            return acked;
        } else {
            panic!("unexpected answer: {text}");
        }
    }
}

async fn pull_all(url: &str, dueslag: &str) -> Vec<Uuid> {
    let c = reqwest::Client::new();
    let mut out = Vec::new();
    loop {
        let v: Value = c
            .get(format!(
                "{url}/beskedfordeler/dueslag/{dueslag}/beskeder?antal=100"
            ))
            .header("x-fki-myndighed", CVR)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let batch = v["beskeder"].as_array().unwrap().clone();
        if batch.is_empty() {
            return out;
        }
        for b in batch {
            out.push(b["beskedId"].as_str().unwrap().parse().unwrap());
            let loebenr = b["loebenr"].as_i64().unwrap();
            let r = c
                .post(format!(
                    "{url}/beskedfordeler/dueslag/{dueslag}/beskeder/{loebenr}/kvitter"
                ))
                .header("x-fki-myndighed", CVR)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 204);
        }
    }
}

async fn scenario(cli: Cli<'_>, seed: u64) {
    let out = tempfile::tempdir().unwrap();
    cli.ok(&[
        "system",
        "create",
        "--name",
        "Modtager",
        "--cvr",
        CVR,
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let d: Value = serde_json::from_str(&cli.ok(&[
        "dueslag", "create", "--name", "crash", "--system", "Modtager", "--cvr", CVR,
    ]))
    .unwrap();
    let dueslag = d["uuid"].as_str().unwrap().to_owned();
    cli.ok(&[
        "abonnement",
        "create",
        "--dueslag",
        &dueslag,
        "--filter",
        "TRUE",
    ]);

    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut all_acked: Vec<Vec<Uuid>> = Vec::new();
    for round in 0..3 {
        let port = common::free_port();
        let mut server = start(&cli, port);
        wait_ready(&server.url).await;
        let senders: Vec<_> = (0..4)
            .map(|_| tokio::spawn(sender(server.url.clone())))
            .collect();
        let after = Duration::from_millis(rng.random_range(200..900));
        tokio::time::sleep(after).await;
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        let mut n = 0;
        for s in senders {
            let acked = tokio::time::timeout(Duration::from_secs(30), s)
                .await
                .expect("senders notice the kill")
                .unwrap();
            n += acked.len();
            all_acked.push(acked);
        }
        assert!(
            n > 0,
            "round {round}: nothing was acknowledged before the kill"
        );
    }

    let port = common::free_port();
    let mut server = start(&cli, port);
    wait_ready(&server.url).await;
    let got = pull_all(&server.url, &dueslag).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    for (i, a) in all_acked.iter().enumerate() {
        let missing = a.iter().filter(|id| !got.contains(id)).count();
        let first_missing = a.iter().position(|id| !got.contains(id));
        eprintln!(
            "sender {i}: {} acked, {missing} missing, first missing at {first_missing:?}",
            a.len()
        );
    }
    eprintln!("got {}", got.len());
    let position: HashMap<Uuid, usize> = got.iter().enumerate().map(|(i, u)| (*u, i)).collect();
    assert_eq!(
        position.len(),
        got.len(),
        "a message is in the dueslag twice"
    );
    let mut total = 0;
    for acked in &all_acked {
        total += acked.len();
        let mut last = None;
        for id in acked {
            let p = *position
                .get(id)
                .unwrap_or_else(|| panic!("acknowledged message {id} is missing after the crash"));
            assert!(last.is_none_or(|l| l < p), "a sender's order broke at {id}");
            last = Some(p);
        }
    }
    // everything in the dueslag was sent by a sender (acknowledged or in flight at the kill)
    let acked: HashSet<&Uuid> = all_acked.iter().flatten().collect();
    assert!(
        got.len() >= total && got.len() <= total + 3 * 4,
        "{} in the dueslag, {total} acknowledged",
        got.len()
    );
    assert!(acked.len() == total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_loses_nothing_acknowledged_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    scenario(
        Cli {
            data_dir: dir.path(),
            database_url: None,
        },
        7,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_loses_nothing_acknowledged_postgres() {
    let Ok(base) = std::env::var("FKI_TEST_POSTGRES_URL") else {
        eprintln!("skipped on PostgreSQL: FKI_TEST_POSTGRES_URL is not set");
        return;
    };
    let (url, guard) = fresh_postgres(&base).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    scenario(
        Cli {
            data_dir: dir.path(),
            database_url: Some(url),
        },
        8,
    )
    .await;
    guard.cleanup().await.unwrap();
}
