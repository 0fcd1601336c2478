//! The fast path's Rust half (`tape::run`) natively, over and over, for a profiler:
//! `valgrind --tool=callgrind` counts its instructions repeatably (wall time on a shared
//! machine does not). Two runs with different counts give the cost of one call.
//!
//! ```sh
//! cargo build --release -p switchyard-wasm --example tape_profile
//! valgrind --tool=callgrind target/release/examples/tape_profile notification 10000
//! ```

use switchyard_core::Timestamp;
use switchyard_wasm::tape;

// The tags of `src/tape.rs`.
const NUMBER: u8 = 3;
const STRING: u8 = 4;
const OBJECT: u8 = 6;

/// A tape as `convert.js` writes it.
#[derive(Default)]
struct Tape(Vec<u8>);

impl Tape {
    fn str(&mut self, s: &str) -> &mut Self {
        self.0.push(STRING);
        self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    fn num(&mut self, n: f64) -> &mut Self {
        self.0.push(NUMBER);
        self.0.extend_from_slice(&n.to_le_bytes());
        self
    }
    fn object(&mut self, n: u32) -> &mut Self {
        self.0.push(OBJECT);
        self.0.extend_from_slice(&n.to_le_bytes());
        self
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "notification".into());
    let n: usize = args.next().map_or(Ok(10_000), |s| s.parse())?;
    let mut t = Tape::default();
    let kind = match case.as_str() {
        "notification" => {
            t.object(3).str("type").str("info").str("message");
            t.str("Truck arrives at 10:00").str("data").object(2);
            t.str("ticket").str("T-1001").str("eta").num(15.0);
            0
        }
        "notification-errors" => {
            t.object(2)
                .str("type")
                .str("loud")
                .str("message")
                .str("   ");
            0
        }
        "meter" => {
            t.object(3).str("reading").num(12.5).str("timestamp");
            t.str("2024-01-15T11:04:59+01:00").str("unit").str("kWh");
            2
        }
        "meter-errors" => {
            t.object(3).str("reading").num(f64::NAN).str("timestamp");
            t.str("soon").str("unit").str("KWH");
            2
        }
        other => return Err(format!("unknown case {other}").into()),
    };
    let now = Timestamp::parse_rfc3339("2024-01-15T10:00:00Z")?;
    let mut out = Vec::new();
    for _ in 0..n {
        out.clear();
        tape::run(kind, std::hint::black_box(&t.0), now, &mut out)
            .map_err(|_| "the tape was refused")?;
    }
    println!("{case}: {n} calls, out tape {} bytes", out.len());
    Ok(())
}
