//! fki's own bulk format: newline-delimited JSON, one object a line,
//!
//! ```text
//! {"klasse": "organisationenhed", "uuid": "…", "faelles": false, "registrering": <LoRa JSON write body>}
//! ```
//!
//! `registrering` is what `PUT /organisation/organisationenhed/{uuid}` takes (`attributter`,
//! `tilstande`, `relationer`, `note`), validated by the same code. `faelles` is optional
//! (default false). Empty lines are skipped. The export writes the current registrering of each
//! object, classes in a fixed order and UUIDs ascending, so exporting the same data twice gives
//! the same file.

use std::io::{BufRead, Read, Write};
use std::path::Path;

use anyhow::{Context, bail};
use fki_oio::json::{Mode, RenderOpts, parse_write, render_objekt};
use fki_oio::store::{RegWindow, Scope, SearchQuery};
use fki_oio::time::{NEG_INF, POS_INF};
use fki_oio::{Engine, Kontekst, Skriv, spec};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{Fil, Rapport};

/// The longest line accepted (one object).
const MAX_LINE: u64 = 16 << 20;

/// Import a file of this format; only `klasser` are accepted. `faelles_default` applies to
/// lines without `faelles`.
pub async fn import(
    engine: &Engine,
    r: &mut Fil,
    klasser: &[&str],
    myndighed: Option<String>,
    faelles_default: bool,
) -> anyhow::Result<Rapport> {
    let ctx = |faelles: bool| Kontekst {
        myndighed: myndighed.clone(),
        faelles,
        ..Kontekst::system()
    };
    let ctx_egen = ctx(false);
    let ctx_faelles = ctx(true);
    let mut bulk = engine.bulk().await?.skip_unchanged(true);
    let mut rapport = Rapport::default();
    let mut line = String::new();
    let mut nr = 0u64;
    loop {
        line.clear();
        nr += 1;
        let n = Read::by_ref(r)
            .take(MAX_LINE)
            .read_line(&mut line)
            .with_context(|| format!("line {nr}: cannot read (not UTF-8?)"))?;
        if n == 0 {
            break;
        }
        if n as u64 == MAX_LINE && !line.ends_with('\n') {
            bail!("line {nr}: longer than {} MiB", MAX_LINE >> 20);
        }
        if line.trim().is_empty() {
            continue;
        }
        let (spec, uuid, faelles, body) =
            parse_line(&line, klasser, faelles_default).with_context(|| format!("line {nr}"))?;
        let a = parse_write(spec, &body, Mode::Create)
            .with_context(|| format!("line {nr}: {} {uuid}: invalid registrering", spec.name))?;
        drop(body);
        let c = if faelles { &ctx_faelles } else { &ctx_egen };
        let u = bulk
            .write(c, spec, uuid, Skriv::Importer(a))
            .await
            .with_context(|| format!("line {nr}: {} {uuid}", spec.name))?;
        rapport.tael(spec.name, u);
        if nr.is_multiple_of(256) {
            r.tick();
        }
    }
    r.tick();
    bulk.commit().await.context("commit")?;
    Ok(rapport)
}

fn parse_line(
    line: &str,
    klasser: &[&str],
    faelles_default: bool,
) -> anyhow::Result<(&'static spec::ClassSpec, Uuid, bool, Value)> {
    let v: Value = serde_json::from_str(line).context("not a JSON object")?;
    let Value::Object(mut o) = v else {
        bail!("not a JSON object");
    };
    for k in o.keys() {
        if !["klasse", "uuid", "faelles", "registrering"].contains(&k.as_str()) {
            bail!("unknown key {k:?} (expected klasse, uuid, faelles, registrering)");
        }
    }
    let klasse = o
        .get("klasse")
        .and_then(Value::as_str)
        .context("klasse: missing or not a string")?;
    if !klasser.contains(&klasse) {
        bail!(
            "klasse {klasse:?} is not one of: {} (this import)",
            klasser.join(", ")
        );
    }
    let spec = spec::class_by_name(klasse).with_context(|| format!("unknown klasse {klasse:?}"))?;
    let uuid = o
        .get("uuid")
        .and_then(Value::as_str)
        .context("uuid: missing or not a string")?;
    let uuid = fki_oio::json::parse_uuid(uuid, "uuid")?;
    let faelles = match o.get("faelles") {
        None => faelles_default,
        Some(Value::Bool(b)) => *b,
        Some(_) => bail!("faelles: not a boolean"),
    };
    let body = o.remove("registrering").context("registrering: missing")?;
    Ok((spec, uuid, faelles, body))
}

/// Export the current registrering of every object of `klasser` (not deleted ones), optionally
/// only those owned by `myndighed`. Returns the number of objects written.
pub async fn export(
    engine: &Engine,
    path: &Path,
    klasser: &[&str],
    myndighed: Option<&str>,
) -> anyhow::Result<u64> {
    let tmp = path.with_extension("partial");
    let f =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut w = std::io::BufWriter::with_capacity(256 * 1024, f);
    let mut n = 0u64;
    let opts = RenderOpts {
        virk: (NEG_INF, POS_INF),
        konsolider: false,
    };
    for &klasse in klasser {
        let spec =
            spec::class_by_name(klasse).with_context(|| format!("unknown klasse {klasse}"))?;
        let q = SearchQuery {
            klasse: klasse.to_owned(),
            reg: RegWindow::Current,
            virk: (NEG_INF, POS_INF),
            uuid: None,
            livscyklus: None,
            brugerref: None,
            note: None,
            kriterier: Vec::new(),
            scope: Scope::All,
            paging: None,
        };
        let mut uuids = engine.store().search(&q).await?;
        uuids.sort_unstable();
        uuids.dedup();
        for chunk in uuids.chunks(256) {
            for h in engine.store().read(chunk, RegWindow::Current).await? {
                if myndighed.is_some() && h.objekt.myndighed.as_deref() != myndighed {
                    continue;
                }
                let Some(reg) = h.registreringer.first() else {
                    continue;
                };
                let mut rendered =
                    render_objekt(spec, h.objekt.uuid, std::slice::from_ref(reg), opts);
                let Some(Value::Object(mut r)) = rendered
                    .get_mut("registreringer")
                    .and_then(Value::as_array_mut)
                    .and_then(|a| a.pop())
                else {
                    bail!("{klasse} {}: nothing rendered", h.objekt.uuid);
                };
                for k in [
                    "fratidspunkt",
                    "tiltidspunkt",
                    "livscykluskode",
                    "brugerref",
                ] {
                    r.remove(k);
                }
                let mut line = Map::new();
                line.insert("klasse".into(), Value::from(klasse));
                line.insert("uuid".into(), Value::from(h.objekt.uuid.to_string()));
                if h.objekt.faelles {
                    line.insert("faelles".into(), Value::Bool(true));
                }
                line.insert("registrering".into(), Value::Object(r));
                serde_json::to_writer(&mut w, &line)?;
                w.write_all(b"\n")?;
                n += 1;
            }
        }
    }
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot move {} to {}", tmp.display(), path.display()))?;
    Ok(n)
}
