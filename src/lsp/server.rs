//! The server's state and its message loop. The loop answers from what it holds (hover
//! and inlay hints are drawn from the last annotations, in memory) and hands anything
//! that reaches a backend to the runtime, whose tasks push their results to the client
//! themselves, so no message waits on the network.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crossbeam_channel::Sender;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeConfiguration, DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _,
    Progress, PublishDiagnostics, ShowMessage,
};
use lsp_types::request::{
    CodeActionRequest, DocumentDiagnosticRequest, DocumentLinkRequest, DocumentLinkResolve, ExecuteCommand,
    HoverRequest, InlayHintRefreshRequest, InlayHintRequest, Request as _, ShowDocument, WorkDoneProgressCreate,
    WorkspaceDiagnosticRefresh,
};
use lsp_types::{
    CodeActionProviderCapability, Diagnostic, DiagnosticOptions, DiagnosticServerCapabilities, DocumentLink,
    DocumentLinkOptions, ExecuteCommandOptions, Hover, HoverContents, HoverProviderCapability, MarkupContent,
    MarkupKind, MessageType, OneOf, PublishDiagnosticsParams, ServerCapabilities, ShowMessageParams,
    TextDocumentSyncCapability, TextDocumentSyncKind, Uri,
};
use serde_json::Value;
use tokio::runtime::Handle;

use super::{commands, features};
use crate::render::annotations::Annotation;
use crate::session::paths::{FileMatcher, local_file};
use crate::session::{Annotated, Session, Settings, annotate};

/// How long the client may take to accept a progress token before the work goes on
/// without reporting.
const PROGRESS_PATIENCE: Duration = Duration::from_secs(5);

/// What the client said it can take, among what the server may send it unasked.
struct Capabilities {
    /// Pulls diagnostics and can be told to pull again (see [`pulls_diagnostics`]).
    pull: bool,
    hint_refresh: bool,
    progress: bool,
}

/// The shortest wait between two automatic refreshes, whatever `auto_tracing.interval_ms` says.
const MIN_INTERVAL_MS: u64 = 100;

/// Runs the server on `connection` until `exit` or the end of stdin.
pub fn serve(connection: Connection, runtime: &Handle) -> ExitCode {
    // The `otlp` provider starts its receivers on the runtime when it connects.
    let _runtime = runtime.enter();
    let (id, params) = match connection.initialize_start() {
        Ok(started) => started,
        Err(e) => {
            tracing::info!("no initialize request: {e}");
            return ExitCode::SUCCESS;
        }
    };
    let pull = pulls_diagnostics(&params);
    let said = |pointer: &str| params.pointer(pointer) == Some(&Value::Bool(true));
    let hint_refresh = said("/capabilities/workspace/inlayHint/refreshSupport");
    let progress = said("/capabilities/window/workDoneProgress");
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        inlay_hint_provider: Some(OneOf::Left(true)),
        document_link_provider: Some(DocumentLinkOptions {
            resolve_provider: Some(true),
            work_done_progress_options: Default::default(),
        }),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: commands::COMMANDS.iter().map(|c| c.to_string()).collect(),
            work_done_progress_options: Default::default(),
        }),
        diagnostic_provider: pull.then(|| {
            DiagnosticServerCapabilities::Options(DiagnosticOptions {
                identifier: Some("vitals".to_string()),
                inter_file_dependencies: false,
                workspace_diagnostics: false,
                work_done_progress_options: Default::default(),
            })
        }),
        ..ServerCapabilities::default()
    };
    let result = serde_json::json!({
        "capabilities": capabilities,
        "serverInfo": { "name": "vitals", "version": env!("CARGO_PKG_VERSION") },
    });
    if let Err(e) = connection.initialize_finish(id, result) {
        tracing::info!("the client left during initialization: {e}");
        return ExitCode::SUCCESS;
    }
    let server = Arc::new(Server::new(
        root_of(&params),
        Capabilities { pull, hint_refresh, progress },
        connection.sender.clone(),
        runtime.clone(),
    ));
    server.apply_settings(params.get("initializationOptions").unwrap_or(&Value::Null));
    server.start_auto_tracing();
    for message in &connection.receiver {
        match message {
            Message::Request(request) => match connection.handle_shutdown(&request) {
                Ok(true) => return ExitCode::SUCCESS,
                Ok(false) => {
                    if let Some(response) = server.answer(request) {
                        server.client.send(response.into());
                    }
                }
                Err(e) => {
                    tracing::warn!("shutdown: {e}");
                    return ExitCode::FAILURE;
                }
            },
            // `exit` before `shutdown`: the protocol asks for a failing exit code.
            Message::Notification(n) if n.method == lsp_types::notification::Exit::METHOD => {
                return ExitCode::FAILURE;
            }
            Message::Notification(notification) => {
                let method = notification.method.clone();
                if std::panic::catch_unwind(AssertUnwindSafe(|| server.on_notification(notification))).is_err() {
                    tracing::error!(method, "a notification's handler panicked");
                }
            }
            Message::Response(response) => server.on_response(response),
        }
    }
    tracing::info!("the client went away (end of stdin)");
    ExitCode::SUCCESS
}

/// Whether the client asks for diagnostics itself (`textDocument/diagnostic`) and can be
/// told to ask again (`workspace/diagnostic/refresh`): then diagnostics are only pulled,
/// since a client that gets both shows each twice. A client that pulls but cannot be told
/// to pull again (Neovim 0.11) would never see the diagnostics of traces that arrive after
/// a file opens, so it gets them pushed.
fn pulls_diagnostics(params: &Value) -> bool {
    params.pointer("/capabilities/textDocument/diagnostic").is_some_and(Value::is_object)
        && params.pointer("/capabilities/workspace/diagnostics/refreshSupport") == Some(&Value::Bool(true))
}

/// The project's root: the first workspace folder, else `rootUri`, else `rootPath`, else
/// the directory the server was started in.
fn root_of(params: &Value) -> String {
    let uri = params
        .pointer("/workspaceFolders/0/uri")
        .or_else(|| params.get("rootUri"))
        .and_then(Value::as_str)
        .and_then(file_path);
    let path = uri.or_else(|| params.get("rootPath").and_then(Value::as_str).map(str::to_string));
    path.or_else(|| std::env::current_dir().ok().map(|d| d.display().to_string())).unwrap_or_default()
}

/// The file a `file:` URI names.
fn file_path(uri: &str) -> Option<String> {
    let path: PathBuf = url::Url::parse(uri).ok()?.to_file_path().ok()?;
    Some(path.display().to_string())
}

/// Sends to the client (the writer thread writes stdout).
struct Client {
    sender: Sender<Message>,
}

impl Client {
    fn send(&self, message: Message) {
        if self.sender.send(message).is_err() {
            tracing::info!("the client is gone; a message was dropped");
        }
    }

    fn notify<N: lsp_types::notification::Notification>(&self, params: N::Params) {
        self.send(Notification::new(N::METHOD.to_string(), params).into());
    }

    /// A `window/showMessage` error, the way a Neovim user sees `vim.notify` errors.
    fn show_error(&self, message: impl std::fmt::Display) {
        let message = message.to_string();
        tracing::warn!("{message}");
        self.notify::<ShowMessage>(ShowMessageParams { typ: MessageType::ERROR, message });
    }
}

struct Document {
    uri: Uri,
    version: i32,
    /// The file, absolute; `None` for a document that is not a file.
    path: Option<String>,
    text: String,
}

struct State {
    session: Session,
    /// Diagnostics are pulled by the client rather than pushed (see [`pulls_diagnostics`]).
    pull: bool,
    /// The client shows `$/progress` reports of work the server starts.
    progress: bool,
    /// Requests to the client whose answer a task waits for, by id.
    pending: HashMap<RequestId, tokio::sync::oneshot::Sender<bool>>,
    /// The client can be told to ask for inlay hints again (`workspace/inlayHint/refresh`).
    hint_refresh: bool,
    /// Server-to-client requests sent, to name the next one.
    requests: u64,
    settings: Settings,
    root: String,
    documents: HashMap<String, Document>,
    /// The annotations of the last refresh, with the report and traces behind them.
    annotated: Option<Arc<Annotated>>,
    /// What each document was last sent (or answered, when pulled), so that the same
    /// diagnostics are not sent again.
    published: HashMap<String, Vec<Diagnostic>>,
    refreshing: bool,
    /// Counts settings changes, so that a refresh started before one is dropped.
    generation: u64,
    /// The last refresh's error, shown once rather than at every interval.
    last_error: Option<String>,
}

struct Server {
    state: Mutex<State>,
    client: Client,
    runtime: Handle,
}

impl Server {
    fn new(root: String, capabilities: Capabilities, sender: Sender<Message>, runtime: Handle) -> Self {
        let Capabilities { pull, hint_refresh, progress } = capabilities;
        let state = State {
            session: Session::default(),
            pull,
            hint_refresh,
            progress,
            pending: HashMap::new(),
            requests: 0,
            settings: Settings::default(),
            root,
            documents: HashMap::new(),
            annotated: None,
            published: HashMap::new(),
            refreshing: false,
            generation: 0,
            last_error: None,
        };
        Server { state: Mutex::new(state), client: Client { sender }, runtime }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes settings from the client: bad ones are an error message and change nothing.
    fn apply_settings(self: &Arc<Self>, raw: &Value) {
        let settings = match Settings::from_json(raw) {
            Ok(settings) => settings,
            Err(e) => return self.client.show_error(e),
        };
        let (connected, messages) = {
            let mut state = self.state();
            let connected = state.session.configure(settings.provider.clone(), settings.receivers.clone());
            state.settings = settings;
            state.generation += 1;
            let had_hints = state.annotated.take().is_some();
            state.last_error = None;
            let mut messages = self.publish_all(&mut state);
            messages.extend(had_hints.then(|| refresh_inlay_hints(&mut state)).flatten());
            (connected, messages)
        };
        messages.into_iter().for_each(|m| self.client.send(m));
        match connected {
            Ok(provider) => tracing::info!("reading traces from {provider}"),
            Err(e) => self.client.show_error(e),
        }
        self.refresh();
    }

    fn on_notification(self: &Arc<Self>, notification: Notification) {
        match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Some(params) = self.params::<DidOpenTextDocument>(notification) else { return };
                let item = params.text_document;
                let key = item.uri.as_str().to_string();
                let path = file_path(item.uri.as_str());
                let document = Document { uri: item.uri, version: item.version, path, text: item.text };
                let messages = {
                    let mut state = self.state();
                    state.documents.insert(key.clone(), document);
                    self.publish(&mut state, &key).into_iter().collect::<Vec<_>>()
                };
                messages.into_iter().for_each(|m| self.client.send(m));
                if self.state().annotated.is_none() {
                    self.refresh();
                }
            }
            DidChangeTextDocument::METHOD => {
                let Some(params) = self.params::<DidChangeTextDocument>(notification) else { return };
                let key = params.text_document.uri.as_str().to_string();
                let message = {
                    let mut state = self.state();
                    let Some(document) = state.documents.get_mut(&key) else { return };
                    // Full sync: the last change holds the whole text.
                    if let Some(change) = params.content_changes.into_iter().rev().find(|c| c.range.is_none()) {
                        document.text = change.text;
                    }
                    document.version = params.text_document.version;
                    self.publish(&mut state, &key)
                };
                message.into_iter().for_each(|m| self.client.send(m));
            }
            DidCloseTextDocument::METHOD => {
                let Some(params) = self.params::<DidCloseTextDocument>(notification) else { return };
                let key = params.text_document.uri.as_str().to_string();
                let mut state = self.state();
                state.documents.remove(&key);
                if state.published.remove(&key).is_some_and(|sent| !sent.is_empty()) && !state.pull {
                    drop(state);
                    self.client.notify::<PublishDiagnostics>(PublishDiagnosticsParams {
                        uri: params.text_document.uri,
                        diagnostics: Vec::new(),
                        version: None,
                    });
                }
            }
            DidChangeConfiguration::METHOD => {
                let Some(params) = self.params::<DidChangeConfiguration>(notification) else { return };
                self.apply_settings(own_settings(&params.settings));
            }
            method => tracing::debug!(method, "notification ignored"),
        }
    }

    /// A notification's parameters, or an error message when they are not what the
    /// protocol says.
    fn params<N: lsp_types::notification::Notification>(&self, notification: Notification) -> Option<N::Params> {
        match notification.extract::<N::Params>(N::METHOD) {
            Ok(params) => Some(params),
            Err(e) => {
                tracing::warn!(method = N::METHOD, "bad parameters: {e:?}");
                None
            }
        }
    }

    /// The answer to a request, or `None` when a task answers it later; a panic is an
    /// internal error, never the end of the server.
    fn answer(self: &Arc<Self>, request: Request) -> Option<Response> {
        let id = request.id.clone();
        let method = request.method.clone();
        // What reaches a backend is answered from a task, when it is done.
        match method.as_str() {
            ExecuteCommand::METHOD => return self.execute_command(request),
            DocumentLinkResolve::METHOD => return self.resolve_link(request),
            _ => {}
        }
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.dispatch(request))) {
            Ok(Ok(response)) => Some(response),
            Ok(Err(response)) => Some(response),
            Err(_) => {
                tracing::error!(method, "a request's handler panicked");
                let message = format!("internal error in {method}; see the log");
                Some(Response::new_err(id, ErrorCode::InternalError as i32, message))
            }
        }
    }

    /// Resolves a trace id's link of a view (see [`features::document_links`]) in a task of
    /// its own: the trace is fetched and its view written, and the link's target is that file.
    fn resolve_link(self: &Arc<Self>, request: Request) -> Option<Response> {
        let id = request.id.clone();
        let mut link = match request.extract::<DocumentLink>(DocumentLinkResolve::METHOD) {
            Ok((_, link)) => link,
            Err(e) => return Some(Response::new_err(id, ErrorCode::InvalidParams as i32, format!("{e:?}"))),
        };
        let Some(trace) = link.data.as_ref().and_then(|d| d.get("trace")).and_then(Value::as_str).map(str::to_string)
        else {
            return Some(Response::new_ok(id, link));
        };
        let provider = self.state().session.provider();
        let server = Arc::clone(self);
        self.runtime.spawn(async move {
            let written = async {
                let view = commands::run(&*provider?, &*server, "vitals.trace", &[Value::from(trace)]).await?;
                commands::write(&view)
            };
            let response = match written.await {
                Ok(path) => {
                    link.target = features::file_uri(&path, None);
                    Response::new_ok(id, link)
                }
                Err(e) => {
                    server.client.show_error(&e);
                    Response::new_err(id, ErrorCode::RequestFailed as i32, e.to_string())
                }
            };
            server.client.send(response.into());
        });
        None
    }

    /// Runs a workspace command in a task of its own: its view is written to a file under
    /// the state directory and shown with `window/showDocument` (sent whether or not the
    /// client says it can: released Helix shows it without saying so); a failure is an
    /// error message, as in Neovim.
    fn execute_command(self: &Arc<Self>, request: Request) -> Option<Response> {
        let id = request.id.clone();
        let params = match request.extract::<lsp_types::ExecuteCommandParams>(ExecuteCommand::METHOD) {
            Ok((_, params)) => params,
            Err(e) => return Some(Response::new_err(id, ErrorCode::InvalidParams as i32, format!("{e:?}"))),
        };
        let provider = self.state().session.provider();
        let server = Arc::clone(self);
        self.runtime.spawn(async move {
            let progress = server.begin_progress(format!("Vitals: {}", params.command)).await;
            let shown = async {
                let view = commands::run(&*provider?, &*server, &params.command, &params.arguments).await?;
                commands::write(&view)
            };
            match shown.await {
                Ok(path) => {
                    let request_id = {
                        let mut state = server.state();
                        state.requests += 1;
                        RequestId::from(format!("vitals-show-{}", state.requests))
                    };
                    let show = serde_json::json!({ "uri": features::file_uri(&path, None), "takeFocus": true });
                    server.client.send(Request::new(request_id, ShowDocument::METHOD.to_string(), show).into());
                }
                Err(e) => server.client.show_error(e),
            }
            server.end_progress(progress);
            server.client.send(Response::new_ok(id, Value::Null).into());
        });
        None
    }

    /// Starts a `$/progress` report for long work, when the client shows them: asks the
    /// client to create the token and waits (briefly) for its yes, as the protocol wants
    /// before the first report; `None` means the work goes on without one.
    async fn begin_progress(&self, title: String) -> Option<RequestId> {
        let (token, accepted) = {
            let mut state = self.state();
            if !state.progress {
                return None;
            }
            state.requests += 1;
            let token = RequestId::from(format!("vitals-progress-{}", state.requests));
            let (sender, accepted) = tokio::sync::oneshot::channel();
            state.pending.insert(token.clone(), sender);
            (token, accepted)
        };
        let create = serde_json::json!({ "token": token });
        self.client.send(Request::new(token.clone(), WorkDoneProgressCreate::METHOD.to_string(), create).into());
        if !matches!(tokio::time::timeout(PROGRESS_PATIENCE, accepted).await, Ok(Ok(true))) {
            self.state().pending.remove(&token);
            return None;
        }
        let begin = serde_json::json!({ "token": token, "value": { "kind": "begin", "title": title } });
        self.client.send(Notification::new(Progress::METHOD.to_string(), begin).into());
        Some(token)
    }

    fn end_progress(&self, token: Option<RequestId>) {
        if let Some(token) = token {
            let end = serde_json::json!({ "token": token, "value": { "kind": "end" } });
            self.client.send(Notification::new(Progress::METHOD.to_string(), end).into());
        }
    }

    /// An answer to one of the server's requests: only a progress token's is waited for.
    fn on_response(&self, response: Response) {
        if let Some(waiting) = self.state().pending.remove(&response.id) {
            let _ = waiting.send(response.response_result.is_ok());
        }
    }

    fn dispatch(&self, request: Request) -> Result<Response, Response> {
        let bad = |id, e: lsp_server::ExtractError<Request>| {
            Response::new_err(id, ErrorCode::InvalidParams as i32, format!("{e:?}"))
        };
        let id = request.id.clone();
        match request.method.as_str() {
            HoverRequest::METHOD => {
                let (id, params) =
                    request.extract::<lsp_types::HoverParams>(HoverRequest::METHOD).map_err(|e| bad(id, e))?;
                let at = params.text_document_position_params;
                let line = at.position.line as usize;
                let width = self.state().settings.hover_width;
                let markdown = self.with_placed(at.text_document.uri.as_str(), |placed, _, annotated| {
                    placed.get(&line).map(|here| features::hover(here, annotated, width))
                });
                let hover = markdown.flatten().map(|value| Hover {
                    contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value }),
                    range: None,
                });
                Ok(Response::new_ok(id, hover))
            }
            CodeActionRequest::METHOD => {
                let (id, params) = request
                    .extract::<lsp_types::CodeActionParams>(CodeActionRequest::METHOD)
                    .map_err(|e| bad(id, e))?;
                let line = params.range.start.line as usize;
                let actions = self
                    .with_placed(params.text_document.uri.as_str(), |placed, _, annotated| {
                        placed.get(&line).map(|here| features::code_actions(here, annotated))
                    })
                    .flatten()
                    .unwrap_or_default();
                Ok(Response::new_ok(id, actions))
            }
            InlayHintRequest::METHOD => {
                let (id, params) =
                    request.extract::<lsp_types::InlayHintParams>(InlayHintRequest::METHOD).map_err(|e| bad(id, e))?;
                let (first, last) = (params.range.start.line as usize, params.range.end.line as usize);
                let hints = self
                    .with_placed(params.text_document.uri.as_str(), |placed, lines, _| {
                        features::inlay_hints(placed, lines, first, last)
                    })
                    .unwrap_or_default();
                Ok(Response::new_ok(id, hints))
            }
            DocumentLinkRequest::METHOD => {
                let (id, params) = request
                    .extract::<lsp_types::DocumentLinkParams>(DocumentLinkRequest::METHOD)
                    .map_err(|e| bad(id, e))?;
                Ok(Response::new_ok(id, self.links(params.text_document.uri.as_str())))
            }
            DocumentDiagnosticRequest::METHOD => {
                let (id, params) = request
                    .extract::<lsp_types::DocumentDiagnosticParams>(DocumentDiagnosticRequest::METHOD)
                    .map_err(|e| bad(id, e))?;
                let key = params.text_document.uri.as_str();
                let mut state = self.state();
                let items = diagnostics_of(&state, key);
                state.published.insert(key.to_string(), items.clone());
                Ok(Response::new_ok(id, serde_json::json!({ "kind": "full", "items": items })))
            }
            method => Err(Response::new_err(
                id,
                ErrorCode::MethodNotFound as i32,
                format!("vitals lsp does not answer {method}"),
            )),
        }
    }

    /// The links of an open document that is one of the views the server wrote (a search
    /// result, a trace): none for the project's own files.
    fn links(&self, uri: &str) -> Vec<DocumentLink> {
        let Ok(views) = commands::views_dir() else { return Vec::new() };
        let state = self.state();
        let Some(document) = state.documents.get(uri) else { return Vec::new() };
        if !document.path.as_deref().is_some_and(|p| std::path::Path::new(p).starts_with(&views)) {
            return Vec::new();
        }
        let (root, mappings) = (&state.root, &state.settings.path_mappings);
        features::document_links(&features::lines(&document.text), |path| local_file(path, root, mappings))
    }

    /// Calls `f` with the annotations placed on the lines of an open document; `None`
    /// when there are none to place (no annotations yet, shown off, not a file).
    fn with_placed<R>(
        &self,
        uri: &str,
        f: impl FnOnce(&BTreeMap<usize, Vec<&Annotation>>, &[&str], &Annotated) -> R,
    ) -> Option<R> {
        let state = self.state();
        placed_in(&state, uri, f)
    }

    /// Pushes the diagnostics of a document when they differ from what it was last sent.
    /// A client that pulls asks by itself after opening or changing a document.
    fn publish(&self, state: &mut State, key: &str) -> Option<Message> {
        if state.pull {
            return None;
        }
        let diagnostics = changed_diagnostics(state, key)?;
        state.published.insert(key.to_string(), diagnostics.clone());
        let document = state.documents.get(key)?;
        let params =
            PublishDiagnosticsParams { uri: document.uri.clone(), diagnostics, version: Some(document.version) };
        Some(Notification::new(PublishDiagnostics::METHOD.to_string(), params).into())
    }

    /// What changed in the open documents: a push each, or, when the client pulls, one
    /// request to pull again.
    fn publish_all(&self, state: &mut State) -> Vec<Message> {
        let keys: Vec<String> = state.documents.keys().cloned().collect();
        if !state.pull {
            return keys.iter().filter_map(|key| self.publish(state, key)).collect();
        }
        if !keys.iter().any(|key| changed_diagnostics(state, key).is_some()) {
            return Vec::new();
        }
        state.requests += 1;
        let id = RequestId::from(format!("vitals-refresh-{}", state.requests));
        vec![Request::new(id, WorkspaceDiagnosticRefresh::METHOD.to_string(), ()).into()]
    }

    /// With `enable_auto_tracing` and a document open: annotates from the recent traces
    /// of `auto_tracing.services` in a task of its own (one at a time), then publishes
    /// what changed. The first refresh (and the first after new settings) reports
    /// `$/progress`.
    fn refresh(self: &Arc<Self>) {
        let (provider, services, analyze, generation) = {
            let mut state = self.state();
            if state.refreshing || !state.settings.enable_auto_tracing || state.documents.is_empty() {
                return;
            }
            let provider = match state.session.provider() {
                Ok(provider) => provider,
                Err(e) => {
                    drop(state);
                    return self.client.show_error(e);
                }
            };
            state.refreshing = true;
            let settings = &state.settings;
            (provider, settings.auto_tracing.services.clone(), settings.analyze.clone(), state.generation)
        };
        let server = Arc::clone(self);
        self.runtime.spawn(async move {
            // The first annotations are waited for; later refreshes happen quietly.
            let first = server.state().annotated.is_none();
            let progress = match first {
                true => server.begin_progress("Vitals: analyzing recent traces".to_string()).await,
                false => None,
            };
            let outcome = annotate(&*provider, &services, &analyze).await;
            server.end_progress(progress);
            let messages = {
                let mut state = server.state();
                state.refreshing = false;
                if state.generation != generation {
                    return;
                }
                match outcome {
                    Ok(annotated) => {
                        let changed =
                            state.annotated.as_ref().is_none_or(|before| before.annotations != annotated.annotations);
                        state.annotated = Some(Arc::new(annotated));
                        state.last_error = None;
                        let mut messages = server.publish_all(&mut state);
                        messages.extend(changed.then(|| refresh_inlay_hints(&mut state)).flatten());
                        messages
                    }
                    Err(e) if state.last_error.as_deref() != Some(&e.to_string()) => {
                        state.last_error = Some(e.to_string());
                        let message = ShowMessageParams { typ: MessageType::ERROR, message: e.to_string() };
                        vec![Notification::new(ShowMessage::METHOD.to_string(), message).into()]
                    }
                    Err(e) => {
                        tracing::warn!("{e}");
                        Vec::new()
                    }
                }
            };
            messages.into_iter().for_each(|m| server.client.send(m));
        });
    }

    /// Refreshes every `auto_tracing.interval_ms` (read anew each time), as Neovim does.
    fn start_auto_tracing(self: &Arc<Self>) {
        let server = Arc::clone(self);
        self.runtime.spawn(async move {
            loop {
                let interval = server.state().settings.auto_tracing.interval_ms.max(MIN_INTERVAL_MS);
                tokio::time::sleep(Duration::from_millis(interval)).await;
                server.refresh();
            }
        });
    }
}

impl commands::Context for Server {
    fn settings(&self) -> Settings {
        self.state().settings.clone()
    }

    fn status(&self) -> crate::session::StatusSnapshot {
        self.state().session.status()
    }

    /// A trace of the last annotations, or one fetched recently.
    fn cached(&self, id: &str) -> Option<Arc<crate::model::Trace>> {
        let mut state = self.state();
        if let Some(trace) = state.annotated.as_ref().and_then(|a| a.trace(id)) {
            return Some(Arc::clone(trace));
        }
        state.session.cached_trace(&crate::model::TraceId::from_text(id).0)
    }

    fn remember(&self, trace: Arc<crate::model::Trace>) {
        self.state().session.remember(trace);
    }
}

/// A request to ask for inlay hints again, for a client that takes it: the annotations
/// changed after it last asked.
fn refresh_inlay_hints(state: &mut State) -> Option<Message> {
    if !state.hint_refresh {
        return None;
    }
    state.requests += 1;
    let id = RequestId::from(format!("vitals-hints-{}", state.requests));
    Some(Request::new(id, InlayHintRefreshRequest::METHOD.to_string(), ()).into())
}

/// The diagnostics of an open document, when they differ from what it was last sent.
fn changed_diagnostics(state: &State, key: &str) -> Option<Vec<Diagnostic>> {
    let diagnostics = diagnostics_of(state, key);
    let sent = state.published.get(key);
    let same = sent == Some(&diagnostics) || (sent.is_none() && diagnostics.is_empty());
    (!same).then_some(diagnostics)
}

/// The diagnostics of an open document now.
fn diagnostics_of(state: &State, key: &str) -> Vec<Diagnostic> {
    let threshold = state.settings.performance_threshold;
    placed_in(state, key, |placed, lines, _| features::diagnostics(placed, lines, threshold)).unwrap_or_default()
}

/// The annotations placed on the lines of an open document, given to `f`.
fn placed_in<R>(
    state: &State,
    key: &str,
    f: impl FnOnce(&BTreeMap<usize, Vec<&Annotation>>, &[&str], &Annotated) -> R,
) -> Option<R> {
    if !state.settings.enable_code_lens_annotations {
        return None;
    }
    let annotated = state.annotated.as_ref()?;
    let document = state.documents.get(key)?;
    let matcher = FileMatcher::new(document.path.as_deref()?, &state.root, &state.settings.path_mappings);
    let lines = features::lines(&document.text);
    let placed = matcher.place(&annotated.annotations, &lines);
    Some(f(&placed, &lines, annotated))
}

/// The settings of a `workspace/didChangeConfiguration`: the table itself, or the one
/// under `vitals` (as clients that send every server's settings at once nest them).
fn own_settings(settings: &Value) -> &Value {
    match settings.as_object() {
        Some(table) if table.len() == 1 && table.get("vitals").is_some_and(Value::is_object) => &table["vitals"],
        _ => settings,
    }
}
