//! Timings of validation and rendering.
//!
//! - `validate/default`: `check` on the built-in default configuration.
//! - `validate/h-trivy-options`: `check` on the reference input with the most Trivy settings,
//!   read from `shared/reference/` next to the repository (skipped, with a note, when absent).
//! - `render_with_state/*`: a full render whose state already holds every secret and the token
//!   key and certificate, so no key is generated.
//! - `render_fresh/default`: a first render, RSA-4096 token key generation included. The seed
//!   is fixed, so every iteration generates the same key and the timing is repeatable.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use harbor_prep::{Bundle, Config, HostFiles, Inputs, Release, Seed, State};

/// Inside the validity of the reference certificates.
const NOW: i64 = 1_796_342_400;
const SEED: [u8; 32] = [7; 32];
const HOSTNAME: &str = "harbor.example.test";

/// The reference input whose validation is timed besides the default configuration.
const BIG_CASE: &str = "h-trivy-options";

fn reference_input(case: &str) -> Option<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/reference/upstream-v2.15.2")
        .join(case)
        .join("input.harbor.yml");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) => {
            eprintln!("skipping {case}: cannot read {}: {e}", path.display());
            None
        }
    }
}

fn parse(text: &str) -> Config {
    match Config::from_yaml(text) {
        Ok(config) => config,
        Err(issues) => panic!("bench input does not parse: {issues:?}"),
    }
}

fn render(config: &Config, state: &State, with_trivy: bool) -> Bundle {
    let inputs = Inputs {
        config,
        seed: &Seed::from_bytes(SEED),
        now: NOW,
        state,
        files: &HostFiles::new(),
        with_trivy,
        release: Release::latest(),
    };
    match harbor_prep::render(&inputs) {
        Ok(bundle) => bundle,
        Err(issues) => panic!("bench input does not render: {issues}"),
    }
}

fn validate(c: &mut Criterion) {
    let files = HostFiles::new();
    let mut group = c.benchmark_group("validate");

    let default = harbor_prep::default_config(HOSTNAME);
    assert!(
        harbor_prep::check(&default, &files, NOW, true, Release::latest()).is_empty(),
        "the default configuration has issues"
    );
    group.bench_function("default", |b| {
        b.iter(|| harbor_prep::check(black_box(&default), &files, NOW, true, Release::latest()))
    });

    if let Some(big) = reference_input(BIG_CASE) {
        assert!(
            harbor_prep::check(&big, &files, NOW, true, Release::latest()).is_empty(),
            "{BIG_CASE} has issues"
        );
        group.bench_function(BIG_CASE, |b| {
            b.iter(|| harbor_prep::check(black_box(&big), &files, NOW, true, Release::latest()))
        });
    }

    group.finish();
}

fn render_with_state(c: &mut Criterion) {
    let mut group = c.benchmark_group("render_with_state");

    let default = parse(&harbor_prep::default_config(HOSTNAME));
    let state = render(&default, &State::new(), true).state;
    group.bench_function("default", |b| {
        b.iter(|| render(black_box(&default), &state, true))
    });

    if let Some(text) = reference_input(BIG_CASE) {
        let big = parse(&text);
        group.bench_function(BIG_CASE, |b| {
            b.iter(|| render(black_box(&big), &state, true))
        });
    }

    group.finish();
}

fn render_fresh(c: &mut Criterion) {
    let mut group = c.benchmark_group("render_fresh");
    // each iteration takes most of a second: flat sampling, few samples, a long window
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));

    let default = parse(&harbor_prep::default_config(HOSTNAME));
    let empty = State::new();
    group.bench_function("default", |b| {
        b.iter(|| render(black_box(&default), &empty, true))
    });

    group.finish();
}

criterion_group!(benches, validate, render_with_state, render_fresh);
criterion_main!(benches);
