//! A profile's serial rules ([`SerialRules`]): the deny list, GUID shapes, length, spaces and an
//! optional pattern. Each refusal names the rule (its config key) so the technician knows why and
//! the admin knows what to change.

use std::cell::RefCell;
use std::fmt;

use regex::Regex;

use crate::config::SerialRules;

/// Why a serial broke a profile rule. `Display` is written for the technician.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleError {
    /// On the deny list (a firmware placeholder).
    Denied {
        value: String,
    },
    /// Shaped like a GUID.
    Guid,
    /// A space inside the serial.
    Space,
    TooShort {
        len: usize,
        min: usize,
    },
    TooLong {
        len: usize,
        max: usize,
    },
    Pattern {
        pattern: String,
    },
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleError::Denied { value } => {
                write!(f, "'{value}' is a placeholder, not a serial (serials.deny)")
            }
            RuleError::Guid => {
                f.write_str("looks like a GUID (an object id), not a serial (serials.deny_guids)")
            }
            RuleError::Space => {
                f.write_str("a space inside a serial is not allowed (serials.allow_spaces)")
            }
            RuleError::TooShort { len, min } => write!(
                f,
                "too short: {len} character{}, at least {min} (serials.min_length)",
                if *len == 1 { "" } else { "s" }
            ),
            RuleError::TooLong { len, max } => {
                write!(
                    f,
                    "too long: {len} characters, at most {max} (serials.max_length)"
                )
            }
            RuleError::Pattern { pattern } => {
                write!(
                    f,
                    "does not match the profile's pattern {pattern} (serials.pattern)"
                )
            }
        }
    }
}

impl std::error::Error for RuleError {}

/// Compiles a configured pattern anchored at both ends.
pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{pattern})$"))
}

/// Folds a value for the deny-list comparison: periods dropped, runs of whitespace as one space,
/// case ignored.
fn fold(s: &str) -> String {
    s.split(|c: char| c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(|w| w.replace('.', ""))
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase()
}

/// The deny-list entry `raw` (trimmed, before any cleaning) matches, if any.
pub fn denied<'a>(raw: &str, rules: &'a SerialRules) -> Option<&'a str> {
    let v = fold(raw);
    rules.deny.iter().find(|d| fold(d) == v).map(String::as_str)
}

/// `8-4-4-4-12` hexadecimal digits (braces are refused earlier as characters).
pub fn guid_shaped(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Checks a cleaned serial (trimmed, periods removed, allowed characters only) against the rules.
pub fn check(serial: &str, rules: &SerialRules) -> Result<(), RuleError> {
    if rules.deny_guids && guid_shaped(serial) {
        return Err(RuleError::Guid);
    }
    if !rules.allow_spaces && serial.contains(' ') {
        return Err(RuleError::Space);
    }
    let len = serial.chars().count();
    if len < rules.min_length {
        return Err(RuleError::TooShort {
            len,
            min: rules.min_length,
        });
    }
    if len > rules.max_length {
        return Err(RuleError::TooLong {
            len,
            max: rules.max_length,
        });
    }
    if let Some(pattern) = &rules.pattern
        && !matches_pattern(pattern, serial)
    {
        return Err(RuleError::Pattern {
            pattern: pattern.clone(),
        });
    }
    Ok(())
}

thread_local! {
    /// The last pattern compiled on this thread: a paste of 1,000 lines compiles it once.
    static LAST: RefCell<Option<(String, Regex)>> = const { RefCell::new(None) };
}

fn matches_pattern(pattern: &str, serial: &str) -> bool {
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.as_ref().is_none_or(|(p, _)| p != pattern) {
            // Validated when the config loaded; an invalid one here matches nothing.
            *last = compile(pattern).ok().map(|re| (pattern.to_string(), re));
        }
        last.as_ref().is_some_and(|(_, re)| re.is_match(serial))
    })
}

/// Whether a pasted line is a spreadsheet header naming the serial column ("Serial Number",
/// "serial_no", "Device serial number", "Serial Number,Manufacturer,Model", …).
pub fn is_header(line: &str) -> bool {
    let first = line
        .split([',', ';', '\t'])
        .next()
        .unwrap_or("")
        .trim()
        .trim_matches('"');
    let squashed: String = first
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(
        squashed.as_str(),
        "serial"
            | "serials"
            | "serialnumber"
            | "serialnumbers"
            | "serialno"
            | "sn"
            | "devicesn"
            | "deviceserial"
            | "deviceserialnumber"
            | "hardwareserial"
            | "hardwareserialnumber"
            | "servicetag"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> SerialRules {
        SerialRules::default()
    }

    #[test]
    fn firmware_placeholders_are_denied_in_any_case_and_spacing() {
        let r = rules();
        for v in [
            "0",
            "none",
            "Default string",
            "DEFAULT  STRING",
            "To be filled by O.E.M.",
            "to be filled by oem",
            "System Serial Number",
            "SMBIOS_STRING_INDEX_0",
            "Not Specified",
            "123456789",
        ] {
            assert!(denied(v, &r).is_some(), "{v}");
        }
        assert_eq!(denied("PF3ABC12", &r), None);
        assert_eq!(
            RuleError::Denied {
                value: "Default string".into()
            }
            .to_string(),
            "'Default string' is a placeholder, not a serial (serials.deny)"
        );
    }

    #[test]
    fn each_rule_refuses_with_its_key() {
        let r = rules();
        assert_eq!(check("AB", &r), Err(RuleError::TooShort { len: 2, min: 4 }));
        assert!(
            check("AB", &r)
                .unwrap_err()
                .to_string()
                .contains("serials.min_length")
        );
        assert_eq!(check("PF3 SPACE", &r), Err(RuleError::Space));
        assert_eq!(
            check("0f8fad5b-d9cb-469f-a165-70867728950e", &r),
            Err(RuleError::Guid)
        );
        assert_eq!(check("PF3ABC12", &r), Ok(()));
        let mut strict = rules();
        strict.pattern = Some("PF[0-9A-Z]{6}".into());
        strict.max_length = 8;
        assert_eq!(check("PF3ABC12", &strict), Ok(()));
        assert!(matches!(
            check("XX3ABC12", &strict),
            Err(RuleError::Pattern { .. })
        ));
        assert!(matches!(
            check("PF3ABC12X", &strict),
            Err(RuleError::TooLong { len: 9, max: 8 })
        ));
        let mut lax = rules();
        lax.allow_spaces = true;
        lax.deny_guids = false;
        assert_eq!(check("PF3 SPACE", &lax), Ok(()));
        assert_eq!(check("0f8fad5b-d9cb-469f-a165-70867728950e", &lax), Ok(()));
    }

    #[test]
    fn headers_are_recognised_and_serials_are_not() {
        for h in [
            "Serial Number",
            "serial_number",
            "\"Serial Number\",Manufacturer,Model",
            "Device Serial Number\tModel",
            "SN",
            "Service Tag",
        ] {
            assert!(is_header(h), "{h}");
        }
        for s in ["PF3ABC12", "SN12345", "SERIAL1"] {
            assert!(!is_header(s), "{s}");
        }
    }
}
