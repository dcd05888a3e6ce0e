//! `BERTH_*` environment overrides onto the TOML document.
//!
//! May import: `config::error`.

use super::ConfigError;

/// Prefix of every override variable.
const PREFIX: &str = "BERTH_";

/// Variables that look like overrides but are read elsewhere.
const NOT_CONFIG: &[&str] = &["BERTH_LOG", "BERTH_LOG_FORMAT"];

/// A value set from the environment that was read as something other
/// than a string (`12345`, `true`): if its key wants a string after all
/// (a password of digits), the loader sets it again as the text it was.
pub(super) struct Typed {
    /// The key, dotted (`store.password`).
    pub(super) key: String,
    path: Vec<String>,
    raw: String,
}

impl Typed {
    /// Sets the key to its raw text.
    pub(super) fn as_text(&self, doc: &mut toml::Table) {
        let _ = set(doc, &self.path, toml::Value::String(self.raw.clone()));
    }
}

/// Applies `BERTH_A__B=v` as `a.b = v`; returns the values read as
/// something other than a string.
pub(super) fn apply_overrides<I>(doc: &mut toml::Table, env: I) -> Result<Vec<Typed>, ConfigError>
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(PREFIX) && !NOT_CONFIG.contains(&k.as_str()))
        .collect();
    vars.sort();
    let mut typed = Vec::new();
    for (var, value) in vars {
        let path: Vec<String> = var[PREFIX.len()..]
            .split("__")
            .map(|s| s.to_ascii_lowercase())
            .collect();
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::Env {
                var,
                message: "empty key segment; use `__` only between keys".into(),
            });
        }
        let parsed = parse_value(&value);
        if !parsed.is_str() {
            typed.push(Typed {
                key: path.join("."),
                path: path.clone(),
                raw: value.clone(),
            });
        }
        set(doc, &path, parsed).map_err(|message| ConfigError::Env {
            var: var.clone(),
            message,
        })?;
    }
    Ok(typed)
}

fn parse_value(raw: &str) -> toml::Value {
    // `v = <raw>` parses numbers, booleans, arrays and inline tables.
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn set(doc: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = path.split_last().expect("path is never empty");
    let mut table = doc;
    for (i, key) in parents.iter().enumerate() {
        let entry = table
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry.as_table_mut().ok_or_else(|| {
            format!(
                "`{}` is not a table, cannot set a key under it",
                path[..=i].join(".")
            )
        })?;
    }
    table.insert(last.clone(), value);
    Ok(())
}
