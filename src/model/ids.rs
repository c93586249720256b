//! Node id → node index lookup, fast for FlowZap's conventional `nK` ids.
//!
//! Ids of the form `nK` (no leading zero) are kept in a vector indexed by `K`, which is
//! compact and cache-friendly (edges mostly name nearby nodes); any other id, and `nK` with a
//! `K` far beyond the node count, goes to a hash map.

use rustc_hash::FxHashMap;

use super::diagram::NodeIx;

const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Default)]
pub(crate) struct NodeIds {
    numbered: Vec<u32>,
    other: FxHashMap<String, NodeIx>,
}

/// `K` of an `nK` id.
fn number(id: &str) -> Option<usize> {
    let digits = id.strip_prefix('n')?.as_bytes();
    if digits.is_empty() || digits.len() > 9 || digits[0] == b'0' {
        return None;
    }
    // At most 9 digits: no overflow.
    digits.iter().try_fold(0usize, |k, &b| {
        b.is_ascii_digit().then(|| k * 10 + (b - b'0') as usize)
    })
}

impl NodeIds {
    pub(crate) fn get(&self, id: &str) -> Option<NodeIx> {
        if let Some(k) = number(id) {
            if let Some(&ix) = self.numbered.get(k) {
                if ix != NONE {
                    return Some(NodeIx::new(ix as usize));
                }
            }
        }
        if self.other.is_empty() {
            return None;
        }
        self.other.get(id).copied()
    }

    /// Record `id`; the caller has checked it is not present.
    pub(crate) fn insert(&mut self, id: &str, ix: NodeIx, node_count: usize) {
        if let Some(k) = number(id) {
            if k <= node_count.saturating_mul(4) + 4096 {
                if k >= self.numbered.len() {
                    self.numbered.resize(k + 1, NONE);
                }
                self.numbered[k] = ix.index() as u32;
                return;
            }
        }
        self.other.insert(id.to_string(), ix);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_and_other_ids() {
        let mut ids = NodeIds::default();
        ids.insert("n3", NodeIx::new(0), 0);
        ids.insert("start", NodeIx::new(1), 1);
        ids.insert("n999999", NodeIx::new(2), 2);
        ids.insert("n03", NodeIx::new(3), 3);
        assert_eq!(ids.get("n3"), Some(NodeIx::new(0)));
        assert_eq!(ids.get("start"), Some(NodeIx::new(1)));
        assert_eq!(ids.get("n999999"), Some(NodeIx::new(2)));
        assert_eq!(ids.get("n03"), Some(NodeIx::new(3)));
        assert_eq!(ids.get("n2"), None);
        assert_eq!(ids.get("n"), None);
        assert_eq!(ids.get("n99999999999"), None);
    }
}
