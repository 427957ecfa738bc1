//! The service map of Jaeger UI's large dependency fixture (1,238 services, 4,271 edges):
//! parsing the answer, building the map and drawing its tree. Target (issue 5): < 50 ms.

use criterion::{Criterion, criterion_group, criterion_main};
use vitals::analysis::dependencies::parse_dependencies;
use vitals::analysis::service_map::ServiceMap;
use vitals::render::service_map::{MapView, render};

fn bench(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/jaeger-ui/dependencies/large.json");
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("this benchmark reads {path}: {e}"));
    c.bench_function("service map of 1,238 services: parse + build + draw", |b| {
        b.iter(|| {
            let map = ServiceMap::from_dependencies(&parse_dependencies(&bytes).unwrap());
            render(&map, MapView::Tree { root: None }, 120).lines.len()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
