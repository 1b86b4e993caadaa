//! Adgangsstyring for systemer (SF1514/SF1512): the registries the Security Token Service and
//! every service decide access from, and the audit log (sporbarhed) of what was decided.
//!
//! - [`ItSystem`]: an anvendersystem (a caller holding a function certificate) or a
//!   serviceudbyder, known by the SHA-256 fingerprint of its certificate;
//! - [`Service`]: a service with its entity ID (the `AppliesTo` of a token request), e.g.
//!   `http://stoettesystemerne.dk/service/organisation/3`;
//! - [`Serviceaftale`]: system × service × myndighed (CVR) with granted roles and data
//!   restrictions and a lifecycle `Anmodet → Godkendt → Aktiv → Tilbagekaldt`;
//! - [`AuditEntry`]: every issued token and every refusal: system, service, CVR, time, reason.
//!
//! [`AdgangStore`] is implemented by both backends over the same tables; instants are i64
//! microseconds since the Unix epoch, as everywhere in the store.

use async_trait::async_trait;
use fki_oio::store::StoreResult;
use uuid::Uuid;

/// What an IT system is to the infrastructure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SystemRolle {
    /// Calls services (holds a function certificate, asks the STS for tokens).
    Anvendersystem,
    /// Offers a service.
    Serviceudbyder,
}

impl SystemRolle {
    /// The stored / wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SystemRolle::Anvendersystem => "anvendersystem",
            SystemRolle::Serviceudbyder => "serviceudbyder",
        }
    }

    /// Parse the stored / wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "anvendersystem" => Some(SystemRolle::Anvendersystem),
            "serviceudbyder" => Some(SystemRolle::Serviceudbyder),
            _ => None,
        }
    }
}

/// A registered IT system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItSystem {
    pub uuid: Uuid,
    pub navn: String,
    /// CVR of the organisation the system belongs to (vendor or municipality).
    pub cvr: String,
    pub rolle: SystemRolle,
    /// Lower-case hex SHA-256 of the certificate's DER; unique among systems.
    pub certifikat_sha256: String,
    /// The certificate, DER.
    pub certifikat_der: Vec<u8>,
    /// The certificate's subject, for display.
    pub subject: String,
    /// When it was registered (µs).
    pub oprettet: i64,
}

/// A service that tokens can be issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub uuid: Uuid,
    /// The entity ID (`AppliesTo`); unique.
    pub entity_id: String,
    pub navn: String,
    /// The interface it implements, e.g. `SF1500`.
    pub sf: String,
}

/// Where a service agreement is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AftaleStatus {
    /// Requested by the system's owner.
    Anmodet,
    /// Approved by the municipality.
    Godkendt,
    /// In force: tokens are issued under it.
    Aktiv,
    /// Revoked: never again in force.
    Tilbagekaldt,
}

impl AftaleStatus {
    /// The stored / wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AftaleStatus::Anmodet => "anmodet",
            AftaleStatus::Godkendt => "godkendt",
            AftaleStatus::Aktiv => "aktiv",
            AftaleStatus::Tilbagekaldt => "tilbagekaldt",
        }
    }

    /// Parse the stored / wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "anmodet" => Some(AftaleStatus::Anmodet),
            "godkendt" => Some(AftaleStatus::Godkendt),
            "aktiv" => Some(AftaleStatus::Aktiv),
            "tilbagekaldt" => Some(AftaleStatus::Tilbagekaldt),
            _ => None,
        }
    }

    /// Whether the lifecycle allows going from `self` to `to`: one step forward, or revocation
    /// from any state but `Tilbagekaldt`.
    pub fn may_become(self, to: AftaleStatus) -> bool {
        use AftaleStatus::*;
        matches!(
            (self, to),
            (Anmodet, Godkendt) | (Godkendt, Aktiv) | (Anmodet | Godkendt | Aktiv, Tilbagekaldt)
        )
    }
}

/// A data restriction of an agreement (OIO-BPP constraint), e.g. `("KLE", "27.*")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataafgraensning {
    pub navn: String,
    pub vaerdi: String,
}

/// A service agreement: `system` may call `service` on behalf of `myndighed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serviceaftale {
    pub uuid: Uuid,
    pub system: Uuid,
    pub service: Uuid,
    /// CVR of the municipality the agreement is for.
    pub myndighed: String,
    /// Granted roles (entity IDs / URNs of user system roles).
    pub roller: Vec<String>,
    pub dataafgraensninger: Vec<Dataafgraensning>,
    pub status: AftaleStatus,
    /// Last change of status (µs).
    pub aendret: i64,
}

/// Which agreements to list; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AftaleFilter {
    pub system: Option<Uuid>,
    pub service: Option<Uuid>,
    pub myndighed: Option<String>,
    pub status: Option<AftaleStatus>,
}

/// One line of the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditEntry {
    /// Assigned by the store; ignored on insert.
    pub id: i64,
    /// When (µs).
    pub tid: i64,
    /// What happened: `token_issued`, `token_refused`, `request_refused`, `request_allowed`, …
    pub haendelse: String,
    pub system: Option<Uuid>,
    /// SHA-256 of the caller's certificate, when known (also for unregistered callers).
    pub certifikat_sha256: Option<String>,
    /// Entity ID of the service.
    pub service: Option<String>,
    pub myndighed: Option<String>,
    /// `ok` or a stable refusal code (e.g. `expired`, `no_agreement`).
    pub resultat: String,
    /// Human-readable reason.
    pub aarsag: Option<String>,
    /// Correlation: WS-Addressing MessageID, `x-TransaktionsId`, …
    pub reference: Option<String>,
    /// For calls and deliveries: the interface's SF number (SKI 02.19's name, e.g. `SF1520`).
    pub sf: Option<String>,
    /// For calls and deliveries: the operation (a SOAP action's name, or `METHOD /route`).
    pub operation: Option<String>,
    /// For calls: the HTTP status answered; for deliveries: the receiver's StatusKode or HTTP
    /// status.
    pub status: Option<i64>,
}

/// Which audit entries to read; `None` matches everything. Newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Inclusive lower bound on `tid`.
    pub fra: Option<i64>,
    /// Exclusive upper bound on `tid`.
    pub til: Option<i64>,
    pub system: Option<Uuid>,
    pub myndighed: Option<String>,
    pub haendelse: Option<String>,
    pub sf: Option<String>,
    pub limit: Option<u32>,
}

/// The registries and the audit log.
#[async_trait]
pub trait AdgangStore: Send + Sync {
    /// Register a system. [`fki_oio::store::StoreError::Conflict`] if its UUID or certificate
    /// is already registered.
    async fn put_system(&self, s: &ItSystem) -> StoreResult<()>;
    async fn system(&self, uuid: Uuid) -> StoreResult<Option<ItSystem>>;
    async fn system_by_certificate(&self, sha256: &str) -> StoreResult<Option<ItSystem>>;
    async fn systems(&self) -> StoreResult<Vec<ItSystem>>;

    /// Insert or update a service, keyed by entity ID (its UUID stays the first one given).
    async fn put_service(&self, s: &Service) -> StoreResult<Service>;
    async fn service_by_entity_id(&self, entity_id: &str) -> StoreResult<Option<Service>>;
    async fn services(&self) -> StoreResult<Vec<Service>>;

    /// Insert a new agreement. Conflict if its UUID exists; Backend error if the system or
    /// service does not exist.
    async fn put_aftale(&self, a: &Serviceaftale) -> StoreResult<()>;
    async fn aftale(&self, uuid: Uuid) -> StoreResult<Option<Serviceaftale>>;
    /// Move an agreement to `to` at `tid`, atomically; Conflict if the lifecycle does not allow
    /// it from the stored status ([`AftaleStatus::may_become`]). Returns the updated agreement,
    /// `None` if there is no such agreement.
    async fn set_aftale_status(
        &self,
        uuid: Uuid,
        to: AftaleStatus,
        tid: i64,
    ) -> StoreResult<Option<Serviceaftale>>;
    async fn aftaler(&self, f: &AftaleFilter) -> StoreResult<Vec<Serviceaftale>>;

    /// Append to the audit log; returns the entry's id.
    async fn audit(&self, e: &AuditEntry) -> StoreResult<i64>;
    async fn audit_query(&self, q: &AuditQuery) -> StoreResult<Vec<AuditEntry>>;
    /// Append many entries in one transaction, in order (the calls and deliveries, batched).
    async fn audit_mange(&self, es: &[AuditEntry]) -> StoreResult<()>;
    /// Delete the entries older than `foer` (µs); how many.
    async fn audit_prune(&self, foer: i64) -> StoreResult<u64>;
}

/// The real services of the infrastructure that fki seeds into a new store (issue 3):
/// `(entity ID, name, SF number)`.
pub const KENDTE_SERVICES: &[(&str, &str, &str)] = &[
    (
        "http://stoettesystemerne.dk/service/organisation/3",
        "Organisation",
        "SF1500",
    ),
    (
        "http://entityid.kombit.dk/service/klassifikation/7",
        "Klassifikation",
        "SF1510",
    ),
    (
        "http://entityid.kombit.dk/service/bfo_afsend/2",
        "Beskedfordeler afsend",
        "SF1461",
    ),
    (
        "http://entityid.kombit.dk/service/bfo_modtag/2",
        "Beskedfordeler modtag",
        "SF1461",
    ),
    (
        "http://entityid.kombit.dk/service/sdi/sagdokumentindeks/6",
        "Sags- og dokumentindeks",
        "SF1470",
    ),
    (
        "http://entityid.kombit.dk/service/ydi/ydelseindeks/6",
        "Ydelsesindeks",
        "SF1490",
    ),
    (
        "http://cpr.serviceplatformen.dk/service/personbasedataextended/4",
        "CPR PersonBaseDataExtended",
        "SF1520",
    ),
    (
        "http://cvr.serviceplatformen.dk/service/online/2",
        "CVR online",
        "SF1530",
    ),
    (
        "http://entityid.kombit.dk/service/kombipostafsend/1",
        "Digital Post afsend",
        "SF1601",
    ),
    (
        "http://entityid.kombit.dk/service/postforespoerg/1",
        "Digital Post forespørg",
        "SF1606",
    ),
    (
        "http://sp.serviceplatformen.dk/service/fordeling/3",
        "Fordelingskomponent",
        "SF2900",
    ),
    (
        "http://cpr.serviceplatformen.dk/service/personstamoplysningersamlinghent/2",
        "CPR Persondata Samling Hent",
        "SF1525",
    ),
];

/// The UUID a seeded service gets: UUIDv5 of its entity ID in the URL namespace, so the same
/// in every store.
pub fn kendt_service_uuid(entity_id: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, entity_id.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::AftaleStatus::*;

    #[test]
    fn lifecycle_moves_one_step_forward_or_to_revoked() {
        assert!(Anmodet.may_become(Godkendt));
        assert!(Godkendt.may_become(Aktiv));
        assert!(Aktiv.may_become(Tilbagekaldt));
        assert!(Anmodet.may_become(Tilbagekaldt));
        assert!(!Anmodet.may_become(Aktiv));
        assert!(!Aktiv.may_become(Godkendt));
        assert!(!Tilbagekaldt.may_become(Aktiv));
        assert!(!Tilbagekaldt.may_become(Tilbagekaldt));
    }
}
