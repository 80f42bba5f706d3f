//! Chaos and soak, short enough for CI (`cargo xtask bench chaos | soak` run the long ones).

use std::time::Duration;

use tidings::TransportMode;
use tidings_tests::proof::{chaos, soak};
use wasm_bindgen_test::{console_log, wasm_bindgen_test};

const TRANSPORTS: [TransportMode; 3] = [
    TransportMode::EventSource,
    TransportMode::Fetch,
    TransportMode::Polling,
];

#[wasm_bindgen_test]
async fn chaos_resume_delivers_every_event_exactly_once_in_order() {
    for mode in TRANSPORTS {
        let report = chaos(mode, 10_000, 2_000).await;
        console_log!("{}", report.row());
        assert_eq!(
            (report.lost, report.duplicates, report.out_of_order),
            (0, 0, 0),
            "{report:?}"
        );
        assert!(report.drops > 0, "{report:?}");
    }
}

#[wasm_bindgen_test]
async fn a_short_soak_leaves_nothing_behind() {
    for mode in TRANSPORTS {
        let samples = soak(
            mode,
            Duration::from_secs(12),
            200,
            Duration::from_secs(2),
            3,
        )
        .await;
        for sample in &samples {
            console_log!("{mode:?} {}", sample.row());
        }
        let (first, last) = (&samples[0], &samples[samples.len() - 1]);
        // The connection and its transport are gone with the owner; while it was open there was
        // at most one of each.
        assert!(
            samples.iter().all(|s| s.live.0 <= first.live.0 + 1),
            "{samples:?}"
        );
        assert!(
            last.wasm - first.wasm <= f64::from(1 << 20),
            "{mode:?}: wasm memory grew from {} to {}",
            first.wasm,
            last.wasm
        );
    }
}
