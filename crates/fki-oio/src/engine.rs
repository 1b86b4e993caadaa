//! The eight operations, each one transaction (contract §5, §6).
//!
//! Every write follows the same path ([`Engine::write_in`]): lock the object, check the caller's
//! tenancy and the lifecycle table, compute the new registrering in Rust ([`crate::merge`]),
//! close the current registrering and append the new one with its search facts. If the result
//! equals the current registrering nothing is stored (LoRa's rule).
//!
//! **Change events.** Every write that stored a new registrering yields a [`Haendelse`]. After
//! the transaction committed (never before, never for a write that stored nothing or rolled
//! back) the engine hands them to its [`Aendringslytter`]s ([`Engine::with_lytter`]): once per
//! commit, all the commit's changes in the order they were written. Because the hook is here,
//! every front door that writes through the engine (REST, SOAP, bulk import) reports changes
//! without code of its own. A listener runs on the writer's task: it must only queue the work
//! (the server's Beskedfordeler publisher, `fki_server::beskedfordeler::haendelser`, does a
//! `try_send` on a bounded channel), and a panicking listener is logged, not propagated: the
//! write has committed and succeeds.

use std::sync::Arc;

use serde_json::Value;
use uuid::Uuid;

use crate::error::{OioError, OioResult};
use crate::fakta::fakta;
use crate::json::{RenderOpts, render_objekt};
use crate::merge;
use crate::model::{Aendring, Livscyklus, Objekt, RegistreringMeta};
use crate::query::Tid;
use crate::spec::ClassSpec;
use crate::store::{Historik, Scope, SearchQuery, Store, StoreError, StoreTx};
use crate::time::{self, POS_INF, Ts};

/// Who is acting, and for which myndighed. Every operation takes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kontekst {
    /// What the caller may read (and, for owned objects, write).
    pub scope: Scope,
    /// The myndighed (CVR) that owns objects the caller creates.
    pub myndighed: Option<String>,
    /// Objects the caller creates are fælleskommunale.
    pub faelles: bool,
    /// Stamped on every registrering the caller writes.
    pub brugerref: Option<Uuid>,
}

impl Kontekst {
    /// The system itself: sees and writes everything (demo seeding, admin commands).
    pub fn system() -> Kontekst {
        Kontekst {
            scope: Scope::All,
            myndighed: None,
            faelles: false,
            brugerref: None,
        }
    }

    /// Whether the caller may write an existing object: it must see it, and fælleskommunale
    /// objects only their owner may write.
    fn check_write(&self, klasse: &str, o: &Objekt) -> OioResult<()> {
        match &self.scope {
            Scope::All => Ok(()),
            Scope::Myndigheder(m) => {
                if !self.scope.permits(o) {
                    Err(OioError::NotFound {
                        klasse: klasse.into(),
                        uuid: o.uuid,
                    })
                } else if o.myndighed.as_ref().is_some_and(|c| m.contains(c)) {
                    Ok(())
                } else {
                    Err(OioError::Forbidden(format!(
                        "{klasse} {} is fælleskommunal and owned by another myndighed",
                        o.uuid
                    )))
                }
            }
        }
    }
}

/// A write operation.
#[derive(Debug, Clone)]
pub enum Skriv {
    /// POST: a new object with this payload (create-validated).
    Opret(Aendring),
    /// PUT: create or overwrite with this payload (create-validated).
    Importer(Aendring),
    /// PATCH: merge this change (update-validated); `livscyklus: Passiv` passivates.
    Ret(Aendring),
    Passiver {
        note: Option<String>,
    },
    Slet {
        note: Option<String>,
    },
}

impl Skriv {
    fn name(&self) -> &'static str {
        match self {
            Skriv::Opret(_) => "opret",
            Skriv::Importer(_) => "importer",
            Skriv::Ret(_) => "ret",
            Skriv::Passiver { .. } => "passiver",
            Skriv::Slet { .. } => "slet",
        }
    }
}

/// What a stored change did to its object, read off the new registrering's lifecycle code:
/// `Opstaaet` → opret, `Importeret` → importer, `Rettet` → ret, `Passiveret` → passiver,
/// `Slettet` → slet. So a PATCH with `"livscyklus": "Passiv"` is a passiver, and an import
/// onto a live object (LoRa registers it as `Rettet`) is a ret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Handling {
    Opret,
    Importer,
    Ret,
    Passiver,
    Slet,
}

impl Handling {
    /// The handling a registrering with lifecycle code `l` records.
    pub fn of(l: Livscyklus) -> Handling {
        match l {
            Livscyklus::Opstaaet => Handling::Opret,
            Livscyklus::Importeret => Handling::Importer,
            Livscyklus::Rettet => Handling::Ret,
            Livscyklus::Passiveret => Handling::Passiver,
            Livscyklus::Slettet => Handling::Slet,
        }
    }

    /// `opret`, `importer`, `ret`, `passiver` or `slet`.
    pub fn as_str(self) -> &'static str {
        match self {
            Handling::Opret => "opret",
            Handling::Importer => "importer",
            Handling::Ret => "ret",
            Handling::Passiver => "passiver",
            Handling::Slet => "slet",
        }
    }
}

/// One stored change: a new registrering of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Haendelse {
    /// The class's service (`organisation`, `klassifikation`, `sag` …).
    pub service: &'static str,
    /// The class (`organisationenhed` …).
    pub klasse: &'static str,
    pub uuid: Uuid,
    pub handling: Handling,
    /// The myndighed (CVR) owning the object: the object row's, not the writer's.
    pub myndighed: Option<String>,
    /// The object is fælleskommunalt (readable by every myndighed).
    pub faelles: bool,
    /// The brugerref stamped on the new registrering.
    pub brugerref: Option<Uuid>,
    /// The new registrering's `fra` (transaction time, µs): unique per object and increasing in
    /// commit order, so (uuid, tidspunkt) identifies the change.
    pub tidspunkt: Ts,
}

/// Told about every committed change (see the module docs).
pub trait Aendringslytter: Send + Sync {
    /// Called once per committed transaction that stored anything, with one [`Haendelse`] per
    /// stored registrering in the order they were written. Runs on the writer's task after the
    /// commit: queue the work and return.
    fn aendret(&self, haendelser: &[Haendelse]);
}

/// What one write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Udfald {
    /// A new object.
    Oprettet,
    /// A new registrering of an existing object.
    Aendret,
    /// Nothing stored: the result equals the current registrering.
    Uaendret,
}

/// One transaction fed write by write ([`Engine::bulk`]): all or nothing. Nothing here holds
/// the writes; what the transaction has written so far lives in the database's transaction.
pub struct Bulk<'e> {
    engine: &'e Engine,
    tx: Box<dyn StoreTx>,
    n: usize,
    skip_unchanged: bool,
    /// The changes stored so far, reported to the listeners after the commit.
    haendelser: Vec<Haendelse>,
}

impl Bulk<'_> {
    /// An `importer` of data equal to the current registrering stores nothing
    /// ([`Udfald::Uaendret`]) instead of a `Rettet` registrering: re-importing the same file
    /// changes nothing.
    pub fn skip_unchanged(mut self, yes: bool) -> Self {
        self.skip_unchanged = yes;
        self
    }

    /// One write inside the transaction. After an error the transaction must not be used
    /// further (PostgreSQL has aborted it): drop the `Bulk`.
    pub async fn write(
        &mut self,
        ctx: &Kontekst,
        spec: &ClassSpec,
        uuid: Uuid,
        op: Skriv,
    ) -> OioResult<Udfald> {
        let (u, h) = self
            .engine
            .write_in_udfald(self.tx.as_mut(), ctx, spec, uuid, op, self.skip_unchanged)
            .await?;
        if !self.engine.lyttere.is_empty() {
            self.haendelser.extend(h);
        }
        self.n += 1;
        Ok(u)
    }

    /// As [`Bulk::write`], without telling the listeners about this change (SF1470's
    /// `UdenNotifikation`: a source system's bulk load that subscribers must not be flooded
    /// with). The change is stored as any other.
    pub async fn write_uden_haendelse(
        &mut self,
        ctx: &Kontekst,
        spec: &ClassSpec,
        uuid: Uuid,
        op: Skriv,
    ) -> OioResult<Udfald> {
        let (u, _) = self
            .engine
            .write_in_udfald(self.tx.as_mut(), ctx, spec, uuid, op, self.skip_unchanged)
            .await?;
        self.n += 1;
        Ok(u)
    }

    /// Import new objects of one class at once (a bulk load): each `(uuid, aendring)` as an
    /// `importer` of a UUID not yet stored (Livscyklus Importeret, one registrering), written
    /// with [`StoreTx::insert_nye`]'s few multi-row statements instead of several statements
    /// per object. Every object gets the same registration time. `Conflict` if a UUID exists
    /// already: drop the `Bulk` then. The listeners hear of each after the commit, as with
    /// [`Bulk::write`].
    pub async fn importer_nye(
        &mut self,
        ctx: &Kontekst,
        spec: &ClassSpec,
        nye: Vec<(Uuid, Aendring)>,
    ) -> OioResult<()> {
        let fra = time::now();
        let brugerref = Some(ctx.brugerref.unwrap_or(crate::json::LORA_BRUGERREF));
        let mut batch = Vec::with_capacity(nye.len());
        for (uuid, a) in nye {
            let mut data = a.data;
            merge::normalise_new(spec, &mut data);
            let fakta = fakta(spec, &data);
            batch.push(crate::store::NytObjekt {
                objekt: Objekt {
                    uuid,
                    klasse: spec.name.into(),
                    myndighed: ctx.myndighed.clone(),
                    faelles: ctx.faelles,
                },
                meta: RegistreringMeta {
                    fra,
                    til: POS_INF,
                    livscyklus: Livscyklus::Importeret,
                    brugerref,
                    note: a.note,
                },
                data,
                fakta,
            });
        }
        self.tx.insert_nye(&batch).await?;
        self.n += batch.len();
        if !self.engine.lyttere.is_empty() {
            self.haendelser.extend(batch.into_iter().map(|n| Haendelse {
                service: spec.service,
                klasse: spec.name,
                uuid: n.objekt.uuid,
                handling: Handling::of(Livscyklus::Importeret),
                myndighed: n.objekt.myndighed,
                faelles: n.objekt.faelles,
                brugerref,
                tidspunkt: fra,
            }));
        }
        Ok(())
    }

    /// Commit everything written, then tell the listeners; the number of writes.
    pub async fn commit(self) -> OioResult<usize> {
        self.tx.commit().await?;
        self.engine.meld(&self.haendelser);
        Ok(self.n)
    }
}

/// The engine: stateless apart from its store and its listeners.
#[derive(Clone)]
pub struct Engine {
    store: Arc<dyn Store>,
    lyttere: Arc<[Arc<dyn Aendringslytter>]>,
}

impl Engine {
    pub fn new(store: Arc<dyn Store>) -> Engine {
        Engine {
            store,
            lyttere: Arc::new([]),
        }
    }

    /// This engine (and its clones from now on) also tells `lytter` about every committed
    /// change.
    pub fn with_lytter(self, lytter: Arc<dyn Aendringslytter>) -> Engine {
        let mut l: Vec<_> = self.lyttere.iter().cloned().collect();
        l.push(lytter);
        Engine {
            store: self.store,
            lyttere: l.into(),
        }
    }

    /// Tell the listeners about changes whose transaction committed. [`Engine::write`] and
    /// [`Engine::write_many`] do this themselves; a caller that runs [`Engine::write_in`] in a
    /// transaction of its own calls it with what `write_in` returned, after its commit.
    pub fn meld(&self, haendelser: &[Haendelse]) {
        if haendelser.is_empty() {
            return;
        }
        for l in self.lyttere.iter() {
            let kald = std::panic::AssertUnwindSafe(|| l.aendret(haendelser));
            if std::panic::catch_unwind(kald).is_err() {
                tracing::error!(
                    antal = haendelser.len(),
                    "a change listener panicked; the write itself has committed"
                );
            }
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Run one write in its own transaction.
    pub async fn write(
        &self,
        ctx: &Kontekst,
        spec: &ClassSpec,
        uuid: Uuid,
        op: Skriv,
    ) -> OioResult<Uuid> {
        let mut tx = self.store.begin().await?;
        let h = self.write_in(tx.as_mut(), ctx, spec, uuid, op).await?;
        tx.commit().await?;
        if let Some(h) = h {
            self.meld(std::slice::from_ref(&h));
        }
        Ok(uuid)
    }

    /// Run many writes in one transaction: all or nothing (demo seeding). The writes are taken
    /// from the iterator one at a time; for input that is parsed as it is read (and may fail
    /// half-way), use [`Engine::bulk`].
    pub async fn write_many(
        &self,
        ctx: &Kontekst,
        ops: impl IntoIterator<Item = (&'static ClassSpec, Uuid, Skriv)>,
    ) -> OioResult<usize> {
        let mut bulk = self.bulk().await?;
        for (spec, uuid, op) in ops {
            bulk.write(ctx, spec, uuid, op).await?;
        }
        bulk.commit().await
    }

    /// Start a bulk write: one transaction that the caller feeds object by object (bulk import
    /// streams a file through it, so memory does not grow with the file) and commits at the
    /// end. Dropping it without [`Bulk::commit`], e.g. on the first error, stores nothing.
    pub async fn bulk(&self) -> OioResult<Bulk<'_>> {
        Ok(Bulk {
            engine: self,
            tx: self.store.begin().await?,
            n: 0,
            skip_unchanged: false,
            haendelser: Vec::new(),
        })
    }

    /// The one write path. Returns the change it stored, or `None` when nothing was stored
    /// (unchanged, or deleting a deleted object). The change is not committed yet: whoever
    /// commits `tx` reports it with [`Engine::meld`] afterwards.
    pub async fn write_in(
        &self,
        tx: &mut dyn StoreTx,
        ctx: &Kontekst,
        spec: &ClassSpec,
        uuid: Uuid,
        op: Skriv,
    ) -> OioResult<Option<Haendelse>> {
        self.write_in_udfald(tx, ctx, spec, uuid, op, false)
            .await
            .map(|(_, h)| h)
    }

    /// [`Engine::write_in`], saying what it did. With `skip_unchanged`, an `importer` whose
    /// payload equals the current registrering's data stores nothing (re-running a bulk import
    /// of the same file); otherwise it appends a `Rettet` registrering, as LoRa does.
    async fn write_in_udfald(
        &self,
        tx: &mut dyn StoreTx,
        ctx: &Kontekst,
        spec: &ClassSpec,
        uuid: Uuid,
        op: Skriv,
        skip_unchanged: bool,
    ) -> OioResult<(Udfald, Option<Haendelse>)> {
        let op_name = op.name();
        let mut current = tx.lock(uuid).await?;
        let not_found = || OioError::NotFound {
            klasse: spec.name.into(),
            uuid,
        };
        let exists = || OioError::Conflict(format!("{} {uuid} already exists", spec.name));

        // Create the object row first when the UUID is new.
        let mut created = None;
        if current.is_none() && matches!(op, Skriv::Opret(_) | Skriv::Importer(_)) {
            let objekt = Objekt {
                uuid,
                klasse: spec.name.into(),
                myndighed: ctx.myndighed.clone(),
                faelles: ctx.faelles,
            };
            match tx.insert_objekt(&objekt).await {
                Ok(()) => created = Some(objekt),
                // A concurrent import created it first (PostgreSQL waits for that transaction):
                // continue as an import onto the object it created.
                Err(StoreError::Conflict(_)) if matches!(op, Skriv::Importer(_)) => {
                    current = tx.lock(uuid).await?;
                }
                Err(StoreError::Conflict(_)) => return Err(exists()),
                Err(e) => return Err(e.into()),
            }
        }

        // Resolve what to store: (objekt, data, livscyklus, note, previous registrering).
        let (objekt, data, livscyklus, note, previous) = match (op, current) {
            (Skriv::Opret(a) | Skriv::Importer(a), None) => {
                let livscyklus = if op_name == "opret" {
                    Livscyklus::Opstaaet
                } else {
                    Livscyklus::Importeret
                };
                let objekt = created.ok_or_else(|| {
                    OioError::Store(StoreError::Backend(format!(
                        "{uuid} vanished while importing"
                    )))
                })?;
                let mut data = a.data;
                merge::normalise_new(spec, &mut data);
                (objekt, data, livscyklus, a.note, None)
            }
            (_, None) => return Err(not_found()),
            (op, Some((objekt, current))) => {
                if objekt.klasse != spec.name {
                    return match op {
                        Skriv::Opret(_) | Skriv::Importer(_) => Err(OioError::Conflict(format!(
                            "{uuid} is a {}, not a {}",
                            objekt.klasse, spec.name
                        ))),
                        _ => Err(not_found()),
                    };
                }
                ctx.check_write(spec.name, &objekt)?;
                let cur = current.ok_or_else(|| {
                    OioError::Store(StoreError::Backend(format!(
                        "{uuid} has no current registrering"
                    )))
                })?;
                let from = cur.meta.livscyklus;
                let transition = |to: Livscyklus| -> OioResult<()> {
                    if from.may_become(to) {
                        Ok(())
                    } else {
                        Err(OioError::Livscyklus {
                            from: from.as_str(),
                            to: to.as_str(),
                        })
                    }
                };
                let (data, livscyklus, note) = match op {
                    Skriv::Opret(_) => return Err(exists()),
                    Skriv::Importer(a) => {
                        if matches!(from, Livscyklus::Passiveret | Livscyklus::Slettet) {
                            // LoRa's reference code applies the import as an update on top of the
                            // last registrering (docs/oio-rest.md).
                            transition(Livscyklus::Importeret)?;
                            let mut change = a.data;
                            merge::normalise_new(spec, &mut change);
                            (
                                merge::apply(spec, &cur.data, &change),
                                Livscyklus::Importeret,
                                a.note,
                            )
                        } else {
                            let mut data = a.data;
                            merge::normalise_new(spec, &mut data);
                            if skip_unchanged && data == cur.data {
                                return Ok((Udfald::Uaendret, None));
                            }
                            transition(Livscyklus::Rettet)?;
                            (data, Livscyklus::Rettet, a.note)
                        }
                    }
                    Skriv::Ret(a)
                        if a.livscyklus
                            .as_deref()
                            .is_some_and(|l| l.eq_ignore_ascii_case("passiv")) =>
                    {
                        transition(Livscyklus::Passiveret)?;
                        (cur.data.clone(), Livscyklus::Passiveret, a.note)
                    }
                    Skriv::Ret(a) => {
                        transition(Livscyklus::Rettet)?;
                        (
                            merge::apply(spec, &cur.data, &a.data),
                            Livscyklus::Rettet,
                            a.note,
                        )
                    }
                    Skriv::Passiver { note } => {
                        transition(Livscyklus::Passiveret)?;
                        (cur.data.clone(), Livscyklus::Passiveret, note)
                    }
                    Skriv::Slet { note } => {
                        if from == Livscyklus::Slettet {
                            // Deleting a deleted object is a no-op that still succeeds.
                            return Ok((Udfald::Uaendret, None));
                        }
                        transition(Livscyklus::Slettet)?;
                        (cur.data.clone(), Livscyklus::Slettet, note)
                    }
                };
                (objekt, data, livscyklus, note, Some(cur))
            }
        };

        if let Some(prev) = &previous
            && prev.data == data
            && prev.meta.livscyklus == livscyklus
        {
            tracing::debug!(%uuid, op = op_name, "unchanged; no new registrering");
            return Ok((Udfald::Uaendret, None));
        }
        let udfald = if previous.is_some() {
            Udfald::Aendret
        } else {
            Udfald::Oprettet
        };
        let mut fra = time::now();
        if let Some(prev) = &previous {
            // Registreringer of one object are strictly ordered in transaction time.
            fra = fra.max(prev.meta.fra + 1);
            tx.close_registrering(prev.id, fra).await?;
        }
        // Without a known user LoRa stamps its constant brugerref; storing it keeps
        // `brugerref` searches consistent with what reads show.
        let brugerref = Some(ctx.brugerref.unwrap_or(crate::json::LORA_BRUGERREF));
        let meta = RegistreringMeta {
            fra,
            til: POS_INF,
            livscyklus,
            brugerref,
            note,
        };
        tx.insert_registrering(&objekt, &meta, &data, &fakta(spec, &data))
            .await?;
        tracing::debug!(%uuid, klasse = spec.name, op = op_name, livscyklus = livscyklus.as_str(), "registered");
        Ok((
            udfald,
            Some(Haendelse {
                service: spec.service,
                klasse: spec.name,
                uuid,
                handling: Handling::of(livscyklus),
                myndighed: objekt.myndighed,
                faelles: objekt.faelles,
                brugerref,
                tidspunkt: fra,
            }),
        ))
    }

    /// Lock an object of class `spec` the caller may write, for an operation outside the
    /// lifecycle (anonymising, physical deletion).
    async fn lock_writable(
        tx: &mut dyn StoreTx,
        ctx: &Kontekst,
        spec: &ClassSpec,
        uuid: Uuid,
    ) -> OioResult<Objekt> {
        match tx.lock(uuid).await? {
            Some((objekt, _)) if objekt.klasse == spec.name => {
                ctx.check_write(spec.name, &objekt)?;
                Ok(objekt)
            }
            _ => Err(OioError::NotFound {
                klasse: spec.name.into(),
                uuid,
            }),
        }
    }

    /// Rewrite every registrering of one object, past and present, with `rens` (which says
    /// whether it changed the data), recomputing the search facts. This changes history, which
    /// nothing else does: it exists for erasing personal data (OrganisationSystem
    /// `Anonymiser`). Returns how many registreringer changed and, if any did, a `ret`
    /// [`Haendelse`] (the current content changed; no registrering was added).
    ///
    /// The history is read from the store after the lock, so it must not hold writes of this
    /// transaction to the same object.
    pub async fn omskriv_historik(
        &self,
        tx: &mut dyn StoreTx,
        ctx: &Kontekst,
        spec: &ClassSpec,
        uuid: Uuid,
        rens: &mut (dyn FnMut(&mut crate::model::Data) -> bool + Send),
    ) -> OioResult<(usize, Option<Haendelse>)> {
        let objekt = Self::lock_writable(tx, ctx, spec, uuid).await?;
        let hist = self
            .store
            .read(
                &[uuid],
                crate::store::RegWindow::Range(time::NEG_INF, POS_INF),
            )
            .await?;
        let mut n = 0;
        for h in hist {
            for mut r in h.registreringer {
                if rens(&mut r.data) {
                    tx.rewrite_registrering(&objekt, r.id, &r.data, &fakta(spec, &r.data))
                        .await?;
                    n += 1;
                }
            }
        }
        tracing::info!(%uuid, klasse = spec.name, registreringer = n, "history rewritten");
        let haendelse = (n > 0).then(|| Haendelse {
            service: spec.service,
            klasse: spec.name,
            uuid,
            handling: Handling::Ret,
            myndighed: objekt.myndighed.clone(),
            faelles: objekt.faelles,
            brugerref: Some(ctx.brugerref.unwrap_or(crate::json::LORA_BRUGERREF)),
            tidspunkt: time::now(),
        });
        Ok((n, haendelse))
    }

    /// Physically delete one object with its whole history (OrganisationAdministration
    /// `FysiskSlet`): afterwards reads answer 404, not 410, and searches cannot find it, at
    /// any registration time. The caller must be allowed to write it. Yields a `slet`
    /// [`Haendelse`] so subscribers drop it too.
    pub async fn fysisk_slet(
        &self,
        tx: &mut dyn StoreTx,
        ctx: &Kontekst,
        spec: &ClassSpec,
        uuid: Uuid,
    ) -> OioResult<Haendelse> {
        let objekt = Self::lock_writable(tx, ctx, spec, uuid).await?;
        if !tx.purge(uuid).await? {
            return Err(OioError::NotFound {
                klasse: spec.name.into(),
                uuid,
            });
        }
        tracing::info!(%uuid, klasse = spec.name, "physically deleted");
        Ok(Haendelse {
            service: spec.service,
            klasse: spec.name,
            uuid,
            handling: Handling::Slet,
            myndighed: objekt.myndighed,
            faelles: objekt.faelles,
            brugerref: Some(ctx.brugerref.unwrap_or(crate::json::LORA_BRUGERREF)),
            tidspunkt: time::now(),
        })
    }

    /// Read one object (LoRa's `laes`): its registreringer in the window, newest first.
    pub async fn laes(
        &self,
        ctx: &Kontekst,
        spec: &ClassSpec,
        uuid: Uuid,
        tid: Tid,
        konsolider: bool,
    ) -> OioResult<Value> {
        let h = self.laes_historik(ctx, spec, uuid, tid).await?;
        Ok(render_objekt(
            spec,
            uuid,
            &h.registreringer,
            RenderOpts {
                virk: tid.virk,
                konsolider,
            },
        ))
    }

    /// As [`Engine::laes`], unrendered: for a transport with its own wire form (SOAP). The
    /// registreringer are those registered in `tid.reg`; filtering by `tid.virk` is the
    /// renderer's job.
    pub async fn laes_historik(
        &self,
        ctx: &Kontekst,
        spec: &ClassSpec,
        uuid: Uuid,
        tid: Tid,
    ) -> OioResult<Historik> {
        let hist = self.store.read(&[uuid], tid.reg).await?;
        let h = hist
            .into_iter()
            .find(|h| visible(ctx, spec, h))
            .ok_or_else(|| OioError::NotFound {
                klasse: spec.name.into(),
                uuid,
            })?;
        check_readable(spec, &h)?;
        Ok(h)
    }

    /// Read many objects (LoRa's `list`). Unknown UUIDs are left out (LoRa's reference code);
    /// a deleted object makes the whole call 410 (docs/oio-rest.md). Results follow `uuids`.
    pub async fn list(
        &self,
        ctx: &Kontekst,
        spec: &ClassSpec,
        uuids: &[Uuid],
        tid: Tid,
        konsolider: bool,
    ) -> OioResult<Vec<Value>> {
        Ok(self
            .list_historik(ctx, spec, uuids, tid)
            .await?
            .iter()
            .map(|h| {
                render_objekt(
                    spec,
                    h.objekt.uuid,
                    &h.registreringer,
                    RenderOpts {
                        virk: tid.virk,
                        konsolider,
                    },
                )
            })
            .collect())
    }

    /// As [`Engine::list`], unrendered (see [`Engine::laes_historik`]).
    pub async fn list_historik(
        &self,
        ctx: &Kontekst,
        spec: &ClassSpec,
        uuids: &[Uuid],
        tid: Tid,
    ) -> OioResult<Vec<Historik>> {
        let hist = self.store.read(uuids, tid.reg).await?;
        let mut out = Vec::with_capacity(hist.len());
        for h in hist
            .into_iter()
            .filter(|h| visible(ctx, spec, h) && !h.registreringer.is_empty())
        {
            check_readable(spec, &h)?;
            out.push(h);
        }
        Ok(out)
    }

    /// Search (LoRa's `soeg`): the UUIDs of matching objects.
    pub async fn soeg(&self, ctx: &Kontekst, q: &SearchQuery) -> OioResult<Vec<Uuid>> {
        let mut q = q.clone();
        q.scope = narrow(&ctx.scope, &q.scope);
        Ok(self.store.search(&q).await?)
    }
}

/// The narrower of two scopes.
fn narrow(a: &Scope, b: &Scope) -> Scope {
    match (a, b) {
        (Scope::All, s) | (s, Scope::All) => s.clone(),
        (Scope::Myndigheder(x), Scope::Myndigheder(y)) => {
            Scope::Myndigheder(x.iter().filter(|c| y.contains(c)).cloned().collect())
        }
    }
}

fn visible(ctx: &Kontekst, spec: &ClassSpec, h: &Historik) -> bool {
    h.objekt.klasse == spec.name && ctx.scope.permits(&h.objekt)
}

fn check_readable(spec: &ClassSpec, h: &Historik) -> OioResult<()> {
    match h.registreringer.first() {
        None => Err(OioError::NotFound {
            klasse: spec.name.into(),
            uuid: h.objekt.uuid,
        }),
        Some(r) if r.meta.livscyklus == Livscyklus::Slettet => Err(OioError::Gone {
            klasse: spec.name.into(),
            uuid: h.objekt.uuid,
        }),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    //! The change listener: told after the commit only, once per commit, never for a write that
    //! stored nothing or did not commit. An in-memory store stands in for the database; it
    //! logs its commits into the same log the listener writes to, so the tests see the order.

    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use async_trait::async_trait;
    use serde_json::json;

    use super::*;
    use crate::json::{Mode, parse_write};
    use crate::model::{Data, Registrering};
    use crate::spec;
    use crate::store::{Fakt, RegWindow, StoreResult};

    type Log = Arc<Mutex<Vec<String>>>;

    #[derive(Debug, Clone, Default)]
    struct Db {
        objekter: HashMap<Uuid, (Objekt, Vec<Registrering>)>,
        next_id: i64,
    }

    struct MemStore {
        db: Arc<Mutex<Db>>,
        log: Log,
        fail_commit: Arc<AtomicBool>,
    }

    struct MemTx {
        staged: Db,
        db: Arc<Mutex<Db>>,
        log: Log,
        fail_commit: bool,
    }

    #[async_trait]
    impl Store for MemStore {
        fn backend(&self) -> &'static str {
            "memory"
        }
        async fn begin(&self) -> StoreResult<Box<dyn StoreTx>> {
            Ok(Box::new(MemTx {
                staged: self.db.lock().unwrap().clone(),
                db: self.db.clone(),
                log: self.log.clone(),
                fail_commit: self.fail_commit.load(Ordering::SeqCst),
            }))
        }
        async fn read(&self, _: &[Uuid], _: RegWindow) -> StoreResult<Vec<Historik>> {
            Ok(Vec::new())
        }
        async fn search(&self, _: &SearchQuery) -> StoreResult<Vec<Uuid>> {
            Ok(Vec::new())
        }
        async fn ping(&self) -> StoreResult<()> {
            Ok(())
        }
    }

    #[async_trait]
    impl StoreTx for MemTx {
        async fn lock(
            &mut self,
            uuid: Uuid,
        ) -> StoreResult<Option<(Objekt, Option<Registrering>)>> {
            Ok(self.staged.objekter.get(&uuid).map(|(o, regs)| {
                (
                    o.clone(),
                    regs.iter().find(|r| r.meta.til == POS_INF).cloned(),
                )
            }))
        }
        async fn insert_objekt(&mut self, objekt: &Objekt) -> StoreResult<()> {
            if self.staged.objekter.contains_key(&objekt.uuid) {
                return Err(StoreError::Conflict("exists".into()));
            }
            self.staged
                .objekter
                .insert(objekt.uuid, (objekt.clone(), Vec::new()));
            Ok(())
        }
        async fn close_registrering(&mut self, id: i64, til: Ts) -> StoreResult<()> {
            for (_, regs) in self.staged.objekter.values_mut() {
                for r in regs.iter_mut().filter(|r| r.id == id) {
                    r.meta.til = til;
                }
            }
            Ok(())
        }
        async fn insert_registrering(
            &mut self,
            objekt: &Objekt,
            meta: &RegistreringMeta,
            data: &Data,
            _: &[Fakt],
        ) -> StoreResult<i64> {
            self.staged.next_id += 1;
            let id = self.staged.next_id;
            self.staged
                .objekter
                .get_mut(&objekt.uuid)
                .ok_or_else(|| StoreError::Backend("no object row".into()))?
                .1
                .push(Registrering {
                    id,
                    meta: meta.clone(),
                    data: data.clone(),
                });
            Ok(id)
        }
        async fn rewrite_registrering(
            &mut self,
            objekt: &Objekt,
            id: i64,
            data: &Data,
            _: &[Fakt],
        ) -> StoreResult<()> {
            let regs = &mut self
                .staged
                .objekter
                .get_mut(&objekt.uuid)
                .ok_or_else(|| StoreError::Backend("no object row".into()))?
                .1;
            let r = regs
                .iter_mut()
                .find(|r| r.id == id)
                .ok_or_else(|| StoreError::Backend("no such registrering".into()))?;
            r.data = data.clone();
            Ok(())
        }
        async fn purge(&mut self, uuid: Uuid) -> StoreResult<bool> {
            Ok(self.staged.objekter.remove(&uuid).is_some())
        }
        async fn commit(self: Box<Self>) -> StoreResult<()> {
            if self.fail_commit {
                return Err(StoreError::Backend("commit failed".into()));
            }
            *self.db.lock().unwrap() = self.staged;
            self.log.lock().unwrap().push("commit".into());
            Ok(())
        }
    }

    /// Logs `aendret[n]` per call and `<handling> <uuid>` per change; keeps the changes.
    struct Lytter {
        log: Log,
        set: Mutex<Vec<Haendelse>>,
    }

    impl Aendringslytter for Lytter {
        fn aendret(&self, haendelser: &[Haendelse]) {
            let mut log = self.log.lock().unwrap();
            log.push(format!("aendret[{}]", haendelser.len()));
            for h in haendelser {
                log.push(format!("{} {}", h.handling.as_str(), h.uuid));
            }
            self.set.lock().unwrap().extend_from_slice(haendelser);
        }
    }

    struct Env {
        engine: Engine,
        log: Log,
        lytter: Arc<Lytter>,
        db: Arc<Mutex<Db>>,
        fail_commit: Arc<AtomicBool>,
    }

    impl Env {
        fn new() -> Env {
            let log: Log = Default::default();
            let db: Arc<Mutex<Db>> = Default::default();
            let fail_commit = Arc::new(AtomicBool::new(false));
            let lytter = Arc::new(Lytter {
                log: log.clone(),
                set: Mutex::new(Vec::new()),
            });
            let engine = Engine::new(Arc::new(MemStore {
                db: db.clone(),
                log: log.clone(),
                fail_commit: fail_commit.clone(),
            }))
            .with_lytter(lytter.clone());
            Env {
                engine,
                log,
                lytter,
                db,
                fail_commit,
            }
        }

        /// The log since the last call.
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.log.lock().unwrap())
        }
    }

    fn enhed() -> &'static ClassSpec {
        spec::class("organisation", "organisationenhed").unwrap()
    }

    fn body(navn: &str) -> Value {
        json!({
            "attributter": {"organisationenhedegenskaber": [{
                "brugervendtnoegle": "e1", "enhedsnavn": navn,
                "virkning": {"from": "2020-01-01", "to": "infinity"}}]},
            "tilstande": {"organisationenhedgyldighed": [{
                "gyldighed": "Aktiv", "virkning": {"from": "2020-01-01", "to": "infinity"}}]}
        })
    }

    fn opret(navn: &str) -> Skriv {
        Skriv::Opret(parse_write(enhed(), &body(navn), Mode::Create).unwrap())
    }

    fn ret(navn: &str) -> Skriv {
        let b = json!({"attributter": {"organisationenhedegenskaber": [{
            "enhedsnavn": navn, "virkning": {"from": "2020-01-01", "to": "infinity"}}]}});
        Skriv::Ret(parse_write(enhed(), &b, Mode::Update).unwrap())
    }

    fn ctx(cvr: &str) -> Kontekst {
        Kontekst {
            scope: Scope::Myndigheder(vec![cvr.into()]),
            myndighed: Some(cvr.into()),
            faelles: false,
            brugerref: None,
        }
    }

    #[tokio::test]
    async fn importer_nye_stores_new_objects_as_imports_and_tells_after_commit() {
        let env = Env::new();
        let a = ctx("11111111");
        let uuids: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
        let nye = uuids
            .iter()
            .map(|u| {
                (
                    *u,
                    parse_write(enhed(), &body("Samme"), Mode::Create).unwrap(),
                )
            })
            .collect();
        let mut bulk = env.engine.bulk().await.unwrap();
        bulk.importer_nye(&a, enhed(), nye).await.unwrap();
        assert!(
            env.lytter.set.lock().unwrap().is_empty(),
            "not before the commit"
        );
        assert_eq!(bulk.commit().await.unwrap(), 3);
        let log = env.take();
        assert_eq!(log[log.len() - 4], "aendret[3]", "{log:?}");
        for u in &uuids {
            assert!(log.contains(&format!("importer {u}")), "{log:?}");
            let db = env.db.lock().unwrap();
            let (o, regs) = &db.objekter[u];
            assert_eq!(o.myndighed.as_deref(), Some("11111111"));
            assert_eq!(regs.len(), 1);
            assert_eq!(regs[0].meta.livscyklus, Livscyklus::Importeret);
            assert_eq!(regs[0].meta.til, POS_INF);
        }
        // Stored as an `importer` through `write` stores the same payload.
        let enkelt = Uuid::new_v4();
        let imp = Skriv::Importer(parse_write(enhed(), &body("Samme"), Mode::Create).unwrap());
        env.engine.write(&a, enhed(), enkelt, imp).await.unwrap();
        let db = env.db.lock().unwrap().objekter.clone();
        let (ref_o, ref_regs) = &db[&enkelt];
        let (o, regs) = &db[&uuids[0]];
        assert_eq!((&o.myndighed, o.faelles), (&ref_o.myndighed, ref_o.faelles));
        assert_eq!(regs[0].data, ref_regs[0].data);
        assert_eq!(regs[0].meta.livscyklus, ref_regs[0].meta.livscyklus);
        assert_eq!(regs[0].meta.brugerref, ref_regs[0].meta.brugerref);
        // A UUID that exists: a conflict, nothing told.
        let mut bulk = env.engine.bulk().await.unwrap();
        let igen = vec![(
            uuids[1],
            parse_write(enhed(), &body("igen"), Mode::Create).unwrap(),
        )];
        let err = bulk.importer_nye(&a, enhed(), igen).await.unwrap_err();
        assert!(
            matches!(err, OioError::Store(StoreError::Conflict(_))),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn told_after_commit_once_per_stored_change() {
        let env = Env::new();
        let u = Uuid::new_v4();
        let a = ctx("11111111");
        env.engine.write(&a, enhed(), u, opret("A")).await.unwrap();
        assert_eq!(env.take(), ["commit", "aendret[1]", &format!("opret {u}")]);
        let h = env.lytter.set.lock().unwrap()[0].clone();
        let fra = env.db.lock().unwrap().objekter[&u].1[0].meta.fra;
        assert_eq!(
            h,
            Haendelse {
                service: "organisation",
                klasse: "organisationenhed",
                uuid: u,
                handling: Handling::Opret,
                myndighed: Some("11111111".into()),
                faelles: false,
                brugerref: Some(crate::json::LORA_BRUGERREF),
                tidspunkt: fra,
            }
        );

        // the owner is the object's, also when the system writes it
        env.engine
            .write(&Kontekst::system(), enhed(), u, ret("B"))
            .await
            .unwrap();
        assert_eq!(env.take(), ["commit", "aendret[1]", &format!("ret {u}")]);
        let h = env.lytter.set.lock().unwrap()[1].clone();
        assert_eq!(h.myndighed.as_deref(), Some("11111111"));
        assert!(h.tidspunkt > fra);

        // a ret that changes nothing (same data, still Rettet) commits, stores nothing and
        // reports nothing
        env.engine.write(&a, enhed(), u, ret("B")).await.unwrap();
        assert_eq!(env.take(), ["commit"]);
        assert_eq!(env.db.lock().unwrap().objekter[&u].1.len(), 2);

        // PATCH with livscyklus Passiv is a passiver
        let passiv = parse_write(enhed(), &json!({"livscyklus": "Passiv"}), Mode::Update).unwrap();
        env.engine
            .write(&a, enhed(), u, Skriv::Ret(passiv))
            .await
            .unwrap();
        assert_eq!(
            env.take(),
            ["commit", "aendret[1]", &format!("passiver {u}")]
        );

        env.engine
            .write(&a, enhed(), u, Skriv::Slet { note: None })
            .await
            .unwrap();
        assert_eq!(env.take(), ["commit", "aendret[1]", &format!("slet {u}")]);
        // deleting a deleted object succeeds and stores nothing
        env.engine
            .write(&a, enhed(), u, Skriv::Slet { note: None })
            .await
            .unwrap();
        assert_eq!(env.take(), ["commit"]);

        // an import brings it back
        let imp = Skriv::Importer(parse_write(enhed(), &body("C"), Mode::Create).unwrap());
        env.engine.write(&a, enhed(), u, imp).await.unwrap();
        assert_eq!(
            env.take(),
            ["commit", "aendret[1]", &format!("importer {u}")]
        );
    }

    #[tokio::test]
    async fn not_told_when_the_write_fails_or_does_not_commit() {
        let env = Env::new();
        let a = ctx("11111111");
        let u = Uuid::new_v4();
        // refused: nothing to ret
        let e = env.engine.write(&a, enhed(), u, ret("X")).await;
        assert!(matches!(e, Err(OioError::NotFound { .. })), "{e:?}");
        // refused by the lifecycle table after the object exists
        env.engine.write(&a, enhed(), u, opret("A")).await.unwrap();
        env.engine
            .write(&a, enhed(), u, Skriv::Passiver { note: None })
            .await
            .unwrap();
        env.take();
        let e = env.engine.write(&a, enhed(), u, ret("B")).await;
        assert!(matches!(e, Err(OioError::Livscyklus { .. })), "{e:?}");
        assert!(env.take().is_empty());

        // the commit fails: the write fails and nobody hears of it
        env.fail_commit.store(true, Ordering::SeqCst);
        let v = Uuid::new_v4();
        let e = env.engine.write(&a, enhed(), v, opret("A")).await;
        assert!(matches!(e, Err(OioError::Store(_))), "{e:?}");
        let e = env
            .engine
            .write_many(&a, [(enhed(), Uuid::new_v4(), opret("B"))])
            .await;
        assert!(e.is_err());
        assert!(env.take().is_empty());
        assert!(!env.db.lock().unwrap().objekter.contains_key(&v));
    }

    #[tokio::test]
    async fn write_many_tells_once_after_its_one_commit() {
        let env = Env::new();
        let a = ctx("11111111");
        let (u, v, w) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        env.engine.write(&a, enhed(), w, opret("W")).await.unwrap();
        env.engine.write(&a, enhed(), w, ret("W")).await.unwrap();
        env.take();
        let n = env
            .engine
            .write_many(
                &a,
                [
                    (enhed(), u, opret("U")),
                    (enhed(), v, opret("V")),
                    // unchanged: not reported
                    (enhed(), w, ret("W")),
                    (enhed(), u, ret("U2")),
                ],
            )
            .await
            .unwrap();
        assert_eq!(n, 4);
        assert_eq!(
            env.take(),
            [
                "commit".to_owned(),
                "aendret[3]".into(),
                format!("opret {u}"),
                format!("opret {v}"),
                format!("ret {u}"),
            ]
        );

        // one failing write rolls the whole batch back: no report
        let e = env
            .engine
            .write_many(
                &a,
                [
                    (enhed(), Uuid::new_v4(), opret("X")),
                    (enhed(), Uuid::new_v4(), ret("Y")),
                ],
            )
            .await;
        assert!(e.is_err());
        assert!(env.take().is_empty());
    }

    #[tokio::test]
    async fn write_in_reports_nothing_itself() {
        let env = Env::new();
        let a = ctx("11111111");
        let u = Uuid::new_v4();
        let mut tx = env.engine.store().begin().await.unwrap();
        let h = env
            .engine
            .write_in(tx.as_mut(), &a, enhed(), u, opret("A"))
            .await
            .unwrap()
            .expect("stored");
        assert!(env.take().is_empty(), "nothing before the caller commits");
        tx.commit().await.unwrap();
        env.engine.meld(&[h]);
        assert_eq!(env.take(), ["commit", "aendret[1]", &format!("opret {u}")]);
    }

    struct Panikker;

    impl Aendringslytter for Panikker {
        fn aendret(&self, _: &[Haendelse]) {
            panic!("listener bug");
        }
    }

    #[tokio::test]
    async fn a_panicking_listener_does_not_fail_the_write() {
        let env = Env::new();
        let engine = Engine::new(env.engine.store().clone())
            .with_lytter(Arc::new(Panikker))
            .with_lytter(env.lytter.clone());
        let u = Uuid::new_v4();
        engine
            .write(&ctx("11111111"), enhed(), u, opret("A"))
            .await
            .unwrap();
        assert_eq!(env.take(), ["commit", "aendret[1]", &format!("opret {u}")]);
    }
}
