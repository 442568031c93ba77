//! Label selectors (the full grammar of `k8s.io/apimachinery/pkg/labels`) and the simple
//! field selectors the emulator supports.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::validate::{validate_label_key, validate_label_value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Equals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub op: Op,
    pub values: Vec<String>,
}

/// A parsed label selector: all requirements must match (logical AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pub requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Eq,       // =
    DoubleEq, // ==
    NotEq,    // !=
    Bang,     // !
    In,
    NotIn,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
    End,
}

impl Tok {
    fn lit(&self) -> String {
        match self {
            Tok::Ident(s) => s.clone(),
            Tok::Eq => "=".into(),
            Tok::DoubleEq => "==".into(),
            Tok::NotEq => "!=".into(),
            Tok::Bang => "!".into(),
            Tok::In => "in".into(),
            Tok::NotIn => "notin".into(),
            Tok::Gt => ">".into(),
            Tok::Lt => "<".into(),
            Tok::Open => "(".into(),
            Tok::Close => ")".into(),
            Tok::Comma => ",".into(),
            Tok::End => "".into(),
        }
    }
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

fn lex(s: &str) -> Vec<Tok> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if is_special(c) {
            // longest valid operator, like the upstream lexer
            let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let (tok, n) = match two.as_str() {
                "==" => (Tok::DoubleEq, 2),
                "!=" => (Tok::NotEq, 2),
                _ => (
                    match c {
                        '=' => Tok::Eq,
                        '!' => Tok::Bang,
                        '(' => Tok::Open,
                        ')' => Tok::Close,
                        ',' => Tok::Comma,
                        '>' => Tok::Gt,
                        _ => Tok::Lt,
                    },
                    1,
                ),
            };
            out.push(tok);
            i += n;
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && !is_special(chars[i]) {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        out.push(match word.as_str() {
            "in" => Tok::In,
            "notin" => Tok::NotIn,
            _ => Tok::Ident(word),
        });
    }
    out.push(Tok::End);
    out
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).unwrap_or(&Tok::End)
    }
    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        let mut negated = false;
        if *self.peek() == Tok::Bang {
            self.next();
            negated = true;
        }
        let key = match self.next() {
            Tok::Ident(k) => k,
            t => return Err(format!("found '{}', expected: identifier", t.lit())),
        };
        validate_label_key(&key)?;
        if negated {
            return match self.peek() {
                Tok::End | Tok::Comma => Ok(Requirement { key, op: Op::DoesNotExist, values: vec![] }),
                t => Err(format!("found '{}', expected: ',' or 'end of string'", t.lit())),
            };
        }
        let op = match self.peek().clone() {
            Tok::End | Tok::Comma => return Ok(Requirement { key, op: Op::Exists, values: vec![] }),
            Tok::Eq | Tok::DoubleEq => Op::Equals,
            Tok::NotEq => Op::NotEquals,
            Tok::In => Op::In,
            Tok::NotIn => Op::NotIn,
            Tok::Gt => Op::Gt,
            Tok::Lt => Op::Lt,
            t => {
                return Err(format!("found '{}', expected: !=, =, ==, >, <, in, notin", t.lit()));
            }
        };
        self.next();
        let values = match op {
            Op::In | Op::NotIn => self.set_values()?,
            _ => match self.next() {
                Tok::Ident(v) => vec![v],
                // an empty value is legal: `a=` or `a=,b`
                Tok::End => {
                    self.pos -= 1;
                    vec![String::new()]
                }
                Tok::Comma => {
                    self.pos -= 1;
                    vec![String::new()]
                }
                // keywords are valid values
                Tok::In => vec!["in".into()],
                Tok::NotIn => vec!["notin".into()],
                t => return Err(format!("found '{}', expected: identifier", t.lit())),
            },
        };
        for v in &values {
            if matches!(op, Op::Gt | Op::Lt) {
                if v.parse::<i64>().is_err() {
                    return Err(format!("for 'Gt', 'Lt' operators, the value must be an integer: {v}"));
                }
            } else {
                validate_label_value(v)?;
            }
        }
        Ok(Requirement { key, op, values })
    }

    fn set_values(&mut self) -> Result<Vec<String>, String> {
        match self.next() {
            Tok::Open => {}
            t => return Err(format!("found '{}', expected: '('", t.lit())),
        }
        let mut vals = Vec::new();
        loop {
            match self.next() {
                Tok::Ident(v) => vals.push(v),
                Tok::In => vals.push("in".into()),
                Tok::NotIn => vals.push("notin".into()),
                Tok::Close if vals.is_empty() => {
                    return Err("for 'in', 'notin' operators, values set can't be empty".into());
                }
                Tok::Comma => {
                    vals.push(String::new());
                    continue;
                }
                t => return Err(format!("found '{}', expected: ',', ')' or identifier", t.lit())),
            }
            match self.next() {
                Tok::Comma => continue,
                Tok::Close => break,
                t => return Err(format!("found '{}', expected: ',' or ')'", t.lit())),
            }
        }
        Ok(vals)
    }
}

impl LabelSelector {
    /// Parses a selector string. The error is the message the server puts in its 400 Status.
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        let mut p = Parser { toks: lex(s), pos: 0 };
        let mut reqs = Vec::new();
        if *p.peek() == Tok::End {
            return Ok(LabelSelector::default());
        }
        loop {
            let r = p.requirement().map_err(|e| format!("unable to parse requirement: {e}"))?;
            reqs.push(r);
            match p.next() {
                Tok::End => break,
                Tok::Comma => {
                    if *p.peek() == Tok::End {
                        return Err("unable to parse requirement: found '', expected: identifier".into());
                    }
                }
                t => {
                    return Err(format!("unable to parse requirement: found '{}', expected: ',' or 'end of string'", t.lit()));
                }
            }
        }
        Ok(LabelSelector { requirements: reqs })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Matches against a label map given as a lookup function.
    pub fn matches_with<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.requirements.iter().all(|r| {
            let v = get(&r.key);
            match r.op {
                Op::Exists => v.is_some(),
                Op::DoesNotExist => v.is_none(),
                Op::Equals | Op::In => v.is_some_and(|v| r.values.iter().any(|x| x == v)),
                Op::NotEquals | Op::NotIn => v.is_none_or(|v| !r.values.iter().any(|x| x == v)),
                Op::Gt | Op::Lt => {
                    let (Some(v), Some(want)) =
                        (v.and_then(|v| v.parse::<i64>().ok()), r.values.first().and_then(|w| w.parse::<i64>().ok()))
                    else {
                        return false;
                    };
                    if r.op == Op::Gt { v > want } else { v < want }
                }
            }
        })
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_with(|k| labels.get(k).map(|s| s.as_str()))
    }
}

/// A field selector requirement (`field=value`, `field==value`, `field!=value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub value: String,
    pub negate: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    pub requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parses a field selector. `supported` lists the field paths accepted for the resource.
    pub fn parse(s: &str, supported: &[&str]) -> Result<FieldSelector, String> {
        let mut reqs = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, value, negate) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, v, false)
            } else {
                return Err(format!("invalid selector: '{s}'; can't understand '{part}'"));
            };
            let field = field.trim();
            if !supported.contains(&field) {
                return Err(format!("field label not supported: {field}"));
            }
            reqs.push(FieldRequirement { field: field.to_string(), value: value.trim().to_string(), negate });
        }
        Ok(FieldSelector { requirements: reqs })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Matches an object; `metadata.namespace` on cluster-scoped objects is "".
    pub fn matches(&self, obj: &Value) -> bool {
        self.requirements.iter().all(|r| {
            let mut cur = Some(obj);
            for seg in r.field.split('.') {
                cur = cur.and_then(|c| c.get(seg));
            }
            let actual = match cur {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            (actual == r.value) != r.negate
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn parses_all_operators() {
        let s = LabelSelector::parse("a=1,b==2,c!=3,d in (x, y),e notin (z),f,!g,h>5,i<2").unwrap();
        let ops: Vec<Op> = s.requirements.iter().map(|r| r.op.clone()).collect();
        assert_eq!(ops, vec![Op::Equals, Op::Equals, Op::NotEquals, Op::In, Op::NotIn, Op::Exists, Op::DoesNotExist, Op::Gt, Op::Lt]);
        assert_eq!(s.requirements[3].values, vec!["x", "y"]);
        let m = labels(&[("a", "1"), ("b", "2"), ("c", "4"), ("d", "y"), ("e", "q"), ("f", ""), ("h", "6"), ("i", "1")]);
        assert!(s.matches(&m));
        let mut m2 = m.clone();
        m2.insert("g".into(), "x".into());
        assert!(!s.matches(&m2));
    }

    #[test]
    fn captured_bad_selector_message() {
        assert_eq!(LabelSelector::parse("app===x").unwrap_err(), "unable to parse requirement: found '=', expected: identifier");
    }

    #[test]
    fn bad_syntax() {
        assert!(LabelSelector::parse("a in x").is_err());
        assert!(LabelSelector::parse("a in ()").is_err());
        assert!(LabelSelector::parse("a,").is_err());
        assert!(LabelSelector::parse("=x").is_err());
        assert!(LabelSelector::parse("a b").is_err());
        assert!(LabelSelector::parse("a=b c").is_err());
        assert!(LabelSelector::parse("a>x").is_err());
        assert!(LabelSelector::parse("Bad Key=1").is_err());
        assert!(LabelSelector::parse("k=bad value!").is_err());
    }

    #[test]
    fn empty_and_special_values() {
        assert!(LabelSelector::parse("").unwrap().is_empty());
        assert!(LabelSelector::parse("  ").unwrap().is_empty());
        let s = LabelSelector::parse("a=").unwrap();
        assert!(s.matches(&labels(&[("a", "")])));
        assert!(!s.matches(&labels(&[])));
        let s = LabelSelector::parse("app.kubernetes.io/managed-by=Helm").unwrap();
        assert!(s.matches(&labels(&[("app.kubernetes.io/managed-by", "Helm")])));
    }

    #[test]
    fn not_semantics_match_missing() {
        let s = LabelSelector::parse("a!=1,b notin (x)").unwrap();
        assert!(s.matches(&labels(&[])));
        assert!(!s.matches(&labels(&[("a", "1")])));
        assert!(!s.matches(&labels(&[("b", "x")])));
    }

    #[test]
    fn field_selectors() {
        let sup = ["metadata.name", "metadata.namespace"];
        let f = FieldSelector::parse("metadata.name=a,metadata.namespace!=b", &sup).unwrap();
        let o = serde_json::json!({"metadata": {"name": "a", "namespace": "c"}});
        assert!(f.matches(&o));
        let o2 = serde_json::json!({"metadata": {"name": "a", "namespace": "b"}});
        assert!(!f.matches(&o2));
        assert_eq!(FieldSelector::parse("spec.x=1", &sup).unwrap_err(), "field label not supported: spec.x");
        assert!(FieldSelector::parse("metadata.name", &sup).is_err());
        assert!(FieldSelector::parse("metadata.name==a", &sup).unwrap().matches(&o));
    }
}
