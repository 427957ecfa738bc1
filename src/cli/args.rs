//! Command-line flags, documented once here; `vitals --help` and the README show them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::collector::Listen;
use crate::config::{Auth, DEFAULT_MAX_SPANS, ProviderConfig, ProviderKind, Secret};
use crate::formats::export::ExportFormat;
use crate::query::SearchArgs;
use crate::render::View;

#[derive(Parser, Debug)]
#[command(
    name = "vitals",
    version,
    about = "Distributed tracing and performance profiling in the editor and the terminal"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Draw a trace file (Jaeger JSON, OTLP JSON or protobuf, Zipkin v2 JSON) as a flame graph or waterfall.
    View {
        /// A trace file, or a folder of them.
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = View::Flame)]
        view: View,
        /// Columns to draw in (default: the terminal's width, or 120).
        #[arg(long)]
        width: Option<usize>,
        /// Which trace of a file holding several.
        #[arg(long)]
        trace: Option<String>,
        /// Show the details of one span instead.
        #[arg(long)]
        span: Option<String>,
        /// Mark the critical path (flame graph and waterfall).
        #[arg(long)]
        critical_path: bool,
    },
    /// Search a backend for traces of a service, or with a TraceQL query (Tempo).
    Search {
        #[command(flatten)]
        provider: ProviderFlags,
        #[command(flatten)]
        search: SearchFlags,
        /// Print the results as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write traces from a backend to one file to share: OTLP JSON (Vitals, Jaeger's upload
    /// and Tempo read it) or Jaeger JSON. Read it back with `vitals view FILE`.
    Export {
        #[command(flatten)]
        provider: ProviderFlags,
        /// The trace ids (hex); several go into one file.
        #[arg(required = true)]
        ids: Vec<String>,
        #[arg(long, value_enum, default_value_t = ExportFormat::OtlpJson)]
        format: ExportFormat,
        /// Where to write (default: vitals-<first trace id>.json here; `-` for stdout).
        #[arg(short, long, value_name = "PATH")]
        output: Option<String>,
        /// Replace the file when it exists (otherwise an existing file is left alone).
        #[arg(long)]
        force: bool,
        /// Also every trace linked to each (span links, as `vitals transaction` follows
        /// them: 3 links deep, 20 traces at most).
        #[arg(long)]
        linked: bool,
    },
    /// Fetch one trace from a backend and draw it.
    Trace {
        #[command(flatten)]
        provider: ProviderFlags,
        /// The trace id (hex).
        id: String,
        #[arg(long, value_enum, default_value_t = View::Flame)]
        view: View,
        #[arg(long)]
        width: Option<usize>,
        /// Mark the critical path (flame graph and waterfall).
        #[arg(long)]
        critical_path: bool,
    },
    /// Fetch a trace and every trace linked to it (through span links: a producer's and
    /// its consumers', a batch consumer's and its producers'), and draw them as one
    /// waterfall with the queue hand-offs and waits between them.
    Transaction {
        #[command(flatten)]
        provider: ProviderFlags,
        /// The trace id (hex) to start from.
        id: String,
        /// How many links to follow from the first trace.
        #[arg(long, default_value_t = 3)]
        depth: usize,
        /// The most traces stitched together.
        #[arg(long, default_value_t = 20)]
        max_traces: usize,
        #[arg(long)]
        width: Option<usize>,
    },
    /// Stored logs, newest first, with a trace or not (what OTLP log exporters sent the
    /// trace store: `--provider otlp`).
    Logs {
        #[command(flatten)]
        provider: ProviderFlags,
        /// `[service] [severity=warn] [since=1h] [limit=N] [words…]`: `*` for every
        /// service; the words must all be in the message or an attribute.
        words: Vec<String>,
        #[arg(long)]
        width: Option<usize>,
    },
    /// Analyze traces: critical path, N+1, slow queries, error root cause, hot functions,
    /// bottlenecks, with suggestions.
    Analyze(AnalyzeFlags),
    /// Merge many traces into one flame graph of call paths weighted by self time: where a
    /// service spends its time, like a CPU profile.
    Flame(FlameFlags),
    /// Compare two traces: call paths added, removed, run more or fewer times, and the
    /// latency of each matched path, with a differential flame graph.
    Diff(DiffFlags),
    /// Compare a service's newest version with the one before it (or, without versions,
    /// its latest traffic with the traffic before it), per operation and overall:
    /// P50/P95/P99, error rate, throughput, and whether the change is significant
    /// (Mann–Whitney U).
    Regressions(RegressionFlags),
    /// How a service's requests (or one operation's) moved over days and weeks: P50, P95,
    /// P99, error rate and throughput per bucket, from the rollups of the trace store
    /// (kept 90 days by `vitals serve` and the editor, long after the traces).
    Trends(TrendFlags),
    /// Pin a service's current numbers under a name (each operation's requests, errors and
    /// latency over its latest hour, from the trace store's rollups), list and delete them;
    /// `vitals regressions --service S --baseline NAME` compares the latest traffic with one.
    Baseline(BaselineFlags),
    /// Draw the service dependency map: from traces (with health and virtual nodes for
    /// uninstrumented dependencies) or from a Jaeger dependency list.
    Map(MapFlags),
    /// Follow traces as they arrive, a line each (the newest last): start, errors, root,
    /// duration, spans, N+1s and slow queries, services. Polls the backend for what started
    /// since its last poll; `--provider otlp --db PATH` reads the store `vitals serve` fills.
    Tail(TailFlags),
    /// Receive traces (OTLP/HTTP, OTLP/gRPC, Zipkin) into the local trace store, as a
    /// standalone process.
    Serve(ServeFlags),
    /// Try the embedded default: receive a demo shop's traces over OTLP, then show them.
    Demo(DemoFlags),
    /// Check or repair the trace store, the SQLite file of the otlp provider and `vitals serve`.
    Store(StoreFlags),
    /// Run as a language server (LSP 3.17 on stdin/stdout) for Helix and other editors.
    ///
    /// Annotates the lines of code that recent traces ran: diagnostics (source "vitals",
    /// code = the finding's kind), inlay hints at the end of the line and a hover with the
    /// findings and a flame graph of the slowest trace through the line; code actions and
    /// workspace commands (vitals.search, vitals.trace, vitals.traces, vitals.analyze,
    /// vitals.map, vitals.flame, vitals.regressions, vitals.compare, vitals.status) write
    /// their views under the state directory and open them. Settings come from
    /// initializationOptions and workspace/didChangeConfiguration, with the Neovim plugin's
    /// option names (trace_provider, trace_endpoint, path_mappings, enable_auto_tracing,
    /// auto_tracing = { interval_ms, services }, analyze, …); set enable_auto_tracing = true
    /// for annotations as documents open. Logs go to the log file, never to stdout.
    ///
    /// Helix (languages.toml):
    ///
    ///   [language-server.vitals]
    ///   command = "vitals"
    ///   args = ["lsp"]
    ///   config = { enable_auto_tracing = true }
    ///
    ///   [[language]]
    ///   name = "python"
    ///   language-servers = ["pylsp", "vitals"]
    ///
    ///   [[language]]            # the views, so that gf follows their links
    ///   name = "vitals-view"
    ///   scope = "text.vitals"
    ///   file-types = [{ glob = "vitals/views/*.txt" }]
    ///   language-servers = ["vitals"]
    #[command(verbatim_doc_comment)]
    Lsp,
    /// Run as an MCP server (Model Context Protocol on stdin/stdout) for AI assistants.
    ///
    /// Tools: search_traces, get_trace, critical_path, analyze_service, root_cause,
    /// compare_traces, regressions, service_map, code_hotspots. Each answers in a few KB
    /// of JSON that cites trace and span ids; a bad argument is a tool error the assistant
    /// reads. Takes the provider flags of the other commands. Logs go to the log file,
    /// never to stdout.
    ///
    /// Claude Code: claude mcp add vitals -- vitals mcp --provider otlp
    ///
    /// Any client that launches a stdio server (mcpServers in its JSON settings):
    ///
    ///   { "mcpServers": { "vitals": {
    ///       "command": "vitals",
    ///       "args": ["mcp", "--provider", "jaeger", "--endpoint", "http://localhost:16686"] } } }
    #[command(verbatim_doc_comment)]
    Mcp(McpFlags),
    /// Run as the Neovim plugin's host (msgpack-RPC on stdin/stdout); started by the plugin.
    #[command(hide = true)]
    Nvim,
}

#[derive(Args, Debug)]
pub struct McpFlags {
    #[command(flatten)]
    pub provider: ProviderFlags,
    /// The project whose files code_hotspots reads (default: the current directory).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// A path prefix in traces and the local folder it stands for, FROM=TO (as the
    /// editor's path_mappings option); repeat for more.
    #[arg(long = "path-mapping", value_name = "FROM=TO", value_parser = path_mapping)]
    pub path_mappings: Vec<(String, String)>,
    /// How far back analyze_service, code_hotspots and service_map look when a call does
    /// not say.
    #[arg(long, default_value = "1h")]
    pub lookback: String,
    /// How many of each service's most recent traces they analyze when a call does not say.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Database calls at least this long are slow queries.
    #[arg(long, default_value = "500ms")]
    pub slow_query: String,
}

/// `/app/=~/src/shop/`, for clap.
fn path_mapping(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((from, to)) if !from.is_empty() && !to.is_empty() => Ok((from.to_string(), to.to_string())),
        _ => Err(format!("{text:?} is not FROM=TO (e.g. /app/=~/src/shop/)")),
    }
}

#[derive(Args, Debug)]
pub struct AnalyzeFlags {
    /// A trace file or a folder of them (any format Vitals reads).
    #[arg(long)]
    pub input: PathBuf,
    /// Only traces this service takes part in.
    #[arg(long)]
    pub service: Option<String>,
    /// Database calls at least this long are slow queries.
    #[arg(long, default_value = "500ms")]
    pub slow_query: String,
    /// Print one JSON object (the contract scripts and other editors rely on).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct FlameFlags {
    /// A trace file or a folder of them (any format Vitals reads).
    #[arg(long)]
    pub input: PathBuf,
    /// Start the call paths at this service's entry spans (default: at the roots).
    #[arg(long)]
    pub service: Option<String>,
    /// Columns to draw in (default: the terminal's width, or 120).
    #[arg(long)]
    pub width: Option<usize>,
    /// A memory profile: widths by the bytes spans allocated (`memory.allocated`) instead of
    /// self time, then the code locations that allocate most per request.
    #[arg(long)]
    pub memory: bool,
    /// Print the call paths as JSON: `traces`, `weight`, and `nodes` each with `parent` (an
    /// index), `service`, `operation`, `count`, `self_ns`, `total_ns`, `allocated_bytes`,
    /// `total_allocated_bytes` and an `example` span.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DiffFlags {
    #[command(flatten)]
    pub provider: ProviderFlags,
    /// The first trace (before): a trace file, or a trace id to fetch from the provider.
    pub a: String,
    /// The second trace (after), likewise.
    pub b: String,
    /// Columns to draw in (default: the terminal's width, or 120).
    #[arg(long)]
    pub width: Option<usize>,
    /// Print the comparison as JSON: `before`, `after` and every call path in `nodes`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RegressionFlags {
    #[command(flatten)]
    pub provider: ProviderFlags,
    #[arg(long)]
    pub service: String,
    /// Read traces from this file or folder instead of a backend.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Compare the latest traffic in windows this long (`30m`), even when the service has
    /// versions. Without it: the newest version against the one before it, or, without
    /// versions, the latest hour of traffic (up to the newest request) against the hour
    /// before it.
    #[arg(long)]
    pub window: Option<String>,
    /// Compare the window before this moment with the window after it (a deploy):
    /// RFC 3339, `now`, or how long ago (`90m`).
    #[arg(long)]
    pub at: Option<String>,
    /// Compare two versions of the service, A..B (baseline, then current): of
    /// `service.version`, else `deployment.id` in the spans' resource.
    #[arg(long, value_name = "A..B", conflicts_with_all = ["window", "at", "baseline", "current"])]
    pub version: Option<String>,
    /// A saved baseline's name (see `vitals baseline`): the latest traffic against it, in
    /// a window as long as the baseline's (or --window). A value with `..` is instead an
    /// explicit baseline range FROM..TO (with --current), e.g. 3h..2h.
    #[arg(long)]
    pub baseline: Option<String>,
    /// Explicit current range FROM..TO (with --baseline), e.g. 1h..now.
    #[arg(long, requires = "baseline")]
    pub current: Option<String>,
    /// Fewer requests than this in either window give no verdict.
    #[arg(long, default_value_t = 20)]
    pub min_samples: usize,
    /// How many traces to fetch from a backend for each side.
    #[arg(long, default_value_t = 2000)]
    pub limit: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct TailFlags {
    #[command(flatten)]
    pub provider: ProviderFlags,
    /// The service and filters, read as :VitalsTail and :VitalsSearch read them: a service,
    /// an operation, a minimum duration (`500ms`) and key=value attributes (`error=true`,
    /// `http.route=/cart`); none follows every trace.
    #[arg(value_name = "SERVICE|FILTER")]
    pub words: Vec<String>,
    /// How often to ask the backend what started since it last asked.
    #[arg(long, default_value = "2s")]
    pub interval: String,
    /// Database calls at least this long are marked slow queries.
    #[arg(long, default_value = "500ms")]
    pub slow_query: String,
    /// Columns to draw in (default: the terminal's width, or 120).
    #[arg(long)]
    pub width: Option<usize>,
    /// Print each trace as one JSON object a line: the search result's fields, `marks`
    /// (each `kind`, `count`, `total_us`, `span_ids`), `has_root` and `arrived_ns`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct TrendFlags {
    pub service: String,
    /// One of its operations (default: every entry operation summed, each listed below).
    pub operation: Option<String>,
    /// How far back: 24h, 7d, 90d.
    #[arg(long, default_value = crate::providers::trends::DEFAULT_RANGE)]
    pub range: String,
    /// The trace store file (default: traces.db in the data directory).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Columns to draw in (default: the terminal's width, or 120).
    #[arg(long)]
    pub width: Option<usize>,
    /// Print the trend as JSON: `points` (a bucket each: `start_ns`, `requests`, `errors`,
    /// `p50_ns`, `p95_ns`, `p99_ns`, `error_rate`, `per_minute`, the slowest request's
    /// trace), `total`, and the service's `operations`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct BaselineFlags {
    #[command(subcommand)]
    pub action: BaselineAction,
    /// The trace store file (default: traces.db in the data directory).
    #[arg(long, global = true)]
    pub db: Option<PathBuf>,
    /// Print JSON: the baseline saved, or the list (service, name, window, saved_ns, and
    /// each operation's requests).
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum BaselineAction {
    /// Save the service's latest traffic (ending at its newest request) as a baseline.
    Save {
        service: String,
        /// Its name (default: the service's newest version, else the time of its newest request).
        name: Option<String>,
        /// How much of the latest traffic it pins.
        #[arg(long, default_value = "1h")]
        window: String,
    },
    /// List the saved baselines (of one service, or of all).
    List { service: Option<String> },
    /// Delete a saved baseline.
    Delete { service: String, name: String },
}

#[derive(Args, Debug)]
pub struct MapFlags {
    /// A trace file or folder to build the map from.
    #[arg(long, required_unless_present = "dependencies")]
    pub input: Option<PathBuf>,
    /// A Jaeger /api/dependencies answer to draw instead (calls only).
    #[arg(long, conflicts_with = "input")]
    pub dependencies: Option<PathBuf>,
    /// Root the tree at this service.
    #[arg(long)]
    pub service: Option<String>,
    /// Show who calls this service instead.
    #[arg(long, conflicts_with_all = ["service", "migration"])]
    pub callers: Option<String>,
    /// Show a migration order (leaves first, cycles reported).
    #[arg(long)]
    pub migration: bool,
    /// Columns to draw in (default: the terminal's width, or 120).
    #[arg(long)]
    pub width: Option<usize>,
    /// Print the map as JSON: `services`, `edges` (indexes), `bottleneck`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DemoFlags {
    /// Keep the demo's store here (default: a fresh file in the temporary directory).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Columns to draw in (default: the terminal's width, or 120).
    #[arg(long)]
    pub width: Option<usize>,
}

#[derive(Args, Debug)]
pub struct StoreFlags {
    #[command(subcommand)]
    pub action: StoreAction,
}

#[derive(Subcommand, Debug)]
pub enum StoreAction {
    /// Run SQLite's integrity check and decode every stored span, changing nothing. Exits
    /// 0 when the store is healthy, 1 when it is damaged, 2 when it cannot be checked.
    Check {
        /// The trace store file (default: traces.db in the data directory).
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Save what can be read of the store into a new file that takes its place, and keep
    /// the old one beside it as PATH.before-repair-TIME. Stop `vitals serve` and editors
    /// using the store first.
    Repair {
        /// The trace store file (default: traces.db in the data directory).
        #[arg(long)]
        db: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct ServeFlags {
    /// Where to receive OTLP/HTTP (POST /v1/traces and /v1/logs), or `off`. Loopback unless you say
    /// otherwise.
    #[arg(long, default_value = "127.0.0.1:4318", value_name = "ADDR|off")]
    pub otlp_http: Listen,
    /// Where to receive OTLP/gRPC (TraceService/Export and LogsService/Export, the default of most SDKs and of
    /// the Collector's otlp exporter; gzip accepted), or `off`.
    #[arg(long, default_value = "127.0.0.1:4317", value_name = "ADDR|off")]
    pub otlp_grpc: Listen,
    /// Where to receive Zipkin v2 JSON (POST /api/v2/spans), or `off`.
    #[arg(long, default_value = "127.0.0.1:9411", value_name = "ADDR|off")]
    pub zipkin: Listen,
    /// Where to answer Jaeger's query API v1 (/api/services, /api/traces, …) over the
    /// store, for the Jaeger provider and Jaeger-compatible tools; `off` to not answer it.
    #[arg(long, default_value = "127.0.0.1:16686", value_name = "ADDR|off")]
    pub query: Listen,
    /// The trace store file (default: traces.db in the data directory).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Drop traces received longer ago than this.
    #[arg(long, default_value = "24h")]
    pub retention_age: String,
    /// Keep at most this much span data (e.g. 512MiB, 1GiB).
    #[arg(long, default_value = "1GiB")]
    pub retention_size: String,
    /// Keep the rollups of trends (each operation's requests per minute, then per hour:
    /// counts, errors, latency percentiles) this long, after their traces are gone.
    #[arg(long, default_value = "90d")]
    pub rollup_retention: String,
    /// Largest request body, compressed or not (SDKs send a few hundred KB per batch).
    #[arg(long, default_value = "16MiB")]
    pub max_body: String,
    /// Memory all requests in flight may hold together, for all receivers (bodies, their
    /// decompression and decoding); past it, senders are told to retry (503 with
    /// Retry-After, or gRPC RESOURCE_EXHAUSTED with RetryInfo).
    #[arg(long, default_value = "128MiB")]
    pub max_memory: String,
    /// Connections open at once on each listener (default: 1024, fewer when the file
    /// limit is low); at the cap, the connection idle longest is closed for a new one.
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// A request head must arrive within this of its first byte.
    #[arg(long, default_value = "10s")]
    pub header_timeout: String,
    /// A request body must arrive within this of its head.
    #[arg(long, default_value = "30s")]
    pub body_timeout: String,
    /// A connection with no request in progress is closed after this.
    #[arg(long, default_value = "60s")]
    pub idle_timeout: String,
    /// How often to print what each receiver took and refused, when it changed; `off` to
    /// print it only when stopping.
    #[arg(long, default_value = "1m", value_name = "DURATION|off")]
    pub status_interval: String,
    /// Host names the query API answers besides loopback ones (comma-separated, a port
    /// optional: `traces.example,10.0.0.5:16686`), or `*` for any. Bound to loopback it
    /// answers only `localhost` and loopback addresses, against DNS rebinding.
    #[arg(long, value_delimiter = ',')]
    pub query_allowed_hosts: Vec<String>,
    /// Most spans of one trace the query API serves; a larger trace is cut, with a warning.
    #[arg(long, default_value_t = 1_000_000)]
    pub query_max_spans: usize,
    /// Alert rules (TOML `[[alerts]]` tables or a JSON list, the shape of the editor's
    /// `alerts` option): each fires when its operation's p50/p95/p99 or error rate over
    /// its trailing window crosses its threshold, and clears when back under; both are
    /// printed to stderr, one line each.
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<PathBuf>,
    /// A command run (with `sh -c`) each time an alert fires or clears, the alert as JSON
    /// on its stdin; it never holds ingest up, and its failure is printed, not fatal.
    #[arg(long, value_name = "CMD", requires = "alerts")]
    pub on_alert: Option<String>,
}

#[derive(Args, Debug)]
pub struct ProviderFlags {
    /// Backend kind.
    #[arg(long, value_enum, default_value_t = ProviderKind::Jaeger)]
    pub provider: ProviderKind,
    /// Backend URL or file path (default: jaeger http://localhost:16686, tempo
    /// http://localhost:3200, zipkin http://localhost:9411). Keep passwords out of it
    /// (other users see it in `ps`): use --user with --password-file.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// The tenant of a multi-tenant Tempo (sent as X-Scope-OrgID).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Seconds to wait for the backend.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// Bearer token. Other users of the machine can read it in `ps`: prefer --token-file,
    /// or $VITALS_TRACE_TOKEN (read when neither is given).
    #[arg(long, conflicts_with = "token_file")]
    pub token: Option<Secret>,
    /// A file holding the bearer token (recommended: it stays out of `ps` and the shell's
    /// history).
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// User name for basic auth (password: --password-file, else $VITALS_TRACE_PASSWORD).
    #[arg(long)]
    pub user: Option<String>,
    /// A file holding the basic auth password.
    #[arg(long, value_name = "PATH", requires = "user")]
    pub password_file: Option<PathBuf>,
    /// The most Vitals reads of one response or trace file (e.g. 512MiB, 1GiB).
    #[arg(long, default_value = "256MiB", value_parser = size)]
    pub max_response: u64,
    /// The most spans of one trace to keep; a larger trace is cut, with a warning.
    #[arg(long, default_value_t = DEFAULT_MAX_SPANS)]
    pub max_spans: usize,
    /// The trace store file, for `--provider otlp` (default: in the data directory).
    #[arg(long)]
    pub db: Option<PathBuf>,
}

/// `512MiB`, `1GiB`, `1000000`, for clap.
fn size(text: &str) -> Result<u64, String> {
    super::serve::parse_size(text).map_err(|e| e.to_string())
}

impl ProviderFlags {
    pub fn to_config(&self) -> ProviderConfig {
        ProviderConfig {
            kind: self.provider,
            endpoint: self.endpoint.clone().unwrap_or_default(),
            tenant: self.tenant.clone().unwrap_or_default(),
            timeout_ms: self.timeout.saturating_mul(1000),
            auth: Auth {
                token: self.token.clone(),
                token_file: self.token_file.clone(),
                username: self.user.clone(),
                password_file: self.password_file.clone(),
                ..Auth::default()
            },
            store_path: self.db.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            max_response: self.max_response,
            max_spans: self.max_spans,
            ..ProviderConfig::default()
        }
    }
}

/// The search flags, mirroring `:VitalsSearch`'s arguments.
#[derive(Args, Debug)]
pub struct SearchFlags {
    #[arg(long, required_unless_present = "traceql")]
    pub service: Option<String>,
    /// A TraceQL query, sent to Tempo as typed instead of the service, operation, filters
    /// and durations: '{ span.http.route = "/cart" && duration > 1s }'. A filter
    /// argument that starts with `{` is taken for one too.
    #[arg(long, value_name = "QUERY")]
    pub traceql: Option<String>,
    #[arg(long)]
    pub operation: Option<String>,
    /// A span attribute to match, key=value; repeat for more.
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Attribute filters, as in :VitalsSearch: `http.route=/cart`, `error=true`
    /// (`status=error` means the same); each must match the same span.
    #[arg(value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// Only spans at least this long (250ms, 1.5s).
    #[arg(long)]
    pub min_duration: Option<String>,
    #[arg(long)]
    pub max_duration: Option<String>,
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// How far back to look (default 1h).
    #[arg(long)]
    pub lookback: Option<String>,
}

impl From<SearchFlags> for SearchArgs {
    fn from(flags: SearchFlags) -> Self {
        SearchArgs {
            service: flags.service.unwrap_or_default(),
            operation: flags.operation,
            tags: flags.tags.into_iter().chain(flags.filters).collect(),
            min_duration: flags.min_duration,
            max_duration: flags.max_duration,
            limit: Some(flags.limit),
            lookback: flags.lookback,
            traceql: flags.traceql,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receivers_take_an_address_or_off() {
        let cli = Cli::parse_from(["vitals", "serve", "--otlp-grpc", "off", "--zipkin", "0.0.0.0:9412"]);
        let Command::Serve(flags) = cli.command else { panic!("not serve") };
        assert_eq!(flags.otlp_grpc, Listen::Off);
        assert_eq!(flags.zipkin, Listen::At("0.0.0.0:9412".parse().unwrap()));
        assert_eq!(flags.otlp_http, Listen::At("127.0.0.1:4318".parse().unwrap()));
        assert!(Cli::try_parse_from(["vitals", "serve", "--otlp-grpc", "localhost"]).is_err());
    }

    #[test]
    fn the_limits_default_to_the_plugins_defaults() {
        let cli = Cli::parse_from(["vitals", "search", "--service", "web"]);
        let Command::Search { provider, .. } = cli.command else { panic!("not a search") };
        let config = provider.to_config();
        assert_eq!((config.max_response, config.max_spans), (crate::config::DEFAULT_MAX_RESPONSE, DEFAULT_MAX_SPANS));
    }
}
