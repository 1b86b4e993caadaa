//! Engine errors as LoRa's JSON error bodies (contract §1.4). The only place this mapping lives.
//!
//! - validation failures: `{"error": 400, "text": "<field>: <reason>", "field", "reason", "code"}`
//!   (LoRa's schema-failure keys, plus the field and reason separately);
//! - everything else: `{"message": "<text>", "code": "<stable code>"}` with the variant's status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fki_oio::OioError;
use serde_json::json;

/// An error on its way out of a handler.
#[derive(Debug)]
pub struct ApiError(pub OioError);

impl From<OioError> for ApiError {
    fn from(e: OioError) -> Self {
        ApiError(e)
    }
}

impl ApiError {
    pub fn bad_request(msg: impl Into<String>) -> ApiError {
        ApiError(OioError::BadRequest(msg.into()))
    }
    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> ApiError {
        ApiError(OioError::validation(field, reason))
    }
}

/// A JSON error response with an arbitrary status (body too large, unknown route …).
pub fn message(status: StatusCode, code: &str, text: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({"message": text.into(), "code": code})),
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match &e {
            OioError::Validation { field, reason } => {
                let text = if field.is_empty() {
                    reason.clone()
                } else {
                    format!("{field}: {reason}")
                };
                (
                    status,
                    axum::Json(json!({
                        "error": 400, "text": text, "message": text,
                        "field": field, "reason": reason, "code": e.code()
                    })),
                )
                    .into_response()
            }
            OioError::Store(inner) if status.is_server_error() => {
                // The cause goes to the log; the client gets a generic text.
                tracing::error!(error = %inner, "storage failure");
                message(status, e.code(), "internal storage error")
            }
            _ => message(status, e.code(), e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fki_oio::store::StoreError;

    #[test]
    fn statuses() {
        let cases = [
            (ApiError::validation("a.b", "bad"), 400),
            (ApiError::bad_request("x"), 400),
            (
                ApiError(OioError::NotFound {
                    klasse: "k".into(),
                    uuid: uuid::Uuid::nil(),
                }),
                404,
            ),
            (
                ApiError(OioError::Gone {
                    klasse: "k".into(),
                    uuid: uuid::Uuid::nil(),
                }),
                410,
            ),
            (
                ApiError(OioError::Store(StoreError::Backend("secret".into()))),
                500,
            ),
        ];
        for (e, s) in cases {
            assert_eq!(e.into_response().status().as_u16(), s);
        }
    }
}
