//! A language client for the tests of `vitals lsp`: the binary on a pipe, messages framed
//! as the protocol says (`Content-Length` headers), notifications kept until asked for.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long a test waits for a message before it fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub struct Lsp {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: mpsc::Receiver<Result<Value, String>>,
    /// Notifications and server requests read while waiting for something else.
    kept: VecDeque<Value>,
    next_id: i64,
}

impl Lsp {
    /// Starts `vitals lsp` with its state and data directories under `home` (its log and
    /// store go there).
    pub fn start(home: &Path) -> Lsp {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vitals"))
            .arg("lsp")
            .env("XDG_STATE_HOME", home.join("state"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("HOME", home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start vitals lsp");
        let stdout = child.stdout.take().unwrap();
        let (sender, incoming) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_message(&mut reader) {
                let failed = message.is_err();
                if sender.send(message).is_err() || failed {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Lsp { child, stdin, incoming, kept: VecDeque::new(), next_id: 1 }
    }

    /// `initialize` with the project's root and the settings, then `initialized`; answers
    /// the server's capabilities.
    pub fn initialize(&mut self, root: &Path, options: Value) -> Value {
        self.initialize_with(root, options, json!({}))
    }

    /// `initialize` as a client with these capabilities.
    pub fn initialize_with(&mut self, root: &Path, options: Value, capabilities: Value) -> Value {
        let uri = file_uri(root);
        let result = self.request(
            "initialize",
            json!({
                "processId": null,
                "rootUri": uri,
                "workspaceFolders": [{ "uri": uri, "name": "project" }],
                "capabilities": capabilities,
                "initializationOptions": options,
            }),
        );
        self.notify("initialized", json!({}));
        result
    }

    pub fn send(&mut self, message: &Value) {
        let body = message.to_string();
        let stdin = self.stdin.as_mut().expect("stdin is still open");
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write to vitals lsp");
        stdin.flush().unwrap();
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Sends a request and waits for its answer: the result, or panics on an error.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        let deadline = Instant::now() + PATIENCE;
        loop {
            let message = self.next(deadline).unwrap_or_else(|| panic!("no answer to {method} in time"));
            if message.get("id") == Some(&json!(id)) && message.get("method").is_none() {
                if let Some(error) = message.get("error") {
                    panic!("{method} failed: {error}");
                }
                return message["result"].clone();
            }
            self.kept.push_back(message);
        }
    }

    /// Waits for a notification (or request) from the server that `wanted` accepts,
    /// skipping others; panics after [`PATIENCE`].
    pub fn wait_for(&mut self, method: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        self.wait_for_message(method, wanted)["params"].clone()
    }

    /// [`Lsp::wait_for`], answering the whole message (a request's id included).
    pub fn wait_for_message(&mut self, method: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        if let Some(at) = self.kept.iter().position(|m| m["method"] == method && wanted(&m["params"])) {
            return self.kept.remove(at).unwrap();
        }
        loop {
            let message = self
                .next(deadline)
                .unwrap_or_else(|| panic!("no {method} as expected in time; also received: {:#?}", self.kept));
            if message["method"] == method && wanted(&message["params"]) {
                return message;
            }
            self.kept.push_back(message);
        }
    }

    /// The diagnostics next published for `uri` that are not empty.
    pub fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        let params = self.wait_for("textDocument/publishDiagnostics", |p| {
            p["uri"] == uri && p["diagnostics"].as_array().is_some_and(|d| !d.is_empty())
        });
        params["diagnostics"].as_array().unwrap().clone()
    }

    /// Opens a file of the project.
    pub fn open(&mut self, path: &Path, language: &str) -> String {
        let uri = file_uri(path);
        let text = std::fs::read_to_string(path).unwrap();
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": language, "version": 1, "text": text } }),
        );
        uri
    }

    /// Drops the messages received and not taken yet.
    pub fn forget_kept(&mut self) {
        self.kept.clear();
    }

    /// Every message received and not yet taken.
    pub fn kept(&self) -> &VecDeque<Value> {
        &self.kept
    }

    fn next(&mut self, deadline: Instant) -> Option<Value> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.incoming.recv_timeout(wait) {
            Ok(Ok(message)) => Some(message),
            Ok(Err(e)) => panic!("vitals lsp wrote something that is not LSP on stdout: {e}"),
            Err(_) => None,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes stdin, as a client that disappears does.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the server to end by itself.
    pub fn exit_status(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "vitals lsp did not exit within {within:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Lsp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn file_uri(path: &Path) -> String {
    url::Url::from_file_path(path).expect("an absolute path").to_string()
}

/// One framed message; `None` at the end of the stream, an error for anything that is
/// not a well-framed JSON message.
fn read_message(reader: &mut impl BufRead) -> Option<Result<Value, String>> {
    let mut length = None;
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => return Some(Err(e.to_string())),
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        match header.split_once(": ") {
            Some(("Content-Length", n)) => length = n.parse::<usize>().ok(),
            Some(("Content-Type", _)) => {}
            _ => return Some(Err(format!("not a header: {header:?}"))),
        }
    }
    let Some(length) = length else { return Some(Err("a message without Content-Length".into())) };
    let mut body = vec![0; length];
    if let Err(e) = reader.read_exact(&mut body) {
        return Some(Err(e.to_string()));
    }
    Some(serde_json::from_slice(&body).map_err(|e| e.to_string()))
}
