//! The harness the registry conformance suites share (`adgang.rs`, `besked.rs`): each body runs
//! against SQLite (a temp file) always, and against PostgreSQL when `FKI_TEST_POSTGRES_URL` is
//! set (a fresh database per test), on one view of [`fki_store::Stores`].

#![allow(dead_code)]

use std::sync::Arc;

use fki_store::testing::{DropGuard, fresh_postgres};

/// How to open the store under test again (a restart).
#[derive(Clone)]
pub enum Target {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Target {
    pub async fn open(&self) -> fki_store::Stores {
        match self {
            Target::Sqlite(dir) => fki_store::open_stores(None, dir).await.unwrap(),
            Target::Postgres(url) => fki_store::open_stores(Some(url), std::path::Path::new("/x"))
                .await
                .unwrap(),
        }
    }
}

/// One view of the stores under test (`|s| s.besked`, `|s| s.adgang`).
pub type View<S> = fn(fki_store::Stores) -> Arc<S>;

pub struct Harness<S: ?Sized> {
    pub store: Arc<S>,
    pub target: Target,
    _dir: Option<tempfile::TempDir>,
    guard: Option<DropGuard>,
}

impl<S: ?Sized> Harness<S> {
    pub async fn sqlite(view: View<S>) -> Harness<S> {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::Sqlite(dir.path().to_owned());
        let stores = target.open().await;
        assert_eq!(stores.oio.backend(), "sqlite");
        Harness {
            store: view(stores),
            target,
            _dir: Some(dir),
            guard: None,
        }
    }

    pub async fn postgres(test: &str, view: View<S>) -> Option<Harness<S>> {
        let Ok(base) = std::env::var("FKI_TEST_POSTGRES_URL") else {
            eprintln!("skipped {test} on PostgreSQL: FKI_TEST_POSTGRES_URL is not set");
            return None;
        };
        let (url, guard) = fresh_postgres(&base).await.unwrap();
        let target = Target::Postgres(url);
        let stores = target.open().await;
        assert_eq!(stores.oio.backend(), "postgres");
        Some(Harness {
            store: view(stores),
            target,
            _dir: None,
            guard: Some(guard),
        })
    }

    pub async fn finish(self) {
        drop(self.store);
        if let Some(g) = self.guard {
            g.cleanup().await.unwrap();
        }
    }
}

/// `conformance!(view; body, …)`: a SQLite and a PostgreSQL test per body of `mod bodies`.
macro_rules! conformance {
    ($view:expr; $($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let h = super::common::Harness::sqlite($view).await;
                super::bodies::$name(h.store.clone(), h.target.clone()).await;
                h.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(h) = super::common::Harness::postgres(stringify!($name), $view).await
                else {
                    return;
                };
                super::bodies::$name(h.store.clone(), h.target.clone()).await;
                h.finish().await;
            }
        }
    )*};
}
