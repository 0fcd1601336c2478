//! The Rust handle's payload arguments: any `Serialize` value, validated exactly as over HTTP,
//! including what only Rust (or JS) can express, such as a NaN reading.

#![allow(clippy::unwrap_used)]

use serde::Serialize;
use switchyard_host::auth::JwtKeys;
use switchyard_host::{Config, HubError, Switchyard};

#[derive(Serialize)]
struct Reading {
    reading: f64,
    timestamp: String,
    unit: &'static str,
}

fn hub() -> Switchyard {
    Switchyard::new(Config::new(
        JwtKeys::new(Some("s"), None).unwrap(),
        vec!["k".into()],
    ))
}

#[tokio::test]
async fn a_nan_reading_from_rust_is_not_finite() {
    let meter = "m-1".parse().unwrap();
    let timestamp = "2024-01-15T10:00:00Z".to_owned();
    let err = hub()
        .handle_meter_reading(
            &meter,
            Reading {
                reading: f64::NAN,
                timestamp: timestamp.clone(),
                unit: "kWh",
            },
        )
        .await
        .unwrap_err();
    let HubError::Validation(errors) = err else {
        panic!("a validation error, got {err:?}")
    };
    assert_eq!(errors.codes(), ["not_finite"]);
    assert_eq!(errors.0[0].path, "reading");

    let ok = hub()
        .handle_meter_reading(
            &meter,
            Reading {
                reading: 1.5,
                timestamp,
                unit: "kWh",
            },
        )
        .await;
    assert!(ok.is_ok(), "{ok:?}");
}

#[tokio::test]
async fn typed_structs_and_json_values_are_judged_alike() {
    #[derive(Serialize)]
    struct Note {
        #[serde(rename = "type")]
        kind: &'static str,
        message: String,
    }
    let user = "u1".parse().unwrap();
    let typed = hub()
        .send_notification(
            &user,
            Note {
                kind: "loud",
                message: String::new(),
            },
        )
        .await;
    let json = hub()
        .send_notification(&user, serde_json::json!({ "type": "loud", "message": "" }))
        .await;
    let codes = |r: Result<_, HubError>| match r {
        Err(HubError::Validation(e)) => e.codes(),
        other => panic!("a validation error, got {other:?}"),
    };
    assert_eq!(codes(typed), codes(json));
}
