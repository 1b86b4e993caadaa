//! The engine's one error type.
//!
//! Every variant has a stable code (grep-able in logs and client reports) and an HTTP status.
//! Transports map it in one place each: the REST API renders LoRa's JSON error bodies; the SOAP
//! services will render StandardRetur/faults from the same variants.

use uuid::Uuid;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum OioError {
    /// A request body or value is malformed: names the offending field and the reason.
    #[error("{field}: {reason}")]
    Validation { field: String, reason: String },
    /// A request is well-formed but not acceptable (unsupported argument, conflicting windows).
    #[error("{0}")]
    BadRequest(String),
    /// The lifecycle table forbids the operation on the object's current state.
    #[error("Invalid [livscyklus] transition from {from} to {to}")]
    Livscyklus {
        from: &'static str,
        to: &'static str,
    },
    /// No such object (or none of this class, or none visible to the caller, or none in the window).
    #[error("No {klasse} with uuid {uuid}")]
    NotFound { klasse: String, uuid: Uuid },
    /// No object type at this service and class name.
    #[error("No class /{service}/{class}")]
    NoSuchClass { service: String, class: String },
    /// The object's newest registrering in the window is `Slettet`.
    #[error("{klasse} {uuid} has been deleted")]
    Gone { klasse: String, uuid: Uuid },
    /// Visible, but the caller may not write it (a fælleskommunal object owned by another myndighed).
    #[error("{0}")]
    Forbidden(String),
    /// A concurrent writer created the same object.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl OioError {
    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> Self {
        OioError::Validation {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Stable code of the variant.
    pub fn code(&self) -> &'static str {
        match self {
            OioError::Validation { .. } => "OIO-VALIDATION",
            OioError::BadRequest(_) => "OIO-BAD-REQUEST",
            OioError::Livscyklus { .. } => "OIO-LIVSCYKLUS",
            OioError::NotFound { .. } => "OIO-NOT-FOUND",
            OioError::NoSuchClass { .. } => "OIO-NO-SUCH-CLASS",
            OioError::Gone { .. } => "OIO-GONE",
            OioError::Forbidden(_) => "OIO-FORBIDDEN",
            OioError::Conflict(_) => "OIO-CONFLICT",
            OioError::Store(StoreError::Conflict(_)) => "OIO-CONFLICT",
            OioError::Store(StoreError::Backend(_)) => "OIO-STORE",
        }
    }

    /// The HTTP status LoRa uses for it (contract §1.2, §1.4).
    pub fn status(&self) -> u16 {
        match self {
            OioError::Validation { .. } | OioError::BadRequest(_) | OioError::Livscyklus { .. } => {
                400
            }
            OioError::Forbidden(_) => 403,
            OioError::NotFound { .. } | OioError::NoSuchClass { .. } => 404,
            OioError::Conflict(_) | OioError::Store(StoreError::Conflict(_)) => 409,
            OioError::Gone { .. } => 410,
            OioError::Store(StoreError::Backend(_)) => 500,
        }
    }
}

pub type OioResult<T> = Result<T, OioError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_status_and_code() {
        let u = Uuid::nil();
        let table: Vec<(OioError, u16, &str)> = vec![
            (OioError::validation("a", "b"), 400, "OIO-VALIDATION"),
            (OioError::BadRequest("x".into()), 400, "OIO-BAD-REQUEST"),
            (
                OioError::Livscyklus {
                    from: "Slettet",
                    to: "Rettet",
                },
                400,
                "OIO-LIVSCYKLUS",
            ),
            (OioError::Forbidden("x".into()), 403, "OIO-FORBIDDEN"),
            (
                OioError::NotFound {
                    klasse: "k".into(),
                    uuid: u,
                },
                404,
                "OIO-NOT-FOUND",
            ),
            (
                OioError::NoSuchClass {
                    service: "s".into(),
                    class: "c".into(),
                },
                404,
                "OIO-NO-SUCH-CLASS",
            ),
            (OioError::Conflict("x".into()), 409, "OIO-CONFLICT"),
            (
                OioError::Store(StoreError::Conflict("x".into())),
                409,
                "OIO-CONFLICT",
            ),
            (
                OioError::Gone {
                    klasse: "k".into(),
                    uuid: u,
                },
                410,
                "OIO-GONE",
            ),
            (
                OioError::Store(StoreError::Backend("x".into())),
                500,
                "OIO-STORE",
            ),
        ];
        for (e, status, code) in table {
            assert_eq!((e.status(), e.code()), (status, code), "{e:?}");
        }
    }
}
