//! [`ConfigError`]: what is wrong with a configuration, naming the key.
//!
//! May import: nothing else in the crate.

/// A configuration problem, naming the offending key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// File path.
        path: String,
        /// OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax {
        /// File path.
        path: String,
        /// Parser message (with line and column).
        message: String,
    },
    /// A key has a bad value or is unknown.
    #[error("config key `{key}`: {message}")]
    Key {
        /// Dotted key path.
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A file a config key names could not be read or is unusable.
    #[error("config key `{key}`: cannot read {path}: {message}")]
    File {
        /// Config key.
        key: &'static str,
        /// Path.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// An environment override is malformed.
    #[error("environment variable {var}: {message}")]
    Env {
        /// Variable name.
        var: String,
        /// What is wrong.
        message: String,
    },
}
