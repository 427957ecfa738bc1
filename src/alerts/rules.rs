//! Alert rules as a user writes them (`{ service = "checkout", operation = "POST
//! /checkout", p95 = "500ms", error_rate = 0.05, window = "5m" }`), read the same way
//! from Neovim's setup and from `vitals serve --alerts FILE` (TOML or JSON).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::query::parse_duration;

/// A rule as written. At least one threshold is required.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleSettings {
    /// What notifications and the statusline call it (default: the service, and the
    /// operation when there is one).
    #[serde(default)]
    pub name: Option<String>,
    pub service: String,
    /// One operation (its entry spans, or its calls out); none means every entry
    /// operation of the service together.
    #[serde(default)]
    pub operation: Option<String>,
    /// Latency thresholds (`"500ms"`, `"1.5s"`; a bare number is milliseconds).
    #[serde(default)]
    pub p50: Option<Threshold>,
    #[serde(default)]
    pub p95: Option<Threshold>,
    #[serde(default)]
    pub p99: Option<Threshold>,
    /// Share of failed requests (0–1) above which the rule fires.
    #[serde(default)]
    pub error_rate: Option<f64>,
    /// The trailing window the numbers are taken over (default `5m`), in whole minutes
    /// of the rollups.
    #[serde(default)]
    pub window: Option<Threshold>,
}

/// A duration as text (`"500ms"`) or a number of milliseconds.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Threshold {
    Text(String),
    Millis(f64),
}

impl Threshold {
    fn ns(&self) -> Result<u64> {
        let duration = match self {
            Threshold::Text(text) => parse_duration(text)?,
            Threshold::Millis(ms) if ms.is_finite() && *ms >= 0.0 => std::time::Duration::from_secs_f64(ms / 1000.0),
            Threshold::Millis(ms) => return Err(Error::invalid(format!("{ms} is not a duration"))),
        };
        Ok(duration.as_nanos().min(u64::MAX as u128) as u64)
    }
}

/// What a threshold is set on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    P50,
    P95,
    P99,
    ErrorRate,
}

impl Measure {
    pub fn name(self) -> &'static str {
        match self {
            Measure::P50 => "p50",
            Measure::P95 => "p95",
            Measure::P99 => "p99",
            Measure::ErrorRate => "error_rate",
        }
    }

    /// The quantile of a latency measure.
    pub fn quantile(self) -> Option<f64> {
        match self {
            Measure::P50 => Some(0.50),
            Measure::P95 => Some(0.95),
            Measure::P99 => Some(0.99),
            Measure::ErrorRate => None,
        }
    }
}

/// One threshold of a rule: latency in ns, or an error rate (0–1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    pub measure: Measure,
    pub threshold: f64,
}

/// A rule, checked and ready to evaluate.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub name: String,
    /// What the statusline calls it: its name when the user gave one, else its service.
    pub label: String,
    pub service: String,
    pub operation: Option<String>,
    pub limits: Vec<Limit>,
    pub window_ns: u64,
    /// The window as the user wrote it, for messages.
    pub window: String,
}

const DEFAULT_WINDOW: &str = "5m";
const MINUTE_NS: u64 = 60_000_000_000;

impl Rule {
    /// Checks a written rule; `number` (1-based) names it in errors.
    pub fn from_settings(settings: &RuleSettings, number: usize) -> Result<Rule> {
        let context = |e: Error| Error::invalid(format!("alert rule {number}: {e}"));
        if settings.service.trim().is_empty() {
            return Err(context(Error::invalid("service is empty")));
        }
        let mut limits = Vec::new();
        for (measure, threshold) in
            [(Measure::P50, &settings.p50), (Measure::P95, &settings.p95), (Measure::P99, &settings.p99)]
        {
            if let Some(threshold) = threshold {
                limits.push(Limit { measure, threshold: threshold.ns().map_err(context)? as f64 });
            }
        }
        if let Some(rate) = settings.error_rate {
            if !(0.0..=1.0).contains(&rate) {
                return Err(context(Error::invalid(format!("error_rate {rate} is not between 0 and 1"))));
            }
            limits.push(Limit { measure: Measure::ErrorRate, threshold: rate });
        }
        if limits.is_empty() {
            return Err(context(Error::invalid("give at least one of p50, p95, p99 or error_rate")));
        }
        let window = settings.window.clone().unwrap_or(Threshold::Text(DEFAULT_WINDOW.into()));
        let window_ns = window.ns().map_err(context)?.max(MINUTE_NS);
        let window = match window {
            Threshold::Text(text) => text,
            Threshold::Millis(ms) => format!("{ms}ms"),
        };
        let name = settings.name.clone().unwrap_or_else(|| match &settings.operation {
            Some(operation) => format!("{} {operation}", settings.service),
            None => settings.service.clone(),
        });
        Ok(Rule {
            label: settings.name.clone().unwrap_or_else(|| settings.service.clone()),
            name,
            service: settings.service.clone(),
            operation: settings.operation.clone(),
            limits,
            window_ns,
            window,
        })
    }

    /// Every rule checked, or the first one that is wrong.
    pub fn all(settings: &[RuleSettings]) -> Result<Vec<Rule>> {
        settings.iter().enumerate().map(|(i, s)| Rule::from_settings(s, i + 1)).collect()
    }
}

/// A file of rules (`vitals serve --alerts FILE`): TOML (`[[alerts]]` tables) or JSON (a
/// list, or `{ "alerts": [...] }`), told apart by its first character.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    alerts: Vec<RuleSettings>,
}

pub fn read_file(path: &Path) -> Result<Vec<Rule>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::invalid(format!("cannot read the alert rules {}: {e}", path.display())))?;
    let settings = parse(&text).map_err(|e| Error::invalid(format!("alert rules {}: {e}", path.display())))?;
    Rule::all(&settings)
}

fn parse(text: &str) -> std::result::Result<Vec<RuleSettings>, String> {
    match text.trim_start().chars().next() {
        Some('[') if text.trim_start().starts_with("[[") => toml_rules(text),
        Some('[') => serde_json::from_str(text).map_err(|e| e.to_string()),
        Some('{') => serde_json::from_str::<RuleFile>(text).map(|f| f.alerts).map_err(|e| e.to_string()),
        _ => toml_rules(text),
    }
}

fn toml_rules(text: &str) -> std::result::Result<Vec<RuleSettings>, String> {
    toml::from_str::<RuleFile>(text).map(|f| f.alerts).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_rules_from_toml_and_json() {
        let toml = r#"
            [[alerts]]
            service = "checkout"
            operation = "POST /checkout"
            p95 = "500ms"
            error_rate = 0.05
            window = "5m"
        "#;
        let json = r#"[{ "service": "checkout", "operation": "POST /checkout", "p95": "500ms",
                         "error_rate": 0.05, "window": "5m" }]"#;
        let wrapped = format!(r#"{{ "alerts": {json} }}"#);
        let from_toml = Rule::all(&parse(toml).unwrap()).unwrap();
        assert_eq!(from_toml, Rule::all(&parse(json).unwrap()).unwrap());
        assert_eq!(from_toml, Rule::all(&parse(&wrapped).unwrap()).unwrap());
        let rule = &from_toml[0];
        assert_eq!(rule.name, "checkout POST /checkout");
        assert_eq!(rule.window_ns, 5 * MINUTE_NS);
        assert_eq!(
            rule.limits,
            [Limit { measure: Measure::P95, threshold: 500e6 }, Limit { measure: Measure::ErrorRate, threshold: 0.05 }]
        );
    }

    #[test]
    fn a_wrong_rule_is_named() {
        let error = |json: &str| Rule::all(&parse(json).unwrap()).unwrap_err().to_string();
        assert!(error(r#"[{"service": "a", "p95": 10}, {"service": "b"}]"#).starts_with("alert rule 2: give at least"));
        assert!(error(r#"[{"service": "a", "error_rate": 5}]"#).contains("not between 0 and 1"));
        assert!(error(r#"[{"service": "a", "p95": "soon"}]"#).contains("not a duration"));
        assert!(parse(r#"[{"service": "a", "p96": "1s"}]"#).unwrap_err().contains("unknown field `p96`"));
    }
}
