//! Smoke test of `fki bench beskedfordeler`: 50 abonnementer on 6 dueslag, two Værdilister of
//! 1,000 CPR URNs, one-second phases, through the built binary. The PostgreSQL variant runs
//! only when `FKI_TEST_POSTGRES_URL` is set. RabbitMQ is measured when one answers on the
//! default URL and reported as skipped otherwise; both are fine here. The AMQP variant
//! (`--transport amqp`: afsend as KOMBIT's RPC, amqp dueslag read from RabbitMQ) runs when
//! `FKI_TEST_AMQP_URL` is set.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

fn bench(backend: &str, postgres_url: Option<&str>, amqp_url: Option<&str>) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fki"));
    cmd.args(["bench", "beskedfordeler", "--backend", backend])
        .args([
            "--abonnementer",
            "50",
            "--dueslag",
            "6",
            "--vaerdilister",
            "2",
            "--vaerdier",
            "1000",
            "--seconds",
            "1",
            "--concurrency",
            "4",
            "--drain-seconds",
            "30",
        ])
        .arg("--json")
        .arg(&json)
        .env("FKI_LOG", "warn");
    if let Some(url) = postgres_url {
        cmd.args(["--postgres-url", url]);
    }
    if let Some(url) = amqp_url {
        cmd.args(["--transport", "amqp", "--amqp-url", url]);
    }
    let started = Instant::now();
    let out = cmd.output().expect("run fki bench beskedfordeler");
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "fki bench beskedfordeler failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        took < Duration::from_secs(120),
        "the smoke benchmark took {took:?}"
    );
    assert!(stdout.contains("half rate"), "no table printed:\n{stdout}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["errors"], 0, "{doc:#}");
    assert_eq!(doc["failures"].as_array().unwrap().len(), 0, "{doc:#}");
    let path = &doc["amqp_path"];
    match amqp_url {
        None => {
            assert_eq!(doc["transport"], "http", "{doc:#}");
            assert_eq!(doc["pull"], "http", "{doc:#}");
            assert_eq!(path["measured"], false, "{doc:#}");
        }
        Some(_) => {
            // fki's AMQP afsend set against RabbitMQ's raw rate of the same shape.
            assert_eq!(doc["transport"], "amqp", "{doc:#}");
            assert_eq!(doc["pull"], "amqp", "{doc:#}");
            assert_eq!(path["measured"], true, "{doc:#}");
            let raw = path["raw_sync_confirmed_per_s"].as_f64().unwrap();
            let b = &path["backends"][0];
            assert_eq!(b["backend"], backend, "{path:#}");
            let accepted = b["accepted_per_s"].as_f64().unwrap();
            assert!(accepted > 0.0 && raw > 0.0, "{path:#}");
            let share = b["share_of_raw"].as_f64().unwrap();
            assert!((share - accepted / raw).abs() < 0.01, "{path:#}");
            // The floor: the same broker traffic with no work between, measured in this run.
            let floor = path["floor_answered_per_s"].as_f64().unwrap();
            assert!(floor > 0.0, "{path:#}");
            let of_floor = b["share_of_floor"].as_f64().unwrap();
            assert!((of_floor - accepted / floor).abs() < 0.01, "{path:#}");
        }
    }
    let amqp = &doc["amqp_publish_confirm"];
    if amqp["measured"] == true {
        for shape in [
            "sync",
            "window",
            "floor",
            "floor_one_queue",
            "floor_transient",
        ] {
            let r = &amqp["runs"][shape];
            assert!(r["confirmed_per_s"].as_f64().unwrap() > 0.0, "{amqp:#}");
            assert_eq!(r["nacked"], 0, "{amqp:#}");
        }
        // The floor forwards to as many queues as the run has amqp dueslag (6 / 2).
        let title = amqp["runs"]["floor"]["title"].as_str().unwrap();
        assert!(title.contains("3 forward queues"), "{title}");
    } else {
        assert!(amqp["skipped"].is_string(), "{amqp:#}");
    }

    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{doc:#}");
    let run = &runs[0];
    assert_eq!(run["backend"], backend);
    assert_eq!(run["errors"], 0, "{run:#}");
    assert_eq!(run["abonnementer"], 50);
    assert_eq!(run["dueslag"], 6);
    assert!(run["peak_rss_mb"].as_f64().unwrap() > 1.0, "{run:#}");
    for phase in ["max_rate", "half_rate"] {
        let p = &run[phase];
        assert_eq!(p["errors"], 0, "{phase}: {p:#}");
        assert_eq!(p["failed"], 0, "{phase}: {p:#}");
        for rate in [
            "accepted_per_s",
            "distributed_per_s",
            "delivered_per_s",
            "delivered_push_per_s",
            "delivered_pull_per_s",
            "end_to_end_msgs_per_s",
        ] {
            assert!(p[rate].as_f64().unwrap() > 0.0, "{phase} {rate}: {p:#}");
        }
        assert_eq!(p["drain"]["complete"], true, "{phase}: {p:#}");
        for kind in ["latency_push", "latency_pull"] {
            assert!(p[kind]["count"].as_u64().unwrap() > 0, "{phase}: {p:#}");
            assert!(p[kind]["p99_ms"].as_f64().unwrap() > 0.0, "{phase}: {p:#}");
        }
    }
    let half = run["half_rate"]["target_per_s"].as_f64().unwrap();
    let max = run["max_rate"]["accepted_per_s"].as_f64().unwrap();
    assert!((half - max / 2.0).abs() < 0.02 * max, "{run:#}");

    // Every accepted message reached exactly the dueslag its filters select.
    let c = &run["check"];
    assert_eq!(c["drained"], true, "{c:#}");
    assert!(c["accepted"].as_u64().unwrap() > 0, "{c:#}");
    assert_eq!(c["missing"], 0, "{c:#}");
    assert_eq!(c["unexpected"], 0, "{c:#}");
    assert_eq!(c["expected_leveringer"], c["delivered_leveringer"], "{c:#}");
    assert_eq!(
        run["server_counters_final"]["distributed"], c["expected_leveringer"],
        "{run:#}"
    );
    // Single-dueslag messages, push and pull, compared exactly.
    let examples = c["examples"].as_array().unwrap();
    for kind in ["push", "pull"] {
        let e = examples
            .iter()
            .find(|e| e["levering"] == kind)
            .unwrap_or_else(|| panic!("no {kind} example: {c:#}"));
        assert_eq!(e["expected_dueslag"].as_array().unwrap().len(), 1, "{e:#}");
        assert_eq!(e["received_dueslag"], e["expected_dueslag"], "{e:#}");
        // Each filter the bench says selects it names one of the message's values (its
        // beskedtype, a KLE prefix of its opgaveemne) or looks its CPR number up in a list.
        let filters = e["matching_filters"].as_array().unwrap();
        assert!(!filters.is_empty(), "{e:#}");
        let typ = e["beskedtype"].as_str().unwrap();
        let kle = e["opgaveemne"].as_str().unwrap();
        for f in filters {
            let f = f.as_str().unwrap();
            let names_kle = (0..=kle.len()).any(|n| {
                let prefix = &kle[..n];
                prefix.len() > "urn:oio:kle:".len() && f.contains(&format!("\"{prefix}\""))
            });
            assert!(
                f.contains(typ) || names_kle || f.contains("vaerdiliste("),
                "{f} does not select {e:#}"
            );
        }
    }
    for e in examples {
        assert_eq!(e["received_dueslag"], e["expected_dueslag"], "{e:#}");
    }
    run.clone()
}

#[test]
fn bench_beskedfordeler_sqlite_smoke() {
    bench("sqlite", None, None);
}

#[test]
fn bench_beskedfordeler_amqp_smoke() {
    let Ok(url) = std::env::var("FKI_TEST_AMQP_URL") else {
        eprintln!("skipped bench_beskedfordeler_amqp_smoke: FKI_TEST_AMQP_URL is not set");
        return;
    };
    bench("sqlite", None, Some(&url));
}

#[test]
fn bench_beskedfordeler_postgres_smoke() {
    let Ok(url) = std::env::var("FKI_TEST_POSTGRES_URL") else {
        eprintln!("skipped bench_beskedfordeler_postgres_smoke: FKI_TEST_POSTGRES_URL is not set");
        return;
    };
    bench("postgres", Some(&url), None);
}
