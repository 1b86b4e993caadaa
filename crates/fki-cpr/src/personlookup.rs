//! SF1520 CPR PersonBaseDataExtended v4, `PersonLookup`: the request read strictly and the
//! answer written in the schema's order
//! (`../shared/specs/sf1520-cpr-personbasedataextended/PersonBaseDataExtendedServiceMsg.xsd`,
//! `xsd/PersonBaseDataExtendedServiceTypes.xsd`, `sp/*.xsd`), and the Serviceplatform fault
//! (`sp/ServiceplatformFault_1.xsd`). No I/O: the server (`fki_server::cpr`) adds WS-Security,
//! the route and the context checks.
//!
//! From a generated [`Person`]: `persondata` (numbers, name, birth date, age and sex, children
//! under 18, status with its date, civilstand with its date, adressebeskyttelse, Digital Post),
//! `adresse` (the current address for a resident, the emigration for an emigrant) and
//! `relationer` (spouse, children, mother, father, custody). No `notater`: the population has
//! none.

use chrono::{Datelike, NaiveDate};
use roxmltree::Node;
use uuid::Uuid;

use crate::nummer::{Cpr, Koen};
use crate::population::{Adresse, DigitalPost, Person, Status};
use crate::register::Register;

/// The message namespace.
pub const NS: &str = "http://serviceplatformen.dk/xml/wsdl/soap11/CPR/PersonBaseDataExtended/4/";
pub const NS_PNR: &str = "http://serviceplatformen.dk/xml/schemas/cpr/PNR/1/";
pub const NS_CALLCTX: &str = "http://serviceplatformen.dk/xml/schemas/CallContext/1/";
pub const NS_AUTCTX: &str = "http://serviceplatformen.dk/xml/schemas/AuthorityContext/1/";
pub const NS_INVCTX: &str = "http://serviceplatformen.dk/xml/schemas/InvocationContext/1/";
pub const NS_FAULT: &str = "http://serviceplatformen.dk/xml/schemas/ServiceplatformFault/1/";
/// The binding's soapAction.
pub const SOAP_ACTION: &str =
    "http://serviceplatformen.dk/xml/wsdl/soap11/CPR/PersonBaseDataExtended/4/PersonLookup";
/// Where the service answers (the WSDL's address path).
pub const STI: &str = "/service/CPR/PersonBaseDataExtended/4";

/// `InvocationContext`: who calls, under which agreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationContext {
    pub service_agreement: Uuid,
    pub user_system: Uuid,
    pub user: Uuid,
    pub service: Uuid,
    pub on_behalf_of_user: Option<String>,
    pub callers_service_call_identifier: Option<String>,
    pub accounting_info: Option<String>,
}

/// A read `PersonLookupRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forespoergsel {
    /// `AuthorityContext/MunicipalityCVR`.
    pub myndighed: Option<String>,
    pub invocation: Option<InvocationContext>,
    /// `PNR`, as sent (at most 10 characters by the schema).
    pub pnr: String,
}

pub(crate) fn is(n: Node<'_, '_>, ns: &str, navn: &str) -> bool {
    n.is_element() && n.tag_name().namespace() == Some(ns) && n.tag_name().name() == navn
}

pub(crate) fn tekst(n: Node<'_, '_>) -> Result<String, String> {
    if let Some(c) = n.children().find(|c| c.is_element()) {
        return Err(format!(
            "{}: expected text, found element {}",
            n.tag_name().name(),
            c.tag_name().name()
        ));
    }
    Ok(n.children()
        .filter_map(|c| c.text())
        .collect::<String>()
        .trim()
        .to_owned())
}

pub(crate) fn elementer<'a, 'i>(n: Node<'a, 'i>) -> Result<Vec<Node<'a, 'i>>, String> {
    let mut out = Vec::new();
    for c in n.children() {
        if c.is_element() {
            out.push(c);
        } else if c.is_text() && !c.text().unwrap_or("").trim().is_empty() {
            return Err(format!("{}: unexpected text", n.tag_name().name()));
        }
    }
    Ok(out)
}

/// Read the Body's `PersonLookupRequest`: `CallContext`?, `AuthorityContext`?,
/// `InvocationContext`?, `PNR`, in that order. The error names what is wrong.
pub fn laes(op: Node<'_, '_>) -> Result<Forespoergsel, String> {
    if !is(op, NS, "PersonLookupRequest") {
        return Err(format!(
            "{{{}}}{} is not a PersonLookupRequest",
            op.tag_name().namespace().unwrap_or(""),
            op.tag_name().name()
        ));
    }
    let boern = elementer(op)?;
    let mut i = 0;
    let mut opt = |ns: &str, navn: &str| {
        let n = boern.get(i).copied().filter(|n| is(*n, ns, navn));
        if n.is_some() {
            i += 1;
        }
        n
    };
    // CallContext is the older context; fki reads it and does not use it.
    if let Some(c) = opt(NS_CALLCTX, "CallContext") {
        for e in elementer(c)? {
            if e.tag_name().namespace() != Some(NS_CALLCTX) {
                return Err(format!("CallContext: unexpected {}", e.tag_name().name()));
            }
            tekst(e)?;
        }
    }
    let myndighed = match opt(NS_AUTCTX, "AuthorityContext") {
        Some(a) => {
            let e = elementer(a)?;
            match e.as_slice() {
                [m] if is(*m, NS_AUTCTX, "MunicipalityCVR") => {
                    let cvr = tekst(*m)?;
                    if cvr.len() != 8 || !cvr.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(format!(
                            "AuthorityContext/MunicipalityCVR: '{cvr}' is not 8 digits"
                        ));
                    }
                    Some(cvr)
                }
                _ => return Err("AuthorityContext: expected exactly MunicipalityCVR".into()),
            }
        }
        None => None,
    };
    let invocation = match opt(NS_INVCTX, "InvocationContext") {
        Some(c) => Some(invocation_context(c)?),
        None => None,
    };
    let pnr = match opt(NS_PNR, "PNR") {
        Some(p) => tekst(p)?,
        None => return Err("PersonLookupRequest: PNR is missing or out of order".into()),
    };
    if let Some(n) = boern.get(i) {
        return Err(format!(
            "PersonLookupRequest: unexpected element {} here",
            n.tag_name().name()
        ));
    }
    if pnr.chars().count() > 10 {
        return Err(format!("PNR: '{pnr}' is longer than 10 characters"));
    }
    Ok(Forespoergsel {
        myndighed,
        invocation,
        pnr,
    })
}

/// `InvocationContext` is an `xsd:all`: each child once, in any order.
pub(crate) fn invocation_context(c: Node<'_, '_>) -> Result<InvocationContext, String> {
    let mut felter: std::collections::HashMap<&str, String> = Default::default();
    for e in elementer(c)? {
        let navn = e.tag_name().name();
        let kendt = [
            "ServiceAgreementUUID",
            "UserSystemUUID",
            "UserUUID",
            "OnBehalfOfUser",
            "ServiceUUID",
            "CallersServiceCallIdentifier",
            "AccountingInfo",
        ];
        let Some(k) = kendt.iter().find(|k| is(e, NS_INVCTX, k)) else {
            return Err(format!("InvocationContext: unexpected element {navn}"));
        };
        if felter.insert(k, tekst(e)?).is_some() {
            return Err(format!("InvocationContext: {navn} is given twice"));
        }
    }
    let uuid = |k: &str| -> Result<Uuid, String> {
        let v = felter
            .get(k)
            .ok_or_else(|| format!("InvocationContext: {k} is missing"))?;
        Uuid::parse_str(v).map_err(|_| format!("InvocationContext/{k}: '{v}' is not a UUID"))
    };
    Ok(InvocationContext {
        service_agreement: uuid("ServiceAgreementUUID")?,
        user_system: uuid("UserSystemUUID")?,
        user: uuid("UserUUID")?,
        service: uuid("ServiceUUID")?,
        on_behalf_of_user: felter.get("OnBehalfOfUser").cloned(),
        callers_service_call_identifier: felter.get("CallersServiceCallIdentifier").cloned(),
        accounting_info: felter.get("AccountingInfo").cloned(),
    })
}

// ------------------------------------------------------------------------------ the answer

pub(crate) fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn el(s: &mut String, navn: &str, v: impl std::fmt::Display) {
    s.push_str(&format!("<{navn}>{}</{navn}>", escape(&v.to_string())));
}

fn opt_el(s: &mut String, navn: &str, v: Option<impl std::fmt::Display>) {
    if let Some(v) = v {
        el(s, navn, v);
    }
}

/// `usikkerhedDatoType`: `dato` as `xsd:date`.
fn dato(s: &mut String, navn: &str, d: NaiveDate) {
    s.push_str(&format!(
        "<{navn}><dato>{}</dato></{navn}>",
        d.format("%Y-%m-%d")
    ));
}

/// `usikkerhedDatoTidType`: `dato` as `xsd:dateTime` (midnight, no zone: CPR records days).
fn dato_tid(s: &mut String, navn: &str, d: NaiveDate) {
    s.push_str(&format!(
        "<{navn}><dato>{}T00:00:00</dato></{navn}>",
        d.format("%Y-%m-%d")
    ));
}

/// CPR's `adresseringsnavn`: "Efternavn,Fornavne Mellemnavn".
pub fn adresseringsnavn(p: &Person) -> String {
    let mut fornavne = p.fornavne.clone();
    if let Some(m) = &p.mellemnavn {
        fornavne.push(' ');
        fornavne.push_str(m);
    }
    format!("{},{fornavne}", p.efternavn)
}

/// "Vejnavn 12, 2. tv".
pub fn standardadresse(a: &Adresse) -> String {
    let mut s = format!("{} {}", a.vejnavn, a.husnummer);
    match (&a.etage, &a.sidedoer) {
        (Some(e), Some(d)) => s.push_str(&format!(", {e}. {d}")),
        (Some(e), None) => s.push_str(&format!(", {e}.")),
        (None, Some(d)) => s.push_str(&format!(", {d}")),
        (None, None) => {}
    }
    s
}

/// The status code of the schema's `statusTypeType`.
fn status_kode(s: &Status) -> u8 {
    match s {
        Status::Aktiv => 1,
        Status::Udrejst(_) => 80,
        Status::Doed(_) => 90,
    }
}

/// What a caller may see: the data restrictions (dataafgrænsninger) of its agreements for the
/// service. fki's names: `Udelad` = a comma-separated list of `adresse`, `relationer`, `cpr`
/// (leave out the address, the relations, every CPR number); `SeBeskyttetAdresse` =
/// `true`/`ja`/`1` (show the address of a person with adressebeskyttelse, which is otherwise
/// left out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udsnit {
    pub adresse: bool,
    pub relationer: bool,
    pub cpr: bool,
    pub beskyttet_adresse: bool,
}

impl Udsnit {
    /// Everything (no agreement to restrict: `--dev-open`).
    pub const ALT: Udsnit = Udsnit {
        adresse: true,
        relationer: true,
        cpr: true,
        beskyttet_adresse: true,
    };

    /// From one agreement's (navn, værdi) data restrictions.
    pub fn af<'a>(afgraensninger: impl IntoIterator<Item = (&'a str, &'a str)>) -> Udsnit {
        let mut u = Udsnit {
            beskyttet_adresse: false,
            ..Udsnit::ALT
        };
        for (navn, vaerdi) in afgraensninger {
            if navn.eq_ignore_ascii_case("Udelad") {
                for del in vaerdi.split(',').map(|d| d.trim().to_ascii_lowercase()) {
                    match del.as_str() {
                        "adresse" => u.adresse = false,
                        "relationer" => u.relationer = false,
                        "cpr" => u.cpr = false,
                        _ => {}
                    }
                }
            } else if navn.eq_ignore_ascii_case("SeBeskyttetAdresse") {
                u.beskyttet_adresse = ["true", "ja", "1"]
                    .iter()
                    .any(|j| vaerdi.trim().eq_ignore_ascii_case(j));
            }
        }
        u
    }

    /// What either of two agreements allows.
    pub fn eller(self, o: Udsnit) -> Udsnit {
        Udsnit {
            adresse: self.adresse || o.adresse,
            relationer: self.relationer || o.relationer,
            cpr: self.cpr || o.cpr,
            beskyttet_adresse: self.beskyttet_adresse || o.beskyttet_adresse,
        }
    }
}

/// The `PersonLookupResponse` for `p` (its relatives looked up in `reg`), ages as of `idag`,
/// showing what `u` allows.
pub fn svar(p: &Person, reg: &Register, idag: NaiveDate, u: Udsnit) -> String {
    let mut s = format!("<PersonLookupResponse xmlns=\"{NS}\">");
    // ---- persondata
    s.push_str("<persondata>");
    if u.cpr {
        el(&mut s, "personnummer", p.cpr.as_digits());
        el(&mut s, "gaeldendePersonnummer", p.cpr.as_digits());
    }
    s.push_str("<navn>");
    el(&mut s, "personadresseringsnavn", adresseringsnavn(p));
    el(&mut s, "fornavn", &p.fornavne);
    opt_el(&mut s, "mellemnavn", p.mellemnavn.as_ref());
    el(&mut s, "efternavn", &p.efternavn);
    s.push_str("</navn>");
    dato(&mut s, "foedselsdato", p.foedselsdato);
    el(&mut s, "alder", p.alder(idag));
    el(
        &mut s,
        "koen",
        match p.koen {
            Koen::Kvinde => "K",
            Koen::Mand => "M",
        },
    );
    let under18 = p
        .boern
        .iter()
        .filter_map(|c| reg.person(c))
        .filter(|b| b.alder(idag) < 18 && b.status == Status::Aktiv)
        .count();
    el(&mut s, "antalBoernUnder18", under18);
    s.push_str("<status>");
    el(&mut s, "status", status_kode(&p.status));
    match p.status {
        Status::Doed(d) | Status::Udrejst(d) => dato_tid(&mut s, "statusdato", d),
        Status::Aktiv => dato_tid(&mut s, "statusdato", p.foedselsdato),
    }
    s.push_str("</status>");
    s.push_str("<civilstand>");
    el(&mut s, "civilstand", p.civilstand.kode());
    if let Some(d) = p.civilstand_dato {
        dato_tid(&mut s, "civilstandsdato", d);
    }
    s.push_str("</civilstand>");
    s.push_str("<adressebeskyttelse>");
    el(&mut s, "beskyttet", p.adressebeskyttelse);
    s.push_str("</adressebeskyttelse>");
    el(
        &mut s,
        "tilmeldtDigitalpost",
        p.digital_post == DigitalPost::Tilmeldt,
    );
    s.push_str("</persondata>");

    // ---- adresse
    if u.adresse {
        adresse(&mut s, p, u);
    }
    if u.relationer {
        relationer(&mut s, p, reg, u);
    }
    s.push_str("</PersonLookupResponse>");
    s
}

/// The elements `adresseType` and `adresseHistorikType` share, in their order (kommunekode …
/// vejnavn; the optional ones between them that fki has no data for are left out).
fn adresse_kerne(s: &mut String, a: &Adresse) {
    el(s, "kommunekode", a.kommunekode.trim_start_matches('0'));
    el(s, "vejkode", a.vejkode);
    el(s, "husnummer", &a.husnummer);
    opt_el(s, "etage", a.etage.as_ref());
    opt_el(s, "sidedoer", a.sidedoer.as_ref());
    el(s, "postnummer", a.postnummer);
    el(s, "postdistrikt", &a.postdistrikt);
    el(s, "vejnavn", &a.vejnavn);
}

fn adresse(s: &mut String, p: &Person, u: Udsnit) {
    // A protected address is shown only where the agreement says so.
    let vis = !p.adressebeskyttelse || u.beskyttet_adresse;
    s.push_str("<adresse>");
    let a = &p.adresse;
    match p.status {
        Status::Aktiv if !vis => {}
        Status::Aktiv => {
            s.push_str("<aktuelAdresse>");
            adresse_kerne(s, a);
            el(s, "standardadresse", standardadresse(a));
            el(s, "adresseringsnavn", adresseringsnavn(p));
            el(s, "vejadresseringsnavn", &a.vejnavn);
            dato_tid(s, "tilflytningsdato", a.tilflytningsdato);
            s.push_str("</aktuelAdresse>");
        }
        Status::Udrejst(d) => {
            s.push_str("<udrejseoplysninger>");
            dato_tid(s, "udrejsedato", d);
            s.push_str("</udrejseoplysninger>");
        }
        Status::Doed(_) => {}
    }
    // The last Danish address of someone who left it.
    if p.status != Status::Aktiv && vis {
        s.push_str("<adresseHistorik>");
        adresse_kerne(s, a);
        dato_tid(s, "tilflytningsdato", a.tilflytningsdato);
        if let Status::Doed(d) | Status::Udrejst(d) = p.status {
            dato_tid(s, "fraflytningsdato", d);
        }
        s.push_str("</adresseHistorik>");
    }
    // The addresses moved away from (CPR events), newest first.
    if vis {
        for t in p.historik.adresser.iter().rev() {
            s.push_str("<adresseHistorik>");
            adresse_kerne(s, &t.adresse);
            dato_tid(s, "tilflytningsdato", t.adresse.tilflytningsdato);
            dato_tid(s, "fraflytningsdato", t.fraflytningsdato);
            s.push_str("</adresseHistorik>");
        }
    }
    s.push_str("</adresse>");
}

fn relationer(s: &mut String, p: &Person, reg: &Register, u: Udsnit) {
    s.push_str("<relationer>");
    // A relative by number; without CPR numbers by birth date and name (the schema's choice).
    let pnr = |s: &mut String, navn: &str, c: &Cpr| {
        if u.cpr {
            s.push_str(&format!("<{navn}>"));
            el(s, "personnummer", c.as_digits());
            s.push_str(&format!("</{navn}>"));
        } else if let Some(r) = reg.person(c) {
            s.push_str(&format!("<{navn}>"));
            dato(s, "foedselsdato", r.foedselsdato);
            el(s, "navn", adresseringsnavn(r));
            s.push_str(&format!("</{navn}>"));
        }
    };
    if let Some(c) = &p.aegtefaelle {
        pnr(s, "aegtefaelle", c);
    }
    // `barn` has only a number.
    if u.cpr {
        for c in &p.boern {
            pnr(s, "barn", c);
        }
    }
    if let Some(c) = &p.mor {
        pnr(s, "mor", c);
    }
    if let Some(c) = &p.far {
        pnr(s, "far", c);
    }
    for c in &p.foraeldremyndighed {
        // 3: the mother, 4: the father (medmor), 5: another holder.
        let typ = if Some(c) == p.mor.as_ref() {
            3
        } else if Some(c) == p.far.as_ref() {
            4
        } else {
            5
        };
        s.push_str("<foraeldremyndighed>");
        el(s, "foraeldremyndighedtype", typ);
        dato(s, "foraeldremyndighedStartdato", p.foedselsdato);
        if u.cpr {
            el(s, "relationPersonnummer", c.as_digits());
        }
        s.push_str("</foraeldremyndighed>");
    }
    s.push_str("</relationer>");
}

/// The `ServiceplatformFault` detail: one `Error` with fki's `code` and a text.
pub fn fault_detail(code: &str, tekst: &str) -> String {
    format!(
        "<spf:ServiceplatformFault xmlns:spf=\"{NS_FAULT}\"><spf:ErrorList><spf:Error>\
<spf:ErrorCode>{}</spf:ErrorCode><spf:ErrorText>{}</spf:ErrorText></spf:Error></spf:ErrorList>\
</spf:ServiceplatformFault>",
        escape(code),
        escape(tekst)
    )
}

/// Today's date for ages ("the time of asking").
pub fn idag() -> NaiveDate {
    let n = chrono::Utc::now().date_naive();
    NaiveDate::from_ymd_opt(n.year(), n.month(), n.day()).unwrap_or(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::{Parametre, generate};

    const REQ: &str = "http://serviceplatformen.dk/xml/wsdl/soap11/CPR/PersonBaseDataExtended/4/";

    fn laes_str(x: &str) -> Result<Forespoergsel, String> {
        let d = roxmltree::Document::parse(x).unwrap();
        laes(d.root_element())
    }

    #[test]
    fn data_restrictions_leave_out_what_they_name() {
        let pop = generate(&Parametre::new("0751", 500, 11), |_| {});
        let mut reg = Register::new();
        reg.tilfoej(pop.clone());
        let idag = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let p = pop
            .personer
            .iter()
            .find(|p| p.aegtefaelle.is_some() && !p.boern.is_empty() && !p.adressebeskyttelse)
            .unwrap();
        let u = Udsnit::af([("Udelad", "cpr, adresse")]);
        assert_eq!(
            u,
            Udsnit {
                adresse: false,
                relationer: true,
                cpr: false,
                beskyttet_adresse: false
            }
        );
        let x = svar(p, &reg, idag, u);
        for cpr in std::iter::once(&p.cpr)
            .chain(&p.boern)
            .chain(&p.aegtefaelle)
        {
            assert!(!x.contains(&cpr.as_digits()), "{x}");
        }
        assert!(!x.contains("<adresse>") && x.contains("<relationer>"));
        let spouse = reg.person(p.aegtefaelle.as_ref().unwrap()).unwrap();
        assert!(
            x.contains(&format!("<navn>{}</navn>", adresseringsnavn(spouse))),
            "{x}"
        );
        let x = svar(p, &reg, idag, Udsnit::af([("Udelad", "relationer")]));
        assert!(x.contains("<aktuelAdresse>") && !x.contains("<relationer>"));
        // A protected address needs SeBeskyttetAdresse.
        let mut beskyttet = p.clone();
        beskyttet.adressebeskyttelse = true;
        assert!(!svar(&beskyttet, &reg, idag, Udsnit::af([])).contains("<aktuelAdresse>"));
        let se = Udsnit::af([("SeBeskyttetAdresse", "ja")]);
        assert!(svar(&beskyttet, &reg, idag, se).contains("<aktuelAdresse>"));
        assert!(Udsnit::af([("Udelad", "cpr")]).eller(Udsnit::af([])).cpr);
    }

    #[test]
    fn requests_are_read_strictly() {
        let f = laes_str(&format!(
            "<p:PersonLookupRequest xmlns:p=\"{REQ}\" xmlns:a=\"{NS_AUTCTX}\" xmlns:i=\"{NS_INVCTX}\" xmlns:c=\"{NS_PNR}\">\
<a:AuthorityContext><a:MunicipalityCVR>29189854</a:MunicipalityCVR></a:AuthorityContext>\
<i:InvocationContext><i:UserUUID>{u}</i:UserUUID><i:ServiceUUID>{u}</i:ServiceUUID>\
<i:ServiceAgreementUUID>{u}</i:ServiceAgreementUUID><i:UserSystemUUID>{u}</i:UserSystemUUID></i:InvocationContext>\
<c:PNR>0101011234</c:PNR></p:PersonLookupRequest>",
            u = Uuid::nil()
        ))
        .unwrap();
        assert_eq!(f.pnr, "0101011234");
        assert_eq!(f.myndighed.as_deref(), Some("29189854"));
        assert_eq!(f.invocation.unwrap().service, Uuid::nil());
        for (bad, why) in [
            (
                format!("<p:PersonLookupRequest xmlns:p=\"{REQ}\"/>"),
                "PNR is missing",
            ),
            (
                format!(
                    "<p:PersonLookupRequest xmlns:p=\"{REQ}\" xmlns:c=\"{NS_PNR}\"><c:PNR>1</c:PNR><c:PNR>2</c:PNR></p:PersonLookupRequest>"
                ),
                "unexpected element PNR",
            ),
            (
                format!(
                    "<p:PersonLookupRequest xmlns:p=\"{REQ}\" xmlns:a=\"{NS_AUTCTX}\" xmlns:c=\"{NS_PNR}\"><c:PNR>1</c:PNR><a:AuthorityContext/></p:PersonLookupRequest>"
                ),
                "unexpected element AuthorityContext",
            ),
            (
                format!(
                    "<p:PersonLookupRequest xmlns:p=\"{REQ}\" xmlns:i=\"{NS_INVCTX}\" xmlns:c=\"{NS_PNR}\"><i:InvocationContext><i:UserUUID>x</i:UserUUID></i:InvocationContext><c:PNR>1</c:PNR></p:PersonLookupRequest>"
                ),
                "ServiceAgreementUUID is missing",
            ),
            (
                format!(
                    "<p:PersonLookupRequest xmlns:p=\"{REQ}\" xmlns:c=\"{NS_PNR}\"><c:PNR>01010112345</c:PNR></p:PersonLookupRequest>"
                ),
                "longer than 10",
            ),
            (
                format!("<p:Andet xmlns:p=\"{REQ}\"/>"),
                "not a PersonLookupRequest",
            ),
        ] {
            let e = laes_str(&bad).unwrap_err();
            assert!(e.contains(why), "{e} / {bad}");
        }
    }

    #[test]
    fn the_answer_carries_the_person_and_the_family() {
        let pop = generate(&Parametre::new("0751", 500, 11), |_| {});
        let mut reg = Register::new();
        reg.tilfoej(pop.clone());
        let idag = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let foraelder = pop
            .personer
            .iter()
            .find(|p| p.boern.len() >= 2 && p.aegtefaelle.is_some())
            .expect("a parent with a spouse");
        let x = svar(foraelder, &reg, idag, Udsnit::ALT);
        let d = roxmltree::Document::parse(&x).unwrap();
        let t = |navn: &str| -> Vec<String> {
            d.descendants()
                .filter(|n| n.has_tag_name((NS, navn)))
                .map(|n| n.text().unwrap_or("").to_owned())
                .collect()
        };
        assert_eq!(t("personnummer")[0], foraelder.cpr.as_digits());
        assert_eq!(t("efternavn"), vec![foraelder.efternavn.clone()]);
        assert_eq!(t("alder"), vec![foraelder.alder(idag).to_string()]);
        let boern: Vec<String> = d
            .descendants()
            .filter(|n| n.has_tag_name((NS, "barn")))
            .map(|n| n.first_element_child().unwrap().text().unwrap().to_owned())
            .collect();
        assert_eq!(
            boern,
            foraelder
                .boern
                .iter()
                .map(Cpr::as_digits)
                .collect::<Vec<_>>()
        );
        let under18 = foraelder
            .boern
            .iter()
            .filter(|c| reg.person(c).unwrap().alder(idag) < 18)
            .count();
        assert_eq!(t("antalBoernUnder18"), vec![under18.to_string()]);
        assert_eq!(t("kommunekode"), vec!["751"]);
        let barn = reg.person(&foraelder.boern[0]).unwrap();
        let x = svar(barn, &reg, idag, Udsnit::ALT);
        assert!(
            x.contains(&format!(
                "<relationPersonnummer>{}</relationPersonnummer>",
                barn.foraeldremyndighed
                    .first()
                    .map(Cpr::as_digits)
                    .unwrap_or_default()
            )) || barn.foraeldremyndighed.is_empty()
        );
    }
}
