//! Many senders pushing batches at a receiver, as the ingest benchmarks measure it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sends batch `body` as sender `n`; whether it was acknowledged.
type Send =
    Arc<dyn Fn(usize, Vec<u8>) -> Pin<Box<dyn Future<Output = bool> + std::marker::Send>> + Sync + std::marker::Send>;

/// Sends every batch, `senders` senders taking turns, each retrying a refused batch after
/// 50 ms; the seconds until the last was acknowledged, and how many sends were refused.
pub async fn ingest_all(
    batches: &Arc<Vec<Vec<u8>>>,
    senders: usize,
    send: impl Fn(usize, Vec<u8>) -> Pin<Box<dyn Future<Output = bool> + std::marker::Send>>
    + Sync
    + std::marker::Send
    + 'static,
) -> (f64, usize) {
    let send: Send = Arc::new(send);
    let started = Instant::now();
    let mut running = Vec::new();
    for sender in 0..senders {
        let (send, batches) = (Arc::clone(&send), Arc::clone(batches));
        running.push(tokio::spawn(async move {
            let mut retries = 0;
            for body in batches.iter().skip(sender).step_by(senders) {
                while !send(sender, body.clone()).await {
                    retries += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            retries
        }));
    }
    let mut retries = 0;
    for sender in running {
        retries += sender.await.unwrap();
    }
    (started.elapsed().as_secs_f64(), retries)
}
