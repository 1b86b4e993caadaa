//! Store conformance suite: every body runs against SQLite (a temp file) always, and against
//! PostgreSQL when `FKI_TEST_POSTGRES_URL` is set (each test in its own fresh database, see
//! `fki_store::testing`). Without the variable the PostgreSQL variants print that they were
//! skipped and pass.

// `is_multiple_of` is newer than the workspace MSRV (1.85).
#![allow(clippy::manual_is_multiple_of)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use fki_oio::model::{
    AttrEntry, Data, Del, Livscyklus, Maal, Objekt, RegistreringMeta, RelEntry, StateEntry,
    Variant, Virkning,
};
use fki_oio::store::{
    Fakt, Kriterium, Match, NytObjekt, RegWindow, Scope, SearchQuery, Store, StoreError,
};
use fki_oio::time::{NEG_INF, POS_INF};
use fki_store::testing::{DropGuard, fresh_postgres};
use serde_json::json;
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Harness

struct Harness {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    guard: Option<DropGuard>,
}

impl Harness {
    async fn sqlite() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = fki_store::open(None, dir.path()).await.unwrap();
        assert_eq!(store.backend(), "sqlite");
        Harness {
            store,
            _dir: Some(dir),
            guard: None,
        }
    }

    async fn postgres(test: &str) -> Option<Harness> {
        let Ok(base) = std::env::var("FKI_TEST_POSTGRES_URL") else {
            eprintln!("skipped {test} on PostgreSQL: FKI_TEST_POSTGRES_URL is not set");
            return None;
        };
        let (url, guard) = fresh_postgres(&base).await.unwrap();
        let store = fki_store::open(Some(&url), std::path::Path::new("/nonexistent"))
            .await
            .unwrap();
        assert_eq!(store.backend(), "postgres");
        Some(Harness {
            store,
            _dir: None,
            guard: Some(guard),
        })
    }

    async fn finish(self) {
        drop(self.store);
        if let Some(g) = self.guard {
            g.cleanup().await.unwrap();
        }
    }
}

/// One `mod NAME { sqlite(), postgres() }` per test body `bodies::NAME`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let h = super::Harness::sqlite().await;
                super::bodies::$name(h.store.clone()).await;
                h.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(h) = super::Harness::postgres(stringify!($name)).await else { return };
                super::bodies::$name(h.store.clone()).await;
                h.finish().await;
            }
        }
    )*};
}

conformance!(
    round_trip,
    lock_unknown_is_none,
    insert_objekt_twice_conflicts,
    insert_nye_in_bulk,
    dropped_tx_rolls_back,
    close_unknown_registrering_fails,
    read_windows,
    many_facts,
    search_eq_relation,
    search_like_prefix,
    search_criteria_hold_in_one_registrering,
    search_virk_overlap,
    search_slettet,
    search_scope,
    search_navn_prefix,
    search_sti_prefix,
    search_objekttype_uuid_brugerref_note,
    search_paging,
    search_paging_large,
    search_closed_registrering,
    search_klasse_and_empty,
    concurrent_writers_serialise,
    rewrite_registrering_changes_history,
    purge_removes_everything,
    ping,
);

// ---------------------------------------------------------------------------------------------
// Builders

fn objekt(klasse: &str, myndighed: Option<&str>, faelles: bool) -> Objekt {
    Objekt {
        uuid: Uuid::new_v4(),
        klasse: klasse.into(),
        myndighed: myndighed.map(str::to_owned),
        faelles,
    }
}

fn fakt(navn: &str, vaerdi: &str) -> Fakt {
    fakt_in(navn, vaerdi, NEG_INF, POS_INF)
}

fn fakt_in(navn: &str, vaerdi: &str, fra: i64, til: i64) -> Fakt {
    Fakt {
        navn: navn.into(),
        vaerdi: vaerdi.into(),
        objekttype: None,
        sti: None,
        fra,
        til,
    }
}

fn meta(fra: i64, livscyklus: Livscyklus) -> RegistreringMeta {
    RegistreringMeta {
        fra,
        til: POS_INF,
        livscyklus,
        brugerref: None,
        note: None,
    }
}

fn eq(navn: &str, v: &str) -> Kriterium {
    Kriterium {
        navn: navn.into(),
        navn_prefix: false,
        vaerdi: Match::Eq(v.into()),
        objekttype: None,
        sti_prefix: None,
    }
}

fn like(navn: &str, pattern: &str, prefix: &str) -> Kriterium {
    Kriterium {
        navn: navn.into(),
        navn_prefix: false,
        vaerdi: Match::Like {
            pattern: pattern.into(),
            prefix: prefix.into(),
        },
        objekttype: None,
        sti_prefix: None,
    }
}

fn query(klasse: &str, kriterier: Vec<Kriterium>) -> SearchQuery {
    SearchQuery {
        klasse: klasse.into(),
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

/// A small but complete `Data`: every part of the model is present.
fn sample_data() -> Data {
    let mut d = Data::default();
    let mut felter = serde_json::Map::new();
    felter.insert("brugervendtnoegle".into(), json!("BVN-1"));
    felter.insert("antal".into(), json!(3));
    d.attributter.insert(
        "egenskaber".into(),
        vec![AttrEntry {
            felter,
            virkning: Virkning::new(10, POS_INF),
        }],
    );
    d.tilstande.insert(
        "gyldighed".into(),
        vec![StateEntry {
            vaerdi: "Aktiv".into(),
            virkning: Virkning {
                from: NEG_INF,
                to: 500,
                aktoerref: Some(Uuid::new_v4()),
                aktoertypekode: Some("Bruger".into()),
                notetekst: Some("æøå".into()),
            },
        }],
    );
    d.relationer.insert(
        "tilhoerer".into(),
        vec![RelEntry {
            maal: Maal::Uuid(Uuid::new_v4()),
            objekttype: Some("organisation".into()),
            indeks: Some(1),
            ekstra: serde_json::Map::new(),
            virkning: Virkning::always(),
        }],
    );
    d.varianter = Some(vec![Variant {
        varianttekst: "Original".into(),
        egenskaber: None,
        dele: Some(vec![Del {
            deltekst: "Hoved".into(),
            egenskaber: Some(vec![]),
            relationer: Some(BTreeMap::new()),
        }]),
    }]);
    d
}

/// Create an object with one registrering (from `fra`) holding `fakta`.
async fn create(store: &Arc<dyn Store>, o: &Objekt, fra: i64, fakta: &[Fakt]) -> i64 {
    create_with(store, o, meta(fra, Livscyklus::Opstaaet), fakta).await
}

async fn create_with(
    store: &Arc<dyn Store>,
    o: &Objekt,
    m: RegistreringMeta,
    fakta: &[Fakt],
) -> i64 {
    let mut tx = store.begin().await.unwrap();
    tx.insert_objekt(o).await.unwrap();
    let id = tx
        .insert_registrering(o, &m, &Data::default(), fakta)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

/// Append a registrering from `fra`, closing the current one, as the engine does.
async fn update(
    store: &Arc<dyn Store>,
    uuid: Uuid,
    fra: i64,
    livscyklus: Livscyklus,
    fakta: &[Fakt],
) -> i64 {
    let mut tx = store.begin().await.unwrap();
    let (o, cur) = tx.lock(uuid).await.unwrap().expect("object exists");
    let cur = cur.expect("has a current registrering");
    tx.close_registrering(cur.id, fra).await.unwrap();
    let id = tx
        .insert_registrering(&o, &meta(fra, livscyklus), &Data::default(), fakta)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn hits(store: &Arc<dyn Store>, q: &SearchQuery) -> BTreeSet<Uuid> {
    store.search(q).await.unwrap().into_iter().collect()
}

fn set(us: &[Uuid]) -> BTreeSet<Uuid> {
    us.iter().copied().collect()
}

// ---------------------------------------------------------------------------------------------
// Bodies

mod bodies {
    use super::*;

    pub async fn round_trip(store: Arc<dyn Store>) {
        let o = objekt("organisation", Some("12345678"), false);
        let data = sample_data();
        let m = RegistreringMeta {
            fra: 1_600_000_000_000_000,
            til: POS_INF,
            livscyklus: Livscyklus::Importeret,
            brugerref: Some(Uuid::new_v4()),
            note: Some("Første note".into()),
        };
        let mut tx = store.begin().await.unwrap();
        tx.insert_objekt(&o).await.unwrap();
        let id = tx
            .insert_registrering(&o, &m, &data, &[fakt("a:brugervendtnoegle", "bvn-1")])
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let (lo, cur) = tx.lock(o.uuid).await.unwrap().unwrap();
        assert_eq!(lo, o);
        let cur = cur.unwrap();
        assert_eq!(cur.id, id);
        assert_eq!(cur.meta, m);
        assert_eq!(cur.data, data);
        drop(tx);

        let h = store.read(&[o.uuid], RegWindow::Current).await.unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].objekt, o);
        assert_eq!(h[0].registreringer.len(), 1);
        assert_eq!(h[0].registreringer[0].data, data);
        assert_eq!(h[0].registreringer[0].meta, m);

        // A faelles object without myndighed round-trips too.
        let f = objekt("organisation", None, true);
        create(&store, &f, 5, &[]).await;
        let h = store.read(&[f.uuid], RegWindow::Current).await.unwrap();
        assert_eq!(h[0].objekt, f);
        assert_eq!(h[0].registreringer[0].data, Data::default());
    }

    pub async fn lock_unknown_is_none(store: Arc<dyn Store>) {
        let mut tx = store.begin().await.unwrap();
        assert!(tx.lock(Uuid::new_v4()).await.unwrap().is_none());
        tx.commit().await.unwrap();
        // An object row without registrering: locked, no current registrering.
        let o = objekt("bruger", None, false);
        let mut tx = store.begin().await.unwrap();
        tx.insert_objekt(&o).await.unwrap();
        let (lo, cur) = tx.lock(o.uuid).await.unwrap().unwrap();
        assert_eq!(lo, o);
        assert!(cur.is_none());
    }

    pub async fn insert_objekt_twice_conflicts(store: Arc<dyn Store>) {
        let o = objekt("bruger", Some("1"), false);
        create(&store, &o, 1, &[]).await;
        let mut tx = store.begin().await.unwrap();
        let err = tx.insert_objekt(&o).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        drop(tx);
        // Twice in the same transaction.
        let p = objekt("bruger", Some("1"), false);
        let mut tx = store.begin().await.unwrap();
        tx.insert_objekt(&p).await.unwrap();
        let err = tx.insert_objekt(&p).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        tx.commit().await.unwrap();
        assert_eq!(
            store
                .read(&[p.uuid], RegWindow::Current)
                .await
                .unwrap()
                .len(),
            1
        );
    }

    /// A bulk insert of new objects (more than one statement's worth of objects and facts)
    /// reads and searches as objects written one by one do; a UUID that exists is a
    /// conflict.
    pub async fn insert_nye_in_bulk(store: Arc<dyn Store>) {
        let data = sample_data();
        let nye: Vec<NytObjekt> = (0..2_500)
            .map(|i| NytObjekt {
                objekt: objekt("bruger", Some("12345678"), false),
                meta: RegistreringMeta {
                    fra: 1_000 + i,
                    til: POS_INF,
                    livscyklus: Livscyklus::Importeret,
                    brugerref: None,
                    note: (i % 2 == 0).then(|| format!("n{i}")),
                },
                data: if i % 100 == 0 {
                    data.clone()
                } else {
                    Data::default()
                },
                // 0 to 2 facts each (2,500 in all): objects without facts are fine too.
                fakta: (0..i % 3)
                    .map(|j| fakt("a:brugervendtnoegle", &format!("bvn-{i}-{j}")))
                    .collect(),
            })
            .collect();
        let mut tx = store.begin().await.unwrap();
        tx.insert_nye(&nye).await.unwrap();
        tx.commit().await.unwrap();
        let uuids: Vec<Uuid> = nye.iter().map(|n| n.objekt.uuid).collect();
        let h = store.read(&uuids, RegWindow::Current).await.unwrap();
        assert_eq!(h.len(), nye.len());
        for n in &nye {
            let h = h.iter().find(|h| h.objekt.uuid == n.objekt.uuid).unwrap();
            assert_eq!(h.objekt, n.objekt);
            assert_eq!(h.registreringer.len(), 1);
            assert_eq!(h.registreringer[0].meta, n.meta);
            assert_eq!(h.registreringer[0].data, n.data);
        }
        // Each fact found its own registrering.
        for i in [1usize, 2, 1_001, 2_498] {
            let j = i % 3 - 1;
            assert_eq!(
                hits(
                    &store,
                    &query(
                        "bruger",
                        vec![eq("a:brugervendtnoegle", &format!("bvn-{i}-{j}"))]
                    )
                )
                .await,
                set(&[uuids[i]]),
                "{i}"
            );
        }
        // One UUID that exists among new ones: a conflict.
        let mut igen = vec![nye[7].clone()];
        igen[0].objekt.uuid = Uuid::new_v4();
        igen.push(nye[3].clone());
        let mut tx = store.begin().await.unwrap();
        let err = tx.insert_nye(&igen).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        drop(tx);
        assert!(
            store
                .read(&[igen[0].objekt.uuid], RegWindow::Current)
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub async fn dropped_tx_rolls_back(store: Arc<dyn Store>) {
        let o = objekt("bruger", None, false);
        {
            let mut tx = store.begin().await.unwrap();
            tx.insert_objekt(&o).await.unwrap();
            tx.insert_registrering(
                &o,
                &meta(1, Livscyklus::Opstaaet),
                &Data::default(),
                &[fakt("s:x", "y")],
            )
            .await
            .unwrap();
            // dropped here without commit
        }
        assert!(
            store
                .read(&[o.uuid], RegWindow::Current)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .search(&query("bruger", vec![eq("s:x", "y")]))
                .await
                .unwrap()
                .is_empty()
        );
        // The writer is free again and the UUID can be created.
        let mut tx = store.begin().await.unwrap();
        assert!(tx.lock(o.uuid).await.unwrap().is_none());
        tx.insert_objekt(&o).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            store
                .read(&[o.uuid], RegWindow::Current)
                .await
                .unwrap()
                .len(),
            1
        );

        // A dropped update leaves the previous registrering current.
        let p = objekt("bruger", None, false);
        let first = create(&store, &p, 10, &[fakt("s:x", "a")]).await;
        {
            let mut tx = store.begin().await.unwrap();
            let (po, cur) = tx.lock(p.uuid).await.unwrap().unwrap();
            tx.close_registrering(cur.unwrap().id, 20).await.unwrap();
            tx.insert_registrering(&po, &meta(20, Livscyklus::Rettet), &Data::default(), &[])
                .await
                .unwrap();
        }
        let h = store.read(&[p.uuid], RegWindow::Current).await.unwrap();
        assert_eq!(h[0].registreringer.len(), 1);
        assert_eq!(h[0].registreringer[0].id, first);
        assert_eq!(h[0].registreringer[0].meta.til, POS_INF);
    }

    pub async fn close_unknown_registrering_fails(store: Arc<dyn Store>) {
        let mut tx = store.begin().await.unwrap();
        assert!(tx.close_registrering(987_654, 5).await.is_err());
    }

    pub async fn read_windows(store: Arc<dyn Store>) {
        let a = objekt("klasse", None, false);
        let b = objekt("klasse", None, false);
        let a1 = create(&store, &a, 100, &[]).await;
        let a2 = update(&store, a.uuid, 200, Livscyklus::Rettet, &[]).await;
        let a3 = update(&store, a.uuid, 300, Livscyklus::Passiveret, &[]).await;
        let b1 = create(&store, &b, 150, &[]).await;

        let ids = |h: &fki_oio::store::Historik| {
            h.registreringer.iter().map(|r| r.id).collect::<Vec<_>>()
        };

        let cur = store.read(&[a.uuid], RegWindow::Current).await.unwrap();
        assert_eq!(ids(&cur[0]), vec![a3]);
        assert_eq!(
            cur[0].registreringer[0].meta.livscyklus,
            Livscyklus::Passiveret
        );

        let all = store
            .read(&[a.uuid], RegWindow::Range(NEG_INF, POS_INF))
            .await
            .unwrap();
        assert_eq!(ids(&all[0]), vec![a3, a2, a1]);
        let r = &all[0].registreringer;
        assert_eq!((r[2].meta.fra, r[2].meta.til), (100, 200));
        assert_eq!((r[1].meta.fra, r[1].meta.til), (200, 300));
        assert_eq!((r[0].meta.fra, r[0].meta.til), (300, POS_INF));

        // [150, 250) overlaps the first two; bounds are half-open.
        let mid = store
            .read(&[a.uuid], RegWindow::Range(150, 250))
            .await
            .unwrap();
        assert_eq!(ids(&mid[0]), vec![a2, a1]);
        let edge = store
            .read(&[a.uuid], RegWindow::Range(200, 300))
            .await
            .unwrap();
        assert_eq!(ids(&edge[0]), vec![a2]);
        // Before the object existed: the object comes back with no registrering.
        let before = store
            .read(&[a.uuid], RegWindow::Range(0, 100))
            .await
            .unwrap();
        assert_eq!(before.len(), 1);
        assert!(before[0].registreringer.is_empty());

        // Input order, unknown UUIDs left out.
        let unknown = Uuid::new_v4();
        let h = store
            .read(&[b.uuid, unknown, a.uuid], RegWindow::Current)
            .await
            .unwrap();
        assert_eq!(
            h.iter().map(|h| h.objekt.uuid).collect::<Vec<_>>(),
            vec![b.uuid, a.uuid]
        );
        assert_eq!(ids(&h[0]), vec![b1]);
        assert_eq!(ids(&h[1]), vec![a3]);
        let h = store
            .read(&[a.uuid, b.uuid], RegWindow::Current)
            .await
            .unwrap();
        assert_eq!(
            h.iter().map(|h| h.objekt.uuid).collect::<Vec<_>>(),
            vec![a.uuid, b.uuid]
        );
        assert!(
            store
                .read(&[], RegWindow::Current)
                .await
                .unwrap()
                .is_empty()
        );

        // Many UUIDs (more than one IN chunk), in input order.
        let mut many = Vec::new();
        for i in 0..600 {
            if i % 100 == 0 {
                many.push(a.uuid);
            } else {
                many.push(Uuid::new_v4());
            }
        }
        many.push(b.uuid);
        let h = store.read(&many, RegWindow::Current).await.unwrap();
        assert_eq!(h.len(), 7);
        assert!(
            h[..6]
                .iter()
                .all(|h| h.objekt.uuid == a.uuid && ids(h) == vec![a3])
        );
        assert_eq!(h[6].objekt.uuid, b.uuid);
    }

    pub async fn many_facts(store: Arc<dyn Store>) {
        let o = objekt("sag", None, false);
        let fakta: Vec<Fakt> = (0..700)
            .map(|i| fakt("a:soegeord", &format!("ord{i:04}")))
            .collect();
        create(&store, &o, 1, &fakta).await;
        for v in ["ord0000", "ord0255", "ord0256", "ord0699"] {
            assert_eq!(
                hits(&store, &query("sag", vec![eq("a:soegeord", v)])).await,
                set(&[o.uuid]),
                "{v}"
            );
        }
        assert!(
            hits(&store, &query("sag", vec![eq("a:soegeord", "ord0700")]))
                .await
                .is_empty()
        );
    }

    pub async fn search_eq_relation(store: Arc<dyn Store>) {
        let org = Uuid::new_v4().to_string();
        let a = objekt("bruger", None, false);
        let b = objekt("bruger", None, false);
        let c = objekt("enhed", None, false);
        create(
            &store,
            &a,
            1,
            &[fakt("r:tilhoerer", &org), fakt("s:gyldighed", "aktiv")],
        )
        .await;
        create(&store, &b, 1, &[fakt("r:tilhoerer", "urn:andet")]).await;
        create(&store, &c, 1, &[fakt("r:tilhoerer", &org)]).await;
        assert_eq!(
            hits(&store, &query("bruger", vec![eq("r:tilhoerer", &org)])).await,
            set(&[a.uuid])
        );
        assert_eq!(
            hits(&store, &query("enhed", vec![eq("r:tilhoerer", &org)])).await,
            set(&[c.uuid])
        );
        assert_eq!(
            hits(
                &store,
                &query("bruger", vec![eq("r:tilhoerer", "urn:andet")])
            )
            .await,
            set(&[b.uuid])
        );
        // Another relation name does not match.
        assert!(
            hits(&store, &query("bruger", vec![eq("r:adresser", &org)]))
                .await
                .is_empty()
        );
        // No criteria: all current objects of the class.
        assert_eq!(
            hits(&store, &query("bruger", vec![])).await,
            set(&[a.uuid, b.uuid])
        );
        // Results are distinct even when several facts match.
        let d = objekt("bruger", None, false);
        create(
            &store,
            &d,
            1,
            &[
                fakt("r:tilhoerer", &org),
                fakt_in("r:tilhoerer", &org, 0, 10),
            ],
        )
        .await;
        let r = store
            .search(&query("bruger", vec![eq("r:tilhoerer", &org)]))
            .await
            .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(set(&r), set(&[a.uuid, d.uuid]));
    }

    pub async fn search_like_prefix(store: Arc<dyn Store>) {
        let a = objekt("klasse", None, false);
        let b = objekt("klasse", None, false);
        let c = objekt("klasse", None, false);
        let d = objekt("klasse", None, false);
        create(&store, &a, 1, &[fakt("a:titel", "abc")]).await;
        create(&store, &b, 1, &[fakt("a:titel", "abd")]).await;
        create(&store, &c, 1, &[fakt("a:titel", "xbc")]).await;
        create(&store, &d, 1, &[fakt("a:titel", "a_c%x")]).await;
        let s = |p: &str, pre: &str| query("klasse", vec![like("a:titel", p, pre)]);
        assert_eq!(hits(&store, &s("ab%", "ab")).await, set(&[a.uuid, b.uuid]));
        assert_eq!(hits(&store, &s("%bc", "")).await, set(&[a.uuid, c.uuid]));
        assert_eq!(hits(&store, &s("a_c%", "a")).await, set(&[a.uuid, d.uuid]));
        // Escaped wildcards are literal.
        assert_eq!(hits(&store, &s(r"a\_c\%%", "a_c%")).await, set(&[d.uuid]));
        // LIKE is case-sensitive on both backends (values are lower-cased by the engine).
        assert!(hits(&store, &s("AB%", "AB")).await.is_empty());
        // A prefix that is the whole value, and one with nothing after it.
        assert_eq!(hits(&store, &s("abc", "abc")).await, set(&[a.uuid]));
        assert!(hits(&store, &s("abcd%", "abcd")).await.is_empty());
        // Non-ASCII prefixes.
        let e = objekt("klasse", None, false);
        create(&store, &e, 1, &[fakt("a:titel", "æble ø")]).await;
        assert_eq!(hits(&store, &s("æb%", "æb")).await, set(&[e.uuid]));
        assert_eq!(hits(&store, &s("%ø", "")).await, set(&[e.uuid]));
    }

    pub async fn search_criteria_hold_in_one_registrering(store: Arc<dyn Store>) {
        let a = objekt("klasse", None, false);
        let b = objekt("klasse", None, false);
        // a: first registrering has the relation, the second has the state.
        create(&store, &a, 100, &[fakt("r:x", "1"), fakt("s:y", "inaktiv")]).await;
        update(
            &store,
            a.uuid,
            200,
            Livscyklus::Rettet,
            &[fakt("r:x", "2"), fakt("s:y", "aktiv")],
        )
        .await;
        // b: both in one registrering.
        create(&store, &b, 100, &[fakt("r:x", "1"), fakt("s:y", "aktiv")]).await;
        let mut q = query("klasse", vec![eq("r:x", "1"), eq("s:y", "aktiv")]);
        q.reg = RegWindow::Range(NEG_INF, POS_INF);
        assert_eq!(hits(&store, &q).await, set(&[b.uuid]));
        q.reg = RegWindow::Current;
        assert_eq!(hits(&store, &q).await, set(&[b.uuid]));
        // Two criteria on the same fact name must each be satisfied.
        let c = objekt("klasse", None, false);
        create(&store, &c, 100, &[fakt("a:ord", "en"), fakt("a:ord", "to")]).await;
        let q = query("klasse", vec![eq("a:ord", "en"), eq("a:ord", "to")]);
        assert_eq!(hits(&store, &q).await, set(&[c.uuid]));
        let q = query("klasse", vec![eq("a:ord", "en"), eq("a:ord", "tre")]);
        assert!(hits(&store, &q).await.is_empty());
        // Three criteria with a Like among them.
        let q = query(
            "klasse",
            vec![like("a:ord", "t%", "t"), eq("a:ord", "en"), eq("r:x", "2")],
        );
        assert!(hits(&store, &q).await.is_empty());
        let q = query("klasse", vec![like("a:ord", "t%", "t"), eq("a:ord", "en")]);
        assert_eq!(hits(&store, &q).await, set(&[c.uuid]));
    }

    pub async fn search_virk_overlap(store: Arc<dyn Store>) {
        let a = objekt("klasse", None, false);
        create(
            &store,
            &a,
            1,
            &[
                fakt_in("s:y", "aktiv", 100, 200),
                fakt_in("s:y", "inaktiv", 200, POS_INF),
            ],
        )
        .await;
        let s = |v: &str, fra: i64, til: i64| {
            let mut q = query("klasse", vec![eq("s:y", v)]);
            q.virk = (fra, til);
            q
        };
        assert_eq!(hits(&store, &s("aktiv", 150, 160)).await, set(&[a.uuid]));
        assert_eq!(hits(&store, &s("aktiv", 199, 200)).await, set(&[a.uuid]));
        assert_eq!(hits(&store, &s("aktiv", 0, 101)).await, set(&[a.uuid]));
        assert!(hits(&store, &s("aktiv", 200, 300)).await.is_empty());
        assert!(hits(&store, &s("aktiv", 0, 100)).await.is_empty());
        assert_eq!(
            hits(&store, &s("inaktiv", 250, POS_INF)).await,
            set(&[a.uuid])
        );
        assert!(hits(&store, &s("inaktiv", NEG_INF, 200)).await.is_empty());
        // Both criteria may hold in different periods of the window.
        let mut q = query("klasse", vec![eq("s:y", "aktiv"), eq("s:y", "inaktiv")]);
        q.virk = (150, 250);
        assert_eq!(hits(&store, &q).await, set(&[a.uuid]));
        q.virk = (150, 160);
        assert!(hits(&store, &q).await.is_empty());
    }

    pub async fn search_slettet(store: Arc<dyn Store>) {
        let a = objekt("klasse", None, false);
        let b = objekt("klasse", None, false);
        create(&store, &a, 1, &[fakt("s:y", "aktiv")]).await;
        create(&store, &b, 1, &[fakt("s:y", "aktiv")]).await;
        update(
            &store,
            b.uuid,
            2,
            Livscyklus::Slettet,
            &[fakt("s:y", "aktiv")],
        )
        .await;
        let mut q = query("klasse", vec![eq("s:y", "aktiv")]);
        assert_eq!(hits(&store, &q).await, set(&[a.uuid]));
        q.livscyklus = Some(Livscyklus::Slettet);
        assert_eq!(hits(&store, &q).await, set(&[b.uuid]));
        q.livscyklus = Some(Livscyklus::Opstaaet);
        assert_eq!(hits(&store, &q).await, set(&[a.uuid]));
        // Over all registreringer b's earlier, non-deleted one matches.
        q.livscyklus = None;
        q.reg = RegWindow::Range(NEG_INF, POS_INF);
        assert_eq!(hits(&store, &q).await, set(&[a.uuid, b.uuid]));
        // Without criteria too.
        let q = query("klasse", vec![]);
        assert_eq!(hits(&store, &q).await, set(&[a.uuid]));
    }

    pub async fn search_scope(store: Arc<dyn Store>) {
        let m1 = objekt("klasse", Some("11111111"), false);
        let m2 = objekt("klasse", Some("22222222"), false);
        let f3 = objekt("klasse", Some("33333333"), true);
        let none = objekt("klasse", None, false);
        for o in [&m1, &m2, &f3, &none] {
            create(&store, o, 1, &[fakt("s:y", "aktiv")]).await;
        }
        for kr in [vec![eq("s:y", "aktiv")], vec![]] {
            let mut q = query("klasse", kr);
            assert_eq!(
                hits(&store, &q).await,
                set(&[m1.uuid, m2.uuid, f3.uuid, none.uuid])
            );
            q.scope = Scope::Myndigheder(vec!["11111111".into()]);
            assert_eq!(hits(&store, &q).await, set(&[m1.uuid, f3.uuid]));
            q.scope = Scope::Myndigheder(vec!["11111111".into(), "22222222".into()]);
            assert_eq!(hits(&store, &q).await, set(&[m1.uuid, m2.uuid, f3.uuid]));
            q.scope = Scope::Myndigheder(vec![]);
            assert_eq!(hits(&store, &q).await, set(&[f3.uuid]));
            q.scope = Scope::Myndigheder(vec!["99999999".into()]);
            assert_eq!(hits(&store, &q).await, set(&[f3.uuid]));
        }
    }

    pub async fn search_navn_prefix(store: Arc<dyn Store>) {
        let target = Uuid::new_v4().to_string();
        let a = objekt("klasse", None, false);
        let b = objekt("klasse", None, false);
        let c = objekt("klasse", None, false);
        create(&store, &a, 1, &[fakt("r:tilhoerer", &target)]).await;
        create(
            &store,
            &b,
            1,
            &[fakt("r:adresser", &target), fakt("a:titel", "hej verden")],
        )
        .await;
        // An attribute with the same value is not a relation.
        create(&store, &c, 1, &[fakt("a:titel", &target)]).await;
        let pre = |navn: &str, m: Match| Kriterium {
            navn: navn.into(),
            navn_prefix: true,
            vaerdi: m,
            objekttype: None,
            sti_prefix: None,
        };
        let q = query("klasse", vec![pre("r:", Match::Eq(target.clone()))]);
        assert_eq!(hits(&store, &q).await, set(&[a.uuid, b.uuid]));
        let q = query("klasse", vec![pre("a:", Match::Eq(target.clone()))]);
        assert_eq!(hits(&store, &q).await, set(&[c.uuid]));
        let q = query(
            "klasse",
            vec![pre(
                "a:",
                Match::Like {
                    pattern: "hej%".into(),
                    prefix: "hej".into(),
                },
            )],
        );
        assert_eq!(hits(&store, &q).await, set(&[b.uuid]));
        // Combined with an exact criterion.
        let q = query(
            "klasse",
            vec![
                pre("r:", Match::Eq(target.clone())),
                like("a:titel", "%verden", ""),
            ],
        );
        assert_eq!(hits(&store, &q).await, set(&[b.uuid]));
        // `_` in a navn prefix is literal, not a wildcard.
        let q = query("klasse", vec![pre("r_", Match::Eq(target.clone()))]);
        assert!(hits(&store, &q).await.is_empty());
    }

    pub async fn search_sti_prefix(store: Arc<dyn Store>) {
        let doc = Uuid::new_v4().to_string();
        let sep = fki_oio::fakta::STI_SEP;
        let a = objekt("dokument", None, false);
        let b = objekt("dokument", None, false);
        let with_sti = |navn: &str, v: &str, sti: String| Fakt {
            navn: navn.into(),
            vaerdi: v.into(),
            objekttype: None,
            sti: Some(sti),
            fra: NEG_INF,
            til: POS_INF,
        };
        create(
            &store,
            &a,
            1,
            &[with_sti(
                "r:underredigeringaf",
                &doc,
                format!("Original{sep}Hoved"),
            )],
        )
        .await;
        create(
            &store,
            &b,
            1,
            &[with_sti(
                "r:underredigeringaf",
                &doc,
                format!("100%{sep}Bilag"),
            )],
        )
        .await;
        let k = |sti: &str| Kriterium {
            navn: "r:underredigeringaf".into(),
            navn_prefix: false,
            vaerdi: Match::Eq(doc.clone()),
            objekttype: None,
            sti_prefix: Some(sti.into()),
        };
        assert_eq!(
            hits(&store, &query("dokument", vec![k("Original")])).await,
            set(&[a.uuid])
        );
        assert_eq!(
            hits(
                &store,
                &query("dokument", vec![k(&format!("Original{sep}Hoved"))])
            )
            .await,
            set(&[a.uuid])
        );
        assert!(
            hits(
                &store,
                &query("dokument", vec![k(&format!("Original{sep}Bilag"))])
            )
            .await
            .is_empty()
        );
        // `%` in a variant name is literal; sti matching is case-sensitive.
        assert_eq!(
            hits(&store, &query("dokument", vec![k("100%")])).await,
            set(&[b.uuid])
        );
        assert!(
            hits(&store, &query("dokument", vec![k("1%")]))
                .await
                .is_empty()
        );
        assert!(
            hits(&store, &query("dokument", vec![k("original")]))
                .await
                .is_empty()
        );
        assert_eq!(
            hits(&store, &query("dokument", vec![k("")])).await,
            set(&[a.uuid, b.uuid])
        );
    }

    pub async fn search_objekttype_uuid_brugerref_note(store: Arc<dyn Store>) {
        let target = Uuid::new_v4().to_string();
        let bruger = Uuid::new_v4();
        let a = objekt("klasse", None, false);
        let b = objekt("klasse", None, false);
        let mut fa = fakt("r:ansvarlig", &target);
        fa.objekttype = Some("organisationenhed".into());
        let mut fb = fakt("r:ansvarlig", &target);
        fb.objekttype = Some("bruger".into());
        let mut ma = meta(1, Livscyklus::Opstaaet);
        ma.brugerref = Some(bruger);
        ma.note = Some("Oprettet af IMPORT_1 100%".into());
        create_with(&store, &a, ma, &[fa]).await;
        create(&store, &b, 1, &[fb]).await;

        let mut k = eq("r:ansvarlig", &target);
        k.objekttype = Some("bruger".into());
        assert_eq!(
            hits(&store, &query("klasse", vec![k.clone()])).await,
            set(&[b.uuid])
        );
        k.objekttype = Some("organisationenhed".into());
        assert_eq!(
            hits(&store, &query("klasse", vec![k])).await,
            set(&[a.uuid])
        );

        let mut q = query("klasse", vec![eq("r:ansvarlig", &target)]);
        q.uuid = Some(b.uuid);
        assert_eq!(hits(&store, &q).await, set(&[b.uuid]));
        q.uuid = Some(Uuid::new_v4());
        assert!(hits(&store, &q).await.is_empty());

        let mut q = query("klasse", vec![]);
        q.brugerref = Some(bruger);
        assert_eq!(hits(&store, &q).await, set(&[a.uuid]));
        q.brugerref = Some(Uuid::new_v4());
        assert!(hits(&store, &q).await.is_empty());

        let mut q = query("klasse", vec![]);
        q.note = Some("%import%".into());
        assert_eq!(hits(&store, &q).await, set(&[a.uuid]));
        q.note = Some(r"%import\_1 100\%".into());
        assert_eq!(hits(&store, &q).await, set(&[a.uuid]));
        q.note = Some(r"%import\_1 10\%".into());
        assert!(hits(&store, &q).await.is_empty());
        q.note = Some("%IMPORT%".into());
        assert!(
            hits(&store, &q).await.is_empty(),
            "the pattern is matched against the lower-cased note"
        );
    }

    pub async fn search_paging(store: Arc<dyn Store>) {
        let mut objs: Vec<(String, Uuid)> = Vec::new();
        for bvn in ["c", "a", "b", "a", "d"] {
            let o = objekt("klasse", None, false);
            create(
                &store,
                &o,
                1,
                &[fakt("a:brugervendtnoegle", bvn), fakt("s:y", "aktiv")],
            )
            .await;
            objs.push((bvn.to_owned(), o.uuid));
        }
        // Without a bvn: drops out of paged results.
        let nobvn = objekt("klasse", None, false);
        create(&store, &nobvn, 1, &[fakt("s:y", "aktiv")]).await;
        // A bvn only in another period: the smallest one overlapping the window counts.
        let two = objekt("klasse", None, false);
        create(
            &store,
            &two,
            1,
            &[
                fakt_in("a:brugervendtnoegle", "0", 0, 100),
                fakt_in("a:brugervendtnoegle", "bb", 100, POS_INF),
                fakt("s:y", "aktiv"),
            ],
        )
        .await;
        objs.push(("bb".into(), two.uuid));
        objs.sort();
        let expected: Vec<Uuid> = objs.iter().map(|(_, u)| *u).collect();

        let mut q = query("klasse", vec![eq("s:y", "aktiv")]);
        q.virk = (200, 300);
        q.paging = Some((0, None));
        assert_eq!(store.search(&q).await.unwrap(), expected);
        q.paging = Some((1, Some(3)));
        assert_eq!(store.search(&q).await.unwrap(), expected[1..4].to_vec());
        q.paging = Some((4, Some(100)));
        assert_eq!(store.search(&q).await.unwrap(), expected[4..].to_vec());
        q.paging = Some((100, None));
        assert!(store.search(&q).await.unwrap().is_empty());
        q.paging = Some((0, Some(0)));
        assert!(store.search(&q).await.unwrap().is_empty());
        // Without criteria, same order.
        let mut q = query("klasse", vec![]);
        q.virk = (200, 300);
        q.paging = Some((0, Some(2)));
        assert_eq!(store.search(&q).await.unwrap(), expected[..2].to_vec());
        // In a window where `two` has bvn "0", it sorts first.
        q.virk = (0, 50);
        q.paging = Some((0, Some(1)));
        assert_eq!(store.search(&q).await.unwrap(), vec![two.uuid]);
    }

    /// Pages of a large, unselective search (walked in key order by the store) equal the slices
    /// of the full ordered result, including ties on the key, objects with several keys and a
    /// walk that gives up and falls back to the aggregate.
    pub async fn search_paging_large(store: Arc<dyn Store>) {
        let org = Uuid::new_v4().to_string();
        let n = 4000;
        let mut uuids = Vec::new();
        for start in (0..n).step_by(500) {
            let mut tx = store.begin().await.unwrap();
            for i in start..start + 500 {
                let o = objekt("klasse", Some(if i % 2 == 0 { "1" } else { "2" }), false);
                let mut fa = vec![
                    fakt("a:brugervendtnoegle", &format!("k{:05}", i / 2)),
                    fakt("r:tilhoerer", &org),
                    fakt("s:y", if i % 3 == 0 { "inaktiv" } else { "aktiv" }),
                    fakt(
                        "a:navn",
                        &if i >= n - 3 {
                            format!("n{i}zz")
                        } else {
                            format!("n{i}")
                        },
                    ),
                ];
                if i % 7 == 0 {
                    // A second key in another period: the smallest one in the window counts.
                    fa.push(fakt_in("a:brugervendtnoegle", &format!("j{i:05}"), 0, 100));
                }
                tx.insert_objekt(&o).await.unwrap();
                let id = tx
                    .insert_registrering(&o, &meta(1, Livscyklus::Opstaaet), &Data::default(), &fa)
                    .await
                    .unwrap();
                if i % 50 == 0 {
                    // A newer registrering with a key that sorts first.
                    tx.close_registrering(id, 10).await.unwrap();
                    fa[0] = fakt("a:brugervendtnoegle", &format!("a{i:05}"));
                    tx.insert_registrering(
                        &o,
                        &meta(10, Livscyklus::Rettet),
                        &Data::default(),
                        &fa,
                    )
                    .await
                    .unwrap();
                }
                uuids.push(o.uuid);
            }
            tx.commit().await.unwrap();
        }
        let rel = || eq("r:tilhoerer", &org);
        let mut cases: Vec<SearchQuery> = vec![
            query("klasse", vec![rel(), eq("s:y", "aktiv")]),
            query("klasse", vec![rel(), like("a:navn", "%zz", "")]),
            query("klasse", vec![]),
        ];
        let mut scoped = query("klasse", vec![rel()]);
        scoped.scope = Scope::Myndigheder(vec!["2".into()]);
        cases.push(scoped);
        let mut all_regs = query("klasse", vec![rel(), eq("s:y", "aktiv")]);
        all_regs.reg = RegWindow::Range(NEG_INF, POS_INF);
        cases.push(all_regs);
        let mut early = query("klasse", vec![rel()]);
        early.virk = (0, 50);
        cases.push(early);
        for (c, q) in cases.iter().enumerate() {
            let mut full = q.clone();
            full.paging = Some((0, None));
            let full = store.search(&full).await.unwrap();
            assert_eq!(full.len(), set(&full).len(), "case {c}: duplicates");
            for (offset, limit) in [
                (0usize, 10usize),
                (37, 50),
                (500, 500),
                (0, 1000),
                (3990, 10),
            ] {
                let mut p = q.clone();
                p.paging = Some((offset as u64, Some(limit as u64)));
                let page = store.search(&p).await.unwrap();
                let lo = offset.min(full.len());
                let hi = (offset + limit).min(full.len());
                assert_eq!(
                    page,
                    full[lo..hi].to_vec(),
                    "case {c}, page {offset}+{limit}"
                );
            }
        }
        // Spot checks of the order itself.
        let mut p = query("klasse", vec![rel(), like("a:navn", "%zz", "")]);
        p.paging = Some((0, Some(10)));
        // Keys k01998, k01999, k01999: the tie goes by UUID.
        let mut expected = vec![uuids[n - 3]];
        let mut tied = vec![uuids[n - 2], uuids[n - 1]];
        tied.sort();
        expected.extend(tied);
        assert_eq!(store.search(&p).await.unwrap(), expected);
        let mut p = query("klasse", vec![]);
        p.paging = Some((0, Some(2)));
        assert_eq!(store.search(&p).await.unwrap(), vec![uuids[0], uuids[50]]);
    }

    pub async fn search_closed_registrering(store: Arc<dyn Store>) {
        let a = objekt("klasse", None, false);
        create(&store, &a, 100, &[fakt("r:x", "1")]).await;
        update(&store, a.uuid, 200, Livscyklus::Rettet, &[fakt("r:x", "2")]).await;
        let s = |v: &str, reg: RegWindow| {
            let mut q = query("klasse", vec![eq("r:x", v)]);
            q.reg = reg;
            q
        };
        assert!(hits(&store, &s("1", RegWindow::Current)).await.is_empty());
        assert_eq!(
            hits(&store, &s("1", RegWindow::Range(150, 160))).await,
            set(&[a.uuid])
        );
        assert_eq!(
            hits(&store, &s("1", RegWindow::Range(NEG_INF, POS_INF))).await,
            set(&[a.uuid])
        );
        assert!(
            hits(&store, &s("1", RegWindow::Range(200, 260)))
                .await
                .is_empty()
        );
        assert!(
            hits(&store, &s("1", RegWindow::Range(0, 100)))
                .await
                .is_empty()
        );
        assert_eq!(
            hits(&store, &s("2", RegWindow::Current)).await,
            set(&[a.uuid])
        );
        assert!(
            hits(&store, &s("2", RegWindow::Range(150, 160)))
                .await
                .is_empty()
        );
        // A paged search over a range.
        let mut q = query("klasse", vec![]);
        q.reg = RegWindow::Range(150, 160);
        assert_eq!(hits(&store, &q).await, set(&[a.uuid]));
        q.reg = RegWindow::Range(0, 50);
        assert!(hits(&store, &q).await.is_empty());
    }

    pub async fn search_klasse_and_empty(store: Arc<dyn Store>) {
        assert!(hits(&store, &query("klasse", vec![])).await.is_empty());
        let a = objekt("facet", None, false);
        create(&store, &a, 1, &[fakt("a:brugervendtnoegle", "x")]).await;
        assert!(hits(&store, &query("klasse", vec![])).await.is_empty());
        assert!(
            hits(
                &store,
                &query("klasse", vec![eq("a:brugervendtnoegle", "x")])
            )
            .await
            .is_empty()
        );
        assert_eq!(
            hits(
                &store,
                &query("facet", vec![eq("a:brugervendtnoegle", "x")])
            )
            .await,
            set(&[a.uuid])
        );
        // Object with a row but no registrering is never a hit.
        let b = objekt("facet", None, false);
        let mut tx = store.begin().await.unwrap();
        tx.insert_objekt(&b).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(hits(&store, &query("facet", vec![])).await, set(&[a.uuid]));
    }

    pub async fn concurrent_writers_serialise(store: Arc<dyn Store>) {
        let o = objekt("klasse", None, false);
        create(&store, &o, 1, &[]).await;
        let n = 8;
        let mut tasks = Vec::new();
        for i in 0..n {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = store.begin().await.unwrap();
                let (ob, cur) = tx.lock(o.uuid).await.unwrap().unwrap();
                let cur = cur.unwrap();
                // Give the others a chance to run into the lock.
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                let fra = cur.meta.fra + 1;
                tx.close_registrering(cur.id, fra).await.unwrap();
                tx.insert_registrering(
                    &ob,
                    &meta(fra, Livscyklus::Rettet),
                    &Data::default(),
                    &[fakt("a:i", &i.to_string())],
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let h = store
            .read(&[o.uuid], RegWindow::Range(NEG_INF, POS_INF))
            .await
            .unwrap();
        let regs = &h[0].registreringer;
        assert_eq!(regs.len(), n + 1);
        assert_eq!(regs.iter().filter(|r| r.meta.til == POS_INF).count(), 1);
        // A clean chain, newest first: each registrering ends where the next begins.
        for w in regs.windows(2) {
            assert_eq!(w[1].meta.til, w[0].meta.fra);
        }
        // Concurrent creators of one UUID: exactly one wins.
        let p = objekt("klasse", None, false);
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let store = store.clone();
            let p = p.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = store.begin().await.unwrap();
                match tx.insert_objekt(&p).await {
                    Ok(()) => {
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                        tx.commit().await.unwrap();
                        true
                    }
                    Err(StoreError::Conflict(_)) => false,
                    Err(e) => panic!("{e}"),
                }
            }));
        }
        let mut won = 0;
        for t in tasks {
            won += usize::from(t.await.unwrap());
        }
        assert_eq!(won, 1);
    }

    /// Anonymising: a past and the current registrering get new data and facts; the period,
    /// metadata and other objects stay; the old facts no longer match at any time.
    pub async fn rewrite_registrering_changes_history(store: Arc<dyn Store>) {
        let o = objekt("person", Some("12345678"), false);
        let other = objekt("person", Some("12345678"), false);
        let first = create(&store, &o, 10, &[fakt("a:cprnr", "0101011234")]).await;
        let second = update(
            &store,
            o.uuid,
            20,
            Livscyklus::Rettet,
            &[fakt("a:cprnr", "0101011234")],
        )
        .await;
        create(&store, &other, 10, &[fakt("a:cprnr", "0101011234")]).await;
        let all_time = |mut q: SearchQuery| {
            q.reg = RegWindow::Range(NEG_INF, POS_INF);
            q
        };
        let by_cpr = all_time(query("person", vec![eq("a:cprnr", "0101011234")]));
        assert_eq!(hits(&store, &by_cpr).await, set(&[o.uuid, other.uuid]));

        let mut renset = Data::default();
        renset.attributter.insert(
            "egenskaber".into(),
            vec![AttrEntry {
                felter: serde_json::Map::from_iter([("navn".to_owned(), json!("Anonymiseret"))]),
                virkning: Virkning::always(),
            }],
        );
        let mut tx = store.begin().await.unwrap();
        let (lo, _) = tx.lock(o.uuid).await.unwrap().unwrap();
        for id in [first, second] {
            tx.rewrite_registrering(&lo, id, &renset, &[fakt("a:navn", "anonymiseret")])
                .await
                .unwrap();
        }
        // A registrering of another object is refused, and changes nothing.
        let foreign =
            store.read(&[other.uuid], RegWindow::Current).await.unwrap()[0].registreringer[0].id;
        assert!(
            tx.rewrite_registrering(&lo, foreign, &renset, &[])
                .await
                .is_err()
        );
        drop(tx);
        // Dropped: nothing happened.
        assert_eq!(hits(&store, &by_cpr).await, set(&[o.uuid, other.uuid]));

        let mut tx = store.begin().await.unwrap();
        let (lo, _) = tx.lock(o.uuid).await.unwrap().unwrap();
        for id in [first, second] {
            tx.rewrite_registrering(&lo, id, &renset, &[fakt("a:navn", "anonymiseret")])
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(hits(&store, &by_cpr).await, set(&[other.uuid]));
        let by_navn = all_time(query("person", vec![eq("a:navn", "anonymiseret")]));
        assert_eq!(hits(&store, &by_navn).await, set(&[o.uuid]));
        let h = store
            .read(&[o.uuid], RegWindow::Range(NEG_INF, POS_INF))
            .await
            .unwrap();
        let regs = &h[0].registreringer;
        assert_eq!(regs.len(), 2);
        assert!(regs.iter().all(|r| r.data == renset));
        assert_eq!(regs[0].meta.livscyklus, Livscyklus::Rettet);
        assert_eq!((regs[1].meta.fra, regs[1].meta.til), (10, 20));
    }

    /// Physical deletion: the object, all its registreringer and facts are gone; others stay;
    /// the UUID may be created again; purging an unknown UUID says so.
    pub async fn purge_removes_everything(store: Arc<dyn Store>) {
        let o = objekt("organisationenhed", Some("12345678"), false);
        let keep = objekt("organisationenhed", Some("12345678"), false);
        create(&store, &o, 10, &[fakt("a:enhedsnavn", "væk")]).await;
        update(
            &store,
            o.uuid,
            20,
            Livscyklus::Slettet,
            &[fakt("a:enhedsnavn", "væk")],
        )
        .await;
        create(&store, &keep, 10, &[fakt("a:enhedsnavn", "væk")]).await;

        let mut tx = store.begin().await.unwrap();
        assert!(tx.lock(o.uuid).await.unwrap().is_some());
        assert!(tx.purge(o.uuid).await.unwrap());
        assert!(!tx.purge(Uuid::new_v4()).await.unwrap());
        tx.commit().await.unwrap();

        let h = store
            .read(&[o.uuid, keep.uuid], RegWindow::Range(NEG_INF, POS_INF))
            .await
            .unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].objekt, keep);
        let mut q = query("organisationenhed", vec![eq("a:enhedsnavn", "væk")]);
        q.reg = RegWindow::Range(NEG_INF, POS_INF);
        q.livscyklus = Some(Livscyklus::Slettet);
        assert!(hits(&store, &q).await.is_empty());
        q.livscyklus = None;
        assert_eq!(hits(&store, &q).await, set(&[keep.uuid]));
        // The UUID is free again.
        create(&store, &o, 30, &[]).await;
        let h = store
            .read(&[o.uuid], RegWindow::Range(NEG_INF, POS_INF))
            .await
            .unwrap();
        assert_eq!(h[0].registreringer.len(), 1);
    }

    pub async fn ping(store: Arc<dyn Store>) {
        store.ping().await.unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Backend-specific

#[tokio::test]
async fn open_variants() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b");
    let s = fki_store::open(None, &nested).await.unwrap();
    assert!(nested.join("fki.sqlite").exists());
    s.ping().await.unwrap();
    drop(s);
    // Reopening runs the (already applied) migrations again without harm, and keeps data.
    let s = fki_store::open(None, &nested).await.unwrap();
    let o = objekt("x", None, false);
    create(&s, &o, 1, &[]).await;
    drop(s);
    let url = format!("sqlite://{}", nested.join("fki.sqlite").display());
    let s = fki_store::open(Some(&url), dir.path()).await.unwrap();
    assert_eq!(
        s.read(&[o.uuid], RegWindow::Current).await.unwrap().len(),
        1
    );

    let other = format!("sqlite://{}", dir.path().join("c/other.db").display());
    let s = fki_store::open(Some(&other), dir.path()).await.unwrap();
    assert!(dir.path().join("c/other.db").exists());
    s.ping().await.unwrap();

    let m = fki_store::open(Some("sqlite::memory:"), dir.path())
        .await
        .unwrap();
    let o = objekt("x", None, false);
    create(&m, &o, 1, &[fakt("s:y", "z")]).await;
    assert_eq!(
        hits(&m, &query("x", vec![eq("s:y", "z")])).await,
        set(&[o.uuid])
    );
    assert_eq!(
        m.read(&[o.uuid], RegWindow::Current).await.unwrap().len(),
        1
    );

    match fki_store::open(Some("mysql://u:secret@h/db"), dir.path()).await {
        Err(StoreError::Backend(msg)) => assert!(!msg.contains("secret"), "{msg}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("mysql accepted"),
    }
}

/// SQLite must answer searches from indexes: no full scan of `fakt` or `registrering`.
#[tokio::test]
async fn sqlite_search_plans_use_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let store = fki_store::SqliteStore::open_path(&dir.path().join("p.sqlite"))
        .await
        .unwrap();
    let rel = eq("r:tilhoerer", "x");
    let rel2 = eq("r:adresser", "y");
    let state = eq("s:gyldighed", "aktiv");
    let mut queries = vec![
        query("bruger", vec![rel.clone(), rel2.clone(), state.clone()]),
        query(
            "bruger",
            vec![like("a:brugervendtnoegle", "ab%", "ab"), state.clone()],
        ),
        query("bruger", vec![like("a:brugervendtnoegle", "%ab%", "")]),
        query("bruger", vec![]),
    ];
    let mut paged = query("bruger", vec![rel.clone(), state.clone()]);
    paged.paging = Some((10, Some(10)));
    paged.scope = Scope::Myndigheder(vec!["1".into()]);
    queries.push(paged);
    let mut by_uuid = query("bruger", vec![rel.clone()]);
    by_uuid.uuid = Some(Uuid::new_v4());
    queries.push(by_uuid);
    for q in &queries {
        let plan = store.explain_search(q).await.unwrap();
        let text = plan.join("\n");
        eprintln!("plan:\n{text}\n");
        for line in &plan {
            let l = line.trim_start();
            if l.starts_with("SCAN") {
                assert!(l.contains("USING"), "full scan in plan for {q:?}:\n{text}");
            }
        }
        assert!(text.contains("INDEX"), "{text}");
    }
    // A small page without a selective criterion walks the key index.
    let mut walk = query("bruger", vec![like("a:brugernavn", "%x%", "")]);
    walk.paging = Some((0, Some(50)));
    let plan = store.explain_search(&walk).await.unwrap();
    assert!(
        plan[0].contains("SEARCH b") && plan[0].contains("fakt_klasse_navn_vaerdi"),
        "{plan:?}"
    );
    assert!(
        plan.iter().all(|l| !l.trim_start().starts_with("SCAN")),
        "{plan:?}"
    );
    // The driver is the first relation criterion, looked up by (klasse, navn, vaerdi).
    let plan = store.explain_search(&queries[0]).await.unwrap();
    assert!(
        plan[0].contains("f0") && plan[0].contains("fakt_klasse_navn_vaerdi"),
        "{plan:?}"
    );
}
