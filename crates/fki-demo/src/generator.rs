//! The generator. A [`Plan`] fixes the shape (how many units on each level, which afdeling each
//! institution belongs to) from the requested sizes; every object is then a pure function of the
//! seed and its index, drawn from its own ChaCha8 stream. That makes the output reproducible and
//! lets the streaming iterator produce object *n* without keeping objects 0..n in memory.

use std::borrow::Cow;
use std::fmt::Write as _;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::data::{self, AFDELINGER, FORVALTNINGER, Kind};
use crate::dato::{Dato, Periode};
use crate::{DEMO_CVR, DemoObjekt, NAMESPACE};

/// The municipality (organisation, CVR, authority, town hall) exists from the 1970 municipal
/// reform.
const KOMMUNE_FRA: Dato = Dato::ymd(1970, 4, 1);
/// The 2007 municipal reform: today's units and the local classification exist from this day.
const STIFTET: Dato = Dato::ymd(2007, 1, 1);
/// The fælleskommunale classifications are valid from this day.
const FAELLES_FRA: Dato = Dato::ymd(2015, 1, 1);
/// All generated history (renames, ended units and engagements) lies before this day.
const GRAENSE: Dato = Dato::ymd(2025, 1, 1);

const KOMMUNENAVN: &str = "Fiktiv Kommune";
const KOMMUNE_BVN: &str = "fiktiv-kommune";
const DOMAENE: &str = "fiktiv-kommune.example";
const MYNDIGHEDSKODE: &str = "0999";

const TAG_ENHED: u64 = 1;
const TAG_BRUGER: u64 = 2;

/// Fan-out caps of the levels below the afdelinger: at most this many children per parent.
fn fanout(niveau: usize) -> usize {
    match niveau {
        3 => 10,
        4 => 20,
        _ => 12,
    }
}

/// The local facets: brugervendtnøgle, beskrivelse, klasser (titles).
const LOKALE_FACETTER: [(&str, &str, &[&str]); 4] = [
    (
        "Enhedstype",
        "Typer af organisationsenheder",
        data::ENHEDSTYPER,
    ),
    (
        "Funktionstype",
        "Organisatoriske funktionstyper",
        data::FUNKTIONSTYPER,
    ),
    (
        "Stillingsbetegnelse",
        "Stillingsbetegnelser for engagementer",
        data::STILLINGSBETEGNELSER,
    ),
    ("Lederniveau", "Lederniveauer", data::LEDERNIVEAUER),
];

/// Append a level of at most `antal` units (fewer when `rest` runs out); returns its size.
fn nyt_niveau(niveau_start: &mut Vec<usize>, rest: &mut usize, antal: usize) -> usize {
    let antal = antal.min(*rest);
    *rest -= antal;
    let start = niveau_start.last().copied().unwrap_or(0);
    niveau_start.push(start + antal);
    antal
}

// ---------------------------------------------------------------------------------------------
// Building write bodies.

/// A write body under construction: one egenskaber group, states, relations (in insertion order).
struct Krop {
    klasse: &'static str,
    egenskaber: Vec<Value>,
    tilstande: Vec<(&'static str, Vec<Value>)>,
    relationer: Vec<(&'static str, Vec<Value>)>,
}

impl Krop {
    fn new(klasse: &'static str) -> Krop {
        Krop {
            klasse,
            egenskaber: Vec::new(),
            tilstande: Vec::new(),
            relationer: Vec::new(),
        }
    }

    fn egenskab(&mut self, felter: Vec<(&str, Value)>, p: Periode) -> &mut Self {
        let mut m = Map::with_capacity(felter.len() + 1);
        for (k, v) in felter {
            m.insert(k.to_string(), v);
        }
        m.insert("virkning".into(), p.virkning());
        self.egenskaber.push(Value::Object(m));
        self
    }

    fn tilstand(&mut self, navn: &'static str, vaerdi: &str, p: Periode) -> &mut Self {
        let entry = objekt([(navn, s(vaerdi)), ("virkning", p.virkning())]);
        match self.tilstande.iter_mut().find(|(n, _)| *n == navn) {
            Some((_, v)) => v.push(entry),
            None => self.tilstande.push((navn, vec![entry])),
        }
        self
    }

    /// `gyldighed` Aktiv over `[fra, til)`, then Inaktiv from `til` on.
    fn gyldighed(&mut self, fra: Dato, til: Option<Dato>) -> &mut Self {
        self.tilstand("gyldighed", "Aktiv", Periode::mellem(fra, til));
        if let Some(til) = til {
            self.tilstand("gyldighed", "Inaktiv", Periode::fra(til));
        }
        self
    }

    /// `publiceret` Publiceret over `[fra, til)`, then IkkePubliceret from `til` on.
    fn publiceret(&mut self, fra: Dato, til: Option<Dato>) -> &mut Self {
        self.tilstand("publiceret", "Publiceret", Periode::mellem(fra, til));
        if let Some(til) = til {
            self.tilstand("publiceret", "IkkePubliceret", Periode::fra(til));
        }
        self
    }

    fn push_rel(&mut self, navn: &'static str, entry: Value) {
        match self.relationer.iter_mut().find(|(n, _)| *n == navn) {
            Some((_, v)) => v.push(entry),
            None => self.relationer.push((navn, vec![entry])),
        }
    }

    fn rel(&mut self, navn: &'static str, uuid: Uuid, objekttype: &str, p: Periode) -> &mut Self {
        let entry = objekt([
            ("uuid", uuid_tekst(uuid)),
            ("objekttype", s(objekttype)),
            ("virkning", p.virkning()),
        ]);
        self.push_rel(navn, entry);
        self
    }

    fn rel_urn(
        &mut self,
        navn: &'static str,
        urn: String,
        objekttype: &str,
        p: Periode,
    ) -> &mut Self {
        let entry = objekt([
            ("urn", Value::String(urn)),
            ("objekttype", s(objekttype)),
            ("virkning", p.virkning()),
        ]);
        self.push_rel(navn, entry);
        self
    }

    fn body(&mut self) -> Value {
        let mut attributter = Map::new();
        attributter.insert(
            format!("{}egenskaber", self.klasse),
            Value::Array(std::mem::take(&mut self.egenskaber)),
        );
        let mut tilstande = Map::new();
        for (navn, v) in std::mem::take(&mut self.tilstande) {
            tilstande.insert(format!("{}{}", self.klasse, navn), Value::Array(v));
        }
        let mut body = Map::new();
        body.insert("attributter".into(), Value::Object(attributter));
        body.insert("tilstande".into(), Value::Object(tilstande));
        if !self.relationer.is_empty() {
            let mut relationer = Map::new();
            for (navn, v) in std::mem::take(&mut self.relationer) {
                relationer.insert(navn.to_string(), Value::Array(v));
            }
            body.insert("relationer".into(), Value::Object(relationer));
        }
        Value::Object(body)
    }

    fn objekt(&mut self, service: &'static str, uuid: Uuid, faelles: bool) -> DemoObjekt {
        DemoObjekt {
            service,
            klasse: self.klasse,
            uuid,
            faelles,
            body: self.body(),
        }
    }
}

/// The hyphenated lower-case form of a UUID, without going through `fmt`.
fn uuid_tekst(uuid: Uuid) -> Value {
    let mut buf = Uuid::encode_buffer();
    Value::String(String::from(&*uuid.hyphenated().encode_lower(&mut buf)))
}

/// A JSON object from key–value pairs, in order (`json!` would serialise each value again).
fn objekt<const N: usize>(felter: [(&str, Value); N]) -> Value {
    let mut m = Map::with_capacity(N);
    for (k, v) in felter {
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn pick<T: Copy>(rng: &mut impl Rng, xs: &[T]) -> T {
    xs[rng.random_range(0..xs.len())]
}

/// ASCII form of a Danish text for keys and user names: lower case, æ/ø/å spelt out, spaces to `-`.
pub(crate) fn ascii(tekst: &str) -> String {
    let mut out = String::with_capacity(tekst.len());
    for c in tekst.chars().flat_map(char::to_lowercase) {
        match c {
            'æ' => out.push_str("ae"),
            'ø' => out.push_str("oe"),
            'å' => out.push_str("aa"),
            'é' => out.push('e'),
            ' ' | '-' if !out.ends_with('-') => out.push('-'),
            c if c.is_ascii_alphanumeric() => out.push(c),
            _ => {}
        }
    }
    out
}

/// `xs[ord]`, numbered ("Team Jobparate 2") once the list has been used up.
fn nummereret(xs: &[&str], ord: usize) -> String {
    let navn = xs[ord % xs.len()];
    if ord < xs.len() {
        navn.to_string()
    } else {
        format!("{navn} {}", ord / xs.len() + 1)
    }
}

fn stednavn(rng: &mut impl Rng) -> String {
    format!(
        "{}{}",
        pick(rng, data::STED_FORLED),
        pick(rng, data::STED_EFTERLED)
    )
}

fn institutionsnavn(kind: Kind, rng: &mut impl Rng, ord: usize) -> String {
    match kind {
        Kind::Teams(navne) => nummereret(navne, ord),
        _ => pick(rng, kind.navne()).replace("{}", &stednavn(rng)),
    }
}

/// A fælleskommunal UUID: the same in every municipality and for every seed.
fn faelles_uuid(navn: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("faelles/{navn}").as_bytes())
}

// ---------------------------------------------------------------------------------------------
// The plan.

/// One organisationenhed, as derived from the plan, the seed and its index.
#[derive(Clone)]
pub(crate) struct Enhed {
    pub niveau: usize,
    pub foraelder: Option<usize>,
    /// The afdeling template this unit is or lies below (levels ≥ 2).
    pub afd: Option<usize>,
    pub navn: String,
    pub bvn: String,
    pub enhedstype: &'static str,
    pub start: Dato,
    /// Renamed on this day; the name before.
    pub omdoebt: Option<(Dato, String)>,
    /// Closed on this day.
    pub slut: Option<Dato>,
}

impl Enhed {
    fn kind(&self) -> Option<Kind> {
        if self.niveau >= 3 {
            self.afd.map(|a| AFDELINGER[a].kind)
        } else {
            None
        }
    }
}

/// The shape of the municipality and the UUIDs shared by many objects.
pub(crate) struct Plan {
    seed: u64,
    pub n_enheder: usize,
    pub n_brugere: usize,
    /// Level `k` holds the unit indices `niveau_start[k]..niveau_start[k + 1]`.
    niveau_start: Vec<usize>,
    /// The afdeling template of each level-2 unit.
    afdelinger: Vec<usize>,
    /// Level-3 offsets: the children of the `q`-th afdeling are `l3[q]..l3[q + 1]` within level 3.
    l3: Vec<usize>,
    /// `lokal/{seed}/`: the prefix of every local UUID name.
    prefiks: String,
    org: Uuid,
    /// The local klasser by (facet, titel), and the IT systems by brugervendtnøgle.
    klasser: Vec<(&'static str, &'static str, Uuid)>,
    itsystemer: Vec<(&'static str, Uuid)>,
    /// Units on levels 0..=3 (a few hundred), kept because every deeper unit and every
    /// engagement looks at them.
    oeverste: Vec<Enhed>,
}

impl Plan {
    pub fn new(seed: u64, enheder: usize, brugere: usize) -> Plan {
        let mut niveau_start = vec![0];
        let mut rest = enheder;
        let mut afdelinger = Vec::new();
        let mut l3 = vec![0];
        if nyt_niveau(&mut niveau_start, &mut rest, 1) == 1 {
            let l1 = nyt_niveau(&mut niveau_start, &mut rest, FORVALTNINGER.len());
            afdelinger = (0..AFDELINGER.len())
                .filter(|&t| AFDELINGER[t].forv < l1)
                .take(rest)
                .collect();
            let mut forrige = nyt_niveau(&mut niveau_start, &mut rest, afdelinger.len());
            let mut niveau = 3;
            while rest > 0 && forrige > 0 {
                forrige = nyt_niveau(&mut niveau_start, &mut rest, forrige * fanout(niveau));
                niveau += 1;
            }
            // Institutions and teams are shared out over the afdelinger by weight.
            let c3 = niveau_start.get(4).map_or(0, |e| e - niveau_start[3]);
            let vaegt: usize = afdelinger.iter().map(|&t| AFDELINGER[t].vaegt).sum();
            let mut kum = 0;
            for &t in &afdelinger {
                kum += AFDELINGER[t].vaegt;
                l3.push(kum * c3 / vaegt.max(1));
            }
        }
        let n_enheder = niveau_start.last().copied().unwrap_or(0);
        let mut plan = Plan {
            seed,
            n_enheder,
            n_brugere: brugere,
            niveau_start,
            afdelinger,
            l3,
            prefiks: format!("lokal/{seed}/"),
            org: Uuid::nil(),
            klasser: Vec::new(),
            itsystemer: Vec::new(),
            oeverste: Vec::new(),
        };
        plan.org = plan.lokal("organisation");
        for (facet, _, titler) in LOKALE_FACETTER {
            for &titel in titler {
                let uuid = plan.lokal(&format!("klasse/{facet}/{titel}"));
                plan.klasser.push((facet, titel, uuid));
            }
        }
        for it in data::ITSYSTEMER {
            plan.itsystemer
                .push((it.bvn, plan.lokal(&format!("itsystem/{}", it.bvn))));
        }
        let oeverste = plan.niveau_start.get(4).copied().unwrap_or(n_enheder);
        for i in 0..oeverste {
            let e = plan.beregn_enhed(i);
            plan.oeverste.push(e);
        }
        plan
    }

    fn rng(&self, tag: u64, i: usize) -> ChaCha8Rng {
        let mut frø = [0u8; 32];
        frø[..8].copy_from_slice(&self.seed.to_le_bytes());
        frø[8..16].copy_from_slice(&tag.to_le_bytes());
        frø[16..24].copy_from_slice(&(i as u64).to_le_bytes());
        ChaCha8Rng::from_seed(frø)
    }

    /// A municipality-local UUID: depends on the seed and a stable name.
    fn lokal(&self, navn: &str) -> Uuid {
        self.lokal_fmt(format_args!("{navn}"))
    }

    fn lokal_fmt(&self, navn: std::fmt::Arguments<'_>) -> Uuid {
        let mut fuldt = String::with_capacity(self.prefiks.len() + 24);
        fuldt.push_str(&self.prefiks);
        let _ = fuldt.write_fmt(navn);
        Uuid::new_v5(&NAMESPACE, fuldt.as_bytes())
    }

    fn lokal_klasse(&self, facet: &str, titel: &str) -> Uuid {
        self.klasser
            .iter()
            .find(|(f, t, _)| *f == facet && *t == titel)
            .map(|k| k.2)
            .expect("a klasse of a local facet")
    }

    fn enhed_uuid(&self, i: usize) -> Uuid {
        self.lokal_fmt(format_args!("enhed/{i}"))
    }

    fn bruger_uuid(&self, i: usize) -> Uuid {
        self.lokal_fmt(format_args!("bruger/{i}"))
    }

    fn itsystem_uuid(&self, bvn: &str) -> Uuid {
        self.itsystemer
            .iter()
            .find(|it| it.0 == bvn)
            .map(|it| it.1)
            .expect("an IT system")
    }

    fn niveauer(&self) -> usize {
        self.niveau_start.len() - 1
    }

    fn antal(&self, niveau: usize) -> usize {
        self.niveau_start[niveau + 1] - self.niveau_start[niveau]
    }

    fn niveau(&self, i: usize) -> usize {
        self.niveau_start.partition_point(|&s| s <= i) - 1
    }

    /// Units on levels 0..=2 (kommune, forvaltninger, afdelinger): those that get a manager.
    fn ledede(&self) -> usize {
        self.niveau_start.get(3).copied().unwrap_or(self.n_enheder)
    }

    /// Parent and ordinal among its siblings of a unit on level ≥ 3.
    fn foraelder_og_nummer(&self, i: usize, niveau: usize) -> (usize, usize) {
        let j = i - self.niveau_start[niveau];
        if niveau == 3 {
            let q = self.l3.partition_point(|&b| b <= j) - 1;
            (self.niveau_start[2] + q, j - self.l3[q])
        } else {
            let (c1, c2) = (self.antal(niveau - 1), self.antal(niveau));
            let q = j * c1 / c2;
            let foerste = (q * c2).div_ceil(c1);
            (self.niveau_start[niveau - 1] + q, j - foerste)
        }
    }

    pub fn enhed(&self, i: usize) -> Cow<'_, Enhed> {
        match self.oeverste.get(i) {
            Some(e) => Cow::Borrowed(e),
            None => Cow::Owned(self.beregn_enhed(i)),
        }
    }

    fn beregn_enhed(&self, i: usize) -> Enhed {
        let niveau = self.niveau(i);
        let basis = |navn: &str, bvn: String, foraelder, afd, enhedstype| Enhed {
            niveau,
            foraelder,
            afd,
            navn: navn.to_string(),
            bvn,
            enhedstype,
            start: STIFTET,
            omdoebt: None,
            slut: None,
        };
        match niveau {
            0 => basis(
                KOMMUNENAVN,
                "FK".into(),
                None,
                None,
                data::ENHEDSTYPE_KOMMUNE,
            ),
            1 => {
                let f = &FORVALTNINGER[i - self.niveau_start[1]];
                basis(
                    f.navn,
                    f.kode.into(),
                    Some(0),
                    None,
                    data::ENHEDSTYPE_FORVALTNING,
                )
            }
            2 => {
                let t = self.afdelinger[i - self.niveau_start[2]];
                let a = &AFDELINGER[t];
                let bvn = format!("{}-{}", FORVALTNINGER[a.forv].kode, a.kode);
                let foraelder = Some(self.niveau_start[1] + a.forv);
                basis(a.navn, bvn, foraelder, Some(t), data::ENHEDSTYPE_AFDELING)
            }
            _ => self.institution(i, niveau),
        }
    }

    /// A unit on level ≥ 3: an institution or team, or a sub-unit of one.
    fn institution(&self, i: usize, niveau: usize) -> Enhed {
        let mut rng = self.rng(TAG_ENHED, i);
        let (p, ord) = self.foraelder_og_nummer(i, niveau);
        let far = self.enhed(p);
        let afd = far.afd.expect("units below level 2 lie below an afdeling");
        let kind = AFDELINGER[afd].kind;
        let egen_start = if rng.random_bool(0.2) {
            Dato::maanedsstart_mellem(&mut rng, Dato::ymd(2008, 1, 1), Dato::ymd(2023, 1, 1))
        } else {
            STIFTET
        };
        let start = egen_start.max(far.start);
        let (navn, enhedstype) = match niveau {
            3 => (institutionsnavn(kind, &mut rng, ord), kind.enhedstype()),
            4 => (
                format!("{}, {}", far.navn, nummereret(kind.underenheder(), ord)),
                data::ENHEDSTYPE_TEAM,
            ),
            _ => (
                format!("{}, hold {}", far.navn, ord + 1),
                data::ENHEDSTYPE_TEAM,
            ),
        };
        let a = &AFDELINGER[afd];
        let bvn = format!("{}-{}-{:04}", FORVALTNINGER[a.forv].kode, a.kode, i);
        let tidligst = start.plus_dage(365);
        let mut slut = None;
        if niveau + 1 == self.niveauer() && rng.random_bool(0.03) && tidligst < GRAENSE {
            slut = Some(Dato::maanedsstart_mellem(&mut rng, tidligst, GRAENSE));
        }
        let mut omdoebt = None;
        let navngivet = !matches!(kind, Kind::Teams(_));
        if niveau == 3 && navngivet && slut.is_none() && rng.random_bool(0.06) && tidligst < GRAENSE
        {
            let dag = Dato::maanedsstart_mellem(&mut rng, tidligst, GRAENSE);
            let gammelt = institutionsnavn(kind, &mut rng, ord);
            if gammelt != navn {
                omdoebt = Some((dag, gammelt));
            }
        }
        Enhed {
            niveau,
            foraelder: Some(p),
            afd: Some(afd),
            navn,
            bvn,
            enhedstype,
            start,
            omdoebt,
            slut,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Objects.

    /// The fælleskommunale klassifikationer, the organisation and the local facets: everything
    /// before the units. A few hundred objects.
    pub fn faste_objekter(&self) -> Vec<DemoObjekt> {
        let mut ud = Vec::new();
        self.faelles(&mut ud);
        self.organisation(&mut ud);
        self.lokale_klasser(&mut ud);
        ud
    }

    fn faelles(&self, ud: &mut Vec<DemoObjekt>) {
        let kle = faelles_uuid("klassifikation/KLE-Emneplan");
        let mut k = Krop::new("klassifikation");
        k.egenskab(
            vec![
                ("brugervendtnoegle", s("KLE-Emneplan")),
                (
                    "beskrivelse",
                    s("Kommunernes emnesystematik til journalisering (fiktiv demoudgave)"),
                ),
                ("kaldenavn", s("KLE")),
                ("ophavsret", s("Fiktive demodata")),
            ],
            Periode::fra(FAELLES_FRA),
        )
        .publiceret(FAELLES_FRA, None);
        ud.push(k.objekt("klassifikation", kle, true));

        self.faelles_facet(
            ud,
            kle,
            "Emne",
            "KLE emneplan: hovedgrupper, grupper og emner",
            data::KLE_EMNER,
            true,
        );
        self.faelles_facet(
            ud,
            kle,
            "Handling",
            "KLE handlingsfacetter",
            data::KLE_HANDLINGER,
            false,
        );

        let form = faelles_uuid("klassifikation/FORM");
        let mut k = Krop::new("klassifikation");
        k.egenskab(
            vec![
                ("brugervendtnoegle", s("FORM")),
                (
                    "beskrivelse",
                    s("Fællesoffentlig referencemodel for opgaver (fiktiv demoudgave)"),
                ),
                ("kaldenavn", s("FORM")),
                ("ophavsret", s("Fiktive demodata")),
            ],
            Periode::fra(FAELLES_FRA),
        )
        .publiceret(FAELLES_FRA, None);
        ud.push(k.objekt("klassifikation", form, true));
        self.faelles_facet(
            ud,
            form,
            "FORM",
            "FORM opgavenøgler",
            data::FORM_OPGAVER,
            false,
        );
    }

    /// A fælles facet and its klasser from a `nøgle|titel[|udgået]` table; `almindelighed` adds
    /// the `dd.dd.00 … i almindelighed` emne below every gruppe.
    fn faelles_facet(
        &self,
        ud: &mut Vec<DemoObjekt>,
        klassifikation: Uuid,
        bvn: &str,
        beskrivelse: &str,
        tabel: &str,
        almindelighed: bool,
    ) {
        let facet = faelles_uuid(&format!("facet/{bvn}"));
        let mut k = Krop::new("facet");
        k.egenskab(
            vec![
                ("brugervendtnoegle", s(bvn)),
                ("beskrivelse", s(beskrivelse)),
                ("opbygning", s("Hierarkisk")),
            ],
            Periode::fra(FAELLES_FRA),
        )
        .publiceret(FAELLES_FRA, None)
        .rel(
            "facettilhoerer",
            klassifikation,
            "klassifikation",
            Periode::fra(FAELLES_FRA),
        );
        ud.push(k.objekt("klassifikation", facet, true));

        let mut klasse = |noegle: &str, titel: &str, til: Option<Dato>| {
            let uuid = faelles_uuid(&format!("klasse/{bvn}/{noegle}"));
            let p = Periode::mellem(FAELLES_FRA, til);
            let mut k = Krop::new("klasse");
            k.egenskab(
                vec![("brugervendtnoegle", s(noegle)), ("titel", s(titel))],
                p,
            )
            .publiceret(FAELLES_FRA, til)
            .rel("facet", facet, "facet", p);
            if let Some((forael, _)) = noegle.rsplit_once('.') {
                let over = faelles_uuid(&format!("klasse/{bvn}/{forael}"));
                k.rel("overordnetklasse", over, "klasse", p);
            }
            ud.push(k.objekt("klassifikation", uuid, true));
        };
        for linje in tabel.lines().filter(|l| !l.trim().is_empty()) {
            let mut felter = linje.split('|');
            let noegle = felter.next().unwrap_or_default();
            let titel = felter.next().unwrap_or_default();
            let til = felter.next().map(parse_dato);
            klasse(noegle, titel, til);
            if almindelighed && noegle.matches('.').count() == 1 {
                klasse(
                    &format!("{noegle}.00"),
                    &format!("{titel} i almindelighed"),
                    None,
                );
            }
        }
    }

    fn organisation(&self, ud: &mut Vec<DemoObjekt>) {
        let altid = Periode::fra(KOMMUNE_FRA);
        let adresse = self.lokal("adresse/raadhus");
        let mut k = Krop::new("adresse");
        k.egenskab(
            vec![
                ("brugervendtnoegle", s("raadhus")),
                ("adresse", s("Rådhustorvet 1, 9999 Fiktivby")),
            ],
            altid,
        );
        ud.push(k.objekt("organisation", adresse, false));

        let virksomhed = self.lokal("virksomhed");
        let mut k = Krop::new("virksomhed");
        k.egenskab(
            vec![
                ("brugervendtnoegle", s(DEMO_CVR)),
                ("cvr-nummer", s(DEMO_CVR)),
                ("navn", s(KOMMUNENAVN)),
            ],
            altid,
        );
        ud.push(k.objekt("organisation", virksomhed, false));

        let myndighed = self.lokal("myndighed");
        let mut k = Krop::new("myndighed");
        k.egenskab(
            vec![
                ("brugervendtnoegle", s(MYNDIGHEDSKODE)),
                ("cvrnr", s(DEMO_CVR)),
                ("navn", s(KOMMUNENAVN)),
                ("myndighedskode", s(MYNDIGHEDSKODE)),
            ],
            altid,
        );
        ud.push(k.objekt("organisation", myndighed, false));

        let mut k = Krop::new("organisation");
        k.egenskab(
            vec![
                ("brugervendtnoegle", s(KOMMUNE_BVN)),
                ("organisationsnavn", s(KOMMUNENAVN)),
            ],
            altid,
        )
        .gyldighed(KOMMUNE_FRA, None)
        .rel("virksomhed", virksomhed, "virksomhed", altid)
        .rel("myndighed", myndighed, "myndighed", altid)
        .rel("adresser", adresse, "adresse", altid)
        .rel_urn(
            "adresser",
            format!("urn:mailto:post@{DOMAENE}"),
            "email",
            altid,
        );
        ud.push(k.objekt("organisation", self.org, false));
    }

    fn lokale_klasser(&self, ud: &mut Vec<DemoObjekt>) {
        let altid = Periode::fra(STIFTET);
        let klassifikation = self.lokal("klassifikation");
        let mut k = Krop::new("klassifikation");
        k.egenskab(
            vec![
                ("brugervendtnoegle", s(KOMMUNE_BVN)),
                (
                    "beskrivelse",
                    s("Lokale klassifikationer for Fiktiv Kommune"),
                ),
                ("kaldenavn", s("Lokale klasser")),
            ],
            altid,
        )
        .publiceret(STIFTET, None)
        .rel("ejer", self.org, "organisation", altid);
        ud.push(k.objekt("klassifikation", klassifikation, false));

        for (bvn, beskrivelse, klasser) in LOKALE_FACETTER {
            let facet = self.lokal(&format!("facet/{bvn}"));
            let mut k = Krop::new("facet");
            k.egenskab(
                vec![
                    ("brugervendtnoegle", s(bvn)),
                    ("beskrivelse", s(beskrivelse)),
                ],
                altid,
            )
            .publiceret(STIFTET, None)
            .rel("ejer", self.org, "organisation", altid)
            .rel("facettilhoerer", klassifikation, "klassifikation", altid);
            ud.push(k.objekt("klassifikation", facet, false));
            for titel in klasser {
                let mut k = Krop::new("klasse");
                k.egenskab(
                    vec![("brugervendtnoegle", s(&ascii(titel))), ("titel", s(titel))],
                    altid,
                )
                .publiceret(STIFTET, None)
                .rel("ejer", self.org, "organisation", altid)
                .rel("facet", facet, "facet", altid);
                ud.push(k.objekt("klassifikation", self.lokal_klasse(bvn, titel), false));
            }
        }
    }

    pub fn enhed_objekt(&self, i: usize) -> DemoObjekt {
        let e = self.enhed(i);
        let aktiv = Periode::mellem(e.start, e.slut);
        let mut k = Krop::new("organisationenhed");
        let bvn = s(&e.bvn);
        match &e.omdoebt {
            Some((dag, gammelt)) => {
                k.egenskab(
                    vec![
                        ("brugervendtnoegle", bvn.clone()),
                        ("enhedsnavn", s(gammelt)),
                    ],
                    Periode::mellem(e.start, Some(*dag)),
                )
                .egenskab(
                    vec![("brugervendtnoegle", bvn), ("enhedsnavn", s(&e.navn))],
                    Periode::mellem(*dag, e.slut),
                );
            }
            None => {
                k.egenskab(
                    vec![("brugervendtnoegle", bvn), ("enhedsnavn", s(&e.navn))],
                    aktiv,
                );
            }
        }
        k.gyldighed(e.start, e.slut)
            .rel("tilhoerer", self.org, "organisation", aktiv);
        match e.foraelder {
            Some(p) => k.rel("overordnet", self.enhed_uuid(p), "organisationenhed", aktiv),
            None => k.rel("overordnet", self.org, "organisation", aktiv),
        };
        k.rel(
            "enhedstype",
            self.lokal_klasse("Enhedstype", e.enhedstype),
            "klasse",
            aktiv,
        );
        k.objekt("organisation", self.enhed_uuid(i), false)
    }

    pub fn itsystemer(&self) -> Vec<DemoObjekt> {
        data::ITSYSTEMER
            .iter()
            .map(|it| {
                let p = Periode::mellem(it.fra, it.til);
                let mut felter = vec![
                    ("brugervendtnoegle", s(it.bvn)),
                    ("itsystemnavn", s(it.navn)),
                    ("itsystemtype", s(it.typ)),
                ];
                if !it.konfiguration.is_empty() {
                    felter.push(("konfigurationreference", json!(it.konfiguration)));
                }
                let mut k = Krop::new("itsystem");
                k.egenskab(felter, p)
                    .gyldighed(it.fra, it.til)
                    .rel("tilhoerer", self.org, "organisation", p)
                    .rel("tilknyttedeorganisationer", self.org, "organisation", p);
                k.objekt("organisation", self.itsystem_uuid(it.bvn), false)
            })
            .collect()
    }

    /// Draw a unit for an employee: mostly institutions and teams; a closed unit's staff are
    /// counted in its parent.
    fn tilfaeldig_enhed(&self, rng: &mut impl Rng) -> (usize, Cow<'_, Enhed>) {
        let ledede = self.ledede();
        let u = if self.n_enheder > ledede && rng.random_bool(0.85) {
            rng.random_range(ledede..self.n_enheder)
        } else {
            rng.random_range(0..ledede)
        };
        let e = self.enhed(u);
        match (e.slut, e.foraelder) {
            (Some(_), Some(p)) => (p, self.enhed(p)),
            _ => (u, e),
        }
    }

    /// User `i` with its engagement, and for a manager its leder function.
    pub fn bruger_objekter(&self, i: usize) -> Vec<DemoObjekt> {
        let mut rng = self.rng(TAG_BRUGER, i);
        let er_leder = i < self.ledede();
        // Most municipal staff are women.
        let kvinde = rng.random_bool(0.7);
        let (fornavne, mellemnavne) = if kvinde {
            (data::FORNAVNE_KVINDER, data::MELLEMNAVNE_KVINDER)
        } else {
            (data::FORNAVNE_MAEND, data::MELLEMNAVNE_MAEND)
        };
        let fornavn = pick(&mut rng, fornavne);
        let mellemnavn = match rng.random_range(0..10) {
            0..2 => Some(pick(&mut rng, mellemnavne)),
            2..4 => Some(pick(&mut rng, data::MELLEMNAVNE)),
            _ => None,
        };
        let efternavn = pick(&mut rng, data::EFTERNAVNE);
        let fuldt = |efternavn: &str| match mellemnavn {
            Some(m) => format!("{fornavn} {m} {efternavn}"),
            None => format!("{fornavn} {efternavn}"),
        };
        let (fa, ea) = (ascii(fornavn), ascii(efternavn));
        let bvn = format!("{}{}{i:04}", &fa[..2.min(fa.len())], &ea[..2.min(ea.len())]);
        let ansat = if er_leder {
            Dato::maanedsstart_mellem(&mut rng, Dato::ymd(1995, 1, 1), Dato::ymd(2021, 1, 1))
        } else {
            Dato::maanedsstart_mellem(&mut rng, Dato::ymd(1988, 1, 1), Dato::ymd(2024, 12, 1))
        };

        let (enhed, e) = match self.n_enheder {
            0 => (None, None),
            _ if er_leder => (Some(i), Some(self.enhed(i))),
            _ => {
                let (u, e) = self.tilfaeldig_enhed(&mut rng);
                (Some(u), Some(e))
            }
        };
        let fra = e.as_ref().map_or(ansat, |e| ansat.max(e.start));

        // History: a few left, some moved to another unit, some changed their surname.
        let r: f64 = rng.random();
        let mut fratraadt = None;
        let mut flyttet = None;
        if !er_leder && r < 0.04 && fra.plus_dage(180) < GRAENSE {
            fratraadt = Some(Dato::maanedsstart_mellem(
                &mut rng,
                fra.plus_dage(180),
                GRAENSE,
            ));
        } else if !er_leder && r < 0.12 && enhed.is_some() {
            let (b, be) = self.tilfaeldig_enhed(&mut rng);
            let tidligst = fra.max(be.start).plus_dage(90);
            if Some(b) != enhed && tidligst < GRAENSE {
                flyttet = Some((Dato::maanedsstart_mellem(&mut rng, tidligst, GRAENSE), b));
            }
        }
        let navneskift = (rng.random_bool(0.06) && ansat.plus_dage(365) < GRAENSE).then(|| {
            let nyt = pick(&mut rng, data::EFTERNAVNE);
            (
                Dato::maanedsstart_mellem(&mut rng, ansat.plus_dage(365), GRAENSE),
                nyt,
            )
        });

        let stilling = match &e {
            _ if er_leder => data::LEDERNIVEAUER[e.as_ref().map_or(0, |e| e.niveau)],
            Some(e) => pick(
                &mut rng,
                e.kind()
                    .map_or(data::ADMINISTRATIVE_STILLINGER, Kind::stillinger),
            ),
            None => pick(&mut rng, data::ADMINISTRATIVE_STILLINGER),
        };

        // The user.
        let bruger = self.bruger_uuid(i);
        let altid = Periode::fra(ansat);
        let mut k = Krop::new("bruger");
        match navneskift {
            Some((dag, nyt)) if nyt != efternavn => {
                k.egenskab(
                    vec![
                        ("brugervendtnoegle", s(&bvn)),
                        ("brugernavn", s(&fuldt(efternavn))),
                    ],
                    Periode::mellem(ansat, Some(dag)),
                )
                .egenskab(
                    vec![
                        ("brugervendtnoegle", s(&bvn)),
                        ("brugernavn", s(&fuldt(nyt))),
                    ],
                    Periode::fra(dag),
                );
            }
            _ => {
                k.egenskab(
                    vec![
                        ("brugervendtnoegle", s(&bvn)),
                        ("brugernavn", s(&fuldt(efternavn))),
                    ],
                    altid,
                );
            }
        }
        k.gyldighed(ansat, fratraadt)
            .rel("tilhoerer", self.org, "organisation", altid)
            .rel_urn(
                "adresser",
                format!("urn:mailto:{bvn}@{DOMAENE}"),
                "email",
                altid,
            );
        let mut systemer = vec!["AD"];
        match e.as_deref().and_then(Enhed::kind) {
            Some(Kind::Plejecenter | Kind::Hjemmepleje | Kind::Bosted) => systemer.push("OMSORG"),
            Some(Kind::Skole) => systemer.push("SKOLE"),
            Some(Kind::Teams(_)) | None => systemer.push("ESDH"),
            Some(_) => {}
        }
        // An account exists from hiring or from when the system was taken into use.
        for it in data::ITSYSTEMER
            .iter()
            .filter(|it| systemer.contains(&it.bvn))
        {
            let fra = ansat.max(it.fra);
            if fratraadt.is_none_or(|til| fra < til) {
                let konto = Periode::mellem(fra, fratraadt);
                k.rel(
                    "tilknyttedeitsystemer",
                    self.itsystem_uuid(it.bvn),
                    "itsystem",
                    konto,
                );
            }
        }
        let mut ud = vec![k.objekt("organisation", bruger, false)];

        // The engagement.
        let aktiv = Periode::mellem(fra, fratraadt);
        let mut k = Krop::new("organisationfunktion");
        k.egenskab(
            vec![
                ("brugervendtnoegle", s(&format!("{bvn}-engagement"))),
                ("funktionsnavn", s("Engagement")),
            ],
            aktiv,
        )
        .gyldighed(fra, fratraadt)
        .rel(
            "organisatoriskfunktionstype",
            self.lokal_klasse("Funktionstype", data::FUNKTION_ENGAGEMENT),
            "klasse",
            aktiv,
        )
        .rel("tilknyttedebrugere", bruger, "bruger", aktiv);
        if let Some(u) = enhed {
            match flyttet {
                Some((dag, b)) => {
                    k.rel(
                        "tilknyttedeenheder",
                        self.enhed_uuid(u),
                        "organisationenhed",
                        Periode::mellem(fra, Some(dag)),
                    )
                    .rel(
                        "tilknyttedeenheder",
                        self.enhed_uuid(b),
                        "organisationenhed",
                        Periode::fra(dag),
                    );
                }
                None => {
                    k.rel(
                        "tilknyttedeenheder",
                        self.enhed_uuid(u),
                        "organisationenhed",
                        aktiv,
                    );
                }
            }
        }
        k.rel("tilknyttedeorganisationer", self.org, "organisation", aktiv)
            .rel(
                "opgaver",
                self.lokal_klasse("Stillingsbetegnelse", stilling),
                "stillingsbetegnelse",
                aktiv,
            );
        ud.push(k.objekt(
            "organisation",
            self.lokal_fmt(format_args!("engagement/{i}")),
            false,
        ));

        // The manager function of units on levels 0..=2.
        if let (true, Some(u), Some(e)) = (er_leder, enhed, &e) {
            let p = Periode::fra(fra);
            let mut k = Krop::new("organisationfunktion");
            k.egenskab(
                vec![
                    ("brugervendtnoegle", s(&format!("{}-leder", e.bvn))),
                    ("funktionsnavn", s("Leder")),
                ],
                p,
            )
            .gyldighed(fra, None)
            .rel(
                "organisatoriskfunktionstype",
                self.lokal_klasse("Funktionstype", data::FUNKTION_LEDER),
                "klasse",
                p,
            )
            .rel("tilknyttedebrugere", bruger, "bruger", p)
            .rel(
                "tilknyttedeenheder",
                self.enhed_uuid(u),
                "organisationenhed",
                p,
            )
            .rel("tilknyttedeorganisationer", self.org, "organisation", p)
            .rel(
                "opgaver",
                self.lokal_klasse("Lederniveau", data::LEDERNIVEAUER[e.niveau]),
                "lederniveau",
                p,
            );
            ud.push(k.objekt(
                "organisation",
                self.lokal_fmt(format_args!("leder/{u}")),
                false,
            ));
        }
        ud
    }
}

fn parse_dato(tekst: &str) -> Dato {
    let mut dele = tekst.split('-').map(|d| d.parse::<u32>().unwrap_or(1));
    let y = dele.next().unwrap_or(1970) as i32;
    Dato::ymd(y, dele.next().unwrap_or(1), dele.next().unwrap_or(1))
}
