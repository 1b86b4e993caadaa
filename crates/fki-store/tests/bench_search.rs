//! Search latency benchmark over a realistic class of 100 000 objects (ignored by default).
//!
//! ```sh
//! cargo test -p fki-store --test bench_search -- --ignored --nocapture
//! FKI_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo test -p fki-store --test bench_search -- --ignored --nocapture
//! ```
//!
//! `FKI_BENCH_OBJECTS` changes the size (default 100 000). Each object is a `bruger` with eleven
//! facts (a unique bvn, name and addresses, a state that is `aktiv` for 90 %, and relations to one
//! of 10 organisations, 1 000 tasks, 200 units, 20 IT systems); every fifth object has a second
//! registrering, so closed facts are in the index too. Prints p50/p99/max per query shape.

// `is_multiple_of` is newer than the workspace MSRV (1.85).
#![allow(clippy::manual_is_multiple_of)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use fki_oio::model::{Data, Livscyklus, Maal, Objekt, RegistreringMeta, RelEntry, Virkning};
use fki_oio::store::{Fakt, Kriterium, Match, RegWindow, Scope, SearchQuery, Store};
use fki_oio::time::{NEG_INF, POS_INF};
use uuid::Uuid;

fn ns(kind: &str, i: usize) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{kind}-{i}").as_bytes())
}

fn f(navn: &str, vaerdi: String) -> Fakt {
    Fakt {
        navn: navn.into(),
        vaerdi,
        objekttype: None,
        sti: None,
        fra: NEG_INF,
        til: POS_INF,
    }
}

fn facts(i: usize, version: usize) -> Vec<Fakt> {
    vec![
        f("a:brugervendtnoegle", format!("bruger-{i:06}")),
        f("a:brugernavn", format!("navn {i} v{version}")),
        f("a:brugertype", format!("type{}", i % 5)),
        f(
            "s:gyldighed",
            if i % 10 == 0 {
                "inaktiv".into()
            } else {
                "aktiv".into()
            },
        ),
        f("r:tilhoerer", ns("org", i % 10).to_string()),
        f("r:opgaver", ns("opgave", i % 1000).to_string()),
        f("r:adresser", ns("adresse", 2 * i).to_string()),
        f("r:adresser", ns("adresse", 2 * i + 1).to_string()),
        f("r:tilknyttedepersoner", ns("person", i).to_string()),
        f("r:tilknyttedeenheder", ns("enhed", i % 200).to_string()),
        f("r:tilknyttedeitsystemer", ns("it", i % 20).to_string()),
    ]
}

fn data(fakta: &[Fakt]) -> Data {
    let mut d = Data::default();
    for fa in fakta.iter().filter(|fa| fa.navn.starts_with("r:")) {
        d.relationer
            .entry(fa.navn[2..].to_owned())
            .or_default()
            .push(RelEntry {
                maal: Maal::Uuid(Uuid::parse_str(&fa.vaerdi).unwrap()),
                objekttype: None,
                indeks: None,
                ekstra: Default::default(),
                virkning: Virkning::always(),
            });
    }
    d
}

async fn load(store: &Arc<dyn Store>, n: usize) {
    let t = Instant::now();
    let batch = 500;
    for start in (0..n).step_by(batch) {
        let mut tx = store.begin().await.unwrap();
        for i in start..(start + batch).min(n) {
            let o = Objekt {
                uuid: ns("bruger", i),
                klasse: "bruger".into(),
                myndighed: Some(format!("{}", 10_000_000 + i % 3)),
                faelles: false,
            };
            tx.insert_objekt(&o).await.unwrap();
            let fa = facts(i, 0);
            let m = RegistreringMeta {
                fra: 1_000,
                til: POS_INF,
                livscyklus: Livscyklus::Opstaaet,
                brugerref: None,
                note: None,
            };
            let id = tx
                .insert_registrering(&o, &m, &data(&fa), &fa)
                .await
                .unwrap();
            if i % 5 == 0 {
                tx.close_registrering(id, 2_000).await.unwrap();
                let fa = facts(i, 1);
                let m = RegistreringMeta {
                    fra: 2_000,
                    livscyklus: Livscyklus::Rettet,
                    ..m
                };
                tx.insert_registrering(&o, &m, &data(&fa), &fa)
                    .await
                    .unwrap();
            }
        }
        tx.commit().await.unwrap();
    }
    eprintln!("loaded {n} objects in {:.1?}", t.elapsed());
}

fn eq(navn: &str, v: String) -> Kriterium {
    Kriterium {
        navn: navn.into(),
        navn_prefix: false,
        vaerdi: Match::Eq(v),
        objekttype: None,
        sti_prefix: None,
    }
}

fn q(kriterier: Vec<Kriterium>) -> SearchQuery {
    SearchQuery {
        klasse: "bruger".into(),
        reg: RegWindow::Current,
        virk: (NEG_INF, POS_INF),
        uuid: None,
        livscyklus: None,
        brugerref: None,
        note: None,
        kriterier,
        scope: Scope::All,
        paging: None,
    }
}

type Shape = (&'static str, Box<dyn Fn(usize) -> SearchQuery>);

fn shapes() -> Vec<Shape> {
    let aktiv = || eq("s:gyldighed", "aktiv".into());
    vec![
        (
            "2 relations (1/10, 1/1000) + state",
            Box::new(move |r| {
                q(vec![
                    eq("r:tilhoerer", ns("org", r % 10).to_string()),
                    eq("r:opgaver", ns("opgave", r % 1000).to_string()),
                    aktiv(),
                ])
            }),
        ),
        (
            "same, paged 0..50, scoped",
            Box::new(move |r| {
                let mut s = q(vec![
                    eq("r:tilhoerer", ns("org", r % 10).to_string()),
                    eq("r:opgaver", ns("opgave", r % 1000).to_string()),
                    aktiv(),
                ]);
                s.paging = Some((0, Some(50)));
                s.scope = Scope::Myndigheder(vec!["10000000".into(), "10000001".into()]);
                s
            }),
        ),
        (
            "2 relations (1/200, 1/20) + state",
            Box::new(move |r| {
                q(vec![
                    eq("r:tilknyttedeitsystemer", ns("it", r % 20).to_string()),
                    eq("r:tilknyttedeenheder", ns("enhed", r % 200).to_string()),
                    aktiv(),
                ])
            }),
        ),
        (
            "unique relation + state, all registreringer",
            Box::new(move |r| {
                let mut s = q(vec![
                    eq("r:adresser", ns("adresse", 2 * (r % 100_000)).to_string()),
                    aktiv(),
                ]);
                s.reg = RegWindow::Range(NEG_INF, POS_INF);
                s
            }),
        ),
        (
            "bvn prefix (~100 hits) + state",
            Box::new(move |r| {
                let p = format!("bruger-{:04}", r % 1000);
                q(vec![
                    Kriterium {
                        navn: "a:brugervendtnoegle".into(),
                        navn_prefix: false,
                        vaerdi: Match::Like {
                            pattern: format!("{p}%"),
                            prefix: p,
                        },
                        objekttype: None,
                        sti_prefix: None,
                    },
                    aktiv(),
                ])
            }),
        ),
        (
            "1 relation (1/10) + state, paged 0..50 (10 000 hits)",
            Box::new(move |r| {
                let mut s = q(vec![
                    eq("r:tilhoerer", ns("org", r % 10).to_string()),
                    aktiv(),
                ]);
                s.paging = Some((0, Some(50)));
                s
            }),
        ),
    ]
}

async fn run_queries(store: Arc<dyn Store>, n: usize) {
    let iterations = 200;
    for (name, make) in shapes() {
        let mut times: Vec<Duration> = Vec::with_capacity(iterations);
        let mut found = 0;
        for i in 0..iterations {
            let query = make(i * 7919 + 13);
            let t = Instant::now();
            let hits = store.search(&query).await.unwrap();
            let took = t.elapsed();
            if took > Duration::from_millis(50) {
                eprintln!("  slow: {name} #{i} took {took:.1?}");
            }
            times.push(took);
            found += hits.len();
        }
        times.sort();
        eprintln!(
            "{:>8} {name:<55} p50 {:>8.2?} p99 {:>8.2?} max {:>8.2?} (avg hits {})",
            store.backend(),
            times[iterations / 2],
            times[iterations * 99 / 100],
            times[iterations - 1],
            found / iterations
        );
    }
    // A `list`-style read of 50 objects.
    let mut times = Vec::new();
    for r in 0..100 {
        let uuids: Vec<Uuid> = (0..50)
            .map(|k| ns("bruger", (r * 50 + k * 37) % n))
            .collect();
        let t = Instant::now();
        let h = store.read(&uuids, RegWindow::Current).await.unwrap();
        times.push(t.elapsed());
        assert_eq!(h.len(), 50);
    }
    times.sort();
    eprintln!(
        "{:>8} read 50 objects{:<41} p50 {:>8.2?} p99 {:>8.2?}",
        store.backend(),
        "",
        times[50],
        times[99]
    );
}

fn size() -> usize {
    std::env::var("FKI_BENCH_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn bench_sqlite() {
    // FKI_BENCH_DIR keeps the database between runs (loaded once) for quicker iterations.
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var("FKI_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or(tmp.path().to_owned());
    let fresh = !dir.join("fki.sqlite").exists();
    let store = fki_store::open(None, &dir).await.unwrap();
    if fresh {
        load(&store, size()).await;
    }
    run_queries(store, size()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn bench_postgres() {
    let Ok(base) = std::env::var("FKI_TEST_POSTGRES_URL") else {
        eprintln!("skipped bench_postgres: FKI_TEST_POSTGRES_URL is not set");
        return;
    };
    // FKI_BENCH_PG_DB keeps a loaded database of that name between runs (created if missing,
    // loaded once, never dropped); otherwise a fresh database is made and dropped.
    let (url, guard, keep) = match std::env::var("FKI_BENCH_PG_DB") {
        Ok(name) => {
            let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&base)
                .await
                .unwrap();
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .execute(&mut conn)
                .await;
            (url, None, true)
        }
        Err(_) => {
            let (url, guard) = fki_store::testing::fresh_postgres(&base).await.unwrap();
            (url, Some(guard), false)
        }
    };
    let pg = fki_store::PgStore::open_url(&url).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(pg.clone());
    let loaded = keep && !store.search(&q(vec![])).await.unwrap().is_empty();
    if !loaded {
        load(&store, size()).await;
    }
    // No explicit ANALYZE: the store analyzes by itself as the tables grow.
    run_queries(store, size()).await;
    pg.close().await;
    if let Some(guard) = guard {
        guard.cleanup().await.unwrap();
    }
}
