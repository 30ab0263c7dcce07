//! The two kinds of failure of `attend serve`: a server that cannot start
//! ([`ServeError`], reported by the CLI) and a request that cannot be
//! answered ([`ApiError`], a JSON body `{"error": "..."}` with a 4xx or 5xx
//! status that names the field at fault).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A run directory could not be served (not a run, wrong kind, damaged).
    #[error("--run {run}: {message}")]
    Run { run: String, message: String },
    /// Two runs would be served under one name.
    #[error("--run {first} and --run {second} are both named {name:?} (a model is named by its run directory's name); rename one")]
    DuplicateName { name: String, first: String, second: String },
    /// A setting is out of range.
    #[error("{flag}: {message}")]
    Setting { flag: &'static str, message: String },
    /// The address could not be bound or served.
    #[error("{addr}: {source}")]
    Io { addr: String, source: std::io::Error },
}

/// A request's failure: its status and a message naming the field.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds after which a client may retry (503 only).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), retry_after: None }
    }

    /// 400: the request is malformed; `message` names the field.
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 503: the server is busy; try again in `seconds`.
    pub fn busy(message: impl Into<String>, seconds: u64) -> Self {
        Self { retry_after: Some(seconds), ..Self::new(StatusCode::SERVICE_UNAVAILABLE, message) }
    }

    /// 500: the model failed on a valid request.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

/// A JSON response with `status`.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = json_response(self.status, &serde_json::json!({ "error": self.message }));
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}
