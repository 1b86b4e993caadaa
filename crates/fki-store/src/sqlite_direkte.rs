//! Statements on a pooled SQLite connection run **on the calling thread**, through the raw
//! handle sqlx lends out ([`sqlx::sqlite::SqliteConnection::lock_handle`]).
//!
//! sqlx's SQLite driver runs every connection on a thread of its own: each statement, each
//! `BEGIN` and `COMMIT`, is a command sent to that thread and each result row a message back.
//! On the Beskedfordeler's hot path (a group commit is `BEGIN`, an `INSERT … RETURNING`, an
//! `UPDATE … RETURNING` per dueslag, an `INSERT`, `COMMIT`) those hand-overs, with their futex
//! wake-ups and context switches, cost more than SQLite's own work (`docs/benchmarks.md`,
//! "Beskedfordeler": ~40 % of the server's samples in the scheduler). Here a whole transaction
//! costs one hand-over: the `lock_handle` call that takes the connection from its thread.
//!
//! The statements are the same [`Sql`] values the sqlx path runs (`$n` placeholders, which
//! SQLite reads as named parameters), so the SQL exists once. The FFI calls go to the
//! `libsqlite3-sys` that sqlx links (pinned in `Cargo.toml`, as sqlx's docs ask of direct
//! callers). SQLite work here is short (WAL, `synchronous = NORMAL`: a commit does not wait
//! for the disk); the exception is a commit that runs an automatic WAL checkpoint, which
//! syncs the database file.

use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int};
use std::path::Path;
use std::ptr::{self, NonNull};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use fki_oio::store::{StoreError, StoreResult};
use libsqlite3_sys as ffi;

use crate::sql::{Bind, Sql};

/// Most prepared statements a [`Direkte`] keeps for reuse. The hot path's statements have few
/// shapes (multi-row statements come in power-of-two sizes), so this is never reached in
/// practice; when it is, the cache starts over.
const MAKS_CACHE: usize = 64;

/// A connection handle used by one thread at a time: borrowed for the duration of one
/// [`sqlx`] `LockedSqliteHandle` ([`laes`], [`transaktion`]), or one of fki's own read
/// connections ([`Laesere`]).
///
/// Statements are kept, reset, for the next use of the same SQL text (keyed by the text, so a
/// statement with other values reuses the plan): SQLite's parse and plan of a statement cost
/// more than running the hot path's short ones. All are finalised when the `Direkte` is
/// dropped (its [`Gemte`]), which is before sqlx gets its handle back: sqlx closes connections
/// with `sqlite3_close`, which fails (and sqlx panics) while any statement is left.
pub(crate) struct Direkte {
    db: NonNull<ffi::sqlite3>,
    cache: Gemte,
}

impl Direkte {
    /// # Safety
    /// `db` must be the handle of a `LockedSqliteHandle` that outlives the returned value, so
    /// that no other thread uses the connection meanwhile.
    pub(crate) unsafe fn ny(db: NonNull<ffi::sqlite3>) -> Self {
        Direkte {
            db,
            cache: Gemte::default(),
        }
    }

    /// Statements kept for reuse (tests).
    #[cfg(test)]
    fn gemte(&self) -> usize {
        self.cache.0.len()
    }

    /// How often SQLite parsed and planned the kept statement of `tekst` again (tests).
    #[cfg(test)]
    fn genforberedt(&self, tekst: &str) -> Option<c_int> {
        let s = self.cache.0.get(tekst)?;
        // SAFETY: a kept statement, not in use.
        Some(unsafe { ffi::sqlite3_stmt_status(s.as_ptr(), ffi::SQLITE_STMTSTATUS_REPREPARE, 0) })
    }

    fn fejl(&self, ctx: &str, rc: c_int) -> StoreError {
        // SAFETY: the handle is valid (see `ny`); errmsg returns a NUL-terminated string owned
        // by SQLite, copied at once.
        let (tekst, udvidet) = unsafe {
            (
                CStr::from_ptr(ffi::sqlite3_errmsg(self.db.as_ptr()))
                    .to_string_lossy()
                    .into_owned(),
                ffi::sqlite3_extended_errcode(self.db.as_ptr()),
            )
        };
        let tekst = format!("{ctx}: {tekst} (SQLite code {rc}/{udvidet})");
        // Unique violations and a lock that stayed busy are expected races, as on the sqlx path.
        match udvidet {
            ffi::SQLITE_CONSTRAINT_UNIQUE
            | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            | ffi::SQLITE_BUSY
            | ffi::SQLITE_BUSY_SNAPSHOT => StoreError::Conflict(tekst),
            _ => StoreError::Backend(tekst),
        }
    }

    /// Run SQL text without parameters or results (`BEGIN IMMEDIATE`, `COMMIT`).
    pub(crate) fn exec(&mut self, sql: &str, ctx: &str) -> StoreResult<()> {
        let mut s = self.prepare(Sql::new(sql), ctx)?;
        while s.step(ctx)? {}
        Ok(())
    }

    fn prepare(&mut self, q: Sql, ctx: &str) -> StoreResult<Stmt<'_>> {
        if let Some(raw) = self.cache.0.remove(&q.text) {
            let stmt = Stmt {
                con: self,
                raw,
                binds: q.binds,
                tekst: Some(q.text),
            };
            return stmt.bind(ctx);
        }
        let tekst = nummererede_parametre(&q.text);
        let mut raw = ptr::null_mut();
        let mut hale: *const c_char = ptr::null();
        let len = c_int::try_from(tekst.len())
            .map_err(|_| StoreError::Backend(format!("{ctx}: statement too long")))?;
        // SAFETY: valid handle; the text pointer and length describe `tekst`, which lives
        // through the call; SQLite writes `raw` and `hale`. PERSISTENT: the statement is
        // meant to be kept and reused.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                self.db.as_ptr(),
                tekst.as_ptr().cast(),
                len,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut raw,
                &mut hale,
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(self.fejl(ctx, rc));
        }
        let Some(raw) = NonNull::new(raw) else {
            return Err(StoreError::Backend(format!("{ctx}: empty statement")));
        };
        // One statement per Sql, as on the sqlx path with prepared statements.
        // SAFETY: `hale` points into `tekst` (or at its end).
        let brugt = unsafe { hale.offset_from(tekst.as_ptr().cast()) } as usize;
        let enkelt = tekst[brugt.min(tekst.len())..].trim().is_empty();
        let stmt = Stmt {
            con: self,
            raw,
            binds: q.binds,
            tekst: enkelt.then_some(q.text),
        };
        if !enkelt {
            return Err(StoreError::Backend(format!(
                "{ctx}: more than one statement in one Sql"
            )));
        }
        stmt.bind(ctx)
    }

    /// Run a statement; the number of rows it changed.
    pub(crate) fn udfoer(&mut self, q: Sql, ctx: &str) -> StoreResult<u64> {
        let mut s = self.prepare(q, ctx)?;
        while s.step(ctx)? {}
        // SAFETY: valid handle.
        Ok(unsafe { ffi::sqlite3_changes64(s.con.db.as_ptr()) }.max(0) as u64)
    }

    /// Every row's first two columns as (text, integer).
    pub(crate) fn par(&mut self, q: Sql, ctx: &str) -> StoreResult<Vec<(String, i64)>> {
        let mut s = self.prepare(q, ctx)?;
        let mut ud = Vec::new();
        while s.step(ctx)? {
            ud.push((s.text(0, ctx)?, s.i64(1)));
        }
        Ok(ud)
    }

    /// The first column of every row, as integers.
    pub(crate) fn tal(&mut self, q: Sql, ctx: &str) -> StoreResult<Vec<i64>> {
        let mut s = self.prepare(q, ctx)?;
        let mut ud = Vec::new();
        while s.step(ctx)? {
            ud.push(s.i64(0));
        }
        Ok(ud)
    }

    /// Every row, read by `f`.
    pub(crate) fn raekker<R>(
        &mut self,
        q: Sql,
        ctx: &str,
        mut f: impl FnMut(&Raekke<'_>) -> StoreResult<R>,
    ) -> StoreResult<Vec<R>> {
        let mut s = self.prepare(q, ctx)?;
        let mut ud = Vec::new();
        while s.step(ctx)? {
            ud.push(f(&Raekke { stmt: &s, ctx })?);
        }
        Ok(ud)
    }

    /// Whether the connection is outside any transaction.
    pub(crate) fn autocommit(&self) -> bool {
        // SAFETY: valid handle.
        unsafe { ffi::sqlite3_get_autocommit(self.db.as_ptr()) != 0 }
    }

    /// Roll back a transaction left open on the connection; whether there was one.
    fn rul_aaben_tilbage(&mut self, ctx: &str) -> StoreResult<bool> {
        if self.autocommit() {
            return Ok(false);
        }
        self.exec("ROLLBACK", ctx)?;
        Ok(true)
    }
}

/// `text` with every `$N` outside quotes written `?N`. Both are parameter N to SQLite, but it
/// looks a `$N` up by name (in a list, per parameter: quadratic in a statement of many rows,
/// such as the multi-row inserts here) where `?N` is its index.
fn nummererede_parametre(text: &str) -> String {
    let mut ud = String::with_capacity(text.len());
    let mut citat: Option<char> = None;
    let mut tegn = text.chars().peekable();
    while let Some(c) = tegn.next() {
        match (citat, c) {
            (None, '\'' | '"' | '`') => citat = Some(c),
            (Some(q), _) if c == q => citat = None,
            (None, '$') if tegn.peek().is_some_and(char::is_ascii_digit) => {
                ud.push('?');
                continue;
            }
            _ => {}
        }
        ud.push(c);
    }
    ud
}

/// A prepared statement with its bound values (they stay here, so SQLite may point at them:
/// `SQLITE_STATIC`). On drop it is reset, its values unbound, and kept in the connection's
/// cache under its text; finalised instead when it has no text to be kept under or cannot
/// be reset.
struct Stmt<'c> {
    con: &'c mut Direkte,
    raw: NonNull<ffi::sqlite3_stmt>,
    binds: Vec<Bind>,
    tekst: Option<String>,
}

impl Stmt<'_> {
    /// Bind `binds[N-1]` to parameter N (`?N`, written `$N` in the [`Sql`]: see
    /// [`nummererede_parametre`]).
    fn bind(self, ctx: &str) -> StoreResult<Self> {
        let s = self.raw.as_ptr();
        // SAFETY: `s` is a live statement. With numbered parameters the count is the largest
        // N used.
        let n = unsafe { ffi::sqlite3_bind_parameter_count(s) };
        if n.max(0) as usize > self.binds.len() {
            return Err(StoreError::Backend(format!(
                "{ctx}: parameter {n} has no value among the {} given",
                self.binds.len()
            )));
        }
        for (k, b) in (1..=n).zip(&self.binds) {
            // SAFETY: the values live in `self.binds` until the statement is reset and its
            // values unbound, or finalised (`SQLITE_STATIC`); lengths are their byte lengths.
            let rc = unsafe {
                match b {
                    Bind::I64(v) | Bind::OptI64(Some(v)) => ffi::sqlite3_bind_int64(s, k, *v),
                    Bind::Bool(v) => ffi::sqlite3_bind_int64(s, k, i64::from(*v)),
                    Bind::Text(t) | Bind::OptText(Some(t)) => ffi::sqlite3_bind_text64(
                        s,
                        k,
                        t.as_ptr().cast(),
                        t.len() as u64,
                        ffi::SQLITE_STATIC(),
                        ffi::SQLITE_UTF8 as u8,
                    ),
                    Bind::Bytes(v) => ffi::sqlite3_bind_blob64(
                        s,
                        k,
                        v.as_ptr().cast(),
                        v.len() as u64,
                        ffi::SQLITE_STATIC(),
                    ),
                    Bind::OptText(None) | Bind::OptI64(None) => ffi::sqlite3_bind_null(s, k),
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(self.con.fejl(ctx, rc));
            }
        }
        Ok(self)
    }

    /// One step: `true` with a row to read, `false` when done.
    fn step(&mut self, ctx: &str) -> StoreResult<bool> {
        // SAFETY: live statement.
        match unsafe { ffi::sqlite3_step(self.raw.as_ptr()) } {
            ffi::SQLITE_ROW => Ok(true),
            ffi::SQLITE_DONE => Ok(false),
            rc => Err(self.con.fejl(ctx, rc)),
        }
    }

    fn i64(&self, col: c_int) -> i64 {
        // SAFETY: live statement positioned on a row.
        unsafe { ffi::sqlite3_column_int64(self.raw.as_ptr(), col) }
    }

    fn text(&self, col: c_int, ctx: &str) -> StoreResult<String> {
        // SAFETY: live statement on a row; the pointer is valid for `bytes` bytes until the
        // next step, and copied before that.
        let (p, n) = unsafe {
            let p = ffi::sqlite3_column_text(self.raw.as_ptr(), col);
            (p, ffi::sqlite3_column_bytes(self.raw.as_ptr(), col))
        };
        if p.is_null() {
            return Err(StoreError::Backend(format!(
                "{ctx}: NULL where text expected"
            )));
        }
        let b = unsafe { std::slice::from_raw_parts(p, n.max(0) as usize) };
        String::from_utf8(b.to_vec())
            .map_err(|e| StoreError::Backend(format!("{ctx}: text is not UTF-8: {e}")))
    }
}

/// A row type read from a direct statement, by column index (the `SELECT` list it is read with
/// names the order).
pub(crate) trait FraRaekke: Sized {
    fn fra_raekke(r: &Raekke<'_>) -> StoreResult<Self>;
}

/// The current row of a statement, read by column index.
pub(crate) struct Raekke<'s> {
    stmt: &'s Stmt<'s>,
    ctx: &'s str,
}

impl Raekke<'_> {
    fn null(&self, col: c_int) -> bool {
        // SAFETY: live statement on a row.
        unsafe { ffi::sqlite3_column_type(self.stmt.raw.as_ptr(), col) == ffi::SQLITE_NULL }
    }

    pub(crate) fn i64(&self, col: c_int) -> i64 {
        self.stmt.i64(col)
    }

    pub(crate) fn text(&self, col: c_int) -> StoreResult<String> {
        self.stmt.text(col, self.ctx)
    }

    pub(crate) fn opt_i64(&self, col: c_int) -> Option<i64> {
        (!self.null(col)).then(|| self.i64(col))
    }

    pub(crate) fn opt_text(&self, col: c_int) -> StoreResult<Option<String>> {
        if self.null(col) {
            Ok(None)
        } else {
            self.text(col).map(Some)
        }
    }
}

impl Drop for Stmt<'_> {
    fn drop(&mut self) {
        let s = self.raw.as_ptr();
        // SAFETY: a live statement; after the reset and the unbinding SQLite no longer points
        // at `self.binds`. A statement whose last step failed reports that error again from
        // the reset: it is not kept.
        let kept = unsafe {
            ffi::sqlite3_reset(s) == ffi::SQLITE_OK
                && ffi::sqlite3_clear_bindings(s) == ffi::SQLITE_OK
        };
        match self.tekst.take() {
            Some(tekst) if kept => {
                if self.con.cache.0.len() >= MAKS_CACHE {
                    self.con.ryd_cache();
                }
                self.con.cache.0.insert(tekst, self.raw);
            }
            // SAFETY: finalised once, here; it is in no cache.
            _ => unsafe {
                ffi::sqlite3_finalize(s);
            },
        }
    }
}

impl Direkte {
    /// Finalise every kept statement.
    fn ryd_cache(&mut self) {
        self.cache.ryd();
    }
}

/// Prepared statements kept by SQL text: a [`Direkte`]'s, and those of one sqlx connection kept
/// from one use of its handle to the next ([`transaktion_gemt`]), for a holder of the connection that uses it many times in a row (the
/// Beskedfordeler's writer session): the writer's statements are then parsed and planned once
/// per session instead of once per transaction.
///
/// Finalised when dropped. Its holder keeps it next to the connection it belongs to and drops
/// it first (declared before the connection in the holder), so the statements are gone before
/// sqlx could close the connection, and while nobody else can use the connection: the holder
/// owns it, and sqlx's worker thread touches the handle only for commands, of which none is in
/// flight between two of the holder's uses.
#[derive(Default)]
pub(crate) struct Gemte(HashMap<String, NonNull<ffi::sqlite3_stmt>>);

// SAFETY: the statements are used only through [`transaktion_gemt`], on the thread that holds
// the connection's lock at that moment, and finalised in `drop` as described above; they move
// between threads with the connection they belong to.
unsafe impl Send for Gemte {}

impl Gemte {
    /// Finalise every statement.
    fn ryd(&mut self) {
        for (_, s) in self.0.drain() {
            // SAFETY: kept statements are reset and in no use; each is finalised once.
            unsafe {
                ffi::sqlite3_finalize(s.as_ptr());
            }
        }
    }
}

impl Drop for Gemte {
    fn drop(&mut self) {
        self.ryd();
    }
}

/// Run `arbejde` on `conn`'s handle, on this thread, outside any transaction (reads: each
/// statement sees one snapshot).
pub(crate) async fn laes<T>(
    conn: &mut sqlx::SqliteConnection,
    ctx: &str,
    arbejde: impl FnOnce(&mut Direkte) -> StoreResult<T>,
) -> StoreResult<T> {
    laes_gemt(conn, None, ctx, arbejde).await
}

/// [`laes`], starting from the statements in `gemte` and leaving the ones kept there.
async fn laes_gemt<T>(
    conn: &mut sqlx::SqliteConnection,
    gemte: Option<&mut Gemte>,
    ctx: &str,
    arbejde: impl FnOnce(&mut Direkte) -> StoreResult<T>,
) -> StoreResult<T> {
    let mut laas = conn
        .lock_handle()
        .await
        .map_err(|e| StoreError::Backend(format!("{ctx}: {e}")))?;
    // SAFETY: `laas` lives until the end of this function, after every use of `d`.
    let mut d = unsafe { Direkte::ny(laas.as_raw_handle()) };
    let mut gemte = gemte;
    if let Some(g) = gemte.as_deref_mut() {
        // SAFETY (of the check): kept statements of a live connection.
        debug_assert!(
            g.0.values()
                .all(|s| unsafe { ffi::sqlite3_db_handle(s.as_ptr()) == d.db.as_ptr() })
        );
        std::mem::swap(&mut d.cache, g);
    }
    let r = arbejde(&mut d);
    // Kept statements go back to `gemte`, or are finalised while the handle is still ours.
    if let Some(g) = gemte {
        std::mem::swap(&mut d.cache, g);
    }
    drop(d);
    drop(laas);
    r
}

/// Run `arbejde` in one write transaction (`BEGIN IMMEDIATE` … `COMMIT`) on `conn`'s handle,
/// on this thread; rolled back if it fails.
pub(crate) async fn transaktion<T>(
    conn: &mut sqlx::SqliteConnection,
    ctx: &str,
    arbejde: impl FnOnce(&mut Direkte) -> StoreResult<T>,
) -> StoreResult<T> {
    transaktion_gemt(conn, None, ctx, arbejde).await
}

/// [`transaktion`] with the statements kept in `gemte` (see [`Gemte`]).
pub(crate) async fn transaktion_gemt<T>(
    conn: &mut sqlx::SqliteConnection,
    gemte: Option<&mut Gemte>,
    ctx: &str,
    arbejde: impl FnOnce(&mut Direkte) -> StoreResult<T>,
) -> StoreResult<T> {
    laes_gemt(conn, gemte, ctx, |d| {
        if d.rul_aaben_tilbage(ctx)? {
            // Left open by work that did not finish (a panic): whatever it did was never
            // committed, so it is undone rather than the connection lost for good.
            tracing::error!("{ctx}: the connection was left inside a transaction; rolled back");
        }
        d.exec("BEGIN IMMEDIATE", ctx)?;
        let r = arbejde(d).and_then(|v| d.exec("COMMIT", ctx).map(|()| v));
        if r.is_err()
            && !d.autocommit()
            && let Err(e) = d.exec("ROLLBACK", ctx)
        {
            tracing::error!(error = %e, "{ctx}: rollback failed");
        }
        r
    })
    .await
}

/// One of fki's own read connections: opened and closed here, never lent to sqlx.
struct EgenForbindelse(Direkte);

// SAFETY: the connection is opened with `SQLITE_OPEN_NOMUTEX` (SQLite's multi-thread mode): it
// may be used from any thread as long as one thread at a time uses it, which the `Mutex`
// around it in [`Laesere`] ensures. Its statements belong to it and move with it.
unsafe impl Send for EgenForbindelse {}

impl EgenForbindelse {
    fn aabn(sti: &Path, pragmaer: &[String]) -> StoreResult<Self> {
        const CTX: &str = "opening a direct SQLite read connection";
        let navn = CString::new(sti.as_os_str().as_encoded_bytes())
            .map_err(|_| StoreError::Backend(format!("{CTX}: NUL in {}", sti.display())))?;
        let mut db = ptr::null_mut();
        // SAFETY: a NUL-terminated file name; SQLite writes `db` (a handle even on most
        // failures, closed below).
        let rc = unsafe {
            ffi::sqlite3_open_v2(
                navn.as_ptr(),
                &mut db,
                ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_NOMUTEX,
                ptr::null(),
            )
        };
        let Some(db) = NonNull::new(db) else {
            return Err(StoreError::Backend(format!("{CTX}: out of memory")));
        };
        // From here the handle is closed on every path (drop).
        // SAFETY: a handle no one else has.
        let mut f = EgenForbindelse(unsafe { Direkte::ny(db) });
        if rc != ffi::SQLITE_OK {
            return Err(f.0.fejl(CTX, rc));
        }
        // Plans that do not depend on bound values (SQLite's "query planner stability
        // guarantee"). Without it, SQLite with STAT4 statistics (which the bundled library
        // gathers) marks a kept statement for a fresh parse and plan whenever a value is bound
        // to a parameter its plan looked at, which the push workers' queue read does for every
        // dueslag: the cache would save nothing.
        // SAFETY: a valid handle; ENABLE_QPSG takes an int and a nullable int pointer.
        let rc = unsafe {
            ffi::sqlite3_db_config(
                db.as_ptr(),
                ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
                1 as c_int,
                ptr::null_mut::<c_int>(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(f.0.fejl(CTX, rc));
        }
        for p in pragmaer {
            f.0.exec(p, CTX)?;
        }
        // Pragmas run once: do not keep them.
        f.0.ryd_cache();
        Ok(f)
    }
}

impl Drop for EgenForbindelse {
    fn drop(&mut self) {
        self.0.ryd_cache();
        // SAFETY: every statement of the connection is finalised (its cache is the only place
        // statements outlive a call); the handle is closed once, here.
        let rc = unsafe { ffi::sqlite3_close(self.0.db.as_ptr()) };
        if rc != ffi::SQLITE_OK {
            tracing::error!(rc, "closing a direct SQLite read connection failed");
        }
    }
}

/// fki's own read connections to a SQLite file, for the short reads of the Beskedfordeler's
/// hot path (a push worker's queue head, a pull, a dueslag). A read runs on the calling
/// thread, on the first connection not in use, with the statements that connection prepared
/// before: no pool checkout, no hand-over to sqlx's connection thread, no parse and plan.
/// Each connection is `query_only`; in WAL mode it reads the last committed state and never
/// waits for the writer. A read that finds every connection in use waits for one (reads here
/// take microseconds; there are as many connections as the reader pool has).
pub(crate) struct Laesere {
    forbindelser: Vec<Mutex<EgenForbindelse>>,
    naeste: AtomicUsize,
}

impl std::fmt::Debug for Laesere {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Laesere")
            .field("forbindelser", &self.forbindelser.len())
            .finish()
    }
}

impl Laesere {
    /// Open `antal` (at least 1) connections to the database file `sti`, each set up with
    /// `pragmaer` (statements such as `PRAGMA cache_size = -32768`) and `query_only`.
    pub(crate) fn aabn(sti: &Path, antal: usize, pragmaer: &[String]) -> StoreResult<Self> {
        let mut alle: Vec<String> = pragmaer.to_vec();
        alle.push("PRAGMA query_only = ON".into());
        let forbindelser = (0..antal.max(1))
            .map(|_| EgenForbindelse::aabn(sti, &alle).map(Mutex::new))
            .collect::<StoreResult<_>>()?;
        Ok(Laesere {
            forbindelser,
            naeste: AtomicUsize::new(0),
        })
    }

    /// Run `arbejde` on a free connection, outside any transaction (each statement sees one
    /// snapshot).
    pub(crate) fn laes<T>(
        &self,
        ctx: &str,
        arbejde: impl FnOnce(&mut Direkte) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let n = self.forbindelser.len();
        let start = self.naeste.fetch_add(1, Ordering::Relaxed) % n;
        let mut vagt = None;
        for k in 0..n {
            if let Ok(g) = self.forbindelser[(start + k) % n].try_lock() {
                vagt = Some(g);
                break;
            }
        }
        let mut g = match vagt {
            Some(g) => g,
            // Work that panicked with the lock leaves a connection outside any transaction
            // (statements are reset when dropped): it is still good to use.
            None => self.forbindelser[start]
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        };
        // A read never opens a transaction; one left open is rolled back, not kept.
        g.0.rul_aaben_tilbage(ctx)?;
        arbejde(&mut g.0)
    }
}

/// The WAL checkpoints of a SQLite file, on a thread of their own.
///
/// SQLite checkpoints from the connection that commits: the commit that takes the WAL past
/// `wal_autocheckpoint` pages copies them into the database file and syncs it, and the
/// Beskedfordeler's writer, with every sender behind it waiting, pays for that. This thread
/// copies the WAL ahead of it (PASSIVE checkpoints: they never wait for, and never block,
/// readers or the writer) every [`KONTROLPUNKT_HVERT`], so that the writer's own checkpoint
/// finds little left to copy and sync. The writer's checkpoint stays: only a checkpoint that
/// finishes between two commits lets the next commit start the WAL over, and this thread's,
/// racing the commits, seldom does (alone, it let the WAL grow without end under a steady
/// stream). Stops, after a last checkpoint, when dropped.
pub(crate) struct Kontrolpunkter {
    stop: Option<std::sync::mpsc::Sender<()>>,
    traad: Option<std::thread::JoinHandle<()>>,
}

/// How often the checkpoint thread copies the WAL into the database file.
pub(crate) const KONTROLPUNKT_HVERT: std::time::Duration = std::time::Duration::from_millis(100);

impl std::fmt::Debug for Kontrolpunkter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kontrolpunkter")
    }
}

impl Kontrolpunkter {
    /// Start checkpointing the database file `sti` every `hvert`.
    pub(crate) fn start(sti: &Path, hvert: std::time::Duration) -> StoreResult<Self> {
        let mut f = EgenForbindelse::aabn(sti, &[])?;
        // A connection finds out that the file is in WAL mode (and opens the WAL) when it
        // first reads; until then a checkpoint from it does nothing.
        f.0.exec(
            "SELECT count(*) FROM sqlite_schema",
            "opening the checkpoint connection",
        )?;
        f.0.ryd_cache();
        let (stop, rx) = std::sync::mpsc::channel::<()>();
        let traad = std::thread::Builder::new()
            .name("fki-sqlite-checkpoint".into())
            .spawn(move || {
                loop {
                    let slut = !matches!(
                        rx.recv_timeout(hvert),
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                    );
                    if let Err(e) = f.0.kontrolpunkt() {
                        tracing::warn!(error = %e, "SQLite WAL checkpoint failed");
                    }
                    if slut {
                        break;
                    }
                }
            })
            .map_err(|e| StoreError::Backend(format!("starting the checkpoint thread: {e}")))?;
        Ok(Kontrolpunkter {
            stop: Some(stop),
            traad: Some(traad),
        })
    }
}

impl Drop for Kontrolpunkter {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.traad.take() {
            let _ = t.join();
        }
    }
}

impl Direkte {
    /// A PASSIVE checkpoint of the WAL: `(frames in the WAL, frames copied)`. Another
    /// checkpoint running meanwhile is not an error (nothing is done).
    fn kontrolpunkt(&mut self) -> StoreResult<(i64, i64)> {
        let (mut log, mut kopieret): (c_int, c_int) = (0, 0);
        // SAFETY: a valid handle; a NULL schema name means every attached database.
        let rc = unsafe {
            ffi::sqlite3_wal_checkpoint_v2(
                self.db.as_ptr(),
                ptr::null(),
                ffi::SQLITE_CHECKPOINT_PASSIVE,
                &mut log,
                &mut kopieret,
            )
        };
        match rc {
            ffi::SQLITE_OK => Ok((i64::from(log), i64::from(kopieret))),
            ffi::SQLITE_BUSY => Ok((i64::from(log), 0)),
            rc => Err(self.fejl("checkpointing the WAL", rc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection as _;

    async fn forbindelse() -> sqlx::SqliteConnection {
        let mut c = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(
            "CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT NOT NULL, x TEXT)",
        ))
        .execute(&mut c)
        .await
        .unwrap();
        c
    }

    fn indsaet(k: &str, n: i64, x: Option<&str>) -> Sql {
        let mut q = Sql::new("INSERT INTO t (k, n, x) VALUES ");
        q.list([
            Bind::Text(k.into()),
            Bind::I64(n),
            Bind::OptText(x.map(str::to_owned)),
        ]);
        q
    }

    fn alle(d: &mut Direkte) -> StoreResult<Vec<(String, i64, Option<String>)>> {
        d.raekker(Sql::new("SELECT k, n, x FROM t ORDER BY k"), "test", |r| {
            Ok((r.text(0)?, r.i64(1), r.opt_text(2)?))
        })
    }

    #[tokio::test]
    async fn a_transaction_commits_and_reads_back_what_sqlx_sees() {
        let mut c = forbindelse().await;
        let n = transaktion(&mut c, "test", |d| {
            Ok(d.udfoer(indsaet("a", 1, Some("x")), "test")?
                + d.udfoer(indsaet("b", 2, None), "test")?)
        })
        .await
        .unwrap();
        assert_eq!(n, 2);
        let rows = laes(&mut c, "test", alle).await.unwrap();
        assert_eq!(
            rows,
            vec![("a".into(), 1, Some("x".into())), ("b".into(), 2, None)]
        );
        // sqlx sees the same rows, and the connection is usable by sqlx again.
        let (antal,): (i64,) = sqlx::query_as("SELECT count(*) FROM t")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(antal, 2);
    }

    #[tokio::test]
    async fn a_failure_rolls_everything_back_and_a_unique_violation_is_a_conflict() {
        let mut c = forbindelse().await;
        transaktion(&mut c, "test", |d| d.udfoer(indsaet("a", 1, None), "test"))
            .await
            .unwrap();
        let e = transaktion(&mut c, "test", |d| {
            d.udfoer(indsaet("b", 2, None), "test")?;
            d.udfoer(indsaet("a", 3, None), "test")
        })
        .await
        .unwrap_err();
        assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
        let rows = laes(&mut c, "test", alle).await.unwrap();
        assert_eq!(rows, vec![("a".into(), 1, None)], "b was rolled back");
        // Outside any transaction again: a new one starts.
        transaktion(&mut c, "test", |d| d.udfoer(indsaet("c", 4, None), "test"))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_transaction_left_open_is_rolled_back_before_the_next() {
        let mut c = forbindelse().await;
        // As if earlier work had stopped half-way: an open transaction with a write in it.
        sqlx::raw_sql(sqlx::AssertSqlSafe(
            "BEGIN IMMEDIATE; INSERT INTO t (k, n) VALUES ('halv', 0)",
        ))
        .execute(&mut c)
        .await
        .unwrap();
        transaktion(&mut c, "test", |d| d.udfoer(indsaet("a", 1, None), "test"))
            .await
            .unwrap();
        let rows = laes(&mut c, "test", alle).await.unwrap();
        assert_eq!(
            rows,
            vec![("a".into(), 1, None)],
            "the half-done write is gone"
        );
    }

    #[tokio::test]
    async fn placeholders_bind_by_their_number_not_their_position() {
        let mut c = forbindelse().await;
        // $2 appears before $1 in the text, and $2 twice.
        let mut q = Sql::new("INSERT INTO t (k, n, x) VALUES (");
        let k = q.placeholder(Bind::Text("k".into()));
        let n = q.placeholder(Bind::I64(7));
        q.push(&format!("{n} || '-' || {k}, {n}, {k}) RETURNING k, n"));
        let rows = transaktion(&mut c, "test", |d| d.par(q, "test"))
            .await
            .unwrap();
        assert_eq!(rows, vec![("7-k".into(), 7)]);
    }

    #[tokio::test]
    async fn two_statements_in_one_sql_and_a_missing_value_are_refused() {
        let mut c = forbindelse().await;
        let e = transaktion(&mut c, "test", |d| {
            d.udfoer(Sql::new("DELETE FROM t; DELETE FROM t"), "test")
        })
        .await
        .unwrap_err();
        assert!(e.to_string().contains("more than one statement"), "{e}");
        let mut q = Sql::new("SELECT ");
        q.push("$1, $2");
        q.binds.push(Bind::I64(1));
        let e = laes(&mut c, "test", |d| d.tal(q, "test"))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("parameter 2"), "{e}");
    }

    #[tokio::test]
    async fn a_statement_is_prepared_once_per_text_and_reused_with_other_values() {
        let mut c = forbindelse().await;
        let (n, gemte) = transaktion(&mut c, "test", |d| {
            let mut n = 0;
            for (k, v) in [("a", 1), ("b", 2), ("c", 3)] {
                n += d.udfoer(indsaet(k, v, None), "test")?;
            }
            // BEGIN IMMEDIATE and the insert.
            Ok((n, d.gemte()))
        })
        .await
        .unwrap();
        assert_eq!((n, gemte), (3, 2));
        let q = |k: &str| {
            let mut q = Sql::new("SELECT n FROM t WHERE k = ");
            q.arg(Bind::Text(k.into()));
            q
        };
        let tal = laes(&mut c, "test", |d| {
            Ok((d.tal(q("b"), "test")?, d.tal(q("c"), "test")?, d.gemte()))
        })
        .await
        .unwrap();
        assert_eq!(
            tal,
            (vec![2], vec![3], 1),
            "the second read reused the first's statement"
        );
        // Every kept statement was finalised when the handle went back: sqlx can close the
        // connection (sqlite3_close fails while any statement is left).
        c.close().await.unwrap();
    }

    #[tokio::test]
    async fn statements_kept_for_a_session_serve_its_next_transactions() {
        let mut c = forbindelse().await;
        let mut gemte = Gemte::default();
        let mut set = Vec::new();
        for (k, v) in [("a", 1), ("b", 2), ("c", 3)] {
            let q = indsaet(k, v, None);
            let tekst = q.text.clone();
            let stmt = transaktion_gemt(&mut c, Some(&mut gemte), "test", |d| {
                d.udfoer(q, "test")?;
                Ok(d.cache.0.get(&tekst).map(|s| s.as_ptr() as usize))
            })
            .await
            .unwrap();
            set.push(stmt.expect("the insert is kept"));
            // Between transactions the statements are in `gemte`, and sqlx can use the
            // connection meanwhile.
            assert_eq!(gemte.0.len(), 3, "BEGIN IMMEDIATE, the insert, COMMIT");
            let (antal,): (i64,) = sqlx::query_as("SELECT count(*) FROM t")
                .fetch_one(&mut c)
                .await
                .unwrap();
            assert_eq!(antal, v);
        }
        assert!(
            set.windows(2).all(|w| w[0] == w[1]),
            "one prepared insert served every transaction: {set:?}"
        );
        // Finalised on drop: sqlx can close the connection.
        drop(gemte);
        c.close().await.unwrap();
    }

    #[tokio::test]
    async fn a_statement_that_failed_is_not_kept() {
        let mut c = forbindelse().await;
        let gemte = transaktion(&mut c, "test", |d| {
            d.udfoer(indsaet("a", 1, None), "test")?;
            let fejl = d.udfoer(indsaet("a", 2, None), "test").unwrap_err();
            assert!(matches!(fejl, StoreError::Conflict(_)), "{fejl:?}");
            let efter = d.gemte();
            // The same text again works (prepared anew) and is kept.
            d.udfoer(indsaet("b", 3, None), "test")?;
            Ok((efter, d.gemte()))
        })
        .await
        .unwrap();
        assert_eq!(
            gemte,
            (1, 2),
            "BEGIN kept, the failed insert not; then the insert"
        );
        c.close().await.unwrap();
    }

    /// A file database with a row, written through sqlx.
    async fn fil() -> (
        tempfile::TempDir,
        std::path::PathBuf,
        sqlx::SqliteConnection,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let sti = dir.path().join("l.db");
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&sti)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let mut c = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(
            "CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT NOT NULL, x TEXT); \
             INSERT INTO t (k, n) VALUES ('a', 1)",
        ))
        .execute(&mut c)
        .await
        .unwrap();
        (dir, sti, c)
    }

    #[tokio::test]
    async fn own_read_connections_see_each_commit_and_cannot_write() {
        let (_dir, sti, mut c) = fil().await;
        let l = Laesere::aabn(&sti, 2, &["PRAGMA cache_size = -1024".into()]).unwrap();
        assert_eq!(l.laes("test", alle).unwrap().len(), 1);
        transaktion(&mut c, "test", |d| d.udfoer(indsaet("b", 2, None), "test"))
            .await
            .unwrap();
        assert_eq!(
            l.laes("test", alle).unwrap().len(),
            2,
            "a commit is seen at once"
        );
        let e = l
            .laes("test", |d| d.udfoer(indsaet("c", 3, None), "test"))
            .unwrap_err();
        assert!(
            e.to_string().contains("query_only") || e.to_string().contains("readonly"),
            "{e}"
        );
        // A read that leaves a transaction open (its snapshot) does not pin the next reads to
        // that snapshot.
        for _ in 0..2 {
            l.laes("test", |d| {
                d.exec("BEGIN", "test")?;
                alle(d)
            })
            .unwrap();
        }
        transaktion(&mut c, "test", |d| d.udfoer(indsaet("c", 3, None), "test"))
            .await
            .unwrap();
        for _ in 0..2 {
            assert_eq!(l.laes("test", alle).unwrap().len(), 3);
        }
        drop(l);
        c.close().await.unwrap();
    }

    #[tokio::test]
    async fn own_read_connections_serve_threads_at_once() {
        let (_dir, sti, c) = fil().await;
        let l = std::sync::Arc::new(Laesere::aabn(&sti, 2, &[]).unwrap());
        let traade: Vec<_> = (0..4)
            .map(|i| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let mut q = Sql::new("SELECT n + ");
                        q.arg(Bind::I64(i)).push(" FROM t WHERE k = 'a'");
                        assert_eq!(l.laes("test", |d| d.tal(q, "test")).unwrap(), vec![1 + i]);
                    }
                })
            })
            .collect();
        for t in traade {
            t.join().unwrap();
        }
        drop(c);
    }

    /// A table whose statistics (STAT4, after ANALYZE) make the planner look at the value
    /// bound to `k`: one common value and many rare ones.
    async fn skaev_fil() -> (
        tempfile::TempDir,
        std::path::PathBuf,
        sqlx::SqliteConnection,
    ) {
        let (dir, sti, mut c) = fil().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(
            "CREATE TABLE s (k TEXT NOT NULL, n BIGINT NOT NULL); CREATE INDEX s_k ON s (k); \
             WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 2000) \
             INSERT INTO s SELECT CASE WHEN i % 10 = 0 THEN 'r' || i ELSE 'ofte' END, i FROM r; \
             ANALYZE",
        ))
        .execute(&mut c)
        .await
        .unwrap();
        (dir, sti, c)
    }

    fn tael_k(k: &str) -> Sql {
        let mut q = Sql::new("SELECT count(*) FROM s WHERE k = ");
        q.arg(Bind::Text(k.into()));
        q
    }

    #[tokio::test]
    async fn own_read_connections_keep_their_plans_whatever_value_is_bound() {
        let (_dir, sti, mut c) = skaev_fil().await;
        let tekst = tael_k("").text;
        // sqlx's connection (default settings): binding another value makes SQLite parse and
        // plan the kept statement again. This is what the test guards against below.
        let igen = laes(&mut c, "test", |d| {
            for k in ["ofte", "r10", "r20", "ofte"] {
                d.tal(tael_k(k), "test")?;
            }
            Ok(d.genforberedt(&tekst))
        })
        .await
        .unwrap();
        assert!(igen.is_some_and(|n| n > 0), "{igen:?}");
        let l = Laesere::aabn(&sti, 1, &[]).unwrap();
        let (antal, igen) = l
            .laes("test", |d| {
                let mut antal = Vec::new();
                for k in ["ofte", "r10", "r20", "ofte"] {
                    antal.extend(d.tal(tael_k(k), "test")?);
                }
                Ok((antal, d.genforberedt(&tekst)))
            })
            .unwrap();
        assert_eq!(antal, vec![1800, 1, 1, 1800]);
        assert_eq!(igen, Some(0), "the kept statement was used as it was");
        drop(l);
        c.close().await.unwrap();
    }

    #[test]
    fn dollar_parameters_become_numbered_ones_outside_quotes_only() {
        assert_eq!(
            nummererede_parametre(r#"SELECT '$1', "$2", $3, $10 || 'it''s $4', a$ FROM t"#),
            r#"SELECT '$1', "$2", ?3, ?10 || 'it''s $4', a$ FROM t"#
        );
    }

    #[tokio::test]
    async fn a_dollar_inside_a_string_is_text_not_a_parameter() {
        let mut c = forbindelse().await;
        let mut q = Sql::new("SELECT '$1 kr', ");
        q.arg(Bind::I64(5));
        let r = laes(&mut c, "test", |d| d.par(q, "test")).await.unwrap();
        assert_eq!(r, vec![("$1 kr".into(), 5)]);
    }
    #[tokio::test]
    async fn the_checkpoint_thread_copies_the_wal_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let sti = dir.path().join("k.db");
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&sti)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .pragma("wal_autocheckpoint", "0");
        let mut c = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(
            "CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT NOT NULL, x TEXT)",
        ))
        .execute(&mut c)
        .await
        .unwrap();
        let stoerrelse = || std::fs::metadata(&sti).unwrap().len();
        let foer = stoerrelse();
        for i in 0..200 {
            transaktion(&mut c, "test", |d| {
                d.udfoer(
                    indsaet(&format!("{i:0>200}"), i, Some(&"x".repeat(2000))),
                    "test",
                )
            })
            .await
            .unwrap();
        }
        assert_eq!(
            stoerrelse(),
            foer,
            "no automatic checkpoint: the rows are in the WAL only"
        );
        let k = Kontrolpunkter::start(&sti, std::time::Duration::from_millis(20)).unwrap();
        let frist = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while stoerrelse() < foer + 200 * 2000 {
            assert!(
                std::time::Instant::now() < frist,
                "no checkpoint within 10 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // Stops when dropped (joins its thread).
        drop(k);
        c.close().await.unwrap();
    }
}
