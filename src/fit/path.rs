//! Paths into a parsed TOML spec: `model.effective_mass`, `model.hoppings[0].t`.
//!
//! A path is keys joined by `.`; `[i]` after a key indexes an array (of tables or of
//! numbers). The value a path names must be a number (integer or float); setting it always
//! writes a float, so `t = 0` may be fitted.

use crate::{Error, Result};
use toml::Value;

/// One step of a path.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

fn parse(path: &str) -> Result<Vec<Step>> {
    let bad = |m: &str| Error::invalid(format!("fit parameter path '{path}': {m}"));
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() {
            return Err(bad(
                "an empty key (write keys joined by '.', like model.effective_mass)",
            ));
        }
        steps.push(Step::Key(key.to_string()));
        while !rest.is_empty() {
            let close = rest
                .find(']')
                .filter(|_| rest.starts_with('['))
                .ok_or_else(|| bad("an index must be written [i] after a key"))?;
            let index = rest[1..close]
                .trim()
                .parse::<usize>()
                .map_err(|_| bad("an index must be a whole number >= 0"))?;
            steps.push(Step::Index(index));
            rest = &rest[close + 1..];
        }
    }
    Ok(steps)
}

fn walk<'a>(root: &'a mut Value, path: &str) -> Result<&'a mut Value> {
    let mut at = root;
    for step in parse(path)? {
        let missing = |what: String| Error::invalid(format!("fit parameter path '{path}': {what}"));
        at = match step {
            Step::Key(k) => match at {
                Value::Table(t) => t
                    .get_mut(&k)
                    .ok_or_else(|| missing(format!("the spec has no key '{k}' there")))?,
                _ => {
                    return Err(missing(format!(
                        "'{k}' is looked up in something not a table"
                    )));
                }
            },
            Step::Index(i) => match at {
                Value::Array(a) => {
                    let n = a.len();
                    a.get_mut(i)
                        .ok_or_else(|| missing(format!("index {i} is past the {n} entries")))?
                }
                _ => return Err(missing(format!("[{i}] indexes something not an array"))),
            },
        };
    }
    Ok(at)
}

/// The number at `path` in `root`.
pub fn get(root: &Value, path: &str) -> Result<f64> {
    let mut copy = root.clone();
    match walk(&mut copy, path)? {
        Value::Float(x) => Ok(*x),
        Value::Integer(i) => Ok(*i as f64),
        other => Err(Error::invalid(format!(
            "fit parameter path '{path}' names a {}, not a number (a complex amplitude [re, im] \
             is fitted part by part: '{path}[0]', '{path}[1]')",
            other.type_str()
        ))),
    }
}

/// Writes `value` at `path` in `root` (the path must exist and hold a number).
pub fn set(root: &mut Value, path: &str, value: f64) -> Result<()> {
    get(root, path)?;
    *walk(root, path)? = Value::Float(value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Value {
        toml::from_str(
            "energy_ev = 0.1\n[model]\nkind = \"tight-binding\"\nhoppings = [\n  { to = 0, \
             from = 0, cell = [0, 0], t = 0 },\n  { to = 0, from = 0, cell = [1, 0], t = [-0.25, \
             0.1] },\n]\n",
        )
        .unwrap()
    }

    #[test]
    fn get_and_set_keys_tables_and_indices() {
        let mut v = spec();
        assert_eq!(get(&v, "energy_ev").unwrap(), 0.1);
        assert_eq!(get(&v, "model.hoppings[0].t").unwrap(), 0.0);
        assert_eq!(get(&v, "model.hoppings[1].t[1]").unwrap(), 0.1);
        set(&mut v, "model.hoppings[0].t", 0.05).unwrap();
        set(&mut v, "model.hoppings[1].t[0]", -0.3).unwrap();
        assert_eq!(get(&v, "model.hoppings[0].t").unwrap(), 0.05);
        assert_eq!(get(&v, "model.hoppings[1].t[0]").unwrap(), -0.3);
        assert_eq!(get(&v, "model.hoppings[1].cell[0]").unwrap(), 1.0);
    }

    #[test]
    fn bad_paths_say_what_is_wrong() {
        let mut v = spec();
        let msg = |r: Result<f64>| r.unwrap_err().to_string();
        assert!(msg(get(&v, "model.mass")).contains("no key 'mass'"));
        assert!(msg(get(&v, "model.hoppings[2].t")).contains("past the 2 entries"));
        assert!(msg(get(&v, "model.kind")).contains("not a number"));
        assert!(msg(get(&v, "model.hoppings[1].t")).contains("part by part"));
        assert!(msg(get(&v, "model..kind")).contains("empty key"));
        assert!(msg(get(&v, "model.hoppings[x].t")).contains("whole number"));
        assert!(set(&mut v, "model.kind", 1.0).is_err());
    }
}
