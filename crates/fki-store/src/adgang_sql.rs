//! SQL of the Adgangsstyring registries ([`crate::adgang`]), shared by both backends like
//! [`crate::sql`]: builders return one [`Sql`] text with `$N` placeholders, and
//! [`adgang_impl!`] stamps out the one [`AdgangStore`](crate::adgang::AdgangStore)
//! implementation inside each backend module, on top of the helpers of
//! [`exec_helpers!`](crate::exec::exec_helpers).
//!
//! Tables (`migrations/*/0002_adgang.sql`): `adgang_system`, `adgang_service`, `adgang_aftale`
//! (roles and data restrictions as JSON text), `adgang_audit`.

use fki_oio::store::{StoreError, StoreResult};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::adgang::{
    AftaleFilter, AftaleStatus, AuditEntry, AuditQuery, Dataafgraensning, ItSystem,
    KENDTE_SERVICES, Service, Serviceaftale, SystemRolle, kendt_service_uuid,
};
use crate::sql::{Bind, Sql, parse_uuid};

// ---------------------------------------------------------------------------------------------
// Rows

const SYSTEM_COLS: &str =
    "uuid, navn, cvr, rolle, certifikat_sha256, certifikat_der, subject, oprettet";
const SERVICE_COLS: &str = "uuid, entity_id, navn, sf";
const AFTALE_COLS: &str =
    "uuid, system_uuid, service_uuid, myndighed, roller, dataafgraensninger, status, aendret";
const AUDIT_COLS: &str = "id, tid, haendelse, system_uuid, certifikat_sha256, service, myndighed, \
     resultat, aarsag, reference, sf, operation, status";

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SystemRow {
    uuid: String,
    navn: String,
    cvr: String,
    rolle: String,
    certifikat_sha256: String,
    certifikat_der: Vec<u8>,
    subject: String,
    oprettet: i64,
}

impl crate::exec::IntoDomain for SystemRow {
    type Out = ItSystem;
    fn into_domain(self) -> StoreResult<ItSystem> {
        Ok(ItSystem {
            uuid: parse_uuid(&self.uuid, "adgang_system.uuid")?,
            rolle: SystemRolle::parse(&self.rolle).ok_or_else(|| {
                StoreError::Backend(format!("bad system role '{}' in database", self.rolle))
            })?,
            navn: self.navn,
            cvr: self.cvr,
            certifikat_sha256: self.certifikat_sha256,
            certifikat_der: self.certifikat_der,
            subject: self.subject,
            oprettet: self.oprettet,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ServiceRow {
    uuid: String,
    entity_id: String,
    navn: String,
    sf: String,
}

impl crate::exec::IntoDomain for ServiceRow {
    type Out = Service;
    fn into_domain(self) -> StoreResult<Service> {
        Ok(Service {
            uuid: parse_uuid(&self.uuid, "adgang_service.uuid")?,
            entity_id: self.entity_id,
            navn: self.navn,
            sf: self.sf,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AftaleRow {
    uuid: String,
    system_uuid: String,
    service_uuid: String,
    myndighed: String,
    roller: String,
    dataafgraensninger: String,
    status: String,
    aendret: i64,
}

impl crate::exec::IntoDomain for AftaleRow {
    type Out = Serviceaftale;
    fn into_domain(self) -> StoreResult<Serviceaftale> {
        let bad = |what: &str, e: String| {
            StoreError::Backend(format!(
                "bad {what} of agreement {} in database: {e}",
                self.uuid
            ))
        };
        let roller: Vec<String> =
            serde_json::from_str(&self.roller).map_err(|e| bad("roller", e.to_string()))?;
        let da: Vec<Value> = serde_json::from_str(&self.dataafgraensninger)
            .map_err(|e| bad("dataafgraensninger", e.to_string()))?;
        let dataafgraensninger = da
            .iter()
            .map(|v| match (v["navn"].as_str(), v["vaerdi"].as_str()) {
                (Some(n), Some(w)) => Ok(Dataafgraensning {
                    navn: n.to_owned(),
                    vaerdi: w.to_owned(),
                }),
                _ => Err(bad("dataafgraensninger", format!("unexpected entry {v}"))),
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let status = AftaleStatus::parse(&self.status)
            .ok_or_else(|| bad("status", format!("unknown status '{}'", self.status)))?;
        Ok(Serviceaftale {
            uuid: parse_uuid(&self.uuid, "adgang_aftale.uuid")?,
            system: parse_uuid(&self.system_uuid, "adgang_aftale.system_uuid")?,
            service: parse_uuid(&self.service_uuid, "adgang_aftale.service_uuid")?,
            myndighed: self.myndighed,
            roller,
            dataafgraensninger,
            status,
            aendret: self.aendret,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AuditRow {
    id: i64,
    tid: i64,
    haendelse: String,
    system_uuid: Option<String>,
    certifikat_sha256: Option<String>,
    service: Option<String>,
    myndighed: Option<String>,
    resultat: String,
    aarsag: Option<String>,
    reference: Option<String>,
    sf: Option<String>,
    operation: Option<String>,
    status: Option<i64>,
}

impl crate::exec::IntoDomain for AuditRow {
    type Out = AuditEntry;
    fn into_domain(self) -> StoreResult<AuditEntry> {
        Ok(AuditEntry {
            id: self.id,
            tid: self.tid,
            haendelse: self.haendelse,
            system: self
                .system_uuid
                .as_deref()
                .map(|u| parse_uuid(u, "adgang_audit.system_uuid"))
                .transpose()?,
            certifikat_sha256: self.certifikat_sha256,
            service: self.service,
            myndighed: self.myndighed,
            resultat: self.resultat,
            aarsag: self.aarsag,
            reference: self.reference,
            sf: self.sf,
            operation: self.operation,
            status: self.status,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Systems

pub(crate) fn insert_system(s: &ItSystem) -> Sql {
    let mut q = Sql::new(&format!(
        "INSERT INTO adgang_system ({SYSTEM_COLS}) VALUES "
    ));
    q.list([
        Bind::Text(s.uuid.to_string()),
        Bind::Text(s.navn.clone()),
        Bind::Text(s.cvr.clone()),
        Bind::Text(s.rolle.as_str().to_owned()),
        Bind::Text(s.certifikat_sha256.to_ascii_lowercase()),
        Bind::Bytes(s.certifikat_der.clone()),
        Bind::Text(s.subject.clone()),
        Bind::I64(s.oprettet),
    ]);
    q
}

pub(crate) fn select_system(uuid: Uuid) -> Sql {
    let mut q = Sql::new(&format!(
        "SELECT {SYSTEM_COLS} FROM adgang_system WHERE uuid = "
    ));
    q.arg(Bind::Text(uuid.to_string()));
    q
}

pub(crate) fn select_system_by_certificate(sha256: &str) -> Sql {
    let mut q = Sql::new(&format!(
        "SELECT {SYSTEM_COLS} FROM adgang_system WHERE certifikat_sha256 = "
    ));
    q.arg(Bind::Text(sha256.trim().to_ascii_lowercase()));
    q
}

pub(crate) fn select_systems() -> Sql {
    Sql::new(&format!(
        "SELECT {SYSTEM_COLS} FROM adgang_system ORDER BY navn, uuid"
    ))
}

// ---------------------------------------------------------------------------------------------
// Services

/// Insert or update by entity ID, returning the stored row (its first UUID).
pub(crate) fn upsert_service(s: &Service) -> Sql {
    let mut q = Sql::new(&format!(
        "INSERT INTO adgang_service ({SERVICE_COLS}) VALUES "
    ));
    q.list([
        Bind::Text(s.uuid.to_string()),
        Bind::Text(s.entity_id.clone()),
        Bind::Text(s.navn.clone()),
        Bind::Text(s.sf.clone()),
    ]);
    q.push(&format!(
        " ON CONFLICT (entity_id) DO UPDATE SET navn = excluded.navn, sf = excluded.sf \
         RETURNING {SERVICE_COLS}"
    ));
    q
}

/// Insert the [`KENDTE_SERVICES`] that are missing; existing rows (perhaps renamed) are kept.
pub(crate) fn seed_services() -> Sql {
    let mut q = Sql::new(&format!(
        "INSERT INTO adgang_service ({SERVICE_COLS}) VALUES "
    ));
    for (i, (entity_id, navn, sf)) in KENDTE_SERVICES.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.list([
            Bind::Text(kendt_service_uuid(entity_id).to_string()),
            Bind::Text((*entity_id).to_owned()),
            Bind::Text((*navn).to_owned()),
            Bind::Text((*sf).to_owned()),
        ]);
    }
    // No conflict target: a concurrent seeder may collide on either unique index.
    q.push(" ON CONFLICT DO NOTHING");
    q
}

pub(crate) fn select_service_by_entity_id(entity_id: &str) -> Sql {
    let mut q = Sql::new(&format!(
        "SELECT {SERVICE_COLS} FROM adgang_service WHERE entity_id = "
    ));
    q.arg(Bind::Text(entity_id.to_owned()));
    q
}

pub(crate) fn select_services() -> Sql {
    Sql::new(&format!(
        "SELECT {SERVICE_COLS} FROM adgang_service ORDER BY sf, entity_id"
    ))
}

// ---------------------------------------------------------------------------------------------
// Agreements

pub(crate) fn insert_aftale(a: &Serviceaftale) -> Sql {
    let roller = Value::from(a.roller.clone()).to_string();
    let da = Value::Array(
        a.dataafgraensninger
            .iter()
            .map(|d| json!({"navn": d.navn, "vaerdi": d.vaerdi}))
            .collect(),
    )
    .to_string();
    let mut q = Sql::new(
        "INSERT INTO adgang_aftale (uuid, system_uuid, service_uuid, myndighed, roller, \
         dataafgraensninger, status, oprettet, aendret) VALUES ",
    );
    q.list([
        Bind::Text(a.uuid.to_string()),
        Bind::Text(a.system.to_string()),
        Bind::Text(a.service.to_string()),
        Bind::Text(a.myndighed.clone()),
        Bind::Text(roller),
        Bind::Text(da),
        Bind::Text(a.status.as_str().to_owned()),
        Bind::I64(a.aendret),
        Bind::I64(a.aendret),
    ]);
    q
}

pub(crate) fn select_aftale(uuid: Uuid) -> Sql {
    let mut q = Sql::new(&format!(
        "SELECT {AFTALE_COLS} FROM adgang_aftale WHERE uuid = "
    ));
    q.arg(Bind::Text(uuid.to_string()));
    q
}

/// Oldest first.
pub(crate) fn select_aftaler(f: &AftaleFilter) -> Sql {
    let mut q = Sql::new(&format!(
        "SELECT {AFTALE_COLS} FROM adgang_aftale WHERE TRUE"
    ));
    if let Some(s) = f.system {
        q.push(" AND system_uuid = ").arg(Bind::Text(s.to_string()));
    }
    if let Some(s) = f.service {
        q.push(" AND service_uuid = ")
            .arg(Bind::Text(s.to_string()));
    }
    if let Some(m) = &f.myndighed {
        q.push(" AND myndighed = ").arg(Bind::Text(m.clone()));
    }
    if let Some(s) = f.status {
        q.push(" AND status = ")
            .arg(Bind::Text(s.as_str().to_owned()));
    }
    q.push(" ORDER BY oprettet, uuid");
    q
}

const ALLE_STATUS: [AftaleStatus; 4] = [
    AftaleStatus::Anmodet,
    AftaleStatus::Godkendt,
    AftaleStatus::Aktiv,
    AftaleStatus::Tilbagekaldt,
];

/// The check-and-set of a lifecycle step: one conditional `UPDATE` that only matches while the
/// stored status may become `to`, returning the updated row. No row: no such agreement, or the
/// lifecycle forbids the step (the caller reads the row to tell which). Atomic on both backends:
/// SQLite runs it on the single writer connection; PostgreSQL re-checks the condition on the
/// newest row version after waiting for a concurrent writer's lock.
pub(crate) fn update_aftale_status(uuid: Uuid, to: AftaleStatus, tid: i64) -> Sql {
    let mut q = Sql::new("UPDATE adgang_aftale SET status = ");
    q.arg(Bind::Text(to.as_str().to_owned()))
        .push(", aendret = ")
        .arg(Bind::I64(tid))
        .push(" WHERE uuid = ")
        .arg(Bind::Text(uuid.to_string()));
    let fra: Vec<Bind> = ALLE_STATUS
        .iter()
        .filter(|s| s.may_become(to))
        .map(|s| Bind::Text(s.as_str().to_owned()))
        .collect();
    if fra.is_empty() {
        q.push(" AND FALSE");
    } else {
        q.push(" AND status IN ").list(fra);
    }
    q.push(&format!(" RETURNING {AFTALE_COLS}"));
    q
}

/// The Conflict for a forbidden step.
pub(crate) fn forbidden_step(a: &Serviceaftale, to: AftaleStatus) -> StoreError {
    StoreError::Conflict(format!(
        "serviceaftale {} is '{}' and cannot become '{}' (lifecycle: anmodet -> godkendt -> \
         aktiv; tilbagekaldt from any other status)",
        a.uuid,
        a.status.as_str(),
        to.as_str()
    ))
}

// ---------------------------------------------------------------------------------------------
// Audit log

const AUDIT_INSERT: &str = "INSERT INTO adgang_audit (tid, haendelse, system_uuid, \
     certifikat_sha256, service, myndighed, resultat, aarsag, reference, sf, operation, status) VALUES ";
/// Audit entries written in one statement at most.
pub(crate) const AUDIT_CHUNK: usize = 64;

fn audit_row(q: &mut Sql, e: &AuditEntry) {
    q.list([
        Bind::I64(e.tid),
        Bind::Text(e.haendelse.clone()),
        Bind::OptText(e.system.map(|u| u.to_string())),
        Bind::OptText(e.certifikat_sha256.clone()),
        Bind::OptText(e.service.clone()),
        Bind::OptText(e.myndighed.clone()),
        Bind::Text(e.resultat.clone()),
        Bind::OptText(e.aarsag.clone()),
        Bind::OptText(e.reference.clone()),
        Bind::OptText(e.sf.clone()),
        Bind::OptText(e.operation.clone()),
        Bind::OptI64(e.status),
    ]);
}

pub(crate) fn insert_audit(e: &AuditEntry) -> Sql {
    let mut q = Sql::new(AUDIT_INSERT);
    audit_row(&mut q, e);
    q.push(" RETURNING id");
    q
}

/// Many entries, [`AUDIT_CHUNK`] per statement, in order.
pub(crate) fn insert_audit_mange(es: &[AuditEntry]) -> Vec<Sql> {
    es.chunks(AUDIT_CHUNK)
        .map(|chunk| {
            let mut q = Sql::new(AUDIT_INSERT);
            for (n, e) in chunk.iter().enumerate() {
                if n > 0 {
                    q.push(", ");
                }
                audit_row(&mut q, e);
            }
            q
        })
        .collect()
}

/// Newest first (ties: last inserted first).
pub(crate) fn select_audit(a: &AuditQuery) -> Sql {
    let mut q = Sql::new(&format!("SELECT {AUDIT_COLS} FROM adgang_audit WHERE TRUE"));
    if let Some(t) = a.fra {
        q.push(" AND tid >= ").arg(Bind::I64(t));
    }
    if let Some(t) = a.til {
        q.push(" AND tid < ").arg(Bind::I64(t));
    }
    if let Some(s) = a.system {
        q.push(" AND system_uuid = ").arg(Bind::Text(s.to_string()));
    }
    if let Some(m) = &a.myndighed {
        q.push(" AND myndighed = ").arg(Bind::Text(m.clone()));
    }
    if let Some(h) = &a.haendelse {
        q.push(" AND haendelse = ").arg(Bind::Text(h.clone()));
    }
    if let Some(sf) = &a.sf {
        q.push(" AND sf = ").arg(Bind::Text(sf.clone()));
    }
    q.push(" ORDER BY tid DESC, id DESC");
    if let Some(n) = a.limit {
        q.push(" LIMIT ").arg(Bind::I64(i64::from(n)));
    }
    q
}

pub(crate) fn prune_audit(foer: i64) -> Sql {
    let mut q = Sql::new("DELETE FROM adgang_audit WHERE tid < ");
    q.arg(Bind::I64(foer));
    q
}

// ---------------------------------------------------------------------------------------------
// The implementation, stamped out per backend

/// `impl AdgangStore for $store`, reading through the pool field `$read` and writing through
/// `$write`; also an inherent `seed_services`. Expands inside a backend module after
/// `exec_helpers!`, whose `execute`/`fetch_*` it calls.
macro_rules! adgang_impl {
    ($store:ty, read = $read:ident, write = $write:ident) => {
        impl $store {
            /// Insert the known services that are missing ([`crate::adgang::KENDTE_SERVICES`]).
            async fn seed_services(&self) -> StoreResult<()> {
                execute(
                    &self.$write,
                    $crate::adgang_sql::seed_services(),
                    "seeding known services",
                )
                .await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::adgang::AdgangStore for $store {
            async fn put_system(&self, s: &$crate::adgang::ItSystem) -> StoreResult<()> {
                execute(
                    &self.$write,
                    $crate::adgang_sql::insert_system(s),
                    "registering system",
                )
                .await?;
                Ok(())
            }

            async fn system(
                &self,
                uuid: uuid::Uuid,
            ) -> StoreResult<Option<$crate::adgang::ItSystem>> {
                fetch_optional_into::<$crate::adgang_sql::SystemRow, _>(
                    &self.$read,
                    $crate::adgang_sql::select_system(uuid),
                    "reading system",
                )
                .await
            }

            async fn system_by_certificate(
                &self,
                sha256: &str,
            ) -> StoreResult<Option<$crate::adgang::ItSystem>> {
                fetch_optional_into::<$crate::adgang_sql::SystemRow, _>(
                    &self.$read,
                    $crate::adgang_sql::select_system_by_certificate(sha256),
                    "reading system by certificate",
                )
                .await
            }

            async fn systems(&self) -> StoreResult<Vec<$crate::adgang::ItSystem>> {
                fetch_all_into::<$crate::adgang_sql::SystemRow, _>(
                    &self.$read,
                    $crate::adgang_sql::select_systems(),
                    "listing systems",
                )
                .await
            }

            async fn put_service(
                &self,
                s: &$crate::adgang::Service,
            ) -> StoreResult<$crate::adgang::Service> {
                let row = fetch_optional::<$crate::adgang_sql::ServiceRow, _>(
                    &self.$write,
                    $crate::adgang_sql::upsert_service(s),
                    "storing service",
                )
                .await?
                .ok_or_else(|| {
                    StoreError::Backend("storing service: no row returned".to_owned())
                })?;
                $crate::exec::IntoDomain::into_domain(row)
            }

            async fn service_by_entity_id(
                &self,
                entity_id: &str,
            ) -> StoreResult<Option<$crate::adgang::Service>> {
                fetch_optional_into::<$crate::adgang_sql::ServiceRow, _>(
                    &self.$read,
                    $crate::adgang_sql::select_service_by_entity_id(entity_id),
                    "reading service",
                )
                .await
            }

            async fn services(&self) -> StoreResult<Vec<$crate::adgang::Service>> {
                fetch_all_into::<$crate::adgang_sql::ServiceRow, _>(
                    &self.$read,
                    $crate::adgang_sql::select_services(),
                    "listing services",
                )
                .await
            }

            async fn put_aftale(&self, a: &$crate::adgang::Serviceaftale) -> StoreResult<()> {
                execute(
                    &self.$write,
                    $crate::adgang_sql::insert_aftale(a),
                    "storing serviceaftale",
                )
                .await?;
                Ok(())
            }

            async fn aftale(
                &self,
                uuid: uuid::Uuid,
            ) -> StoreResult<Option<$crate::adgang::Serviceaftale>> {
                fetch_optional_into::<$crate::adgang_sql::AftaleRow, _>(
                    &self.$read,
                    $crate::adgang_sql::select_aftale(uuid),
                    "reading serviceaftale",
                )
                .await
            }

            async fn set_aftale_status(
                &self,
                uuid: uuid::Uuid,
                to: $crate::adgang::AftaleStatus,
                tid: i64,
            ) -> StoreResult<Option<$crate::adgang::Serviceaftale>> {
                let updated = fetch_optional::<$crate::adgang_sql::AftaleRow, _>(
                    &self.$write,
                    $crate::adgang_sql::update_aftale_status(uuid, to, tid),
                    "changing serviceaftale status",
                )
                .await?;
                if let Some(row) = updated {
                    return $crate::exec::IntoDomain::into_domain(row).map(Some);
                }
                // Nothing matched: unknown, or the lifecycle forbids the step from the status
                // now stored (a status only moves forward, so this answer stays true).
                let current = fetch_optional::<$crate::adgang_sql::AftaleRow, _>(
                    &self.$write,
                    $crate::adgang_sql::select_aftale(uuid),
                    "reading serviceaftale",
                )
                .await?;
                match current {
                    None => Ok(None),
                    Some(row) => Err($crate::adgang_sql::forbidden_step(
                        &$crate::exec::IntoDomain::into_domain(row)?,
                        to,
                    )),
                }
            }

            async fn aftaler(
                &self,
                f: &$crate::adgang::AftaleFilter,
            ) -> StoreResult<Vec<$crate::adgang::Serviceaftale>> {
                fetch_all_into::<$crate::adgang_sql::AftaleRow, _>(
                    &self.$read,
                    $crate::adgang_sql::select_aftaler(f),
                    "listing serviceaftaler",
                )
                .await
            }

            async fn audit(&self, e: &$crate::adgang::AuditEntry) -> StoreResult<i64> {
                fetch_one_column::<i64, _>(
                    &self.$write,
                    $crate::adgang_sql::insert_audit(e),
                    "writing audit log",
                )
                .await
            }

            async fn audit_query(
                &self,
                q: &$crate::adgang::AuditQuery,
            ) -> StoreResult<Vec<$crate::adgang::AuditEntry>> {
                fetch_all_into::<$crate::adgang_sql::AuditRow, _>(
                    &self.$read,
                    $crate::adgang_sql::select_audit(q),
                    "reading audit log",
                )
                .await
            }

            async fn audit_mange(&self, es: &[$crate::adgang::AuditEntry]) -> StoreResult<()> {
                if es.is_empty() {
                    return Ok(());
                }
                self.skriv_alle(
                    $crate::adgang_sql::insert_audit_mange(es),
                    "writing audit log",
                )
                .await
                .map(|_| ())
            }

            async fn audit_prune(&self, foer: i64) -> StoreResult<u64> {
                execute(
                    &self.$write,
                    $crate::adgang_sql::prune_audit(foer),
                    "pruning audit log",
                )
                .await
            }
        }
    };
}

pub(crate) use adgang_impl;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_update_matches_only_allowed_sources() {
        let u = Uuid::nil();
        let q = update_aftale_status(u, AftaleStatus::Aktiv, 5);
        assert!(q.text.contains("status IN ($4)"), "{}", q.text);
        assert_eq!(q.binds[3], Bind::Text("godkendt".into()));
        let q = update_aftale_status(u, AftaleStatus::Tilbagekaldt, 5);
        assert!(q.text.contains("status IN ($4, $5, $6)"), "{}", q.text);
        let q = update_aftale_status(u, AftaleStatus::Anmodet, 5);
        assert!(q.text.contains("AND FALSE"), "{}", q.text);
    }

    #[test]
    fn seeded_uuids_are_stable() {
        assert_eq!(
            kendt_service_uuid(KENDTE_SERVICES[0].0),
            kendt_service_uuid("http://stoettesystemerne.dk/service/organisation/3")
        );
        assert_eq!(seed_services().binds.len(), KENDTE_SERVICES.len() * 4);
    }
}
