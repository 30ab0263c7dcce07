//! The JSON requests of `attend serve`, read field by field so that every
//! refusal names its field (`texts[2]: empty text`, `beam: expected an
//! integer from 1 to 16, got 0`), and the limits they are checked against.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// What one request may ask for.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Texts per translate or classify request.
    pub max_texts: usize,
    /// Characters per text or prompt (longer ones are refused; a text within
    /// this limit but longer than the model's positions is truncated, with a
    /// warning in its answer).
    pub max_chars: usize,
    /// Tokens one generate request may ask for.
    pub max_new_tokens: usize,
    /// Beam size.
    pub max_beam: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_texts: 64, max_chars: 2000, max_new_tokens: 1024, max_beam: 16 }
    }
}

/// `POST /v1/translate`.
#[derive(Debug, Clone, PartialEq)]
pub struct TranslateRequest {
    pub model: Option<String>,
    pub texts: Vec<String>,
    /// 1 = greedy.
    pub beam: usize,
    pub length_penalty: f32,
    pub attention: bool,
}

/// `POST /v1/generate`.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    pub model: Option<String>,
    pub prompt: String,
    pub max_tokens: usize,
    pub temperature: f32,
    pub top_k: usize,
    pub top_p: f32,
    pub seed: u64,
}

/// `POST /v1/classify`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifyRequest {
    pub model: Option<String>,
    pub texts: Vec<String>,
}

/// The body as a JSON object: UTF-8 first, then JSON, then an object.
pub fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::bad(format!("body: not valid UTF-8 (at byte {})", e.valid_up_to())))?;
    if text.trim().is_empty() {
        return Err(ApiError::bad("body: empty; expected a JSON object"));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(ApiError::bad(format!("body: expected a JSON object, got {}", kind(&other)))),
        Err(e) => Err(ApiError::bad(format!("body: invalid JSON: {e}"))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Refuses fields that the endpoint does not know (a typo would otherwise be ignored).
fn known(m: &Map<String, Value>, fields: &[&str]) -> Result<(), ApiError> {
    match m.keys().find(|k| !fields.contains(&k.as_str())) {
        Some(k) => Err(ApiError::bad(format!("{k}: unknown field; this endpoint takes {}", fields.join(", ")))),
        None => Ok(()),
    }
}

/// A present, non-null field.
fn field<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).filter(|v| !v.is_null())
}

fn string(m: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match field(m, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(ApiError::bad(format!("{key}: expected a string, got {}", kind(v)))),
    }
}

fn integer(m: &Map<String, Value>, key: &str, lo: u64, hi: u64, default: u64) -> Result<u64, ApiError> {
    let Some(v) = field(m, key) else { return Ok(default) };
    match v.as_u64() {
        Some(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(ApiError::bad(format!("{key}: expected an integer from {lo} to {hi}, got {v}"))),
    }
}

fn number(m: &Map<String, Value>, key: &str, lo: f64, hi: f64, default: f32) -> Result<f32, ApiError> {
    let Some(v) = field(m, key) else { return Ok(default) };
    match v.as_f64() {
        Some(x) if x >= lo && x <= hi => Ok(x as f32),
        _ => Err(ApiError::bad(format!("{key}: expected a number from {lo} to {hi}, got {v}"))),
    }
}

fn boolean(m: &Map<String, Value>, key: &str) -> Result<bool, ApiError> {
    match field(m, key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(ApiError::bad(format!("{key}: expected true or false, got {}", kind(v)))),
    }
}

/// A text within the limits: not blank, at most `max_chars` characters.
fn text(s: &str, name: &str, limits: &Limits) -> Result<(), ApiError> {
    if s.trim().is_empty() {
        return Err(ApiError::bad(format!("{name}: empty text")));
    }
    let n = s.chars().count();
    if n > limits.max_chars {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!("{name}: {n} characters; at most {} per text", limits.max_chars),
        ));
    }
    Ok(())
}

fn texts(m: &Map<String, Value>, limits: &Limits) -> Result<Vec<String>, ApiError> {
    let v = field(m, "texts").ok_or_else(|| ApiError::bad("texts: required (an array of strings)"))?;
    let Value::Array(items) = v else {
        return Err(ApiError::bad(format!("texts: expected an array of strings, got {}", kind(v))));
    };
    if items.is_empty() {
        return Err(ApiError::bad("texts: empty array; give at least one text"));
    }
    if items.len() > limits.max_texts {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!("texts: {} texts; at most {} per request", items.len(), limits.max_texts),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::String(s) = item else {
            return Err(ApiError::bad(format!("texts[{i}]: expected a string, got {}", kind(item))));
        };
        text(s, &format!("texts[{i}]"), limits)?;
        out.push(s.clone());
    }
    Ok(out)
}

impl TranslateRequest {
    pub fn parse(body: &[u8], limits: &Limits) -> Result<Self, ApiError> {
        let m = object(body)?;
        known(&m, &["model", "texts", "beam", "length_penalty", "attention"])?;
        let r = Self {
            model: string(&m, "model")?,
            texts: texts(&m, limits)?,
            beam: integer(&m, "beam", 1, limits.max_beam as u64, 1)? as usize,
            length_penalty: number(&m, "length_penalty", 0.0, 10.0, 1.0)?,
            attention: boolean(&m, "attention")?,
        };
        if r.attention && r.beam > 1 {
            return Err(ApiError::bad("attention: attention weights come with greedy decoding only (beam 1)"));
        }
        Ok(r)
    }
}

impl GenerateRequest {
    pub fn parse(body: &[u8], limits: &Limits) -> Result<Self, ApiError> {
        let m = object(body)?;
        known(&m, &["model", "prompt", "max_tokens", "temperature", "top_k", "top_p", "seed"])?;
        let prompt = string(&m, "prompt")?.ok_or_else(|| ApiError::bad("prompt: required (a string)"))?;
        text(&prompt, "prompt", limits)?;
        Ok(Self {
            model: string(&m, "model")?,
            prompt,
            max_tokens: integer(&m, "max_tokens", 1, limits.max_new_tokens as u64, 100)? as usize,
            temperature: number(&m, "temperature", 0.0, 100.0, 1.0)?,
            top_k: integer(&m, "top_k", 0, 1 << 20, 0)? as usize,
            top_p: number(&m, "top_p", f64::MIN_POSITIVE, 1.0, 1.0)?,
            seed: integer(&m, "seed", 0, u64::MAX, 0)?,
        })
    }
}

impl ClassifyRequest {
    pub fn parse(body: &[u8], limits: &Limits) -> Result<Self, ApiError> {
        let m = object(body)?;
        known(&m, &["model", "texts"])?;
        Ok(Self { model: string(&m, "model")?, texts: texts(&m, limits)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(r: Result<impl std::fmt::Debug, ApiError>) -> String {
        let e = r.unwrap_err();
        format!("{} {}", e.status.as_u16(), e.message)
    }

    #[test]
    fn a_full_translate_request_reads_back() {
        let body = br#"{"model": "m", "texts": ["I am.", "Go!"], "beam": 4, "length_penalty": 0.6}"#;
        let r = TranslateRequest::parse(body, &Limits::default()).unwrap();
        assert_eq!(r.model.as_deref(), Some("m"));
        assert_eq!(r.texts, ["I am.", "Go!"]);
        assert_eq!((r.beam, r.length_penalty, r.attention), (4, 0.6, false));
        let r = TranslateRequest::parse(br#"{"texts": ["x"], "model": null}"#, &Limits::default()).unwrap();
        assert_eq!((r.model, r.beam, r.length_penalty), (None, 1, 1.0));
    }

    #[test]
    fn every_refusal_names_its_field() {
        let l = Limits { max_texts: 2, max_chars: 5, ..Limits::default() };
        let t = |b: &[u8]| err(TranslateRequest::parse(b, &l));
        assert!(t(b"\xff\xfe").starts_with("400 body: not valid UTF-8"));
        assert!(t(b"{\"texts\": [\"a\"").starts_with("400 body: invalid JSON"));
        assert!(t(b"[1]").contains("body: expected a JSON object, got an array"));
        assert!(t(b"").contains("body: empty"));
        assert!(t(br#"{}"#).contains("texts: required"));
        assert!(t(br#"{"texts": "hi"}"#).contains("texts: expected an array of strings, got a string"));
        assert!(t(br#"{"texts": []}"#).contains("texts: empty array"));
        assert!(t(br#"{"texts": ["a", 3]}"#).contains("texts[1]: expected a string, got a number"));
        assert!(t(br#"{"texts": ["a", "  "]}"#).contains("texts[1]: empty text"));
        assert_eq!(t(br#"{"texts": ["a", "toolong"]}"#), "413 texts[1]: 7 characters; at most 5 per text");
        assert_eq!(t(br#"{"texts": ["a", "b", "c"]}"#), "413 texts: 3 texts; at most 2 per request");
        assert!(t(br#"{"texts": ["a"], "beam": 0}"#).contains("beam: expected an integer from 1 to 16, got 0"));
        assert!(t(br#"{"texts": ["a"], "beam": "4"}"#).contains("beam: expected an integer"));
        assert!(t(br#"{"texts": ["a"], "model": 7}"#).contains("model: expected a string, got a number"));
        assert!(t(br#"{"texts": ["a"], "attention": 1}"#).contains("attention: expected true or false"));
        assert!(t(br#"{"texts": ["a"], "attention": true, "beam": 2}"#).contains("attention: attention weights come with greedy"));
        assert!(t(br#"{"texts": ["a"], "beem": 2}"#).contains("beem: unknown field"));
        let g = |b: &[u8]| err(GenerateRequest::parse(b, &l));
        assert!(g(br#"{"max_tokens": 3}"#).contains("prompt: required"));
        assert!(g(br#"{"prompt": "a", "max_tokens": 0}"#).contains("max_tokens: expected an integer from 1 to 1024"));
        assert!(g(br#"{"prompt": "a", "temperature": -1}"#).contains("temperature: expected a number from 0 to 100"));
        assert!(g(br#"{"prompt": "a", "top_p": 0}"#).contains("top_p: expected a number"));
        assert!(g(br#"{"prompt": "a", "seed": -1}"#).contains("seed: expected an integer"));
        assert!(err(ClassifyRequest::parse(br#"{"texts": ["a"], "beam": 2}"#, &l)).contains("beam: unknown field; this endpoint takes model, texts"));
    }
}
