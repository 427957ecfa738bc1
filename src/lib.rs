//! Vitals: distributed tracing and performance profiling inside the editor.
//!
//! The layers, each depending only on the ones before it (see DESIGN.md):
//! [`model`] → [`formats`] → [`analysis`] → [`render`] → [`query`] (what a user asks
//! for, shared by the store and the providers) → [`store`] and [`providers`] →
//! [`session`] (what the editor front doors share) and [`tail`] (the live tail) → front doors ([`nvim`], [`lsp`],
//! [`mcp`], [`cli`]).
#![deny(clippy::print_stdout)]

pub mod alerts;
pub mod analysis;
pub mod cli;
pub mod collector;
pub mod config;
pub mod error;
pub mod formats;
pub mod logging;
pub mod lsp;
pub mod mcp;
pub mod model;
pub mod nvim;
pub mod providers;
pub mod query;
pub mod query_api;
pub mod render;
pub mod session;
pub mod store;
pub mod tail;
