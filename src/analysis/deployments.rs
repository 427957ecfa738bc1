//! A service's deployments (see [`crate::model::deployment`]): which versions the traces
//! show, and which two a comparison takes by default.

use std::collections::HashMap;

use crate::model::{Deployment, DeploymentKey, Trace, VersionSeen};

/// The versions of `service` in `traces` with when each was first and last seen, in the
/// order they were first seen. For backends that keep no list of versions.
pub fn versions_in<'t>(traces: impl IntoIterator<Item = &'t Trace>, service: &str) -> Vec<VersionSeen> {
    let mut seen: HashMap<Deployment, (u64, u64)> = HashMap::new();
    for span in traces.into_iter().flat_map(|t| &t.spans).filter(|s| s.service() == service) {
        if let Some(deployment) = span.resource.deployment() {
            let times = seen.entry(deployment).or_insert((span.start_ns, span.start_ns));
            *times = (times.0.min(span.start_ns), times.1.max(span.start_ns));
        }
    }
    let mut versions: Vec<VersionSeen> = seen
        .into_iter()
        .map(|(d, (first, last))| VersionSeen {
            key: d.key,
            version: d.version,
            first_seen_ns: first,
            last_seen_ns: last,
        })
        .collect();
    in_order(&mut versions);
    versions
}

/// Oldest first: by when each was first seen.
pub fn in_order(versions: &mut [VersionSeen]) {
    versions.sort_by(|a, b| {
        (a.first_seen_ns, a.last_seen_ns, &a.version).cmp(&(b.first_seen_ns, b.last_seen_ns, &b.version))
    });
}

/// The versions told apart by the most trusted key the service has (a service that sends
/// `service.version` is compared by it, not by its restarts), oldest first.
pub fn preferred(versions: &[VersionSeen]) -> Vec<&VersionSeen> {
    let Some(key) = versions.iter().map(|v| v.key).min() else { return Vec::new() };
    let mut chosen: Vec<&VersionSeen> = versions.iter().filter(|v| v.key == key).collect();
    chosen.sort_by_key(|v| (v.first_seen_ns, v.last_seen_ns));
    chosen
}

/// What a comparison takes by default: the newest version and the one before it. Process
/// start-ups count only when the newer began after the older ended: instances running
/// side by side are replicas, not one deployment after another.
pub fn newest_two(versions: &[VersionSeen]) -> Option<(&VersionSeen, &VersionSeen)> {
    let chosen = preferred(versions);
    let [.., before, newest] = chosen.as_slice() else { return None };
    let one_after_another = before.last_seen_ns < newest.first_seen_ns;
    (before.key != DeploymentKey::InstanceId || one_after_another).then_some((*before, *newest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(key: DeploymentKey, version: &str, first: u64, last: u64) -> VersionSeen {
        VersionSeen { key, version: version.into(), first_seen_ns: first, last_seen_ns: last }
    }

    #[test]
    fn the_newest_version_is_compared_with_the_one_before_it() {
        use DeploymentKey::*;
        let versions = [
            seen(InstanceId, "i-9", 95, 99),
            seen(ServiceVersion, "1.1.0", 50, 99),
            seen(ServiceVersion, "0.9.0", 0, 10),
            seen(ServiceVersion, "1.0.0", 20, 60),
        ];
        let (before, newest) = newest_two(&versions).unwrap();
        assert_eq!((before.version.as_str(), newest.version.as_str()), ("1.0.0", "1.1.0"), "versions over restarts");
        assert_eq!(newest_two(&versions[..2]), None, "one version is nothing to compare");
    }

    #[test]
    fn restarts_count_as_deployments_only_one_after_another() {
        use DeploymentKey::InstanceId;
        let runs = [seen(InstanceId, "a", 0, 40), seen(InstanceId, "b", 100, 140)];
        assert_eq!(newest_two(&runs).map(|(a, b)| (&*a.version, &*b.version)), Some(("a", "b")));
        let replicas = [seen(InstanceId, "a", 0, 140), seen(InstanceId, "b", 100, 140)];
        assert_eq!(newest_two(&replicas), None);
    }

    #[test]
    fn versions_are_read_from_the_services_spans() {
        let trace = crate::analysis::testing::trace(&[(1, 0, "web", "GET /", 100, 50), (2, 1, "api", "Get", 120, 10)])
            .resource(1, "service.version", "2.0.0")
            .resource(2, "service.version", "9.9.9")
            .done();
        let found = versions_in([&trace], "web");
        let start = 1_000_000_000 + 100 * crate::analysis::testing::MS;
        assert_eq!(found, [seen(DeploymentKey::ServiceVersion, "2.0.0", start, start)]);
    }
}
