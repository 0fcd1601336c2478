//! Native validation throughput, the same cases as `bench/wasm/bench.mjs` so the two can be
//! read side by side. Prints a table; it is a benchmark, not a test.
//!
//! ```sh
//! cargo run --release -p switchyard-core --example validate_bench
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::json;
use switchyard_core::{Input, Room, Timestamp, payload};

type Case = (
    &'static str,
    fn(&Input, Timestamp) -> bool,
    serde_json::Value,
);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let now = Timestamp::parse_rfc3339("2024-01-15T10:00:00Z")?;
    let meter: fn(&Input, Timestamp) -> bool = |i, n| payload::validate_meter_reading(i, n).is_ok();
    let notification: fn(&Input, Timestamp) -> bool =
        |i, n| payload::validate_notification(i, n).is_ok();
    let items: Vec<_> = (0..100)
        .map(|i| json!({ "id": format!("item-{i}"), "qty": i, "ok": true }))
        .collect();
    let cases: [Case; 5] = [
        (
            "meter reading, valid",
            meter,
            json!({ "reading": 12.5, "timestamp": "2024-01-15T11:04:59+01:00", "unit": "kWh" }),
        ),
        (
            "meter reading, 3 errors",
            meter,
            json!({ "reading": "12", "timestamp": "soon", "unit": "KWH" }),
        ),
        (
            "notification, valid",
            notification,
            json!({ "type": "info", "message": "Truck arrives at 10:00", "data": { "ticket": "T-1001", "eta": 15 } }),
        ),
        (
            "notification, 2 errors",
            notification,
            json!({ "type": "loud", "message": "   " }),
        ),
        (
            "notification, 4 KiB data",
            notification,
            json!({ "type": "info", "message": "m", "data": { "items": items } }),
        ),
    ];

    println!("{:<28} {:>14}  {:>10}", "case", "ops/s", "ns/op");
    for (name, validate, value) in cases {
        let input = Input::from(value);
        let rate = rate(|| validate(black_box(&input), now));
        println!("{name:<28} {:>14.0}  {:>10.0}", rate, 1e9 / rate);
    }
    let rate = rate(|| black_box("ticket_T-1001").parse::<Room>().is_ok());
    println!("{:<28} {:>14.0}  {:>10.0}", "parse room", rate, 1e9 / rate);
    Ok(())
}

/// Calls per second of `f`, measured for about one second after a warm-up.
fn rate(mut f: impl FnMut() -> bool) -> f64 {
    for _ in 0..10_000 {
        black_box(f());
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(1) {
        for _ in 0..1000 {
            black_box(f());
        }
        n += 1000;
    }
    n as f64 / start.elapsed().as_secs_f64()
}
