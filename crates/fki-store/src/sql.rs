//! SQL text shared by both backends.
//!
//! Every statement is built once here as text with `$1, $2 …` placeholders (PostgreSQL's form,
//! which sqlx's SQLite driver also accepts: `$N` is parameter N) plus a list of [`Bind`] values
//! that each backend binds in a loop. The few dialect differences (`LIMIT -1`, `INDEXED BY`) are
//! switched on [`Dialect`].

use fki_oio::model::{Data, Livscyklus, Objekt, Registrering, RegistreringMeta};
use fki_oio::store::{
    Fakt, Historik, Kriterium, Match, NytObjekt, RegWindow, Scope, SearchQuery, StoreError,
    StoreResult,
};
use uuid::Uuid;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bind {
    I64(i64),
    Text(String),
    OptText(Option<String>),
    OptI64(Option<i64>),
    Bool(bool),
    Bytes(Vec<u8>),
}

/// Which SQL flavour a statement is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// SQL text under construction with its bind values.
#[derive(Debug, Default, Clone)]
pub(crate) struct Sql {
    pub text: String,
    pub binds: Vec<Bind>,
    /// Plan with the bound values every time (see [`Sql::custom_plan`]).
    pub custom_plan: bool,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql {
            text: text.to_owned(),
            binds: Vec::new(),
            custom_plan: false,
        }
    }

    /// Mark a statement whose best plan depends on its values (searches, probes). PostgreSQL
    /// runs it as an unnamed statement, planned with the bound values each time; everything
    /// else is a cached prepared statement whose generic plan PostgreSQL may reuse without
    /// planning again. SQLite has no value-dependent plans and ignores the mark.
    pub fn custom_plan(mut self) -> Self {
        self.custom_plan = true;
        self
    }

    /// Append literal SQL.
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// Append a placeholder for `b`.
    pub fn arg(&mut self, b: Bind) -> &mut Self {
        let p = self.placeholder(b);
        self.text.push_str(&p);
        self
    }

    /// Register `b` and return its placeholder text without appending it.
    pub fn placeholder(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }

    /// Append `(ph, ph, …)` for a list of values.
    pub fn list(&mut self, values: impl IntoIterator<Item = Bind>) -> &mut Self {
        self.text.push('(');
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.arg(v);
        }
        self.text.push(')');
        self
    }
}

/// Literal `i64::MAX`, the "infinity" of the current registrering. Written as a literal (not a
/// bind) so both planners see the equality on `til` as a constant.
pub(crate) const INF_LIT: &str = "9223372036854775807";

/// Name of the fact that orders paged searches.
pub(crate) const BVN: &str = "a:brugervendtnoegle";

/// Largest number of UUIDs put in one `IN (…)` list.
pub(crate) const IN_CHUNK: usize = 500;

/// Largest number of facts inserted by one statement (8 binds each: far below the bind limits of
/// SQLite, 32 766, and PostgreSQL, 65 535).
pub(crate) const FAKT_CHUNK: usize = 256;

/// Up to this many facts go in one statement of exactly that size; larger sets are split into
/// powers of two. So a typical registrering takes one statement, and the per-connection
/// statement caches (100 entries) only ever see about 40 shapes.
pub(crate) const FAKT_EXACT: usize = 32;

// ---------------------------------------------------------------------------------------------
// Rows

pub(crate) const OBJEKT_COLS: &str = "uuid, klasse, myndighed, faelles";
pub(crate) const REG_COLS: &str = "id, objekt_uuid, fra, til, livscyklus, brugerref, note, data";

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ObjektRow {
    pub uuid: String,
    pub klasse: String,
    pub myndighed: Option<String>,
    pub faelles: bool,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RegRow {
    pub id: i64,
    pub objekt_uuid: String,
    pub fra: i64,
    pub til: i64,
    pub livscyklus: String,
    pub brugerref: Option<String>,
    pub note: Option<String>,
    pub data: String,
}

pub(crate) fn parse_uuid(s: &str, what: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(s)
        .map_err(|e| StoreError::Backend(format!("bad {what} '{s}' in database: {e}")))
}

impl ObjektRow {
    pub fn into_objekt(self) -> StoreResult<Objekt> {
        Ok(Objekt {
            uuid: parse_uuid(&self.uuid, "objekt.uuid")?,
            klasse: self.klasse,
            myndighed: self.myndighed,
            faelles: self.faelles,
        })
    }
}

impl RegRow {
    pub fn into_registrering(self) -> StoreResult<Registrering> {
        let livscyklus = Livscyklus::parse(&self.livscyklus).ok_or_else(|| {
            StoreError::Backend(format!(
                "bad livscyklus '{}' in registrering {}",
                self.livscyklus, self.id
            ))
        })?;
        let brugerref = match &self.brugerref {
            Some(b) => Some(parse_uuid(b, "registrering.brugerref")?),
            None => None,
        };
        let data: Data = serde_json::from_str(&self.data).map_err(|e| {
            StoreError::Backend(format!(
                "registrering {}: stored data is not valid: {e}",
                self.id
            ))
        })?;
        Ok(Registrering {
            id: self.id,
            meta: RegistreringMeta {
                fra: self.fra,
                til: self.til,
                livscyklus,
                brugerref,
                note: self.note,
            },
            data,
        })
    }
}

/// One row of [`select_historik`]: an object and one of its registreringer (all `None` when the
/// object has none in the window).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct HistorikRow {
    pub uuid: String,
    pub klasse: String,
    pub myndighed: Option<String>,
    pub faelles: bool,
    pub id: Option<i64>,
    pub fra: Option<i64>,
    pub til: Option<i64>,
    pub livscyklus: Option<String>,
    pub brugerref: Option<String>,
    pub note: Option<String>,
    pub data: Option<String>,
}

impl HistorikRow {
    /// Split into the object row and, if there is one, the registrering row.
    fn split(self) -> (ObjektRow, Option<RegRow>) {
        let reg = match (self.id, self.fra, self.til, self.livscyklus, self.data) {
            (Some(id), Some(fra), Some(til), Some(livscyklus), Some(data)) => Some(RegRow {
                id,
                objekt_uuid: self.uuid.clone(),
                fra,
                til,
                livscyklus,
                brugerref: self.brugerref,
                note: self.note,
                data,
            }),
            _ => None,
        };
        let objekt = ObjektRow {
            uuid: self.uuid,
            klasse: self.klasse,
            myndighed: self.myndighed,
            faelles: self.faelles,
        };
        (objekt, reg)
    }
}

/// Split the rows of [`select_historik`] (ordered by object, newest registrering first) into
/// the inputs of [`assemble`].
pub(crate) fn split_historik(rows: Vec<HistorikRow>) -> (Vec<ObjektRow>, Vec<RegRow>) {
    let mut objekter: Vec<ObjektRow> = Vec::new();
    let mut regs = Vec::with_capacity(rows.len());
    for row in rows {
        let (o, r) = row.split();
        if objekter.last().is_none_or(|last| last.uuid != o.uuid) {
            objekter.push(o);
        }
        regs.extend(r);
    }
    (objekter, regs)
}

/// The UUIDs without repeats, in first-seen order (so chunked reads never fetch a row twice).
pub(crate) fn distinct(uuids: &[Uuid]) -> Vec<Uuid> {
    let mut seen = std::collections::HashSet::with_capacity(uuids.len());
    uuids.iter().copied().filter(|u| seen.insert(*u)).collect()
}

/// Assemble [`Historik`] values in input order from batched rows. `regs` must be ordered newest
/// first within each object.
pub(crate) fn assemble(
    uuids: &[Uuid],
    objekter: Vec<ObjektRow>,
    regs: Vec<RegRow>,
) -> StoreResult<Vec<Historik>> {
    use std::collections::HashMap;
    let mut by_uuid: HashMap<Uuid, Historik> = HashMap::with_capacity(objekter.len());
    for o in objekter {
        let objekt = o.into_objekt()?;
        by_uuid.insert(
            objekt.uuid,
            Historik {
                objekt,
                registreringer: Vec::new(),
            },
        );
    }
    for r in regs {
        let u = parse_uuid(&r.objekt_uuid, "registrering.objekt_uuid")?;
        let reg = r.into_registrering()?;
        if let Some(h) = by_uuid.get_mut(&u) {
            h.registreringer.push(reg);
        }
    }
    // A UUID given more than once comes back as often; the last copy is moved out.
    let mut left: HashMap<Uuid, usize> = HashMap::with_capacity(uuids.len());
    for u in uuids {
        *left.entry(*u).or_default() += 1;
    }
    let mut out = Vec::with_capacity(uuids.len());
    for u in uuids {
        let Some(n) = left.get_mut(u) else { continue };
        *n -= 1;
        let h = if *n == 0 {
            by_uuid.remove(u)
        } else {
            by_uuid.get(u).cloned()
        };
        if let Some(h) = h {
            out.push(h);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Reads and writes

/// One statement for a read: the object rows of a chunk of UUIDs joined with their
/// registreringer in a window, newest first per object (one round trip per chunk instead of
/// two; objects without a registrering in the window come back with `NULL`s).
pub(crate) fn select_historik(uuids: &[Uuid], reg: RegWindow) -> Sql {
    let mut q = Sql::new(
        "SELECT o.uuid, o.klasse, o.myndighed, o.faelles, r.id, r.fra, r.til, r.livscyklus, \
         r.brugerref, r.note, r.data FROM objekt o LEFT JOIN registrering r \
         ON r.objekt_uuid = o.uuid",
    );
    push_window(&mut q, "r.", reg);
    q.push(" WHERE o.uuid IN ");
    q.list(uuids.iter().map(|u| Bind::Text(u.to_string())));
    q.push(" ORDER BY o.uuid, r.fra DESC, r.id DESC");
    q
}

/// ` AND <window on alias.fra/til>`.
fn push_window(q: &mut Sql, alias: &str, reg: RegWindow) {
    match reg {
        RegWindow::Current => {
            q.push(&format!(" AND {alias}til = {INF_LIT}"));
        }
        RegWindow::Range(a, b) => {
            q.push(&format!(" AND {alias}fra < ")).arg(Bind::I64(b));
            q.push(&format!(" AND {alias}til > ")).arg(Bind::I64(a));
        }
    }
}

pub(crate) fn select_objekt_one(uuid: Uuid, for_update: bool) -> Sql {
    let mut q = Sql::new(&format!("SELECT {OBJEKT_COLS} FROM objekt WHERE uuid = "));
    q.arg(Bind::Text(uuid.to_string()));
    if for_update {
        q.push(" FOR UPDATE");
    }
    q
}

pub(crate) fn select_current(uuid: Uuid) -> Sql {
    let mut q = Sql::new(&format!(
        "SELECT {REG_COLS} FROM registrering WHERE objekt_uuid = "
    ));
    q.arg(Bind::Text(uuid.to_string()));
    q.push(&format!(
        " AND til = {INF_LIT} ORDER BY fra DESC, id DESC LIMIT 1"
    ));
    q
}

pub(crate) fn insert_objekt(o: &Objekt) -> Sql {
    let mut q = Sql::new("INSERT INTO objekt (uuid, klasse, myndighed, faelles) VALUES ");
    q.list(objekt_raekke(o));
    q.push(" ON CONFLICT DO NOTHING");
    q
}

/// The values of an `objekt` row, in the column order of the inserts.
fn objekt_raekke(o: &Objekt) -> [Bind; 4] {
    [
        Bind::Text(o.uuid.to_string()),
        Bind::Text(o.klasse.clone()),
        Bind::OptText(o.myndighed.clone()),
        Bind::Bool(o.faelles),
    ]
}

/// The values of a `registrering` row (`data` as JSON), in the column order of the inserts.
fn registrering_raekke(
    objekt: &Objekt,
    meta: &RegistreringMeta,
    data: &Data,
) -> StoreResult<[Bind; 8]> {
    let json = serde_json::to_string(data)
        .map_err(|e| StoreError::Backend(format!("cannot serialise registrering data: {e}")))?;
    Ok([
        Bind::Text(objekt.uuid.to_string()),
        Bind::Text(objekt.klasse.clone()),
        Bind::I64(meta.fra),
        Bind::I64(meta.til),
        Bind::Text(meta.livscyklus.as_str().to_owned()),
        Bind::OptText(meta.brugerref.map(|u| u.to_string())),
        Bind::OptText(meta.note.clone()),
        Bind::Text(json),
    ])
}

pub(crate) fn close_registrering(id: i64, til: i64) -> Sql {
    let mut q = Sql::new("UPDATE registrering SET til = ");
    q.arg(Bind::I64(til))
        .push(" WHERE id = ")
        .arg(Bind::I64(id));
    q
}

pub(crate) fn insert_registrering(
    objekt: &Objekt,
    meta: &RegistreringMeta,
    data: &Data,
) -> StoreResult<Sql> {
    let mut q = Sql::new(
        "INSERT INTO registrering (objekt_uuid, klasse, fra, til, livscyklus, brugerref, note, data) VALUES ",
    );
    q.list(registrering_raekke(objekt, meta, data)?);
    q.push(" RETURNING id");
    Ok(q)
}

/// Rows per multi-row `INSERT` of [`insert_nye_objekter`] and its kin (8 values per
/// registrering or fact row). Not more: SQLite looks a `$N` parameter up by scanning the
/// statement's parameter list, so binding costs grow with the square of the values per
/// statement (at 1,000 rows the load was 4× slower than one statement per object, nearly all
/// of it in `sqlite3_bind_parameter_name`).
const NYE_CHUNK: usize = 64;

/// The statements of a bulk insert of new objects ([`fki_oio::store::StoreTx::insert_nye`]),
/// in foreign-key order: the object rows (`ON CONFLICT DO NOTHING`: the caller compares the
/// rows affected with the count), then the registreringer (`RETURNING id, objekt_uuid`, so the
/// caller maps each object to its registrering's id for the facts).
pub(crate) fn insert_nye_objekter(nye: &[NytObjekt]) -> Vec<Sql> {
    nye.chunks(NYE_CHUNK)
        .map(|c| {
            let mut q = Sql::new("INSERT INTO objekt (uuid, klasse, myndighed, faelles) VALUES ");
            for (i, n) in c.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.list(objekt_raekke(&n.objekt));
            }
            q.push(" ON CONFLICT DO NOTHING");
            q
        })
        .collect()
}

/// The registreringer of [`insert_nye_objekter`]'s objects, a statement per chunk.
pub(crate) fn insert_nye_registreringer(nye: &[NytObjekt]) -> StoreResult<Vec<Sql>> {
    nye.chunks(NYE_CHUNK)
        .map(|c| {
            let mut q = Sql::new(
                "INSERT INTO registrering (objekt_uuid, klasse, fra, til, livscyklus, brugerref, note, data) VALUES ",
            );
            for (i, n) in c.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.list(registrering_raekke(&n.objekt, &n.meta, &n.data)?);
            }
            q.push(" RETURNING id, objekt_uuid");
            Ok(q)
        })
        .collect()
}

/// The facts of many registreringer (`(reg_id, klasse, facts)`), [`NYE_CHUNK`] rows per
/// statement.
pub(crate) fn insert_fakta_mange(regs: &[(i64, &str, &[Fakt])]) -> Vec<Sql> {
    let rows: Vec<(i64, &str, &Fakt)> = regs
        .iter()
        .flat_map(|(id, klasse, fakta)| fakta.iter().map(move |f| (*id, *klasse, f)))
        .collect();
    rows.chunks(NYE_CHUNK)
        .map(|c| {
            let mut q = Sql::new(
                "INSERT INTO fakt (reg_id, klasse, navn, vaerdi, objekttype, sti, fra, til) VALUES ",
            );
            for (i, (id, klasse, f)) in c.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.list([
                    Bind::I64(*id),
                    Bind::Text((*klasse).to_owned()),
                    Bind::Text(f.navn.clone()),
                    Bind::Text(f.vaerdi.clone()),
                    Bind::OptText(f.objekttype.clone()),
                    Bind::OptText(f.sti.clone()),
                    Bind::I64(f.fra),
                    Bind::I64(f.til),
                ]);
            }
            q
        })
        .collect()
}

/// Replace the data of registrering `id`, which must belong to object `uuid`.
pub(crate) fn rewrite_registrering(uuid: Uuid, id: i64, data: &Data) -> StoreResult<Sql> {
    let json = serde_json::to_string(data)
        .map_err(|e| StoreError::Backend(format!("cannot serialise registrering data: {e}")))?;
    let mut q = Sql::new("UPDATE registrering SET data = ");
    q.arg(Bind::Text(json))
        .push(" WHERE id = ")
        .arg(Bind::I64(id))
        .push(" AND objekt_uuid = ")
        .arg(Bind::Text(uuid.to_string()));
    Ok(q)
}

/// Delete the facts of one registrering.
pub(crate) fn delete_fakta(reg_id: i64) -> Sql {
    let mut q = Sql::new("DELETE FROM fakt WHERE reg_id = ");
    q.arg(Bind::I64(reg_id));
    q
}

/// The statements that physically delete an object, in foreign-key order: facts,
/// registreringer, object row. The last one's row count says whether the object existed.
pub(crate) fn purge(uuid: Uuid) -> [Sql; 3] {
    let u = || Bind::Text(uuid.to_string());
    let mut fakta = Sql::new(
        "DELETE FROM fakt WHERE reg_id IN (SELECT id FROM registrering WHERE objekt_uuid = ",
    );
    fakta.arg(u()).push(")");
    let mut regs = Sql::new("DELETE FROM registrering WHERE objekt_uuid = ");
    regs.arg(u());
    let mut objekt = Sql::new("DELETE FROM objekt WHERE uuid = ");
    objekt.arg(u());
    [fakta, regs, objekt]
}

/// Multi-row `INSERT`s of facts: one statement for up to [`FAKT_EXACT`] facts, otherwise
/// chunks whose sizes are powers of two (at most [`FAKT_CHUNK`]), so only a few statement
/// shapes exist.
pub(crate) fn insert_fakta(reg_id: i64, klasse: &str, fakta: &[Fakt]) -> Vec<Sql> {
    let mut out = Vec::new();
    let mut rest = fakta;
    while !rest.is_empty() {
        let n = if rest.len() >= FAKT_CHUNK {
            FAKT_CHUNK
        } else if rest.len() <= FAKT_EXACT {
            rest.len()
        } else {
            // Largest power of two not above rest.len().
            1usize << (usize::BITS - 1 - rest.len().leading_zeros())
        };
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let mut q = Sql::new(
            "INSERT INTO fakt (reg_id, klasse, navn, vaerdi, objekttype, sti, fra, til) VALUES ",
        );
        let reg = q.placeholder(Bind::I64(reg_id));
        let kl = q.placeholder(Bind::Text(klasse.to_owned()));
        for (i, f) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push(&format!("({reg}, {kl}, "));
            q.arg(Bind::Text(f.navn.clone())).push(", ");
            q.arg(Bind::Text(f.vaerdi.clone())).push(", ");
            q.arg(Bind::OptText(f.objekttype.clone())).push(", ");
            q.arg(Bind::OptText(f.sti.clone())).push(", ");
            q.arg(Bind::I64(f.fra)).push(", ");
            q.arg(Bind::I64(f.til)).push(")");
        }
        out.push(q);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Search

/// Escape `\`, `%` and `_` for use inside a `LIKE … ESCAPE '\'` pattern.
pub(crate) fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The smallest string greater than every string starting with `prefix` (in code-point order),
/// or `None` if there is none (empty prefix, or only `char::MAX`).
pub(crate) fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut n = last as u32 + 1;
        if (0xD800..=0xDFFF).contains(&n) {
            n = 0xE000;
        }
        if let Some(c) = char::from_u32(n) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// How good a criterion is at driving the query through an index (lower is better), or `None`
/// if no index can narrow it.
pub(crate) fn driver_rank(k: &Kriterium) -> Option<u8> {
    match (&k.vaerdi, k.navn_prefix) {
        (Match::Eq(_), false) if k.navn.starts_with("r:") => Some(0),
        (Match::Eq(_), false) => Some(1),
        (Match::Like { prefix, .. }, false) if !prefix.is_empty() => Some(2),
        (Match::Eq(_), true) => Some(3),
        _ => None,
    }
}

/// Index of the criterion that should drive the search by rank alone, if any is index-friendly.
pub(crate) fn pick_driver(kriterier: &[Kriterium]) -> Option<usize> {
    kriterier
        .iter()
        .enumerate()
        .filter_map(|(i, k)| driver_rank(k).map(|r| (r, i)))
        .min()
        .map(|(_, i)| i)
}

/// `SELECT COUNT(*)` of the facts matching the index part of criterion `k` (class, name, value
/// or value range), stopping at `cap`. Answered from the `(klasse, navn, vaerdi)` index alone
/// (or `(vaerdi)` for a name prefix), it tells how many rows the criterion would drive.
pub(crate) fn probe(klasse: &str, k: &Kriterium, cap: u32) -> Sql {
    let mut q = Sql::new("SELECT COUNT(*) FROM (SELECT 1 FROM fakt f WHERE f.klasse = ");
    q.arg(Bind::Text(klasse.to_owned()));
    if k.navn_prefix {
        q.push(" AND f.navn >= ").arg(Bind::Text(k.navn.clone()));
        if let Some(next) = prefix_successor(&k.navn) {
            q.push(" AND f.navn < ").arg(Bind::Text(next));
        }
    } else {
        q.push(" AND f.navn = ").arg(Bind::Text(k.navn.clone()));
    }
    match &k.vaerdi {
        Match::Eq(v) => {
            q.push(" AND f.vaerdi = ").arg(Bind::Text(v.clone()));
        }
        Match::Like { prefix, .. } => {
            q.push(" AND f.vaerdi >= ").arg(Bind::Text(prefix.clone()));
            if let Some(next) = prefix_successor(prefix) {
                q.push(" AND f.vaerdi < ").arg(Bind::Text(next));
            }
        }
    }
    q.push(&format!(" LIMIT {cap}) AS probe"));
    q
}

/// The conditions of one criterion on fact alias `f` (without `reg_id`), starting with
/// `AND`. `klasse` is given for a driving fact (it leads the index); a probe by `reg_id` leaves
/// it out, as the registrering fixes the class, and so gives PostgreSQL's planner no reason to
/// prefer the `(klasse, navn, vaerdi)` index for a per-registrering probe.
fn push_kriterium(q: &mut Sql, f: &str, klasse: Option<&str>, k: &Kriterium, virk: (i64, i64)) {
    if let Some(klasse) = klasse {
        q.push(&format!(" AND {f}.klasse = "))
            .arg(Bind::Text(klasse.to_owned()));
    }
    if k.navn_prefix {
        q.push(&format!(" AND {f}.navn LIKE "))
            .arg(Bind::Text(format!("{}%", escape_like(&k.navn))))
            .push(" ESCAPE '\\'");
        if !k.navn.is_empty() {
            q.push(&format!(" AND {f}.navn >= "))
                .arg(Bind::Text(k.navn.clone()));
            if let Some(next) = prefix_successor(&k.navn) {
                q.push(&format!(" AND {f}.navn < ")).arg(Bind::Text(next));
            }
        }
    } else {
        q.push(&format!(" AND {f}.navn = "))
            .arg(Bind::Text(k.navn.clone()));
    }
    match &k.vaerdi {
        Match::Eq(v) => {
            q.push(&format!(" AND {f}.vaerdi = "))
                .arg(Bind::Text(v.clone()));
        }
        Match::Like { pattern, prefix } => {
            if !prefix.is_empty() {
                q.push(&format!(" AND {f}.vaerdi >= "))
                    .arg(Bind::Text(prefix.clone()));
                if let Some(next) = prefix_successor(prefix) {
                    q.push(&format!(" AND {f}.vaerdi < ")).arg(Bind::Text(next));
                }
            }
            q.push(&format!(" AND {f}.vaerdi LIKE "))
                .arg(Bind::Text(pattern.clone()))
                .push(" ESCAPE '\\'");
        }
    }
    if let Some(ot) = &k.objekttype {
        q.push(&format!(" AND {f}.objekttype = "))
            .arg(Bind::Text(ot.clone()));
    }
    if let Some(sti) = &k.sti_prefix {
        q.push(&format!(" AND {f}.sti LIKE "))
            .arg(Bind::Text(format!("{}%", escape_like(sti))))
            .push(" ESCAPE '\\'");
    }
    q.push(&format!(" AND {f}.fra < ")).arg(Bind::I64(virk.1));
    q.push(&format!(" AND {f}.til > ")).arg(Bind::I64(virk.0));
}

/// Where a search statement starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drive<'a> {
    /// From `registrering` by `(klasse, til)`, or by `(objekt_uuid, til)` when the query names
    /// a UUID.
    Registrering,
    /// From the facts of this criterion (index into `kriterier`) by `(klasse, navn, vaerdi)`.
    Kriterium(usize),
    /// From the `a:brugervendtnoegle` facts with `lo <= vaerdi < hi` (either bound optional), in
    /// index order, for a paged search that walks the key order (see the backends). The
    /// statement has the paged shape (`uuid`, `bvn`, ordered) but no `LIMIT`/`OFFSET`.
    Bvn {
        lo: Option<&'a str>,
        hi: Option<&'a str>,
    },
}

/// The search statement. Returns rows whose first column `uuid` is the object UUID (paged
/// searches also return `bvn`).
///
/// Shape (SQLite keeps the written join order of `CROSS JOIN`; PostgreSQL plans freely):
///
/// ```sql
/// SELECT DISTINCT r.objekt_uuid AS uuid
/// FROM fakt f0 CROSS JOIN registrering r [CROSS JOIN objekt o]
/// WHERE <driver criterion on f0> AND r.id = f0.reg_id AND r.klasse = $k AND <window> …
///   AND EXISTS (SELECT 1 FROM fakt f1 WHERE f1.reg_id = r.id AND <criterion 1>) …
/// ```
///
/// A paged search joins the registrering's `a:brugervendtnoegle` facts `b` and groups by object,
/// ordered by `MIN(b.vaerdi)`, then UUID. `drive` says where to start; a criterion index is
/// ignored when the query names a UUID.
pub(crate) fn search(dialect: Dialect, q: &SearchQuery, drive: Drive<'_>) -> Sql {
    let drive = match drive {
        Drive::Kriterium(d) if q.uuid.is_some() || d >= q.kriterier.len() => Drive::Registrering,
        other => other,
    };
    let driver = match drive {
        Drive::Kriterium(d) => Some(d),
        _ => None,
    };
    let by_bvn = matches!(drive, Drive::Bvn { .. });
    let paged = q.paging.is_some() || by_bvn;
    // A probe of the facts of one registrering. SQLite is told to use `fakt_reg`: without
    // statistics it would rather seek `(klasse, navn, vaerdi)`, which is far worse per row.
    let fakt_probe = |alias: &str| match dialect {
        Dialect::Sqlite => format!("fakt {alias} INDEXED BY fakt_reg"),
        Dialect::Postgres => format!("fakt {alias}"),
    };

    let mut s = Sql::new(if paged {
        "SELECT r.objekt_uuid AS uuid, MIN(b.vaerdi) AS bvn FROM "
    } else {
        "SELECT DISTINCT r.objekt_uuid AS uuid FROM "
    });
    match drive {
        Drive::Kriterium(_) => {
            s.push("fakt f0 CROSS JOIN registrering r");
        }
        Drive::Bvn { .. } => {
            s.push("fakt b CROSS JOIN registrering r");
        }
        Drive::Registrering if q.uuid.is_some() && dialect == Dialect::Sqlite => {
            // Without statistics SQLite may prefer (klasse, til), i.e. the whole class.
            s.push("registrering r INDEXED BY registrering_objekt_til");
        }
        Drive::Registrering => {
            s.push("registrering r");
        }
    }
    let scoped = matches!(q.scope, Scope::Myndigheder(_));
    if scoped {
        s.push(" CROSS JOIN objekt o");
    }
    if paged && !by_bvn {
        s.push(&format!(" CROSS JOIN {}", fakt_probe("b")));
    }
    // `TRUE` lets every condition below start with `AND`.
    s.push(" WHERE TRUE");
    match drive {
        Drive::Kriterium(d) => {
            // The driving fact fixes the class (a fact has its registrering's class).
            push_kriterium(&mut s, "f0", Some(&q.klasse), &q.kriterier[d], q.virk);
            s.push(" AND r.id = f0.reg_id");
        }
        Drive::Bvn { lo, hi } => {
            s.push(" AND b.klasse = ").arg(Bind::Text(q.klasse.clone()));
            s.push(" AND b.navn = ").arg(Bind::Text(BVN.to_owned()));
            if let Some(lo) = lo {
                s.push(" AND b.vaerdi >= ").arg(Bind::Text(lo.to_owned()));
            }
            if let Some(hi) = hi {
                s.push(" AND b.vaerdi < ").arg(Bind::Text(hi.to_owned()));
            }
            s.push(" AND r.id = b.reg_id");
        }
        Drive::Registrering => {
            s.push(" AND r.klasse = ").arg(Bind::Text(q.klasse.clone()));
        }
    }
    if let Some(u) = q.uuid {
        s.push(" AND r.objekt_uuid = ")
            .arg(Bind::Text(u.to_string()));
    }
    push_window(&mut s, "r.", q.reg);
    match q.livscyklus {
        Some(l) => {
            s.push(" AND r.livscyklus = ")
                .arg(Bind::Text(l.as_str().to_owned()));
        }
        None => {
            s.push(" AND r.livscyklus <> ")
                .arg(Bind::Text(Livscyklus::Slettet.as_str().to_owned()));
        }
    }
    if let Some(b) = q.brugerref {
        s.push(" AND r.brugerref = ").arg(Bind::Text(b.to_string()));
    }
    if let Some(n) = &q.note {
        s.push(" AND lower(r.note) LIKE ")
            .arg(Bind::Text(n.clone()))
            .push(" ESCAPE '\\'");
    }
    if let Scope::Myndigheder(list) = &q.scope {
        s.push(" AND o.uuid = r.objekt_uuid AND (o.faelles");
        if !list.is_empty() {
            s.push(" OR o.myndighed IN ");
            s.list(list.iter().map(|m| Bind::Text(m.clone())));
        }
        s.push(")");
    }
    for (i, k) in q.kriterier.iter().enumerate() {
        if Some(i) == driver {
            continue;
        }
        let f = format!("f{}", i + 1);
        s.push(&format!(
            " AND EXISTS (SELECT 1 FROM {} WHERE {f}.reg_id = r.id",
            fakt_probe(&f)
        ));
        push_kriterium(&mut s, &f, None, k, q.virk);
        if dialect == Dialect::Postgres && (by_bvn || driver.is_some()) {
            // `OFFSET 0` keeps PostgreSQL from turning the probe into a semi-join. Walking key
            // ranges, a semi-join would read every fact matching the criterion (say, all
            // active objects) for each range; as a per-row subplan it is one `fakt_reg` lookup
            // per registrering. Behind a chosen driver it also keeps planning cheap: the
            // planner then orders two relations instead of two plus one per criterion, which
            // halves the planning time that dominates a selective search.
            s.push(" OFFSET 0");
        }
        s.push(")");
    }
    if paged {
        if !by_bvn {
            s.push(" AND b.reg_id = r.id AND b.navn = ")
                .arg(Bind::Text(BVN.to_owned()));
        }
        s.push(" AND b.fra < ").arg(Bind::I64(q.virk.1));
        s.push(" AND b.til > ").arg(Bind::I64(q.virk.0));
        s.push(" GROUP BY r.objekt_uuid ORDER BY MIN(b.vaerdi), r.objekt_uuid");
    }
    if let (Some((offset, limit)), false) = (q.paging, by_bvn) {
        match (limit, dialect) {
            (Some(l), _) => {
                s.push(" LIMIT ").arg(Bind::I64(clamp_i64(l)));
            }
            (None, Dialect::Sqlite) => {
                s.push(" LIMIT -1");
            }
            (None, Dialect::Postgres) => {}
        }
        s.push(" OFFSET ").arg(Bind::I64(clamp_i64(offset)));
    }
    // A prepared statement, on purpose: PostgreSQL plans its first executions with the values
    // and then keeps a generic plan only if it costs no more than those. Planning this join
    // costs ~1 ms on 100k objects (the planner reads index end points to estimate it) against
    // ~0.1 ms to run it.
    s
}

/// The `a:brugervendtnoegle` value `step` facts past `lo` in index order (the exclusive upper
/// bound of the next key range a [`Drive::Bvn`] search walks), or none if fewer remain. Strictly
/// greater than `lo`, so every range makes progress however many facts share a value.
pub(crate) fn bvn_boundary(klasse: &str, lo: Option<&str>, step: u32) -> Sql {
    let mut s = Sql::new("SELECT vaerdi FROM fakt WHERE klasse = ");
    s.arg(Bind::Text(klasse.to_owned()));
    s.push(" AND navn = ").arg(Bind::Text(BVN.to_owned()));
    if let Some(lo) = lo {
        s.push(" AND vaerdi > ").arg(Bind::Text(lo.to_owned()));
    }
    s.push(&format!(" ORDER BY vaerdi LIMIT 1 OFFSET {step}"));
    s.custom_plan()
}

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_of_prefixes() {
        assert_eq!(prefix_successor("abc").as_deref(), Some("abd"));
        assert_eq!(prefix_successor("r:").as_deref(), Some("r;"));
        assert_eq!(prefix_successor(""), None);
        assert_eq!(prefix_successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_successor("b\u{10FFFF}").as_deref(), Some("c"));
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
    }

    #[test]
    fn like_escaping() {
        assert_eq!(escape_like(r"a_b%c\d"), r"a\_b\%c\\d");
    }

    #[test]
    fn fact_chunks_are_powers_of_two() {
        let f = Fakt {
            navn: "a:x".into(),
            vaerdi: "v".into(),
            objekttype: None,
            sti: None,
            fra: 0,
            til: 1,
        };
        let fakta = vec![f; 600];
        let sizes: Vec<usize> = insert_fakta(1, "k", &fakta)
            .iter()
            .map(|q| (q.binds.len() - 2) / 6)
            .collect();
        assert_eq!(sizes, vec![256, 256, 64, 24]);
        let sizes: Vec<usize> = insert_fakta(1, "k", &fakta[..11])
            .iter()
            .map(|q| (q.binds.len() - 2) / 6)
            .collect();
        assert_eq!(sizes, vec![11]);
        let sizes: Vec<usize> = insert_fakta(1, "k", &fakta[..100])
            .iter()
            .map(|q| (q.binds.len() - 2) / 6)
            .collect();
        assert_eq!(sizes, vec![64, 32, 4]);
        assert!(insert_fakta(1, "k", &[]).is_empty());
    }

    #[test]
    fn driver_prefers_relation_equality() {
        let k = |navn: &str, vaerdi: Match, navn_prefix: bool| Kriterium {
            navn: navn.into(),
            navn_prefix,
            vaerdi,
            objekttype: None,
            sti_prefix: None,
        };
        let like = |p: &str| Match::Like {
            pattern: format!("{p}%"),
            prefix: p.into(),
        };
        let ks = vec![
            k("a:x", like(""), false),
            k("a:y", like("ab"), false),
            k("s:z", Match::Eq("aktiv".into()), false),
            k("r:t", Match::Eq("u".into()), false),
        ];
        assert_eq!(pick_driver(&ks), Some(3));
        assert_eq!(pick_driver(&ks[..3]), Some(2));
        assert_eq!(pick_driver(&ks[..2]), Some(1));
        assert_eq!(pick_driver(&ks[..1]), None);
    }
}
