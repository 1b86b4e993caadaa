//! Conformance of the Beskedfordeler storage ([`fki_store::besked::BeskedStore`]): every body
//! runs against SQLite (a temp file) always, and against PostgreSQL when
//! `FKI_TEST_POSTGRES_URL` is set (a fresh database per test), like `adgang.rs`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use fki_oio::store::StoreError;
use fki_store::besked::{
    Abonnement, BeskedStore, Dueslag, DueslagStatus, Leveret, LeveringStatus, Leveringsform,
    Livscyklus, Modtaget, NyBesked, Vaerdiliste,
};
use uuid::Uuid;

#[macro_use]
mod common;

use common::Target;

conformance!(
    |s| s.besked;
    vaerdiliste_ret_and_erstat,
    dueslag_crud,
    abonnement_crud,
    vaerdiliste_crud,
    vaerdiliste_100k_values,
    modtag_distributes_in_order,
    duplicate_besked_ids,
    loebenr_grows_across_batches,
    levering_transitions,
    slet_dueslag_drops_its_leveringer,
    reopen_keeps_everything,
    concurrent_modtag_gap_free,
    concurrent_repeats_distributed_once,
    ryd_kvitterede_keeps_klar,
    kvitter_mange_counts_klar_only,
    kvitter_par_across_dueslag,
    modtag_og_kvitter_in_one_transaction,
    skriver_session_round_after_round,
);

// ---------------------------------------------------------------------------------------------
// Builders

const CVR: &str = "29189846";
const T0: i64 = 1_700_000_000_000_000;

fn dueslag(navn: &str, ejer: Uuid, levering: Leveringsform) -> Dueslag {
    Dueslag {
        uuid: Uuid::new_v4(),
        navn: navn.into(),
        ejer,
        myndighed: CVR.into(),
        aktiv: true,
        levering,
        maks_forsoeg: 3,
        oprettet: T0,
    }
}

fn push(url: &str) -> Leveringsform {
    Leveringsform::Push {
        callback_url: url.into(),
    }
}

fn abonnement(dueslag: Uuid, tid: i64) -> Abonnement {
    Abonnement {
        uuid: Uuid::new_v4(),
        dueslag,
        filter: format!(r#"{{"field":"objekttype","eq":"{}"}}"#, Uuid::new_v4()),
        aktiv: true,
        oprettet: tid,
        aendret: tid,
    }
}

fn vaerdiliste(navn: &str, ejer: Uuid) -> Vaerdiliste {
    Vaerdiliste::ny(Uuid::new_v4(), navn, ejer, T0)
}

fn ny(tid: i64, dueslag: &[Uuid]) -> NyBesked {
    let besked_id = Uuid::new_v4();
    NyBesked {
        besked_id,
        afsender: Uuid::from_u128(42),
        myndighed: CVR.into(),
        modtaget: tid,
        xml: format!("<Haendelsesbesked><BeskedId>{besked_id}</BeskedId>æøå</Haendelsesbesked>"),
        dueslag: dueslag.to_vec(),
    }
}

async fn opret(s: &dyn BeskedStore, navn: &str) -> Dueslag {
    let d = dueslag(navn, Uuid::new_v4(), Leveringsform::Pull);
    s.opret_dueslag(&d).await.unwrap();
    d
}

/// Every Klar levering of a dueslag (the ones not due included).
async fn alle_klar(s: &dyn BeskedStore, d: Uuid) -> Vec<Leveret> {
    s.klar(d, i64::MAX, u32::MAX).await.unwrap()
}

fn loebenr(l: &[Leveret]) -> Vec<i64> {
    l.iter().map(|x| x.levering.loebenr).collect()
}

fn besked_ids(l: &[Leveret]) -> Vec<Uuid> {
    l.iter().map(|x| x.besked.besked_id).collect()
}

// ---------------------------------------------------------------------------------------------
// Bodies

mod bodies {
    use super::*;

    pub async fn dueslag_crud(s: Arc<dyn BeskedStore>, _: Target) {
        let v0 = s.abonnement_version().await.unwrap();
        let ejer = Uuid::new_v4();
        let b = dueslag("Bravo", ejer, push("https://modtager.example/cb?x=1"));
        let mut a = dueslag("Alfa", ejer, Leveringsform::Pull);
        a.maks_forsoeg = 10;
        // forwarded to RabbitMQ: stored as `amqp`, read back as such
        let c = dueslag("Charlie", Uuid::new_v4(), Leveringsform::Amqp);
        for d in [&b, &a, &c] {
            s.opret_dueslag(d).await.unwrap();
        }
        let v1 = s.abonnement_version().await.unwrap();
        assert_eq!(v1, v0 + 3);
        assert!(matches!(
            s.opret_dueslag(&a).await,
            Err(StoreError::Conflict(_))
        ));
        // A failed change moves nothing.
        assert_eq!(s.abonnement_version().await.unwrap(), v1);

        assert_eq!(s.hent_dueslag(b.uuid).await.unwrap(), Some(b.clone()));
        assert_eq!(s.hent_dueslag(Uuid::new_v4()).await.unwrap(), None);
        assert_eq!(
            s.list_dueslag(None).await.unwrap(),
            vec![a.clone(), b.clone(), c.clone()]
        );
        assert_eq!(
            s.list_dueslag(Some(ejer)).await.unwrap(),
            vec![a.clone(), b.clone()]
        );
        assert!(
            s.list_dueslag(Some(Uuid::new_v4()))
                .await
                .unwrap()
                .is_empty()
        );

        assert!(s.saet_dueslag_aktiv(a.uuid, false).await.unwrap());
        assert!(!s.hent_dueslag(a.uuid).await.unwrap().unwrap().aktiv);
        assert!(s.saet_dueslag_aktiv(a.uuid, true).await.unwrap());
        assert!(s.hent_dueslag(a.uuid).await.unwrap().unwrap().aktiv);
        assert_eq!(s.abonnement_version().await.unwrap(), v1 + 2);
        assert!(!s.saet_dueslag_aktiv(Uuid::new_v4(), true).await.unwrap());
        assert_eq!(s.abonnement_version().await.unwrap(), v1 + 2);

        assert!(s.slet_dueslag(b.uuid).await.unwrap());
        assert!(!s.slet_dueslag(b.uuid).await.unwrap());
        assert_eq!(s.hent_dueslag(b.uuid).await.unwrap(), None);
        assert_eq!(s.list_dueslag(Some(ejer)).await.unwrap(), vec![a]);
        assert_eq!(s.abonnement_version().await.unwrap(), v1 + 3);
    }

    pub async fn abonnement_crud(s: Arc<dyn BeskedStore>, _: Target) {
        let d1 = opret(&*s, "D1").await;
        let d2 = opret(&*s, "D2").await;
        let v0 = s.abonnement_version().await.unwrap();

        assert!(matches!(
            s.opret_abonnement(&abonnement(Uuid::new_v4(), 1)).await,
            Err(StoreError::Backend(_))
        ));
        assert_eq!(s.abonnement_version().await.unwrap(), v0);

        let a1 = abonnement(d1.uuid, 1);
        let mut a2 = abonnement(d2.uuid, 2);
        a2.aktiv = false;
        let a3 = abonnement(d1.uuid, 3);
        for a in [&a1, &a2, &a3] {
            s.opret_abonnement(a).await.unwrap();
        }
        assert!(matches!(
            s.opret_abonnement(&a1).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(s.abonnement_version().await.unwrap(), v0 + 3);

        assert_eq!(s.hent_abonnement(a2.uuid).await.unwrap(), Some(a2.clone()));
        assert_eq!(s.hent_abonnement(Uuid::new_v4()).await.unwrap(), None);
        assert_eq!(
            s.list_abonnementer(None).await.unwrap(),
            vec![a1.clone(), a2.clone(), a3.clone()]
        );
        assert_eq!(
            s.list_abonnementer(Some(d1.uuid)).await.unwrap(),
            vec![a1.clone(), a3.clone()]
        );

        // Stop and start: aendret moves, oprettet stays.
        assert!(s.saet_abonnement_aktiv(a1.uuid, false, 50).await.unwrap());
        let got = s.hent_abonnement(a1.uuid).await.unwrap().unwrap();
        assert_eq!((got.aktiv, got.oprettet, got.aendret), (false, 1, 50));
        assert!(s.saet_abonnement_aktiv(a2.uuid, true, 60).await.unwrap());
        let got = s.hent_abonnement(a2.uuid).await.unwrap().unwrap();
        assert_eq!((got.aktiv, got.aendret), (true, 60));
        assert_eq!(got.filter, a2.filter);
        assert!(
            !s.saet_abonnement_aktiv(Uuid::new_v4(), true, 1)
                .await
                .unwrap()
        );
        assert_eq!(s.abonnement_version().await.unwrap(), v0 + 5);

        assert!(s.slet_abonnement(a3.uuid).await.unwrap());
        assert!(!s.slet_abonnement(a3.uuid).await.unwrap());
        assert_eq!(s.abonnement_version().await.unwrap(), v0 + 6);
        assert_eq!(s.list_abonnementer(Some(d1.uuid)).await.unwrap().len(), 1);

        // Deleting a dueslag takes its abonnementer along.
        assert!(s.slet_dueslag(d1.uuid).await.unwrap());
        assert_eq!(s.hent_abonnement(a1.uuid).await.unwrap(), None);
        let left = s.list_abonnementer(None).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].uuid, a2.uuid);
    }

    pub async fn vaerdiliste_ret_and_erstat(s: Arc<dyn BeskedStore>, _: Target) {
        let l = vaerdiliste("Borgere", Uuid::new_v4());
        s.opret_vaerdiliste(&l).await.unwrap();
        s.tilfoej_vaerdier(l.uuid, &["a".into(), "b".into()])
            .await
            .unwrap();
        let v1 = s.hent_vaerdiliste(l.uuid).await.unwrap().unwrap();
        assert_eq!(v1.livscyklus, Livscyklus::Opstaaet);
        assert_eq!(v1.aendret, T0);
        let mut rettet = v1.clone();
        rettet.navn = "Mine borgere".into();
        rettet.livscyklus = Livscyklus::Rettet;
        rettet.brugervendtnoegle = Some("borgere-1".into());
        rettet.note = Some("omdøbt".into());
        rettet.aendret = T0 + 10;
        rettet.ejer = Uuid::new_v4(); // not changed by ret
        assert!(s.ret_vaerdiliste(&rettet).await.unwrap());
        let v2 = s.hent_vaerdiliste(l.uuid).await.unwrap().unwrap();
        assert_eq!(v2.navn, "Mine borgere");
        assert_eq!(v2.livscyklus, Livscyklus::Rettet);
        assert_eq!(v2.brugervendtnoegle.as_deref(), Some("borgere-1"));
        assert_eq!(v2.note.as_deref(), Some("omdøbt"));
        assert_eq!(v2.aendret, T0 + 10);
        assert_eq!(v2.ejer, l.ejer);
        assert!(v2.version > v1.version);
        s.erstat_vaerdier(l.uuid, &["c".into(), "a".into()])
            .await
            .unwrap();
        assert_eq!(s.vaerdier(l.uuid).await.unwrap(), vec!["a", "c"]);
        let v3 = s.hent_vaerdiliste(l.uuid).await.unwrap().unwrap();
        assert!(v3.version > v2.version);
        let ukendt = vaerdiliste("x", Uuid::new_v4());
        assert!(!s.ret_vaerdiliste(&ukendt).await.unwrap());
        assert!(s.erstat_vaerdier(ukendt.uuid, &[]).await.is_err());
    }

    pub async fn vaerdiliste_crud(s: Arc<dyn BeskedStore>, _: Target) {
        let ejer = Uuid::new_v4();
        let b = vaerdiliste("Borgere", ejer);
        let a = vaerdiliste("Adresser", ejer);
        let c = vaerdiliste("Andre", Uuid::new_v4());
        for l in [&b, &a, &c] {
            s.opret_vaerdiliste(l).await.unwrap();
        }
        assert!(matches!(
            s.opret_vaerdiliste(&a).await,
            Err(StoreError::Conflict(_))
        ));
        let hb = s.hent_vaerdiliste(b.uuid).await.unwrap().unwrap();
        assert_eq!(
            (hb.navn.as_str(), hb.ejer, hb.oprettet),
            ("Borgere", ejer, T0)
        );
        assert!(hb.version > 0);
        assert_eq!(s.hent_vaerdiliste(Uuid::new_v4()).await.unwrap(), None);
        let mine: Vec<Uuid> = s
            .list_vaerdilister(Some(ejer))
            .await
            .unwrap()
            .iter()
            .map(|l| l.uuid)
            .collect();
        assert_eq!(mine, vec![a.uuid, b.uuid]);
        assert_eq!(s.list_vaerdilister(None).await.unwrap().len(), 3);

        let v = |x: &[&str]| x.iter().map(|s| (*s).to_owned()).collect::<Vec<String>>();
        let version = |s: Arc<dyn BeskedStore>, u: Uuid| async move {
            s.hent_vaerdiliste(u).await.unwrap().unwrap().version
        };

        // Repeats inside the call and already stored ones are not counted.
        assert_eq!(
            s.tilfoej_vaerdier(b.uuid, &v(&["b", "a", "b"]))
                .await
                .unwrap(),
            2
        );
        let v1 = version(s.clone(), b.uuid).await;
        assert!(v1 > hb.version);
        assert_eq!(
            s.tilfoej_vaerdier(b.uuid, &v(&["a", "c"])).await.unwrap(),
            1
        );
        let v2 = version(s.clone(), b.uuid).await;
        assert!(v2 > v1);
        // No change, no new version.
        assert_eq!(s.tilfoej_vaerdier(b.uuid, &v(&["a"])).await.unwrap(), 0);
        assert_eq!(s.tilfoej_vaerdier(b.uuid, &[]).await.unwrap(), 0);
        assert_eq!(s.fjern_vaerdier(b.uuid, &v(&["zz"])).await.unwrap(), 0);
        assert_eq!(version(s.clone(), b.uuid).await, v2);
        assert_eq!(s.vaerdier(b.uuid).await.unwrap(), v(&["a", "b", "c"]));
        // A change of another list leaves this one's version alone.
        s.tilfoej_vaerdier(a.uuid, &v(&["x"])).await.unwrap();
        assert_eq!(version(s.clone(), b.uuid).await, v2);

        assert_eq!(
            s.fjern_vaerdier(b.uuid, &v(&["a", "zz", "c"]))
                .await
                .unwrap(),
            2
        );
        let v3 = version(s.clone(), b.uuid).await;
        assert!(v3 > v2);
        assert_eq!(s.vaerdier(b.uuid).await.unwrap(), v(&["b"]));
        assert_eq!(s.vaerdier(a.uuid).await.unwrap(), v(&["x"]));

        // Unknown lists.
        let unknown = Uuid::new_v4();
        assert!(matches!(
            s.tilfoej_vaerdier(unknown, &v(&["a"])).await,
            Err(StoreError::Backend(_))
        ));
        assert!(matches!(
            s.fjern_vaerdier(unknown, &v(&["a"])).await,
            Err(StoreError::Backend(_))
        ));
        assert!(s.vaerdier(unknown).await.unwrap().is_empty());

        // Deleting takes the values along; a list created again under the same UUID starts
        // empty and above every earlier version.
        assert!(s.slet_vaerdiliste(b.uuid).await.unwrap());
        assert!(!s.slet_vaerdiliste(b.uuid).await.unwrap());
        assert_eq!(s.hent_vaerdiliste(b.uuid).await.unwrap(), None);
        assert!(s.vaerdier(b.uuid).await.unwrap().is_empty());
        s.opret_vaerdiliste(&b).await.unwrap();
        assert!(s.vaerdier(b.uuid).await.unwrap().is_empty());
        assert!(version(s.clone(), b.uuid).await > v3);
    }

    pub async fn vaerdiliste_100k_values(s: Arc<dyn BeskedStore>, _: Target) {
        let l = vaerdiliste("CPR", Uuid::new_v4());
        s.opret_vaerdiliste(&l).await.unwrap();
        let cpr: Vec<String> = (0..100_000u64)
            .map(|i| format!("{:010}", 101_000_000 + i * 7919 % 100_000_000))
            .collect();
        let v0 = s.hent_vaerdiliste(l.uuid).await.unwrap().unwrap().version;

        let t = Instant::now();
        assert_eq!(s.tilfoej_vaerdier(l.uuid, &cpr).await.unwrap(), 100_000);
        let add = t.elapsed();
        let v1 = s.hent_vaerdiliste(l.uuid).await.unwrap().unwrap().version;
        assert!(v1 > v0);

        let t = Instant::now();
        let stored = s.vaerdier(l.uuid).await.unwrap();
        let read = t.elapsed();
        assert_eq!(stored.len(), 100_000);
        let mut sorted = cpr.clone();
        sorted.sort();
        assert_eq!(stored, sorted);

        // Half again plus 1,000 new: only the new ones count.
        let mut more: Vec<String> = cpr[..50_000].to_vec();
        more.extend((0..1_000).map(|i| format!("99{i:08}")));
        assert_eq!(s.tilfoej_vaerdier(l.uuid, &more).await.unwrap(), 1_000);
        let v2 = s.hent_vaerdiliste(l.uuid).await.unwrap().unwrap().version;
        assert!(v2 > v1);

        let t = Instant::now();
        assert_eq!(
            s.fjern_vaerdier(l.uuid, &cpr[..60_000]).await.unwrap(),
            60_000
        );
        let remove = t.elapsed();
        let v3 = s.hent_vaerdiliste(l.uuid).await.unwrap().unwrap().version;
        assert!(v3 > v2);
        let left: HashSet<String> = s.vaerdier(l.uuid).await.unwrap().into_iter().collect();
        assert_eq!(left.len(), 41_000);
        assert!(left.contains(&cpr[60_000]) && !left.contains(&cpr[0]));
        eprintln!("100,000 values: add {add:?}, read {read:?}, remove 60,000 {remove:?}");
        // Generous bound for debug builds on a loaded 2-core machine; the numbers printed
        // above are what to watch.
        assert!(
            add.as_secs_f64() < 10.0,
            "adding 100,000 values took {add:?}"
        );

        assert!(s.slet_vaerdiliste(l.uuid).await.unwrap());
        assert!(s.vaerdier(l.uuid).await.unwrap().is_empty());
    }

    pub async fn modtag_distributes_in_order(s: Arc<dyn BeskedStore>, _: Target) {
        assert!(s.modtag(Vec::new()).await.unwrap().is_empty());
        let a = opret(&*s, "A").await.uuid;
        let b = opret(&*s, "B").await.uuid;
        let c = opret(&*s, "C").await.uuid;
        let v0 = s.abonnement_version().await.unwrap();

        let m = [
            ny(T0 + 1, &[a, b]),
            ny(T0 + 2, &[b]),
            // A repeated dueslag counts once; a dueslag that does not exist is skipped.
            ny(T0 + 3, &[a, Uuid::new_v4(), a]),
            // To nobody: stored, distributed nowhere.
            ny(T0 + 4, &[]),
            ny(T0 + 5, &[b, a]),
        ];
        let svar = s.modtag(m.to_vec()).await.unwrap();
        assert_eq!(svar.len(), 5);
        assert!(svar.iter().all(|x| x.ny), "{svar:?}");
        let seqs: HashSet<i64> = svar.iter().map(|x| x.seq).collect();
        assert_eq!(seqs.len(), 5);

        let ka = alle_klar(&*s, a).await;
        assert_eq!(
            besked_ids(&ka),
            vec![m[0].besked_id, m[2].besked_id, m[4].besked_id]
        );
        assert_eq!(loebenr(&ka), vec![1, 2, 3]);
        let kb = alle_klar(&*s, b).await;
        assert_eq!(
            besked_ids(&kb),
            vec![m[0].besked_id, m[1].besked_id, m[4].besked_id]
        );
        assert_eq!(loebenr(&kb), vec![1, 2, 3]);
        assert!(alle_klar(&*s, c).await.is_empty());

        // The levering and its message, in full.
        let first = &ka[0];
        assert_eq!(first.levering.dueslag, a);
        assert_eq!(first.levering.besked, svar[0].seq);
        assert_eq!(first.levering.status, LeveringStatus::Klar);
        assert_eq!(first.levering.forsoeg, 0);
        assert_eq!(first.levering.naeste_forsoeg, T0 + 1);
        assert_eq!(first.levering.fordelt, T0 + 1);
        assert_eq!(first.levering.leveret, None);
        assert_eq!(first.levering.sidste_fejl, None);
        assert_eq!(first.besked.seq, svar[0].seq);
        assert_eq!(first.besked.afsender, m[0].afsender);
        assert_eq!(first.besked.myndighed, CVR);
        assert_eq!(first.besked.modtaget, T0 + 1);
        assert_eq!(first.besked.xml, m[0].xml);
        assert_eq!(ka[2].levering.besked, svar[4].seq);

        // Every message is stored once, the undistributed one too.
        for (x, svar) in m.iter().zip(&svar) {
            let got = s.hent_besked(x.besked_id).await.unwrap().unwrap();
            assert_eq!(got.seq, svar.seq);
            assert_eq!(got.xml, x.xml);
            assert_eq!(got.modtaget, x.modtaget);
        }
        assert_eq!(s.hent_besked(Uuid::new_v4()).await.unwrap(), None);

        // Limit pages from the head.
        assert_eq!(loebenr(&s.klar(a, T0 + 10, 2).await.unwrap()), vec![1, 2]);
        // Distribution does not move the subscription version.
        assert_eq!(s.abonnement_version().await.unwrap(), v0);
    }

    pub async fn duplicate_besked_ids(s: Arc<dyn BeskedStore>, _: Target) {
        let a = opret(&*s, "A").await.uuid;
        let b = opret(&*s, "B").await.uuid;
        let x = ny(T0, &[a]);
        let first = s.modtag(vec![x.clone()]).await.unwrap();
        assert!(first[0].ny);

        // Again in a later batch, even with other dueslag and content: nothing new.
        let mut again = x.clone();
        again.dueslag = vec![a, b];
        again.xml = "<other/>".into();
        let y = ny(T0 + 1, &[a, b]);
        let mut y_twice = y.clone();
        y_twice.dueslag = vec![b];
        let z = ny(T0 + 2, &[b]);
        let svar = s
            .modtag(vec![again, y.clone(), y_twice, z.clone(), y.clone()])
            .await
            .unwrap();
        assert_eq!(
            svar[0],
            Modtaget {
                seq: first[0].seq,
                ny: false
            }
        );
        assert!(svar[1].ny && svar[3].ny);
        // Within the batch: the first occurrence counts, later ones answer its seq.
        assert_eq!(
            svar[2],
            Modtaget {
                seq: svar[1].seq,
                ny: false
            }
        );
        assert_eq!(svar[4], svar[2]);
        assert!(first[0].seq < svar[1].seq && first[0].seq < svar[3].seq);
        assert_ne!(svar[1].seq, svar[3].seq);

        assert_eq!(
            besked_ids(&alle_klar(&*s, a).await),
            vec![x.besked_id, y.besked_id]
        );
        assert_eq!(
            besked_ids(&alle_klar(&*s, b).await),
            vec![y.besked_id, z.besked_id]
        );
        assert_eq!(
            s.hent_besked(x.besked_id).await.unwrap().unwrap().xml,
            x.xml
        );

        // A batch made only of repeats changes nothing.
        let svar = s.modtag(vec![x.clone(), z.clone()]).await.unwrap();
        assert!(svar.iter().all(|m| !m.ny));
        assert_eq!(s.status(b, T0).await.unwrap().klar, 2);
    }

    pub async fn loebenr_grows_across_batches(s: Arc<dyn BeskedStore>, _: Target) {
        let a = opret(&*s, "A").await.uuid;
        let b = opret(&*s, "B").await.uuid;
        let (begge, kun_a) = ([a, b], [a]);
        let mut ids = Vec::new();
        let mut sidste_seq = 0;
        for round in 0..5i64 {
            let batch: Vec<NyBesked> = (0..=round)
                .map(|i| {
                    ny(
                        T0 + round * 10 + i,
                        if i % 2 == 0 { &begge } else { &kun_a },
                    )
                })
                .collect();
            ids.extend(batch.iter().map(|m| (m.besked_id, m.dueslag.len())));
            let svar = s.modtag(batch).await.unwrap();
            assert!(svar.iter().all(|m| m.ny));
            // One writer: every seq of a batch is above those of the batches before.
            let (lo, hi) = (
                svar.iter().map(|m| m.seq).min().unwrap(),
                svar.iter().map(|m| m.seq).max().unwrap(),
            );
            assert!(lo > sidste_seq, "{svar:?}");
            sidste_seq = hi;
        }
        // Distribution order is acceptance order, batch by batch and within each batch.
        let ka = alle_klar(&*s, a).await;
        assert_eq!(loebenr(&ka), (1..=15).collect::<Vec<_>>());
        assert_eq!(
            besked_ids(&ka),
            ids.iter().map(|(id, _)| *id).collect::<Vec<_>>()
        );
        let kb = alle_klar(&*s, b).await;
        assert_eq!(loebenr(&kb), (1..=9).collect::<Vec<_>>());
        assert_eq!(
            besked_ids(&kb),
            ids.iter()
                .filter(|(_, n)| *n == 2)
                .map(|(id, _)| *id)
                .collect::<Vec<_>>()
        );
    }

    pub async fn levering_transitions(s: Arc<dyn BeskedStore>, _: Target) {
        let d = opret(&*s, "D").await.uuid;
        let m: Vec<NyBesked> = (0..4).map(|i| ny(T0 + i, &[d])).collect();
        s.modtag(m.clone()).await.unwrap();
        assert_eq!(
            s.status(d, T0 + 10).await.unwrap(),
            DueslagStatus {
                klar: 4,
                forfaldne: 4,
                fejlkoe: 0,
                kvitteret: 0,
                aeldste_klar_fordelt: Some(T0),
            }
        );

        // 1 is acknowledged; only once.
        assert!(s.kvitter(d, 1, T0 + 100).await.unwrap());
        assert!(!s.kvitter(d, 1, T0 + 101).await.unwrap());
        assert!(!s.kvitter(d, 99, T0 + 101).await.unwrap());
        let k = alle_klar(&*s, d).await;
        assert_eq!(loebenr(&k), vec![2, 3, 4]);

        // 2 fails twice: counted, not due before the next attempt, still the head.
        assert_eq!(
            s.forsoeg_fejlet(d, 2, T0 + 200, "connection refused")
                .await
                .unwrap(),
            Some(1)
        );
        assert_eq!(
            s.forsoeg_fejlet(d, 2, T0 + 300, "HTTP 503").await.unwrap(),
            Some(2)
        );
        assert_eq!(s.forsoeg_fejlet(d, 1, T0, "x").await.unwrap(), None);
        let head = &s.klar(d, T0 + 250, 10).await.unwrap();
        // Not due at T0+250: the head alone comes back, with its state.
        assert_eq!(loebenr(head), vec![2]);
        assert_eq!(head[0].levering.forsoeg, 2);
        assert_eq!(head[0].levering.naeste_forsoeg, T0 + 300);
        assert_eq!(head[0].levering.sidste_fejl.as_deref(), Some("HTTP 503"));
        assert_eq!(
            loebenr(&s.klar(d, T0 + 300, 10).await.unwrap()),
            vec![2, 3, 4]
        );
        // Read on behind a loebenr: what follows it, in order, the limit and the first not
        // due applying as from the head.
        assert_eq!(
            loebenr(&s.klar_efter(d, Some(2), T0 + 300, 10).await.unwrap()),
            vec![3, 4]
        );
        assert_eq!(
            loebenr(&s.klar_efter(d, Some(2), T0 + 300, 1).await.unwrap()),
            vec![3]
        );
        assert_eq!(
            loebenr(&s.klar_efter(d, Some(1), T0 + 250, 10).await.unwrap()),
            vec![2]
        );
        assert!(
            s.klar_efter(d, Some(4), T0 + 300, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            loebenr(&s.klar_efter(d, None, T0 + 300, 10).await.unwrap()),
            vec![2, 3, 4]
        );
        let st = s.status(d, T0 + 250).await.unwrap();
        assert_eq!((st.klar, st.forfaldne, st.kvitteret), (3, 2, 1));

        // 2 gives up: into the fejlkø; 3 is the head now.
        assert!(s.til_fejlkoe(d, 2, "3 attempts failed").await.unwrap());
        assert!(!s.til_fejlkoe(d, 2, "again").await.unwrap());
        assert!(!s.til_fejlkoe(d, 1, "acknowledged").await.unwrap());
        assert!(!s.kvitter(d, 2, T0 + 400).await.unwrap());
        assert_eq!(s.forsoeg_fejlet(d, 2, T0, "x").await.unwrap(), None);
        assert_eq!(loebenr(&alle_klar(&*s, d).await), vec![3, 4]);
        let fk = s.fejlkoe(d, 10).await.unwrap();
        assert_eq!(loebenr(&fk), vec![2]);
        assert_eq!(fk[0].levering.status, LeveringStatus::Fejlkoe);
        assert_eq!(
            fk[0].levering.sidste_fejl.as_deref(),
            Some("3 attempts failed")
        );
        assert_eq!(fk[0].levering.forsoeg, 2);
        assert_eq!(fk[0].besked.besked_id, m[1].besked_id);
        assert_eq!(
            s.status(d, T0 + 400).await.unwrap(),
            DueslagStatus {
                klar: 2,
                forfaldne: 2,
                fejlkoe: 1,
                kvitteret: 1,
                aeldste_klar_fordelt: Some(T0 + 2),
            }
        );

        // Replay from the fejlkø: a new Klar levering at the end; the old one stays.
        assert_eq!(s.genafspil(d, 2, T0 + 500).await.unwrap(), Some(5));
        assert_eq!(s.genafspil(d, 99, T0 + 500).await.unwrap(), None);
        let k = alle_klar(&*s, d).await;
        assert_eq!(loebenr(&k), vec![3, 4, 5]);
        let replay = &k[2].levering;
        assert_eq!(replay.besked, fk[0].levering.besked);
        assert_eq!(
            (replay.forsoeg, replay.naeste_forsoeg, replay.fordelt),
            (0, T0 + 500, T0 + 500)
        );
        assert_eq!(
            (replay.leveret, replay.sidste_fejl.as_deref()),
            (None, None)
        );
        assert_eq!(k[2].besked.besked_id, m[1].besked_id);
        assert_eq!(loebenr(&s.fejlkoe(d, 10).await.unwrap()), vec![2]);
        // An acknowledged one can be replayed too; new messages number on after replays.
        assert_eq!(s.genafspil(d, 1, T0 + 600).await.unwrap(), Some(6));
        s.modtag(vec![ny(T0 + 700, &[d])]).await.unwrap();
        assert_eq!(loebenr(&alle_klar(&*s, d).await), vec![3, 4, 5, 6, 7]);

        for n in [3, 4, 5, 6, 7] {
            assert!(s.kvitter(d, n, T0 + 800).await.unwrap());
        }
        let st = s.status(d, T0 + 800).await.unwrap();
        assert_eq!(
            st,
            DueslagStatus {
                klar: 0,
                forfaldne: 0,
                fejlkoe: 1,
                kvitteret: 6,
                aeldste_klar_fordelt: None,
            }
        );
        assert_eq!(
            s.status(Uuid::new_v4(), T0).await.unwrap(),
            DueslagStatus::default()
        );
    }

    pub async fn slet_dueslag_drops_its_leveringer(s: Arc<dyn BeskedStore>, _: Target) {
        let a = opret(&*s, "A").await.uuid;
        let b = opret(&*s, "B").await.uuid;
        let m = ny(T0, &[a, b]);
        s.modtag(vec![m.clone(), ny(T0 + 1, &[a])]).await.unwrap();
        s.til_fejlkoe(a, 2, "x").await.unwrap();
        assert!(s.slet_dueslag(a).await.unwrap());
        assert_eq!(s.status(a, T0).await.unwrap(), DueslagStatus::default());
        assert!(s.fejlkoe(a, 10).await.unwrap().is_empty());
        assert_eq!(besked_ids(&alle_klar(&*s, b).await), vec![m.besked_id]);
        assert!(s.hent_besked(m.besked_id).await.unwrap().is_some());
        // Distribution to a deleted dueslag is skipped.
        let later = ny(T0 + 2, &[a, b]);
        assert!(s.modtag(vec![later.clone()]).await.unwrap()[0].ny);
        assert_eq!(loebenr(&alle_klar(&*s, b).await), vec![1, 2]);
    }

    pub async fn reopen_keeps_everything(s: Arc<dyn BeskedStore>, t: Target) {
        let d = dueslag("Push", Uuid::new_v4(), push("https://r.example/cb"));
        s.opret_dueslag(&d).await.unwrap();
        let e = opret(&*s, "Pull").await;
        let ab = abonnement(d.uuid, 5);
        s.opret_abonnement(&ab).await.unwrap();
        let l = vaerdiliste("L", Uuid::new_v4());
        s.opret_vaerdiliste(&l).await.unwrap();
        let vals: Vec<String> = (0..100).map(|i| format!("{i:03}")).collect();
        s.tilfoej_vaerdier(l.uuid, &vals).await.unwrap();
        let l = s.hent_vaerdiliste(l.uuid).await.unwrap().unwrap();
        let m: Vec<NyBesked> = (0..6).map(|i| ny(T0 + i, &[d.uuid, e.uuid])).collect();
        let svar = s.modtag(m.clone()).await.unwrap();
        s.kvitter(d.uuid, 1, T0 + 10).await.unwrap();
        s.forsoeg_fejlet(d.uuid, 2, T0 + 20, "timeout")
            .await
            .unwrap();
        s.til_fejlkoe(d.uuid, 3, "gave up").await.unwrap();
        let version = s.abonnement_version().await.unwrap();
        let klar_foer = alle_klar(&*s, d.uuid).await;
        let status_foer = s.status(d.uuid, T0 + 15).await.unwrap();
        drop(s);

        // A restart: everything comes back, in order.
        let s = t.open().await.besked;
        assert_eq!(s.hent_dueslag(d.uuid).await.unwrap(), Some(d.clone()));
        assert_eq!(s.list_dueslag(None).await.unwrap().len(), 2);
        assert_eq!(s.hent_abonnement(ab.uuid).await.unwrap(), Some(ab));
        assert_eq!(s.abonnement_version().await.unwrap(), version);
        assert_eq!(s.hent_vaerdiliste(l.uuid).await.unwrap(), Some(l.clone()));
        assert_eq!(s.vaerdier(l.uuid).await.unwrap(), vals);
        assert_eq!(alle_klar(&*s, d.uuid).await, klar_foer);
        assert_eq!(loebenr(&klar_foer), vec![2, 4, 5, 6]);
        assert_eq!(
            klar_foer[0].levering.sidste_fejl.as_deref(),
            Some("timeout")
        );
        assert_eq!(s.status(d.uuid, T0 + 15).await.unwrap(), status_foer);
        assert_eq!(loebenr(&s.fejlkoe(d.uuid, 10).await.unwrap()), vec![3]);
        assert_eq!(
            besked_ids(&alle_klar(&*s, e.uuid).await),
            m.iter().map(|x| x.besked_id).collect::<Vec<_>>()
        );
        // Repeats are still recognised; numbering and seq go on where they were.
        assert!(!s.modtag(vec![m[0].clone()]).await.unwrap()[0].ny);
        let next = s.modtag(vec![ny(T0 + 100, &[d.uuid])]).await.unwrap();
        assert!(next[0].ny && next[0].seq > svar[5].seq);
        assert_eq!(loebenr(&alle_klar(&*s, d.uuid).await), vec![2, 4, 5, 6, 7]);
        assert_eq!(s.genafspil(d.uuid, 3, T0 + 200).await.unwrap(), Some(8));
    }

    pub async fn concurrent_modtag_gap_free(s: Arc<dyn BeskedStore>, _: Target) {
        const TASKS: usize = 8;
        const BATCHES: usize = 20;
        const PER_BATCH: usize = 3;
        let a = opret(&*s, "A").await.uuid;
        let b = opret(&*s, "B").await.uuid;
        let mut tasks = Vec::new();
        for task in 0..TASKS {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                for batch in 0..BATCHES {
                    // Every message goes to `a`; every other one to `b` as well, named in
                    // either order.
                    let beskeder: Vec<NyBesked> = (0..PER_BATCH)
                        .map(|i| {
                            let n = batch * PER_BATCH + i;
                            let til: &[Uuid] = match (n + task) % 3 {
                                0 => &[a],
                                1 => &[a, b],
                                _ => &[b, a],
                            };
                            ny(T0 + n as i64, til)
                        })
                        .collect();
                    let ids: Vec<Uuid> = beskeder.iter().map(|x| x.besked_id).collect();
                    let svar = s.modtag(beskeder).await.unwrap();
                    assert!(svar.iter().all(|m| m.ny));
                    mine.extend(ids);
                }
                mine
            }));
        }
        let mut per_task = Vec::new();
        for t in tasks {
            per_task.push(t.await.unwrap());
        }
        let total = TASKS * BATCHES * PER_BATCH;

        let ka = alle_klar(&*s, a).await;
        assert_eq!(ka.len(), total);
        assert_eq!(loebenr(&ka), (1..=total as i64).collect::<Vec<_>>());
        let ids: HashSet<Uuid> = besked_ids(&ka).into_iter().collect();
        assert_eq!(ids.len(), total);

        // Each task's messages keep their order in the dueslag.
        let pos: HashMap<Uuid, i64> = ka
            .iter()
            .map(|l| (l.besked.besked_id, l.levering.loebenr))
            .collect();
        for mine in &per_task {
            let p: Vec<i64> = mine.iter().map(|id| pos[id]).collect();
            assert!(p.windows(2).all(|w| w[0] < w[1]), "{p:?}");
        }

        // `b` is gap-free too, and in the same relative order as `a`.
        let kb = alle_klar(&*s, b).await;
        assert_eq!(loebenr(&kb), (1..=kb.len() as i64).collect::<Vec<_>>());
        let in_a: Vec<i64> = kb.iter().map(|l| pos[&l.besked.besked_id]).collect();
        assert!(in_a.windows(2).all(|w| w[0] < w[1]), "{in_a:?}");
        let st = s.status(a, i64::MAX).await.unwrap();
        assert_eq!((st.klar, st.forfaldne), (total as i64, total as i64));
    }

    pub async fn concurrent_repeats_distributed_once(s: Arc<dyn BeskedStore>, _: Target) {
        // Eight senders deliver the same 24 messages, each in its own order and batching (on
        // PostgreSQL, batches wait for each other's uncommitted BeskedIds).
        const TASKS: usize = 8;
        let a = opret(&*s, "A").await.uuid;
        let m: Vec<NyBesked> = (0..24).map(|i| ny(T0 + i, &[a])).collect();
        let mut tasks = Vec::new();
        for task in 0..TASKS {
            let (s, mut mine) = (s.clone(), m.clone());
            mine.rotate_left(task * 5 % 24);
            if task % 2 == 1 {
                mine.reverse();
            }
            tasks.push(tokio::spawn(async move {
                let mut svar = Vec::new();
                for batch in mine.chunks(task % 4 + 3) {
                    let got = s.modtag(batch.to_vec()).await.unwrap();
                    svar.extend(batch.iter().map(|b| b.besked_id).zip(got));
                }
                svar
            }));
        }
        let mut seq: HashMap<Uuid, i64> = HashMap::new();
        let mut ny_count: HashMap<Uuid, usize> = HashMap::new();
        for t in tasks {
            for (id, svar) in t.await.unwrap() {
                assert_eq!(*seq.entry(id).or_insert(svar.seq), svar.seq, "{id}");
                *ny_count.entry(id).or_default() += usize::from(svar.ny);
            }
        }
        assert_eq!(seq.len(), m.len());
        assert!(ny_count.values().all(|n| *n == 1), "{ny_count:?}");
        let ka = alle_klar(&*s, a).await;
        assert_eq!(loebenr(&ka), (1..=m.len() as i64).collect::<Vec<_>>());
        let ids: HashSet<Uuid> = besked_ids(&ka).into_iter().collect();
        assert_eq!(ids.len(), m.len());
        for l in &ka {
            assert_eq!(l.besked.seq, seq[&l.besked.besked_id]);
        }
    }

    pub async fn kvitter_mange_counts_klar_only(s: Arc<dyn BeskedStore>, _: Target) {
        let a = opret(&*s, "A").await.uuid;
        let b = opret(&*s, "B").await.uuid;
        let m: Vec<NyBesked> = (0..7).map(|i| ny(T0 + i, &[a, b])).collect();
        s.modtag(m.clone()).await.unwrap();
        assert_eq!(s.kvitter_mange(a, &[], T0 + 50).await.unwrap(), 0);
        assert!(s.kvitter(a, 2, T0 + 50).await.unwrap());
        assert!(s.til_fejlkoe(a, 3, "x").await.unwrap());
        // 2 is acknowledged already, 3 in the fejlkø, 99 missing, 1 repeated: counts 1, 4, 5.
        assert_eq!(
            s.kvitter_mange(a, &[1, 2, 3, 4, 99, 1, 5], T0 + 100)
                .await
                .unwrap(),
            3
        );
        assert_eq!(s.kvitter_mange(a, &[1, 4, 5], T0 + 101).await.unwrap(), 0);
        assert_eq!(
            besked_ids(&alle_klar(&*s, a).await),
            vec![m[5].besked_id, m[6].besked_id]
        );
        // The other dueslag is untouched.
        assert_eq!(besked_ids(&alle_klar(&*s, b).await).len(), 7);
        let st = s.status(a, T0).await.unwrap();
        assert_eq!((st.klar, st.fejlkoe, st.kvitteret), (2, 1, 4));
    }

    pub async fn kvitter_par_across_dueslag(s: Arc<dyn BeskedStore>, _: Target) {
        let a = opret(&*s, "A").await.uuid;
        let b = opret(&*s, "B").await.uuid;
        let m: Vec<NyBesked> = (0..3).map(|i| ny(T0 + i, &[a, b])).collect();
        s.modtag(m.clone()).await.unwrap();
        assert_eq!(s.kvitter_par(&[], T0).await.unwrap(), Vec::<bool>::new());
        assert!(s.kvitter(a, 2, T0 + 50).await.unwrap());
        assert_eq!(
            s.kvitter_par(&[(a, 1), (b, 2), (a, 2), (b, 99), (a, 1)], T0 + 100)
                .await
                .unwrap(),
            vec![true, true, false, false, false]
        );
        assert_eq!(loebenr(&alle_klar(&*s, a).await), vec![3]);
        assert_eq!(loebenr(&alle_klar(&*s, b).await), vec![1, 3]);
    }

    pub async fn modtag_og_kvitter_in_one_transaction(s: Arc<dyn BeskedStore>, _: Target) {
        let a = opret(&*s, "A").await.uuid;
        let b = opret(&*s, "B").await.uuid;
        let foer: Vec<NyBesked> = (0..2).map(|i| ny(T0 + i, &[a, b])).collect();
        s.modtag(foer.clone()).await.unwrap();
        // New messages (one a repeat of a stored one) and acknowledgements of earlier
        // leveringer (one unknown, one repeated) together.
        let nye = vec![ny(T0 + 10, &[a]), foer[0].clone(), ny(T0 + 11, &[b])];
        let (svar, kvitteret) = s
            .modtag_og_kvitter(nye.clone(), &[(a, 1), (b, 2), (a, 99), (a, 1)], T0 + 20)
            .await
            .unwrap();
        assert_eq!(
            svar.iter().map(|m| m.ny).collect::<Vec<_>>(),
            vec![true, false, true]
        );
        assert_eq!(kvitteret, vec![true, true, false, false]);
        // a: 1 acknowledged, 2 and the new 3 Klar; b: 1 Klar, 2 acknowledged, the new 3 Klar.
        assert_eq!(loebenr(&alle_klar(&*s, a).await), vec![2, 3]);
        assert_eq!(loebenr(&alle_klar(&*s, b).await), vec![1, 3]);
        assert_eq!(
            besked_ids(&alle_klar(&*s, a).await)[1],
            nye[0].besked_id,
            "the new message is numbered after the stored ones"
        );
        // Nothing at all is a no-op.
        assert_eq!(
            s.modtag_og_kvitter(Vec::new(), &[], T0).await.unwrap(),
            (Vec::new(), Vec::new())
        );
    }

    pub async fn skriver_session_round_after_round(s: Arc<dyn BeskedStore>, _: Target) {
        let a = opret(&*s, "A").await.uuid;
        let m = [ny(T0, &[a]), ny(T0 + 1, &[a])];
        {
            let mut w = s.skriver().await.unwrap();
            let (svar, k) = w
                .modtag_og_kvitter(vec![m[0].clone()], &[], T0)
                .await
                .unwrap();
            assert!(svar[0].ny);
            assert!(k.is_empty());
            // The next round acknowledges what the first stored.
            let (svar, k) = w
                .modtag_og_kvitter(vec![m[1].clone(), m[0].clone()], &[(a, 1)], T0 + 5)
                .await
                .unwrap();
            assert_eq!(
                svar.iter().map(|x| x.ny).collect::<Vec<_>>(),
                vec![true, false]
            );
            assert_eq!(k, vec![true]);
        }
        // Once the session is gone, other writes go on.
        assert_eq!(besked_ids(&alle_klar(&*s, a).await), vec![m[1].besked_id]);
        assert!(s.kvitter(a, 2, T0 + 10).await.unwrap());
        assert!(alle_klar(&*s, a).await.is_empty());
    }

    pub async fn ryd_kvitterede_keeps_klar(s: Arc<dyn BeskedStore>, _: Target) {
        let a = opret(&*s, "A").await.uuid;
        let b = opret(&*s, "B").await.uuid;
        // m0: a only, acknowledged early; m1: a (acknowledged) and b (Klar); m2: a, fejlkø;
        // m3: a, Klar; m4: nobody, old; m5: nobody, new; m6: a, acknowledged late.
        let m = [
            ny(T0, &[a]),
            ny(T0 + 1, &[a, b]),
            ny(T0 + 2, &[a]),
            ny(T0 + 3, &[a]),
            ny(T0 + 4, &[]),
            ny(T0 + 2_000, &[]),
            ny(T0 + 5, &[a]),
        ];
        s.modtag(m.to_vec()).await.unwrap();
        assert!(s.kvitter(a, 1, T0 + 100).await.unwrap());
        assert!(s.kvitter(a, 2, T0 + 200).await.unwrap());
        assert!(s.til_fejlkoe(a, 3, "x").await.unwrap());
        assert!(s.kvitter(a, 5, T0 + 5_000).await.unwrap());

        let foer = T0 + 1_000;
        assert_eq!(s.ryd_kvitterede(foer).await.unwrap(), 2);
        assert_eq!(s.ryd_kvitterede(foer).await.unwrap(), 0);
        assert_eq!(
            s.status(a, T0).await.unwrap(),
            DueslagStatus {
                klar: 1,
                forfaldne: 0,
                fejlkoe: 1,
                kvitteret: 1,
                aeldste_klar_fordelt: Some(T0 + 3),
            }
        );
        assert_eq!(besked_ids(&alle_klar(&*s, a).await), vec![m[3].besked_id]);
        assert_eq!(besked_ids(&alle_klar(&*s, b).await), vec![m[1].besked_id]);
        assert_eq!(
            besked_ids(&s.fejlkoe(a, 10).await.unwrap()),
            vec![m[2].besked_id]
        );
        let kept = |i: usize| {
            let s = s.clone();
            let id = m[i].besked_id;
            async move { s.hent_besked(id).await.unwrap().is_some() }
        };
        // Gone: m0 (only acknowledged, old) and m4 (never distributed, old).
        assert!(!kept(0).await && !kept(4).await);
        // Kept: still referenced (m1 by b, m2 fejlkø, m3 klar, m6 acknowledged after
        // `foer`), or accepted after `foer` (m5).
        for i in [1, 2, 3, 5, 6] {
            assert!(kept(i).await, "message {i} was removed");
        }
        // A message removed by retention is new again when repeated.
        let again = s.modtag(vec![m[0].clone()]).await.unwrap();
        assert!(again[0].ny);
        assert_eq!(loebenr(&alle_klar(&*s, a).await), vec![4, 6]);
    }
}
