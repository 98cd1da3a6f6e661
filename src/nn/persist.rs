//! Saving and loading an [`Mlp`] as JSON: architecture, activations and weights.
//!
//! The format is plain and versioned:
//!
//! ```json
//! { "format": "scalargrad-mlp", "version": 1, "inputs": 2,
//!   "layers": [ { "activation": "relu", "weights": [[0.1, -0.3]], "biases": [0.0] } ] }
//! ```
//!
//! Numbers are written in the shortest form that reads back to the same `f64`, so a
//! round trip is bit-exact. Writes go to a temporary file that is renamed over the
//! target only once complete, so a failed save never leaves a half-written file or
//! destroys the one already there.

use std::error::Error;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Activation, Layer, Mlp, Neuron};

const FORMAT: &str = "scalargrad-mlp";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedMlp {
    format: String,
    version: u32,
    inputs: usize,
    layers: Vec<SavedLayer>,
}

/// `Option<f64>` so that a `null` (how JSON writers spell NaN and infinities) is
/// reported as a non-finite weight at its position, not as a syntax error.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedLayer {
    activation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    slope: Option<f64>,
    weights: Vec<Vec<Option<f64>>>,
    biases: Vec<Option<f64>>,
}

/// Why a model could not be saved or loaded. Each variant says where the problem is;
/// `path` is `None` when working on JSON text rather than a file.
#[derive(Debug)]
pub enum PersistError {
    /// The file could not be read, or written (the existing file is untouched).
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The content is not valid JSON, or not shaped like a saved model.
    Json {
        /// The file, if any.
        path: Option<PathBuf>,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The JSON is a different format or a version this build cannot read.
    Format {
        /// The file, if any.
        path: Option<PathBuf>,
        /// What was found instead.
        message: String,
    },
    /// Layer sizes do not fit together (a weight row of the wrong length, a bias count
    /// that differs from the neuron count, an empty layer…).
    Shape {
        /// The file, if any.
        path: Option<PathBuf>,
        /// The layer (from 0).
        layer: usize,
        /// What does not fit.
        message: String,
    },
    /// An activation name this crate does not know.
    UnknownActivation {
        /// The file, if any.
        path: Option<PathBuf>,
        /// The layer (from 0).
        layer: usize,
        /// The name found.
        name: String,
    },
    /// A leaky ReLU whose slope is NaN, infinite or missing (`null`).
    NonFiniteSlope {
        /// The file, if any.
        path: Option<PathBuf>,
        /// The layer (from 0).
        layer: usize,
    },
    /// A weight or bias that is NaN, infinite or missing (`null`).
    NonFinite {
        /// The file, if any.
        path: Option<PathBuf>,
        /// The layer (from 0).
        layer: usize,
        /// The neuron within the layer (from 0).
        neuron: usize,
        /// The weight's input index, or `None` for the bias.
        weight: Option<usize>,
    },
}

fn place(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map_or_else(|| "model JSON".to_owned(), |p| p.display().to_string())
}

impl fmt::Display for PersistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PersistError::Io { path, source } => {
                write!(f, "{}: {source}", path.display())
            }
            PersistError::Json { path, message } => {
                write!(f, "{} is not a saved model: {message}", place(path))
            }
            PersistError::Format { path, message } => write!(
                f,
                "{}: {message}; expected format \"{FORMAT}\" version {VERSION}",
                place(path)
            ),
            PersistError::Shape {
                path,
                layer,
                message,
            } => write!(f, "{}: layer {layer}: {message}", place(path)),
            PersistError::UnknownActivation { path, layer, name } => write!(
                f,
                "{}: layer {layer}: unknown activation \"{name}\"; known ones are relu, \
                 tanh, sigmoid, leaky_relu (with a slope) and linear",
                place(path)
            ),
            PersistError::NonFiniteSlope { path, layer } => write!(
                f,
                "{}: layer {layer}: the leaky_relu slope is not a finite number",
                place(path)
            ),
            PersistError::NonFinite {
                path,
                layer,
                neuron,
                weight,
            } => {
                let which = weight.map_or_else(|| "bias".to_owned(), |i| format!("weight {i}"));
                write!(
                    f,
                    "{}: layer {layer}, neuron {neuron}: {which} is not a finite number",
                    place(path)
                )
            }
        }
    }
}

impl Error for PersistError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            PersistError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn parse_activation(name: &str, slope: Option<f64>) -> Option<Activation> {
    match (name, slope) {
        ("relu", None) => Some(Activation::Relu),
        ("tanh", None) => Some(Activation::Tanh),
        ("sigmoid", None) => Some(Activation::Sigmoid),
        ("linear", None) => Some(Activation::Linear),
        ("leaky_relu", Some(s)) if s.is_finite() => Some(Activation::LeakyRelu(s)),
        _ => None,
    }
}

impl Mlp {
    /// The model as JSON text (see the module docs for the format).
    ///
    /// # Errors
    ///
    /// [`PersistError::NonFinite`] if a weight or bias is NaN or infinite, and
    /// [`PersistError::NonFiniteSlope`] if a leaky ReLU's slope is: JSON cannot hold
    /// such a number, and the model would not load again.
    ///
    /// ```
    /// use rand::{rngs::StdRng, SeedableRng};
    /// use scalargrad::nn::{Mlp, Module};
    /// let model = Mlp::new(2, &[3, 1], &mut StdRng::seed_from_u64(0));
    /// let copy = Mlp::from_json(&model.to_json()?)?;
    /// assert_eq!(copy.parameter_values(), model.parameter_values());
    /// # Ok::<(), scalargrad::nn::PersistError>(())
    /// ```
    pub fn to_json(&self) -> Result<String, PersistError> {
        self.to_json_at(None)
    }

    /// [`Mlp::to_json`], with `path` (the file it is for, if any) in its errors, as
    /// [`Mlp::from_json_at`] does for reading.
    fn to_json_at(&self, path: Option<&Path>) -> Result<String, PersistError> {
        let path = path.map(Path::to_path_buf);
        let mut layers = Vec::with_capacity(self.layers().len());
        for (l, layer) in self.layers().iter().enumerate() {
            let non_finite = |neuron, weight| PersistError::NonFinite {
                path: path.clone(),
                layer: l,
                neuron,
                weight,
            };
            let mut weights = Vec::with_capacity(layer.neurons().len());
            let mut biases = Vec::with_capacity(layer.neurons().len());
            for (n, neuron) in layer.neurons().iter().enumerate() {
                let mut row = Vec::with_capacity(neuron.weights().len());
                for (i, w) in neuron.weights().iter().enumerate() {
                    if !w.data().is_finite() {
                        return Err(non_finite(n, Some(i)));
                    }
                    row.push(Some(w.data()));
                }
                if !neuron.bias().data().is_finite() {
                    return Err(non_finite(n, None));
                }
                weights.push(row);
                biases.push(Some(neuron.bias().data()));
            }
            let activation = layer.activation();
            if matches!(activation, Activation::LeakyRelu(s) if !s.is_finite()) {
                return Err(PersistError::NonFiniteSlope {
                    path: path.clone(),
                    layer: l,
                });
            }
            layers.push(SavedLayer {
                activation: activation.name().to_owned(),
                slope: match activation {
                    Activation::LeakyRelu(s) => Some(s),
                    _ => None,
                },
                weights,
                biases,
            });
        }
        let saved = SavedMlp {
            format: FORMAT.to_owned(),
            version: VERSION,
            inputs: self.nin(),
            layers,
        };
        Ok(serde_json::to_string_pretty(&saved).expect("a model of finite numbers serialises"))
    }

    /// Reads a model from JSON text made by [`Mlp::to_json`] or [`Mlp::save`].
    ///
    /// # Errors
    ///
    /// A [`PersistError`] naming the problem and where it is: invalid JSON, another
    /// format or version, layer shapes that do not fit, an unknown activation, a leaky
    /// ReLU without a finite slope ([`PersistError::NonFiniteSlope`]), or a weight
    /// that is not a finite number.
    pub fn from_json(json: &str) -> Result<Mlp, PersistError> {
        Mlp::from_json_at(json, None)
    }

    fn from_json_at(json: &str, path: Option<&Path>) -> Result<Mlp, PersistError> {
        let path = path.map(Path::to_path_buf);
        let saved: SavedMlp = serde_json::from_str(json).map_err(|e| PersistError::Json {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if saved.format != FORMAT || saved.version != VERSION {
            return Err(PersistError::Format {
                path,
                message: format!(
                    "found format \"{}\" version {}",
                    saved.format, saved.version
                ),
            });
        }
        if saved.layers.is_empty() || saved.inputs == 0 {
            return Err(PersistError::Shape {
                path,
                layer: 0,
                message: format!(
                    "a model needs inputs and layers, found {} inputs and {} layers",
                    saved.inputs,
                    saved.layers.len()
                ),
            });
        }
        let mut layers = Vec::with_capacity(saved.layers.len());
        let mut width = saved.inputs;
        for (l, layer) in saved.layers.iter().enumerate() {
            let shape = |message: String| PersistError::Shape {
                path: path.clone(),
                layer: l,
                message,
            };
            // JSON has no NaN or infinity: writers put `null` for them, or leave them out.
            if layer.activation == "leaky_relu" && !layer.slope.is_some_and(f64::is_finite) {
                return Err(PersistError::NonFiniteSlope {
                    path: path.clone(),
                    layer: l,
                });
            }
            let activation = parse_activation(&layer.activation, layer.slope).ok_or_else(|| {
                PersistError::UnknownActivation {
                    path: path.clone(),
                    layer: l,
                    name: match layer.slope {
                        Some(s) => format!("{} (slope {s})", layer.activation),
                        None => layer.activation.clone(),
                    },
                }
            })?;
            if layer.weights.is_empty() {
                return Err(shape("no neurons".into()));
            }
            if layer.biases.len() != layer.weights.len() {
                return Err(shape(format!(
                    "{} weight rows but {} biases",
                    layer.weights.len(),
                    layer.biases.len()
                )));
            }
            let mut neurons = Vec::with_capacity(layer.weights.len());
            for (n, (row, bias)) in layer.weights.iter().zip(&layer.biases).enumerate() {
                if row.len() != width {
                    return Err(shape(format!(
                        "neuron {n} has {} weights but the layer's input has {width} values",
                        row.len()
                    )));
                }
                let non_finite = |weight| PersistError::NonFinite {
                    path: path.clone(),
                    layer: l,
                    neuron: n,
                    weight,
                };
                let mut weights = Vec::with_capacity(row.len());
                for (i, w) in row.iter().enumerate() {
                    match w {
                        Some(w) if w.is_finite() => weights.push(*w),
                        _ => return Err(non_finite(Some(i))),
                    }
                }
                let bias = match bias {
                    Some(b) if b.is_finite() => *b,
                    _ => return Err(non_finite(None)),
                };
                neurons.push(Neuron::from_weights(&weights, bias, activation));
            }
            width = neurons.len();
            layers.push(Layer::from_neurons(neurons));
        }
        Ok(Mlp::from_layers(layers))
    }

    /// Saves the model to `path` as JSON, atomically: the data goes to a temporary file
    /// in the same folder, which replaces `path` only once fully written and synced.
    ///
    /// # Errors
    ///
    /// [`PersistError::NonFinite`] for a NaN or infinite weight,
    /// [`PersistError::NonFiniteSlope`] for a leaky ReLU's, or [`PersistError::Io`] if
    /// the file cannot be written. In every case, an existing file at `path` is left as
    /// it was.
    ///
    /// ```no_run
    /// # use rand::{rngs::StdRng, SeedableRng};
    /// # use scalargrad::nn::Mlp;
    /// let model = Mlp::new(2, &[16, 16, 1], &mut StdRng::seed_from_u64(0));
    /// model.save("moons.json")?;
    /// let again = Mlp::load("moons.json")?;
    /// assert_eq!(again.sizes(), vec![16, 16, 1]);
    /// # Ok::<(), scalargrad::nn::PersistError>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PersistError> {
        let path = path.as_ref();
        let json = self.to_json_at(Some(path))?;
        write_atomically(path, json.as_bytes()).map_err(|source| PersistError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Loads a model saved with [`Mlp::save`].
    ///
    /// # Errors
    ///
    /// [`PersistError::Io`] for a missing or unreadable file, otherwise as
    /// [`Mlp::from_json`], naming the file.
    pub fn load(path: impl AsRef<Path>) -> Result<Mlp, PersistError> {
        let path = path.as_ref();
        let json = fs::read_to_string(path).map_err(|source| PersistError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Mlp::from_json_at(&json, Some(path))
    }
}

/// Writes `bytes` to a temporary sibling of `path`, syncs it, and renames it over
/// `path`; on any failure the temporary file is removed and `path` is untouched.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file")
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
