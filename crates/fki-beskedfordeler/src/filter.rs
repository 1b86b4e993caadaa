//! The subscription filter language: which messages an abonnement lets into its dueslag.
//!
//! A filter is a boolean expression over a message's `Filtreringsdata` (`Beskedkuvert.xsd`).
//! It has a text form, for people and the CLI, and a JSON form, for the REST API; both parse to
//! the same [`Filter`] and print back from it.
//!
//! ## Text form
//!
//! ```text
//! beskedtype = "7654895c-a3f3-4c77-8afd-4c77330f963c"
//!   AND objektregistrering.opgaveemne ^= "urn:oio:kle:27.35"
//!   AND NOT tilladtmodtager IN ["urn:oio:cvr-nr:11111111", "urn:oio:cvr-nr:22222222"]
//!   AND relateretobjekt { objektid IN vaerdiliste("0b1c…") AND objekttype = "ce7fcf97-…" }
//! ```
//!
//! - Fields: `beskedtype`, `beskedansvarligaktoer`, `tilladtmodtager`,
//!   `relateretobjekt.{objektid, objekttype, objektrolle}`,
//!   `objektregistrering.{objektansvarligmyndighed, objektid, objekttype, objekthandling,
//!   opgaveemne}`. A field that occurs several times in a message (TilladtModtager,
//!   RelateretObjekt, ObjektRegistrering) holds when *any* occurrence does.
//! - `relateretobjekt { … }` / `objektregistrering { … }`: *one and the same* occurrence must
//!   satisfy everything inside the braces, whose fields are named without the prefix.
//! - Conditions: `= "v"` (equal), `^= "v"` (starts with; on `opgaveemne` the value must be a
//!   whole KLE key, so `urn:oio:kle:27.35` matches `27.35` and `27.35.04` but never `27.350`),
//!   `IN ["a", "b"]`, `IN vaerdiliste("uuid")` (the value is in that Værdiliste).
//! - `AND` binds tighter than `OR`; `NOT` tighter than both; parentheses group. `TRUE` (every
//!   message) and `FALSE` (none) are constants. Keywords and field names are case-insensitive.
//!   Values are strings in double quotes (`\"` and `\\` escape) and compare case-insensitively
//!   (UUIDs and URNs).
//!
//! ## JSON form
//!
//! `{"and": [f…]}`, `{"or": [f…]}`, `{"not": f}`, `true`, `false`,
//! `{"field": "beskedtype", "eq": "v"}`, `{"field": …, "prefix": "v"}`,
//! `{"field": …, "in": ["a", "b"]}`, `{"field": …, "inList": "uuid"}`,
//! `{"some": "relateretobjekt", "where": f}`.
//!
//! Who may receive a message at all (TilladtModtager, service agreements) is decided before
//! any filter, by the distributor.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::kuvert::{Filtreringsdata, ObjektRegistrering, RelateretObjekt, UnikId};

/// Longest filter text accepted, and deepest nesting.
pub const MAX_LEN: usize = 64 * 1024;
pub const MAX_DEPTH: usize = 64;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// All hold (`TRUE` when empty).
    And(Vec<Filter>),
    /// One holds (`FALSE` when empty).
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Betingelse(Felt, Op),
    /// One occurrence of the group satisfies the inner filter.
    Nogen(Gruppe, Box<Filter>),
}

/// The repeated groups of Filtreringsdata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gruppe {
    RelateretObjekt,
    ObjektRegistrering,
}

/// A field of Filtreringsdata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Felt {
    Beskedtype,
    BeskedAnsvarligAktoer,
    TilladtModtager,
    Relateret(RelFelt),
    Registrering(RegFelt),
}

/// A field of RelateretObjekt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelFelt {
    ObjektId,
    ObjektType,
    ObjektRolle,
}

/// A field of ObjektRegistrering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegFelt {
    ObjektAnsvarligMyndighed,
    ObjektId,
    ObjektType,
    ObjektHandling,
    OpgaveEmne,
}

/// A condition on a field's value (values are stored trimmed and lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Lig(String),
    Praefiks(String),
    I(Vec<String>),
    IVaerdiliste(Uuid),
}

/// The Værdilister a filter may refer to.
pub trait Vaerdilister {
    /// Whether `vaerdi` (lower-cased) is in list `liste`; `false` for an unknown list.
    fn indeholder(&self, liste: &Uuid, vaerdi: &str) -> bool;
}

impl Vaerdilister for HashMap<Uuid, HashSet<String>> {
    fn indeholder(&self, liste: &Uuid, vaerdi: &str) -> bool {
        self.get(liste).is_some_and(|s| s.contains(vaerdi))
    }
}

/// No Værdilister: every `IN vaerdiliste(…)` is false.
pub struct IngenVaerdilister;

impl Vaerdilister for IngenVaerdilister {
    fn indeholder(&self, _: &Uuid, _: &str) -> bool {
        false
    }
}

/// A filter that cannot be parsed: where (byte offset in the text, or JSON path) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{hvor}: {grund}")]
pub struct FilterFejl {
    pub hvor: String,
    pub grund: String,
}

fn normal(v: &str) -> String {
    v.trim().to_lowercase()
}

const FIELDS: &[(&str, Felt)] = &[
    ("beskedtype", Felt::Beskedtype),
    ("beskedansvarligaktoer", Felt::BeskedAnsvarligAktoer),
    ("tilladtmodtager", Felt::TilladtModtager),
    (
        "relateretobjekt.objektid",
        Felt::Relateret(RelFelt::ObjektId),
    ),
    (
        "relateretobjekt.objekttype",
        Felt::Relateret(RelFelt::ObjektType),
    ),
    (
        "relateretobjekt.objektrolle",
        Felt::Relateret(RelFelt::ObjektRolle),
    ),
    (
        "objektregistrering.objektansvarligmyndighed",
        Felt::Registrering(RegFelt::ObjektAnsvarligMyndighed),
    ),
    (
        "objektregistrering.objektid",
        Felt::Registrering(RegFelt::ObjektId),
    ),
    (
        "objektregistrering.objekttype",
        Felt::Registrering(RegFelt::ObjektType),
    ),
    (
        "objektregistrering.objekthandling",
        Felt::Registrering(RegFelt::ObjektHandling),
    ),
    (
        "objektregistrering.opgaveemne",
        Felt::Registrering(RegFelt::OpgaveEmne),
    ),
];

impl Felt {
    /// The full (dotted) name.
    pub fn navn(self) -> &'static str {
        FIELDS
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }

    fn kort_navn(self) -> &'static str {
        let n = self.navn();
        n.rsplit('.').next().unwrap_or(n)
    }

    fn gruppe(self) -> Option<Gruppe> {
        match self {
            Felt::Relateret(_) => Some(Gruppe::RelateretObjekt),
            Felt::Registrering(_) => Some(Gruppe::ObjektRegistrering),
            _ => None,
        }
    }

    /// Look a field up by name; inside a group the short names of that group.
    fn find(name: &str, inside: Option<Gruppe>) -> Option<Felt> {
        let name = name.to_ascii_lowercase();
        match inside {
            None => FIELDS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f),
            Some(g) => FIELDS
                .iter()
                .find(|(_, f)| f.gruppe() == Some(g) && f.kort_navn() == name)
                .map(|(_, f)| *f),
        }
    }
}

impl Gruppe {
    pub fn navn(self) -> &'static str {
        match self {
            Gruppe::RelateretObjekt => "relateretobjekt",
            Gruppe::ObjektRegistrering => "objektregistrering",
        }
    }

    fn find(name: &str) -> Option<Gruppe> {
        match name.to_ascii_lowercase().as_str() {
            "relateretobjekt" => Some(Gruppe::RelateretObjekt),
            "objektregistrering" => Some(Gruppe::ObjektRegistrering),
            _ => None,
        }
    }
}

/// Check a condition's value where the field gives it a form.
fn check_op(felt: Felt, op: &Op) -> Result<(), String> {
    if let (Felt::Registrering(RegFelt::OpgaveEmne), Op::Praefiks(p)) = (felt, op) {
        match UnikId::urn(p) {
            Ok(_) if p.starts_with("urn:oio:kle:") => {}
            _ => {
                return Err(format!(
                    "a prefix of opgaveemne is a whole KLE key, e.g. \"urn:oio:kle:27.35\" (got \"{p}\")"
                ));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Evaluation

impl Filter {
    /// The Beskedtyper (as [`UnikId::vaerdi`] writes them) of which a message must have one for
    /// the filter to pass it, or `None` when the filter passes messages whatever their
    /// Beskedtype. A distributor indexes its filters by these, so that a message is tested
    /// against the filters of its own Beskedtype and the unrestricted ones only.
    ///
    /// Sound, not complete: when it answers `Some(s)`, a message whose Beskedtype is not in `s`
    /// (or that has none) never passes; `None` promises nothing.
    pub fn kraevede_beskedtyper(&self) -> Option<HashSet<&str>> {
        match self {
            Filter::Betingelse(Felt::Beskedtype, Op::Lig(x)) => Some(HashSet::from([x.as_str()])),
            Filter::Betingelse(Felt::Beskedtype, Op::I(xs)) => {
                Some(xs.iter().map(String::as_str).collect())
            }
            Filter::Betingelse(..) | Filter::Not(_) | Filter::Nogen(..) => None,
            // Every part must pass: the narrowest restriction of them holds (their intersection).
            Filter::And(fs) => fs
                .iter()
                .filter_map(Filter::kraevede_beskedtyper)
                .reduce(|a, b| a.intersection(&b).copied().collect()),
            // One part passes: restricted only when every part is.
            Filter::Or(fs) => fs.iter().try_fold(HashSet::new(), |mut alle, f| {
                alle.extend(f.kraevede_beskedtyper()?);
                Some(alle)
            }),
        }
    }

    /// Whether a message with `data` passes.
    pub fn matcher(&self, data: &Filtreringsdata, lister: &dyn Vaerdilister) -> bool {
        self.eval(&Ctx::Top(data), lister)
    }

    fn eval(&self, ctx: &Ctx<'_>, lister: &dyn Vaerdilister) -> bool {
        match self {
            Filter::And(fs) => fs.iter().all(|f| f.eval(ctx, lister)),
            Filter::Or(fs) => fs.iter().any(|f| f.eval(ctx, lister)),
            Filter::Not(f) => !f.eval(ctx, lister),
            Filter::Betingelse(felt, op) => {
                let mut hit = false;
                values(ctx, *felt, &mut |v| {
                    if !hit && v.med_vaerdi(|v| op_holds(op, v, lister)) {
                        hit = true;
                    }
                });
                hit
            }
            Filter::Nogen(g, f) => match (ctx, g) {
                (Ctx::Top(d), Gruppe::RelateretObjekt) => d
                    .relateret_objekt
                    .iter()
                    .any(|r| f.eval(&Ctx::Rel(r), lister)),
                (Ctx::Top(d), Gruppe::ObjektRegistrering) => d
                    .objekt_registrering
                    .iter()
                    .any(|r| f.eval(&Ctx::Reg(r), lister)),
                // Parsing never nests groups.
                _ => false,
            },
        }
    }
}

enum Ctx<'a> {
    Top(&'a Filtreringsdata),
    Rel(&'a RelateretObjekt),
    Reg(&'a ObjektRegistrering),
}

fn rel_value(r: &RelateretObjekt, f: RelFelt) -> Option<&UnikId> {
    match f {
        RelFelt::ObjektId => Some(&r.objekt_id),
        RelFelt::ObjektType => Some(&r.objekt_type),
        RelFelt::ObjektRolle => r.objekt_rolle.as_ref(),
    }
}

fn reg_value(r: &ObjektRegistrering, f: RegFelt) -> Option<&UnikId> {
    match f {
        RegFelt::ObjektAnsvarligMyndighed => r.objekt_ansvarlig_myndighed.as_ref(),
        RegFelt::ObjektId => r.objekt_id.as_ref(),
        RegFelt::ObjektType => r.objekt_type.as_ref(),
        RegFelt::ObjektHandling => r.objekt_handling.as_ref(),
        RegFelt::OpgaveEmne => r.opgave_emne.as_ref(),
    }
}

/// Call `f` with every value of `felt` in `ctx`.
fn values(ctx: &Ctx<'_>, felt: Felt, f: &mut dyn FnMut(&UnikId)) {
    match (ctx, felt) {
        (Ctx::Top(d), Felt::Beskedtype) => d.beskedtype.iter().for_each(f),
        (Ctx::Top(d), Felt::BeskedAnsvarligAktoer) => {
            if let Some(u) = d.besked_ansvarlig_aktoer {
                f(&UnikId::Uuid(u));
            }
        }
        (Ctx::Top(d), Felt::TilladtModtager) => d.tilladt_modtager.iter().for_each(f),
        (Ctx::Top(d), Felt::Relateret(rf)) => d
            .relateret_objekt
            .iter()
            .filter_map(|r| rel_value(r, rf))
            .for_each(f),
        (Ctx::Top(d), Felt::Registrering(rf)) => d
            .objekt_registrering
            .iter()
            .filter_map(|r| reg_value(r, rf))
            .for_each(f),
        (Ctx::Rel(r), Felt::Relateret(rf)) => rel_value(r, rf).into_iter().for_each(f),
        (Ctx::Reg(r), Felt::Registrering(rf)) => reg_value(r, rf).into_iter().for_each(f),
        _ => {}
    }
}

fn op_holds(op: &Op, v: &str, lister: &dyn Vaerdilister) -> bool {
    match op {
        Op::Lig(x) => v == x,
        Op::Praefiks(p) => {
            v.starts_with(p.as_str())
                && (!p.starts_with("urn:oio:kle:")
                    || v.len() == p.len()
                    || v.as_bytes().get(p.len()) == Some(&b'.'))
        }
        Op::I(xs) => xs.iter().any(|x| x == v),
        Op::IVaerdiliste(l) => lister.indeholder(l, v),
    }
}

// ---------------------------------------------------------------------------------------------
// Text form: printing

fn quote(out: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    out.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            c => write!(out, "{c}")?,
        }
    }
    out.write_str("\"")
}

impl Filter {
    fn fmt_in(&self, f: &mut fmt::Formatter<'_>, inside: bool) -> fmt::Result {
        // Children that are And/Or/Nogen-free atoms print bare; compound children in parens.
        let child = |c: &Filter, f: &mut fmt::Formatter<'_>| -> fmt::Result {
            match c {
                Filter::And(v) | Filter::Or(v) if !v.is_empty() => {
                    f.write_str("(")?;
                    c.fmt_in(f, inside)?;
                    f.write_str(")")
                }
                _ => c.fmt_in(f, inside),
            }
        };
        match self {
            Filter::And(v) if v.is_empty() => f.write_str("TRUE"),
            Filter::Or(v) if v.is_empty() => f.write_str("FALSE"),
            Filter::And(v) | Filter::Or(v) => {
                let sep = if matches!(self, Filter::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                for (i, c) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    child(c, f)?;
                }
                Ok(())
            }
            Filter::Not(c) => {
                f.write_str("NOT ")?;
                child(c, f)
            }
            Filter::Betingelse(felt, op) => {
                f.write_str(if inside {
                    felt.kort_navn()
                } else {
                    felt.navn()
                })?;
                match op {
                    Op::Lig(v) => {
                        f.write_str(" = ")?;
                        quote(f, v)
                    }
                    Op::Praefiks(v) => {
                        f.write_str(" ^= ")?;
                        quote(f, v)
                    }
                    Op::I(vs) => {
                        f.write_str(" IN [")?;
                        for (i, v) in vs.iter().enumerate() {
                            if i > 0 {
                                f.write_str(", ")?;
                            }
                            quote(f, v)?;
                        }
                        f.write_str("]")
                    }
                    Op::IVaerdiliste(u) => write!(f, " IN vaerdiliste(\"{u}\")"),
                }
            }
            Filter::Nogen(g, c) => {
                write!(f, "{} {{ ", g.navn())?;
                c.fmt_in(f, true)?;
                f.write_str(" }")
            }
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_in(f, false)
    }
}

// ---------------------------------------------------------------------------------------------
// Text form: parsing

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Str(String),
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Eq,
    PrefixEq,
}

fn tokenize(s: &str) -> Result<Vec<(usize, Tok)>, FilterFejl> {
    let mut out = Vec::new();
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let t = match c {
            c if c.is_whitespace() => continue,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '{' => Tok::LBrace,
            '}' => Tok::RBrace,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            ',' => Tok::Comma,
            '=' => Tok::Eq,
            '^' => match it.next() {
                Some((_, '=')) => Tok::PrefixEq,
                _ => return Err(at(i, "'^' must be followed by '=' (starts-with)")),
            },
            '"' => {
                let mut v = String::new();
                loop {
                    match it.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match it.next() {
                            Some((_, c @ ('"' | '\\'))) => v.push(c),
                            _ => return Err(at(i, "only \\\" and \\\\ escape in a string")),
                        },
                        Some((_, c)) => v.push(c),
                        None => return Err(at(i, "unterminated string")),
                    }
                }
                Tok::Str(v)
            }
            c if c.is_ascii_alphabetic() => {
                let mut v = String::from(c);
                while let Some(&(_, d)) = it.peek() {
                    if d.is_ascii_alphanumeric() || d == '.' || d == '_' {
                        v.push(d);
                        it.next();
                    } else {
                        break;
                    }
                }
                Tok::Ident(v)
            }
            c => return Err(at(i, format!("unexpected character '{c}'"))),
        };
        out.push((i, t));
    }
    Ok(out)
}

fn at(pos: usize, grund: impl Into<String>) -> FilterFejl {
    FilterFejl {
        hvor: format!("at byte {pos}"),
        grund: grund.into(),
    }
}

struct P {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn here(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(i, _)| *i)
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(kw))
    }

    fn expect(&mut self, t: Tok, what: &str) -> Result<(), FilterFejl> {
        if self.peek() == Some(&t) {
            self.pos += 1;
            Ok(())
        } else {
            Err(at(self.here(), format!("expected {what}")))
        }
    }

    fn string(&mut self, what: &str) -> Result<String, FilterFejl> {
        match self.peek() {
            Some(Tok::Str(s)) => {
                let s = normal(s);
                self.pos += 1;
                Ok(s)
            }
            _ => Err(at(
                self.here(),
                format!("expected {what} (a string in quotes)"),
            )),
        }
    }

    fn or(&mut self, inside: Option<Gruppe>, depth: usize) -> Result<Filter, FilterFejl> {
        let mut v = vec![self.and(inside, depth)?];
        while self.keyword("OR") {
            self.pos += 1;
            v.push(self.and(inside, depth)?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            Filter::Or(v)
        })
    }

    fn and(&mut self, inside: Option<Gruppe>, depth: usize) -> Result<Filter, FilterFejl> {
        let mut v = vec![self.unary(inside, depth)?];
        while self.keyword("AND") {
            self.pos += 1;
            v.push(self.unary(inside, depth)?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            Filter::And(v)
        })
    }

    fn unary(&mut self, inside: Option<Gruppe>, depth: usize) -> Result<Filter, FilterFejl> {
        if depth > MAX_DEPTH {
            return Err(at(self.here(), format!("nested deeper than {MAX_DEPTH}")));
        }
        if self.keyword("NOT") {
            self.pos += 1;
            return Ok(Filter::Not(Box::new(self.unary(inside, depth + 1)?)));
        }
        if self.keyword("TRUE") {
            self.pos += 1;
            return Ok(Filter::And(vec![]));
        }
        if self.keyword("FALSE") {
            self.pos += 1;
            return Ok(Filter::Or(vec![]));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let f = self.or(inside, depth + 1)?;
            self.expect(Tok::RParen, "')'")?;
            return Ok(f);
        }
        let start = self.here();
        let name = match self.peek() {
            Some(Tok::Ident(s)) => s.clone(),
            _ => {
                return Err(at(
                    start,
                    "expected a field, a group, NOT, TRUE, FALSE or '('",
                ));
            }
        };
        self.pos += 1;
        if let Some(g) = Gruppe::find(&name)
            && self.peek() == Some(&Tok::LBrace)
        {
            if inside.is_some() {
                return Err(at(start, "groups do not nest"));
            }
            self.pos += 1;
            let f = self.or(Some(g), depth + 1)?;
            self.expect(Tok::RBrace, "'}'")?;
            return Ok(Filter::Nogen(g, Box::new(f)));
        }
        let felt = Felt::find(&name, inside).ok_or_else(|| {
            at(
                start,
                match inside {
                    None => format!(
                        "unknown field '{name}' (fields: {})",
                        FIELDS
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    Some(g) => format!(
                        "unknown field '{name}' inside {} {{ … }} (fields: {})",
                        g.navn(),
                        FIELDS
                            .iter()
                            .filter(|(_, f)| f.gruppe() == Some(g))
                            .map(|(_, f)| f.kort_navn())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                },
            )
        })?;
        let op = match self.peek() {
            Some(Tok::Eq) => {
                self.pos += 1;
                Op::Lig(self.string("a value")?)
            }
            Some(Tok::PrefixEq) => {
                self.pos += 1;
                Op::Praefiks(self.string("a prefix")?)
            }
            Some(Tok::Ident(s)) if s.eq_ignore_ascii_case("IN") => {
                self.pos += 1;
                if self.keyword("vaerdiliste") {
                    self.pos += 1;
                    self.expect(Tok::LParen, "'(' after vaerdiliste")?;
                    let p = self.here();
                    let s = self.string("the Værdiliste's UUID")?;
                    let u =
                        Uuid::parse_str(&s).map_err(|_| at(p, format!("'{s}' is not a UUID")))?;
                    self.expect(Tok::RParen, "')'")?;
                    Op::IVaerdiliste(u)
                } else {
                    self.expect(Tok::LBracket, "'[' or vaerdiliste(…) after IN")?;
                    let mut vs = vec![self.string("a value")?];
                    while self.peek() == Some(&Tok::Comma) {
                        self.pos += 1;
                        vs.push(self.string("a value")?);
                    }
                    self.expect(Tok::RBracket, "']'")?;
                    Op::I(vs)
                }
            }
            _ => {
                return Err(at(
                    self.here(),
                    format!("expected =, ^= or IN after '{name}'"),
                ));
            }
        };
        check_op(felt, &op).map_err(|e| at(start, e))?;
        Ok(Filter::Betingelse(felt, op))
    }
}

impl Filter {
    /// Parse the text form.
    pub fn parse(text: &str) -> Result<Filter, FilterFejl> {
        if text.len() > MAX_LEN {
            return Err(at(0, format!("longer than {MAX_LEN} bytes")));
        }
        let mut p = P {
            toks: tokenize(text)?,
            pos: 0,
            end: text.len(),
        };
        if p.toks.is_empty() {
            return Err(at(0, "empty filter (write TRUE to take every message)"));
        }
        let f = p.or(None, 0)?;
        if p.pos < p.toks.len() {
            return Err(at(p.here(), "expected AND, OR or the end"));
        }
        Ok(f)
    }
}

// ---------------------------------------------------------------------------------------------
// JSON form

impl Filter {
    /// The JSON form.
    pub fn to_json(&self) -> Value {
        self.json_in(false)
    }

    fn json_in(&self, inside: bool) -> Value {
        match self {
            Filter::And(v) if v.is_empty() => Value::Bool(true),
            Filter::Or(v) if v.is_empty() => Value::Bool(false),
            Filter::And(v) => {
                json!({"and": v.iter().map(|f| f.json_in(inside)).collect::<Vec<_>>()})
            }
            Filter::Or(v) => json!({"or": v.iter().map(|f| f.json_in(inside)).collect::<Vec<_>>()}),
            Filter::Not(f) => json!({"not": f.json_in(inside)}),
            Filter::Betingelse(felt, op) => {
                let name = if inside {
                    felt.kort_navn()
                } else {
                    felt.navn()
                };
                match op {
                    Op::Lig(v) => json!({"field": name, "eq": v}),
                    Op::Praefiks(v) => json!({"field": name, "prefix": v}),
                    Op::I(vs) => json!({"field": name, "in": vs}),
                    Op::IVaerdiliste(u) => json!({"field": name, "inList": u.to_string()}),
                }
            }
            Filter::Nogen(g, f) => json!({"some": g.navn(), "where": f.json_in(true)}),
        }
    }

    /// Parse the JSON form.
    pub fn from_json(v: &Value) -> Result<Filter, FilterFejl> {
        from_json(v, "$", None, 0)
    }
}

fn jfejl(path: &str, grund: impl Into<String>) -> FilterFejl {
    FilterFejl {
        hvor: path.to_owned(),
        grund: grund.into(),
    }
}

fn from_json(
    v: &Value,
    path: &str,
    inside: Option<Gruppe>,
    depth: usize,
) -> Result<Filter, FilterFejl> {
    if depth > MAX_DEPTH {
        return Err(jfejl(path, format!("nested deeper than {MAX_DEPTH}")));
    }
    let obj = match v {
        Value::Bool(true) => return Ok(Filter::And(vec![])),
        Value::Bool(false) => return Ok(Filter::Or(vec![])),
        Value::Object(o) => o,
        _ => return Err(jfejl(path, "expected an object, true or false")),
    };
    let only = |keys: &[&str]| -> Result<(), FilterFejl> {
        match obj.keys().find(|k| !keys.contains(&k.as_str())) {
            Some(k) => Err(jfejl(path, format!("unexpected key '{k}'"))),
            None => Ok(()),
        }
    };
    let list = |key: &str| -> Result<Vec<Filter>, FilterFejl> {
        only(&[key])?;
        let arr = obj[key]
            .as_array()
            .ok_or_else(|| jfejl(&format!("{path}.{key}"), "expected an array"))?;
        arr.iter()
            .enumerate()
            .map(|(i, x)| from_json(x, &format!("{path}.{key}[{i}]"), inside, depth + 1))
            .collect()
    };
    if obj.contains_key("and") {
        return Ok(Filter::And(list("and")?));
    }
    if obj.contains_key("or") {
        return Ok(Filter::Or(list("or")?));
    }
    if let Some(x) = obj.get("not") {
        only(&["not"])?;
        return Ok(Filter::Not(Box::new(from_json(
            x,
            &format!("{path}.not"),
            inside,
            depth + 1,
        )?)));
    }
    if let Some(g) = obj.get("some") {
        only(&["some", "where"])?;
        if inside.is_some() {
            return Err(jfejl(path, "groups do not nest"));
        }
        let g = g.as_str().and_then(Gruppe::find).ok_or_else(|| {
            jfejl(
                &format!("{path}.some"),
                "expected \"relateretobjekt\" or \"objektregistrering\"",
            )
        })?;
        let w = obj
            .get("where")
            .ok_or_else(|| jfejl(path, "\"some\" needs \"where\""))?;
        return Ok(Filter::Nogen(
            g,
            Box::new(from_json(w, &format!("{path}.where"), Some(g), depth + 1)?),
        ));
    }
    let Some(name) = obj.get("field") else {
        return Err(jfejl(
            path,
            "expected one of the keys and, or, not, some, field",
        ));
    };
    let name = name
        .as_str()
        .ok_or_else(|| jfejl(&format!("{path}.field"), "expected a string"))?;
    let felt = Felt::find(name, inside)
        .ok_or_else(|| jfejl(&format!("{path}.field"), format!("unknown field '{name}'")))?;
    let str_of = |key: &str| -> Result<String, FilterFejl> {
        obj[key]
            .as_str()
            .map(normal)
            .ok_or_else(|| jfejl(&format!("{path}.{key}"), "expected a string"))
    };
    let op = if obj.contains_key("eq") {
        only(&["field", "eq"])?;
        Op::Lig(str_of("eq")?)
    } else if obj.contains_key("prefix") {
        only(&["field", "prefix"])?;
        Op::Praefiks(str_of("prefix")?)
    } else if obj.contains_key("in") {
        only(&["field", "in"])?;
        let arr = obj["in"]
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| {
                jfejl(
                    &format!("{path}.in"),
                    "expected a non-empty array of strings",
                )
            })?;
        Op::I(
            arr.iter()
                .enumerate()
                .map(|(i, x)| {
                    x.as_str()
                        .map(normal)
                        .ok_or_else(|| jfejl(&format!("{path}.in[{i}]"), "expected a string"))
                })
                .collect::<Result<_, _>>()?,
        )
    } else if obj.contains_key("inList") {
        only(&["field", "inList"])?;
        let s = str_of("inList")?;
        Op::IVaerdiliste(
            Uuid::parse_str(&s)
                .map_err(|_| jfejl(&format!("{path}.inList"), format!("'{s}' is not a UUID")))?,
        )
    } else {
        return Err(jfejl(path, "a field needs eq, prefix, in or inList"));
    };
    check_op(felt, &op).map_err(|e| jfejl(path, e))?;
    Ok(Filter::Betingelse(felt, op))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kuvert::Haendelsesbesked;

    fn besked() -> Filtreringsdata {
        let xml = include_str!("../tests/fixtures/externTestBesked.xml");
        Haendelsesbesked::parse(xml)
            .unwrap()
            .beskedkuvert
            .filtreringsdata
    }

    fn m(text: &str) -> bool {
        Filter::parse(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .matcher(&besked(), &IngenVaerdilister)
    }

    #[test]
    fn fields_match_the_example_message() {
        assert!(m(r#"beskedtype = "7654895C-A3F3-4C77-8AFD-4C77330F963C""#));
        assert!(!m(r#"beskedtype = "00000000-0000-0000-0000-000000000000""#));
        assert!(m(r#"tilladtmodtager = "urn:oio:cvr-nr:99999999""#));
        assert!(m(r#"objektregistrering.opgaveemne ^= "urn:oio:kle:32.01""#));
        assert!(m(r#"objektregistrering.opgaveemne ^= "urn:oio:kle:32""#));
        assert!(!m(
            r#"objektregistrering.opgaveemne ^= "urn:oio:kle:32.02""#
        ));
        assert!(m(
            r#"relateretobjekt { objektid = "urn:oio:cpr-nr:2512484916" AND objekttype = "ce7fcf97-a8a2-447a-8690-d38aa0f6e23c" }"#
        ));
        assert!(m(
            r#"NOT beskedansvarligaktoer IN ["cf12c051-39ce-4066-ba11-704b46fa23c5"] AND (FALSE OR TRUE)"#
        ));
    }

    #[test]
    fn a_group_needs_one_occurrence_to_satisfy_everything() {
        // Two registrations: one with the id, one with the topic; any-field matching mixes
        // them, the group does not.
        let mut d = besked();
        let mut other = d.objekt_registrering[0].clone();
        other.objekt_id = Some(UnikId::urn("urn:oio:cpr-nr:0101010101").unwrap());
        other.opgave_emne = Some(UnikId::urn("urn:oio:kle:27.35.04").unwrap());
        d.objekt_registrering.push(other);
        let any = Filter::parse(
            r#"objektregistrering.objektid = "urn:oio:cpr-nr:1234567890" AND objektregistrering.opgaveemne ^= "urn:oio:kle:27""#,
        )
        .unwrap();
        let one = Filter::parse(
            r#"objektregistrering { objektid = "urn:oio:cpr-nr:1234567890" AND opgaveemne ^= "urn:oio:kle:27" }"#,
        )
        .unwrap();
        assert!(any.matcher(&d, &IngenVaerdilister));
        assert!(!one.matcher(&d, &IngenVaerdilister));
    }

    #[test]
    fn vaerdilister_are_looked_up() {
        let liste = Uuid::from_u128(7);
        let mut lister: HashMap<Uuid, HashSet<String>> = HashMap::new();
        let f = Filter::parse(&format!(
            r#"relateretobjekt.objektid IN vaerdiliste("{liste}")"#
        ))
        .unwrap();
        assert!(!f.matcher(&besked(), &lister));
        lister
            .entry(liste)
            .or_default()
            .insert("urn:oio:cpr-nr:2512484916".into());
        assert!(f.matcher(&besked(), &lister));
    }

    #[test]
    fn errors_say_where_and_what() {
        let e = Filter::parse(r#"beskedtype = "x" AND"#).unwrap_err();
        assert!(e.grund.contains("expected a field"), "{e}");
        let e = Filter::parse(r#"opgaveemne = "x""#).unwrap_err();
        assert!(e.grund.contains("unknown field 'opgaveemne'"), "{e}");
        let e = Filter::parse(r#"objektregistrering.opgaveemne ^= "urn:oio:kle:2""#).unwrap_err();
        assert!(e.grund.contains("whole KLE key"), "{e}");
        let e = Filter::parse(r#"relateretobjekt { beskedtype = "x" }"#).unwrap_err();
        assert!(e.grund.contains("inside relateretobjekt"), "{e}");
        let e = Filter::parse("").unwrap_err();
        assert!(e.grund.contains("TRUE"), "{e}");
        let e = Filter::from_json(&json!({"and": [{"field": "beskedtype", "eq": 3}]})).unwrap_err();
        assert_eq!(e.hvor, "$.and[0].eq");
        let e = Filter::from_json(&json!({"field": "beskedtype", "eq": "a", "x": 1})).unwrap_err();
        assert!(e.grund.contains("unexpected key 'x'"), "{e}");
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{}TRUE{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(Filter::parse(&deep).is_err());
        let nots = format!("{}TRUE", "NOT ".repeat(10_000));
        assert!(Filter::parse(&nots).is_err());
    }
}
