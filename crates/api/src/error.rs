//! Error answers: a status code and a plain-text message, as Nomad sends them
//! (`job not found`), and the kind of a server error for the RPC's client.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::rpc;

/// An error answer: status code and plain-text message.
#[derive(Debug)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    /// What kind of server error it is, for the RPC's client (`X-Caravan-Error`): the
    /// client acts on the kind, never on the message's words.
    pub(crate) kind: Option<&'static str>,
}

pub use caravan_api_types::rpc::ERROR_KIND_HEADER;

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            kind: None,
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [("content-type", "text/plain; charset=utf-8")],
            self.message,
        )
            .into_response();
        if let Some(kind) = self.kind {
            response
                .headers_mut()
                .insert(ERROR_KIND_HEADER, HeaderValue::from_static(kind));
        }
        response
    }
}

impl From<caravan_server::ServerError> for ApiError {
    fn from(error: caravan_server::ServerError) -> ApiError {
        use caravan_server::ServerError;
        let status = match error {
            ServerError::Invalid(_) | ServerError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ServerError::NotFound(_) | ServerError::Missing(_) => StatusCode::NOT_FOUND,
            ServerError::PermissionDenied | ServerError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServerError::Rejected(_) => StatusCode::INTERNAL_SERVER_ERROR,
            // No kind: a client retries it as it would a server it cannot reach.
            ServerError::Unavailable(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let kind = rpc::error_kind(&error);
        ApiError {
            kind,
            ..ApiError::new(status, error.to_string())
        }
    }
}
