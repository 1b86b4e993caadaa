//! Writing the answers: `sd:MultipleOutputType` (importer, opdater, fjern: one `UnikRetur` per
//! object, or one `StandardRetur` for a refused request), `sd:BasicOutputType` (passiver,
//! slet, kasser), and `sdi:FremsoegSagDokumentIndeksOutput`
//! (`../shared/specs/sf1470-sagdokumentindeks/wsdl/xsd/6.0.STS-0/SagDokumentIndeksOperationer.xsd`,
//! `../common/SagDokObjekt.xsd`). SF1490's answers are the same types in its namespaces
//! (`../shared/specs/sf1490-ydelsesindeks/xsd/6.0.STS-0/YdelseIndeksOperationer.xsd`), and
//! `yi:FremsoegYdelseIndeksOutput` ([`ydelse_fremsoeg_start`]).

use fki_organisation::StatusKode;
use fki_organisation::svar::tekst_element;
use uuid::Uuid;

use crate::sagdok::{NS_DI, NS_SAG, NS_SDI, NS_SI, XMLNS, standard_retur, standard_retur_indhold};
use crate::ydelse::{self, NS_BI, NS_OEF, NS_YI};

fn prefix(ns: &str) -> &'static str {
    match ns {
        NS_SAG => "sag",
        NS_SI => "si",
        NS_DI => "di",
        NS_YI => "yi",
        NS_BI => "bi",
        NS_OEF => "oef",
        _ => "sdi",
    }
}

/// `<p:{element} xmlns…>` for an output element in namespace `ns`.
pub fn aabn(ns: &str, element: &str) -> String {
    let xmlns = if [NS_YI, NS_BI, NS_OEF].contains(&ns) {
        ydelse::XMLNS
    } else {
        XMLNS
    };
    format!("<{}:{element}{xmlns}>", prefix(ns))
}

/// `</p:{element}>`.
pub fn luk(s: &mut String, ns: &str, element: &str) {
    s.push_str(&format!("</{}:{element}>", prefix(ns)));
}

/// A MultipleOutput with one `UnikRetur` per object (`Type`: `SagIndeks`/`DokumentIndeks`).
pub fn unikke(ns: &str, element: &str, svar: &[(&str, Uuid)]) -> String {
    let mut s = aabn(ns, element);
    for (typ, uuid) in svar {
        s.push_str("<sd:UnikRetur>");
        standard_retur_indhold(&mut s, StatusKode::Ok, None);
        tekst_element(&mut s, "sd", "Type", typ);
        tekst_element(&mut s, "sd", "UUIDIdentifikator", &uuid.to_string());
        s.push_str("</sd:UnikRetur>");
    }
    luk(&mut s, ns, element);
    s
}

/// An output whose only content is a `StandardRetur` (a BasicOutput, or a MultipleOutput of a
/// refused request).
pub fn standard(ns: &str, element: &str, kode: StatusKode, tekst: Option<&str>) -> String {
    let mut s = aabn(ns, element);
    standard_retur(&mut s, kode, tekst);
    luk(&mut s, ns, element);
    s
}

/// The paging of one kind in a fremsoeg answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Antal {
    /// `sager` or `dokumenter`.
    pub element: &'static str,
    /// All hits.
    pub antal: usize,
    pub foerste: usize,
    pub maks: usize,
}

/// Start a fremsoeg answer: StandardRetur 20 and the counts; the caller appends the
/// `sdi:SagFiltreretOejebliksbillede` / `sdi:DokumentFiltreretOejebliksbillede` and calls
/// [`luk`] with [`NS_SDI`], `FremsoegSagDokumentIndeksOutput`.
pub fn fremsoeg_start(antal: &[Antal]) -> String {
    let mut s = aabn(NS_SDI, "FremsoegSagDokumentIndeksOutput");
    standard_retur(&mut s, StatusKode::Ok, None);
    for a in antal {
        s.push_str("<sdi:Antal>");
        tekst_element(&mut s, "sdi", "Element", a.element);
        tekst_element(&mut s, "sdi", "Antal", &a.antal.to_string());
        s.push_str("<sdi:Paginering>");
        tekst_element(
            &mut s,
            "sd",
            "FoersteResultatReference",
            &a.foerste.to_string(),
        );
        tekst_element(&mut s, "sd", "MaksimalAntalKvantitet", &a.maks.to_string());
        s.push_str("</sdi:Paginering>");
        s.push_str("</sdi:Antal>");
    }
    s
}

/// One `yi:Antal`: element, count, paging (first, max).
pub type Optaelling<'a> = (&'a str, usize, Option<(usize, usize)>);

/// Start a `yi:FremsoegYdelseIndeksOutput`: StandardRetur 20 and one `yi:Antal` per
/// (element, count, paging) (`bevillinger`, `ydelser`, `effektueringer`;
/// `YdelseIndeksOperationer.xsd:113`); the caller appends the
/// `yi:BevillingFiltreretOejebliksbillede` / `yi:OekonomiskEffektueringFiltreretOejebliksbillede`
/// and calls [`luk`] with [`NS_YI`], `FremsoegYdelseIndeksOutput`.
pub fn ydelse_fremsoeg_start(antal: &[Optaelling<'_>]) -> String {
    let mut s = aabn(NS_YI, "FremsoegYdelseIndeksOutput");
    standard_retur(&mut s, StatusKode::Ok, None);
    for (element, n, paging) in antal {
        s.push_str("<yi:Antal>");
        tekst_element(&mut s, "yi", "Element", element);
        tekst_element(&mut s, "yi", "Antal", &n.to_string());
        if let Some((foerste, maks)) = paging {
            s.push_str("<yi:Paginering>");
            tekst_element(
                &mut s,
                "sd",
                "FoersteResultatReference",
                &foerste.to_string(),
            );
            tekst_element(&mut s, "sd", "MaksimalAntalKvantitet", &maks.to_string());
            s.push_str("</yi:Paginering>");
        }
        s.push_str("</yi:Antal>");
    }
    s
}
