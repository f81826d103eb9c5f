//! Scenario parameters: what each accepts, and validation of what a user sent.
//!
//! Validation is strict: unknown names, wrong types and values outside the bounds are errors
//! that name the parameter and its allowed range, so the dashboard can show them as they are.

use std::collections::BTreeMap;

use serde::Serialize;

/// What values a parameter takes.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ParamKind {
    Int { default: i64, min: i64, max: i64 },
    Bool { default: bool },
    Choice { default: &'static str, choices: &'static [&'static str] },
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct ParamSpec {
    pub name: &'static str,
    #[serde(flatten)]
    pub kind: ParamKind,
    /// One line for the form: what the parameter changes.
    pub help: &'static str,
}

impl ParamSpec {
    pub const fn int(name: &'static str, default: i64, min: i64, max: i64, help: &'static str) -> ParamSpec {
        ParamSpec { name, kind: ParamKind::Int { default, min, max }, help }
    }

    pub const fn bool(name: &'static str, default: bool, help: &'static str) -> ParamSpec {
        ParamSpec { name, kind: ParamKind::Bool { default }, help }
    }

    pub const fn choice(
        name: &'static str,
        default: &'static str,
        choices: &'static [&'static str],
        help: &'static str,
    ) -> ParamSpec {
        ParamSpec { name, kind: ParamKind::Choice { default, choices }, help }
    }

    fn default_value(&self) -> ParamValue {
        match self.kind {
            ParamKind::Int { default, .. } => ParamValue::Int(default),
            ParamKind::Bool { default } => ParamValue::Bool(default),
            ParamKind::Choice { default, .. } => ParamValue::Choice(default),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    Int(i64),
    Bool(bool),
    Choice(&'static str),
}

/// A parameter the user sent that the scenario does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("unknown parameter `{name}`; this scenario takes: {known}")]
    Unknown { name: String, known: String },
    #[error("parameter `{name}` must be an integer from {min} to {max}, got {got}")]
    OutOfRange { name: String, min: i64, max: i64, got: String },
    #[error("parameter `{name}` must be true or false, got {got}")]
    NotBool { name: String, got: String },
    #[error("parameter `{name}` must be one of {choices}, got {got}")]
    NotAChoice { name: String, choices: String, got: String },
    #[error("parameters must be a JSON object of name: value, got {got}")]
    NotAnObject { got: String },
}

/// Validated parameters: every spec'd parameter has a value (the default when not given).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Params(BTreeMap<&'static str, ParamValue>);

impl Params {
    /// Validates `given` (a JSON object, or null for all defaults) against `specs`.
    pub fn validate(specs: &'static [ParamSpec], given: &serde_json::Value) -> Result<Params, ParamError> {
        let empty = serde_json::Map::new();
        let given = match given {
            serde_json::Value::Null => &empty,
            serde_json::Value::Object(map) => map,
            other => return Err(ParamError::NotAnObject { got: truncate(other.to_string()) }),
        };
        for name in given.keys() {
            if !specs.iter().any(|s| s.name == name) {
                let known = specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", ");
                let known = if known.is_empty() { "no parameters".to_owned() } else { known };
                return Err(ParamError::Unknown { name: truncate(name.clone()), known });
            }
        }
        let mut out = BTreeMap::new();
        for spec in specs {
            let value = match given.get(spec.name) {
                None => spec.default_value(),
                Some(v) => parse_one(spec, v)?,
            };
            out.insert(spec.name, value);
        }
        Ok(Params(out))
    }

    /// Parses `name=value` pairs from the command line (values as JSON, or bare strings).
    pub fn from_pairs(specs: &'static [ParamSpec], pairs: &[(String, String)]) -> Result<Params, ParamError> {
        let mut map = serde_json::Map::new();
        for (k, v) in pairs {
            let value = serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.clone()));
            map.insert(k.clone(), value);
        }
        Params::validate(specs, &serde_json::Value::Object(map))
    }

    /// The defaults of every parameter.
    pub fn defaults(specs: &'static [ParamSpec]) -> Params {
        Params::validate(specs, &serde_json::Value::Null).expect("defaults are within their own bounds")
    }

    /// An integer parameter. Panics if the scenario asks for one it did not declare: that is
    /// a bug in the scenario, caught by its test.
    pub fn int(&self, name: &str) -> i64 {
        match self.0.get(name) {
            Some(ParamValue::Int(v)) => *v,
            other => panic!("scenario bug: integer parameter `{name}` not declared (found {other:?})"),
        }
    }

    pub fn usize(&self, name: &str) -> usize {
        self.int(name).max(0) as usize
    }

    pub fn bool(&self, name: &str) -> bool {
        match self.0.get(name) {
            Some(ParamValue::Bool(v)) => *v,
            other => panic!("scenario bug: bool parameter `{name}` not declared (found {other:?})"),
        }
    }

    pub fn choice(&self, name: &str) -> &'static str {
        match self.0.get(name) {
            Some(ParamValue::Choice(v)) => v,
            other => panic!("scenario bug: choice parameter `{name}` not declared (found {other:?})"),
        }
    }

    /// Overrides one value (tests use it to shrink a scenario); the value is validated.
    pub fn with(
        mut self,
        specs: &'static [ParamSpec],
        name: &str,
        value: serde_json::Value,
    ) -> Result<Params, ParamError> {
        let spec = specs.iter().find(|s| s.name == name).ok_or_else(|| ParamError::Unknown {
            name: name.to_owned(),
            known: specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
        })?;
        let v = parse_one(spec, &value)?;
        self.0.insert(spec.name, v);
        Ok(self)
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.0).expect("params serialize")
    }
}

fn truncate(mut s: String) -> String {
    if s.len() > 80 {
        let mut cut = 80;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

fn parse_one(spec: &ParamSpec, v: &serde_json::Value) -> Result<ParamValue, ParamError> {
    let got = || truncate(v.to_string());
    match spec.kind {
        ParamKind::Int { min, max, .. } => {
            let n = v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
            match n {
                Some(n) if (min..=max).contains(&n) => Ok(ParamValue::Int(n)),
                _ => Err(ParamError::OutOfRange { name: spec.name.to_owned(), min, max, got: got() }),
            }
        }
        ParamKind::Bool { .. } => match v {
            serde_json::Value::Bool(b) => Ok(ParamValue::Bool(*b)),
            serde_json::Value::String(s) if s == "true" || s == "false" => Ok(ParamValue::Bool(s == "true")),
            _ => Err(ParamError::NotBool { name: spec.name.to_owned(), got: got() }),
        },
        ParamKind::Choice { choices, .. } => {
            let s = v.as_str().unwrap_or("");
            match choices.iter().find(|c| **c == s) {
                Some(c) => Ok(ParamValue::Choice(c)),
                None => {
                    Err(ParamError::NotAChoice { name: spec.name.to_owned(), choices: choices.join(", "), got: got() })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    static SPECS: &[ParamSpec] = &[
        ParamSpec::int("tasks", 4, 1, 100, "how many"),
        ParamSpec::bool("fixed", false, "use the fix"),
        ParamSpec::choice("flavor", "multi_thread", &["current_thread", "multi_thread"], "runtime"),
    ];

    #[test]
    fn defaults_fill_in() {
        let p = Params::validate(SPECS, &json!({"tasks": 7})).unwrap();
        assert_eq!(p.int("tasks"), 7);
        assert!(!p.bool("fixed"));
        assert_eq!(p.choice("flavor"), "multi_thread");
    }

    #[test]
    fn errors_name_the_parameter_and_its_range() {
        let e = Params::validate(SPECS, &json!({"tasks": 1000})).unwrap_err();
        assert_eq!(e.to_string(), "parameter `tasks` must be an integer from 1 to 100, got 1000");
        let e = Params::validate(SPECS, &json!({"task": 1})).unwrap_err();
        assert!(e.to_string().contains("unknown parameter `task`"), "{e}");
        let e = Params::validate(SPECS, &json!({"fixed": 1})).unwrap_err();
        assert!(e.to_string().contains("`fixed` must be true or false"), "{e}");
        let e = Params::validate(SPECS, &json!({"flavor": "x"})).unwrap_err();
        assert!(e.to_string().contains("one of current_thread, multi_thread"), "{e}");
        let e = Params::validate(SPECS, &json!([1])).unwrap_err();
        assert!(matches!(e, ParamError::NotAnObject { .. }));
        let e = Params::validate(SPECS, &json!({"tasks": 2.5})).unwrap_err();
        assert!(matches!(e, ParamError::OutOfRange { .. }));
    }

    #[test]
    fn pairs_from_the_command_line() {
        let pairs = vec![("tasks".to_owned(), "9".to_owned()), ("flavor".to_owned(), "current_thread".to_owned())];
        let p = Params::from_pairs(SPECS, &pairs).unwrap();
        assert_eq!(p.int("tasks"), 9);
        assert_eq!(p.choice("flavor"), "current_thread");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(2, 8, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("(tasks|fixed|flavor|[a-z]{1,6})", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    static SPECS: &[ParamSpec] = &[
        ParamSpec::int("tasks", 4, 1, 100, "how many"),
        ParamSpec::bool("fixed", false, "use the fix"),
        ParamSpec::choice("flavor", "multi_thread", &["current_thread", "multi_thread"], "runtime"),
    ];

    proptest! {
        /// Whatever a client sends, validation answers without panicking, and what it accepts
        /// is within the bounds.
        #[test]
        fn accepted_params_are_always_within_bounds(given in json_value()) {
            if let Ok(p) = Params::validate(SPECS, &given) {
                prop_assert!((1..=100).contains(&p.int("tasks")));
                prop_assert!(["current_thread", "multi_thread"].contains(&p.choice("flavor")));
                let _ = p.bool("fixed");
            }
        }

        #[test]
        fn every_out_of_range_int_is_refused_naming_the_range(n in any::<i64>()) {
            let r = Params::validate(SPECS, &serde_json::json!({"tasks": n}));
            if (1..=100).contains(&n) {
                prop_assert!(r.is_ok());
            } else {
                let e = r.unwrap_err().to_string();
                prop_assert!(e.contains("`tasks`") && e.contains("from 1 to 100"));
            }
        }
    }
}
