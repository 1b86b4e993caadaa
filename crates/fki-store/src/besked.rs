//! Beskedfordeler (SF1460) storage: what the message distributor must remember across restarts.
//!
//! - [`Dueslag`]: a receiving IT system's pigeonhole, with how it takes its messages
//!   ([`Leveringsform`]: pushed to a callback URL, pulled, or forwarded to a RabbitMQ queue) and how many attempts a message
//!   gets before it moves to the fejlkø;
//! - [`Abonnement`]: a filter (its JSON form, opaque to the store) that lets messages into a
//!   dueslag;
//! - [`Vaerdiliste`]: a named set of strings (e.g. 100,000 CPR numbers) that filters test
//!   membership in; servers keep each list in memory and reload it when its
//!   [`Vaerdiliste::version`] moved;
//! - [`Besked`]: an accepted Haendelsesbesked, kept once however many dueslag it went to, and
//!   known by its BeskedId so a repeated delivery is never distributed twice;
//! - [`Levering`]: the copy of a message in one dueslag, numbered by a per-dueslag `loebenr`
//!   that is the delivery order, with its status `Klar → Kvitteret` or `Klar → Fejlkoe`.
//!
//! What matches which abonnement is decided by the caller (the filters live in
//! `fki-beskedfordeler`); [`BeskedStore::modtag`] is told the dueslag of each message. A server
//! keeps the active abonnementer in memory and reloads them only when
//! [`BeskedStore::abonnement_version`] changed.
//!
//! [`BeskedStore`] is implemented by both backends over the same tables
//! (`migrations/*/0003_besked.sql`); instants are i64 microseconds since the Unix epoch, as
//! everywhere in the store.

use async_trait::async_trait;
use fki_oio::store::StoreResult;
use uuid::Uuid;

/// See [`BeskedStore::skriver`].
#[async_trait]
pub trait BeskedSkriver: Send {
    /// [`BeskedStore::modtag_og_kvitter`] on the session's connection.
    async fn modtag_og_kvitter(
        &mut self,
        beskeder: Vec<NyBesked>,
        par: &[(Uuid, i64)],
        nu: i64,
    ) -> StoreResult<(Vec<Modtaget>, Vec<bool>)>;
}

/// How a dueslag receives its messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Leveringsform {
    /// The Beskedfordeler delivers each message to the receiver's callback URL.
    Push { callback_url: String },
    /// The receiver fetches its messages.
    Pull,
    /// The Beskedfordeler forwards each message to a durable RabbitMQ queue named by the
    /// dueslag's UUID, where the receiver consumes it; the levering is Kvitteret once the
    /// broker confirmed it (the broker keeps it until the receiver acknowledges it there).
    Amqp,
}

impl Leveringsform {
    /// The stored name (`push` / `pull` / `amqp`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Leveringsform::Push { .. } => "push",
            Leveringsform::Pull => "pull",
            Leveringsform::Amqp => "amqp",
        }
    }

    /// From the stored name and callback URL; `None` for an unknown name or a push without URL.
    pub fn parse(navn: &str, callback_url: Option<String>) -> Option<Self> {
        match (navn, callback_url) {
            ("push", Some(callback_url)) => Some(Leveringsform::Push { callback_url }),
            ("pull", _) => Some(Leveringsform::Pull),
            ("amqp", _) => Some(Leveringsform::Amqp),
            _ => None,
        }
    }

    /// The callback URL of a push dueslag.
    pub fn callback_url(&self) -> Option<&str> {
        match self {
            Leveringsform::Push { callback_url } => Some(callback_url),
            Leveringsform::Pull | Leveringsform::Amqp => None,
        }
    }
}

/// A receiver's pigeonhole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dueslag {
    pub uuid: Uuid,
    pub navn: String,
    /// The receiving IT system (`adgang_system.uuid`; not checked by the store).
    pub ejer: Uuid,
    /// CVR of the municipality whose context the dueslag receives in.
    pub myndighed: String,
    /// An inactive dueslag keeps its messages; whether it receives new ones is the caller's call.
    pub aktiv: bool,
    pub levering: Leveringsform,
    /// Attempts a message gets before it moves to the fejlkø (the caller moves it:
    /// [`BeskedStore::til_fejlkoe`]).
    pub maks_forsoeg: i32,
    /// µs.
    pub oprettet: i64,
}

/// A subscription: messages its filter matches go to its dueslag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abonnement {
    pub uuid: Uuid,
    pub dueslag: Uuid,
    /// The filter's JSON form (`fki_beskedfordeler::filter`), opaque to the store.
    pub filter: String,
    pub aktiv: bool,
    /// µs.
    pub oprettet: i64,
    /// Last change (µs); [`BeskedStore::saet_abonnement_aktiv`] sets it.
    pub aendret: i64,
}

/// A Værdiliste: a named set of strings, owned by an IT system. Its values are read and changed
/// through [`BeskedStore::vaerdier`], [`BeskedStore::tilfoej_vaerdier`] and
/// [`BeskedStore::fjern_vaerdier`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vaerdiliste {
    pub uuid: Uuid,
    pub navn: String,
    /// The owning IT system (`adgang_system.uuid`; not checked by the store).
    pub ejer: Uuid,
    /// µs.
    pub oprettet: i64,
    /// Set by the store (ignored by [`BeskedStore::opret_vaerdiliste`]): grows with every
    /// change of the list or its values, so a cached copy with a smaller version is stale. The
    /// numbers come from one store-wide counter, so a list deleted and created again under the
    /// same UUID never repeats a version of its earlier life.
    pub version: i64,
    /// The current registrering's LivscyklusKode. A passivated list matches nothing.
    pub livscyklus: Livscyklus,
    /// `BrugervendtNoegleTekst` of its Egenskab.
    pub brugervendtnoegle: Option<String>,
    /// `NoteTekst` of the last change.
    pub note: Option<String>,
    /// The last change (µs): the current registrering's `FraTidspunkt`.
    pub aendret: i64,
}

impl Vaerdiliste {
    /// A new list (`Opstaaet`, created and changed at `nu`, no key or note).
    pub fn ny(uuid: Uuid, navn: impl Into<String>, ejer: Uuid, nu: i64) -> Self {
        Vaerdiliste {
            uuid,
            navn: navn.into(),
            ejer,
            oprettet: nu,
            version: 0,
            livscyklus: Livscyklus::Opstaaet,
            brugervendtnoegle: None,
            note: None,
            aendret: nu,
        }
    }
}

/// `sd:LivscyklusKodeType` of a Værdiliste's current registrering (`Slettet` lists are gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Livscyklus {
    Opstaaet,
    Importeret,
    Rettet,
    Passiveret,
}

impl Livscyklus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Livscyklus::Opstaaet => "Opstaaet",
            Livscyklus::Importeret => "Importeret",
            Livscyklus::Rettet => "Rettet",
            Livscyklus::Passiveret => "Passiveret",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Opstaaet" => Some(Livscyklus::Opstaaet),
            "Importeret" => Some(Livscyklus::Importeret),
            "Rettet" => Some(Livscyklus::Rettet),
            "Passiveret" => Some(Livscyklus::Passiveret),
            _ => None,
        }
    }
}

/// An accepted Haendelsesbesked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Besked {
    /// Assigned by the store: grows with every accepted message. Strictly increasing in commit
    /// order for one writer (every message of a later batch has a larger `seq`); within one
    /// batch the order is unspecified (distribution order is [`Levering::loebenr`]). Never
    /// reused, not even after retention removed the newest.
    pub seq: i64,
    /// The message's BeskedId; unique among the stored messages.
    pub besked_id: Uuid,
    /// The sending IT system.
    pub afsender: Uuid,
    /// CVR of the municipality the message was sent in.
    pub myndighed: String,
    /// When it was accepted (µs).
    pub modtaget: i64,
    /// The Haendelsesbesked XML as accepted.
    pub xml: String,
}

/// A message to accept ([`BeskedStore::modtag`]) and the dueslag its abonnementer matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NyBesked {
    pub besked_id: Uuid,
    pub afsender: Uuid,
    pub myndighed: String,
    /// µs; also the distribution time of its leveringer.
    pub modtaget: i64,
    pub xml: String,
    /// Where it goes; repeats are ignored, and so are dueslag that do not exist (any more).
    pub dueslag: Vec<Uuid>,
}

/// What [`BeskedStore::modtag`] did with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Modtaget {
    /// The message's [`Besked::seq`] (the earlier one, for a repeated BeskedId).
    pub seq: i64,
    /// `false`: the BeskedId was already stored (or came earlier in the same batch); nothing was
    /// stored or distributed for it.
    pub ny: bool,
}

/// Where a [`Levering`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeveringStatus {
    /// Waiting to be delivered (or fetched).
    Klar,
    /// Delivered and acknowledged.
    Kvitteret,
    /// Given up on: waits in the fejlkø for an operator ([`BeskedStore::genafspil`]).
    Fejlkoe,
}

impl LeveringStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LeveringStatus::Klar => "klar",
            LeveringStatus::Kvitteret => "kvitteret",
            LeveringStatus::Fejlkoe => "fejlkoe",
        }
    }

    /// Parse the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "klar" => Some(LeveringStatus::Klar),
            "kvitteret" => Some(LeveringStatus::Kvitteret),
            "fejlkoe" => Some(LeveringStatus::Fejlkoe),
            _ => None,
        }
    }
}

/// The copy of a message in one dueslag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Levering {
    pub dueslag: Uuid,
    /// Strictly increasing per dueslag: the distribution order, which is the delivery order.
    pub loebenr: i64,
    /// The message ([`Besked::seq`]).
    pub besked: i64,
    pub status: LeveringStatus,
    /// Failed attempts so far.
    pub forsoeg: i32,
    /// Not to be delivered before this instant (µs).
    pub naeste_forsoeg: i64,
    /// When it was put in the dueslag (µs).
    pub fordelt: i64,
    /// When it was acknowledged (µs).
    pub leveret: Option<i64>,
    /// The last failure, or why it went to the fejlkø.
    pub sidste_fejl: Option<String>,
}

/// A levering with its message, as handed out for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leveret {
    pub levering: Levering,
    pub besked: Besked,
}

/// Counts of one dueslag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DueslagStatus {
    pub klar: i64,
    /// Klar leveringer that are due now (`naeste_forsoeg <= nu`).
    pub forfaldne: i64,
    pub fejlkoe: i64,
    pub kvitteret: i64,
    /// The distribution time of the oldest Klar levering (µs): how far behind the receiver is.
    pub aeldste_klar_fordelt: Option<i64>,
}

/// The Beskedfordeler's storage.
///
/// Errors: [`fki_oio::store::StoreError::Conflict`] for a UUID or BeskedId that exists already,
/// `Backend` for a reference to something missing (an abonnement's dueslag, a Værdiliste's
/// values) and for everything else.
/// Most leveringer one statement of [`BeskedStore::kvitter_mange`] acknowledges.
pub const KVITTER_CHUNK: usize = 1024;

#[async_trait]
pub trait BeskedStore: Send + Sync {
    // --- dueslag -----------------------------------------------------------------------------

    /// Create a dueslag; its leveringer will be numbered from 1.
    async fn opret_dueslag(&self, d: &Dueslag) -> StoreResult<()>;
    async fn hent_dueslag(&self, uuid: Uuid) -> StoreResult<Option<Dueslag>>;
    /// All dueslag, or those of one receiving system; by name.
    async fn list_dueslag(&self, ejer: Option<Uuid>) -> StoreResult<Vec<Dueslag>>;
    /// Start or stop a dueslag; `false` if there is none.
    async fn saet_dueslag_aktiv(&self, uuid: Uuid, aktiv: bool) -> StoreResult<bool>;
    /// Delete a dueslag with its abonnementer and all its leveringer, whatever their status
    /// (Klar messages are dropped); the messages themselves stay until
    /// [`BeskedStore::ryd_kvitterede`] finds them unreferenced. `false` if there is none.
    async fn slet_dueslag(&self, uuid: Uuid) -> StoreResult<bool>;

    // --- abonnementer ------------------------------------------------------------------------

    /// Create an abonnement; `Backend` error if its dueslag does not exist.
    async fn opret_abonnement(&self, a: &Abonnement) -> StoreResult<()>;
    async fn hent_abonnement(&self, uuid: Uuid) -> StoreResult<Option<Abonnement>>;
    /// All abonnementer, or those of one dueslag; oldest first.
    async fn list_abonnementer(&self, dueslag: Option<Uuid>) -> StoreResult<Vec<Abonnement>>;
    /// Start or stop an abonnement at `nu` (sets `aendret`); `false` if there is none.
    async fn saet_abonnement_aktiv(&self, uuid: Uuid, aktiv: bool, nu: i64) -> StoreResult<bool>;
    /// `false` if there is none.
    async fn slet_abonnement(&self, uuid: Uuid) -> StoreResult<bool>;
    /// A store-wide counter that every change of a dueslag or an abonnement increases (in the
    /// same transaction), so a server reloads its subscriptions only when it moved. Distribution
    /// (`modtag`, `genafspil`, …) does not move it.
    async fn abonnement_version(&self) -> StoreResult<i64>;

    // --- værdilister -------------------------------------------------------------------------

    /// Create an empty list (its `version` is assigned by the store).
    async fn opret_vaerdiliste(&self, l: &Vaerdiliste) -> StoreResult<()>;
    /// The list with its current version.
    async fn hent_vaerdiliste(&self, uuid: Uuid) -> StoreResult<Option<Vaerdiliste>>;
    /// All lists, or those of one owner; by name.
    async fn list_vaerdilister(&self, ejer: Option<Uuid>) -> StoreResult<Vec<Vaerdiliste>>;
    /// Delete a list and its values; `false` if there is none.
    async fn slet_vaerdiliste(&self, uuid: Uuid) -> StoreResult<bool>;
    /// Change a list's navn, brugervendtnoegle, note, livscyklus and aendret (the stored
    /// `ejer`, `oprettet` and `version` are kept; the version moves). `false`: no such list.
    async fn ret_vaerdiliste(&self, l: &Vaerdiliste) -> StoreResult<bool>;
    /// Replace all values of a list in one transaction (the version moves). `Backend` error for
    /// an unknown list.
    async fn erstat_vaerdier(&self, liste: Uuid, vaerdier: &[String]) -> StoreResult<()>;
    /// Add values (repeats, in `vaerdier` or already stored, are ignored); returns how many were
    /// new. Moves the version when that is not 0. `Backend` error if the list does not exist.
    async fn tilfoej_vaerdier(&self, liste: Uuid, vaerdier: &[String]) -> StoreResult<u64>;
    /// Remove values; returns how many were there. Moves the version when that is not 0.
    /// `Backend` error if the list does not exist.
    async fn fjern_vaerdier(&self, liste: Uuid, vaerdier: &[String]) -> StoreResult<u64>;
    /// Every value of the list, sorted (empty for an unknown list).
    async fn vaerdier(&self, liste: Uuid) -> StoreResult<Vec<String>>;

    // --- distribution ------------------------------------------------------------------------

    /// Accept a batch of messages in ONE transaction (group commit: callers gather concurrent
    /// requests into one call). For each message, in order: if its BeskedId is stored already,
    /// or came earlier in this batch, nothing happens and the answer is the existing `seq` with
    /// `ny: false`. Otherwise the message is stored and one Klar [`Levering`] is put in each of
    /// its dueslag under that dueslag's next `loebenr` (`forsoeg` 0, `naeste_forsoeg` and
    /// `fordelt` = `modtaget`); dueslag that do not exist are skipped. Answers in input order.
    ///
    /// Leveringer are numbered in batch order. The next `loebenr` is a counter on the dueslag
    /// row, moved by `UPDATE … RETURNING` in the transaction (dueslag in UUID order, after the
    /// messages are stored in BeskedId order: concurrent batches cannot deadlock), so
    /// concurrent writers on PostgreSQL get disjoint, gap-free ranges, and two dueslag receive
    /// the messages they share in the same relative order.
    async fn modtag(&self, beskeder: Vec<NyBesked>) -> StoreResult<Vec<Modtaget>>;
    /// The first `limit` Klar leveringer of a dueslag in `loebenr` order, each with its message.
    /// The head is returned even when it is not due yet (`naeste_forsoeg > nu`): the caller
    /// needs it to keep the order, and decides itself when to try again. Because delivery is in
    /// order, the list stops after the first levering that is not due at `nu`.
    async fn klar(&self, dueslag: Uuid, nu: i64, limit: u32) -> StoreResult<Vec<Leveret>> {
        self.klar_efter(dueslag, None, nu, limit).await
    }
    /// [`Self::klar`] behind `loebenr` `efter` (`None`: from the head): for a deliverer that
    /// reads on while the acknowledgements of what it delivered before are being recorded.
    async fn klar_efter(
        &self,
        dueslag: Uuid,
        efter: Option<i64>,
        nu: i64,
        limit: u32,
    ) -> StoreResult<Vec<Leveret>>;
    /// Klar → Kvitteret with `leveret = nu`; `false` if the levering is not Klar (or missing).
    async fn kvitter(&self, dueslag: Uuid, loebenr: i64, nu: i64) -> StoreResult<bool>;
    /// [`Self::kvitter`] for many leveringer of one dueslag at once (one statement per
    /// [`KVITTER_CHUNK`]): returns how many went Klar → Kvitteret; those not Klar (or missing,
    /// or repeated) are not counted.
    async fn kvitter_mange(&self, dueslag: Uuid, loebenr: &[i64], nu: i64) -> StoreResult<u64>;
    /// [`Self::kvitter`] for leveringer of several dueslag in one write transaction (one
    /// statement per [`KVITTER_CHUNK`]): per `(dueslag, loebenr)`, whether it went Klar →
    /// Kvitteret (a pair repeated counts for its first only).
    async fn kvitter_par(&self, par: &[(Uuid, i64)], nu: i64) -> StoreResult<Vec<bool>>;
    /// [`Self::modtag`] and [`Self::kvitter_par`] in ONE write transaction, so that a server's
    /// writer commits the messages and the acknowledgements waiting at one moment together
    /// (the store has one writer at a time on SQLite). Answers as the two do, in input order.
    async fn modtag_og_kvitter(
        &self,
        beskeder: Vec<NyBesked>,
        par: &[(Uuid, i64)],
        nu: i64,
    ) -> StoreResult<(Vec<Modtaget>, Vec<bool>)>;
    /// A writer that keeps its write connection between calls of
    /// [`BeskedSkriver::modtag_og_kvitter`], for a server's writer while work keeps waiting:
    /// on SQLite the one writer connection is taken once, not once per group commit, and every
    /// other write waits until the session is dropped, so keep it only for a few rounds. On
    /// PostgreSQL it is [`Self::modtag_og_kvitter`] on the pool.
    async fn skriver(&self) -> StoreResult<Box<dyn BeskedSkriver + '_>>;
    /// Count a failed attempt of a Klar levering: `forsoeg + 1`, the next attempt not before
    /// `naeste_forsoeg`, `sidste_fejl = fejl`. Returns the new count, `None` if the levering is
    /// not Klar (or missing). Moving it to the fejlkø after [`Dueslag::maks_forsoeg`] attempts
    /// is the caller's step ([`BeskedStore::til_fejlkoe`]).
    async fn forsoeg_fejlet(
        &self,
        dueslag: Uuid,
        loebenr: i64,
        naeste_forsoeg: i64,
        fejl: &str,
    ) -> StoreResult<Option<i32>>;
    /// Klar → Fejlkoe with `sidste_fejl = grund`; `false` if the levering is not Klar.
    async fn til_fejlkoe(&self, dueslag: Uuid, loebenr: i64, grund: &str) -> StoreResult<bool>;
    /// Put the message of a levering (any status) in the dueslag again, at its end: a new Klar
    /// levering under the next `loebenr`, distributed and due at `nu`. The old levering is left
    /// as it is. Returns the new `loebenr`, `None` if there is no such levering.
    async fn genafspil(&self, dueslag: Uuid, loebenr: i64, nu: i64) -> StoreResult<Option<i64>>;
    /// Counts of a dueslag (all zero for an unknown one).
    async fn status(&self, dueslag: Uuid, nu: i64) -> StoreResult<DueslagStatus>;
    /// The first `limit` leveringer of the fejlkø in `loebenr` order, each with its message.
    async fn fejlkoe(&self, dueslag: Uuid, limit: u32) -> StoreResult<Vec<Leveret>>;
    /// Retention: delete Kvitteret leveringer acknowledged before `foer`, then the messages
    /// accepted before `foer` that no levering refers to any more. Returns the number of
    /// leveringer deleted. Klar and Fejlkoe leveringer (and so their messages) are kept. Once
    /// a message is gone, a repeated delivery of its BeskedId counts as new.
    async fn ryd_kvitterede(&self, foer: i64) -> StoreResult<u64>;
    /// A stored message by its BeskedId.
    async fn hent_besked(&self, besked_id: Uuid) -> StoreResult<Option<Besked>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in [
            LeveringStatus::Klar,
            LeveringStatus::Kvitteret,
            LeveringStatus::Fejlkoe,
        ] {
            assert_eq!(LeveringStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(LeveringStatus::parse("nope"), None);
        let push = Leveringsform::Push {
            callback_url: "https://x/cb".into(),
        };
        assert_eq!(
            Leveringsform::parse(push.as_str(), push.callback_url().map(str::to_owned)),
            Some(push)
        );
        assert_eq!(
            Leveringsform::parse("pull", None),
            Some(Leveringsform::Pull)
        );
        assert_eq!(
            Leveringsform::parse("amqp", None),
            Some(Leveringsform::Amqp)
        );
        assert_eq!(Leveringsform::parse("push", None), None);
        assert_eq!(Leveringsform::parse("fax", None), None);
    }
}
