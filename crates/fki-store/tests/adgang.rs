//! Conformance of the Adgangsstyring registries ([`fki_store::adgang::AdgangStore`]): every body
//! runs against SQLite (a temp file) always, and against PostgreSQL when
//! `FKI_TEST_POSTGRES_URL` is set (a fresh database per test), like `conformance.rs`.

use std::sync::Arc;

use fki_oio::store::StoreError;
use fki_store::adgang::{
    AdgangStore, AftaleFilter, AftaleStatus, AuditEntry, AuditQuery, Dataafgraensning, ItSystem,
    KENDTE_SERVICES, Service, Serviceaftale, SystemRolle, kendt_service_uuid,
};
use uuid::Uuid;

#[macro_use]
mod common;

use common::Target;

conformance!(
    |s| s.adgang;
    register_and_look_up_systems,
    duplicate_system_conflicts,
    services_seeded_once,
    put_service_upserts_by_entity_id,
    aftale_round_trip_and_filters,
    aftale_needs_system_and_service,
    aftale_lifecycle,
    concurrent_transitions_one_wins,
    audit_insert_query_prune,
    audit_calls_in_batches,
);

// ---------------------------------------------------------------------------------------------
// Builders

fn system(navn: &str, cvr: &str, cert: &[u8]) -> ItSystem {
    ItSystem {
        uuid: Uuid::new_v4(),
        navn: navn.into(),
        cvr: cvr.into(),
        rolle: SystemRolle::Anvendersystem,
        certifikat_sha256: format!("{:064x}", fnv(cert)),
        certifikat_der: cert.to_vec(),
        subject: format!("CN={navn}, O={cvr}"),
        oprettet: 1_700_000_000_000_000,
    }
}

/// A stand-in fingerprint (the store does not compute it).
fn fnv(b: &[u8]) -> u128 {
    b.iter()
        .fold(0x6c62272e07bb014262b821756295c58d_u128, |h, x| {
            (h ^ u128::from(*x)).wrapping_mul(0x0000000001000000000000000000013B)
        })
}

fn aftale(system: Uuid, service: Uuid, cvr: &str, tid: i64) -> Serviceaftale {
    Serviceaftale {
        uuid: Uuid::new_v4(),
        system,
        service,
        myndighed: cvr.into(),
        roller: vec!["http://fki.dk/roles/usersystemrole/laes/1".into()],
        dataafgraensninger: vec![Dataafgraensning {
            navn: "KLE".into(),
            vaerdi: "27.*".into(),
        }],
        status: AftaleStatus::Anmodet,
        aendret: tid,
    }
}

fn entry(tid: i64, haendelse: &str, system: Option<Uuid>, cvr: Option<&str>) -> AuditEntry {
    AuditEntry {
        id: 0,
        tid,
        haendelse: haendelse.into(),
        system,
        certifikat_sha256: Some("ab".repeat(32)),
        service: Some(KENDTE_SERVICES[0].0.into()),
        myndighed: cvr.map(str::to_owned),
        resultat: if haendelse == "token_issued" {
            "ok".into()
        } else {
            "no_agreement".into()
        },
        aarsag: Some("because".into()),
        reference: Some(format!("urn:uuid:{}", Uuid::new_v4())),
        ..Default::default()
    }
}

async fn organisation(s: &dyn AdgangStore) -> Service {
    s.service_by_entity_id(KENDTE_SERVICES[0].0)
        .await
        .unwrap()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Bodies

mod bodies {
    use super::*;

    pub async fn register_and_look_up_systems(s: Arc<dyn AdgangStore>, _: Target) {
        let a = system("Bravo", "12345678", b"cert-a");
        let mut b = system("Alfa", "87654321", b"cert-b");
        b.rolle = SystemRolle::Serviceudbyder;
        s.put_system(&a).await.unwrap();
        s.put_system(&b).await.unwrap();

        assert_eq!(s.system(a.uuid).await.unwrap(), Some(a.clone()));
        assert_eq!(s.system(Uuid::new_v4()).await.unwrap(), None);
        assert_eq!(
            s.system_by_certificate(&b.certifikat_sha256).await.unwrap(),
            Some(b.clone())
        );
        // Fingerprints compare case-insensitively.
        assert_eq!(
            s.system_by_certificate(&a.certifikat_sha256.to_uppercase())
                .await
                .unwrap(),
            Some(a.clone())
        );
        assert_eq!(
            s.system_by_certificate(&"0".repeat(64)).await.unwrap(),
            None
        );
        // Listed by name.
        assert_eq!(s.systems().await.unwrap(), vec![b, a]);
    }

    pub async fn duplicate_system_conflicts(s: Arc<dyn AdgangStore>, _: Target) {
        let a = system("A", "12345678", b"same");
        s.put_system(&a).await.unwrap();
        // Same certificate, new UUID.
        let mut again = system("B", "12345678", b"same");
        again.uuid = Uuid::new_v4();
        assert!(matches!(
            s.put_system(&again).await,
            Err(StoreError::Conflict(_))
        ));
        // Same UUID, other certificate.
        let mut same_uuid = system("C", "12345678", b"other");
        same_uuid.uuid = a.uuid;
        assert!(matches!(
            s.put_system(&same_uuid).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(s.systems().await.unwrap(), vec![a]);
    }

    pub async fn services_seeded_once(s: Arc<dyn AdgangStore>, t: Target) {
        let seeded = s.services().await.unwrap();
        assert_eq!(seeded.len(), KENDTE_SERVICES.len());
        for (entity_id, navn, sf) in KENDTE_SERVICES {
            let got = s.service_by_entity_id(entity_id).await.unwrap().unwrap();
            assert_eq!(got.uuid, kendt_service_uuid(entity_id));
            assert_eq!((got.navn.as_str(), got.sf.as_str()), (*navn, *sf));
        }
        // A rename survives reopening, and nothing is seeded twice.
        let mut org = organisation(&*s).await;
        org.navn = "Organisation (renamed)".into();
        s.put_service(&org).await.unwrap();
        let again = t.open().await;
        let again2 = t.open().await;
        let after = again.adgang.services().await.unwrap();
        assert_eq!(after.len(), KENDTE_SERVICES.len());
        assert_eq!(
            organisation(&*again2.adgang).await.navn,
            "Organisation (renamed)"
        );
    }

    pub async fn put_service_upserts_by_entity_id(s: Arc<dyn AdgangStore>, _: Target) {
        let new = Service {
            uuid: Uuid::new_v4(),
            entity_id: "http://fki.dk/service/test/1".into(),
            navn: "Test".into(),
            sf: "SF9999".into(),
        };
        assert_eq!(s.put_service(&new).await.unwrap(), new);
        // Same entity ID, other UUID: updated in place, first UUID kept.
        let update = Service {
            uuid: Uuid::new_v4(),
            navn: "Test 2".into(),
            sf: "SF9998".into(),
            ..new.clone()
        };
        let stored = s.put_service(&update).await.unwrap();
        assert_eq!(stored.uuid, new.uuid);
        assert_eq!(
            (stored.navn.as_str(), stored.sf.as_str()),
            ("Test 2", "SF9998")
        );
        assert_eq!(
            s.service_by_entity_id(&new.entity_id).await.unwrap(),
            Some(stored)
        );
        assert_eq!(s.services().await.unwrap().len(), KENDTE_SERVICES.len() + 1);
        assert_eq!(s.service_by_entity_id("nope").await.unwrap(), None);
    }

    pub async fn aftale_round_trip_and_filters(s: Arc<dyn AdgangStore>, _: Target) {
        let x = system("X", "11111111", b"x");
        let y = system("Y", "22222222", b"y");
        s.put_system(&x).await.unwrap();
        s.put_system(&y).await.unwrap();
        let org = organisation(&*s).await;
        let kla = s
            .service_by_entity_id(KENDTE_SERVICES[1].0)
            .await
            .unwrap()
            .unwrap();

        let a1 = aftale(x.uuid, org.uuid, "29189846", 1);
        let mut a2 = aftale(x.uuid, kla.uuid, "29189846", 2);
        a2.roller.clear();
        a2.dataafgraensninger.clear();
        let mut a3 = aftale(y.uuid, org.uuid, "55133018", 3);
        a3.roller.push("urn:rolle:2".into());
        a3.dataafgraensninger.push(Dataafgraensning {
            navn: "Myndighed".into(),
            vaerdi: "æøå \"quoted\"".into(),
        });
        for a in [&a1, &a2, &a3] {
            s.put_aftale(a).await.unwrap();
        }
        assert!(matches!(
            s.put_aftale(&a1).await,
            Err(StoreError::Conflict(_))
        ));

        assert_eq!(s.aftale(a3.uuid).await.unwrap(), Some(a3.clone()));
        assert_eq!(s.aftale(Uuid::new_v4()).await.unwrap(), None);

        let all = s.aftaler(&AftaleFilter::default()).await.unwrap();
        assert_eq!(all, vec![a1.clone(), a2.clone(), a3.clone()]);
        let by_system = AftaleFilter {
            system: Some(x.uuid),
            ..Default::default()
        };
        assert_eq!(
            s.aftaler(&by_system).await.unwrap(),
            vec![a1.clone(), a2.clone()]
        );
        let by_service = AftaleFilter {
            service: Some(org.uuid),
            ..Default::default()
        };
        assert_eq!(
            s.aftaler(&by_service).await.unwrap(),
            vec![a1.clone(), a3.clone()]
        );
        let by_cvr = AftaleFilter {
            myndighed: Some("55133018".into()),
            ..Default::default()
        };
        assert_eq!(s.aftaler(&by_cvr).await.unwrap(), vec![a3.clone()]);

        s.set_aftale_status(a2.uuid, AftaleStatus::Godkendt, 10)
            .await
            .unwrap();
        let godkendt = AftaleFilter {
            status: Some(AftaleStatus::Godkendt),
            ..Default::default()
        };
        let got = s.aftaler(&godkendt).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].uuid, a2.uuid);
        let all_of_it = AftaleFilter {
            system: Some(x.uuid),
            service: Some(kla.uuid),
            myndighed: Some("29189846".into()),
            status: Some(AftaleStatus::Godkendt),
        };
        assert_eq!(s.aftaler(&all_of_it).await.unwrap(), got);
        let none = AftaleFilter {
            system: Some(y.uuid),
            status: Some(AftaleStatus::Godkendt),
            ..Default::default()
        };
        assert!(s.aftaler(&none).await.unwrap().is_empty());
    }

    pub async fn aftale_needs_system_and_service(s: Arc<dyn AdgangStore>, _: Target) {
        let x = system("X", "11111111", b"x");
        s.put_system(&x).await.unwrap();
        let org = organisation(&*s).await;
        let no_system = aftale(Uuid::new_v4(), org.uuid, "29189846", 1);
        assert!(matches!(
            s.put_aftale(&no_system).await,
            Err(StoreError::Backend(_))
        ));
        let no_service = aftale(x.uuid, Uuid::new_v4(), "29189846", 1);
        assert!(matches!(
            s.put_aftale(&no_service).await,
            Err(StoreError::Backend(_))
        ));
        assert!(
            s.aftaler(&AftaleFilter::default())
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub async fn aftale_lifecycle(s: Arc<dyn AdgangStore>, _: Target) {
        use AftaleStatus::*;
        let x = system("X", "11111111", b"x");
        s.put_system(&x).await.unwrap();
        let org = organisation(&*s).await;
        let a = aftale(x.uuid, org.uuid, "29189846", 1);
        s.put_aftale(&a).await.unwrap();

        let conflict = |r: Result<Option<Serviceaftale>, StoreError>| match r {
            Err(StoreError::Conflict(m)) => m,
            other => panic!("expected a conflict, got {other:?}"),
        };
        // Skipping a step, or going back, is refused and changes nothing.
        let m = conflict(s.set_aftale_status(a.uuid, Aktiv, 2).await);
        assert!(m.contains("'anmodet'") && m.contains("'aktiv'"), "{m}");
        conflict(s.set_aftale_status(a.uuid, Anmodet, 2).await);
        assert_eq!(s.aftale(a.uuid).await.unwrap(), Some(a.clone()));

        let g = s
            .set_aftale_status(a.uuid, Godkendt, 3)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((g.status, g.aendret), (Godkendt, 3));
        assert_eq!(g.roller, a.roller);
        conflict(s.set_aftale_status(a.uuid, Godkendt, 4).await);
        let akt = s
            .set_aftale_status(a.uuid, Aktiv, 5)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((akt.status, akt.aendret), (Aktiv, 5));
        conflict(s.set_aftale_status(a.uuid, Godkendt, 6).await);
        let t = s
            .set_aftale_status(a.uuid, Tilbagekaldt, 7)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((t.status, t.aendret), (Tilbagekaldt, 7));
        for to in [Anmodet, Godkendt, Aktiv, Tilbagekaldt] {
            conflict(s.set_aftale_status(a.uuid, to, 8).await);
        }
        assert_eq!(s.aftale(a.uuid).await.unwrap(), Some(t));

        // Revocation straight from anmodet; unknown agreements are None.
        let b = aftale(x.uuid, org.uuid, "29189846", 1);
        s.put_aftale(&b).await.unwrap();
        assert!(
            s.set_aftale_status(b.uuid, Tilbagekaldt, 2)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(
            s.set_aftale_status(Uuid::new_v4(), Godkendt, 2)
                .await
                .unwrap(),
            None
        );
    }

    pub async fn concurrent_transitions_one_wins(s: Arc<dyn AdgangStore>, _: Target) {
        let x = system("X", "11111111", b"x");
        s.put_system(&x).await.unwrap();
        let org = organisation(&*s).await;
        for round in 0..3 {
            let a = aftale(x.uuid, org.uuid, "29189846", 1);
            s.put_aftale(&a).await.unwrap();
            // Eight racers per step; half of them try to revoke instead in the last round.
            let mut tasks = Vec::new();
            for i in 0..8 {
                let (s, uuid) = (s.clone(), a.uuid);
                let to = if round == 2 && i % 2 == 1 {
                    AftaleStatus::Tilbagekaldt
                } else {
                    AftaleStatus::Godkendt
                };
                tasks.push(tokio::spawn(async move {
                    (to, s.set_aftale_status(uuid, to, 100 + i).await)
                }));
            }
            let mut won = Vec::new();
            for t in tasks {
                match t.await.unwrap() {
                    (to, Ok(Some(a))) => {
                        assert_eq!(a.status, to);
                        won.push(a);
                    }
                    (_, Err(StoreError::Conflict(_))) => {}
                    (_, other) => panic!("unexpected {other:?}"),
                }
            }
            let stored = s.aftale(a.uuid).await.unwrap().unwrap();
            if round == 2 {
                // Godkendt then Tilbagekaldt may both win, in that order; never two of a kind.
                assert!(!won.is_empty() && won.len() <= 2, "{won:?}");
                let g = won
                    .iter()
                    .filter(|a| a.status == AftaleStatus::Godkendt)
                    .count();
                let t = won.len() - g;
                assert!(g <= 1 && t <= 1, "{won:?}");
            } else {
                assert_eq!(won.len(), 1, "{won:?}");
                assert_eq!(stored, won[0]);
            }
        }
    }

    pub async fn audit_insert_query_prune(s: Arc<dyn AdgangStore>, _: Target) {
        let sys1 = Uuid::new_v4();
        let sys2 = Uuid::new_v4();
        let e = [
            entry(100, "token_issued", Some(sys1), Some("11111111")),
            entry(200, "token_refused", Some(sys2), Some("22222222")),
            entry(200, "token_issued", Some(sys1), Some("22222222")),
            entry(300, "request_refused", None, None),
            entry(400, "token_issued", Some(sys2), Some("11111111")),
        ];
        let mut ids = Vec::new();
        for x in &e {
            ids.push(s.audit(x).await.unwrap());
        }
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        let with_id = |i: usize| AuditEntry {
            id: ids[i],
            ..e[i].clone()
        };

        // Newest first; ties by insertion, last first.
        let all = s.audit_query(&AuditQuery::default()).await.unwrap();
        assert_eq!(
            all,
            vec![with_id(4), with_id(3), with_id(2), with_id(1), with_id(0)]
        );
        let q = |f: fn(&mut AuditQuery)| {
            let mut q = AuditQuery::default();
            f(&mut q);
            let s = s.clone();
            async move {
                s.audit_query(&q)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|e| e.id)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            q(|q| q.fra = Some(200)).await,
            vec![ids[4], ids[3], ids[2], ids[1]]
        );
        assert_eq!(q(|q| q.til = Some(300)).await, vec![ids[2], ids[1], ids[0]]);
        assert_eq!(
            q(|q| {
                q.fra = Some(200);
                q.til = Some(300);
            })
            .await,
            vec![ids[2], ids[1]]
        );
        let sys1_ids = {
            let mut a = AuditQuery {
                system: Some(sys1),
                ..Default::default()
            };
            let got: Vec<i64> = s
                .audit_query(&a)
                .await
                .unwrap()
                .iter()
                .map(|e| e.id)
                .collect();
            a.limit = Some(1);
            let one = s.audit_query(&a).await.unwrap();
            assert_eq!(one.len(), 1);
            assert_eq!(one[0].id, ids[2]);
            got
        };
        assert_eq!(sys1_ids, vec![ids[2], ids[0]]);
        assert_eq!(
            q(|q| q.myndighed = Some("11111111".into())).await,
            vec![ids[4], ids[0]]
        );
        assert_eq!(
            q(|q| q.haendelse = Some("token_issued".into())).await,
            vec![ids[4], ids[2], ids[0]]
        );
        assert_eq!(q(|q| q.limit = Some(2)).await, vec![ids[4], ids[3]]);
        assert_eq!(q(|q| q.limit = Some(0)).await, Vec::<i64>::new());

        // Retention: strictly older than the bound.
        assert_eq!(s.audit_prune(200).await.unwrap(), 1);
        assert_eq!(s.audit_prune(200).await.unwrap(), 0);
        assert_eq!(q(|_| {}).await, vec![ids[4], ids[3], ids[2], ids[1]]);
        assert_eq!(s.audit_prune(i64::MAX).await.unwrap(), 4);
        assert!(q(|_| {}).await.is_empty());
        // Ids keep growing after a prune.
        let next = s.audit(&e[0]).await.unwrap();
        assert!(next > ids[4]);
    }

    /// Calls and deliveries (issue 8): many entries in one batch, in order, with SF number,
    /// operation and status; found by SF.
    pub async fn audit_calls_in_batches(s: Arc<dyn AdgangStore>, _: Target) {
        let sys = Uuid::new_v4();
        // more than one statement's worth
        let es: Vec<AuditEntry> = (0..150)
            .map(|i| AuditEntry {
                tid: 1_000 + i,
                haendelse: if i % 3 == 0 { "levering" } else { "kald" }.into(),
                system: Some(sys),
                myndighed: Some("11111111".into()),
                resultat: if i % 5 == 0 { "afvist" } else { "ok" }.into(),
                sf: Some(if i % 2 == 0 { "SF1520" } else { "SF1461" }.into()),
                operation: Some(format!("op{i}")),
                status: Some(if i % 5 == 0 { 401 } else { 200 }),
                ..Default::default()
            })
            .collect();
        s.audit_mange(&es).await.unwrap();
        s.audit_mange(&[]).await.unwrap();
        let alle = s
            .audit_query(&AuditQuery {
                system: Some(sys),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(alle.len(), 150);
        // newest first, and every field as written
        for (got, want) in alle.iter().zip(es.iter().rev()) {
            assert_eq!(
                AuditEntry {
                    id: 0,
                    ..got.clone()
                },
                *want
            );
        }
        let sf1520 = s
            .audit_query(&AuditQuery {
                sf: Some("SF1520".into()),
                haendelse: Some("kald".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        let want = es
            .iter()
            .filter(|e| e.sf.as_deref() == Some("SF1520") && e.haendelse == "kald")
            .count();
        assert_eq!(sf1520.len(), want);
        assert!(sf1520.iter().all(|e| e.sf.as_deref() == Some("SF1520")));
    }
}
