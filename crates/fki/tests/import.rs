//! `fki import kle|organisation` and `fki export organisation`, run as the real binary against a
//! temporary data directory: SQLite always, PostgreSQL too when `FKI_TEST_POSTGRES_URL` is set.
//! The stores are read back directly (`fki_store`), after the command has exited.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::Cli;
use fki_oio::json::{Mode, parse_write};
use fki_oio::model::{Data, Maal};
use fki_oio::store::{RegWindow, Scope, SearchQuery, Store};
use fki_oio::time::{NEG_INF, POS_INF, format_pg};
use fki_oio::{Engine, Kontekst, Skriv, spec};
use uuid::Uuid;

/// The namespace of fki's KLE UUIDs, pinned here: changing it would make every re-import of KLE
/// create new objects instead of updating the old ones.
const KLE_NS: Uuid = uuid::uuid!("de97fa23-02b2-528f-aa46-797f5054147c");

fn klasse_uuid(nr: &str) -> Uuid {
    Uuid::new_v5(&KLE_NS, format!("klasse:{nr}").as_bytes())
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/kle-emneplan.xml")
}

const KLASSER: [&str; 9] = [
    "00", "00.01", "00.01.00", "00.01.02", "00.03", "00.03.00", "27", "27.35", "27.35.04",
];

async fn store(cli: &Cli<'_>) -> Arc<dyn Store> {
    fki_store::open_stores(cli.database_url.as_deref(), cli.data_dir)
        .await
        .unwrap()
        .oio
}

async fn all_of(store: &dyn Store, klasse: &str) -> Vec<Uuid> {
    let mut v = store
        .search(&SearchQuery {
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
        })
        .await
        .unwrap();
    v.sort();
    v
}

async fn current(store: &dyn Store, uuid: Uuid) -> Data {
    let h = store.read(&[uuid], RegWindow::Current).await.unwrap();
    h[0].registreringer[0].data.clone()
}

/// `created/updated/unchanged` of a class in the report.
fn counts(out: &str, klasse: &str) -> [u64; 3] {
    let line = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some(klasse))
        .unwrap_or_else(|| panic!("no {klasse} in the report:\n{out}"));
    let n: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    [n[0], n[1], n[2]]
}

fn uuid_of(m: &Maal) -> Uuid {
    match m {
        Maal::Uuid(u) => *u,
        other => panic!("expected a UUID target, got {other:?}"),
    }
}

fn kle_scenario(cli: &Cli<'_>) {
    let f = fixture();
    let file = f.to_str().unwrap();
    let out = cli.ok(&["import", "kle", file]);
    assert_eq!(counts(&out, "klasse"), [9, 0, 0], "{out}");
    assert_eq!(counts(&out, "facet"), [1, 0, 0], "{out}");
    assert_eq!(counts(&out, "klassifikation"), [1, 0, 0], "{out}");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s = store(cli).await;
        let mut want: Vec<Uuid> = KLASSER.iter().map(|n| klasse_uuid(n)).collect();
        want.sort();
        assert_eq!(all_of(s.as_ref(), "klasse").await, want);
        let facet = all_of(s.as_ref(), "facet").await;
        assert_eq!(facet, vec![Uuid::new_v5(&KLE_NS, b"facet:Emne")]);

        // An emne: title, number, stikord, its parent, its facet, open-ended virkning.
        let d = current(s.as_ref(), klasse_uuid("00.01.00")).await;
        let eg = &d.attributter["egenskaber"][0];
        assert_eq!(eg.felter["brugervendtnoegle"], "00.01.00");
        assert_eq!(eg.felter["titel"], "Kommunens styrelse i almindelighed");
        let soegeord = eg.felter["soegeord"].to_string();
        assert!(
            soegeord.contains("Kommunestyre") && soegeord.contains("Byråd"),
            "{soegeord}"
        );
        assert!(format_pg(eg.virkning.from).starts_with("1988-01-01"));
        assert_eq!(eg.virkning.to, POS_INF);
        let over = &d.relationer["overordnetklasse"];
        assert_eq!(uuid_of(&over[0].maal), klasse_uuid("00.01"));
        assert_eq!(uuid_of(&d.relationer["facet"][0].maal), facet[0]);
        assert_eq!(d.tilstande["publiceret"][0].vaerdi, "Publiceret");

        // A gruppe under its hovedgruppe; a hovedgruppe has no parent.
        let g = current(s.as_ref(), klasse_uuid("00.01")).await;
        assert_eq!(
            uuid_of(&g.relationer["overordnetklasse"][0].maal),
            klasse_uuid("00")
        );
        let gs = g.attributter["egenskaber"][0].felter["soegeord"].to_string();
        assert!(gs.contains("Styrelsesvedtægt"), "{gs}");
        let h = current(s.as_ref(), klasse_uuid("00")).await;
        assert!(!h.relationer.contains_key("overordnetklasse"));
        let hb = h.attributter["egenskaber"][0].felter["beskrivelse"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(hb, "Styrelse & ledelse af kommunen.");

        // The udgået emne: valid from OprettetDato until UdgaaetDato.
        let u = current(s.as_ref(), klasse_uuid("00.01.02")).await;
        let v = &u.attributter["egenskaber"][0].virkning;
        assert!(
            format_pg(v.from).starts_with("1995-03-15"),
            "{}",
            format_pg(v.from)
        );
        assert!(
            format_pg(v.to).starts_with("2015-01-01"),
            "{}",
            format_pg(v.to)
        );
        assert_eq!(u.tilstande["publiceret"][0].virkning.to, v.to);

        // A stikord given with a Handlingsfacet keeps only its text.
        let e = current(s.as_ref(), klasse_uuid("27.35.04")).await;
        let es = e.attributter["egenskaber"][0].felter["soegeord"].to_string();
        assert!(
            es.contains("Høreapparat, bevilling") && !es.contains("G01"),
            "{es}"
        );
    });

    // Importing the same file again changes nothing: same objects, no new registreringer.
    let again = cli.ok(&["import", "kle", file]);
    assert_eq!(counts(&again, "klasse"), [0, 0, 9], "{again}");
    assert_eq!(counts(&again, "total"), [0, 0, 11], "{again}");
    rt.block_on(async {
        let s = store(cli).await;
        assert_eq!(all_of(s.as_ref(), "klasse").await.len(), 9);
        let h = s
            .read(
                &[klasse_uuid("00.01.00")],
                RegWindow::Range(NEG_INF, POS_INF),
            )
            .await
            .unwrap();
        assert_eq!(h[0].registreringer.len(), 1);
    });

    // A changed title is an update of the same object.
    let dir = tempfile::tempdir().unwrap();
    let changed = dir.path().join("kle.xml");
    std::fs::write(
        &changed,
        std::fs::read_to_string(&f).unwrap().replace(
            "<EmneTitel>Høreapparater",
            "<EmneTitel>Høreapparater og tinnitus",
        ),
    )
    .unwrap();
    let upd = cli.ok(&["import", "kle", changed.to_str().unwrap()]);
    assert_eq!(counts(&upd, "klasse"), [0, 1, 8], "{upd}");
}

fn broken_kle_scenario(cli: &Cli<'_>) {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("kle.xml");
    std::fs::write(
        &broken,
        std::fs::read_to_string(fixture()).unwrap().replace(
            "<OprettetDato>1990-01-01</OprettetDato>\n        </EmneAdministrativInfo>",
            "<OprettetDato>1990-13-01</OprettetDato>\n        </EmneAdministrativInfo>",
        ),
    )
    .unwrap();
    let err = cli.fails(&["import", "kle", broken.to_str().unwrap()]);
    assert!(err.contains("00.03.00"), "{err}");
    assert!(err.contains("OprettetDato"), "{err}");
    assert!(err.contains("line 47"), "{err}");
    assert!(err.contains("nothing was stored"), "{err}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s = store(cli).await;
        assert!(all_of(s.as_ref(), "klasse").await.is_empty());
        assert!(all_of(s.as_ref(), "facet").await.is_empty());
    });

    // Not a KLE document at all, and a DOCTYPE (no entity is ever expanded).
    let other = dir.path().join("other.xml");
    std::fs::write(&other, "<Emneplan><Hovedgruppe/></Emneplan>").unwrap();
    let err = cli.fails(&["import", "kle", other.to_str().unwrap()]);
    assert!(err.contains("not <KLE-Emneplan>"), "{err}");
    let dtd = dir.path().join("dtd.xml");
    std::fs::write(
        &dtd,
        "<?xml version=\"1.0\"?><!DOCTYPE KLE-Emneplan [<!ENTITY x \"y\">]><KLE-Emneplan/>",
    )
    .unwrap();
    let err = cli.fails(&["import", "kle", dtd.to_str().unwrap()]);
    assert!(err.contains("DOCTYPE"), "{err}");
}

/// A small demo municipality written straight into the store: organisation, enheder, brugere,
/// funktioner, adresser and the fælles KLE/FORM klasser (which the export leaves out).
async fn seed(cli: &Cli<'_>) -> usize {
    let engine = Engine::new(store(cli).await);
    let mut n = 0;
    for o in fki_demo::scaled(3, 6, 25) {
        let spec = spec::class(o.service, o.klasse).unwrap();
        let a = parse_write(spec, &o.body, Mode::Create).unwrap();
        let ctx = Kontekst {
            myndighed: Some("29189846".into()),
            faelles: o.faelles,
            ..Kontekst::system()
        };
        engine
            .write(&ctx, spec, o.uuid, Skriv::Importer(a))
            .await
            .unwrap();
        if o.service == "organisation" {
            n += 1;
        }
    }
    n
}

fn organisation_scenario(a: &Cli<'_>, b: &Cli<'_>) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let seeded = rt.block_on(seed(a));
    let dir = tempfile::tempdir().unwrap();
    let fil_a = dir.path().join("a.jsonl");
    let fil_b = dir.path().join("b.jsonl");
    let out = a.ok(&["export", "organisation", fil_a.to_str().unwrap()]);
    assert!(out.contains(&format!("exported {seeded} objects")), "{out}");

    // --myndighed is required.
    let err = b.fails(&["import", "organisation", fil_a.to_str().unwrap()]);
    assert!(err.contains("--myndighed"), "{err}");
    let out = b.ok(&[
        "import",
        "organisation",
        fil_a.to_str().unwrap(),
        "--myndighed",
        "29189846",
    ]);
    assert_eq!(counts(&out, "total"), [seeded as u64, 0, 0], "{out}");
    b.ok(&["export", "organisation", fil_b.to_str().unwrap()]);
    let (ta, tb) = (
        std::fs::read_to_string(&fil_a).unwrap(),
        std::fs::read_to_string(&fil_b).unwrap(),
    );
    assert_eq!(ta.lines().count(), seeded);
    assert_eq!(ta, tb, "export -> import -> export changed the data");

    // The objects themselves are equal, owner included.
    rt.block_on(async {
        let (sa, sb) = (store(a).await, store(b).await);
        for line in ta.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let u: Uuid = v["uuid"].as_str().unwrap().parse().unwrap();
            let ha = sa.read(&[u], RegWindow::Current).await.unwrap();
            let hb = sb.read(&[u], RegWindow::Current).await.unwrap();
            assert_eq!(ha[0].registreringer[0].data, hb[0].registreringer[0].data);
            assert_eq!(hb[0].objekt.myndighed.as_deref(), Some("29189846"));
            assert_eq!(ha[0].objekt.klasse, hb[0].objekt.klasse);
        }
    });

    // The same file again: nothing changes.
    let again = b.ok(&[
        "import",
        "organisation",
        fil_a.to_str().unwrap(),
        "--myndighed",
        "29189846",
    ]);
    assert_eq!(counts(&again, "total"), [0, 0, seeded as u64], "{again}");

    // One invalid line: nothing of the file is stored, the error names the line and the field.
    let mut lines: Vec<String> = ta.lines().map(str::to_owned).collect();
    let broken_at = lines.len() / 2;
    let mut v: serde_json::Value = serde_json::from_str(&lines[broken_at]).unwrap();
    v["registrering"]["tilstande"] = serde_json::json!({"nonsens": []});
    lines[broken_at] = v.to_string();
    let c = tempfile::tempdir().unwrap();
    let cli_c = Cli {
        data_dir: c.path(),
        database_url: None,
    };
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let err = cli_c.fails(&[
        "import",
        "organisation",
        bad.to_str().unwrap(),
        "--myndighed",
        "29189846",
    ]);
    assert!(err.contains(&format!("line {}", broken_at + 1)), "{err}");
    assert!(err.contains("tilstande.nonsens"), "{err}");
    rt.block_on(async {
        let s = store(&cli_c).await;
        for k in ["organisation", "organisationenhed", "bruger"] {
            assert!(all_of(s.as_ref(), k).await.is_empty(), "{k} stored");
        }
    });
}

#[test]
fn kle_namespace_is_the_v5_of_kle_online() {
    assert_eq!(
        KLE_NS,
        Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://www.kle-online.dk/")
    );
}

#[test]
fn kle_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    kle_scenario(&Cli {
        data_dir: dir.path(),
        database_url: None,
    });
    let dir = tempfile::tempdir().unwrap();
    broken_kle_scenario(&Cli {
        data_dir: dir.path(),
        database_url: None,
    });
}

#[test]
fn organisation_round_trip_on_sqlite() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    organisation_scenario(
        &Cli {
            data_dir: a.path(),
            database_url: None,
        },
        &Cli {
            data_dir: b.path(),
            database_url: None,
        },
    );
}

#[test]
fn import_on_postgres() {
    let Ok(base) = std::env::var("FKI_TEST_POSTGRES_URL") else {
        eprintln!("skipped import_on_postgres: FKI_TEST_POSTGRES_URL is not set");
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fresh = || {
        rt.block_on(fki_store::testing::fresh_postgres(&base))
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let (u1, g1) = fresh();
    kle_scenario(&Cli {
        data_dir: dir.path(),
        database_url: Some(u1),
    });
    let (u2, g2) = fresh();
    broken_kle_scenario(&Cli {
        data_dir: dir.path(),
        database_url: Some(u2),
    });
    let (u3, g3) = fresh();
    let (u4, g4) = fresh();
    organisation_scenario(
        &Cli {
            data_dir: dir.path(),
            database_url: Some(u3),
        },
        &Cli {
            data_dir: dir.path(),
            database_url: Some(u4),
        },
    );
    for g in [g1, g2, g3, g4] {
        rt.block_on(g.cleanup()).unwrap();
    }
}

/// Size of the generated file of [`a_50_mb_import_stays_under_200_mb_rss`].
const BIG: u64 = 50 << 20;

/// A 50 MB import in fixed memory: the binary runs as a child and its peak RSS comes from
/// `wait4`'s rusage of exactly that child. In a debug build this takes minutes, hence ignored;
/// `docs/benchmarks.md` records the figure and the command.
#[test]
#[ignore = "minutes in a debug build; run explicitly (docs/benchmarks.md)"]
#[cfg(unix)]
fn a_50_mb_import_stays_under_200_mb_rss() {
    use std::io::Write;
    use std::os::unix::process::ExitStatusExt;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.jsonl");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    let org = Uuid::new_v5(&Uuid::NAMESPACE_OID, b"fki-import-rss-organisation");
    let mut n = 0u64;
    let mut written = 0u64;
    let filler = "x".repeat(200);
    while written < BIG {
        let u = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("enhed-{n}").as_bytes());
        let parent = if n == 0 {
            org
        } else {
            Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("enhed-{}", n / 10).as_bytes())
        };
        let v = "{\"from\": \"2020-01-01\", \"to\": \"infinity\"}";
        let line = format!(
            "{{\"klasse\":\"organisationenhed\",\"uuid\":\"{u}\",\"registrering\":{{\
             \"attributter\":{{\"organisationenhedegenskaber\":[{{\"brugervendtnoegle\":\"enhed-{n}\",\
             \"enhedsnavn\":\"Enhed {n} {filler}\",\"virkning\":{v}}}]}},\
             \"tilstande\":{{\"organisationenhedgyldighed\":[{{\"gyldighed\":\"Aktiv\",\"virkning\":{v}}}]}},\
             \"relationer\":{{\"overordnet\":[{{\"uuid\":\"{parent}\",\"virkning\":{v}}}],\
             \"tilhoerer\":[{{\"uuid\":\"{org}\",\"virkning\":{v}}}]}}}}}}\n"
        );
        w.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
        n += 1;
    }
    w.flush().unwrap();
    drop(w);
    assert!(std::fs::metadata(&file).unwrap().len() >= BIG);

    // Reaped by the wait4 below, which also reports the child's peak RSS.
    #[allow(clippy::zombie_processes)]
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_fki"))
        .args(["import", "organisation"])
        .arg(&file)
        .args(["--myndighed", "29189846"])
        .env("FKI_DATA_DIR", dir.path().join("data"))
        .env("FKI_LOG", "warn")
        .env_remove("FKI_DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let started = std::time::Instant::now();
    let mut status = 0;
    // SAFETY: plain wait4 on our own child; the struct is fully written by the call.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 failed");
    let status = std::process::ExitStatus::from_raw(status);
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.unwrap(), &mut out).unwrap();
    let peak_mib = usage.ru_maxrss as f64 / 1024.0; // Linux: KiB
    eprintln!(
        "imported {n} objects ({} MiB) in {:.1} s, peak RSS {peak_mib:.1} MiB",
        BIG >> 20,
        started.elapsed().as_secs_f64()
    );
    assert!(status.success(), "import failed: {out}");
    assert_eq!(counts(&out, "organisationenhed"), [n, 0, 0], "{out}");
    assert!(peak_mib > 1.0, "no RSS measured");
    assert!(peak_mib < 200.0, "peak RSS {peak_mib:.1} MiB");
}
