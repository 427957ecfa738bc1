//! Alerts: rules on an operation's latency percentiles and error rate, evaluated on the
//! store's rollups as traffic arrives, that fire when a threshold is crossed and clear
//! when the numbers are back under it.
//!
//! [`rules`] reads the rules (one shape for Neovim's `alerts` option and `vitals serve
//! --alerts FILE`), [`board`] keeps each rule's state and history and decides what
//! changed, [`watch`] evaluates the board as the store announces committed batches
//! (at most once per [`watch::EVERY`], never inside ingest), and [`show`] draws alerts
//! as text for notifications, statuslines, stderr and the `:VitalsAlerts` float.

pub mod board;
pub mod rules;
pub mod show;
pub mod watch;

pub use board::{Board, Event, Status};
pub use rules::{Rule, RuleSettings};
