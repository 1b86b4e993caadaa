//! Helpers for tests that need a real PostgreSQL database.
//!
//! [`fresh_postgres`] creates a uniquely named, empty database (`fki_test_<32 hex>`) on the server
//! of a base URL and returns its URL with a [`DropGuard`]. The guard drops the database when it
//! goes out of scope: `Drop` runs the `DROP DATABASE … WITH (FORCE)` on a short-lived thread with
//! its own Tokio runtime and waits for it (so it works from sync and async code alike, and
//! before a test binary exits). Call [`DropGuard::cleanup`] to do the same from async code and see
//! the error, if any. Cleanup is best effort: a failed drop is logged, never panics.

use std::time::Duration;

use fki_oio::store::{StoreError, StoreResult};
use sqlx::Connection as _;
use sqlx::postgres::PgConnection;
use uuid::Uuid;

use crate::exec::db_err;

/// How long creating or dropping a test database may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Create an empty database on the server of `base_url` (which must name a database the user
/// can connect to, e.g. `postgres://postgres@127.0.0.1:5432/postgres`). Returns the URL of the
/// new database and a guard that drops it.
pub async fn fresh_postgres(base_url: &str) -> StoreResult<(String, DropGuard)> {
    let name = format!("fki_test_{}", Uuid::new_v4().simple());
    let url = with_database(base_url, &name)?;
    let create = async {
        let mut conn = PgConnection::connect(base_url)
            .await
            .map_err(db_err("connecting to PostgreSQL to create a test database"))?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .map_err(db_err("creating test database"))?;
        let _ = conn.close().await;
        Ok::<_, StoreError>(())
    };
    tokio::time::timeout(ADMIN_TIMEOUT, create)
        .await
        .map_err(|_| StoreError::Backend("creating test database: timed out".into()))??;
    Ok((
        url,
        DropGuard {
            base_url: base_url.to_owned(),
            name,
            armed: true,
        },
    ))
}

/// Drops its test database when dropped (see the module docs).
#[derive(Debug)]
pub struct DropGuard {
    base_url: String,
    name: String,
    armed: bool,
}

impl DropGuard {
    /// The name of the test database.
    pub fn database(&self) -> &str {
        &self.name
    }

    /// Drop the database now, reporting failure.
    pub async fn cleanup(mut self) -> StoreResult<()> {
        self.armed = false;
        drop_database(&self.base_url, &self.name).await
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (base, name) = (self.base_url.clone(), self.name.clone());
        let worker = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::warn!("cannot drop test database {name}: no runtime: {e}");
                    return;
                }
            };
            if let Err(e) = rt.block_on(drop_database(&base, &name)) {
                tracing::warn!("cannot drop test database {name}: {e}");
            }
        });
        let _ = worker.join();
    }
}

async fn drop_database(base_url: &str, name: &str) -> StoreResult<()> {
    let work = async {
        let mut conn = PgConnection::connect(base_url)
            .await
            .map_err(db_err("connecting to PostgreSQL to drop a test database"))?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await
        .map_err(db_err("dropping test database"))?;
        let _ = conn.close().await;
        Ok::<_, StoreError>(())
    };
    tokio::time::timeout(ADMIN_TIMEOUT, work)
        .await
        .map_err(|_| StoreError::Backend("dropping test database: timed out".into()))?
}

/// `base_url` with its database path replaced by `name` (query parameters kept).
fn with_database(base_url: &str, name: &str) -> StoreResult<String> {
    let Some(scheme_end) = base_url.find("://") else {
        return Err(StoreError::Backend(format!(
            "not a PostgreSQL URL: {base_url}"
        )));
    };
    let after = scheme_end + 3;
    let rest = &base_url[after..];
    let (before_query, query) = match rest.find('?') {
        Some(q) => (&rest[..q], &rest[q..]),
        None => (rest, ""),
    };
    let authority = match before_query.find('/') {
        Some(p) => &before_query[..p],
        None => before_query,
    };
    Ok(format!("{}{authority}/{name}{query}", &base_url[..after]))
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_is_replaced_in_urls() {
        let w = |u: &str| with_database(u, "x").unwrap();
        assert_eq!(
            w("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(w("postgres://u:p@h"), "postgres://u:p@h/x");
        assert_eq!(
            w("postgresql://h/db?sslmode=disable"),
            "postgresql://h/x?sslmode=disable"
        );
        assert_eq!(
            w("postgres://h?sslmode=disable"),
            "postgres://h/x?sslmode=disable"
        );
        assert!(with_database("nope", "x").is_err());
    }
}
