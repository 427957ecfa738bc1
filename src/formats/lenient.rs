//! Serde helpers for numbers that backends send either as JSON numbers or as strings
//! (OTLP JSON encodes 64-bit integers as strings; many producers do not).

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// Deserializes a time or a duration from a number, a numeric string or null (→ 0).
/// Widened to `i128` and signed, so that a negative or oversized value reaches
/// [`crate::model::SpanTimes`], which repairs it with a warning, instead of failing the
/// whole document.
pub fn time_any<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i128, D::Error> {
    deserializer.deserialize_any(TimeVisitor)
}

/// Deserializes a signed 64-bit integer from a number, a numeric string or null (→ 0).
pub fn i64_any<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    deserializer.deserialize_any(I64Visitor)
}

struct TimeVisitor;

impl<'de> Visitor<'de> for TimeVisitor {
    type Value = i128;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer or a string holding one")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i128, E> {
        Ok(v.into())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i128, E> {
        Ok(v.into())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i128, E> {
        // Saturates: a float too large for any time is judged as the largest one.
        if v.is_finite() { Ok(v as i128) } else { Err(E::custom(format!("{v} is not a valid time"))) }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i128, E> {
        if v.is_empty() {
            return Ok(0);
        }
        v.parse().map_err(|_| E::custom(format!("{v:?} is not an integer")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<i128, E> {
        Ok(0)
    }
}

struct I64Visitor;

impl<'de> Visitor<'de> for I64Visitor {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer or a string holding one")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom(format!("{v} does not fit in 64 bits")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        if v.fract() == 0.0 && v.is_finite() { Ok(v as i64) } else { Err(E::custom(format!("{v} is not an integer"))) }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        v.parse().map_err(|_| E::custom(format!("{v:?} is not an integer")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<i64, E> {
        Ok(0)
    }
}
