//! `--set KEY=VALUE`: override any profile key from the command line. The sets are applied to
//! the profile's TOML document before it is parsed, so every key the profile knows can be set,
//! and each set is first checked on its own so that an error names the `--set` and the valid
//! choices rather than a line of a file the user never wrote.

use toml_edit::{DocumentMut, Item, Table, Value};

use crate::model::Diagram;

use super::profile::Profile;

/// One `--set KEY=VALUE`.
#[derive(Debug, Clone)]
pub struct Set {
    /// The key as written (`node.n4.service`).
    pub key: String,
    /// Its segments (`["node", "n4", "service"]`); `["rate"]` is `--rate`.
    pub path: Vec<String>,
    pub value: Value,
}

impl Set {
    /// The value as the report prints it: strings bare, everything else in TOML form.
    pub fn value_text(&self) -> String {
        match self.value.as_str() {
            Some(s) => s.to_string(),
            None => self.value.to_string().trim().to_string(),
        }
    }

    /// `--set rate=…` sets every source's rate, like `--rate`.
    pub fn is_rate(&self) -> bool {
        self.path.len() == 1 && self.path[0] == "rate"
    }

    /// Build a set from a key and a value.
    pub fn new(key: &str, value: Value) -> Result<Set, String> {
        Ok(Set {
            key: key.to_string(),
            path: parse_key(key)?,
            value,
        })
    }
}

const SHAPES: &str = "run.KEY, defaults.KEY, source.ID.KEY, node.ID.KEY, node.ID.branch.TARGET, edge.\"A->B\".KEY, loop.N.KEY, reads.KEY, host.cores, roles.ID, components.ID, or rate (every source, like --rate)";

/// The segments of a dotted key: TOML's dotted-key syntax (`edge."n5->n6".delay`), or, when
/// that does not parse, split at dots (`edge.n5->n6.delay`).
pub fn parse_key(key: &str) -> Result<Vec<String>, String> {
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("the key is empty; write {SHAPES}"));
    }
    let path = match format!("{key} = 0").parse::<DocumentMut>() {
        Ok(doc) => {
            let mut path = Vec::new();
            let mut t: &dyn toml_edit::TableLike = doc.as_table();
            loop {
                let mut it = t.iter();
                let Some((k, item)) = it.next() else { break };
                path.push(k.to_string());
                match item.as_table_like() {
                    Some(sub) => t = sub,
                    None => break,
                }
            }
            path
        }
        Err(_) => key.split('.').map(|s| s.trim().to_string()).collect(),
    };
    if path.iter().any(|s| s.is_empty()) {
        return Err(format!("`{key}` has an empty part; write {SHAPES}"));
    }
    let ok = match (path[0].as_str(), path.len()) {
        ("rate", 1) => true,
        ("run" | "host" | "defaults" | "reads" | "roles" | "components", 2) => true,
        ("source" | "node" | "edge" | "loop", 3) => true,
        ("node", 4) => path[2] == "branch",
        _ => false,
    };
    if !ok {
        return Err(format!("`{key}` is not a profile key; write {SHAPES}"));
    }
    Ok(path)
}

/// A value as TOML when it is one (`4`, `0.5`, `"exp(2ms)"`, `{ n4 = 0.8 }`), else the text
/// as a string (`exp(2ms)`, `30s`), so shells need no extra quoting.
pub fn parse_value(raw: &str) -> Value {
    let raw = raw.trim();
    if let Ok(doc) = format!("v = {raw}").parse::<DocumentMut>() {
        if let Some(v) = doc.get("v").and_then(Item::as_value) {
            if doc.as_table().len() == 1 {
                let mut v = v.clone();
                v.decor_mut().clear();
                return v;
            }
        }
    }
    Value::from(raw)
}

/// Parse one `--set KEY=VALUE`.
pub fn parse_set(arg: &str) -> Result<Set, String> {
    let (key, raw) = arg
        .split_once('=')
        .ok_or_else(|| format!("--set `{arg}`: write KEY=VALUE, e.g. node.n4.service=exp(2ms)"))?;
    let set = Set::new(key.trim(), parse_value(raw)).map_err(|e| format!("--set {arg}: {e}"))?;
    if !set.is_rate() {
        // Check the key and value on their own, so errors name the set.
        // Keys that only make sense with a companion get one here; whether the companion is
        // really there is checked on the whole profile.
        let mut alone = vec![set.clone()];
        let companion = match (set.path[0].as_str(), set.path.last().map(String::as_str)) {
            ("node", Some("per_item" | "per_key" | "interval")) => Some(("batch", Value::from(1))),
            ("source", Some("think")) => Some(("users", Value::from(1))),
            _ => None,
        };
        if let Some((k, v)) = companion {
            let mut path = set.path.clone();
            if let Some(last) = path.last_mut() {
                *last = k.to_string();
            }
            alone.insert(
                0,
                Set {
                    key: path.join("."),
                    path,
                    value: v,
                },
            );
        }
        let text = apply(None, &alone).map_err(|e| format!("--set {arg}: {e}"))?;
        if let Err(e) = Profile::parse("--set", &text) {
            return Err(format!("--set {arg}: {}", e.message));
        }
    }
    Ok(set)
}

fn table_mut<'t>(
    t: &'t mut dyn toml_edit::TableLike,
    key: &str,
    implicit: bool,
    path: &str,
) -> Result<&'t mut dyn toml_edit::TableLike, String> {
    if !t.contains_key(key) {
        let mut nt = Table::new();
        nt.set_implicit(implicit);
        t.insert(key, Item::Table(nt));
    }
    t.get_mut(key)
        .and_then(|i| i.as_table_like_mut())
        .ok_or_else(|| format!("the profile's `{path}` is not a table"))
}

/// The profile text with the sets applied (`text` = `None`: no profile file). `rate` sets are
/// left to the caller (they are `--rate`). Setting a source's `rate`, `interarrival` or
/// `users` replaces whichever of the three arrival processes the profile gave.
pub fn apply(text: Option<&str>, sets: &[Set]) -> Result<String, String> {
    let mut doc: DocumentMut = match text {
        None => DocumentMut::new(),
        Some(t) => t
            .parse()
            .map_err(|e: toml_edit::TomlError| format!("invalid TOML: {}", e.message()))?,
    };
    for set in sets.iter().filter(|s| !s.is_rate()) {
        let (leaf, parents) = match set.path.split_last() {
            Some(x) => x,
            None => continue,
        };
        let mut t: &mut dyn toml_edit::TableLike = doc.as_table_mut();
        let mut so_far = String::new();
        for (i, p) in parents.iter().enumerate() {
            if !so_far.is_empty() {
                so_far.push('.');
            }
            so_far.push_str(p);
            // `[node]` holding only `[node.n4]` is written implicitly, as people write it.
            let implicit = i == 0 && parents.len() > 1;
            t = table_mut(t, p, implicit, &so_far)?;
        }
        if set.path[0] == "source" {
            let clear: &[&str] = match leaf.as_str() {
                "rate" => &["interarrival", "users", "think"],
                "interarrival" => &["rate", "users", "think"],
                "users" => &["rate", "interarrival"],
                _ => &[],
            };
            for k in clear {
                t.remove(k);
            }
        }
        t.insert(leaf, Item::Value(set.value.clone()));
    }
    Ok(doc.to_string())
}

/// Check that the node ids a set names exist in the diagram.
pub fn check_ids(set: &Set, d: &Diagram) -> Result<(), String> {
    let ids: Vec<&str> = d.nodes().map(|(_, n)| n.id.as_str()).collect();
    let known = |id: &str| -> Result<(), String> {
        if ids.contains(&id) {
            Ok(())
        } else {
            Err(format!(
                "--set {}: no node `{id}` in the diagram; its nodes are {}",
                set.key,
                ids.join(", ")
            ))
        }
    };
    match set.path[0].as_str() {
        "source" | "node" | "roles" => known(&set.path[1])?,
        "edge" => {
            if let Some((a, b)) = set.path[1].split_once("->") {
                known(a.trim())?;
                known(b.trim())?;
            }
        }
        _ => {}
    }
    if set.path.len() == 4 {
        known(&set.path[3])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_values_and_application() {
        assert_eq!(
            parse_key("edge.\"n5->n6\".delay").unwrap(),
            ["edge", "n5->n6", "delay"]
        );
        assert_eq!(
            parse_key("edge.n5->n6.delay").unwrap(),
            ["edge", "n5->n6", "delay"]
        );
        assert!(parse_key("node.n4").unwrap_err().contains("node.ID.KEY"));
        assert_eq!(parse_value("4").as_integer(), Some(4));
        assert_eq!(parse_value("exp(2ms)").as_str(), Some("exp(2ms)"));
        assert_eq!(parse_value("\"exp(2ms)\"").as_str(), Some("exp(2ms)"));
        assert_eq!(parse_value("30s").as_str(), Some("30s"));
        let sets = [
            parse_set("node.n4.service=exp(2ms)").unwrap(),
            parse_set("source.n1.rate=2000").unwrap(),
            parse_set("run.duration=30s").unwrap(),
        ];
        let text = apply(
            Some("[source.n1]\ninterarrival = \"exp(1ms)\"\n[node.n4]\nservers = 2\n"),
            &sets,
        )
        .unwrap();
        let p = Profile::parse("x", &text).unwrap();
        assert_eq!(p.sources[0].rate, Some(2000.0));
        assert!(p.sources[0].interarrival.is_none());
        assert_eq!(p.nodes[0].servers, Some(2));
        assert!(p.nodes[0].service.is_some());
        assert_eq!(p.run.duration, Some(30_000_000_000));
        let e = parse_set("node.n4.speed=3").unwrap_err();
        assert!(e.contains("valid keys: service"), "{e}");
        let e = parse_set("node.n4.service=gamma(1)").unwrap_err();
        assert!(e.contains("erlang"), "{e}");
        assert!(parse_set("node.n4.service")
            .unwrap_err()
            .contains("KEY=VALUE"));
    }
}
