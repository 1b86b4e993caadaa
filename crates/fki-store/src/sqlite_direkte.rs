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

use std::ffi::{CStr, c_char, c_int};
use std::ptr::{self, NonNull};

use fki_oio::store::{StoreError, StoreResult};
use libsqlite3_sys as ffi;

use crate::sql::{Bind, Sql};

/// A connection handle borrowed for the duration of one [`sqlx`] `LockedSqliteHandle`.
pub(crate) struct Direkte {
    db: NonNull<ffi::sqlite3>,
}

impl Direkte {
    /// # Safety
    /// `db` must be the handle of a `LockedSqliteHandle` that outlives the returned value, so
    /// that no other thread uses the connection meanwhile.
    pub(crate) unsafe fn ny(db: NonNull<ffi::sqlite3>) -> Self {
        Direkte { db }
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
        let mut raw = ptr::null_mut();
        let mut hale: *const c_char = ptr::null();
        let len = c_int::try_from(q.text.len())
            .map_err(|_| StoreError::Backend(format!("{ctx}: statement too long")))?;
        // SAFETY: valid handle; the text pointer and length describe `q.text`, which lives
        // through the call; SQLite writes `raw` and `hale`.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(
                self.db.as_ptr(),
                q.text.as_ptr().cast(),
                len,
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
        let stmt = Stmt {
            con: self,
            raw,
            binds: q.binds,
        };
        // One statement per Sql, as on the sqlx path with prepared statements.
        // SAFETY: `hale` points into `q.text` (or at its end).
        let brugt = unsafe { hale.offset_from(q.text.as_ptr().cast()) } as usize;
        if !q.text[brugt.min(q.text.len())..].trim().is_empty() {
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
}

/// A prepared statement with its bound values (they stay here, so SQLite may point at them:
/// `SQLITE_STATIC`); finalised on drop.
struct Stmt<'c> {
    con: &'c mut Direkte,
    raw: NonNull<ffi::sqlite3_stmt>,
    binds: Vec<Bind>,
}

impl Stmt<'_> {
    /// Bind `binds[N-1]` to the parameter named `$N` (SQLite numbers named parameters in the
    /// order they first appear, which need not be N's order), as sqlx does.
    fn bind(self, ctx: &str) -> StoreResult<Self> {
        let s = self.raw.as_ptr();
        // SAFETY: `s` is a live statement.
        let n = unsafe { ffi::sqlite3_bind_parameter_count(s) };
        for k in 1..=n {
            // SAFETY: `k` is within 1..=n; the name is NUL-terminated and owned by SQLite.
            let navn = unsafe { ffi::sqlite3_bind_parameter_name(s, k) };
            let nr = (!navn.is_null())
                .then(|| unsafe { CStr::from_ptr(navn) }.to_bytes())
                .and_then(|b| b.strip_prefix(b"$"))
                .and_then(|b| std::str::from_utf8(b).ok())
                .and_then(|t| t.parse::<usize>().ok());
            let Some(b) = nr.and_then(|nr| self.binds.get(nr.wrapping_sub(1))) else {
                return Err(StoreError::Backend(format!(
                    "{ctx}: parameter {k} is not $N for one of the {} values",
                    self.binds.len()
                )));
            };
            // SAFETY: the values live in `self.binds` until the statement is finalised
            // (`SQLITE_STATIC`); lengths are their byte lengths.
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
        // SAFETY: finalised once, here.
        unsafe {
            ffi::sqlite3_finalize(self.raw.as_ptr());
        }
    }
}

/// Run `arbejde` on `conn`'s handle, on this thread, outside any transaction (reads: each
/// statement sees one snapshot).
pub(crate) async fn laes<T>(
    conn: &mut sqlx::SqliteConnection,
    ctx: &str,
    arbejde: impl FnOnce(&mut Direkte) -> StoreResult<T>,
) -> StoreResult<T> {
    let mut laas = conn
        .lock_handle()
        .await
        .map_err(|e| StoreError::Backend(format!("{ctx}: {e}")))?;
    // SAFETY: `laas` lives until the end of this function, after every use of `d`.
    let mut d = unsafe { Direkte::ny(laas.as_raw_handle()) };
    let r = arbejde(&mut d);
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
    laes(conn, ctx, |d| {
        if !d.autocommit() {
            // Left open by work that did not finish (a panic): whatever it did was never
            // committed, so undo it rather than lose the connection for good.
            tracing::error!("{ctx}: the connection was left inside a transaction; rolled back");
            d.exec("ROLLBACK", ctx)?;
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
}
