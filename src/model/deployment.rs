//! Which deployment of its service a span came from, read from its resource.
//!
//! A deployment is told apart by the resource attribute `service.version` (a release),
//! else `deployment.id`, else `service.instance.id`: SDKs give each process a new one when
//! it starts, so a restart stands in for a deployment when nothing better is sent.

use serde::Serialize;

use super::span::Resource;

/// The resource attribute a deployment is told apart by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum DeploymentKey {
    #[serde(rename = "service.version")]
    ServiceVersion,
    #[serde(rename = "deployment.id")]
    DeploymentId,
    #[serde(rename = "service.instance.id")]
    InstanceId,
}

impl DeploymentKey {
    /// Most trusted first.
    pub const ALL: [DeploymentKey; 3] =
        [DeploymentKey::ServiceVersion, DeploymentKey::DeploymentId, DeploymentKey::InstanceId];

    pub fn attribute(self) -> &'static str {
        match self {
            DeploymentKey::ServiceVersion => "service.version",
            DeploymentKey::DeploymentId => "deployment.id",
            DeploymentKey::InstanceId => "service.instance.id",
        }
    }

    pub fn from_attribute(attribute: &str) -> Option<DeploymentKey> {
        DeploymentKey::ALL.into_iter().find(|key| key.attribute() == attribute)
    }
}

/// One deployment of a service: `1.4.2` of `service.version`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Deployment {
    pub key: DeploymentKey,
    pub version: String,
}

/// A version of a service and when it was seen: the earliest and the latest start of
/// its spans.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VersionSeen {
    pub key: DeploymentKey,
    pub version: String,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
}

impl VersionSeen {
    pub fn deployment(&self) -> Deployment {
        Deployment { key: self.key, version: self.version.clone() }
    }
}

impl Resource {
    /// The deployment the resource belongs to: its most trusted non-empty attribute of
    /// [`DeploymentKey::ALL`].
    pub fn deployment(&self) -> Option<Deployment> {
        DeploymentKey::ALL.into_iter().find_map(|key| {
            let value = self.attributes.iter().find(|a| a.key == key.attribute())?.value.to_string();
            (!value.trim().is_empty()).then_some(Deployment { key, version: value })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AttrValue, Attribute};

    fn resource(attributes: &[(&str, &str)]) -> Resource {
        Resource {
            service: "web".into(),
            attributes: attributes
                .iter()
                .map(|(k, v)| Attribute::new(*k, AttrValue::Str(v.to_string().into())))
                .collect(),
        }
    }

    #[test]
    fn the_version_is_trusted_before_the_deployment_and_the_instance() {
        let all = resource(&[("service.instance.id", "i-1"), ("deployment.id", "d-7"), ("service.version", "1.2.0")]);
        assert_eq!(all.deployment(), Some(Deployment { key: DeploymentKey::ServiceVersion, version: "1.2.0".into() }));
        let blank_version = resource(&[("service.version", " "), ("service.instance.id", "i-1")]);
        assert_eq!(blank_version.deployment().map(|d| d.key), Some(DeploymentKey::InstanceId));
        assert_eq!(resource(&[("host.name", "box")]).deployment(), None);
        assert_eq!(DeploymentKey::from_attribute("deployment.id"), Some(DeploymentKey::DeploymentId));
    }
}
