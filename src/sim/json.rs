//! A small ordered JSON value: objects keep insertion order (node declaration order), floats
//! print through serde_json (shortest round-trip form), so output is byte-stable.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

#[derive(Debug, Clone, PartialEq)]
pub enum J {
    Null,
    Bool(bool),
    Num(f64),
    Int(u64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    pub fn obj() -> J {
        J::Obj(Vec::new())
    }

    /// Add a field (objects only).
    pub fn set(&mut self, k: impl Into<String>, v: impl Into<J>) -> &mut J {
        if let J::Obj(fields) = self {
            fields.push((k.into(), v.into()));
        }
        self
    }

    pub fn get(&self, k: &str) -> Option<&J> {
        match self {
            J::Obj(f) => f.iter().find(|(n, _)| n == k).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn to_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "null".into())
    }
}

impl From<f64> for J {
    fn from(x: f64) -> J {
        if x.is_finite() {
            J::Num(x)
        } else {
            J::Null
        }
    }
}
impl From<Option<f64>> for J {
    fn from(x: Option<f64>) -> J {
        x.map_or(J::Null, J::from)
    }
}
impl From<u64> for J {
    fn from(x: u64) -> J {
        J::Int(x)
    }
}
impl From<u32> for J {
    fn from(x: u32) -> J {
        J::Int(x as u64)
    }
}
impl From<bool> for J {
    fn from(x: bool) -> J {
        J::Bool(x)
    }
}
impl From<&str> for J {
    fn from(x: &str) -> J {
        J::Str(x.to_string())
    }
}
impl From<String> for J {
    fn from(x: String) -> J {
        J::Str(x)
    }
}
impl From<Option<[f64; 2]>> for J {
    fn from(x: Option<[f64; 2]>) -> J {
        x.map_or(J::Null, |[a, b]| J::Arr(vec![a.into(), b.into()]))
    }
}
impl From<Vec<J>> for J {
    fn from(x: Vec<J>) -> J {
        J::Arr(x)
    }
}

impl Serialize for J {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            J::Null => s.serialize_none(),
            J::Bool(b) => s.serialize_bool(*b),
            J::Num(x) => s.serialize_f64(*x),
            J::Int(i) => s.serialize_u64(*i),
            J::Str(t) => s.serialize_str(t),
            J::Arr(v) => {
                let mut seq = s.serialize_seq(Some(v.len()))?;
                for x in v {
                    seq.serialize_element(x)?;
                }
                seq.end()
            }
            J::Obj(f) => {
                let mut m = s.serialize_map(Some(f.len()))?;
                for (k, v) in f {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}
