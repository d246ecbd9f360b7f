//! Fault injection: latency, 5xx rate, dropped connections, throttling bursts, token lifetime,
//! scripted answers for chosen paths, and nextLinks that point at another origin.

use std::time::Duration;

use url::Url;

/// Answer the next `times` Graph requests (batch items included) whose method is `method` and
/// whose path contains `path_contains` with `status` and, if set, a `Retry-After` header.
/// Checked after the token and its scopes, before the rate limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Scripted {
    pub method: String,
    pub path_contains: String,
    pub status: u16,
    pub retry_after: Option<String>,
    pub times: u32,
}

impl Scripted {
    /// `status` for the next `times` `method` requests on paths containing `path_contains`.
    pub fn new(method: &str, path_contains: &str, status: u16, times: u32) -> Self {
        Self {
            method: method.to_ascii_uppercase(),
            path_contains: path_contains.to_string(),
            status,
            retry_after: None,
            times,
        }
    }

    pub fn retry_after(mut self, value: &str) -> Self {
        self.retry_after = Some(value.to_string());
        self
    }
}

/// What the simulator does wrong on purpose. `Default` is a healthy service.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Added before every answer.
    pub latency: Duration,
    /// Share of Graph requests answered 503 (0.0..=1.0).
    pub error_5xx_rate: f64,
    /// Share of Graph requests whose connection is cut after the status line.
    pub drop_rate: f64,
    /// When set, every rate-limit family allows only this many requests per window (a burst of
    /// 429s follows), instead of the real Intune numbers.
    pub throttle_burst: Option<u32>,
    /// Lifetime of access tokens issued from now on.
    pub token_ttl: Duration,
    /// Scripted answers, consumed in order of the list.
    pub scripted: Vec<Scripted>,
    /// Build every `@odata.nextLink` on this origin instead of the simulator's own (a tenant
    /// that hands out a foreign URL: the client must never send its token there).
    pub next_link_origin: Option<Url>,
    /// Conditional Access wants more: every refresh-token grant answers `interaction_required`
    /// with a `claims` value (only an interactive sign-in gets a token while it is set).
    pub claims_challenge: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            error_5xx_rate: 0.0,
            drop_rate: 0.0,
            throttle_burst: None,
            token_ttl: Duration::from_secs(3599),
            scripted: Vec::new(),
            next_link_origin: None,
            claims_challenge: false,
        }
    }
}

impl Faults {
    /// The scripted (status, Retry-After) due for this request, counted down; `None` if none is.
    pub fn take_scripted(&mut self, method: &str, path: &str) -> Option<(u16, Option<String>)> {
        let s = self.scripted.iter_mut().find(|s| {
            s.times > 0 && s.method.eq_ignore_ascii_case(method) && path.contains(&s.path_contains)
        })?;
        s.times -= 1;
        Some((s.status, s.retry_after.clone()))
    }

    /// Applies one `--fault` spec: `latency=200ms`, `5xx=0.05`, `drop=0.01`, `throttle-burst=20`,
    /// `token-ttl=60s`, `claims-challenge=on`. The error names the spec and the field.
    pub fn apply(&mut self, spec: &str) -> anyhow::Result<()> {
        let (key, value) = spec
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--fault {spec:?}: expected KEY=VALUE"))?;
        let bad = |what: &str| anyhow::anyhow!("--fault {spec:?}: {key}: {what}");
        match key.trim() {
            "latency" => self.latency = parse_duration(value).map_err(|e| bad(&e))?,
            "token-ttl" => self.token_ttl = parse_duration(value).map_err(|e| bad(&e))?,
            "claims-challenge" => {
                self.claims_challenge = match value.trim() {
                    "1" | "on" | "true" => true,
                    "0" | "off" | "false" => false,
                    _ => return Err(bad("expected on or off")),
                }
            }
            "5xx" => self.error_5xx_rate = parse_rate(value).map_err(|e| bad(&e))?,
            "drop" => self.drop_rate = parse_rate(value).map_err(|e| bad(&e))?,
            "throttle-burst" => {
                let n: u32 = value
                    .trim()
                    .parse()
                    .map_err(|_| bad("expected a whole number"))?;
                if n == 0 {
                    return Err(bad("must be at least 1"));
                }
                self.throttle_burst = Some(n);
            }
            other => {
                return Err(anyhow::anyhow!(
                    "--fault {spec:?}: unknown fault {other:?} (latency, 5xx, drop, throttle-burst, token-ttl, claims-challenge)"
                ));
            }
        }
        Ok(())
    }
}

fn parse_rate(v: &str) -> Result<f64, String> {
    let r: f64 = v
        .trim()
        .parse()
        .map_err(|_| "expected a number between 0 and 1".to_string())?;
    if (0.0..=1.0).contains(&r) {
        Ok(r)
    } else {
        Err(format!("{r} is outside 0..=1"))
    }
}

/// `250ms`, `3s`, `2m`, `1h`, or a bare number of seconds.
pub fn parse_duration(v: &str) -> Result<Duration, String> {
    let v = v.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{v:?} is not a duration like 200ms or 60s"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{v:?}: unknown unit {unit:?} (ms, s, m, h)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_apply_and_bad_specs_name_the_field() {
        let mut f = Faults::default();
        f.apply("latency=200ms").unwrap();
        f.apply("5xx=0.05").unwrap();
        f.apply("drop=0.01").unwrap();
        f.apply("throttle-burst=3").unwrap();
        f.apply("token-ttl=60s").unwrap();
        assert_eq!(f.latency, Duration::from_millis(200));
        assert_eq!(f.error_5xx_rate, 0.05);
        assert_eq!(f.drop_rate, 0.01);
        assert_eq!(f.throttle_burst, Some(3));
        assert_eq!(f.token_ttl, Duration::from_secs(60));
        assert!(!f.claims_challenge);
        f.apply("claims-challenge=on").unwrap();
        assert!(f.claims_challenge);
        let e = f.apply("claims-challenge=maybe").unwrap_err().to_string();
        assert!(
            e.contains("claims-challenge") && e.contains("on or off"),
            "{e}"
        );

        let e = f.apply("5xx=1.5").unwrap_err().to_string();
        assert!(e.contains("5xx") && e.contains("outside"), "{e}");
        let e = f.apply("latency=fast").unwrap_err().to_string();
        assert!(e.contains("latency"), "{e}");
        let e = f.apply("gremlins=1").unwrap_err().to_string();
        assert!(e.contains("unknown fault"), "{e}");
        assert!(f.apply("drop").is_err());
        assert!(f.apply("throttle-burst=0").is_err());
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
    }

    #[test]
    fn scripted_answers_match_method_and_path_and_run_out() {
        let mut f = Faults {
            scripted: vec![
                Scripted::new("get", "/managedDevices/a", 429, 2).retry_after("1.5"),
                Scripted::new("GET", "/managedDevices/", 503, 1),
            ],
            ..Faults::default()
        };
        assert_eq!(f.take_scripted("POST", "/beta/x/managedDevices/a"), None);
        let a = "/beta/deviceManagement/managedDevices/a";
        assert_eq!(f.take_scripted("GET", a), Some((429, Some("1.5".into()))));
        assert_eq!(f.take_scripted("GET", a), Some((429, Some("1.5".into()))));
        assert_eq!(f.take_scripted("GET", a), Some((503, None)));
        assert_eq!(f.take_scripted("GET", a), None);
    }
}
