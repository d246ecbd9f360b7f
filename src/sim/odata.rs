//! The simulator's own strict parser for `$filter` and `$select`, and the dialects that say which
//! properties a collection honours. Intune's dialect ignores what Intune ignores (unsupported
//! properties match everything, `startswith` acts like `contains`, only the first `or` clause
//! counts, `userPrincipalName eq ''` matches all: docs/graph.md §2.4); malformed literals are a 400.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Date(DateTime<Utc>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    /// `has` (enum flags): treated as a case-insensitive substring test.
    Has,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp {
        prop: String,
        op: Op,
        lit: Lit,
    },
    Func {
        name: String,
        prop: String,
        arg: String,
    },
}

/// Which properties a collection filters on, and whether Intune's quirks apply.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    pub supported: &'static [&'static str],
    pub intune_quirks: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    Comma,
    Str(String),
    Word(String),
}

/// A `$filter` problem, with the character position it was found at.
pub fn parse_filter(src: &str) -> Result<Expr, String> {
    let toks = tokenize(src)?;
    let mut p = Parser { toks, pos: 0 };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err(format!(
            "Invalid $filter: unexpected {:?} after the expression",
            p.toks[p.pos].1
        ));
    }
    Ok(e)
}

fn tokenize(src: &str) -> Result<Vec<(usize, Tok)>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => i += 1,
            '(' => (out.push((i, Tok::Open)), i += 1).1,
            ')' => (out.push((i, Tok::Close)), i += 1).1,
            ',' => (out.push((i, Tok::Comma)), i += 1).1,
            '\'' => {
                let start = i;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(format!(
                                "Invalid $filter: unterminated string literal at position {start}"
                            ));
                        }
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push((start, Tok::Str(s)));
            }
            c if c.is_alphanumeric() || "/._:-+$@".contains(c) => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || "/._:-+$@".contains(chars[i]))
                {
                    i += 1;
                }
                out.push((start, Tok::Word(chars[start..i].iter().collect())));
            }
            other => {
                return Err(format!(
                    "Invalid $filter: unexpected character {other:?} at position {i}"
                ));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
}

impl Parser {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.pos), Some((_, Tok::Word(x))) if x.eq_ignore_ascii_case(w))
    }
    fn next(&mut self) -> Result<(usize, Tok), String> {
        let t = self
            .toks
            .get(self.pos)
            .cloned()
            .ok_or("Invalid $filter: unexpected end of expression")?;
        self.pos += 1;
        Ok(t)
    }
    fn expect(&mut self, t: Tok) -> Result<(), String> {
        let (at, got) = self.next()?;
        if got == t {
            Ok(())
        } else {
            Err(format!(
                "Invalid $filter: expected {t:?} at position {at}, found {got:?}"
            ))
        }
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut l = self.and()?;
        while self.peek_word("or") {
            self.pos += 1;
            l = Expr::Or(Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut l = self.unary()?;
        while self.peek_word("and") {
            self.pos += 1;
            l = Expr::And(Box::new(l), Box::new(self.unary()?));
        }
        Ok(l)
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek_word("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if matches!(self.toks.get(self.pos), Some((_, Tok::Open))) {
            self.pos += 1;
            let e = self.or()?;
            self.expect(Tok::Close)?;
            return Ok(e);
        }
        let (at, t) = self.next()?;
        let Tok::Word(name) = t else {
            return Err(format!(
                "Invalid $filter: expected a property at position {at}"
            ));
        };
        if matches!(self.toks.get(self.pos), Some((_, Tok::Open))) {
            self.pos += 1;
            let (pat, p) = self.next()?;
            let Tok::Word(prop) = p else {
                return Err(format!(
                    "Invalid $filter: expected a property at position {pat}"
                ));
            };
            self.expect(Tok::Comma)?;
            let (sat, s) = self.next()?;
            let Tok::Str(arg) = s else {
                return Err(format!(
                    "Invalid $filter: expected a string literal at position {sat}"
                ));
            };
            self.expect(Tok::Close)?;
            let name = name.to_ascii_lowercase();
            if !["contains", "startswith", "endswith"].contains(&name.as_str()) {
                return Err(format!(
                    "Invalid $filter: unknown function {name:?} at position {at}"
                ));
            }
            return Ok(Expr::Func { name, prop, arg });
        }
        let (oat, o) = self.next()?;
        let op = match o {
            Tok::Word(w) => match w.to_ascii_lowercase().as_str() {
                "eq" => Op::Eq,
                "ne" => Op::Ne,
                "gt" => Op::Gt,
                "ge" => Op::Ge,
                "lt" => Op::Lt,
                "le" => Op::Le,
                "has" => Op::Has,
                _ => {
                    return Err(format!(
                        "Invalid $filter: unknown operator {w:?} at position {oat}"
                    ));
                }
            },
            other => {
                return Err(format!(
                    "Invalid $filter: expected an operator at position {oat}, found {other:?}"
                ));
            }
        };
        let (lat, l) = self.next()?;
        let lit = match l {
            Tok::Str(s) => Lit::Str(s),
            Tok::Word(w) => literal(&w).ok_or_else(|| {
                format!("Invalid $filter: malformed literal {w:?} at position {lat}")
            })?,
            other => {
                return Err(format!(
                    "Invalid $filter: expected a literal at position {lat}, found {other:?}"
                ));
            }
        };
        Ok(Expr::Cmp {
            prop: name,
            op,
            lit,
        })
    }
}

fn literal(w: &str) -> Option<Lit> {
    match w {
        "true" => Some(Lit::Bool(true)),
        "false" => Some(Lit::Bool(false)),
        "null" => Some(Lit::Null),
        _ => w.parse::<f64>().ok().map(Lit::Num).or_else(|| {
            DateTime::parse_from_rfc3339(w)
                .ok()
                .map(|d| Lit::Date(d.with_timezone(&Utc)))
        }),
    }
}

/// Strict dialects refuse properties they do not know; Intune's ignores them.
pub fn validate(e: &Expr, d: &Dialect) -> Result<(), String> {
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => validate(a, d).and(validate(b, d)),
        Expr::Not(a) => validate(a, d),
        Expr::Cmp { prop, .. } | Expr::Func { prop, .. } => {
            if d.intune_quirks || d.supported.iter().any(|s| s.eq_ignore_ascii_case(prop)) {
                Ok(())
            } else {
                Err(format!(
                    "Invalid $filter: property '{prop}' is not supported for filtering"
                ))
            }
        }
    }
}

pub fn matches(e: &Expr, obj: &Value, d: &Dialect) -> bool {
    match e {
        Expr::And(a, b) => matches(a, obj, d) && matches(b, obj, d),
        Expr::Or(a, b) if d.intune_quirks => {
            let _ignored = b;
            matches(a, obj, d)
        }
        Expr::Or(a, b) => matches(a, obj, d) || matches(b, obj, d),
        Expr::Not(a) => !matches(a, obj, d),
        Expr::Cmp { prop, .. } | Expr::Func { prop, .. }
            if !d.supported.iter().any(|s| s.eq_ignore_ascii_case(prop)) =>
        {
            true
        }
        Expr::Cmp { prop, op, lit } => {
            let v = field(obj, prop);
            if d.intune_quirks
                && *op == Op::Eq
                && prop.eq_ignore_ascii_case("userPrincipalName")
                && *lit == Lit::Str(String::new())
            {
                return true;
            }
            compare(v, *op, lit)
        }
        Expr::Func { name, prop, arg } => {
            let hay = field(obj, prop)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_lowercase();
            let needle = arg.to_lowercase();
            match name.as_str() {
                "startswith" if !d.intune_quirks => hay.starts_with(&needle),
                "endswith" => hay.ends_with(&needle),
                _ => hay.contains(&needle),
            }
        }
    }
}

fn field<'a>(obj: &'a Value, prop: &str) -> Option<&'a Value> {
    obj.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(prop))
        .map(|(_, v)| v)
}

fn compare(v: Option<&Value>, op: Op, lit: &Lit) -> bool {
    use std::cmp::Ordering;
    if op == Op::Has {
        return matches!((v, lit), (Some(Value::String(s)), Lit::Str(l)) if s.to_lowercase().contains(&l.to_lowercase()));
    }
    let ord: Option<Ordering> = match (v, lit) {
        (None | Some(Value::Null), Lit::Null) => Some(Ordering::Equal),
        (None | Some(Value::Null), _) | (Some(_), Lit::Null) => None,
        (Some(Value::String(s)), Lit::Str(l)) => Some(s.to_lowercase().cmp(&l.to_lowercase())),
        (Some(Value::String(s)), Lit::Date(l)) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.with_timezone(&Utc).cmp(l)),
        (Some(Value::Number(n)), Lit::Num(l)) => n.as_f64().and_then(|n| n.partial_cmp(l)),
        (Some(Value::Bool(b)), Lit::Bool(l)) => Some(b.cmp(l)),
        _ => None,
    };
    match (op, ord) {
        (Op::Ne, None) => true,
        (_, None) => false,
        (Op::Eq, Some(o)) => o == Ordering::Equal,
        (Op::Ne, Some(o)) => o != Ordering::Equal,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        (Op::Has, Some(_)) => false,
    }
}

/// Parses `$select` against the entity's full property set; unknown names are an error naming
/// the property and the type.
pub fn parse_select(
    src: &str,
    entity: &Map<String, Value>,
    type_name: &str,
) -> Result<Vec<String>, String> {
    src.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            entity
                .keys()
                .find(|k| k.eq_ignore_ascii_case(s))
                .cloned()
                .ok_or_else(|| format!("Could not find a property named '{s}' on type 'microsoft.graph.{type_name}'."))
        })
        .collect()
}

/// Keeps only the selected properties.
pub fn apply_select(mut obj: Map<String, Value>, select: &[String]) -> Map<String, Value> {
    obj.retain(|k, _| select.iter().any(|s| s == k));
    obj
}

#[cfg(test)]
#[path = "odata_tests.rs"]
mod tests;
