//! The storage port: what the engine needs from a database.
//!
//! The engine does all bitemporal reasoning in Rust; a store only keeps rows and answers
//! index-backed questions. It holds three tables (names are the same in both backends):
//!
//! - `objekt(uuid, klasse, myndighed, faelles)`: identity, type and owner (tenancy);
//! - `registrering(id, objekt_uuid, klasse, fra, til, livscyklus, brugerref, note, data)`: one row
//!   per registrering, `data` being [`crate::model::Data`] as JSON;
//! - `fakt(reg_id, klasse, navn, vaerdi, objekttype, sti, fra, til)`: the search facts of each
//!   registrering (see [`crate::fakta`]), so searches never parse JSON.
//!
//! Instants are `i64` microseconds ([`crate::time`]) in both backends. Implementations live in the
//! `fki-store` crate (SQLite and PostgreSQL); one conformance suite runs against both.

use async_trait::async_trait;
use uuid::Uuid;

use crate::model::{Data, Livscyklus, Objekt, Registrering, RegistreringMeta};
use crate::time::Ts;

/// A storage failure. `Conflict` is an expected race (the object already exists, or a concurrent
/// writer won); `Backend` is anything else and becomes a 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("storage error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// One search fact of a registrering.
///
/// `navn` is the kind and name: `a:<field>` (attribute, `vaerdi` lower-cased text or canonical
/// typed text), `s:<state>` (state value, exact), `r:<relation>` (target UUID or URN, exact),
/// `p:<relation>` (Dokument part relation), `v:varianttekst` / `v:deltekst` (Dokument variant and
/// part names, lower-cased). `sti` says where a Dokument part fact sits: `varianttekst` for
/// variant-level facts, `varianttekst\u{1f}deltekst` for part-level ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fakt {
    pub navn: String,
    pub vaerdi: String,
    pub objekttype: Option<String>,
    pub sti: Option<String>,
    pub fra: Ts,
    pub til: Ts,
}

/// Which registreringer a read or search looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegWindow {
    /// Only the current registrering (`til` = infinity).
    Current,
    /// Every registrering overlapping `[fra, til)`.
    Range(Ts, Ts),
}

/// Which objects the caller may see (tenancy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Everything (no token layer, or an operator).
    All,
    /// Objects owned by one of these myndigheder (CVR), plus fælleskommunale objects.
    Myndigheder(Vec<String>),
}

impl Scope {
    pub fn permits(&self, o: &Objekt) -> bool {
        match self {
            Scope::All => true,
            Scope::Myndigheder(m) => {
                o.faelles || o.myndighed.as_ref().is_some_and(|c| m.contains(c))
            }
        }
    }
}

/// How a fact's `vaerdi` must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// Exact equality.
    Eq(String),
    /// SQL `LIKE` with escape character `\` over the (lower-cased) value. `prefix` is the literal
    /// prefix of the pattern (possibly empty), which the store turns into an index range.
    Like { pattern: String, prefix: String },
}

/// One search criterion. All criteria must hold in the same registrering; each may hold in any
/// virkning period that overlaps the search window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kriterium {
    /// Exact `navn` of the fact, or a `navn` prefix when `navn_prefix` is true (`a:` for
    /// `vilkaarligattr`, `r:` for `vilkaarligrel`).
    pub navn: String,
    pub navn_prefix: bool,
    pub vaerdi: Match,
    /// Required `objekttype` of a relation (`rel:objekttype=…`).
    pub objekttype: Option<String>,
    /// Required `sti` prefix (Dokument variant/part narrowing), matched with `LIKE sti%`.
    pub sti_prefix: Option<String>,
}

/// A search as the store executes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub klasse: String,
    pub reg: RegWindow,
    /// Valid-time window `[fra, til)` the matching facts must overlap.
    pub virk: (Ts, Ts),
    pub uuid: Option<Uuid>,
    /// Only registreringer with this lifecycle code; when set, `Slettet` is no longer excluded.
    pub livscyklus: Option<Livscyklus>,
    pub brugerref: Option<Uuid>,
    /// `LIKE` pattern (escape `\`) over the lower-cased registrering note.
    pub note: Option<String>,
    pub kriterier: Vec<Kriterium>,
    pub scope: Scope,
    /// Offset and limit. When set, hits are ordered by the smallest lower-cased
    /// `a:brugervendtnoegle` fact overlapping the virkning window, then UUID; objects without one
    /// drop out. When `None` the order is unspecified.
    pub paging: Option<(u64, Option<u64>)>,
}

/// The registreringer of one object in a window, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Historik {
    pub objekt: Objekt,
    pub registreringer: Vec<Registrering>,
}

/// A database behind the engine.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Start a write transaction. Writers of the same object are serialised by
    /// [`StoreTx::lock`]; on SQLite all writers are serialised.
    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>>;

    /// The object rows and registreringer (newest first) of these objects in the window.
    /// Unknown UUIDs are left out; objects with no registrering in the window come back with an
    /// empty list. Order of the result follows the input.
    async fn read(&self, uuids: &[Uuid], reg: RegWindow) -> StoreResult<Vec<Historik>>;

    /// The UUIDs matching a search.
    async fn search(&self, q: &SearchQuery) -> StoreResult<Vec<Uuid>>;

    /// Cheap liveness check.
    async fn ping(&self) -> StoreResult<()>;
}

/// One write transaction. Dropping it without [`StoreTx::commit`] rolls back.
/// A new object for [`StoreTx::insert_nye`]: its row, its first registrering and the
/// registrering's facts.
#[derive(Debug, Clone)]
pub struct NytObjekt {
    pub objekt: Objekt,
    pub meta: RegistreringMeta,
    pub data: Data,
    pub fakta: Vec<Fakt>,
}

#[async_trait]
pub trait StoreTx: Send {
    /// Lock an object for the rest of the transaction and return its row and current
    /// registrering (the one with `til` = infinity), or `None` if the UUID is unknown.
    async fn lock(&mut self, uuid: Uuid) -> StoreResult<Option<(Objekt, Option<Registrering>)>>;

    /// Create the object row. `Conflict` if the UUID exists.
    async fn insert_objekt(&mut self, objekt: &Objekt) -> StoreResult<()>;

    /// Set `til` of a registrering (closing the current one when a new one is appended).
    async fn close_registrering(&mut self, id: i64, til: Ts) -> StoreResult<()>;

    /// Append a registrering with its facts; returns its row id.
    async fn insert_registrering(
        &mut self,
        objekt: &Objekt,
        meta: &RegistreringMeta,
        data: &Data,
        fakta: &[Fakt],
    ) -> StoreResult<i64>;

    /// Create new objects, each with its first registrering and its facts: a bulk load of
    /// UUIDs not yet stored. Backends write them in a few multi-row statements; this default
    /// writes them one by one. `Conflict` if any UUID exists; the transaction must then be
    /// dropped (part of the batch may be written).
    async fn insert_nye(&mut self, nye: &[NytObjekt]) -> StoreResult<()> {
        for n in nye {
            self.insert_objekt(&n.objekt).await?;
            self.insert_registrering(&n.objekt, &n.meta, &n.data, &n.fakta)
                .await?;
        }
        Ok(())
    }

    /// Replace the content and facts of one registrering of a locked object, keeping its
    /// period and metadata. The only write that changes history: OrganisationSystem
    /// `Anonymiser` uses it to take personal data out of every registrering (GDPR art. 17).
    /// `Backend` if the registrering is not the object's.
    async fn rewrite_registrering(
        &mut self,
        objekt: &Objekt,
        id: i64,
        data: &Data,
        fakta: &[Fakt],
    ) -> StoreResult<()>;

    /// Physically delete a locked object: its facts, every registrering and the object row
    /// (OrganisationAdministration `FysiskSlet`). Returns whether the object existed.
    async fn purge(&mut self, uuid: Uuid) -> StoreResult<bool>;

    async fn commit(self: Box<Self>) -> StoreResult<()>;
}
