//! The editor's options, one schema for every front door: the Neovim plugin sends them as
//! a table (`require("vitals.config")`), a language client as `initializationOptions` and
//! `workspace/didChangeConfiguration` settings, with the same names, shapes and defaults.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::alerts::RuleSettings;
use crate::analysis::service_map::Thresholds;
use crate::collector::supervisor::Addresses;
use crate::config::ProviderConfig;
use crate::error::{Error, Result};
use crate::providers::regressions::RegressionSettings;
use crate::render::units::plural;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct Settings {
    /// `trace_provider`, `trace_endpoint`, `tenant`, `timeout_ms`, `auth`, `store_path`,
    /// `max_response`, `max_spans`, `rollup_retention`.
    #[serde(flatten)]
    pub provider: ProviderConfig,
    #[serde(flatten)]
    pub receivers: ReceiverSettings,
    /// Show annotations on the lines of code at all.
    pub enable_code_lens_annotations: bool,
    /// Share of request time (%) from which a line counts as hot.
    pub performance_threshold: f64,
    /// Path prefixes in traces → local folders (`{ "/app/": "~/src/shop/" }`).
    pub path_mappings: BTreeMap<String, String>,
    pub analyze: AnalyzeSettings,
    /// Annotate from recent traces by itself, and keep doing so as traces arrive.
    pub enable_auto_tracing: bool,
    pub auto_tracing: AutoTracing,
    pub service_map: MapSettings,
    /// The windows, limit and samples of a regression check.
    pub regressions: RegressionSettings,
    /// The language server's hover: the columns its flame graph is drawn in. Helix's
    /// popup is at most 118 wide, and no wider than the terminal; the default fits 80.
    pub hover_width: usize,
    /// Alert rules, evaluated on the embedded store's rollups as traffic arrives.
    pub alerts: Vec<RuleSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            provider: ProviderConfig::default(),
            receivers: ReceiverSettings::default(),
            enable_code_lens_annotations: true,
            performance_threshold: 5.0,
            path_mappings: BTreeMap::new(),
            analyze: AnalyzeSettings::default(),
            enable_auto_tracing: false,
            auto_tracing: AutoTracing::default(),
            service_map: MapSettings::default(),
            regressions: RegressionSettings::default(),
            hover_width: 76,
            alerts: Vec::new(),
        }
    }
}

/// The plugin's `receivers` option: where the `otlp` provider's receivers listen.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ReceiverSettings {
    pub receivers: Addresses,
}

/// Which recent traces an analysis (and so the annotations) looks at.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyzeSettings {
    /// How far back (`1h`).
    pub lookback: String,
    /// How many of each service's most recent traces.
    pub limit: usize,
    /// Database calls at least this long are slow queries.
    pub slow_query_ms: u64,
}

impl Default for AnalyzeSettings {
    fn default() -> Self {
        AnalyzeSettings { lookback: "1h".into(), limit: 50, slow_query_ms: 500 }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AutoTracing {
    /// How often to look for new traces.
    pub interval_ms: u64,
    /// Whose traces to annotate with; empty means every service.
    pub services: Vec<String>,
}

impl Default for AutoTracing {
    fn default() -> Self {
        AutoTracing { interval_ms: 30_000, services: Vec::new() }
    }
}

/// The `service_map` option: when a service on the map is degraded or critical.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MapSettings {
    /// Error rates (0–1) from which a service is degraded, or critical.
    pub degraded_error_rate: f64,
    pub critical_error_rate: f64,
    /// P95 latencies (ms) from which a service is degraded, or critical.
    pub degraded_p95_ms: u64,
    pub critical_p95_ms: u64,
    /// How often Neovim's open map float redraws itself (a file has nothing to redraw).
    pub refresh_ms: u64,
}

impl Default for MapSettings {
    fn default() -> Self {
        let t = Thresholds::default();
        MapSettings {
            degraded_error_rate: t.degraded_error_rate,
            critical_error_rate: t.critical_error_rate,
            degraded_p95_ms: t.degraded_p95_ns / 1_000_000,
            critical_p95_ms: t.critical_p95_ns / 1_000_000,
            refresh_ms: 5000,
        }
    }
}

impl MapSettings {
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            degraded_error_rate: self.degraded_error_rate,
            critical_error_rate: self.critical_error_rate,
            degraded_p95_ns: self.degraded_p95_ms.saturating_mul(1_000_000),
            critical_p95_ns: self.critical_p95_ms.saturating_mul(1_000_000),
        }
    }
}

/// The plugin's options that only Neovim uses (windows, keys, its own commands): a
/// language client given the same table accepts and ignores them.
const NEOVIM_ONLY: &[&str] = &["receive_on_startup", "binary", "search", "tail", "float"];

/// Every option [`Settings`] reads, by its name at the top of the table.
const KNOWN: &[&str] = &[
    "trace_provider",
    "trace_endpoint",
    "tenant",
    "timeout_ms",
    "auth",
    "store_path",
    "max_response",
    "max_spans",
    "rollup_retention",
    "receivers",
    "enable_code_lens_annotations",
    "performance_threshold",
    "path_mappings",
    "analyze",
    "enable_auto_tracing",
    "auto_tracing",
    "service_map",
    "regressions",
    "hover_width",
    "alerts",
];

impl Settings {
    /// Reads settings from JSON (`null` is the defaults), naming the option that is wrong:
    /// `timeout_ms: invalid type: string "soon", expected u64`, or an option that does not
    /// exist (a typo must not pass as the default silently).
    pub fn from_json(value: &serde_json::Value) -> Result<Settings> {
        if value.is_null() {
            return Ok(Settings::default());
        }
        let Some(table) = value.as_object() else {
            return Err(Error::invalid(format!("Vitals settings must be a table of options, not {value}")));
        };
        let unknown: Vec<&str> =
            table.keys().map(String::as_str).filter(|key| !KNOWN.contains(key) && !NEOVIM_ONLY.contains(key)).collect();
        if !unknown.is_empty() {
            return Err(Error::invalid(format!(
                "Unknown Vitals option{} {}: see :help vitals-options or the README",
                plural(unknown.len()),
                unknown.join(", ")
            )));
        }
        // Each option alone first, so that an error names it (serde's flattening forgets
        // where inside the table it was).
        for (key, option) in table.iter().filter(|(key, _)| KNOWN.contains(&key.as_str())) {
            let alone = serde_json::json!({ key: option });
            serde_json::from_value::<Settings>(alone)
                .map_err(|e| Error::invalid(format!("Vitals option {key}: {e}")))?;
        }
        serde_json::from_value(value.clone()).map_err(|e| Error::invalid(format!("Vitals settings: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::ProviderKind;

    #[test]
    fn the_plugin_defaults() {
        let settings = Settings::from_json(&serde_json::Value::Null).unwrap();
        assert_eq!(settings.provider.kind, ProviderKind::Otlp);
        assert_eq!(settings.performance_threshold, 5.0);
        assert_eq!(settings.analyze, AnalyzeSettings { lookback: "1h".into(), limit: 50, slow_query_ms: 500 });
        assert_eq!(settings.auto_tracing.interval_ms, 30_000);
        assert!(!settings.enable_auto_tracing && settings.enable_code_lens_annotations);
        assert_eq!(settings, Settings::from_json(&json!({})).unwrap());
    }

    #[test]
    fn the_same_table_as_the_plugin_takes() {
        let settings = Settings::from_json(&json!({
            "trace_provider": "file",
            "trace_endpoint": "/tmp/traces",
            "timeout_ms": 2000,
            "path_mappings": { "/app/": "~/src/shop/" },
            "enable_auto_tracing": true,
            "auto_tracing": { "services": ["web"] },
            "analyze": { "limit": 5 },
            "receivers": { "zipkin": "127.0.0.1:9411", "otlp_grpc": false },
            "float": { "border": "single" },
            "service_map": { "critical_p95_ms": 900, "refresh_ms": 1000 },
            "regressions": { "window": "30m", "min_samples": 5 },
        }))
        .unwrap();
        assert_eq!(settings.service_map.thresholds().critical_p95_ns, 900_000_000, "the map's health, for vitals.map");
        assert_eq!(settings.service_map.degraded_error_rate, 0.01);
        let regressions = &settings.regressions;
        assert_eq!((regressions.default_window.as_str(), regressions.limit, regressions.min_samples), ("30m", 2000, 5));
        assert_eq!(settings.provider.kind, ProviderKind::File);
        assert_eq!(settings.provider.timeout_ms, 2000);
        assert_eq!(settings.path_mappings["/app/"], "~/src/shop/");
        assert_eq!(settings.auto_tracing, AutoTracing { interval_ms: 30_000, services: vec!["web".into()] });
        assert_eq!(settings.analyze.limit, 5);
        assert_eq!(settings.analyze.lookback, "1h", "the rest of a nested table keeps its defaults");
    }

    #[test]
    fn a_bad_value_or_an_unknown_option_is_named() {
        let error = |value| Settings::from_json(&value).unwrap_err().to_string();
        assert!(error(json!({"timeout_ms": "soon"})).starts_with("Vitals option timeout_ms: invalid type"));
        assert!(
            error(json!({"trace_provider": "datadog"})).starts_with("Vitals option trace_provider: unknown variant")
        );
        assert!(error(json!({"auto_tracing": {"interval": 5}})).contains("unknown field `interval`"));
        assert_eq!(
            error(json!({"trace_providr": "file"})),
            "Unknown Vitals option trace_providr: see :help vitals-options or the README"
        );
        assert!(error(json!(["file"])).contains("must be a table"));
    }
}
