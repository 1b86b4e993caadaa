//! Smoke test of `fki bench oio`: a tiny organisation, one-second phases, through the built
//! binary. The PostgreSQL variant runs only when `FKI_TEST_POSTGRES_URL` is set.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

fn bench(backend: &str, postgres_url: Option<&str>) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fki"));
    cmd.args(["bench", "oio", "--backend", backend])
        .args([
            "--units",
            "300",
            "--users",
            "300",
            "--seconds",
            "1",
            "--concurrency",
            "4",
        ])
        .arg("--json")
        .arg(&json)
        .env("FKI_LOG", "warn");
    if let Some(url) = postgres_url {
        cmd.args(["--postgres-url", url]);
    }
    let started = Instant::now();
    let out = cmd.output().expect("run fki bench oio");
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "fki bench oio failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        took < Duration::from_secs(60),
        "the smoke benchmark took {took:?}"
    );
    assert!(stdout.contains("soeg c"), "no table printed:\n{stdout}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["errors"], 0, "{doc:#}");
    assert_eq!(doc["units"], 300);
    assert!(doc["cores"].as_u64().unwrap() >= 1);
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{doc:#}");
    let run = &runs[0];
    assert_eq!(run["backend"], backend);
    assert_eq!(run["errors"], 0, "{run:#}");
    assert!(run["objects_per_s"].as_f64().unwrap() > 0.0, "{run:#}");
    assert!(run["peak_rss_mb"].as_f64().unwrap() > 1.0, "{run:#}");
    for phase in ["laes", "list", "soeg_a", "soeg_b", "soeg_c"] {
        let p = &run[phase];
        assert!(p["req_per_s"].as_f64().unwrap() > 0.0, "{phase}: {p:#}");
        assert_eq!(p["errors"], 0, "{phase}: {p:#}");
        assert!(p["p99_ms"].as_f64().unwrap() > 0.0, "{phase}: {p:#}");
        if phase != "laes" {
            // Every argument comes from current data, so every answer finds something.
            assert_eq!(p["empty"], 0, "{phase}: {p:#}");
            assert!(p["items_per_s"].as_f64().unwrap() > 0.0, "{phase}: {p:#}");
        }
    }
    assert_eq!(run["list"]["mean_items"], 10.0, "{run:#}");
    run.clone()
}

#[test]
fn bench_oio_sqlite_smoke() {
    bench("sqlite", None);
}

#[test]
fn bench_oio_postgres_smoke() {
    let Ok(url) = std::env::var("FKI_TEST_POSTGRES_URL") else {
        eprintln!("skipped bench_oio_postgres_smoke: FKI_TEST_POSTGRES_URL is not set");
        return;
    };
    bench("postgres", Some(&url));
}

/// `fki bench cpr`: a small population, a one-second phase; every request answered and
/// verified (the command fails otherwise).
#[test]
fn bench_cpr_smoke() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("cpr.json");
    let out = Command::new(env!("CARGO_BIN_EXE_fki"))
        .args([
            "bench",
            "cpr",
            "--people",
            "500",
            "--seconds",
            "1",
            "--concurrency",
            "4",
        ])
        .arg("--json")
        .arg(&json)
        .env("FKI_LOG", "warn")
        .output()
        .expect("run fki bench cpr");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "fki bench cpr failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["errors"], 0, "{doc:#}");
    assert_eq!(doc["people"], 500);
    assert!(doc["req_per_s"].as_f64().unwrap() > 0.0, "{doc:#}");
}
