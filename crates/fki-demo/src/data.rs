//! The static tables the generator draws from: the organisation template, name parts and the
//! fælleskommunale classification texts. Everything here is fictitious demo content; the KLE
//! hovedgruppe titles follow the public KLE emneplan, the grupper and emner below them are written
//! for this demo (KLE-shaped, not an authoritative copy of KLE).

use crate::dato::Dato;

/// The kind of units an afdeling holds below itself; decides names, enhedstype and job titles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Skole,
    Dagtilbud,
    Plejecenter,
    Hjemmepleje,
    Bosted,
    Bibliotek,
    Hal,
    Klub,
    Tandklinik,
    Genbrugsplads,
    /// Named teams, taken in order (then numbered when the list runs out).
    Teams(&'static [&'static str]),
}

impl Kind {
    /// The enhedstype title of a unit of this kind at the institution level.
    pub fn enhedstype(self) -> &'static str {
        match self {
            Kind::Teams(_) | Kind::Hjemmepleje => ENHEDSTYPE_TEAM,
            _ => ENHEDSTYPE_INSTITUTION,
        }
    }

    /// Name templates for place-named institutions (`{}` is the place name).
    pub fn navne(self) -> &'static [&'static str] {
        match self {
            Kind::Skole => &["{}skolen"],
            Kind::Dagtilbud => &[
                "Børnehuset {}",
                "Vuggestuen {}",
                "Børnehaven {}",
                "Naturbørnehaven {}",
                "Daginstitution {}",
            ],
            Kind::Plejecenter => &["Plejecenter {}", "Plejecentret {}"],
            Kind::Hjemmepleje => &["Hjemmeplejen, distrikt {}"],
            Kind::Bosted => &["Bostedet {}", "Botilbuddet {}"],
            Kind::Bibliotek => &["{} Bibliotek"],
            Kind::Hal => &["{}hallen"],
            Kind::Klub => &["Ungdomsklubben {}"],
            Kind::Tandklinik => &["Tandklinik {}"],
            Kind::Genbrugsplads => &["Genbrugspladsen {}"],
            Kind::Teams(_) => &[],
        }
    }

    /// Sub-unit names one level below an institution of this kind.
    pub fn underenheder(self) -> &'static [&'static str] {
        match self {
            Kind::Skole => &[
                "Indskoling",
                "Mellemtrin",
                "Udskoling",
                "SFO",
                "Specialtilbud",
                "Administration",
            ],
            Kind::Dagtilbud => &["Vuggestue", "Børnehave", "Køkken"],
            Kind::Plejecenter => &[
                "Afsnit Nord",
                "Afsnit Syd",
                "Demensafsnit",
                "Aflastning",
                "Køkken",
            ],
            Kind::Hjemmepleje => &["Dagvagt", "Aftenvagt", "Nattevagt"],
            Kind::Bosted => &["Botilbud", "Aktivitetstilbud", "Nattevagt"],
            Kind::Bibliotek => &["Udlån", "Børnebibliotek", "Arrangementer"],
            Kind::Hal => &["Drift", "Cafeteria", "Booking"],
            Kind::Klub => &["Juniorklub", "Ungdomsklub"],
            Kind::Tandklinik => &["Klinik", "Reception"],
            Kind::Genbrugsplads => &["Plads", "Genbrugsbutik"],
            Kind::Teams(_) => &["Drift", "Udvikling", "Myndighed", "Sekretariat"],
        }
    }

    /// Job titles (klasser in the facet Stillingsbetegnelse) of staff in units of this kind;
    /// repeated titles weigh the draw.
    pub fn stillinger(self) -> &'static [&'static str] {
        match self {
            Kind::Skole => &[
                "Lærer",
                "Lærer",
                "Lærer",
                "Pædagog",
                "Skolesekretær",
                "Pædagogmedhjælper",
            ],
            Kind::Dagtilbud => &[
                "Pædagog",
                "Pædagog",
                "Pædagogmedhjælper",
                "Pædagogisk assistent",
            ],
            Kind::Plejecenter | Kind::Hjemmepleje => &[
                "Social- og sundhedshjælper",
                "Social- og sundhedsassistent",
                "Social- og sundhedsassistent",
                "Sygeplejerske",
            ],
            Kind::Bosted => &[
                "Socialpædagog",
                "Socialpædagog",
                "Social- og sundhedsassistent",
            ],
            Kind::Bibliotek => &["Bibliotekar", "Biblioteksassistent"],
            Kind::Hal | Kind::Genbrugsplads => &["Servicemedarbejder"],
            Kind::Klub => &["Pædagog", "Klubmedarbejder"],
            Kind::Tandklinik => &["Tandlæge", "Tandplejer", "Klinikassistent"],
            Kind::Teams(_) => ADMINISTRATIVE_STILLINGER,
        }
    }
}

/// Job titles in administration (forvaltninger, afdelinger, teams).
pub const ADMINISTRATIVE_STILLINGER: &[&str] = &[
    "Sagsbehandler",
    "Sagsbehandler",
    "Konsulent",
    "Specialkonsulent",
    "Administrativ medarbejder",
    "Fuldmægtig",
    "Teamleder",
];

/// Every job title, the klasser of the facet Stillingsbetegnelse (with the managers' titles).
pub const STILLINGSBETEGNELSER: &[&str] = &[
    "Kommunaldirektør",
    "Direktør",
    "Chef",
    "Teamleder",
    "Sagsbehandler",
    "Konsulent",
    "Specialkonsulent",
    "Administrativ medarbejder",
    "Fuldmægtig",
    "Lærer",
    "Pædagog",
    "Pædagogmedhjælper",
    "Pædagogisk assistent",
    "Skolesekretær",
    "Social- og sundhedshjælper",
    "Social- og sundhedsassistent",
    "Sygeplejerske",
    "Socialpædagog",
    "Bibliotekar",
    "Biblioteksassistent",
    "Servicemedarbejder",
    "Klubmedarbejder",
    "Tandlæge",
    "Tandplejer",
    "Klinikassistent",
];

/// Manager levels (facet Lederniveau) by unit level 0, 1, 2.
pub const LEDERNIVEAUER: &[&str] = &["Kommunaldirektør", "Direktør", "Chef"];

pub const ENHEDSTYPE_KOMMUNE: &str = "Kommune";
pub const ENHEDSTYPE_FORVALTNING: &str = "Forvaltning";
pub const ENHEDSTYPE_AFDELING: &str = "Afdeling";
pub const ENHEDSTYPE_INSTITUTION: &str = "Institution";
pub const ENHEDSTYPE_TEAM: &str = "Team";
/// The klasser of the facet Enhedstype.
pub const ENHEDSTYPER: &[&str] = &[
    ENHEDSTYPE_KOMMUNE,
    ENHEDSTYPE_FORVALTNING,
    ENHEDSTYPE_AFDELING,
    ENHEDSTYPE_INSTITUTION,
    ENHEDSTYPE_TEAM,
];

pub const FUNKTION_ENGAGEMENT: &str = "Engagement";
pub const FUNKTION_LEDER: &str = "Leder";
/// The klasser of the facet Funktionstype (organisatorisk funktionstype).
pub const FUNKTIONSTYPER: &[&str] = &[FUNKTION_ENGAGEMENT, FUNKTION_LEDER, "Tilknytning", "Rolle"];

/// A forvaltning: name and short code (the unit's brugervendtnøgle).
pub struct Forvaltning {
    pub navn: &'static str,
    pub kode: &'static str,
}

pub const FORVALTNINGER: &[Forvaltning] = &[
    Forvaltning {
        navn: "Børne- og Ungeforvaltningen",
        kode: "BUF",
    },
    Forvaltning {
        navn: "Social- og Sundhedsforvaltningen",
        kode: "SSF",
    },
    Forvaltning {
        navn: "Teknik- og Miljøforvaltningen",
        kode: "TMF",
    },
    Forvaltning {
        navn: "Beskæftigelsesforvaltningen",
        kode: "BEF",
    },
    Forvaltning {
        navn: "Kultur- og Fritidsforvaltningen",
        kode: "KFF",
    },
    Forvaltning {
        navn: "Økonomi og Administration",
        kode: "OEA",
    },
];

/// An afdeling below forvaltning `forv`; `vaegt` is its share of the institutions and teams.
pub struct Afdeling {
    pub forv: usize,
    pub navn: &'static str,
    pub kode: &'static str,
    pub vaegt: usize,
    pub kind: Kind,
}

const fn afd(
    forv: usize,
    navn: &'static str,
    kode: &'static str,
    vaegt: usize,
    kind: Kind,
) -> Afdeling {
    Afdeling {
        forv,
        navn,
        kode,
        vaegt,
        kind,
    }
}

/// The afdelinger, grouped by forvaltning in the order of [`FORVALTNINGER`].
pub const AFDELINGER: &[Afdeling] = &[
    afd(0, "Skoleafdelingen", "SKOLE", 22, Kind::Skole),
    afd(0, "Dagtilbudsafdelingen", "DAG", 45, Kind::Dagtilbud),
    afd(
        0,
        "Familieafdelingen",
        "FAM",
        6,
        Kind::Teams(&[
            "Familierådgivning",
            "Børnehandicap",
            "Forebyggelse",
            "Døgn og anbringelse",
            "Ungerådgivning",
            "Familiesekretariatet",
        ]),
    ),
    afd(
        0,
        "Pædagogisk Psykologisk Rådgivning",
        "PPR",
        4,
        Kind::Teams(&[
            "Psykologer",
            "Tale-hørekonsulenter",
            "Fysio- og ergoterapeuter",
            "Specialpædagogisk rådgivning",
        ]),
    ),
    afd(
        0,
        "Sundhedsplejen",
        "SUNDPL",
        2,
        Kind::Teams(&["Spædbørn", "Skolesundhedspleje"]),
    ),
    afd(0, "Tandplejen", "TAND", 5, Kind::Tandklinik),
    afd(0, "Ungdomsskolen", "UNGSK", 4, Kind::Klub),
    afd(
        1,
        "Myndighed og Visitation",
        "MYN",
        4,
        Kind::Teams(&[
            "Visitation",
            "Hjælpemidler",
            "Borgerrådgivning",
            "Handicap og psykiatri",
        ]),
    ),
    afd(1, "Hjemmeplejen", "HJPL", 10, Kind::Hjemmepleje),
    afd(1, "Plejecentre", "PLEJE", 12, Kind::Plejecenter),
    afd(
        1,
        "Sygeplejen",
        "SYGPL",
        4,
        Kind::Teams(&[
            "Sygepleje dag Nord",
            "Sygepleje dag Syd",
            "Aften og nat",
            "Sygeplejeklinikken",
        ]),
    ),
    afd(
        1,
        "Træning og Rehabilitering",
        "TRAEN",
        4,
        Kind::Teams(&[
            "Genoptræning",
            "Rehabiliteringsteamet",
            "Hverdagsrehabilitering",
            "Hjerneskadeområdet",
        ]),
    ),
    afd(1, "Socialpsykiatri", "PSYK", 8, Kind::Bosted),
    afd(1, "Handicap og Botilbud", "HANDI", 8, Kind::Bosted),
    afd(
        1,
        "Sundhedsfremme og Forebyggelse",
        "FOREB",
        3,
        Kind::Teams(&["Rygestop", "Patientuddannelse", "Forebyggende hjemmebesøg"]),
    ),
    afd(
        2,
        "Plan og Byg",
        "PLAN",
        4,
        Kind::Teams(&[
            "Byggesager",
            "Lokalplaner",
            "Landzone",
            "BBR og ejendomsdata",
        ]),
    ),
    afd(
        2,
        "Natur og Miljø",
        "MILJOE",
        5,
        Kind::Teams(&[
            "Natur",
            "Vandløb",
            "Miljøtilsyn",
            "Jord og grundvand",
            "Landbrug",
        ]),
    ),
    afd(
        2,
        "Vej og Park",
        "VEJ",
        5,
        Kind::Teams(&[
            "Vejdrift",
            "Grønne områder",
            "Vintertjeneste",
            "Trafiksikkerhed",
            "Materielgården",
        ]),
    ),
    afd(
        2,
        "Ejendomsdrift",
        "EJD",
        4,
        Kind::Teams(&["Bygningsdrift", "Energi", "Udlejning", "Rengøring"]),
    ),
    afd(2, "Affald og Genbrug", "AFFALD", 4, Kind::Genbrugsplads),
    afd(
        3,
        "Jobcenter",
        "JOB",
        9,
        Kind::Teams(&[
            "Team Jobparate",
            "Team Aktivitetsparate",
            "Team Sygedagpenge",
            "Team Ressourceforløb",
            "Team Fleksjob",
            "Virksomhedsservice",
            "Team Jobafklaring",
        ]),
    ),
    afd(
        3,
        "Ungeindsatsen",
        "UNGE",
        3,
        Kind::Teams(&[
            "Uddannelsesvejledning",
            "Unge under 30",
            "Kommunal ungeindsats",
        ]),
    ),
    afd(
        3,
        "Ydelsescenter",
        "YDELSE",
        4,
        Kind::Teams(&[
            "Kontanthjælp",
            "Boligstøtte og pension",
            "Økonomisk friplads",
            "Opkrævning",
        ]),
    ),
    afd(
        3,
        "Integration",
        "INTEGR",
        3,
        Kind::Teams(&["Sprogcentret", "Integrationsteamet", "Boligplacering"]),
    ),
    afd(4, "Biblioteker", "BIB", 7, Kind::Bibliotek),
    afd(
        4,
        "Kultur og Events",
        "KULTUR",
        4,
        Kind::Teams(&[
            "Kulturhuset",
            "Kunstmuseet",
            "Lokalhistorisk arkiv",
            "Events",
        ]),
    ),
    afd(4, "Idræt og Fritid", "IDRAET", 6, Kind::Hal),
    afd(
        4,
        "Musikskolen",
        "MUSIK",
        3,
        Kind::Teams(&["Rytmisk", "Klassisk", "Talentlinjen"]),
    ),
    afd(
        5,
        "Økonomi",
        "OEK",
        5,
        Kind::Teams(&[
            "Budget og analyse",
            "Regnskab",
            "Løn",
            "Indkøb",
            "Opkrævning",
        ]),
    ),
    afd(
        5,
        "HR og Personale",
        "HR",
        4,
        Kind::Teams(&[
            "Rekruttering",
            "Arbejdsmiljø",
            "Personalejura",
            "Lederudvikling",
        ]),
    ),
    afd(
        5,
        "IT og Digitalisering",
        "IT",
        5,
        Kind::Teams(&[
            "Drift og support",
            "Infrastruktur",
            "Digitalisering",
            "Informationssikkerhed",
            "Systemforvaltning",
        ]),
    ),
    afd(
        5,
        "Borgerservice",
        "BORGER",
        4,
        Kind::Teams(&[
            "Pas og kørekort",
            "Folkeregister",
            "Digital hjælp",
            "Modtagelsen",
        ]),
    ),
    afd(
        5,
        "Sekretariat og Jura",
        "SEKR",
        3,
        Kind::Teams(&["Byrådssekretariatet", "Jura", "Kommunikation"]),
    ),
];

/// First and second halves of fictitious place names ("Ege" + "bjerg").
pub const STED_FORLED: &[&str] = &[
    "Ege", "Linde", "Bøge", "Aske", "Birke", "Rosen", "Kilde", "Mølle", "Sø", "Nørre", "Vester",
    "Øster", "Sønder", "Skov", "Eng", "Strand", "Bakke", "Elme", "Hassel", "Pile", "Lærke",
    "Fjord", "Kirke", "Vinde", "Lyng", "Hede", "Tofte", "Gran", "Hylde", "Slåen", "Ahorn", "Rønne",
    "Æble", "Valmue", "Kløver",
];
pub const STED_EFTERLED: &[&str] = &[
    "bjerg", "vang", "høj", "gård", "ly", "lund", "dal", "holm", "mark", "toft", "eng", "skov",
    "bo", "have", "vænge", "bakke",
];

pub const FORNAVNE_KVINDER: &[&str] = &[
    "Anne",
    "Mette",
    "Hanne",
    "Kirsten",
    "Susanne",
    "Lene",
    "Maria",
    "Marianne",
    "Camilla",
    "Louise",
    "Charlotte",
    "Pia",
    "Tina",
    "Helle",
    "Karen",
    "Ida",
    "Emma",
    "Sofie",
    "Freja",
    "Laura",
    "Julie",
    "Cecilie",
    "Line",
    "Sara",
    "Maja",
    "Signe",
    "Nanna",
    "Trine",
    "Rikke",
    "Birgitte",
    "Bente",
    "Inge",
    "Lone",
    "Dorthe",
    "Gitte",
    "Jette",
    "Malene",
    "Stine",
    "Astrid",
    "Karoline",
];

pub const FORNAVNE_MAEND: &[&str] = &[
    "Peter",
    "Jens",
    "Lars",
    "Michael",
    "Henrik",
    "Thomas",
    "Søren",
    "Jan",
    "Niels",
    "Christian",
    "Martin",
    "Anders",
    "Morten",
    "Jesper",
    "Mads",
    "Rasmus",
    "Kasper",
    "Jakob",
    "Frederik",
    "Mikkel",
    "Emil",
    "Oliver",
    "William",
    "Lucas",
    "Magnus",
    "Simon",
    "Torben",
    "Poul",
    "Ole",
    "Kim",
    "Bo",
    "Jørgen",
    "Claus",
    "Steen",
    "Finn",
    "Erik",
    "Bjarne",
    "Kristian",
    "Troels",
    "Anton",
];

pub const MELLEMNAVNE_KVINDER: &[&str] = &[
    "Marie",
    "Louise",
    "Sofie",
    "Kristine",
    "Margrethe",
    "Elisabeth",
    "Johanne",
];

pub const MELLEMNAVNE_MAEND: &[&str] = &[
    "Christian",
    "Peter",
    "Emil",
    "Frederik",
    "Valdemar",
    "Aksel",
];

/// Middle names of either gender (family names used as middle names).
pub const MELLEMNAVNE: &[&str] = &[
    "Juul",
    "Holm",
    "Dahl",
    "Skov",
    "Lund",
    "Bak",
    "Munk",
    "Krogh",
    "Bech",
    "Vestergaard",
    "Nørgaard",
    "Kjær",
    "Bruun",
];

pub const EFTERNAVNE: &[&str] = &[
    "Jensen",
    "Nielsen",
    "Hansen",
    "Pedersen",
    "Andersen",
    "Christensen",
    "Larsen",
    "Sørensen",
    "Rasmussen",
    "Jørgensen",
    "Petersen",
    "Madsen",
    "Kristensen",
    "Olsen",
    "Thomsen",
    "Christiansen",
    "Poulsen",
    "Johansen",
    "Møller",
    "Mortensen",
    "Knudsen",
    "Jakobsen",
    "Mikkelsen",
    "Frederiksen",
    "Laursen",
    "Henriksen",
    "Lund",
    "Schmidt",
    "Eriksen",
    "Holm",
    "Kristiansen",
    "Clausen",
    "Simonsen",
    "Svendsen",
    "Andreasen",
    "Iversen",
    "Østergaard",
    "Jeppesen",
    "Vestergaard",
    "Nissen",
    "Lauridsen",
    "Kjær",
    "Jespersen",
    "Mogensen",
    "Nørgaard",
    "Jepsen",
    "Frandsen",
    "Søndergaard",
    "Bach",
    "Kjeldsen",
    "Carlsen",
    "Dalgaard",
    "Lindholm",
    "Egebjerg",
    "Bruun",
    "Krogh",
    "Skov",
    "Dam",
    "Friis",
    "Juhl",
    "Hedegaard",
    "Munk",
    "Bech",
    "Brandt",
    "Winther",
    "Lindberg",
    "Toft",
    "Vinther",
    "Gregersen",
    "Ravn",
];

/// An IT system: brugervendtnøgle, itsystemnavn, itsystemtype, konfigurationreference, and the
/// period it is in use (`til`: taken out of use, `Inaktiv` from then on).
pub struct ItSystem {
    pub bvn: &'static str,
    pub navn: &'static str,
    pub typ: &'static str,
    pub konfiguration: &'static [&'static str],
    pub fra: Dato,
    pub til: Option<Dato>,
}

const fn it(bvn: &'static str, navn: &'static str, typ: &'static str, fra: Dato) -> ItSystem {
    ItSystem {
        bvn,
        navn,
        typ,
        konfiguration: &[],
        fra,
        til: None,
    }
}

pub const ITSYSTEMER: &[ItSystem] = &[
    ItSystem {
        konfiguration: &[
            "ldaps://ad.fiktiv-kommune.example",
            "OU=Brugere,DC=fiktiv,DC=example",
        ],
        ..it(
            "AD",
            "Active Directory",
            "Brugerkatalog",
            Dato::ymd(2007, 1, 1),
        )
    },
    it(
        "ESDH",
        "Fiktivt ESDH",
        "Sags- og dokumenthåndtering",
        Dato::ymd(2009, 5, 1),
    ),
    it(
        "OEKONOMI",
        "Fiktivt Økonomisystem",
        "Økonomi",
        Dato::ymd(2007, 1, 1),
    ),
    ItSystem {
        til: Some(Dato::ymd(2020, 1, 1)),
        ..it(
            "LOEN",
            "Fiktivt Lønsystem",
            "Løn og personale",
            Dato::ymd(2007, 1, 1),
        )
    },
    it(
        "LOENPLUS",
        "Fiktivt Lønsystem Plus",
        "Løn og personale",
        Dato::ymd(2020, 1, 1),
    ),
    it(
        "OMSORG",
        "Fiktivt Omsorgssystem",
        "Omsorg og pleje",
        Dato::ymd(2012, 3, 1),
    ),
    it(
        "SKOLE",
        "Fiktiv Skoleplatform",
        "Undervisning",
        Dato::ymd(2016, 8, 1),
    ),
];

/// KLE-shaped emneplan: `nøgle|titel` or `nøgle|titel|udgået-dato`, parents before children.
/// Every gruppe (`dd.dd`) also gets an emne `dd.dd.00 <gruppe> i almindelighed`.
pub const KLE_EMNER: &str = "\
00|Kommunens styrelse
00.01|Kommunalbestyrelsen
00.01.02|Møder og dagsordener
00.01.04|Valg af borgmester og udvalg
00.01.10|Vederlag til kommunalbestyrelsesmedlemmer
00.05|Kommunens administration
00.05.01|Organisation og ledelse
00.05.04|Delegation af kompetence
00.05.10|Kvalitetsstyring
00.06|Kommunal planlægning
00.06.02|Planstrategi
00.06.05|Sektorplaner
00.06.10|Udviklingsstrategier
00.13|Samarbejde med andre myndigheder
00.13.02|Kommunale fællesskaber
00.13.05|Regionalt samarbejde
00.13.10|Internationalt samarbejde
01|Fysisk planlægning og naturbeskyttelse
01.02|Kommuneplanlægning
01.02.02|Kommuneplanrevision
01.02.05|Kommuneplantillæg
01.02.10|Borgermøder om planforslag
01.03|Lokalplanlægning
01.03.01|Lokalplaner
01.03.03|Byplanvedtægter|2016-12-31
01.03.05|Ophævelse af lokalplaner
01.05|Naturbeskyttelse
01.05.02|Beskyttede naturtyper
01.05.08|Fredninger
01.05.12|Strandbeskyttelse
01.11|Landzoneadministration
01.11.01|Landzonetilladelser
01.11.05|Udstykning i landzone
01.11.10|Sommerhusområder
02|Byggeri
02.03|Byggesagsbehandling
02.03.01|Byggetilladelser
02.03.04|Anmeldelser
02.03.10|Ibrugtagningstilladelser
02.06|Byggeri og anvendelse af bygninger
02.06.02|Ulovligt byggeri
02.06.05|Brandsikring af bygninger
02.06.10|Energikrav til bygninger
02.15|Bygnings- og boligregistrering
02.15.01|BBR-registrering
02.15.05|Ejendomsdata
02.15.08|Adresser og vejnavne
02.20|Bygningsbevaring
02.20.02|Bevaringsværdige bygninger
02.20.05|Byfornyelse
02.20.08|Facadeudsmykning
03|Boliger
03.01|Boligforsyning
03.01.02|Almene boliger
03.01.05|Ungdomsboliger
03.01.10|Boligsociale helhedsplaner
03.02|Boliganvisning
03.02.01|Kommunal anvisning
03.02.04|Akut boligsøgende
03.02.08|Boliger til flygtninge
03.10|Boligstøtte
03.10.01|Boligsikring
03.10.03|Boligydelse
03.10.06|Indskudslån
03.22|Lejeforhold
03.22.01|Huslejenævn
03.22.03|Beboerklagenævn
03.22.05|Lejekontrakter
04|Parker, fritids-/idrætsanlæg og landskabspleje mv.
04.01|Parker og grønne områder
04.01.02|Drift af parker
04.01.04|Legepladser
04.01.08|Træer og beplantning
04.04|Idrætsanlæg
04.04.02|Idrætshaller
04.04.05|Svømmehaller
04.04.08|Udendørs idrætsanlæg
04.10|Kolonihaver
04.10.01|Lejekontrakter for kolonihaver
04.10.03|Haveforeninger
04.10.05|Nedlæggelse af kolonihaveområder
04.20|Landskabspleje
04.20.02|Vandreruter og stier
04.20.04|Afgræsning
04.20.06|Skovrejsning
05|Veje og trafik
05.01|Offentlige veje
05.01.02|Anlæg af veje
05.01.05|Vedligeholdelse af veje
05.01.10|Vejbelysning
05.04|Private fællesveje
05.04.01|Istandsættelse af private fællesveje
05.04.05|Vejbidrag
05.04.08|Vejret
05.09|Trafiksikkerhed
05.09.02|Trafiksikkerhedsplaner
05.09.05|Skolevejsanalyser
05.09.10|Hastighedsdæmpning
05.13|Parkering
05.13.02|Parkeringskontrol
05.13.04|Parkeringstilladelser
05.13.06|Handicapparkering
05.15|Vintertjeneste
05.15.01|Snerydning
05.15.03|Glatførebekæmpelse
05.15.05|Vinterberedskab
07|Affald og genanvendelse
07.01|Affaldsplanlægning
07.01.02|Affaldsplaner
07.01.05|Affaldsregulativer
07.01.08|Affaldsdata
07.12|Husholdningsaffald
07.12.02|Dagrenovation
07.12.05|Storskrald
07.12.08|Farligt affald fra husholdninger
07.18|Erhvervsaffald
07.18.02|Anvisning af erhvervsaffald
07.18.05|Erhvervs adgang til genbrugspladser
07.18.08|Bygge- og anlægsaffald
07.20|Genbrugspladser
07.20.02|Drift af genbrugspladser
07.20.04|Genbrugsbutikker
07.20.06|Miljøstationer
09|Miljøbeskyttelse
09.01|Miljøtilsyn
09.01.02|Tilsyn med virksomheder
09.01.05|Tilsyn med landbrug
09.01.10|Miljøklager
09.02|Miljøgodkendelser
09.02.03|Godkendelse af virksomheder
09.02.06|Husdyrbrug
09.02.09|VVM-screening|2017-05-15
09.08|Jordforurening
09.08.02|Kortlægning af forurenede grunde
09.08.04|Flytning af jord
09.08.06|Afværgeforanstaltninger
09.10|Støj
09.10.02|Støj fra virksomheder
09.10.04|Trafikstøj
09.10.06|Støj fra arrangementer
15|Arbejdsmarked og beskæftigelsesindsats
15.02|Jobcentre
15.02.01|Organisering af jobcentret
15.02.04|Virksomhedsservice
15.02.08|Rekruttering til virksomheder
15.05|Tilbud til ledige
15.05.02|Vejledning og opkvalificering
15.05.04|Virksomhedspraktik
15.05.06|Løntilskud
15.20|Fleksjob og ledighedsydelse
15.20.01|Visitation til fleksjob
15.20.04|Ledighedsydelse
15.20.08|Fleksløntilskud
15.30|Ungeindsats
15.30.02|Uddannelsespålæg
15.30.04|Brobygning
15.30.06|Mentorstøtte
17|Folkeskoleundervisning
17.01|Skolevæsenets styrelse
17.01.02|Skolebestyrelser
17.01.05|Skolestruktur
17.01.08|Kvalitetsrapporter
17.02|Skoledistrikter og indskrivning
17.02.01|Skoledistrikter
17.02.04|Frit skolevalg
17.02.07|Indskrivning til børnehaveklasse
17.04|Specialundervisning
17.04.02|Specialklasser
17.04.04|Specialskoler
17.04.07|Inklusion
17.10|Skolefritidsordninger
17.10.01|Optagelse i SFO
17.10.03|Forældrebetaling i SFO
17.10.05|Fritidsklubber
17.15|Elevbefordring
17.15.01|Skolekørsel
17.15.04|Befordring af elever med handicap
17.15.06|Buskort
20|Kulturvirksomhed
20.01|Kulturpolitik
20.01.02|Kulturstrategi
20.01.05|Kulturaftaler
20.01.08|Kunst i det offentlige rum
20.04|Museer
20.04.02|Tilskud til museer
20.04.05|Udstillinger
20.04.08|Arkæologiske undersøgelser
20.07|Musik og teater
20.07.01|Musikskoler
20.07.04|Spillesteder
20.07.07|Egnsteatre
20.14|Lokalhistoriske arkiver
20.14.02|Modtagelse af arkivalier
20.14.04|Registrering af arkivalier
20.14.06|Adgang til arkivalier
21|Biblioteker
21.01|Biblioteksvæsenet
21.01.02|Bibliotekspolitik
21.01.05|Filialstruktur
21.01.08|Samarbejde mellem biblioteker
21.04|Udlån
21.04.02|Lånerregistrering
21.04.04|Fjernlån
21.04.06|Erstatning for bortkomne materialer
21.06|Biblioteksbetjening
21.06.02|Arrangementer på bibliotekerne
21.06.04|Biblioteksbetjening af ældre
21.06.06|Skolebiblioteker
27|Social service
27.12|Forebyggende foranstaltninger for børn og unge
27.12.02|Familiebehandling
27.12.04|Aflastning
27.12.06|Kontaktperson
27.20|Anbringelse af børn og unge
27.20.02|Plejefamilier
27.20.04|Døgninstitutioner
27.20.06|Efterværn
27.24|Hjemmehjælp og personlig pleje
27.24.02|Praktisk hjælp
27.24.04|Personlig pleje
27.24.06|Madservice
27.35|Botilbud
27.35.02|Midlertidige botilbud
27.35.04|Længerevarende botilbud
27.35.06|Plejeboliger
27.37|Hjælpemidler
27.37.02|Hjælpemidler til borgere
27.37.04|Forbrugsgoder
27.37.06|Boligindretning
28|Dagtilbud
28.01|Dagtilbudsstruktur
28.01.02|Dagtilbudspolitik
28.01.05|Pædagogiske læreplaner
28.01.08|Tilsyn med dagtilbud
28.03|Dagpleje
28.03.02|Kommunal dagpleje
28.03.04|Privat dagpleje
28.03.06|Gæstedagpleje
28.06|Daginstitutioner
28.06.02|Vuggestuer
28.06.04|Børnehaver
28.06.06|Integrerede institutioner
28.10|Pladsanvisning og betaling
28.10.01|Pladsanvisning
28.10.03|Forældrebetaling
28.10.05|Økonomisk friplads
29|Sundhed
29.03|Sundhedsfremme og forebyggelse
29.03.02|Rygestop
29.03.04|Forebyggende hjemmebesøg
29.03.06|Sundhedspolitik
29.09|Sundhedspleje
29.09.02|Besøg hos spædbørn
29.09.04|Skolesundhedspleje
29.09.06|Sundhedsprofiler
29.10|Tandpleje
29.10.01|Børne- og ungdomstandpleje
29.10.04|Omsorgstandpleje
29.10.07|Specialtandpleje
29.15|Genoptræning og rehabilitering
29.15.02|Genoptræning efter hospitalsophold
29.15.04|Vedligeholdelsestræning
29.15.06|Rehabiliteringsforløb
29.30|Hjemmesygepleje
29.30.02|Sygeplejeklinikker
29.30.04|Medicinhåndtering
29.30.06|Palliativ indsats
32|Kontante ydelser
32.03|Kontanthjælp
32.03.02|Ansøgning om kontanthjælp
32.03.04|Sanktioner
32.03.06|Tilbagebetaling
32.12|Enkeltydelser
32.12.02|Hjælp til enkeltudgifter
32.12.04|Flytteudgifter
32.12.06|Sygebehandling
32.18|Sygedagpenge
32.18.01|Sygedagpenge til lønmodtagere
32.18.04|Refusion til arbejdsgivere
32.18.07|Opfølgning på sygedagpengesager
32.26|Pension
32.26.01|Folkepension
32.26.04|Førtidspension
32.26.07|Personlige tillæg
";

/// KLE-shaped handlingsfacetter: `nøgle|titel`.
pub const KLE_HANDLINGER: &str = "\
G01|Generelle sager
G02|Vejledning og information
G03|Udvalg, råd og nævn
G10|Puljer og projekter
G11|Samarbejde med eksterne parter
G20|Planer og strategier
A01|Ansøgninger om tilladelse
A02|Dispensationer
A05|Påbud og forbud
A08|Anmeldelser
A20|Klager
A53|Tilsyn
K01|Kontrol og opfølgning
K02|Statistik og analyser
S00|Tilskud og ydelser
S10|Erstatninger
";

/// FORM-like opgavenøgler: `nøgle|titel`, hierarchical by dots.
pub const FORM_OPGAVER: &str = "\
1|Borgerservice og borgerskab
1.1|Folkeregistrering
1.1.1|Flytning
1.1.2|Navneændring
1.2|Pas og kørekort
1.2.1|Pas
1.2.2|Kørekort
2|Børn og unge
2.1|Dagtilbud
2.1.1|Pladsanvisning
2.1.2|Tilskud til privat pasning
2.2|Grundskole
2.2.1|Indskrivning
2.2.2|Specialundervisning
3|Social og sundhed
3.1|Ældre
3.1.1|Hjemmehjælp
3.1.2|Plejebolig
3.2|Handicap
3.2.1|Hjælpemidler
3.2.2|Botilbud
4|Beskæftigelse
4.1|Ledige
4.1.1|Kontanthjælp
4.1.2|Aktivering
4.2|Sygdom
4.2.1|Sygedagpenge
4.2.2|Fleksjob
5|Teknik og miljø
5.1|Byggeri
5.1.1|Byggetilladelse
5.1.2|Ejendomsdata
5.2|Miljø
5.2.1|Affald
5.2.2|Jordforurening
6|Kultur og fritid
6.1|Biblioteker
6.1.1|Udlån
6.1.2|Arrangementer
6.2|Idræt
6.2.1|Lokaletildeling
6.2.2|Foreningstilskud
";
