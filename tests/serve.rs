//! `attend serve` end to end: the binary serves small runs trained here, and
//! the tests talk to it over HTTP as a client would — translations equal to
//! `attend translate` alone and inside batches, streamed generation equal to
//! `attend generate`, classification equal to `attend classify`, every kind
//! of bad request a 4xx JSON error naming its field, the API key, CORS, a
//! full queue, shutdown with a request in flight, and the web page in
//! headless Chromium.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::time::Duration;

use attend::serve::client::{post_json, request, sse_events, Response};
use common::{attend, run, tmp_dir, train_small};
use serde_json::{json, Value};

/// A running `attend serve`, killed when dropped.
struct Server {
    child: Child,
    addr: String,
    stdout: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        Self::start_env(args, &[])
    }

    // The child is waited for in `Drop` (or before the panic when it fails to start).
    #[allow(clippy::zombie_processes)]
    fn start_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = attend();
        cmd.args(["serve", "--device", "cpu"]).args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        if !args.contains(&"--addr") {
            cmd.args(["--addr", "127.0.0.1:0"]);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("attend serve starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut stdout = String::new();
        loop {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.wait();
                panic!("attend serve stopped before serving: {stdout}{}", stderr.lock().unwrap());
            }
            stdout.push_str(&line);
            if let Some(at) = line.find("http://") {
                let addr = line[at + 7..].split([' ', ';']).next().unwrap().to_string();
                std::thread::spawn(move || for _ in out.lines() {});
                return Server { child, addr, stdout, stderr };
            }
        }
    }

    fn post(&self, path: &str, body: Value) -> Response {
        post_json(&self.addr, path, &body, &[]).expect("the server answers")
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        request(&self.addr, "GET", path, headers, b"", Duration::from_secs(30)).expect("the server answers")
    }

    fn raw(&self, method: &str, path: &str, body: &[u8]) -> Response {
        request(&self.addr, method, path, &[("Content-Type", "application/json")], body, Duration::from_secs(30)).expect("answers")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Small runs of each kind, trained once for the whole file.
fn runs() -> &'static (PathBuf, PathBuf, PathBuf) {
    static RUNS: OnceLock<(PathBuf, PathBuf, PathBuf)> = OnceLock::new();
    RUNS.get_or_init(|| {
        let dir = tmp_dir("serve-runs");
        let tr = dir.join("fr");
        let (code, _, err) = train_small(&tr, &["--set", "train.max_steps=60", "--set", "train.eval_every=60", "--set", "train.lr=0.003"]);
        assert_eq!(code, 0, "{err}");
        let lm = dir.join("shakespeare");
        let (code, _, err) = run(&[
            "train", "--quiet", "--task", "lm", "--out", p(&lm),
            "--set", "model.d_model=32", "--set", "model.n_heads=2", "--set", "model.d_ff=64", "--set", "model.layers=1",
            "--set", "model.context=32", "--set", "data.batch_size=8", "--set", "train.max_steps=20", "--set", "train.eval_every=20",
        ]);
        assert_eq!(code, 0, "{err}");
        let cl = dir.join("polarity");
        let (code, _, err) = run(&[
            "train", "--quiet", "--task", "classify", "--out", p(&cl), "--set", "model.arch=\"bag\"",
            "--set", "model.d_model=16", "--set", "train.epochs=1",
        ]);
        assert_eq!(code, 0, "{err}");
        (tr, lm, cl)
    })
}

const SENTENCES: [&str; 6] = ["I am a manager.", "He is tall.", "You are late.", "We are happy.", "She is here.", "They are ready."];

fn texts(r: &Response) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["translations"].as_array().unwrap().iter().map(|t| t["text"].as_str().unwrap().to_string()).collect()
}

#[test]
fn translations_are_the_clis_alone_and_inside_batches() {
    let (tr, _, _) = runs();
    let (code, cli, err) = run(&["translate", "--run", p(tr), "--device", "cpu"].iter().copied().chain(SENTENCES).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
    let cli: Vec<String> = cli.lines().map(str::to_string).collect();
    let (code, cli_beam, err) = run(&["translate", "--run", p(tr), "--device", "cpu", "--beam", "3", SENTENCES[0]]);
    assert_eq!(code, 0, "{err}");
    // A long window, so that the concurrent requests below surely share batches.
    let s = Server::start(&["--run", p(tr), "--batch-wait-ms", "200"]);
    for (i, sentence) in SENTENCES.iter().enumerate() {
        assert_eq!(texts(&s.post("/v1/translate", json!({ "texts": [sentence] }))), [cli[i].clone()], "alone: {sentence}");
    }
    assert_eq!(texts(&s.post("/v1/translate", json!({ "texts": SENTENCES }))), cli, "one request of six");
    let barrier = Arc::new(Barrier::new(SENTENCES.len()));
    let handles: Vec<_> = SENTENCES
        .iter()
        .map(|sentence| {
            let (addr, barrier) = (s.addr.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                texts(&post_json(&addr, "/v1/translate", &json!({ "texts": [sentence] }), &[]).unwrap())
            })
        })
        .collect();
    for (h, want) in handles.into_iter().zip(&cli) {
        assert_eq!(h.join().unwrap(), std::slice::from_ref(want), "six concurrent requests");
    }
    let beam = s.post("/v1/translate", json!({ "texts": [SENTENCES[0]], "beam": 3, "model": "fr" }));
    assert_eq!(texts(&beam), [cli_beam.trim_end().to_string()]);
    // Greedy translations with their attention: one row per target token, one weight per source token.
    let r = s.post("/v1/translate", json!({ "texts": [SENTENCES[0]], "attention": true }));
    let t = &r.json()["translations"][0];
    assert_eq!(t["text"], cli[0].as_str());
    let (src, tgt, w) = (&t["attention"]["source"], &t["attention"]["target"], t["attention"]["weights"].as_array().unwrap());
    assert_eq!(src.as_array().unwrap().last().unwrap(), "<eos>");
    assert_eq!(w.len(), tgt.as_array().unwrap().len());
    // Subword pieces are labelled by their text, not by their byte-level form (`Ġam`).
    let labels = format!("{src}{tgt}");
    assert!(!labels.contains('Ġ') && labels.contains("\"am\""), "{labels}");
    for row in w {
        let row: Vec<f64> = row.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        assert_eq!(row.len(), src.as_array().unwrap().len());
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-3, "{row:?}");
    }
    // A text longer than the model's positions is translated truncated, with a warning.
    let long = vec!["word"; 200].join(" ");
    let r = s.post("/v1/translate", json!({ "texts": [long] }));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["translations"][0]["warning"].as_str().unwrap().contains("truncated"), "{}", r.text());
    let models = s.get("/v1/models", &[]).json();
    assert_eq!(models["models"][0]["name"], "fr");
    assert_eq!(models["models"][0]["kind"], "translate");
    assert!(models["models"][0]["info"]["parameters"].as_u64().unwrap() > 1000);
    assert!(!models.to_string().contains(p(tr)), "no file path is shown: {models}");
}

#[test]
fn generation_streams_the_clis_text_and_classification_matches_the_cli() {
    let (_, lm, cl) = runs();
    let prompt = "ROMEO:";
    let (code, cli, err) = run(&["generate", "--run", p(lm), "--device", "cpu", "--prompt", prompt, "--max-tokens", "40", "--seed", "7", "--temperature", "0.8"]);
    assert_eq!(code, 0, "{err}");
    let s = Server::start(&["--run", p(lm), "--run", p(cl)]);
    let body = json!({ "prompt": prompt, "max_tokens": 40, "seed": 7, "temperature": 0.8 });
    let r = s.post("/v1/generate", body.clone());
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("content-type").unwrap().starts_with("text/event-stream"));
    let events = sse_events(&r.text());
    let pieces: Vec<String> =
        events.iter().filter(|(e, _)| e == "token").map(|(_, d)| serde_json::from_str::<Value>(d).unwrap()["text"].as_str().unwrap().to_string()).collect();
    assert_eq!(pieces.len(), 40);
    let (last, done) = events.last().unwrap();
    assert_eq!(last, "done");
    assert_eq!(serde_json::from_str::<Value>(done).unwrap()["tokens"], 40);
    assert_eq!(format!("{prompt}{}\n", pieces.concat()), cli, "the served text is the CLI's");
    let again = sse_events(&s.post("/v1/generate", body).text());
    assert_eq!(again.len(), events.len());
    // Classification: the CLI's label and probability.
    let review = "a gorgeous , witty , seductive movie .";
    let (code, cli, err) = run(&["classify", "--run", p(cl), "--device", "cpu", review]);
    assert_eq!(code, 0, "{err}");
    let cols: Vec<&str> = cli.trim_end().split('\t').collect();
    let r = s.post("/v1/classify", json!({ "texts": [review, "a dull , lifeless film ."] }));
    assert_eq!(r.status, 200, "{}", r.text());
    let first = &r.json()["results"][0];
    assert_eq!(first["label"], cols[0]);
    let prob = first["probabilities"][cols[0]].as_f64().unwrap();
    assert!((prob - cols[1].parse::<f64>().unwrap()).abs() < 1e-4, "{prob} vs {}", cols[1]);
    assert_eq!(r.json()["results"].as_array().unwrap().len(), 2);
    // The wrong kind of model for an endpoint is named.
    let r = s.post("/v1/translate", json!({ "texts": ["hi"], "model": "shakespeare" }));
    assert_eq!((r.status, r.json()["error"].as_str().unwrap()), (400, "model: \"shakespeare\" is a language model; /v1/translate needs a translator"));
}

#[test]
fn bad_requests_are_json_errors_naming_the_field_and_the_server_lives_on() {
    let (tr, _, _) = runs();
    let s = Server::start(&["--run", p(tr), "--max-body", "4096", "--max-texts", "4", "--max-chars", "300"]);
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        ("POST", "/v1/translate", b"{\"texts\": [\"a\"".to_vec(), 400, "body: invalid JSON"),
        ("POST", "/v1/translate", b"{\"texts\": [\"\xff\xfe\"]}".to_vec(), 400, "body: not valid UTF-8"),
        ("POST", "/v1/translate", b"".to_vec(), 400, "body: empty"),
        ("POST", "/v1/translate", b"[\"a\"]".to_vec(), 400, "body: expected a JSON object"),
        ("POST", "/v1/translate", br#"{"texts": "a"}"#.to_vec(), 400, "texts: expected an array of strings"),
        ("POST", "/v1/translate", br#"{"texts": [1]}"#.to_vec(), 400, "texts[0]: expected a string"),
        ("POST", "/v1/translate", br#"{"texts": ["ok", ""]}"#.to_vec(), 400, "texts[1]: empty text"),
        ("POST", "/v1/translate", br#"{"texts": ["a","b","c","d","e"]}"#.to_vec(), 413, "texts: 5 texts; at most 4"),
        ("POST", "/v1/translate", format!(r#"{{"texts": ["{}"]}}"#, "x".repeat(301)).into_bytes(), 413, "texts[0]: 301 characters"),
        ("POST", "/v1/translate", format!(r#"{{"texts": ["{}"]}}"#, "x ".repeat(3000)).into_bytes(), 413, "body: larger than 4096 bytes"),
        ("POST", "/v1/translate", br#"{"texts": ["a"], "beam": 0}"#.to_vec(), 400, "beam: expected an integer from 1 to 16"),
        ("POST", "/v1/translate", br#"{"texts": ["a"], "beam": 2, "attention": true}"#.to_vec(), 400, "attention: attention weights come with greedy"),
        ("POST", "/v1/translate", br#"{"texts": ["a"], "model": "nope"}"#.to_vec(), 404, "model: no model named \"nope\" (served: fr)"),
        ("POST", "/v1/translate", br#"{"texts": ["a"], "speed": 2}"#.to_vec(), 400, "speed: unknown field"),
        ("POST", "/v1/generate", br#"{"prompt": "a"}"#.to_vec(), 404, "model: no language model is served"),
        ("POST", "/v1/classify", br#"{"texts": ["a"]}"#.to_vec(), 404, "model: no classifier is served"),
        ("GET", "/v1/translate", Vec::new(), 405, "GET /v1/translate: method not allowed"),
        ("POST", "/v1/nothing", Vec::new(), 404, "/v1/nothing: no such endpoint"),
        ("GET", "/../../etc/passwd", Vec::new(), 404, "no such endpoint"),
    ];
    // A body that is not declared JSON (what a page on another origin could send without asking).
    let r = request(&s.addr, "POST", "/v1/translate", &[("Content-Type", "text/plain")], br#"{"texts": ["a"]}"#, Duration::from_secs(10)).unwrap();
    assert_eq!((r.status, r.json()["error"].as_str()), (415, Some("Content-Type: expected application/json")));
    for (method, path, body, status, message) in cases {
        let r = s.raw(method, path, &body);
        let error = r.json()["error"].as_str().map(str::to_string).unwrap_or_else(|| panic!("{method} {path}: not a JSON error: {}", r.text()));
        assert_eq!(r.status, status, "{method} {path}: {error}");
        assert!(error.contains(message), "{method} {path}: {error:?} should contain {message:?}");
    }
    assert_eq!(s.get("/health", &[]).json()["status"], "ok");
    assert_eq!(texts(&s.post("/v1/translate", json!({ "texts": ["I am a manager."] }))).len(), 1);
}

#[test]
fn the_api_key_cors_and_binding_keep_others_out() {
    let (tr, _, _) = runs();
    let key = "k3y-never-logged";
    let s = Server::start_env(&["--run", p(tr)], &[("ATTEND_API_KEY", key)]);
    assert!(s.stdout.contains("API key required"), "{}", s.stdout);
    assert_eq!(s.get("/health", &[]).status, 200);
    assert_eq!(s.get("/", &[]).status, 200, "the page itself is static");
    let r = s.get("/v1/models", &[]);
    assert_eq!((r.status, r.header("www-authenticate")), (401, Some("Bearer")));
    assert!(r.json()["error"].as_str().unwrap().starts_with("Authorization:"));
    assert_eq!(s.get("/v1/models", &[("Authorization", "Bearer k3y-never-loggeX")]).status, 401);
    assert_eq!(s.get("/v1/models", &[("Authorization", "k3y-never-logged")]).status, 401);
    let bearer = format!("Bearer {key}");
    assert_eq!(s.get("/v1/models", &[("Authorization", bearer.as_str())]).status, 200);
    let r = post_json(&s.addr, "/v1/translate", &json!({ "texts": ["He is tall."] }), &[("Authorization", bearer.as_str())]).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.header("access-control-allow-origin").is_none(), "CORS is off unless asked for");
    assert!(!s.stdout.contains(key) && !s.stderr.lock().unwrap().contains(key), "the key is never printed");
    drop(s);
    // CORS for one origin: preflight and responses carry it; other origins get nothing.
    let s = Server::start(&["--run", p(tr), "--cors", "http://localhost:3000"]);
    let pre = s.get("/v1/translate", &[]);
    assert_eq!(pre.status, 405);
    let pre = request(&s.addr, "OPTIONS", "/v1/translate", &[("Origin", "http://localhost:3000"), ("Access-Control-Request-Method", "POST")], b"", Duration::from_secs(10)).unwrap();
    assert_eq!((pre.status, pre.header("access-control-allow-origin")), (204, Some("http://localhost:3000")));
    let r = s.get("/v1/models", &[("Origin", "http://localhost:3000")]);
    assert_eq!(r.header("access-control-allow-origin"), Some("http://localhost:3000"));
    assert!(s.get("/v1/models", &[("Origin", "http://evil.example")]).header("access-control-allow-origin").is_none());
    drop(s);
    // Binding beyond loopback is said out loud.
    let s = Server::start(&["--run", p(tr), "--addr", "0.0.0.0:0"]);
    std::thread::sleep(Duration::from_millis(200));
    assert!(s.stderr.lock().unwrap().contains("warning: listening on 0.0.0.0:0: reachable from other machines, and no API key is set"));
}

#[test]
fn a_full_queue_answers_503_and_shutdown_finishes_the_requests_in_flight() {
    let (tr, _, _) = runs();
    let s = Server::start(&["--run", p(tr), "--max-queue", "1", "--max-batch", "1", "--batch-wait-ms", "0"]);
    let n = 12;
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (addr, barrier) = (s.addr.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let r = post_json(&addr, "/v1/translate", &json!({ "texts": SENTENCES, "beam": 4 }), &[]).unwrap();
                (r.status, r.header("retry-after").map(str::to_string), r.json())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let busy: Vec<_> = results.iter().filter(|r| r.0 == 503).collect();
    assert!(!busy.is_empty(), "12 requests at once into a queue of one: some must be refused");
    assert!(busy.iter().all(|r| r.1.as_deref() == Some("1") && r.2["error"].as_str().unwrap().contains("busy")));
    assert!(results.iter().all(|r| r.0 == 200 || r.0 == 503), "{results:?}");
    assert!(results.iter().any(|r| r.0 == 200));
    drop(s);
    // SIGTERM while a request is being answered: it is answered, then the server exits 0.
    let mut s = Server::start(&["--run", p(tr)]);
    let addr = s.addr.clone();
    let many: Vec<String> = (0..48).map(|i| format!("{} {i}", SENTENCES[i % 6])).collect();
    let inflight = std::thread::spawn(move || post_json(&addr, "/v1/translate", &json!({ "texts": many, "beam": 8 }), &[]).unwrap());
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(s.child.id() as i32, libc::SIGTERM) };
    let r = inflight.join().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["translations"].as_array().unwrap().len(), 48);
    let status = s.child.wait().unwrap();
    assert!(status.success(), "{status:?}: {}", s.stderr.lock().unwrap());
    assert!(s.stderr.lock().unwrap().contains("finishing those in flight"));
}

/// The page in a real browser: headless Chromium loads it with
/// `?translate=…&hover=0`, which submits the sentence through the page's own
/// form; the dumped DOM must hold the server's translation and a heatmap with
/// one row per target token, and the hover caption; a screenshot is kept in
/// the test's output directory.
#[test]
fn the_web_page_translates_and_draws_attention_in_headless_chromium() {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"].iter().find(|b| which(b)) else {
        if std::env::var_os("ATTEND_SKIP_BROWSER").is_some() {
            eprintln!("skipped: no Chromium (ATTEND_SKIP_BROWSER is set)");
            return;
        }
        panic!("this test needs Chromium: install Debian's chromium package (./test.sh does), or set ATTEND_SKIP_BROWSER=1");
    };
    let (tr, _, _) = runs();
    let s = Server::start(&["--run", p(tr)]);
    let want = texts(&s.post("/v1/translate", json!({ "texts": ["He is tall."] })))[0].clone();
    let out = tmp_dir("serve-browser");
    let url = format!("http://{}/?translate=He%20is%20tall.&hover=0", s.addr);
    let profile = out.join("profile");
    let chrome = |extra: &[String]| {
        let mut c = std::process::Command::new(chromium);
        c.args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage", "--virtual-time-budget=20000"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(&url);
        c.output().expect("chromium runs")
    };
    let dom = chrome(&["--dump-dom".to_string()]);
    let html = String::from_utf8_lossy(&dom.stdout);
    assert!(html.contains("data-translated=\"1\""), "the page did not finish a translation: {}\n{}", html, String::from_utf8_lossy(&dom.stderr));
    let translation = between(&html, "id=\"translation\"", "</div></div>");
    assert!(translation.contains(&escape(&want)), "{translation} should show {want:?}");
    let rows = html.matches("class=\"target-token\"").count();
    assert!(rows >= 2, "one heatmap row per target token: {rows}");
    assert!(html.matches("class=\"cell\"").count() >= rows * 2);
    assert!(html.contains("looked at:"), "the hovered row's caption");
    let shot = out.join("page.png");
    let r = chrome(&["--window-size=1000,1400".to_string(), format!("--screenshot={}", shot.display())]);
    assert!(shot.exists(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
    eprintln!("screenshot: {}", shot.display());
}

fn which(bin: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(bin).is_file()))
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let a = s.find(start).map_or(0, |i| i + start.len());
    let b = s[a..].find(end).map_or(s.len(), |i| a + i);
    &s[a..b]
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
