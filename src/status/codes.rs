//! Failure codes a bench technician meets, explained in one table: the code in hex and decimal,
//! what it means in plain words, what to do next, and the Microsoft page the meaning comes from
//! (docs/error-codes.md lists the same entries with their sources). A code not in the table reads
//! "unknown code: search it" with the code, never a guess.

/// One documented code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub code: u32,
    /// Windows' symbolic name, where Microsoft's page gives it.
    pub name: Option<&'static str>,
    pub meaning: &'static str,
    pub next_step: &'static str,
    pub source: &'static str,
}

const ENROLL_ERRORS: &str = "https://learn.microsoft.com/troubleshoot/mem/intune/device-enrollment/troubleshoot-windows-enrollment-errors";
const AUTOPILOT_ENROLL: &str =
    "https://learn.microsoft.com/autopilot/troubleshoot-device-enrollment";
const COMANAGE_MONITOR: &str = "https://learn.microsoft.com/mem/configmgr/comanage/how-to-monitor";

/// The table. Every meaning was checked against its source page.
pub const KNOWN: &[Known] = &[
    Known {
        code: 0x8007_05B4,
        name: None,
        meaning: "securing the hardware failed: self-deploying mode needs a physical TPM 2.0 (not virtual, not 1.2) and Windows 10 1709 or later (1809 for hybrid join)",
        next_step: "check the device has a physical TPM 2.0 and a supported Windows build",
        source: ENROLL_ERRORS,
    },
    Known {
        code: 0x8018_0014,
        name: Some("MENROLL_E_DEVICENOTSUPPORTED"),
        meaning: "enrollment blocked: a self-deploying or pre-provisioned device is being reused, or Windows (MDM) is blocked by an enrollment restriction",
        next_step: "reused device: delete its Intune device record and deploy again; otherwise allow Windows (MDM) in the enrollment restrictions",
        source: AUTOPILOT_ENROLL,
    },
    Known {
        code: 0x8018_0015,
        name: Some("MENROLL_E_NOTSUPPORTED"),
        meaning: "mobile device management is not supported for this device",
        next_step: "check the enrollment (device type) restrictions",
        source: COMANAGE_MONITOR,
    },
    Known {
        code: 0x8018_0018,
        name: Some("MENROLL_E_USERLICENSE"),
        meaning: "the enrolling user's licence is in a state that blocks enrollment",
        next_step: "assign an Intune licence to the account that enrolls (the staging account)",
        source: COMANAGE_MONITOR,
    },
    Known {
        code: 0x8018_0002,
        name: Some("MENROLL_E_DEVICE_AUTHENTICATION_ERROR"),
        meaning: "the enrollment server could not authenticate the user (no Entra token for the user)",
        next_step: "make sure the account can sign in to Entra ID, then retry",
        source: COMANAGE_MONITOR,
    },
    Known {
        code: 0x8018_002A,
        name: None,
        meaning: "the user cancelled enrollment (for example a multifactor prompt was not answered)",
        next_step: "sign in with multifactor authentication and answer the prompt; retry",
        source: COMANAGE_MONITOR,
    },
    Known {
        code: 0x8018_002B,
        name: Some("MENROLL_E_MDM_NOT_CONFIGURED"),
        meaning: "automatic MDM enrollment is not fully set up: the UPN has an unverified or non-routable domain, or the MDM user scope is None",
        next_step: "give the user a routable UPN suffix, or set the MDM user scope to All or a group that holds the user",
        source: ENROLL_ERRORS,
    },
    Known {
        code: 0x8018_0026,
        name: None,
        meaning: "automatic MDM enrollment is on and the Intune PC software client is installed on the device",
        next_step: "uninstall the Intune PC client (or turn automatic enrollment off)",
        source: ENROLL_ERRORS,
    },
    Known {
        code: 0x8018_0022,
        name: None,
        meaning: "the device runs Windows Home edition",
        next_step: "upgrade the device to Pro edition or higher",
        source: ENROLL_ERRORS,
    },
    Known {
        code: 0x801C_03EA,
        name: None,
        meaning: "the TPM can run version 2.0 but has not been upgraded to it",
        next_step: "upgrade the TPM firmware to 2.0; check the device is not in two groups with different Autopilot profiles",
        source: ENROLL_ERRORS,
    },
    Known {
        code: 0x8007_0774,
        name: None,
        meaning: "hybrid join: the domain controller could not be reached, or the Autopilot profile assigns a user (not for hybrid join)",
        next_step: "unassign the user from the device, check the hybrid profile is assigned and the domain is reachable",
        source: ENROLL_ERRORS,
    },
    Known {
        code: 0x8007_064C,
        name: None,
        meaning: "the machine is already enrolled (enrolled before, cloned image, or an old account certificate)",
        next_step: "remove the old Intune certificate and enrollment keys, then enroll again",
        source: ENROLL_ERRORS,
    },
    Known {
        code: 0x8018_000A,
        name: None,
        meaning: "the device is already enrolled or joined by another user",
        next_step: "remove the other work or school account from the device, then enroll",
        source: ENROLL_ERRORS,
    },
];

/// Reads a result code as Intune reports it: signed decimal ("-2147023436"), unsigned decimal or
/// hex ("0x800705B4", "800705b4").
pub fn parse(code: &str) -> Option<u32> {
    let c = code.trim();
    if let Some(hex) = c.strip_prefix("0x").or_else(|| c.strip_prefix("0X")) {
        return u32::from_str_radix(hex, 16).ok();
    }
    if let Ok(n) = c.parse::<i64>() {
        return i32::try_from(n)
            .map(|v| v as u32)
            .ok()
            .or_else(|| u32::try_from(n).ok());
    }
    (c.len() == 8)
        .then(|| u32::from_str_radix(c, 16).ok())
        .flatten()
}

pub fn lookup(code: u32) -> Option<&'static Known> {
    KNOWN.iter().find(|k| k.code == code)
}

/// "0x800705B4 (-2147023436)": hex as Microsoft's pages list it, and the decimal Intune reports.
pub fn both_forms(code: u32) -> String {
    format!("0x{code:08X} ({})", code as i32)
}

/// One line for the pane's message column, the code first so it survives a narrow column.
pub fn short(code: u32) -> String {
    match lookup(code) {
        Some(k) => format!("0x{code:08X}: {}", k.meaning),
        None => format!("0x{code:08X}: unknown code: search it"),
    }
}

/// The full explanation for the detail view and `status --json`.
pub fn explain(code: u32) -> Vec<String> {
    match lookup(code) {
        Some(k) => {
            let mut out = vec![both_forms(code)];
            if let Some(name) = k.name {
                out[0].push_str(&format!(" {name}"));
            }
            out.push(format!("means: {}", k.meaning));
            out.push(format!("next: {}", k.next_step));
            out.push(format!("source: {}", k.source));
            out
        }
        None => vec![
            both_forms(code),
            format!("unknown code: search it (0x{code:08X})"),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_intune_uses_parses_to_the_same_code() {
        for s in [
            "-2147023436",
            "2147943860",
            "0x800705B4",
            "0x800705b4",
            "800705B4",
        ] {
            assert_eq!(parse(s), Some(0x8007_05B4), "{s}");
        }
        assert_eq!(parse("E_FAIL"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn known_codes_are_explained_with_a_source_and_unknown_ones_say_so() {
        let e = explain(0x8018_0018);
        assert_eq!(e[0], "0x80180018 (-2145910760) MENROLL_E_USERLICENSE");
        assert!(e[1].contains("licence"), "{e:?}");
        assert!(e[2].starts_with("next: "), "{e:?}");
        assert!(
            e[3].starts_with("source: https://learn.microsoft.com/"),
            "{e:?}"
        );
        assert_eq!(short(0x8000_4005), "0x80004005: unknown code: search it");
        for k in KNOWN {
            assert!(k.source.starts_with("https://learn.microsoft.com/"));
            assert_eq!(KNOWN.iter().filter(|o| o.code == k.code).count(), 1);
        }
    }
}
