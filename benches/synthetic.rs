//! Synthetic traces for the benchmarks: a realistic shape (fan-out of 0–6 children,
//! children nested inside their parents' time, a dozen services, tags and the odd log)
//! written as Jaeger v1 JSON, so the benchmarks can start from bytes or from spans.

/// A small deterministic generator, so every run measures the same trace.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % below.max(1)
    }
}

const SERVICES: [&str; 12] = [
    "frontend",
    "checkout",
    "cart",
    "payment",
    "inventory",
    "shipping",
    "email",
    "currency",
    "ads",
    "recommendation",
    "postgres",
    "redis",
];

/// A Jaeger `{data:[trace]}` document holding one trace of `span_count` spans.
#[allow(dead_code)] // Not every benchmark that includes this module uses the default seed.
pub fn jaeger_json(span_count: usize) -> Vec<u8> {
    jaeger_json_seeded(span_count, 42)
}

/// Like [`jaeger_json`], a different trace of the same shape for each seed.
pub fn jaeger_json_seeded(span_count: usize, seed: u64) -> Vec<u8> {
    let mut rng = Lcg(seed);
    // (start µs, duration µs) per span; parents come before children.
    let mut times: Vec<(u64, u64)> = vec![(1_700_000_000_000_000, 5_000_000)];
    let mut parents: Vec<Option<usize>> = vec![None];
    let mut next_parent = 0;
    while times.len() < span_count {
        let (start, duration) = times[next_parent];
        let children = 1 + rng.next(6) as usize;
        for _ in 0..children.min(span_count - times.len()) {
            let offset = rng.next(duration.max(2) / 2);
            let length = 1 + rng.next((duration - offset).max(2));
            times.push((start + offset, length));
            parents.push(Some(next_parent));
        }
        next_parent = (next_parent + 1).min(times.len() - 1);
    }
    let mut spans = Vec::with_capacity(span_count);
    for (i, ((start, duration), parent)) in times.iter().zip(&parents).enumerate() {
        let service = rng.next(SERVICES.len() as u64) as usize;
        let references = match parent {
            Some(p) => format!(
                r#"[{{"refType":"CHILD_OF","traceID":"00000000000000000000000000abcdef","spanID":"{:016x}"}}]"#,
                p + 1
            ),
            None => "[]".to_string(),
        };
        let logs = if i % 17 == 0 {
            format!(r#"[{{"timestamp":{start},"fields":[{{"key":"event","type":"string","value":"cache miss"}}]}}]"#)
        } else {
            "[]".to_string()
        };
        // The database services' spans are client calls with a statement, so that the
        // analyses (N+1, slow queries) have real work to do.
        let tags = match SERVICES[service] {
            "postgres" | "redis" => format!(
                r#"[{{"key":"span.kind","type":"string","value":"client"}},{{"key":"db.system","type":"string","value":"{}"}},{{"key":"db.statement","type":"string","value":"SELECT * FROM items WHERE order_id = {}"}}]"#,
                SERVICES[service],
                rng.next(1000)
            ),
            _ => r#"[{"key":"span.kind","type":"string","value":"server"},{"key":"http.status_code","type":"int64","value":200},{"key":"component","type":"string","value":"net/http"}]"#.to_string(),
        };
        spans.push(format!(
            r#"{{"traceID":"00000000000000000000000000abcdef","spanID":"{:016x}","flags":1,"operationName":"{} op{}","references":{references},"startTime":{start},"duration":{duration},"tags":{tags},"logs":{logs},"processID":"p{service}","warnings":null}}"#,
            i + 1,
            SERVICES[service],
            rng.next(20),
        ));
    }
    let processes: Vec<String> = SERVICES
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(r#""p{i}":{{"serviceName":"{s}","tags":[{{"key":"hostname","type":"string","value":"{s}-1"}}]}}"#)
        })
        .collect();
    format!(
        r#"{{"data":[{{"traceID":"00000000000000000000000000abcdef","spans":[{}],"processes":{{{}}},"warnings":null}}],"total":0,"limit":0,"offset":0,"errors":null}}"#,
        spans.join(","),
        processes.join(",")
    )
    .into_bytes()
}
