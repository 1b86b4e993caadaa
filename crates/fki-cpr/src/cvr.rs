//! SF1530 CVR Online v2: the five operations' requests read strictly and their answers written
//! in the schemas' order, from fki's synthetic companies ([`Virksomhed`]). No I/O: the server
//! (`fki_server::cvr`) adds WS-Security, the route and the context checks.
//!
//! The contract, `../shared/specs/sf1530-cvr/`:
//! - `wsdl/token/OnlineService.wsdl`: the operations `getLegalUnit`, `getProductionUnit`,
//!   `getRelatedProductionUnitNameAndAddress`, `searchLegalUnit`, `searchProductionUnit`, SOAP
//!   1.1 document/literal, soapAction `http://rep.oio.dk/eogs/xml.wsdl/2/<operation>`, at
//!   `/service/CVR/Online/2`; `sp/service.properties`: entity ID and service UUID;
//! - `OnlineServiceMsg.xsd`: the wrappers ([`NS_MSG`]): `CallContext`?, `InvocationContext`?,
//!   then CVR's own request; an answer wraps CVR's own answer. There is no `AuthorityContext`;
//! - `SF1530_EP_CVR1-5/xsd/CvrServiceSourceSystem_schema.xsd` ([`NS_WSDL`]): CVR's requests,
//!   answers and search criteria; `CvrServiceSourceSystem_schema_1.xsd` ([`NS_CVR`]): `LegalUnit`,
//!   `ProductionUnit`, addresses; `_schema_2.xsd` … `_schema_12.xsd`: the dkcc, cpr, xkom, kms,
//!   itst elements those use;
//! - `sp/ServiceplatformFault_1.xsd`: the fault detail ([`crate::personlookup::fault_detail`]).
//!
//! # From a generated company
//!
//! - `LegalUnit`: the CVR number, the name (`sequenceNumber` 1), the start date
//!   ([`startdato`]: when the company moved to its address, the generator's founding date), the
//!   address as `AddressOfficial` (`AddressAccess` with kommunekode, vejkode and husnummer;
//!   `AddressPostalExtended` with street, number, floor, door, postnummer, district and the
//!   region of the kommune, [`regionskode`]; country `DK`), the branchekode as `MainActivity`,
//!   the company form as `BusinessFormat` ([`virksomhedsform`]) and the P-numbers as
//!   `ProductionUnitAffiliationCollection`;
//! - `ProductionUnit`: each P-number with the company's name and address (the population holds
//!   one address per company), the first P-number as the main division (`MainDivisionIndicator`),
//!   `LegalUnitAffiliation` to the company, the company's activity;
//! - required elements fki has no data for, derived deterministically: `AdvertisingProtectionIndicator`
//!   ([`reklamebeskyttet`]), `ExporterIndicator`/`ImporterIndicator`/`AncillaryUnitIndicator`
//!   false, `versionIdentifier` 1, `DataSupplierIdentifier` [`DATALEVERANDOER`],
//!   `MunicipalCommunity` false;
//! - left out (optional, and not in the population): `AddressPostal`, `AddressPOBox`,
//!   `AddressLineText`, `ActivityDescription`, secondary activities, employment, contact
//!   information, creditor information, obligations, participants, `CessationDate` (every
//!   generated company is active).
//!
//! The `level` of `GetLegalUnitRequest` and `GetProductionUnitRequest` is read (a positive
//! integer, as the schema wants) and does not change the answer: every level gets all of the above.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use roxmltree::Node;

use crate::personlookup::{
    InvocationContext, NS_CALLCTX, NS_INVCTX, elementer, escape, invocation_context, is, tekst,
};
use crate::population::{Adresse, Virksomhed};

/// The wrappers of `OnlineServiceMsg.xsd`.
pub const NS_MSG: &str = "http://rep.oio.dk/eogs/xml/2/";
/// CVR's requests and answers (`CvrServiceSourceSystem_schema.xsd`).
pub const NS_WSDL: &str = "http://rep.oio.dk/eogs/xml.wsdl/";
/// CVR's types (`CvrServiceSourceSystem_schema_1.xsd`).
pub const NS_CVR: &str = "http://rep.oio.dk/eogs/xml.schema/";
/// `StreetName`, `PostCodeIdentifier`, `DistrictName` (`_schema_8.xsd`).
pub const NS_DKCC2005: &str = "http://rep.oio.dk/ebxml/xml/schemas/dkcc/2005/03/15/";
/// `StreetBuildingIdentifier`, `FloorIdentifier`, `SuiteIdentifier`,
/// `CountryIdentificationCode` (`_schema_2.xsd`).
pub const NS_DKCC2003: &str = "http://rep.oio.dk/ebxml/xml/schemas/dkcc/2003/02/13/";
/// `MunicipalityCode`, `StreetCode` (`_schema_5.xsd`).
pub const NS_CPR_CORE: &str = "http://rep.oio.dk/cpr.dk/xml/schemas/core/2005/03/18/";
/// `PersonCivilregistrationIdentifier` (`_schema_12.xsd`).
pub const NS_CPR1: &str = "http://rep.oio.dk/cpr.dk/xml/schemas/2007/01/02/";
/// `AddressAccess` (`_schema_6.xsd`).
pub const NS_XKOM2005: &str = "http://rep.oio.dk/xkom.dk/xml/schemas/2005/03/15/";
/// `RegionCode` (`_schema_4.xsd`).
pub const NS_KMS: &str = "http://rep.oio.dk/kms.dk/xml/schemas/2007/05/23/";
/// `CareOfName` (`_schema_3.xsd`).
pub const NS_ITST: &str = "http://rep.oio.dk/itst.dk/xml/schemas/2005/06/24/";
/// `ExporterIndicator`, `ImporterIndicator` (`_schema_11.xsd`).
pub const NS_CVR2005: &str = "http://rep.oio.dk/cvr.dk/xml/schemas/2005/03/22/";
/// `AuthorityContext`: not part of SF1530's requests (named in the refusal).
pub const NS_AUTCTX: &str = crate::personlookup::NS_AUTCTX;
const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Entity ID of CVR Online v2 (`sp/service.properties`).
pub const ENTITY_ID: &str = "http://cvr.serviceplatformen.dk/service/online/2";
/// KOMBIT's UUID of the service (`sp/service.properties`): clients copy it into
/// `InvocationContext/ServiceUUID`.
pub const KOMBIT_SERVICE_UUID: uuid::Uuid = uuid::uuid!("c0daecde-e278-43b7-84fd-477bfeeea027");
/// Where the service answers (the WSDL's address path).
pub const STI: &str = "/service/CVR/Online/2";
/// The soapActions: this followed by the operation's name.
pub const SOAP_ACTION_PREFIX: &str = "http://rep.oio.dk/eogs/xml.wsdl/2/";

/// Most results a search returns, and how many when the request does not say.
pub const MAKS_RESULTATER: u64 = 1000;
pub const STANDARD_RESULTATER: u64 = 100;
/// `BusinessFormat/DataSupplierIdentifier` (required; fki's choice: Erhvervsstyrelsen, who keeps
/// CVR).
pub const DATALEVERANDOER: &str = "ERST";

/// fki's `ErrorCode`s for this service (with [`crate::personlookup`]'s for requests and contexts).
pub mod fejlkode {
    /// Not a valid request (the text names what is wrong).
    pub const UGYLDIG_FORESPOERGSEL: &str = "UgyldigForespoergsel";
    /// No company with that CVR number.
    pub const VIRKSOMHED_IKKE_FUNDET: &str = "VirksomhedIkkeFundet";
    /// No production unit with that P-number.
    pub const PRODUKTIONSENHED_IKKE_FUNDET: &str = "ProduktionsenhedIkkeFundet";
}

/// The five operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    GetLegalUnit,
    SearchLegalUnit,
    GetProductionUnit,
    SearchProductionUnit,
    GetRelatedProductionUnitNameAndAddress,
}

impl Operation {
    pub const ALLE: [Operation; 5] = [
        Operation::GetLegalUnit,
        Operation::SearchLegalUnit,
        Operation::GetProductionUnit,
        Operation::SearchProductionUnit,
        Operation::GetRelatedProductionUnitNameAndAddress,
    ];

    /// The WSDL's operation name.
    pub fn navn(self) -> &'static str {
        match self {
            Operation::GetLegalUnit => "getLegalUnit",
            Operation::SearchLegalUnit => "searchLegalUnit",
            Operation::GetProductionUnit => "getProductionUnit",
            Operation::SearchProductionUnit => "searchProductionUnit",
            Operation::GetRelatedProductionUnitNameAndAddress => {
                "getRelatedProductionUnitNameAndAddress"
            }
        }
    }

    /// The binding's soapAction.
    pub fn soap_action(self) -> String {
        format!("{SOAP_ACTION_PREFIX}{}", self.navn())
    }

    /// The request element (the same local name in [`NS_MSG`] and [`NS_WSDL`]).
    pub fn request(self) -> &'static str {
        match self {
            Operation::GetLegalUnit => "GetLegalUnitRequest",
            Operation::SearchLegalUnit => "SearchLegalUnitRequest",
            Operation::GetProductionUnit => "GetProductionUnitRequest",
            Operation::SearchProductionUnit => "SearchProductionUnitRequest",
            Operation::GetRelatedProductionUnitNameAndAddress => {
                "GetRelatedProductionUnitNameAndAddressRequest"
            }
        }
    }

    /// The response element (the same local name in [`NS_MSG`] and [`NS_WSDL`]).
    pub fn response(self) -> &'static str {
        match self {
            Operation::GetLegalUnit => "GetLegalUnitResponse",
            Operation::SearchLegalUnit => "SearchLegalUnitResponse",
            Operation::GetProductionUnit => "GetProductionUnitResponse",
            Operation::SearchProductionUnit => "SearchProductionUnitResponse",
            Operation::GetRelatedProductionUnitNameAndAddress => {
                "GetRelatedProductionUnitNameAndAddressResponse"
            }
        }
    }
}

/// A read request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forespoergsel {
    pub invocation: Option<InvocationContext>,
    pub kald: Kald,
}

impl Forespoergsel {
    pub fn operation(&self) -> Operation {
        match self.kald {
            Kald::LegalUnit { .. } => Operation::GetLegalUnit,
            Kald::SearchLegalUnit(_) => Operation::SearchLegalUnit,
            Kald::ProductionUnit { .. } => Operation::GetProductionUnit,
            Kald::SearchProductionUnit(_) => Operation::SearchProductionUnit,
            Kald::RelatedProductionUnits { .. } => {
                Operation::GetRelatedProductionUnitNameAndAddress
            }
        }
    }
}

/// What is asked. Numbers are normalised: a CVR number as 8 digits, a P-number as 10.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kald {
    LegalUnit { cvr: String, level: String },
    ProductionUnit { p_nummer: String, level: String },
    RelatedProductionUnits { cvr: String },
    SearchLegalUnit(Soegning),
    SearchProductionUnit(Soegning),
}

/// The search criteria of `SearchLegalUnitRequest` and `SearchProductionUnitRequest` (the
/// latter has no `BusinessFormatCode`, `CreditorStatusCode`, production-unit count or
/// participant; the former no `LegalUnitIdentifier`). Every given criterion must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Soegning {
    /// `SearchName`: every word occurs in the name (case-insensitive).
    pub navn: Option<String>,
    pub adresse: Option<SoegAdresse>,
    /// `SearchContactInformation/term`: fki's companies have no contact information, so
    /// nothing matches.
    pub kontakt: Option<String>,
    /// `ActivityCode`: the branchekode.
    pub branchekode: Option<String>,
    /// `BusinessFormatCode`: [`virksomhedsform`].
    pub virksomhedsform: Option<u16>,
    /// `SearchLifecycleStartDateInterval`: the start date within these (inclusive) bounds.
    pub startdato_fra: Option<NaiveDate>,
    pub startdato_til: Option<NaiveDate>,
    /// `SearchLifecycleStatus`: `active` (true) or `all` (false); every generated company is
    /// active.
    pub kun_aktive: Option<bool>,
    /// `CreditorStatusCode`, `EmploymentIntervalCode`, `PersonCivilregistrationIdentifier`: not
    /// in the population, so nothing matches.
    pub kreditorstatus: Option<u8>,
    pub beskaeftigelse: Option<String>,
    pub deltager_cpr: Option<String>,
    /// `SearchNumberOfProductionUnitInterval`: bounds on the number of P-numbers.
    pub antal_p_fra: Option<u64>,
    pub antal_p_til: Option<u64>,
    /// `LegalUnitIdentifier` (production units): the units of this company.
    pub cvr: Option<String>,
    /// `AdvertisingProtectionIndicator`: [`reklamebeskyttet`].
    pub reklamebeskyttet: Option<bool>,
    /// `maximumNumberOfResultsType`, as sent.
    pub maks: Option<u64>,
}

/// `SearchAddress`: every given part must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SoegAdresse {
    /// `StreetName`, whole, case-insensitive.
    pub vejnavn: Option<String>,
    /// `StreetBuildingIdentifier`, case-insensitive.
    pub husnummer: Option<String>,
    /// `CareOfName`: fki's addresses have none, so nothing matches.
    pub co_navn: Option<String>,
    /// `PostCodeIdentifier`, 4 digits.
    pub postnummer: Option<u16>,
    /// `MunicipalityCode`, 4 digits.
    pub kommunekode: Option<String>,
    /// `RegionCode`, 4 digits ([`regionskode`]).
    pub regionskode: Option<String>,
}

impl Soegning {
    /// No criterion (the bound is not one).
    fn er_tom(&self) -> bool {
        *self
            == Soegning {
                maks: self.maks,
                ..Soegning::default()
            }
    }
}

// ------------------------------------------------------------------------------ reading

/// Reads a sequence of elements whose members are each optional, in the schema's order.
struct Sekvens<'a, 'i> {
    boern: Vec<Node<'a, 'i>>,
    i: usize,
    hvor: &'static str,
}

impl<'a, 'i> Sekvens<'a, 'i> {
    fn new(n: Node<'a, 'i>, hvor: &'static str) -> Result<Self, String> {
        Ok(Sekvens {
            boern: elementer(n)?,
            i: 0,
            hvor,
        })
    }

    fn opt(&mut self, ns: &str, navn: &str) -> Option<Node<'a, 'i>> {
        let n = self
            .boern
            .get(self.i)
            .copied()
            .filter(|n| is(*n, ns, navn))?;
        self.i += 1;
        Some(n)
    }

    fn kraev(&mut self, ns: &str, navn: &str) -> Result<Node<'a, 'i>, String> {
        self.opt(ns, navn)
            .ok_or_else(|| format!("{}: {navn} is missing or out of order", self.hvor))
    }

    /// Nothing may follow.
    fn slut(&self) -> Result<(), String> {
        match self.boern.get(self.i) {
            Some(n) => Err(format!(
                "{}: unexpected element {{{}}}{} here (unknown, repeated or out of order)",
                self.hvor,
                n.tag_name().namespace().unwrap_or(""),
                n.tag_name().name()
            )),
            None => Ok(()),
        }
    }
}

/// Only the attributes `tilladte` (without namespace) and `xsi:` ones.
fn attributter<'a>(
    n: Node<'a, '_>,
    tilladte: &[&str],
) -> Result<BTreeMap<&'a str, &'a str>, String> {
    let mut out = BTreeMap::new();
    for a in n.attributes() {
        match a.namespace() {
            Some(NS_XSI) => {}
            None if tilladte.contains(&a.name()) => {
                out.insert(a.name(), a.value());
            }
            _ => {
                return Err(format!(
                    "{}: unexpected attribute {}",
                    n.tag_name().name(),
                    a.name()
                ));
            }
        }
    }
    Ok(out)
}

fn ingen_attributter(n: Node<'_, '_>) -> Result<(), String> {
    attributter(n, &[]).map(|_| ())
}

/// An `xsd:integer` (optional sign, digits; whitespace collapsed) within `min..=max`.
fn heltal(felt: &str, v: &str, min: u64, max: u64) -> Result<u64, String> {
    let v = v.trim();
    let cifre = v.strip_prefix('+').unwrap_or(v);
    let tal = if !cifre.is_empty() && cifre.bytes().all(|b| b.is_ascii_digit()) {
        let uden_nuller = cifre.trim_start_matches('0');
        if uden_nuller.len() > 19 {
            None
        } else {
            Some(uden_nuller.parse::<u64>().unwrap_or(0))
        }
    } else {
        None
    };
    match tal {
        Some(t) if (min..=max).contains(&t) => Ok(t),
        _ => Err(format!("{felt}: '{v}' is not an integer in {min}..{max}")),
    }
}

/// An `xsd:positiveInteger` of any size, normalised (no sign, no leading zeros).
fn positivt_heltal(felt: &str, v: &str) -> Result<String, String> {
    let v = v.trim();
    let cifre = v.strip_prefix('+').unwrap_or(v);
    let uden_nuller = cifre.trim_start_matches('0');
    if cifre.is_empty() || !cifre.bytes().all(|b| b.is_ascii_digit()) || uden_nuller.is_empty() {
        return Err(format!("{felt}: '{v}' is not a positive integer"));
    }
    Ok(uden_nuller.to_owned())
}

fn boolsk(felt: &str, v: &str) -> Result<bool, String> {
    match v.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        v => Err(format!("{felt}: '{v}' is not a boolean")),
    }
}

/// An `xsd:date`: `YYYY-MM-DD`, optionally with a time zone (`Z` or `±hh:mm`; ignored: dates
/// are days).
fn dato(felt: &str, v: &str) -> Result<NaiveDate, String> {
    let v = v.trim();
    let fejl = || format!("{felt}: '{v}' is not a date (YYYY-MM-DD)");
    let (Some(d), Some(zone)) = (v.get(..10), v.get(10..)) else {
        return Err(fejl());
    };
    let zb = zone.as_bytes();
    let zone_ok = zone.is_empty()
        || zone == "Z"
        || (zb.len() == 6
            && matches!(zb[0], b'+' | b'-')
            && zb[1..3].iter().all(u8::is_ascii_digit)
            && zb[3] == b':'
            && zb[4..].iter().all(u8::is_ascii_digit));
    match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
        Ok(dato) if zone_ok => Ok(dato),
        _ => Err(fejl()),
    }
}

fn cifre(felt: &str, v: &str, n: usize) -> Result<String, String> {
    let v = v.trim();
    if v.len() == n && v.bytes().all(|b| b.is_ascii_digit()) {
        Ok(v.to_owned())
    } else {
        Err(format!("{felt}: '{v}' is not {n} digits"))
    }
}

/// `LegalUnitIdentifier`: an integer 10000000..99999999, as 8 digits.
fn cvr_nummer(n: Node<'_, '_>) -> Result<String, String> {
    ingen_attributter(n)?;
    heltal("LegalUnitIdentifier", &tekst(n)?, 10_000_000, 99_999_999).map(|t| t.to_string())
}

/// `ProductionUnitIdentifier`: an integer 1000000000..9999999999, as 10 digits.
fn p_nummer(n: Node<'_, '_>) -> Result<String, String> {
    ingen_attributter(n)?;
    heltal(
        "ProductionUnitIdentifier",
        &tekst(n)?,
        1_000_000_000,
        9_999_999_999,
    )
    .map(|t| t.to_string())
}

/// A text-only element without attributes.
fn blad(n: Node<'_, '_>) -> Result<String, String> {
    ingen_attributter(n)?;
    tekst(n)
}

/// Read the Body's request: one of the five `OnlineServiceMsg.xsd` wrappers, with
/// `CallContext`?, `InvocationContext`? and CVR's request, in that order. The error names what
/// is wrong.
pub fn laes(op: Node<'_, '_>) -> Result<Forespoergsel, String> {
    let Some(operation) = Operation::ALLE
        .into_iter()
        .find(|o| is(op, NS_MSG, o.request()))
    else {
        return Err(format!(
            "{{{}}}{} is not one of SF1530's requests (GetLegalUnitRequest, SearchLegalUnitRequest, \
GetProductionUnitRequest, SearchProductionUnitRequest, GetRelatedProductionUnitNameAndAddressRequest \
in {NS_MSG})",
            op.tag_name().namespace().unwrap_or(""),
            op.tag_name().name()
        ));
    };
    ingen_attributter(op)?;
    let mut s = Sekvens::new(op, operation.request())?;
    // CallContext is the older context; read and not used.
    if let Some(c) = s.opt(NS_CALLCTX, "CallContext") {
        let mut set = Vec::new();
        for e in elementer(c)? {
            let navn = e.tag_name().name();
            let kendt = [
                "OnBehalfOfUser",
                "CallersServiceCallIdentifier",
                "AccountingInfo",
            ];
            if !kendt.iter().any(|k| is(e, NS_CALLCTX, k)) {
                return Err(format!("CallContext: unexpected element {navn}"));
            }
            if set.contains(&navn) {
                return Err(format!("CallContext: {navn} is given twice"));
            }
            set.push(navn);
            blad(e)?;
        }
    }
    let invocation = match s.opt(NS_INVCTX, "InvocationContext") {
        Some(c) => Some(invocation_context(c)?),
        None => None,
    };
    if s.boern
        .get(s.i)
        .is_some_and(|n| is(*n, NS_AUTCTX, "AuthorityContext"))
    {
        return Err(format!(
            "{}: AuthorityContext is not part of SF1530's requests (OnlineServiceMsg.xsd); the \
municipality is the token's",
            operation.request()
        ));
    }
    let indre = s.kraev(NS_WSDL, operation.request())?;
    s.slut()?;
    let kald = match operation {
        Operation::GetLegalUnit => {
            let level = niveau(indre)?;
            let mut s = Sekvens::new(indre, "GetLegalUnitRequest")?;
            let cvr = cvr_nummer(s.kraev(NS_CVR, "LegalUnitIdentifier")?)?;
            s.slut()?;
            Kald::LegalUnit { cvr, level }
        }
        Operation::GetProductionUnit => {
            let level = niveau(indre)?;
            let mut s = Sekvens::new(indre, "GetProductionUnitRequest")?;
            let p = p_nummer(s.kraev(NS_CVR, "ProductionUnitIdentifier")?)?;
            s.slut()?;
            Kald::ProductionUnit { p_nummer: p, level }
        }
        Operation::GetRelatedProductionUnitNameAndAddress => {
            ingen_attributter(indre)?;
            let mut s = Sekvens::new(indre, "GetRelatedProductionUnitNameAndAddressRequest")?;
            let cvr = cvr_nummer(s.kraev(NS_CVR, "LegalUnitIdentifier")?)?;
            s.slut()?;
            Kald::RelatedProductionUnits { cvr }
        }
        Operation::SearchLegalUnit => Kald::SearchLegalUnit(soegning(indre, true)?),
        Operation::SearchProductionUnit => Kald::SearchProductionUnit(soegning(indre, false)?),
    };
    Ok(Forespoergsel { invocation, kald })
}

/// The required `level` attribute.
fn niveau(n: Node<'_, '_>) -> Result<String, String> {
    let a = attributter(n, &["level"])?;
    let v = a
        .get("level")
        .ok_or_else(|| format!("{}: the attribute level is missing", n.tag_name().name()))?;
    positivt_heltal("level", v)
}

/// `SearchLegalUnitRequestType` (`juridisk`) or `SearchProductionUnitRequestType`: the criteria
/// in the schema's order.
fn soegning(n: Node<'_, '_>, juridisk: bool) -> Result<Soegning, String> {
    let a = attributter(n, &["maximumNumberOfResultsType"])?;
    let mut q = Soegning {
        maks: match a.get("maximumNumberOfResultsType") {
            Some(v) => {
                let t = positivt_heltal("maximumNumberOfResultsType", v)?;
                Some(t.parse().unwrap_or(u64::MAX))
            }
            None => None,
        },
        ..Soegning::default()
    };
    let hvor = if juridisk {
        "SearchLegalUnitRequest"
    } else {
        "SearchProductionUnitRequest"
    };
    let mut s = Sekvens::new(n, hvor)?;
    if let Some(e) = s.opt(NS_WSDL, "SearchName") {
        q.navn = Some(blad(e)?).filter(|t| !t.is_empty());
    }
    if let Some(e) = s.opt(NS_WSDL, "SearchAddress") {
        ingen_attributter(e)?;
        let mut a = SoegAdresse::default();
        let mut s = Sekvens::new(e, "SearchAddress")?;
        if let Some(x) = s.opt(NS_DKCC2005, "StreetName") {
            a.vejnavn = Some(blad(x)?);
        }
        if let Some(x) = s.opt(NS_DKCC2003, "StreetBuildingIdentifier") {
            a.husnummer = Some(blad(x)?);
        }
        if let Some(x) = s.opt(NS_ITST, "CareOfName") {
            a.co_navn = Some(blad(x)?);
        }
        if let Some(x) = s.opt(NS_DKCC2005, "PostCodeIdentifier") {
            a.postnummer = Some(
                cifre("PostCodeIdentifier", &blad(x)?, 4)?
                    .parse()
                    .unwrap_or(0),
            );
        }
        if let Some(x) = s.opt(NS_CPR_CORE, "MunicipalityCode") {
            a.kommunekode = Some(cifre("MunicipalityCode", &blad(x)?, 4)?);
        }
        if let Some(x) = s.opt(NS_KMS, "RegionCode") {
            a.regionskode = Some(cifre("RegionCode", &blad(x)?, 4)?);
        }
        s.slut()?;
        if a != SoegAdresse::default() {
            q.adresse = Some(a);
        }
    }
    if let Some(e) = s.opt(NS_WSDL, "SearchContactInformation") {
        ingen_attributter(e)?;
        let mut s = Sekvens::new(e, "SearchContactInformation")?;
        q.kontakt = Some(blad(s.kraev(NS_WSDL, "term")?)?);
        s.slut()?;
    }
    if let Some(e) = s.opt(NS_CVR, "ActivityCode") {
        q.branchekode = Some(cifre("ActivityCode", &blad(e)?, 6)?);
    }
    if juridisk && let Some(e) = s.opt(NS_CVR, "BusinessFormatCode") {
        q.virksomhedsform = Some(heltal("BusinessFormatCode", &blad(e)?, 0, 999)? as u16);
    }
    if let Some(e) = s.opt(NS_WSDL, "SearchLifecycleStartDateInterval") {
        ingen_attributter(e)?;
        let mut s = Sekvens::new(e, "SearchLifecycleStartDateInterval")?;
        if let Some(x) = s.opt(NS_WSDL, "StartDate") {
            q.startdato_fra = Some(dato("StartDate", &blad(x)?)?);
        }
        if let Some(x) = s.opt(NS_WSDL, "EndDate") {
            q.startdato_til = Some(dato("EndDate", &blad(x)?)?);
        }
        s.slut()?;
    }
    if let Some(e) = s.opt(NS_WSDL, "SearchLifecycleStatus") {
        q.kun_aktive = Some(match blad(e)?.as_str() {
            "active" => true,
            "all" => false,
            v => return Err(format!("SearchLifecycleStatus: '{v}' is not active or all")),
        });
    }
    if juridisk && let Some(e) = s.opt(NS_CVR, "CreditorStatusCode") {
        q.kreditorstatus = Some(heltal("CreditorStatusCode", &blad(e)?, 0, 99)? as u8);
    }
    if let Some(e) = s.opt(NS_CVR, "EmploymentIntervalCode") {
        let v = blad(e)?;
        if v.len() != 1 || !v.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "EmploymentIntervalCode: '{v}' is not one letter A-Z"
            ));
        }
        q.beskaeftigelse = Some(v);
    }
    if juridisk && let Some(e) = s.opt(NS_WSDL, "SearchNumberOfProductionUnitInterval") {
        ingen_attributter(e)?;
        let mut s = Sekvens::new(e, "SearchNumberOfProductionUnitInterval")?;
        if let Some(x) = s.opt(NS_WSDL, "StartNumber") {
            q.antal_p_fra = Some(heltal("StartNumber", &blad(x)?, 0, u64::MAX)?);
        }
        if let Some(x) = s.opt(NS_WSDL, "EndNumber") {
            q.antal_p_til = Some(heltal("EndNumber", &blad(x)?, 0, u64::MAX)?);
        }
        s.slut()?;
    }
    if juridisk && let Some(e) = s.opt(NS_CPR1, "PersonCivilregistrationIdentifier") {
        q.deltager_cpr = Some(cifre("PersonCivilregistrationIdentifier", &blad(e)?, 10)?);
    }
    if !juridisk && let Some(e) = s.opt(NS_CVR, "LegalUnitIdentifier") {
        q.cvr = Some(cvr_nummer(e)?);
    }
    if let Some(e) = s.opt(NS_CVR, "AdvertisingProtectionIndicator") {
        q.reklamebeskyttet = Some(boolsk("AdvertisingProtectionIndicator", &blad(e)?)?);
    }
    s.slut()?;
    if q.er_tom() {
        return Err(format!("{hvor}: give at least one search criterion"));
    }
    Ok(q)
}

// ------------------------------------------------------------------------------ the companies

/// The companies the service answers from, by CVR number and by P-number.
#[derive(Debug, Clone, Default)]
pub struct Virksomheder {
    efter_cvr: BTreeMap<String, Virksomhed>,
    /// P-number → (CVR number, its place among the company's P-numbers).
    efter_p: BTreeMap<String, (String, usize)>,
}

/// One production unit: a company and which of its P-numbers.
#[derive(Debug, Clone, Copy)]
pub struct Enhed<'a> {
    pub virksomhed: &'a Virksomhed,
    pub indeks: usize,
}

impl<'a> Enhed<'a> {
    pub fn p_nummer(&self) -> &'a str {
        &self.virksomhed.p_numre[self.indeks]
    }
}

impl FromIterator<Virksomhed> for Virksomheder {
    fn from_iter<T: IntoIterator<Item = Virksomhed>>(iter: T) -> Self {
        let mut v = Virksomheder::default();
        for x in iter {
            v.tilfoej(x);
        }
        v
    }
}

impl Virksomheder {
    pub fn new() -> Virksomheder {
        Virksomheder::default()
    }

    /// Add (or replace) a company.
    pub fn tilfoej(&mut self, v: Virksomhed) {
        if let Some(gammel) = self.efter_cvr.remove(&v.cvr) {
            for p in &gammel.p_numre {
                self.efter_p.remove(p);
            }
        }
        for (i, p) in v.p_numre.iter().enumerate() {
            self.efter_p.insert(p.clone(), (v.cvr.clone(), i));
        }
        self.efter_cvr.insert(v.cvr.clone(), v);
    }

    /// The companies of the register (the population files' `{"virksomhed": …}` lines), indexed
    /// by CVR and P-number.
    pub fn fra_register(reg: &crate::register::Register) -> Virksomheder {
        let mut v = Virksomheder::new();
        for x in reg.virksomheder() {
            v.tilfoej(x.clone());
        }
        v
    }

    pub fn virksomhed(&self, cvr: &str) -> Option<&Virksomhed> {
        self.efter_cvr.get(cvr)
    }

    pub fn produktionsenhed(&self, p: &str) -> Option<Enhed<'_>> {
        let (cvr, indeks) = self.efter_p.get(p)?;
        let virksomhed = self.efter_cvr.get(cvr)?;
        Some(Enhed {
            virksomhed,
            indeks: *indeks,
        })
    }

    /// Every company in CVR-number order.
    pub fn alle(&self) -> impl Iterator<Item = &Virksomhed> {
        self.efter_cvr.values()
    }

    pub fn len(&self) -> usize {
        self.efter_cvr.len()
    }

    pub fn is_empty(&self) -> bool {
        self.efter_cvr.is_empty()
    }

    /// `SearchLegalUnit`: the CVR numbers of the matching companies in CVR-number order, at most
    /// [`Soegning::maks`] (default [`STANDARD_RESULTATER`], at most [`MAKS_RESULTATER`]), and
    /// whether there are more.
    pub fn soeg_virksomheder(&self, q: &Soegning) -> (Vec<&str>, bool) {
        begraens(
            self.alle()
                .filter(|v| passer(v, q) && passer_juridisk(v, q))
                .map(|v| v.cvr.as_str()),
            q,
        )
    }

    /// `SearchProductionUnit`: the P-numbers of the matching units in P-number order, bounded as
    /// [`Virksomheder::soeg_virksomheder`].
    pub fn soeg_produktionsenheder(&self, q: &Soegning) -> (Vec<&str>, bool) {
        begraens(
            self.efter_p
                .keys()
                .filter_map(|p| self.produktionsenhed(p))
                .filter(|e| {
                    passer(e.virksomhed, q) && q.cvr.as_ref().is_none_or(|c| *c == e.virksomhed.cvr)
                })
                .map(|e| e.p_nummer()),
            q,
        )
    }
}

fn begraens<'a>(hits: impl Iterator<Item = &'a str>, q: &Soegning) -> (Vec<&'a str>, bool) {
    let maks = q
        .maks
        .unwrap_or(STANDARD_RESULTATER)
        .clamp(1, MAKS_RESULTATER) as usize;
    let mut hits = hits.peekable();
    let ud: Vec<&str> = hits.by_ref().take(maks).collect();
    let flere = hits.peek().is_some();
    (ud, flere)
}

/// The criteria a company and its production units share.
fn passer(v: &Virksomhed, q: &Soegning) -> bool {
    let a = &v.adresse;
    let navn = v.navn.to_lowercase();
    let start = startdato(v);
    q.navn.as_ref().is_none_or(|n| {
        n.split_whitespace()
            .all(|o| navn.contains(&o.to_lowercase()))
    }) && q.adresse.as_ref().is_none_or(|s| {
        s.vejnavn
            .as_ref()
            .is_none_or(|x| x.trim().to_lowercase() == a.vejnavn.to_lowercase())
            && s.husnummer
                .as_ref()
                .is_none_or(|x| x.trim().eq_ignore_ascii_case(&a.husnummer))
            && s.co_navn.is_none()
            && s.postnummer.is_none_or(|x| x == a.postnummer)
            && s.kommunekode.as_ref().is_none_or(|x| *x == a.kommunekode)
            && s.regionskode
                .as_ref()
                .is_none_or(|x| regionskode(&a.kommunekode) == Some(x.as_str()))
    }) && q.kontakt.is_none()
        && q.branchekode.as_ref().is_none_or(|x| *x == v.branchekode)
        && q.startdato_fra.is_none_or(|d| start >= d)
        && q.startdato_til.is_none_or(|d| start <= d)
        && q.beskaeftigelse.is_none()
        && q.reklamebeskyttet
            .is_none_or(|r| r == reklamebeskyttet(&v.cvr))
}

/// The criteria only a company has.
fn passer_juridisk(v: &Virksomhed, q: &Soegning) -> bool {
    let antal = v.p_numre.len() as u64;
    q.virksomhedsform.is_none_or(|f| f == virksomhedsform(v))
        && q.kreditorstatus.is_none()
        && q.antal_p_fra.is_none_or(|n| antal >= n)
        && q.antal_p_til.is_none_or(|n| antal <= n)
        && q.deltager_cpr.is_none()
}

// ------------------------------------------------------------------------------ derived values

/// The company's start date: when it moved to its address (the generator gives a company its
/// address on the day it was founded).
pub fn startdato(v: &Virksomhed) -> NaiveDate {
    v.adresse.tilflytningsdato
}

/// CVR's virksomhedsform code, from the company form that ends the generated name: ApS 80, A/S
/// 60, I/S 30, IVS 81, none (a sole proprietorship) 10.
pub fn virksomhedsform(v: &Virksomhed) -> u16 {
    match v.navn.rsplit(' ').next() {
        Some("ApS") => 80,
        Some("A/S") => 60,
        Some("I/S") => 30,
        Some("IVS") => 81,
        _ => 10,
    }
}

/// Reklamebeskyttelse, which the population does not hold: fki's deterministic choice, a CVR
/// number divisible by 7 (about one company in seven).
pub fn reklamebeskyttet(cvr: &str) -> bool {
    cvr.parse::<u64>().is_ok_and(|n| n % 7 == 0)
}

/// The region (`RegionCode`, the regions' CPR authority codes: 1081 Nordjylland, 1082
/// Midtjylland, 1083 Syddanmark, 1084 Hovedstaden, 1085 Sjælland) of a kommunekode; `None` for
/// a code that is not a Danish municipality (such as the demo's 0999).
pub fn regionskode(kommunekode: &str) -> Option<&'static str> {
    const HOVEDSTADEN: &[u16] = &[
        101, 147, 151, 153, 155, 157, 159, 161, 163, 165, 167, 169, 173, 175, 183, 185, 187, 190,
        201, 210, 217, 219, 223, 230, 240, 250, 260, 270, 400, 411,
    ];
    const SJAELLAND: &[u16] = &[
        253, 259, 265, 269, 306, 316, 320, 326, 329, 330, 336, 340, 350, 360, 370, 376, 390,
    ];
    const SYDDANMARK: &[u16] = &[
        410, 420, 430, 440, 450, 461, 479, 480, 482, 492, 510, 530, 540, 550, 561, 563, 573, 575,
        580, 607, 621, 630,
    ];
    const MIDTJYLLAND: &[u16] = &[
        615, 657, 661, 665, 671, 706, 707, 710, 727, 730, 740, 741, 746, 751, 756, 760, 766, 779,
        791,
    ];
    const NORDJYLLAND: &[u16] = &[773, 787, 810, 813, 820, 825, 840, 846, 849, 851, 860];
    let k: u16 = kommunekode.parse().ok()?;
    [
        (HOVEDSTADEN, "1084"),
        (SJAELLAND, "1085"),
        (SYDDANMARK, "1083"),
        (MIDTJYLLAND, "1082"),
        (NORDJYLLAND, "1081"),
    ]
    .into_iter()
    .find(|(koder, _)| koder.contains(&k))
    .map(|(_, r)| r)
}

// ------------------------------------------------------------------------------ the answers

/// Why there is no answer: an `ErrorCode` of [`fejlkode`] and a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fejl {
    pub kode: &'static str,
    pub tekst: String,
}

/// The answer element (the `OnlineServiceMsg.xsd` wrapper) to `kald`.
pub fn svar(reg: &Virksomheder, kald: &Kald) -> Result<String, Fejl> {
    let virksomhed = |cvr: &str| {
        reg.virksomhed(cvr).ok_or_else(|| Fejl {
            kode: fejlkode::VIRKSOMHED_IKKE_FUNDET,
            tekst: format!("no legal unit with CVR number {cvr}"),
        })
    };
    let mut s = String::new();
    let op = match kald {
        Kald::LegalUnit { cvr, .. } => {
            let v = virksomhed(cvr)?;
            legal_unit(&mut s, v);
            Operation::GetLegalUnit
        }
        Kald::ProductionUnit { p_nummer, .. } => {
            let e = reg.produktionsenhed(p_nummer).ok_or_else(|| Fejl {
                kode: fejlkode::PRODUKTIONSENHED_IKKE_FUNDET,
                tekst: format!("no production unit with P-number {p_nummer}"),
            })?;
            production_unit(&mut s, e);
            Operation::GetProductionUnit
        }
        Kald::RelatedProductionUnits { cvr } => {
            let v = virksomhed(cvr)?;
            if !v.p_numre.is_empty() {
                s.push_str("<w:ProductionUnitNameAndAddressCollection>");
                for indeks in 0..v.p_numre.len() {
                    navn_og_adresse(
                        &mut s,
                        Enhed {
                            virksomhed: v,
                            indeks,
                        },
                    );
                }
                s.push_str("</w:ProductionUnitNameAndAddressCollection>");
            }
            Operation::GetRelatedProductionUnitNameAndAddress
        }
        Kald::SearchLegalUnit(q) => {
            let (hits, flere) = reg.soeg_virksomheder(q);
            return Ok(soegesvar(
                Operation::SearchLegalUnit,
                "LegalUnitIdentifierCollection",
                "LegalUnitIdentifier",
                &hits,
                flere,
            ));
        }
        Kald::SearchProductionUnit(q) => {
            let (hits, flere) = reg.soeg_produktionsenheder(q);
            return Ok(soegesvar(
                Operation::SearchProductionUnit,
                "ProductionUnitIdentifierCollection",
                "ProductionUnitIdentifier",
                &hits,
                flere,
            ));
        }
    };
    Ok(indpak(op, "", &s))
}

/// The namespace declarations of every answer (on its outermost element).
fn xmlns() -> String {
    [
        ("m", NS_MSG),
        ("w", NS_WSDL),
        ("c", NS_CVR),
        ("dkcc2005", NS_DKCC2005),
        ("dkcc2003", NS_DKCC2003),
        ("cpr", NS_CPR_CORE),
        ("xkom2005", NS_XKOM2005),
        ("kms", NS_KMS),
        ("cvr2005", NS_CVR2005),
    ]
    .iter()
    .map(|(p, ns)| format!(" xmlns:{p}=\"{ns}\""))
    .collect()
}

/// `<m:XResponse><w:XResponse attrs>indhold</w:XResponse></m:XResponse>`.
fn indpak(op: Operation, attrs: &str, indhold: &str) -> String {
    let r = op.response();
    format!("<m:{r}{}><w:{r}{attrs}>{indhold}</w:{r}></m:{r}>", xmlns())
}

fn soegesvar(op: Operation, samling: &str, navn: &str, hits: &[&str], flere: bool) -> String {
    let mut s = String::new();
    if !hits.is_empty() {
        s.push_str(&format!("<w:{samling}>"));
        for h in hits {
            el(&mut s, &format!("c:{navn}"), h);
        }
        s.push_str(&format!("</w:{samling}>"));
    }
    indpak(op, &format!(" moreResultsExistIndicator=\"{flere}\""), &s)
}

fn el(s: &mut String, navn: &str, v: impl std::fmt::Display) {
    s.push_str(&format!("<{navn}>{}</{navn}>", escape(&v.to_string())));
}

fn d(x: NaiveDate) -> String {
    x.format("%Y-%m-%d").to_string()
}

/// At most `n` characters (the schemas' maxLength).
fn hoejst(t: &str, n: usize) -> String {
    t.chars().take(n).collect()
}

/// `LegalUnitNameType`/`ProductionUnitNameType`.
fn navn(s: &mut String, tag: &str, v: &Virksomhed) {
    s.push_str(&format!(
        "<{tag} sequenceNumber=\"1\" validFromDate=\"{}\">",
        d(startdato(v))
    ));
    el(s, "c:name", &v.navn);
    s.push_str(&format!("</{tag}>"));
}

/// `AddressDescriptionType` (`AddressOfficial`, `AddressLocation`), in its order: AddressAccess,
/// AddressPostalExtended (the xkom `AddressPostalType` sequence, then its extension), the
/// country.
fn adresse(s: &mut String, tag: &str, a: &Adresse, fra: NaiveDate) {
    s.push_str(&format!("<{tag} validFromDate=\"{}\">", d(fra)));
    s.push_str("<xkom2005:AddressAccess>");
    el(s, "cpr:MunicipalityCode", &a.kommunekode);
    el(s, "cpr:StreetCode", format!("{:04}", a.vejkode));
    el(s, "dkcc2003:StreetBuildingIdentifier", &a.husnummer);
    s.push_str("</xkom2005:AddressAccess>");
    s.push_str("<c:AddressPostalExtended>");
    el(s, "dkcc2005:StreetName", hoejst(&a.vejnavn, 40));
    el(s, "dkcc2003:StreetBuildingIdentifier", &a.husnummer);
    if let Some(e) = a.etage.as_deref().filter(|e| etage_gyldig(e)) {
        el(s, "dkcc2003:FloorIdentifier", e);
    }
    if let Some(x) = a
        .sidedoer
        .as_deref()
        .filter(|x| (1..=4).contains(&x.chars().count()))
    {
        el(s, "dkcc2003:SuiteIdentifier", x);
    }
    el(
        s,
        "dkcc2005:PostCodeIdentifier",
        format!("{:04}", a.postnummer),
    );
    el(s, "dkcc2005:DistrictName", hoejst(&a.postdistrikt, 20));
    if let Some(r) = regionskode(&a.kommunekode) {
        el(s, "kms:RegionCode", r);
    }
    s.push_str("</c:AddressPostalExtended>");
    s.push_str("<dkcc2003:CountryIdentificationCode scheme=\"iso3166-alpha2\">DK</dkcc2003:CountryIdentificationCode>");
    s.push_str(&format!("</{tag}>"));
}

/// `FloorIdentifierType`: `[1-9]|[1-9][0-9]|KL|ST|kl|st|k[2-9]|K[2-9]`.
fn etage_gyldig(e: &str) -> bool {
    let b = e.as_bytes();
    match b {
        [d] => (b'1'..=b'9').contains(d),
        [a, c] => {
            ((b'1'..=b'9').contains(a) && c.is_ascii_digit())
                || matches!(e, "KL" | "ST" | "kl" | "st")
                || ((*a == b'k' || *a == b'K') && (b'2'..=b'9').contains(c))
        }
        _ => false,
    }
}

fn lifecycle(s: &mut String, v: &Virksomhed) {
    s.push_str("<c:Lifecycle>");
    el(s, "c:StartDate", d(startdato(v)));
    s.push_str("</c:Lifecycle>");
}

/// `ActivityInformation` with the branchekode as main activity (when it is 6 digits).
fn aktivitet(s: &mut String, v: &Virksomhed) {
    let k = &v.branchekode;
    if k.len() == 6 && k.bytes().all(|b| b.is_ascii_digit()) {
        s.push_str(&format!(
            "<c:ActivityInformation><c:MainActivity validFromDate=\"{}\">",
            d(startdato(v))
        ));
        el(s, "c:ActivityCode", k);
        s.push_str("</c:MainActivity></c:ActivityInformation>");
    }
}

/// `LegalUnitType`, in its order.
fn legal_unit(s: &mut String, v: &Virksomhed) {
    let start = startdato(v);
    s.push_str("<c:LegalUnit versionIdentifier=\"1\">");
    el(s, "c:LegalUnitIdentifier", &v.cvr);
    navn(s, "c:LegalUnitName", v);
    el(
        s,
        "c:AdvertisingProtectionIndicator",
        reklamebeskyttet(&v.cvr),
    );
    el(s, "cvr2005:ExporterIndicator", false);
    el(s, "cvr2005:ImporterIndicator", false);
    lifecycle(s, v);
    adresse(s, "c:AddressOfficial", &v.adresse, start);
    aktivitet(s, v);
    s.push_str(&format!(
        "<c:BusinessFormat validFromDate=\"{}\">",
        d(start)
    ));
    el(s, "c:BusinessFormatCode", virksomhedsform(v));
    el(s, "c:DataSupplierIdentifier", DATALEVERANDOER);
    el(s, "c:MunicipalCommunity", false);
    s.push_str("</c:BusinessFormat>");
    if !v.p_numre.is_empty() {
        s.push_str("<c:ProductionUnitAffiliationCollection>");
        for p in &v.p_numre {
            s.push_str(&format!(
                "<c:ProductionUnitAffiliation validFromDate=\"{}\">",
                d(start)
            ));
            el(s, "c:ProductionUnitIdentifier", p);
            s.push_str("</c:ProductionUnitAffiliation>");
        }
        s.push_str("</c:ProductionUnitAffiliationCollection>");
    }
    s.push_str("</c:LegalUnit>");
}

/// `ProductionUnitType`, in its order.
fn production_unit(s: &mut String, e: Enhed<'_>) {
    let v = e.virksomhed;
    let start = startdato(v);
    s.push_str("<c:ProductionUnit versionIdentifier=\"1\">");
    el(s, "c:ProductionUnitIdentifier", e.p_nummer());
    navn(s, "c:ProductionUnitName", v);
    el(
        s,
        "c:AdvertisingProtectionIndicator",
        reklamebeskyttet(&v.cvr),
    );
    el(s, "c:AncillaryUnitIndicator", false);
    el(s, "c:MainDivisionIndicator", e.indeks == 0);
    lifecycle(s, v);
    adresse(s, "c:AddressLocation", &v.adresse, start);
    s.push_str(&format!(
        "<c:LegalUnitAffiliation validFromDate=\"{}\">",
        d(start)
    ));
    el(s, "c:LegalUnitIdentifier", &v.cvr);
    s.push_str("</c:LegalUnitAffiliation>");
    aktivitet(s, v);
    s.push_str("</c:ProductionUnit>");
}

/// `ProductionUnitNameAndAddressType` (in CVR's request namespace, with `AddressLocation` local
/// to it).
fn navn_og_adresse(s: &mut String, e: Enhed<'_>) {
    let v = e.virksomhed;
    s.push_str("<w:ProductionUnitNameAndAddress>");
    el(s, "c:ProductionUnitIdentifier", e.p_nummer());
    navn(s, "c:ProductionUnitName", v);
    adresse(s, "w:AddressLocation", &v.adresse, startdato(v));
    el(
        s,
        "c:AdvertisingProtectionIndicator",
        reklamebeskyttet(&v.cvr),
    );
    s.push_str("</w:ProductionUnitNameAndAddress>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::{Parametre, generate};

    fn laes_str(x: &str) -> Result<Forespoergsel, String> {
        let d = roxmltree::Document::parse(x).unwrap();
        laes(d.root_element())
    }

    fn reg() -> (Virksomheder, Vec<Virksomhed>) {
        let pop = generate(&Parametre::new("0751", 1500, 4), |_| {});
        (pop.virksomheder.iter().cloned().collect(), pop.virksomheder)
    }

    fn wrap(op: &str, indre_attr: &str, indre: &str, foer: &str) -> String {
        format!(
            "<m:{op} xmlns:m=\"{NS_MSG}\" xmlns:w=\"{NS_WSDL}\" xmlns:c=\"{NS_CVR}\" \
xmlns:i=\"{NS_INVCTX}\" xmlns:cc=\"{NS_CALLCTX}\" xmlns:a=\"{NS_AUTCTX}\" \
xmlns:dkcc2005=\"{NS_DKCC2005}\" xmlns:dkcc2003=\"{NS_DKCC2003}\" xmlns:cpr=\"{NS_CPR_CORE}\" \
xmlns:kms=\"{NS_KMS}\">{foer}<w:{op}{indre_attr}>{indre}</w:{op}></m:{op}>"
        )
    }

    fn texts(x: &str, ns: &str, navn: &str) -> Vec<String> {
        let d = roxmltree::Document::parse(x).unwrap();
        d.descendants()
            .filter(|n| n.has_tag_name((ns, navn)))
            .map(|n| n.text().unwrap_or("").to_owned())
            .collect()
    }

    #[test]
    fn requests_are_read_strictly() {
        let u = uuid::Uuid::nil();
        let f = laes_str(&wrap(
            "GetLegalUnitRequest",
            " level=\"10\"",
            "<c:LegalUnitIdentifier> +025052943 </c:LegalUnitIdentifier>",
            &format!(
                "<cc:CallContext><cc:AccountingInfo>x</cc:AccountingInfo></cc:CallContext>\
<i:InvocationContext><i:UserUUID>{u}</i:UserUUID><i:ServiceUUID>{u}</i:ServiceUUID>\
<i:ServiceAgreementUUID>{u}</i:ServiceAgreementUUID><i:UserSystemUUID>{u}</i:UserSystemUUID></i:InvocationContext>"
            ),
        ))
        .unwrap();
        assert_eq!(
            f.kald,
            Kald::LegalUnit {
                cvr: "25052943".into(),
                level: "10".into()
            }
        );
        assert_eq!(f.operation(), Operation::GetLegalUnit);
        assert_eq!(f.invocation.unwrap().service, u);
        let f = laes_str(&wrap(
            "GetProductionUnitRequest",
            " level=\"1\"",
            "<c:ProductionUnitIdentifier>1000000001</c:ProductionUnitIdentifier>",
            "",
        ))
        .unwrap();
        assert_eq!(
            f.operation().soap_action(),
            format!("{SOAP_ACTION_PREFIX}getProductionUnit")
        );
        let f = laes_str(&wrap(
            "SearchLegalUnitRequest",
            " maximumNumberOfResultsType=\"5\"",
            "<w:SearchName>byg aps</w:SearchName><w:SearchAddress><dkcc2005:PostCodeIdentifier>8000</dkcc2005:PostCodeIdentifier>\
<kms:RegionCode>1082</kms:RegionCode></w:SearchAddress><c:BusinessFormatCode>80</c:BusinessFormatCode>\
<w:SearchLifecycleStartDateInterval><w:EndDate>2020-01-01Z</w:EndDate></w:SearchLifecycleStartDateInterval>\
<w:SearchLifecycleStatus>active</w:SearchLifecycleStatus>\
<w:SearchNumberOfProductionUnitInterval><w:StartNumber>1</w:StartNumber></w:SearchNumberOfProductionUnitInterval>",
            "",
        ))
        .unwrap();
        let Kald::SearchLegalUnit(q) = f.kald else {
            panic!()
        };
        assert_eq!(q.navn.as_deref(), Some("byg aps"));
        assert_eq!(q.maks, Some(5));
        assert_eq!(q.virksomhedsform, Some(80));
        assert_eq!(q.startdato_til, NaiveDate::from_ymd_opt(2020, 1, 1));
        assert_eq!(q.adresse.unwrap().regionskode.as_deref(), Some("1082"));
        assert_eq!((q.kun_aktive, q.antal_p_fra), (Some(true), Some(1)));

        let lu = |indre: &str| wrap("GetLegalUnitRequest", " level=\"1\"", indre, "");
        let id = "<c:LegalUnitIdentifier>25052943</c:LegalUnitIdentifier>";
        for (bad, why) in [
            (wrap("GetLegalUnitRequest", "", id, ""), "level is missing"),
            (
                wrap("GetLegalUnitRequest", " level=\"0\"", id, ""),
                "not a positive integer",
            ),
            (lu(""), "LegalUnitIdentifier is missing"),
            (
                lu("<c:LegalUnitIdentifier>2505294</c:LegalUnitIdentifier>"),
                "not an integer in 10000000..99999999",
            ),
            (lu(&format!("{id}{id}")), "unexpected element"),
            (
                wrap(
                    "GetLegalUnitRequest",
                    " level=\"1\"",
                    id,
                    "<a:AuthorityContext><a:MunicipalityCVR>29189854</a:MunicipalityCVR></a:AuthorityContext>",
                ),
                "AuthorityContext is not part of SF1530",
            ),
            (
                wrap("GetLegalUnitRequest", " level=\"1\" extra=\"x\"", id, ""),
                "unexpected attribute extra",
            ),
            (
                wrap("SearchLegalUnitRequest", "", "", ""),
                "at least one search criterion",
            ),
            (
                wrap(
                    "SearchLegalUnitRequest",
                    "",
                    "<c:ActivityCode>412000</c:ActivityCode><w:SearchName>x</w:SearchName>",
                    "",
                ),
                "out of order",
            ),
            (
                wrap(
                    "SearchProductionUnitRequest",
                    "",
                    "<c:BusinessFormatCode>80</c:BusinessFormatCode>",
                    "",
                ),
                "unexpected element {http://rep.oio.dk/eogs/xml.schema/}BusinessFormatCode",
            ),
            (
                wrap(
                    "SearchLegalUnitRequest",
                    "",
                    "<w:SearchLifecycleStatus>some</w:SearchLifecycleStatus>",
                    "",
                ),
                "not active or all",
            ),
            (
                format!(
                    "<m:GetLegalUnitRequest xmlns:m=\"{NS_MSG}\" xmlns:c=\"{NS_CVR}\">{id}</m:GetLegalUnitRequest>"
                ),
                "GetLegalUnitRequest is missing",
            ),
            (
                format!("<w:GetLegalUnitRequest xmlns:w=\"{NS_WSDL}\" level=\"1\"/>"),
                "not one of SF1530's requests",
            ),
        ] {
            let e = laes_str(&bad).unwrap_err();
            assert!(e.contains(why), "{e} / {bad}");
        }
    }

    #[test]
    fn lookups_answer_from_the_companies() {
        let (reg, alle) = reg();
        let v = alle
            .iter()
            .find(|v| v.p_numre.len() == 2)
            .expect("a company with two units");
        let x = svar(
            &reg,
            &Kald::LegalUnit {
                cvr: v.cvr.clone(),
                level: "1".into(),
            },
        )
        .unwrap();
        assert!(x.starts_with("<m:GetLegalUnitResponse"), "{x}");
        assert_eq!(
            texts(&x, NS_CVR, "LegalUnitIdentifier"),
            vec![v.cvr.clone()]
        );
        assert_eq!(texts(&x, NS_CVR, "name"), vec![v.navn.clone()]);
        assert_eq!(texts(&x, NS_CVR, "ProductionUnitIdentifier"), v.p_numre);
        assert_eq!(
            texts(&x, NS_CVR, "ActivityCode"),
            vec![v.branchekode.clone()]
        );
        assert_eq!(
            texts(&x, NS_DKCC2005, "StreetName"),
            vec![v.adresse.vejnavn.clone()]
        );
        assert_eq!(texts(&x, NS_KMS, "RegionCode"), vec!["1082"]);
        assert_eq!(
            texts(&x, NS_CVR, "StartDate"),
            vec![v.adresse.tilflytningsdato.to_string()]
        );

        let x = svar(
            &reg,
            &Kald::ProductionUnit {
                p_nummer: v.p_numre[1].clone(),
                level: "1".into(),
            },
        )
        .unwrap();
        assert_eq!(
            texts(&x, NS_CVR, "ProductionUnitIdentifier"),
            vec![v.p_numre[1].clone()]
        );
        assert_eq!(texts(&x, NS_CVR, "MainDivisionIndicator"), vec!["false"]);
        assert_eq!(
            texts(&x, NS_CVR, "LegalUnitIdentifier"),
            vec![v.cvr.clone()]
        );

        let x = svar(&reg, &Kald::RelatedProductionUnits { cvr: v.cvr.clone() }).unwrap();
        assert_eq!(texts(&x, NS_CVR, "ProductionUnitIdentifier"), v.p_numre);
        assert_eq!(texts(&x, NS_WSDL, "AddressLocation").len(), 2);

        let ukendt = svar(
            &reg,
            &Kald::LegalUnit {
                cvr: "10000000".into(),
                level: "1".into(),
            },
        )
        .unwrap_err();
        assert_eq!(ukendt.kode, fejlkode::VIRKSOMHED_IKKE_FUNDET);
        let ukendt = svar(
            &reg,
            &Kald::ProductionUnit {
                p_nummer: "9999999999".into(),
                level: "1".into(),
            },
        )
        .unwrap_err();
        assert_eq!(ukendt.kode, fejlkode::PRODUKTIONSENHED_IKKE_FUNDET);
    }

    #[test]
    fn searches_follow_the_criteria_and_are_bounded() {
        let (reg, alle) = reg();
        let v = &alle[0];
        let ord = v.navn.split(' ').nth(1).unwrap().to_uppercase();
        let q = Soegning {
            navn: Some(ord.clone()),
            adresse: Some(SoegAdresse {
                postnummer: Some(v.adresse.postnummer),
                ..Default::default()
            }),
            ..Default::default()
        };
        let (hits, flere) = reg.soeg_virksomheder(&q);
        assert!(hits.contains(&v.cvr.as_str()) && !flere);
        let forventet: Vec<&str> = reg
            .alle()
            .filter(|x| {
                x.navn.to_lowercase().contains(&ord.to_lowercase())
                    && x.adresse.postnummer == v.adresse.postnummer
            })
            .map(|x| x.cvr.as_str())
            .collect();
        assert_eq!(hits, forventet);

        // Bounded, with the indicator.
        let alle_aktive = Soegning {
            kun_aktive: Some(false),
            maks: Some(3),
            ..Default::default()
        };
        let (hits, flere) = reg.soeg_virksomheder(&alle_aktive);
        assert_eq!(hits.len(), 3);
        assert!(flere);
        let (hits, _) = reg.soeg_virksomheder(&Soegning {
            maks: Some(1_000_000),
            ..alle_aktive.clone()
        });
        assert_eq!(hits.len(), reg.len().min(MAKS_RESULTATER as usize));

        // Production units of one company, by its CVR number.
        let to = alle.iter().find(|v| v.p_numre.len() == 2).unwrap();
        let (hits, _) = reg.soeg_produktionsenheder(&Soegning {
            cvr: Some(to.cvr.clone()),
            ..Default::default()
        });
        let mut p = to.p_numre.clone();
        p.sort();
        assert_eq!(hits, p);

        // Form, number of units, advertising protection, data fki does not hold.
        let (hits, _) = reg.soeg_virksomheder(&Soegning {
            antal_p_fra: Some(2),
            virksomhedsform: Some(virksomhedsform(to)),
            maks: Some(1000),
            ..Default::default()
        });
        assert!(hits.contains(&to.cvr.as_str()));
        assert!(
            hits.iter()
                .all(|c| reg.virksomhed(c).unwrap().p_numre.len() >= 2)
        );
        let (hits, _) = reg.soeg_virksomheder(&Soegning {
            reklamebeskyttet: Some(true),
            maks: Some(1000),
            ..Default::default()
        });
        assert!(!hits.is_empty() && hits.iter().all(|c| reklamebeskyttet(c)));
        let (hits, _) = reg.soeg_virksomheder(&Soegning {
            kontakt: Some("12345678".into()),
            ..Default::default()
        });
        assert!(hits.is_empty());

        let x = svar(&reg, &Kald::SearchLegalUnit(alle_aktive)).unwrap();
        assert!(x.contains("moreResultsExistIndicator=\"true\""), "{x}");
        assert_eq!(texts(&x, NS_CVR, "LegalUnitIdentifier").len(), 3);
    }

    #[test]
    fn derived_values() {
        assert_eq!(regionskode("0751"), Some("1082"));
        assert_eq!(regionskode("0101"), Some("1084"));
        assert_eq!(regionskode("0461"), Some("1083"));
        assert_eq!(regionskode("0851"), Some("1081"));
        assert_eq!(regionskode("0265"), Some("1085"));
        assert_eq!(regionskode("0999"), None);
        assert!(reklamebeskyttet("10000004") && !reklamebeskyttet("10000005"));
        for f in ["1", "9", "10", "99", "st", "ST", "kl", "k2", "K9"] {
            assert!(etage_gyldig(f), "{f}");
        }
        for f in ["", "0", "01", "k1", "100", "tv"] {
            assert!(!etage_gyldig(f), "{f}");
        }
        assert_eq!(
            dato("d", "2020-02-29+01:00"),
            Ok(NaiveDate::from_ymd_opt(2020, 2, 29).unwrap())
        );
        assert!(dato("d", "2020-02-30").is_err() && dato("d", "2020-01-01+1").is_err());
        assert!(dato("d", "ø").is_err());
    }

    #[test]
    fn the_registers_companies_by_cvr_and_p_number() {
        let pop = generate(&Parametre::new("0751", 200, 3), |_| {});
        let mut reg = crate::register::Register::new();
        reg.tilfoej(pop.clone());
        let r = Virksomheder::fra_register(&reg);
        assert!(!pop.virksomheder.is_empty());
        for v in &pop.virksomheder {
            assert_eq!(r.virksomhed(&v.cvr), Some(v));
            for p in &v.p_numre {
                assert_eq!(r.produktionsenhed(p).unwrap().virksomhed, v);
            }
        }
    }
}
