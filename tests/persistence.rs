//! Saving and loading models: exact round trips, typed errors for every kind of bad
//! file, and saves that never damage an existing file.

use std::fs;
use std::path::{Path, PathBuf};

use rand::{rngs::StdRng, SeedableRng};
use scalargrad::nn::{Activation, Mlp, Module, PersistError};

/// A fresh, empty folder under the target directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create a scratch folder");
    dir
}

fn model() -> Mlp {
    Mlp::builder(2, &[4, 3, 1])
        .activations(&[
            Activation::Tanh,
            Activation::LeakyRelu(0.05),
            Activation::Sigmoid,
        ])
        .build(&mut StdRng::seed_from_u64(3))
}

#[test]
fn save_then_load_is_bit_exact() {
    let dir = scratch("round_trip");
    let path = dir.join("model.json");
    let original = model();
    original.save(&path).unwrap();
    let loaded = Mlp::load(&path).unwrap();
    let bits = |m: &Mlp| {
        m.parameter_values()
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(&loaded), bits(&original));
    assert_eq!(loaded.to_string(), original.to_string());
    assert_eq!(loaded.layers()[1].activation(), Activation::LeakyRelu(0.05));
    for x in [[0.3, -0.2], [5.0, 1e-3]] {
        assert_eq!(loaded.predict(&x), original.predict(&x));
    }
    // No temporary file is left behind.
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
}

#[test]
fn a_missing_file_is_an_io_error() {
    let err = Mlp::load(scratch("missing").join("nope.json")).unwrap_err();
    assert!(matches!(err, PersistError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("nope.json"), "{err}");
}

/// Each way a file can be wrong, with the error it must give.
#[test]
fn bad_files_give_typed_errors() {
    let good = model().to_json().unwrap();
    type Case = (&'static str, String, fn(&PersistError) -> bool);
    let cases: Vec<Case> = vec![
        ("not json", "{ this is not json".into(), |e| {
            matches!(e, PersistError::Json { .. })
        }),
        (
            "another format",
            good.replace("scalargrad-mlp", "other-model"),
            |e| matches!(e, PersistError::Format { .. }),
        ),
        (
            "a newer version",
            good.replace("\"version\": 1", "\"version\": 2"),
            |e| matches!(e, PersistError::Format { .. }),
        ),
        (
            "unknown activation",
            good.replace("\"tanh\"", "\"swish\""),
            |e| matches!(e, PersistError::UnknownActivation { layer: 0, .. }),
        ),
        (
            "wrong input count",
            good.replace("\"inputs\": 2", "\"inputs\": 3"),
            |e| matches!(e, PersistError::Shape { layer: 0, .. }),
        ),
        ("null weight", replace_first_weight(&good, "null"), |e| {
            matches!(
                e,
                PersistError::NonFinite {
                    layer: 0,
                    neuron: 0,
                    weight: Some(0),
                    ..
                }
            )
        }),
        (
            "a null slope",
            good.replace("\"slope\": 0.05", "\"slope\": null"),
            |e| matches!(e, PersistError::NonFiniteSlope { layer: 1, .. }),
        ),
        (
            "a leaky relu without a slope",
            good.replace("\"slope\": 0.05,", ""),
            |e| matches!(e, PersistError::NonFiniteSlope { layer: 1, .. }),
        ),
        (
            "a number too large for f64",
            replace_first_weight(&good, "1e999"),
            |e| matches!(e, PersistError::Json { .. }),
        ),
    ];
    let dir = scratch("bad_files");
    for (what, json, expected) in cases {
        let err = Mlp::from_json(&json).unwrap_err();
        assert!(expected(&err), "{what}: got {err:?}");
        // The same through a file names the file.
        let path = dir.join("bad.json");
        fs::write(&path, &json).unwrap();
        let err = Mlp::load(&path).unwrap_err();
        assert!(expected(&err), "{what} (file): got {err:?}");
        assert!(err.to_string().contains("bad.json"), "{what}: {err}");
    }
}

/// Replaces the first weight of the first neuron in pretty-printed model JSON.
fn replace_first_weight(json: &str, with: &str) -> String {
    let start = json.find("\"weights\"").unwrap();
    let open = start + json[start..].find("[\n").unwrap() + 2; // the outer list
    let open = open + json[open..].find('[').unwrap() + 1; // the first row
    let first = json[open..].trim_start();
    let skipped = json.len() - open - first.len();
    let end = first.find([',', '\n']).unwrap();
    format!("{}{}{}", &json[..open + skipped], with, &first[end..])
}

#[test]
fn a_failed_save_leaves_the_existing_file_untouched() {
    let dir = scratch("failed_save");
    let path = dir.join("model.json");
    model().save(&path).unwrap();
    let before = fs::read(&path).unwrap();

    let broken = model();
    // Parameters run w00 w01 b0 w10 w11 b1 …: index 4 is neuron 1's second weight.
    broken.parameters()[4].set_data(f64::NAN);
    let err = broken.save(&path).unwrap_err();
    assert!(
        matches!(
            err,
            PersistError::NonFinite {
                layer: 0,
                neuron: 1,
                weight: Some(1),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(
        fs::read_dir(&dir).unwrap().count(),
        1,
        "no temporary file left"
    );
}

/// JSON cannot hold a NaN slope: saving refuses it rather than write a file that
/// would not load again.
#[test]
fn a_non_finite_slope_is_refused_when_saving() {
    let dir = scratch("nan_slope");
    let path = dir.join("model.json");
    let model = Mlp::builder(2, &[3, 1])
        .hidden(Activation::LeakyRelu(f64::NAN))
        .build(&mut StdRng::seed_from_u64(0));
    let err = model.to_json().unwrap_err();
    assert!(
        matches!(err, PersistError::NonFiniteSlope { layer: 0, .. }),
        "{err:?}"
    );
    let err = model.save(&path).unwrap_err();
    assert!(
        matches!(err, PersistError::NonFiniteSlope { layer: 0, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("model.json"), "{err}");
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "nothing written");
}

#[test]
fn saving_into_a_missing_folder_is_an_io_error() {
    let path = scratch("no_folder").join("missing").join("model.json");
    let err = model().save(&path).unwrap_err();
    assert!(matches!(err, PersistError::Io { .. }), "{err:?}");
}
