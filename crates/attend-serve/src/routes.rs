//! The HTTP side of `attend serve` (axum): the endpoints, the API-key and
//! CORS guard, body limits and time-outs. Handlers only read, queue and
//! answer; the models run in their workers ([`crate::models`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use crate::api::{ClassifyRequest, GenerateRequest, Limits, TranslateRequest};
use crate::error::{json_response, ApiError};
use crate::models::{ClassifyJob, GenEvent, GenerateJob, Kind, Served, TranslateJob};

/// The page at `/`: static, embedded in the binary.
const PAGE: &str = include_str!("../static/index.html");

/// Everything the handlers share.
pub struct App {
    pub models: Vec<Served>,
    pub limits: Limits,
    /// Bearer token every endpoint but `/health` and the page requires.
    pub api_key: Option<String>,
    /// The origin allowed to call from a browser (`*` for any); no CORS headers without it.
    pub cors: Option<String>,
    /// How long a request may wait for its body and for its model.
    pub timeout: Duration,
    /// Largest request body, in bytes.
    pub max_body: usize,
}

/// The router of every endpoint.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/health", get(health))
        .route("/v1/models", get(models))
        .route("/v1/translate", post(translate))
        .route("/v1/generate", post(generate))
        .route("/v1/classify", post(classify))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("{}: no such endpoint; see GET /v1/models, POST /v1/translate, /v1/generate, /v1/classify", req.uri().path()))
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, format!("{} {}: method not allowed here", req.method(), req.uri().path()))
}

/// Equality that takes the same time wherever the first difference is.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i).copied().unwrap_or(0), b.get(i).copied().unwrap_or(0));
        diff |= u64::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

/// CORS (only when configured) and the API key (when set), before any endpoint.
async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let allowed = match (&app.cors, &origin) {
        (Some(c), Some(o)) => c == "*" || o.as_bytes() == c.as_bytes(),
        _ => false,
    };
    if allowed && req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("authorization, content-type"));
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        return with_cors(r, origin.as_ref());
    }
    let open = matches!(req.uri().path(), "/health" | "/");
    if let (Some(key), false) = (&app.api_key, open) {
        let given = req.headers().get(header::AUTHORIZATION).and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
        if !given.is_some_and(|g| same_secret(g, key.as_bytes())) {
            let mut r = ApiError::new(StatusCode::UNAUTHORIZED, "Authorization: this server needs its API key (Authorization: Bearer KEY)")
                .into_response();
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return if allowed { with_cors(r, origin.as_ref()) } else { r };
        }
    }
    let r = next.run(req).await;
    if allowed {
        with_cors(r, origin.as_ref())
    } else {
        r
    }
}

fn with_cors(mut r: Response, origin: Option<&HeaderValue>) -> Response {
    if let Some(o) = origin {
        r.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o.clone());
        r.headers_mut().insert(header::VARY, HeaderValue::from_static("origin"));
    }
    r
}

async fn page() -> Response {
    let mut r = PAGE.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"),
    );
    r
}

async fn health(State(app): State<Arc<App>>) -> Response {
    json_response(StatusCode::OK, &json!({ "status": "ok", "models": app.models.len() }))
}

async fn models(State(app): State<Arc<App>>) -> Response {
    let list: Vec<Value> = app.models.iter().map(|m| json!({ "name": m.name, "kind": m.kind.name(), "info": m.info })).collect();
    json_response(StatusCode::OK, &json!({ "models": list }))
}

/// The body, at most `max_body` bytes, within the time-out. It must be
/// declared JSON: a page on another origin cannot send that without the
/// browser asking the server first (a preflight, refused unless `--cors`).
async fn read_body(app: &App, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type: expected application/json"));
    }
    let too_large = || ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("body: larger than {} bytes", app.max_body));
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > app.max_body as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout(app.timeout, axum::body::to_bytes(body, app.max_body)).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(_)) => Err(too_large()),
        Err(_) => Err(ApiError::new(StatusCode::REQUEST_TIMEOUT, format!("body: not received within {} s", app.timeout.as_secs()))),
    }
}

/// The model a request names, or the only one of its kind.
fn pick<'a>(app: &'a App, name: Option<&str>, kind: Kind) -> Result<&'a Served, ApiError> {
    let of_kind: Vec<&Served> = app.models.iter().filter(|m| m.kind == kind).collect();
    let names = |v: &[&Served]| v.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ");
    match name {
        Some(n) => match app.models.iter().find(|m| m.name == n) {
            Some(m) if m.kind == kind => Ok(m),
            Some(m) => Err(ApiError::bad(format!(
                "model: {n:?} is a {}; /v1/{} needs a {}",
                m.kind.noun(),
                kind.name(),
                kind.noun()
            ))),
            None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("model: no model named {n:?} (served: {})", names(&app.models.iter().collect::<Vec<_>>())))),
        },
        None => match of_kind.as_slice() {
            [one] => Ok(one),
            [] => Err(ApiError::new(StatusCode::NOT_FOUND, format!("model: no {} is served", kind.noun()))),
            many => Err(ApiError::bad(format!("model: required when several {}s are served ({})", kind.noun(), names(many)))),
        },
    }
}

/// The worker's answer within the time-out.
async fn answer<T>(app: &App, m: &Served, rx: oneshot::Receiver<Result<T, ApiError>>) -> Result<T, ApiError> {
    match tokio::time::timeout(app.timeout, rx).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => Err(ApiError::internal(format!("model {:?} stopped before answering", m.name))),
        Err(_) => Err(ApiError::busy(format!("model {:?} did not answer within {} s; retry later", m.name, app.timeout.as_secs()), 1)),
    }
}

async fn translate(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let req = TranslateRequest::parse(&read_body(&app, &headers, body).await?, &app.limits)?;
    let m = pick(&app, req.model.as_deref(), Kind::Translate)?;
    let (reply, rx) = oneshot::channel();
    m.translate(TranslateJob { req, reply })?;
    let items = answer(&app, m, rx).await?;
    Ok(json_response(StatusCode::OK, &json!({ "model": m.name, "translations": items })))
}

async fn classify(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let req = ClassifyRequest::parse(&read_body(&app, &headers, body).await?, &app.limits)?;
    let m = pick(&app, req.model.as_deref(), Kind::Classify)?;
    let (reply, rx) = oneshot::channel();
    m.classify(ClassifyJob { req, reply })?;
    let items = answer(&app, m, rx).await?;
    Ok(json_response(StatusCode::OK, &json!({ "model": m.name, "results": items })))
}

fn event(e: GenEvent) -> Event {
    match e {
        GenEvent::Token(text) => Event::default().event("token").data(json!({ "text": text }).to_string()),
        GenEvent::Done { tokens, seconds } => Event::default().event("done").data(json!({ "tokens": tokens, "seconds": seconds }).to_string()),
        GenEvent::Error(message) => Event::default().event("error").data(json!({ "error": message }).to_string()),
    }
}

/// Server-sent events: `token` events with `{"text"}`, then `done` (or `error`).
async fn generate(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let req = GenerateRequest::parse(&read_body(&app, &headers, body).await?, &app.limits)?;
    let m = pick(&app, req.model.as_deref(), Kind::Generate)?;
    let (accepted, rx) = oneshot::channel();
    let (events, mut stream) = mpsc::channel(64);
    m.generate(GenerateJob { req, accepted, events })?;
    answer(&app, m, rx).await?;
    let s = futures_util::stream::poll_fn(move |cx| stream.poll_recv(cx).map(|e| e.map(|e| Ok::<Event, Infallible>(event(e)))));
    Ok(Sse::new(s).keep_alive(KeepAlive::default()).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_by_content_and_length() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cret", b"s3cres"));
        assert!(!same_secret(b"s3cret", b"s3cret!"));
        assert!(!same_secret(b"", b"x"));
        assert!(same_secret(b"", b""));
    }
}
