//! SQL of the Beskedfordeler storage ([`crate::besked`]), shared by both backends like
//! [`crate::adgang_sql`]: builders return one [`Sql`] text with `$N` placeholders, and
//! [`besked_impl!`] stamps out the one [`BeskedStore`](crate::besked::BeskedStore)
//! implementation inside each backend module, on top of the helpers of
//! [`exec_helpers!`](crate::exec::exec_helpers).
//!
//! Tables (`migrations/*/0003_besked.sql`): `besked_version` (one row of change counters),
//! `besked_dueslag` (with the `naeste_loebenr` counter), `besked_abonnement`,
//! `besked_vaerdiliste`, `besked_vaerdi`, `besked` (accepted messages), `besked_levering`.
//!
//! Locking on PostgreSQL (READ COMMITTED): every change of dueslag or abonnementer first moves
//! the `abonnement` counter, every change of a Værdiliste the `vaerdiliste` counter, so such
//! changes queue on that row before they touch anything else. `modtag` inserts its messages in
//! BeskedId order (a batch repeating a BeskedId another batch has not committed yet waits for
//! it on the unique index), and then moves the `naeste_loebenr` of its dueslag in UUID order;
//! `genafspil` moves one dueslag's counter. Every transaction thus waits for BeskedIds before
//! dueslag rows, and for each kind in one order, so they cannot deadlock; a deadlock or
//! serialisation failure all the same is retried ([`MODTAG_ATTEMPTS`]). On SQLite all of this
//! runs on the single writer connection under `BEGIN IMMEDIATE`.

use std::collections::HashMap;

use fki_oio::store::{StoreError, StoreResult};
use uuid::Uuid;

use crate::besked::{
    Abonnement, Besked, Dueslag, Leveret, Levering, LeveringStatus, Leveringsform, Modtaget,
    NyBesked, Vaerdiliste,
};
use crate::sql::{Bind, Sql, parse_uuid};

/// Most leveringer inserted by one statement (5 binds each).
pub(crate) const LEVERING_CHUNK: usize = 256;

/// Most messages inserted by one statement (5 binds each).
pub(crate) const BESKED_CHUNK: usize = 64;

/// Most values added or removed by one statement (one bind each, plus the list).
pub(crate) const VAERDI_CHUNK: usize = 1024;

/// Attempts of a `modtag` batch that PostgreSQL aborts as a deadlock or serialisation failure
/// (not expected: see the module docs).
pub(crate) const MODTAG_ATTEMPTS: u32 = 5;

/// Split `n` rows into chunks whose sizes are powers of two no larger than `max` (a power of
/// two), largest first: each chunk size is one statement shape, so the per-connection
/// statement caches see at most `log2(max) + 1` shapes of a multi-row statement.
pub(crate) fn chunk_sizes(mut n: usize, max: usize) -> Vec<usize> {
    debug_assert!(max.is_power_of_two());
    let mut out = Vec::new();
    while n > 0 {
        let size = if n >= max {
            max
        } else {
            1 << (usize::BITS - 1 - n.leading_zeros())
        };
        out.push(size);
        n -= size;
    }
    out
}

fn klar() -> &'static str {
    LeveringStatus::Klar.as_str()
}

// ---------------------------------------------------------------------------------------------
// Rows

const DUESLAG_COLS: &str =
    "uuid, navn, ejer, myndighed, aktiv, levering, callback_url, maks_forsoeg, oprettet";
const ABONNEMENT_COLS: &str = "uuid, dueslag, filter, aktiv, oprettet, aendret";
const VAERDILISTE_COLS: &str =
    "uuid, navn, ejer, oprettet, version, livscyklus, brugervendtnoegle, note, aendret";
const BESKED_COLS: &str = "seq, besked_id, afsender, myndighed, modtaget, xml";
const LEVERET_COLS: &str = "l.dueslag, l.loebenr, l.besked_seq, l.status, l.forsoeg, \
     l.naeste_forsoeg, l.fordelt, l.leveret, l.sidste_fejl, b.besked_id, b.afsender, \
     b.myndighed, b.modtaget, b.xml";

fn to_i32(v: i64, what: &str) -> StoreResult<i32> {
    i32::try_from(v).map_err(|_| StoreError::Backend(format!("bad {what} {v} in database")))
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct DueslagRow {
    uuid: String,
    navn: String,
    ejer: String,
    myndighed: String,
    aktiv: bool,
    levering: String,
    callback_url: Option<String>,
    maks_forsoeg: i64,
    oprettet: i64,
}

impl crate::sqlite_direkte::FraRaekke for DueslagRow {
    /// Columns of [`DUESLAG_COLS`].
    fn fra_raekke(r: &crate::sqlite_direkte::Raekke<'_>) -> StoreResult<Self> {
        Ok(DueslagRow {
            uuid: r.text(0)?,
            navn: r.text(1)?,
            ejer: r.text(2)?,
            myndighed: r.text(3)?,
            aktiv: r.i64(4) != 0,
            levering: r.text(5)?,
            callback_url: r.opt_text(6)?,
            maks_forsoeg: r.i64(7),
            oprettet: r.i64(8),
        })
    }
}

impl crate::exec::IntoDomain for DueslagRow {
    type Out = Dueslag;
    fn into_domain(self) -> StoreResult<Dueslag> {
        let levering =
            Leveringsform::parse(&self.levering, self.callback_url).ok_or_else(|| {
                StoreError::Backend(format!(
                    "bad levering '{}' of dueslag {} in database",
                    self.levering, self.uuid
                ))
            })?;
        Ok(Dueslag {
            uuid: parse_uuid(&self.uuid, "besked_dueslag.uuid")?,
            ejer: parse_uuid(&self.ejer, "besked_dueslag.ejer")?,
            navn: self.navn,
            myndighed: self.myndighed,
            aktiv: self.aktiv,
            levering,
            maks_forsoeg: to_i32(self.maks_forsoeg, "besked_dueslag.maks_forsoeg")?,
            oprettet: self.oprettet,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AbonnementRow {
    uuid: String,
    dueslag: String,
    filter: String,
    aktiv: bool,
    oprettet: i64,
    aendret: i64,
}

impl crate::exec::IntoDomain for AbonnementRow {
    type Out = Abonnement;
    fn into_domain(self) -> StoreResult<Abonnement> {
        Ok(Abonnement {
            uuid: parse_uuid(&self.uuid, "besked_abonnement.uuid")?,
            dueslag: parse_uuid(&self.dueslag, "besked_abonnement.dueslag")?,
            filter: self.filter,
            aktiv: self.aktiv,
            oprettet: self.oprettet,
            aendret: self.aendret,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct VaerdilisteRow {
    uuid: String,
    navn: String,
    ejer: String,
    oprettet: i64,
    version: i64,
    livscyklus: String,
    brugervendtnoegle: Option<String>,
    note: Option<String>,
    aendret: i64,
}

impl crate::exec::IntoDomain for VaerdilisteRow {
    type Out = Vaerdiliste;
    fn into_domain(self) -> StoreResult<Vaerdiliste> {
        Ok(Vaerdiliste {
            uuid: parse_uuid(&self.uuid, "besked_vaerdiliste.uuid")?,
            ejer: parse_uuid(&self.ejer, "besked_vaerdiliste.ejer")?,
            livscyklus: crate::besked::Livscyklus::parse(&self.livscyklus).ok_or_else(|| {
                StoreError::Backend(format!(
                    "bad livscyklus '{}' in besked_vaerdiliste",
                    self.livscyklus
                ))
            })?,
            navn: self.navn,
            oprettet: self.oprettet,
            version: self.version,
            brugervendtnoegle: self.brugervendtnoegle,
            note: self.note,
            aendret: self.aendret,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct BeskedRow {
    seq: i64,
    besked_id: String,
    afsender: String,
    myndighed: String,
    modtaget: i64,
    xml: String,
}

impl crate::exec::IntoDomain for BeskedRow {
    type Out = Besked;
    fn into_domain(self) -> StoreResult<Besked> {
        Ok(Besked {
            seq: self.seq,
            besked_id: parse_uuid(&self.besked_id, "besked.besked_id")?,
            afsender: parse_uuid(&self.afsender, "besked.afsender")?,
            myndighed: self.myndighed,
            modtaget: self.modtaget,
            xml: self.xml,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct LeveretRow {
    dueslag: String,
    loebenr: i64,
    besked_seq: i64,
    status: String,
    forsoeg: i64,
    naeste_forsoeg: i64,
    fordelt: i64,
    leveret: Option<i64>,
    sidste_fejl: Option<String>,
    besked_id: String,
    afsender: String,
    myndighed: String,
    modtaget: i64,
    xml: String,
}

impl crate::sqlite_direkte::FraRaekke for LeveretRow {
    /// Columns of [`LEVERET_COLS`].
    fn fra_raekke(r: &crate::sqlite_direkte::Raekke<'_>) -> StoreResult<Self> {
        Ok(LeveretRow {
            dueslag: r.text(0)?,
            loebenr: r.i64(1),
            besked_seq: r.i64(2),
            status: r.text(3)?,
            forsoeg: r.i64(4),
            naeste_forsoeg: r.i64(5),
            fordelt: r.i64(6),
            leveret: r.opt_i64(7),
            sidste_fejl: r.opt_text(8)?,
            besked_id: r.text(9)?,
            afsender: r.text(10)?,
            myndighed: r.text(11)?,
            modtaget: r.i64(12),
            xml: r.text(13)?,
        })
    }
}

impl crate::exec::IntoDomain for LeveretRow {
    type Out = Leveret;
    fn into_domain(self) -> StoreResult<Leveret> {
        let status = LeveringStatus::parse(&self.status).ok_or_else(|| {
            StoreError::Backend(format!(
                "bad status '{}' of levering {}/{} in database",
                self.status, self.dueslag, self.loebenr
            ))
        })?;
        Ok(Leveret {
            levering: Levering {
                dueslag: parse_uuid(&self.dueslag, "besked_levering.dueslag")?,
                loebenr: self.loebenr,
                besked: self.besked_seq,
                status,
                forsoeg: to_i32(self.forsoeg, "besked_levering.forsoeg")?,
                naeste_forsoeg: self.naeste_forsoeg,
                fordelt: self.fordelt,
                leveret: self.leveret,
                sidste_fejl: self.sidste_fejl,
            },
            besked: Besked {
                seq: self.besked_seq,
                besked_id: parse_uuid(&self.besked_id, "besked.besked_id")?,
                afsender: parse_uuid(&self.afsender, "besked.afsender")?,
                myndighed: self.myndighed,
                modtaget: self.modtaget,
                xml: self.xml,
            },
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Change counters

pub(crate) fn bump_abonnement_version() -> Sql {
    Sql::new("UPDATE besked_version SET abonnement = abonnement + 1 WHERE id = 1")
}

pub(crate) fn select_abonnement_version() -> Sql {
    Sql::new("SELECT abonnement FROM besked_version WHERE id = 1")
}

/// Moves the Værdiliste counter; returns its new value (the changed list's next version).
pub(crate) fn bump_vaerdiliste_version() -> Sql {
    Sql::new(
        "UPDATE besked_version SET vaerdiliste = vaerdiliste + 1 WHERE id = 1 \
         RETURNING vaerdiliste",
    )
}

// ---------------------------------------------------------------------------------------------
// Dueslag

pub(crate) fn insert_dueslag(d: &Dueslag) -> Sql {
    let mut q = Sql::new(&format!(
        "INSERT INTO besked_dueslag ({DUESLAG_COLS}) VALUES "
    ));
    q.list([
        Bind::Text(d.uuid.to_string()),
        Bind::Text(d.navn.clone()),
        Bind::Text(d.ejer.to_string()),
        Bind::Text(d.myndighed.clone()),
        Bind::Bool(d.aktiv),
        Bind::Text(d.levering.as_str().to_owned()),
        Bind::OptText(d.levering.callback_url().map(str::to_owned)),
        Bind::I64(i64::from(d.maks_forsoeg)),
        Bind::I64(d.oprettet),
    ]);
    q
}

pub(crate) fn select_dueslag(uuid: Uuid) -> Sql {
    let mut q = Sql::new(&format!(
        "SELECT {DUESLAG_COLS} FROM besked_dueslag WHERE uuid = "
    ));
    q.arg(Bind::Text(uuid.to_string()));
    q
}

pub(crate) fn select_dueslag_list(ejer: Option<Uuid>) -> Sql {
    let mut q = Sql::new(&format!("SELECT {DUESLAG_COLS} FROM besked_dueslag"));
    if let Some(e) = ejer {
        q.push(" WHERE ejer = ").arg(Bind::Text(e.to_string()));
    }
    q.push(" ORDER BY navn, uuid");
    q
}

pub(crate) fn update_dueslag_aktiv(uuid: Uuid, aktiv: bool) -> Sql {
    let mut q = Sql::new("UPDATE besked_dueslag SET aktiv = ");
    q.arg(Bind::Bool(aktiv))
        .push(" WHERE uuid = ")
        .arg(Bind::Text(uuid.to_string()));
    q
}

/// The dueslag's leveringer, abonnementer and row, in that order (run after
/// [`update_dueslag_aktiv`], which takes the row lock).
pub(crate) fn delete_dueslag(uuid: Uuid) -> [Sql; 3] {
    let mut leveringer = Sql::new("DELETE FROM besked_levering WHERE dueslag = ");
    leveringer.arg(Bind::Text(uuid.to_string()));
    let mut abonnementer = Sql::new("DELETE FROM besked_abonnement WHERE dueslag = ");
    abonnementer.arg(Bind::Text(uuid.to_string()));
    let mut dueslag = Sql::new("DELETE FROM besked_dueslag WHERE uuid = ");
    dueslag.arg(Bind::Text(uuid.to_string()));
    [leveringer, abonnementer, dueslag]
}

/// Reserve `n` loebenr of a dueslag: returns the counter after the move, so the range is
/// `[returned - n, returned)`. No row: no such dueslag. Takes the row lock on PostgreSQL.
pub(crate) fn reserve_loebenr(dueslag: Uuid, n: i64) -> Sql {
    let mut q = Sql::new("UPDATE besked_dueslag SET naeste_loebenr = naeste_loebenr + ");
    q.arg(Bind::I64(n))
        .push(" WHERE uuid = ")
        .arg(Bind::Text(dueslag.to_string()))
        .push(" RETURNING naeste_loebenr");
    q
}

// ---------------------------------------------------------------------------------------------
// Abonnementer

pub(crate) fn insert_abonnement(a: &Abonnement) -> Sql {
    let mut q = Sql::new(&format!(
        "INSERT INTO besked_abonnement ({ABONNEMENT_COLS}) VALUES "
    ));
    q.list([
        Bind::Text(a.uuid.to_string()),
        Bind::Text(a.dueslag.to_string()),
        Bind::Text(a.filter.clone()),
        Bind::Bool(a.aktiv),
        Bind::I64(a.oprettet),
        Bind::I64(a.aendret),
    ]);
    q
}

pub(crate) fn select_abonnement(uuid: Uuid) -> Sql {
    let mut q = Sql::new(&format!(
        "SELECT {ABONNEMENT_COLS} FROM besked_abonnement WHERE uuid = "
    ));
    q.arg(Bind::Text(uuid.to_string()));
    q
}

pub(crate) fn select_abonnementer(dueslag: Option<Uuid>) -> Sql {
    let mut q = Sql::new(&format!("SELECT {ABONNEMENT_COLS} FROM besked_abonnement"));
    if let Some(d) = dueslag {
        q.push(" WHERE dueslag = ").arg(Bind::Text(d.to_string()));
    }
    q.push(" ORDER BY oprettet, uuid");
    q
}

pub(crate) fn update_abonnement_aktiv(uuid: Uuid, aktiv: bool, nu: i64) -> Sql {
    let mut q = Sql::new("UPDATE besked_abonnement SET aktiv = ");
    q.arg(Bind::Bool(aktiv))
        .push(", aendret = ")
        .arg(Bind::I64(nu))
        .push(" WHERE uuid = ")
        .arg(Bind::Text(uuid.to_string()));
    q
}

pub(crate) fn delete_abonnement(uuid: Uuid) -> Sql {
    let mut q = Sql::new("DELETE FROM besked_abonnement WHERE uuid = ");
    q.arg(Bind::Text(uuid.to_string()));
    q
}

// ---------------------------------------------------------------------------------------------
// Værdilister

pub(crate) fn insert_vaerdiliste(l: &Vaerdiliste, version: i64) -> Sql {
    let mut q = Sql::new(&format!(
        "INSERT INTO besked_vaerdiliste ({VAERDILISTE_COLS}) VALUES "
    ));
    q.list([
        Bind::Text(l.uuid.to_string()),
        Bind::Text(l.navn.clone()),
        Bind::Text(l.ejer.to_string()),
        Bind::I64(l.oprettet),
        Bind::I64(version),
        Bind::Text(l.livscyklus.as_str().to_owned()),
        opt_text(&l.brugervendtnoegle),
        opt_text(&l.note),
        Bind::I64(l.aendret),
    ]);
    q
}

fn opt_text(v: &Option<String>) -> Bind {
    Bind::OptText(v.clone())
}

/// A list's own fields (not ejer, oprettet, version).
pub(crate) fn update_vaerdiliste(l: &Vaerdiliste) -> Sql {
    let mut q = Sql::new("UPDATE besked_vaerdiliste SET navn = ");
    q.arg(Bind::Text(l.navn.clone()))
        .push(", livscyklus = ")
        .arg(Bind::Text(l.livscyklus.as_str().to_owned()))
        .push(", brugervendtnoegle = ")
        .arg(opt_text(&l.brugervendtnoegle))
        .push(", note = ")
        .arg(opt_text(&l.note))
        .push(", aendret = ")
        .arg(Bind::I64(l.aendret))
        .push(" WHERE uuid = ")
        .arg(Bind::Text(l.uuid.to_string()));
    q
}

/// All values of a list.
pub(crate) fn delete_vaerdier_alle(liste: Uuid) -> Sql {
    let mut q = Sql::new("DELETE FROM besked_vaerdi WHERE liste = ");
    q.arg(Bind::Text(liste.to_string()));
    q
}

pub(crate) fn select_vaerdiliste(uuid: Uuid) -> Sql {
    let mut q = Sql::new(&format!(
        "SELECT {VAERDILISTE_COLS} FROM besked_vaerdiliste WHERE uuid = "
    ));
    q.arg(Bind::Text(uuid.to_string()));
    q
}

pub(crate) fn select_vaerdilister(ejer: Option<Uuid>) -> Sql {
    let mut q = Sql::new(&format!(
        "SELECT {VAERDILISTE_COLS} FROM besked_vaerdiliste"
    ));
    if let Some(e) = ejer {
        q.push(" WHERE ejer = ").arg(Bind::Text(e.to_string()));
    }
    q.push(" ORDER BY navn, uuid");
    q
}

/// Set a list's version (taking its row lock on PostgreSQL); no row: no such list.
pub(crate) fn update_vaerdiliste_version(uuid: Uuid, version: i64) -> Sql {
    let mut q = Sql::new("UPDATE besked_vaerdiliste SET version = ");
    q.arg(Bind::I64(version))
        .push(" WHERE uuid = ")
        .arg(Bind::Text(uuid.to_string()));
    q
}

/// The list's values, then the list.
pub(crate) fn delete_vaerdiliste(uuid: Uuid) -> [Sql; 2] {
    let mut vaerdier = Sql::new("DELETE FROM besked_vaerdi WHERE liste = ");
    vaerdier.arg(Bind::Text(uuid.to_string()));
    let mut liste = Sql::new("DELETE FROM besked_vaerdiliste WHERE uuid = ");
    liste.arg(Bind::Text(uuid.to_string()));
    [vaerdier, liste]
}

/// Multi-row inserts of values that skip the ones already stored; rows affected = new values.
pub(crate) fn insert_vaerdier(liste: Uuid, vaerdier: &[String]) -> Vec<Sql> {
    let mut out = Vec::new();
    let mut rest = vaerdier;
    for size in chunk_sizes(vaerdier.len(), VAERDI_CHUNK) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut q = Sql::new("INSERT INTO besked_vaerdi (liste, vaerdi) VALUES ");
        let l = q.placeholder(Bind::Text(liste.to_string()));
        for (i, v) in chunk.iter().enumerate() {
            let p = q.placeholder(Bind::Text(v.clone()));
            q.push(if i == 0 { "(" } else { ", (" })
                .push(&l)
                .push(", ")
                .push(&p)
                .push(")");
        }
        q.push(" ON CONFLICT (liste, vaerdi) DO NOTHING");
        out.push(q);
    }
    out
}

/// Deletes of values; rows affected = values that were there.
pub(crate) fn delete_vaerdier(liste: Uuid, vaerdier: &[String]) -> Vec<Sql> {
    let mut out = Vec::new();
    let mut rest = vaerdier;
    for size in chunk_sizes(vaerdier.len(), VAERDI_CHUNK) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut q = Sql::new("DELETE FROM besked_vaerdi WHERE liste = ");
        q.arg(Bind::Text(liste.to_string()))
            .push(" AND vaerdi IN ")
            .list(chunk.iter().map(|v| Bind::Text(v.clone())));
        out.push(q);
    }
    out
}

pub(crate) fn select_vaerdier(liste: Uuid) -> Sql {
    let mut q = Sql::new("SELECT vaerdi FROM besked_vaerdi WHERE liste = ");
    q.arg(Bind::Text(liste.to_string()))
        .push(" ORDER BY vaerdi");
    q
}

// ---------------------------------------------------------------------------------------------
// Messages and leveringer

/// Multi-row inserts of the messages `beskeder[i]` for `i` in `idx` (distinct BeskedIds, in
/// the order given: rows are inserted in that order), each unless its BeskedId is stored;
/// return `(besked_id, seq)` of the rows inserted.
pub(crate) fn insert_beskeder(beskeder: &[NyBesked], idx: &[usize]) -> Vec<Sql> {
    let mut out = Vec::new();
    let mut rest = idx;
    for size in chunk_sizes(idx.len(), BESKED_CHUNK) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut q =
            Sql::new("INSERT INTO besked (besked_id, afsender, myndighed, modtaget, xml) VALUES ");
        for (n, &i) in chunk.iter().enumerate() {
            if n > 0 {
                q.push(", ");
            }
            let b = &beskeder[i];
            q.list([
                Bind::Text(b.besked_id.to_string()),
                Bind::Text(b.afsender.to_string()),
                Bind::Text(b.myndighed.clone()),
                Bind::I64(b.modtaget),
                Bind::Text(b.xml.clone()),
            ]);
        }
        q.push(" ON CONFLICT (besked_id) DO NOTHING RETURNING besked_id, seq");
        out.push(q);
    }
    out
}

pub(crate) fn select_seq(besked_id: Uuid) -> Sql {
    let mut q = Sql::new("SELECT seq FROM besked WHERE besked_id = ");
    q.arg(Bind::Text(besked_id.to_string()));
    q
}

pub(crate) fn select_besked(besked_id: Uuid) -> Sql {
    let mut q = Sql::new(&format!(
        "SELECT {BESKED_COLS} FROM besked WHERE besked_id = "
    ));
    q.arg(Bind::Text(besked_id.to_string()));
    q
}

/// How many leveringer each dueslag gets from the new messages of a batch (`nye`: index into
/// `beskeder` and the assigned `seq`), in UUID order: the order the counters are moved in.
pub(crate) fn behov(beskeder: &[NyBesked], nye: &[(usize, i64)]) -> Vec<(Uuid, i64)> {
    let mut n: HashMap<Uuid, i64> = HashMap::new();
    for (i, _) in nye {
        for d in crate::sql::distinct(&beskeder[*i].dueslag) {
            *n.entry(d).or_default() += 1;
        }
    }
    let mut out: Vec<(Uuid, i64)> = n.into_iter().collect();
    out.sort_unstable();
    out
}

/// A levering to insert: dueslag, loebenr, message seq, distribution time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NyLevering {
    pub dueslag: Uuid,
    pub loebenr: i64,
    pub seq: i64,
    pub tid: i64,
}

/// Number the leveringer of a batch: message by message in batch order, each dueslag counting
/// on from its reserved first `loebenr` (`naeste`; dueslag missing there do not exist).
pub(crate) fn nummerer(
    beskeder: &[NyBesked],
    nye: &[(usize, i64)],
    mut naeste: HashMap<Uuid, i64>,
) -> Vec<NyLevering> {
    let mut out = Vec::new();
    for (i, seq) in nye {
        let b = &beskeder[*i];
        for d in crate::sql::distinct(&b.dueslag) {
            if let Some(n) = naeste.get_mut(&d) {
                out.push(NyLevering {
                    dueslag: d,
                    loebenr: *n,
                    seq: *seq,
                    tid: b.modtaget,
                });
                *n += 1;
            }
        }
    }
    out
}

/// Multi-row inserts of new Klar leveringer (`forsoeg` 0, due and distributed at `tid`).
pub(crate) fn insert_leveringer(l: &[NyLevering]) -> Vec<Sql> {
    let mut out = Vec::new();
    let mut rest = l;
    for size in chunk_sizes(l.len(), LEVERING_CHUNK) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut q = Sql::new(
            "INSERT INTO besked_levering (dueslag, loebenr, besked_seq, status, forsoeg, \
             naeste_forsoeg, fordelt, leveret, sidste_fejl) VALUES ",
        );
        for (i, x) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            let tid = q.placeholder(Bind::I64(x.tid));
            q.push("(")
                .arg(Bind::Text(x.dueslag.to_string()))
                .push(", ")
                .arg(Bind::I64(x.loebenr))
                .push(", ")
                .arg(Bind::I64(x.seq))
                .push(&format!(", '{}', 0, {tid}, {tid}, NULL, NULL)", klar()));
        }
        out.push(q);
    }
    out
}

pub(crate) fn select_levering_seq(dueslag: Uuid, loebenr: i64) -> Sql {
    let mut q = Sql::new("SELECT besked_seq FROM besked_levering WHERE dueslag = ");
    q.arg(Bind::Text(dueslag.to_string()))
        .push(" AND loebenr = ")
        .arg(Bind::I64(loebenr));
    q
}

/// Leveringer of one status in `loebenr` order, with their messages.
pub(crate) fn select_leveret(dueslag: Uuid, status: LeveringStatus, limit: u32) -> Sql {
    select_leveret_efter(dueslag, status, None, limit)
}

/// [`select_leveret`] behind `loebenr` `efter`.
pub(crate) fn select_leveret_efter(
    dueslag: Uuid,
    status: LeveringStatus,
    efter: Option<i64>,
    limit: u32,
) -> Sql {
    let mut q = Sql::new(&format!(
        "SELECT {LEVERET_COLS} FROM besked_levering l JOIN besked b ON b.seq = l.besked_seq \
         WHERE l.dueslag = "
    ));
    q.arg(Bind::Text(dueslag.to_string()))
        .push(&format!(" AND l.status = '{}'", status.as_str()));
    if let Some(efter) = efter {
        q.push(" AND l.loebenr > ").arg(Bind::I64(efter));
    }
    q.push(" ORDER BY l.loebenr LIMIT ")
        .arg(Bind::I64(i64::from(limit)));
    q
}

/// The Klar list up to and including its first levering not due at `nu` (see
/// [`BeskedStore::klar`](crate::besked::BeskedStore::klar)).
pub(crate) fn til_foerste_ikke_forfaldne(mut l: Vec<Leveret>, nu: i64) -> Vec<Leveret> {
    if let Some(i) = l.iter().position(|x| x.levering.naeste_forsoeg > nu) {
        l.truncate(i + 1);
    }
    l
}

/// A conditional step of a Klar levering: `SET …` applied only while it is Klar.
fn update_klar(dueslag: Uuid, loebenr: i64, set: impl FnOnce(&mut Sql)) -> Sql {
    let mut q = Sql::new("UPDATE besked_levering SET ");
    set(&mut q);
    q.push(" WHERE dueslag = ")
        .arg(Bind::Text(dueslag.to_string()))
        .push(" AND loebenr = ")
        .arg(Bind::I64(loebenr))
        .push(&format!(" AND status = '{}'", klar()));
    q
}

pub(crate) fn kvitter(dueslag: Uuid, loebenr: i64, nu: i64) -> Sql {
    update_klar(dueslag, loebenr, |q| {
        q.push(&format!(
            "status = '{}', leveret = ",
            LeveringStatus::Kvitteret.as_str()
        ))
        .arg(Bind::I64(nu));
    })
}

/// Klar → Kvitteret for the leveringer `loebenr` (at most [`crate::besked::KVITTER_CHUNK`],
/// not empty) of one dueslag. The list is padded to a power of two by repeating its last
/// entry, so the statement caches see few shapes.
pub(crate) fn kvitter_mange(dueslag: Uuid, loebenr: &[i64], nu: i64) -> Sql {
    debug_assert!(!loebenr.is_empty() && loebenr.len() <= crate::besked::KVITTER_CHUNK);
    let mut q = Sql::new(&format!(
        "UPDATE besked_levering SET status = '{}', leveret = ",
        LeveringStatus::Kvitteret.as_str()
    ));
    q.arg(Bind::I64(nu))
        .push(" WHERE dueslag = ")
        .arg(Bind::Text(dueslag.to_string()))
        .push(&format!(" AND status = '{}' AND loebenr IN ", klar()));
    let last = *loebenr.last().expect("not empty");
    let n = loebenr.len().next_power_of_two();
    q.list(
        loebenr
            .iter()
            .copied()
            .chain(std::iter::repeat(last))
            .take(n)
            .map(Bind::I64),
    );
    q
}

/// Klar → Kvitteret for the `(dueslag, loebenr)` pairs (at most
/// [`crate::besked::KVITTER_CHUNK`], not empty); returns the pairs changed. The pairs are
/// joined in (`UPDATE … FROM (VALUES …)`), so that each is one lookup of its levering: a
/// row-value `IN (VALUES …)` made SQLite read every Klar levering (the whole backlog) per
/// statement; `status || ''` keeps SQLite's planner, which without statistics takes the
/// status index for selective, from starting there. Repeated pairs are sent once, and the list is padded to a power of two with a
/// pair no levering has (`''`, -1), so the statement caches see few shapes.
pub(crate) fn kvitter_par(par: &[(Uuid, i64)], nu: i64) -> Sql {
    debug_assert!(!par.is_empty() && par.len() <= crate::besked::KVITTER_CHUNK);
    let mut unikke: Vec<(String, i64)> = par.iter().map(|(d, l)| (d.to_string(), *l)).collect();
    unikke.sort_unstable();
    unikke.dedup();
    let n = unikke.len().next_power_of_two();
    let mut q = Sql::new(&format!(
        "UPDATE besked_levering SET status = '{}', leveret = ",
        LeveringStatus::Kvitteret.as_str()
    ));
    q.arg(Bind::I64(nu)).push(" FROM (VALUES ");
    for (i, (d, l)) in unikke
        .into_iter()
        .chain(std::iter::repeat((String::new(), -1)))
        .take(n)
        .enumerate()
    {
        if i > 0 {
            q.push(", ");
        }
        q.list([Bind::Text(d), Bind::I64(l)]);
    }
    q.push(&format!(
        ") AS v WHERE besked_levering.dueslag = v.column1 \
         AND besked_levering.loebenr = v.column2 AND besked_levering.status || '' = '{}' \
         RETURNING besked_levering.dueslag, besked_levering.loebenr",
        klar()
    ));
    q
}

/// Returns the new `forsoeg`.
pub(crate) fn forsoeg_fejlet(dueslag: Uuid, loebenr: i64, naeste: i64, fejl: &str) -> Sql {
    let mut q = update_klar(dueslag, loebenr, |q| {
        q.push("forsoeg = forsoeg + 1, naeste_forsoeg = ")
            .arg(Bind::I64(naeste))
            .push(", sidste_fejl = ")
            .arg(Bind::Text(fejl.to_owned()));
    });
    q.push(" RETURNING forsoeg");
    q
}

pub(crate) fn til_fejlkoe(dueslag: Uuid, loebenr: i64, grund: &str) -> Sql {
    update_klar(dueslag, loebenr, |q| {
        q.push(&format!(
            "status = '{}', sidste_fejl = ",
            LeveringStatus::Fejlkoe.as_str()
        ))
        .arg(Bind::Text(grund.to_owned()));
    })
}

/// `(status, count)` of a dueslag's leveringer.
pub(crate) fn count_status(dueslag: Uuid) -> Sql {
    let mut q = Sql::new("SELECT status, COUNT(*) FROM besked_levering WHERE dueslag = ");
    q.arg(Bind::Text(dueslag.to_string()))
        .push(" GROUP BY status");
    q
}

/// `(due at nu, oldest fordelt)` of a dueslag's Klar leveringer.
pub(crate) fn klar_detaljer(dueslag: Uuid, nu: i64) -> Sql {
    let mut q = Sql::new("SELECT COALESCE(SUM(CASE WHEN naeste_forsoeg <= ");
    q.arg(Bind::I64(nu))
        .push(" THEN 1 ELSE 0 END), 0), MIN(fordelt) FROM besked_levering WHERE dueslag = ")
        .arg(Bind::Text(dueslag.to_string()))
        .push(&format!(" AND status = '{}'", klar()));
    q
}

/// Retention: acknowledged leveringer, then unreferenced old messages.
pub(crate) fn ryd(foer: i64) -> [Sql; 2] {
    let mut leveringer = Sql::new(&format!(
        "DELETE FROM besked_levering WHERE status = '{}' AND leveret < ",
        LeveringStatus::Kvitteret.as_str()
    ));
    leveringer.arg(Bind::I64(foer));
    let mut beskeder = Sql::new("DELETE FROM besked WHERE modtaget < ");
    beskeder
        .arg(Bind::I64(foer))
        .push(" AND NOT EXISTS (SELECT 1 FROM besked_levering l WHERE l.besked_seq = besked.seq)");
    [leveringer, beskeder]
}

// ---------------------------------------------------------------------------------------------
// Write transactions of the hot path, once for every way of running them

pub(crate) const MODTAG_CTX: &str = "accepting messages";
pub(crate) const KVITTER_CTX: &str = "acknowledging leveringer";
pub(crate) const KLAR_CTX: &str = "reading klar leveringer";

/// What accepting messages and acknowledging leveringer need of an open write transaction.
/// Implemented by the sqlx transactions of both backends (`besked_udfoer!`) and by SQLite's
/// direct handle ([`crate::sqlite_direkte::Direkte`]), so the flows below exist once.
pub(crate) trait Skriver {
    /// Every row's first two columns as (text, integer).
    async fn par(&mut self, q: Sql, ctx: &str) -> StoreResult<Vec<(String, i64)>>;
    /// The first column of every row, as integers.
    async fn tal(&mut self, q: Sql, ctx: &str) -> StoreResult<Vec<i64>>;
    /// Rows changed.
    async fn udfoer(&mut self, q: Sql, ctx: &str) -> StoreResult<u64>;
}

impl Skriver for crate::sqlite_direkte::Direkte {
    async fn par(&mut self, q: Sql, ctx: &str) -> StoreResult<Vec<(String, i64)>> {
        crate::sqlite_direkte::Direkte::par(self, q, ctx)
    }
    async fn tal(&mut self, q: Sql, ctx: &str) -> StoreResult<Vec<i64>> {
        crate::sqlite_direkte::Direkte::tal(self, q, ctx)
    }
    async fn udfoer(&mut self, q: Sql, ctx: &str) -> StoreResult<u64> {
        crate::sqlite_direkte::Direkte::udfoer(self, q, ctx)
    }
}

/// A row type the hot path reads on backend `DB`: through sqlx ([`sqlx::FromRow`]) or directly
/// ([`crate::sqlite_direkte::FraRaekke`]), into its domain value.
pub(crate) trait Raekketype<DB: sqlx::Database>:
    crate::sqlite_direkte::FraRaekke
    + crate::exec::IntoDomain
    + for<'r> sqlx::FromRow<'r, DB::Row>
    + Send
    + Unpin
{
}

impl<DB: sqlx::Database, R> Raekketype<DB> for R where
    R: crate::sqlite_direkte::FraRaekke
        + crate::exec::IntoDomain
        + for<'r> sqlx::FromRow<'r, DB::Row>
        + Send
        + Unpin
{
}

/// The result of a flow run on an executor that never waits ([`crate::sqlite_direkte`]).
pub(crate) fn straks<T>(f: impl std::future::Future<Output = StoreResult<T>>) -> StoreResult<T> {
    use futures::FutureExt as _;
    f.now_or_never().unwrap_or_else(|| {
        Err(StoreError::Backend(
            "a direct SQLite statement waited".into(),
        ))
    })
}

/// Accept a batch of messages inside `tx` (see [`crate::besked::BeskedStore::modtag`]).
pub(crate) async fn modtag_i<T: Skriver>(
    tx: &mut T,
    beskeder: &[NyBesked],
) -> StoreResult<Vec<Modtaget>> {
    const CTX: &str = MODTAG_CTX;
    // Stored in BeskedId order (the first of repeats in the batch first), so that concurrent
    // batches wait for each other's BeskedIds in one order: no deadlock.
    let mut orden: Vec<usize> = (0..beskeder.len()).collect();
    orden.sort_by_key(|&i| (beskeder[i].besked_id, i));
    // The first of each BeskedId in the batch, in BeskedId order, and for every message the
    // index of its first.
    let mut foerste: Vec<usize> = Vec::new();
    let mut af = vec![0usize; beskeder.len()];
    for i in orden {
        match foerste.last() {
            Some(&f) if beskeder[f].besked_id == beskeder[i].besked_id => af[i] = f,
            _ => {
                foerste.push(i);
                af[i] = i;
            }
        }
    }
    let mut indsat: HashMap<String, i64> = HashMap::with_capacity(foerste.len());
    for q in insert_beskeder(beskeder, &foerste) {
        indsat.extend(tx.par(q, CTX).await?);
    }
    // Per first: its seq, and whether this batch stored it.
    let mut seq_af: Vec<Option<(i64, bool)>> = vec![None; beskeder.len()];
    let mut nye: Vec<(usize, i64)> = Vec::new();
    for &i in &foerste {
        let b = &beskeder[i];
        let m = match indsat.get(&b.besked_id.to_string()) {
            Some(&seq) => {
                nye.push((i, seq));
                (seq, true)
            }
            None => {
                let seq = tx
                    .tal(select_seq(b.besked_id), CTX)
                    .await?
                    .into_iter()
                    .next()
                    .ok_or_else(|| {
                        StoreError::Conflict(format!(
                            "{CTX}: message {} vanished while being accepted",
                            b.besked_id
                        ))
                    })?;
                (seq, false)
            }
        };
        seq_af[i] = Some(m);
    }
    let svar: Vec<Modtaget> = (0..beskeder.len())
        .map(|i| {
            let (seq, ny) = seq_af[af[i]].expect("every first has a seq");
            Modtaget {
                seq,
                ny: ny && af[i] == i,
            }
        })
        .collect();
    // Numbered in batch order.
    nye.sort_unstable();
    let mut naeste = HashMap::new();
    for (dueslag, n) in behov(beskeder, &nye) {
        if let Some(efter) = tx
            .tal(reserve_loebenr(dueslag, n), CTX)
            .await?
            .into_iter()
            .next()
        {
            naeste.insert(dueslag, efter - n);
        }
    }
    let leveringer = nummerer(beskeder, &nye, naeste);
    for q in insert_leveringer(&leveringer) {
        tx.udfoer(q, CTX).await?;
    }
    Ok(svar)
}

/// What one write transaction of the hot path did: the answers for the messages, and the
/// acknowledged pairs that were Klar.
pub(crate) type Skrevet = (Vec<Modtaget>, std::collections::HashSet<(String, i64)>);

/// Accept `beskeder` and acknowledge `par` (at `nu`) inside `tx`.
pub(crate) async fn skriv_i<T: Skriver>(
    tx: &mut T,
    beskeder: &[NyBesked],
    par: &[(Uuid, i64)],
    nu: i64,
) -> StoreResult<Skrevet> {
    let svar = modtag_i(tx, beskeder).await?;
    let gjort = kvitter_par_i(tx, par, nu).await?;
    Ok((svar, gjort))
}

/// Acknowledge `(dueslag, loebenr)` pairs inside `tx`; the pairs that were Klar.
pub(crate) async fn kvitter_par_i<T: Skriver>(
    tx: &mut T,
    par: &[(Uuid, i64)],
    nu: i64,
) -> StoreResult<std::collections::HashSet<(String, i64)>> {
    let mut gjort = std::collections::HashSet::new();
    for chunk in par.chunks(crate::besked::KVITTER_CHUNK) {
        gjort.extend(tx.par(kvitter_par(chunk, nu), KVITTER_CTX).await?);
    }
    Ok(gjort)
}

/// [`crate::besked::BeskedStore::modtag_og_kvitter`]'s body: nothing for nothing, `$once`
/// (an expression awaiting one attempt) tried again after a conflict, the acknowledged pairs
/// answered in input order.
macro_rules! med_forsoeg {
    ($beskeder:expr, $par:expr, $once:expr) => {{
        if $beskeder.is_empty() && $par.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let mut attempt = 1;
        let (svar, mut gjort) = loop {
            match $once.await {
                Err(StoreError::Conflict(e)) if attempt < $crate::besked_sql::MODTAG_ATTEMPTS => {
                    tracing::debug!(attempt, "accepting messages: retrying after {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(5 * u64::from(attempt)))
                        .await;
                    attempt += 1;
                }
                r => break r?,
            }
        };
        let kvitteret = $par
            .iter()
            .map(|(d, l)| gjort.remove(&(d.to_string(), *l)))
            .collect();
        Ok((svar, kvitteret))
    }};
}
pub(crate) use med_forsoeg;

/// The statements of the hot path for one backend (accepting, acknowledging, reading a
/// dueslag's head): `skriv = sqlx` runs them through sqlx on the pools `$read` and `$write`,
/// `skriv = direkte` on the handle of a connection of those pools ([`crate::sqlite_direkte`],
/// SQLite only).
macro_rules! besked_udfoer {
    ($store:ty, read = $read:ident, write = $write:ident, skriv = sqlx) => {
        /// A sqlx transaction as [`Skriver`]($crate::besked_sql::Skriver).
        struct SqlxSkriver<'a>(
            &'a mut sqlx::Transaction<'static, <Conn as sqlx::Connection>::Database>,
        );

        impl $crate::besked_sql::Skriver for SqlxSkriver<'_> {
            async fn par(&mut self, q: Sql, ctx: &str) -> StoreResult<Vec<(String, i64)>> {
                fetch_all::<(String, i64), _>(&mut **self.0, q, ctx).await
            }
            async fn tal(&mut self, q: Sql, ctx: &str) -> StoreResult<Vec<i64>> {
                fetch_column(&mut **self.0, q, ctx).await
            }
            async fn udfoer(&mut self, q: Sql, ctx: &str) -> StoreResult<u64> {
                execute(&mut **self.0, q, ctx).await
            }
        }

        impl $store {
            /// One attempt of [`BeskedStore::modtag_og_kvitter`](crate::besked::BeskedStore::modtag_og_kvitter).
            async fn besked_skriv_once(
                &self,
                beskeder: &[$crate::besked::NyBesked],
                par: &[(uuid::Uuid, i64)],
                nu: i64,
            ) -> StoreResult<$crate::besked_sql::Skrevet> {
                const CTX: &str = $crate::besked_sql::MODTAG_CTX;
                let mut tx = self.besked_begin(CTX).await?;
                let r = $crate::besked_sql::skriv_i(&mut SqlxSkriver(&mut tx), beskeder, par, nu)
                    .await?;
                tx.commit().await.map_err(db_err(CTX))?;
                Ok(r)
            }

            /// A session that is the store itself: the pool gives each call a connection.
            async fn besked_skriver(
                &self,
            ) -> StoreResult<Box<dyn $crate::besked::BeskedSkriver + '_>> {
                struct Session<'a>(&'a $store);
                #[async_trait::async_trait]
                impl $crate::besked::BeskedSkriver for Session<'_> {
                    async fn modtag_og_kvitter(
                        &mut self,
                        beskeder: Vec<$crate::besked::NyBesked>,
                        par: &[(uuid::Uuid, i64)],
                        nu: i64,
                    ) -> StoreResult<(Vec<$crate::besked::Modtaget>, Vec<bool>)> {
                        $crate::besked::BeskedStore::modtag_og_kvitter(self.0, beskeder, par, nu)
                            .await
                    }
                }
                Ok(Box::new(Session(self)))
            }

            /// Every row of a read on the pool `$read`, converted to its domain value.
            async fn besked_laes<R>(
                &self,
                q: Sql,
                ctx: &str,
            ) -> StoreResult<Vec<<R as $crate::exec::IntoDomain>::Out>>
            where
                R: $crate::besked_sql::Raekketype<<Conn as sqlx::Connection>::Database>,
            {
                fetch_all_into::<R, _>(&self.$read, q, ctx).await
            }
        }
    };
    ($store:ty, read = $read:ident, write = $write:ident, skriv = direkte) => {
        impl $store {
            /// One attempt of [`BeskedStore::modtag_og_kvitter`](crate::besked::BeskedStore::modtag_og_kvitter).
            async fn besked_skriv_once(
                &self,
                beskeder: &[$crate::besked::NyBesked],
                par: &[(uuid::Uuid, i64)],
                nu: i64,
            ) -> StoreResult<$crate::besked_sql::Skrevet> {
                let mut conn = self
                    .$write
                    .acquire()
                    .await
                    .map_err(db_err($crate::besked_sql::MODTAG_CTX))?;
                Self::besked_skriv_paa(&mut conn, None, beskeder, par, nu).await
            }

            /// One attempt on the connection `conn` (with the statements kept in `gemte`).
            async fn besked_skriv_paa(
                conn: &mut sqlx::SqliteConnection,
                gemte: Option<&mut $crate::sqlite_direkte::Gemte>,
                beskeder: &[$crate::besked::NyBesked],
                par: &[(uuid::Uuid, i64)],
                nu: i64,
            ) -> StoreResult<$crate::besked_sql::Skrevet> {
                const CTX: &str = $crate::besked_sql::MODTAG_CTX;
                $crate::sqlite_direkte::transaktion_gemt(conn, gemte, CTX, |d| {
                    $crate::besked_sql::straks($crate::besked_sql::skriv_i(d, beskeder, par, nu))
                })
                .await
            }

            /// A session holding one connection of `$write` until dropped.
            async fn besked_skriver(
                &self,
            ) -> StoreResult<Box<dyn $crate::besked::BeskedSkriver + '_>> {
                /// The writer's connection and the statements it keeps for the session's
                /// rounds. `gemte` is declared first, so it is dropped (finalised) before the
                /// connection goes back to the pool.
                struct Session {
                    gemte: $crate::sqlite_direkte::Gemte,
                    conn: sqlx::pool::PoolConnection<sqlx::Sqlite>,
                }
                #[async_trait::async_trait]
                impl $crate::besked::BeskedSkriver for Session {
                    async fn modtag_og_kvitter(
                        &mut self,
                        beskeder: Vec<$crate::besked::NyBesked>,
                        par: &[(uuid::Uuid, i64)],
                        nu: i64,
                    ) -> StoreResult<(Vec<$crate::besked::Modtaget>, Vec<bool>)> {
                        $crate::besked_sql::med_forsoeg!(
                            beskeder,
                            par,
                            <$store>::besked_skriv_paa(
                                &mut self.conn,
                                Some(&mut self.gemte),
                                &beskeder,
                                par,
                                nu
                            )
                        )
                    }
                }
                let conn = self
                    .$write
                    .acquire()
                    .await
                    .map_err(db_err($crate::besked_sql::MODTAG_CTX))?;
                Ok(Box::new(Session {
                    gemte: Default::default(),
                    conn,
                }))
            }

            /// Every row of a read on one of the store's own read connections (a file
            /// database), else on a connection of `$read`, converted to its domain value.
            async fn besked_laes<R>(
                &self,
                q: Sql,
                ctx: &str,
            ) -> StoreResult<Vec<<R as $crate::exec::IntoDomain>::Out>>
            where
                R: $crate::besked_sql::Raekketype<<Conn as sqlx::Connection>::Database>,
            {
                let arbejde = |d: &mut $crate::sqlite_direkte::Direkte| {
                    d.raekker(q, ctx, R::fra_raekke)?
                        .into_iter()
                        .map($crate::exec::IntoDomain::into_domain)
                        .collect()
                };
                if let Some(l) = self.direkte_laesere() {
                    return l.laes(ctx, arbejde);
                }
                let mut conn = self.$read.acquire().await.map_err(db_err(ctx))?;
                $crate::sqlite_direkte::laes(&mut conn, ctx, arbejde).await
            }
        }
    };
}
pub(crate) use besked_udfoer;

// ---------------------------------------------------------------------------------------------
// The implementation, stamped out per backend

/// `impl BeskedStore for $store`, reading through the pool field `$read` and writing through
/// `$write`, whose transactions start with the statement `$begin`. Expands inside a backend
/// module after `exec_helpers!`, whose `execute`/`fetch_*` it calls.
macro_rules! besked_impl {
    (
        $store:ty,
        read = $read:ident,
        write = $write:ident,
        begin = $begin:literal,
        skriv = $skriv:ident
    ) => {
        impl $store {
            async fn besked_begin(
                &self,
                ctx: &str,
            ) -> StoreResult<sqlx::Transaction<'static, <Conn as sqlx::Connection>::Database>> {
                self.$write.begin_with($begin).await.map_err(db_err(ctx))
            }

            /// Run `change` after moving the abonnement counter, in one transaction; commit
            /// when it reports a change, roll back (counter included) when not.
            async fn besked_konfig(&self, q: Sql, ctx: &str) -> StoreResult<bool> {
                let mut tx = self.besked_begin(ctx).await?;
                execute(
                    &mut *tx,
                    $crate::besked_sql::bump_abonnement_version(),
                    ctx,
                )
                .await?;
                let n = execute(&mut *tx, q, ctx).await?;
                if n == 0 {
                    tx.rollback().await.map_err(db_err(ctx))?;
                    return Ok(false);
                }
                tx.commit().await.map_err(db_err(ctx))?;
                Ok(true)
            }

            /// Start a Værdiliste change: a transaction holding the moved Værdiliste counter
            /// and the list's row, the list's version set to the counter. `None` (rolled back)
            /// if there is no such list.
            async fn besked_vaerdiliste_tx(
                &self,
                liste: uuid::Uuid,
                ctx: &str,
            ) -> StoreResult<
                Option<sqlx::Transaction<'static, <Conn as sqlx::Connection>::Database>>,
            > {
                let mut tx = self.besked_begin(ctx).await?;
                let version: i64 = fetch_one_column(
                    &mut *tx,
                    $crate::besked_sql::bump_vaerdiliste_version(),
                    ctx,
                )
                .await?;
                let n = execute(
                    &mut *tx,
                    $crate::besked_sql::update_vaerdiliste_version(liste, version),
                    ctx,
                )
                .await?;
                if n == 0 {
                    tx.rollback().await.map_err(db_err(ctx))?;
                    return Ok(None);
                }
                Ok(Some(tx))
            }

            /// Add or remove values: the statements' rows affected, summed; committed only
            /// when that is not 0. `Backend` error for an unknown list.
            async fn besked_vaerdier_aendr(
                &self,
                liste: uuid::Uuid,
                qs: Vec<Sql>,
                ctx: &str,
            ) -> StoreResult<u64> {
                let Some(mut tx) = self.besked_vaerdiliste_tx(liste, ctx).await? else {
                    return Err(StoreError::Backend(format!(
                        "{ctx}: vaerdiliste {liste} does not exist"
                    )));
                };
                let mut n = 0u64;
                for q in qs {
                    n += execute(&mut *tx, q, ctx).await?;
                }
                if n == 0 {
                    tx.rollback().await.map_err(db_err(ctx))?;
                } else {
                    tx.commit().await.map_err(db_err(ctx))?;
                }
                Ok(n)
            }

        }

        $crate::besked_sql::besked_udfoer!($store, read = $read, write = $write, skriv = $skriv);

        #[async_trait::async_trait]
        impl $crate::besked::BeskedStore for $store {
            async fn opret_dueslag(&self, d: &$crate::besked::Dueslag) -> StoreResult<()> {
                self.besked_konfig($crate::besked_sql::insert_dueslag(d), "creating dueslag")
                    .await?;
                Ok(())
            }

            async fn hent_dueslag(
                &self,
                uuid: uuid::Uuid,
            ) -> StoreResult<Option<$crate::besked::Dueslag>> {
                Ok(self
                    .besked_laes::<$crate::besked_sql::DueslagRow>(
                        $crate::besked_sql::select_dueslag(uuid),
                        "reading dueslag",
                    )
                    .await?
                    .pop())
            }

            async fn list_dueslag(
                &self,
                ejer: Option<uuid::Uuid>,
            ) -> StoreResult<Vec<$crate::besked::Dueslag>> {
                fetch_all_into::<$crate::besked_sql::DueslagRow, _>(
                    &self.$read,
                    $crate::besked_sql::select_dueslag_list(ejer),
                    "listing dueslag",
                )
                .await
            }

            async fn saet_dueslag_aktiv(&self, uuid: uuid::Uuid, aktiv: bool) -> StoreResult<bool> {
                self.besked_konfig(
                    $crate::besked_sql::update_dueslag_aktiv(uuid, aktiv),
                    "starting or stopping dueslag",
                )
                .await
            }

            async fn slet_dueslag(&self, uuid: uuid::Uuid) -> StoreResult<bool> {
                const CTX: &str = "deleting dueslag";
                let mut tx = self.besked_begin(CTX).await?;
                execute(
                    &mut *tx,
                    $crate::besked_sql::bump_abonnement_version(),
                    CTX,
                )
                .await?;
                // Stop it first: takes its row lock, so no batch adds leveringer meanwhile.
                let n = execute(
                    &mut *tx,
                    $crate::besked_sql::update_dueslag_aktiv(uuid, false),
                    CTX,
                )
                .await?;
                if n == 0 {
                    tx.rollback().await.map_err(db_err(CTX))?;
                    return Ok(false);
                }
                for q in $crate::besked_sql::delete_dueslag(uuid) {
                    execute(&mut *tx, q, CTX).await?;
                }
                tx.commit().await.map_err(db_err(CTX))?;
                Ok(true)
            }

            async fn opret_abonnement(
                &self,
                a: &$crate::besked::Abonnement,
            ) -> StoreResult<()> {
                self.besked_konfig(
                    $crate::besked_sql::insert_abonnement(a),
                    "creating abonnement",
                )
                .await?;
                Ok(())
            }

            async fn hent_abonnement(
                &self,
                uuid: uuid::Uuid,
            ) -> StoreResult<Option<$crate::besked::Abonnement>> {
                fetch_optional_into::<$crate::besked_sql::AbonnementRow, _>(
                    &self.$read,
                    $crate::besked_sql::select_abonnement(uuid),
                    "reading abonnement",
                )
                .await
            }

            async fn list_abonnementer(
                &self,
                dueslag: Option<uuid::Uuid>,
            ) -> StoreResult<Vec<$crate::besked::Abonnement>> {
                fetch_all_into::<$crate::besked_sql::AbonnementRow, _>(
                    &self.$read,
                    $crate::besked_sql::select_abonnementer(dueslag),
                    "listing abonnementer",
                )
                .await
            }

            async fn saet_abonnement_aktiv(
                &self,
                uuid: uuid::Uuid,
                aktiv: bool,
                nu: i64,
            ) -> StoreResult<bool> {
                self.besked_konfig(
                    $crate::besked_sql::update_abonnement_aktiv(uuid, aktiv, nu),
                    "starting or stopping abonnement",
                )
                .await
            }

            async fn slet_abonnement(&self, uuid: uuid::Uuid) -> StoreResult<bool> {
                self.besked_konfig(
                    $crate::besked_sql::delete_abonnement(uuid),
                    "deleting abonnement",
                )
                .await
            }

            async fn abonnement_version(&self) -> StoreResult<i64> {
                fetch_one_column(
                    &self.$read,
                    $crate::besked_sql::select_abonnement_version(),
                    "reading abonnement version",
                )
                .await
            }

            async fn opret_vaerdiliste(
                &self,
                l: &$crate::besked::Vaerdiliste,
            ) -> StoreResult<()> {
                const CTX: &str = "creating vaerdiliste";
                let mut tx = self.besked_begin(CTX).await?;
                let version: i64 = fetch_one_column(
                    &mut *tx,
                    $crate::besked_sql::bump_vaerdiliste_version(),
                    CTX,
                )
                .await?;
                execute(
                    &mut *tx,
                    $crate::besked_sql::insert_vaerdiliste(l, version),
                    CTX,
                )
                .await?;
                tx.commit().await.map_err(db_err(CTX))
            }

            async fn hent_vaerdiliste(
                &self,
                uuid: uuid::Uuid,
            ) -> StoreResult<Option<$crate::besked::Vaerdiliste>> {
                fetch_optional_into::<$crate::besked_sql::VaerdilisteRow, _>(
                    &self.$read,
                    $crate::besked_sql::select_vaerdiliste(uuid),
                    "reading vaerdiliste",
                )
                .await
            }

            async fn list_vaerdilister(
                &self,
                ejer: Option<uuid::Uuid>,
            ) -> StoreResult<Vec<$crate::besked::Vaerdiliste>> {
                fetch_all_into::<$crate::besked_sql::VaerdilisteRow, _>(
                    &self.$read,
                    $crate::besked_sql::select_vaerdilister(ejer),
                    "listing vaerdilister",
                )
                .await
            }

            async fn slet_vaerdiliste(&self, uuid: uuid::Uuid) -> StoreResult<bool> {
                const CTX: &str = "deleting vaerdiliste";
                let Some(mut tx) = self.besked_vaerdiliste_tx(uuid, CTX).await? else {
                    return Ok(false);
                };
                for q in $crate::besked_sql::delete_vaerdiliste(uuid) {
                    execute(&mut *tx, q, CTX).await?;
                }
                tx.commit().await.map_err(db_err(CTX))?;
                Ok(true)
            }

            async fn ret_vaerdiliste(
                &self,
                l: &$crate::besked::Vaerdiliste,
            ) -> StoreResult<bool> {
                const CTX: &str = "changing vaerdiliste";
                let Some(mut tx) = self.besked_vaerdiliste_tx(l.uuid, CTX).await? else {
                    return Ok(false);
                };
                execute(&mut *tx, $crate::besked_sql::update_vaerdiliste(l), CTX).await?;
                tx.commit().await.map_err(db_err(CTX))?;
                Ok(true)
            }

            async fn erstat_vaerdier(
                &self,
                liste: uuid::Uuid,
                vaerdier: &[String],
            ) -> StoreResult<()> {
                const CTX: &str = "replacing values";
                let Some(mut tx) = self.besked_vaerdiliste_tx(liste, CTX).await? else {
                    return Err(StoreError::Backend(format!(
                        "{CTX}: vaerdiliste {liste} does not exist"
                    )));
                };
                execute(&mut *tx, $crate::besked_sql::delete_vaerdier_alle(liste), CTX).await?;
                for q in $crate::besked_sql::insert_vaerdier(liste, vaerdier) {
                    execute(&mut *tx, q, CTX).await?;
                }
                tx.commit().await.map_err(db_err(CTX))
            }

            async fn tilfoej_vaerdier(
                &self,
                liste: uuid::Uuid,
                vaerdier: &[String],
            ) -> StoreResult<u64> {
                self.besked_vaerdier_aendr(
                    liste,
                    $crate::besked_sql::insert_vaerdier(liste, vaerdier),
                    "adding values",
                )
                .await
            }

            async fn fjern_vaerdier(
                &self,
                liste: uuid::Uuid,
                vaerdier: &[String],
            ) -> StoreResult<u64> {
                self.besked_vaerdier_aendr(
                    liste,
                    $crate::besked_sql::delete_vaerdier(liste, vaerdier),
                    "removing values",
                )
                .await
            }

            async fn vaerdier(&self, liste: uuid::Uuid) -> StoreResult<Vec<String>> {
                fetch_column(
                    &self.$read,
                    $crate::besked_sql::select_vaerdier(liste),
                    "reading values",
                )
                .await
            }

            async fn modtag(
                &self,
                beskeder: Vec<$crate::besked::NyBesked>,
            ) -> StoreResult<Vec<$crate::besked::Modtaget>> {
                if beskeder.is_empty() {
                    return Ok(Vec::new());
                }
                Ok(self.modtag_og_kvitter(beskeder, &[], 0).await?.0)
            }

            async fn modtag_og_kvitter(
                &self,
                beskeder: Vec<$crate::besked::NyBesked>,
                par: &[(uuid::Uuid, i64)],
                nu: i64,
            ) -> StoreResult<(Vec<$crate::besked::Modtaget>, Vec<bool>)> {
                $crate::besked_sql::med_forsoeg!(
                    beskeder,
                    par,
                    self.besked_skriv_once(&beskeder, par, nu)
                )
            }

            async fn skriver(
                &self,
            ) -> StoreResult<Box<dyn $crate::besked::BeskedSkriver + '_>> {
                self.besked_skriver().await
            }

            async fn klar_efter(
                &self,
                dueslag: uuid::Uuid,
                efter: Option<i64>,
                nu: i64,
                limit: u32,
            ) -> StoreResult<Vec<$crate::besked::Leveret>> {
                let l = self
                    .besked_laes::<$crate::besked_sql::LeveretRow>(
                        $crate::besked_sql::select_leveret_efter(
                            dueslag,
                            $crate::besked::LeveringStatus::Klar,
                            efter,
                            limit,
                        ),
                        $crate::besked_sql::KLAR_CTX,
                    )
                    .await?;
                Ok($crate::besked_sql::til_foerste_ikke_forfaldne(l, nu))
            }

            async fn kvitter(
                &self,
                dueslag: uuid::Uuid,
                loebenr: i64,
                nu: i64,
            ) -> StoreResult<bool> {
                Ok(execute(
                    &self.$write,
                    $crate::besked_sql::kvitter(dueslag, loebenr, nu),
                    "acknowledging levering",
                )
                .await?
                    == 1)
            }

            async fn kvitter_mange(
                &self,
                dueslag: uuid::Uuid,
                loebenr: &[i64],
                nu: i64,
            ) -> StoreResult<u64> {
                let mut n = 0;
                for chunk in loebenr.chunks($crate::besked::KVITTER_CHUNK) {
                    n += execute(
                        &self.$write,
                        $crate::besked_sql::kvitter_mange(dueslag, chunk, nu),
                        "acknowledging leveringer",
                    )
                    .await?;
                }
                Ok(n)
            }

            async fn kvitter_par(
                &self,
                par: &[(uuid::Uuid, i64)],
                nu: i64,
            ) -> StoreResult<Vec<bool>> {
                if par.is_empty() {
                    return Ok(Vec::new());
                }
                Ok(self.modtag_og_kvitter(Vec::new(), par, nu).await?.1)
            }

            async fn forsoeg_fejlet(
                &self,
                dueslag: uuid::Uuid,
                loebenr: i64,
                naeste_forsoeg: i64,
                fejl: &str,
            ) -> StoreResult<Option<i32>> {
                let n: Option<i64> = fetch_column(
                    &self.$write,
                    $crate::besked_sql::forsoeg_fejlet(dueslag, loebenr, naeste_forsoeg, fejl),
                    "counting failed attempt",
                )
                .await?
                .into_iter()
                .next();
                Ok(n.map(|n| i32::try_from(n).unwrap_or(i32::MAX)))
            }

            async fn til_fejlkoe(
                &self,
                dueslag: uuid::Uuid,
                loebenr: i64,
                grund: &str,
            ) -> StoreResult<bool> {
                Ok(execute(
                    &self.$write,
                    $crate::besked_sql::til_fejlkoe(dueslag, loebenr, grund),
                    "moving levering to fejlkoe",
                )
                .await?
                    == 1)
            }

            async fn genafspil(
                &self,
                dueslag: uuid::Uuid,
                loebenr: i64,
                nu: i64,
            ) -> StoreResult<Option<i64>> {
                const CTX: &str = "replaying levering";
                let mut tx = self.besked_begin(CTX).await?;
                let seq: Option<i64> = fetch_column(
                    &mut *tx,
                    $crate::besked_sql::select_levering_seq(dueslag, loebenr),
                    CTX,
                )
                .await?
                .into_iter()
                .next();
                let Some(seq) = seq else {
                    tx.rollback().await.map_err(db_err(CTX))?;
                    return Ok(None);
                };
                let efter: i64 = fetch_one_column(
                    &mut *tx,
                    $crate::besked_sql::reserve_loebenr(dueslag, 1),
                    CTX,
                )
                .await?;
                let ny = $crate::besked_sql::NyLevering {
                    dueslag,
                    loebenr: efter - 1,
                    seq,
                    tid: nu,
                };
                for q in $crate::besked_sql::insert_leveringer(&[ny]) {
                    execute(&mut *tx, q, CTX).await?;
                }
                tx.commit().await.map_err(db_err(CTX))?;
                Ok(Some(ny.loebenr))
            }

            async fn status(
                &self,
                dueslag: uuid::Uuid,
                nu: i64,
            ) -> StoreResult<$crate::besked::DueslagStatus> {
                use $crate::besked::LeveringStatus;
                const CTX: &str = "counting leveringer";
                let mut s = $crate::besked::DueslagStatus::default();
                let counts = fetch_all::<(String, i64), _>(
                    &self.$read,
                    $crate::besked_sql::count_status(dueslag),
                    CTX,
                )
                .await?;
                for (status, n) in counts {
                    match LeveringStatus::parse(&status) {
                        Some(LeveringStatus::Klar) => s.klar = n,
                        Some(LeveringStatus::Kvitteret) => s.kvitteret = n,
                        Some(LeveringStatus::Fejlkoe) => s.fejlkoe = n,
                        None => {
                            return Err(StoreError::Backend(format!(
                                "{CTX}: bad status '{status}' in database"
                            )));
                        }
                    }
                }
                if s.klar > 0 {
                    let (forfaldne, aeldste) = fetch_optional::<(i64, Option<i64>), _>(
                        &self.$read,
                        $crate::besked_sql::klar_detaljer(dueslag, nu),
                        CTX,
                    )
                    .await?
                    .unwrap_or((0, None));
                    s.forfaldne = forfaldne;
                    s.aeldste_klar_fordelt = aeldste;
                }
                Ok(s)
            }

            async fn fejlkoe(
                &self,
                dueslag: uuid::Uuid,
                limit: u32,
            ) -> StoreResult<Vec<$crate::besked::Leveret>> {
                fetch_all_into::<$crate::besked_sql::LeveretRow, _>(
                    &self.$read,
                    $crate::besked_sql::select_leveret(
                        dueslag,
                        $crate::besked::LeveringStatus::Fejlkoe,
                        limit,
                    ),
                    "reading fejlkoe",
                )
                .await
            }

            async fn ryd_kvitterede(&self, foer: i64) -> StoreResult<u64> {
                const CTX: &str = "removing acknowledged leveringer";
                let mut tx = self.besked_begin(CTX).await?;
                let [leveringer, beskeder] = $crate::besked_sql::ryd(foer);
                let n = execute(&mut *tx, leveringer, CTX).await?;
                execute(&mut *tx, beskeder, CTX).await?;
                tx.commit().await.map_err(db_err(CTX))?;
                Ok(n)
            }

            async fn hent_besked(
                &self,
                besked_id: uuid::Uuid,
            ) -> StoreResult<Option<$crate::besked::Besked>> {
                fetch_optional_into::<$crate::besked_sql::BeskedRow, _>(
                    &self.$read,
                    $crate::besked_sql::select_besked(besked_id),
                    "reading message",
                )
                .await
            }
        }
    };
}

pub(crate) use besked_impl;

#[cfg(test)]
mod tests {
    use super::*;

    fn ny(dueslag: &[Uuid], tid: i64) -> NyBesked {
        NyBesked {
            besked_id: Uuid::new_v4(),
            afsender: Uuid::nil(),
            myndighed: "29189846".into(),
            modtaget: tid,
            xml: "<x/>".into(),
            dueslag: dueslag.to_vec(),
        }
    }

    #[test]
    fn chunks_are_powers_of_two() {
        assert_eq!(chunk_sizes(0, 256), Vec::<usize>::new());
        assert_eq!(chunk_sizes(1, 256), vec![1]);
        assert_eq!(chunk_sizes(7, 256), vec![4, 2, 1]);
        assert_eq!(chunk_sizes(600, 256), vec![256, 256, 64, 16, 8]);
        assert_eq!(chunk_sizes(100_000, 1024).iter().sum::<usize>(), 100_000);
    }

    #[test]
    fn leveringer_are_numbered_in_batch_order_per_dueslag() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let beskeder = [ny(&[b, a, b], 10), ny(&[a], 11), ny(&[c], 12), ny(&[b], 13)];
        // The third message was a repeat: not new.
        let nye = [(0, 100), (1, 101), (3, 103)];
        assert_eq!(behov(&beskeder, &nye), vec![(a, 2), (b, 2)]);
        // `b` starts at 5; `a` does not exist.
        let l = nummerer(&beskeder, &nye, HashMap::from([(b, 5)]));
        let got: Vec<_> = l
            .iter()
            .map(|x| (x.dueslag, x.loebenr, x.seq, x.tid))
            .collect();
        assert_eq!(got, vec![(b, 5, 100, 10), (b, 6, 103, 13)]);
    }

    #[test]
    fn value_inserts_bind_the_list_once() {
        let v: Vec<String> = (0..3).map(|i| i.to_string()).collect();
        let q = insert_vaerdier(Uuid::nil(), &v);
        assert_eq!(q.len(), 2);
        assert!(q[0].text.contains("($1, $2), ($1, $3)"), "{}", q[0].text);
        assert_eq!(q[0].binds.len(), 3);
        assert!(q[1].text.contains("($1, $2) ON CONFLICT"), "{}", q[1].text);
    }

    #[test]
    fn klar_stops_after_the_first_not_due() {
        let l = |n: i64, naeste: i64| Leveret {
            levering: Levering {
                dueslag: Uuid::nil(),
                loebenr: n,
                besked: n,
                status: LeveringStatus::Klar,
                forsoeg: 0,
                naeste_forsoeg: naeste,
                fordelt: 0,
                leveret: None,
                sidste_fejl: None,
            },
            besked: Besked {
                seq: n,
                besked_id: Uuid::nil(),
                afsender: Uuid::nil(),
                myndighed: String::new(),
                modtaget: 0,
                xml: String::new(),
            },
        };
        let nr = |v: Vec<Leveret>| v.iter().map(|x| x.levering.loebenr).collect::<Vec<_>>();
        assert_eq!(
            nr(til_foerste_ikke_forfaldne(
                vec![l(1, 5), l(2, 5), l(3, 9), l(4, 5)],
                5
            )),
            vec![1, 2, 3]
        );
        assert_eq!(
            nr(til_foerste_ikke_forfaldne(vec![l(1, 9), l(2, 5)], 5)),
            vec![1]
        );
        assert_eq!(
            nr(til_foerste_ikke_forfaldne(vec![l(1, 1), l(2, 5)], 5)),
            vec![1, 2]
        );
    }
}
