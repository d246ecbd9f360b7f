//! Autopilot registration error codes in plain words, with the next step (docs/autopilot.md).

/// What an import error means and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    /// `806 ZtdDeviceAlreadyAssigned`, or the raw code and name when unknown.
    pub label: String,
    pub meaning: &'static str,
    pub next: &'static str,
    /// The device is registered in this tenant after all (806): not a failure.
    pub already_here: bool,
}

/// Explains `deviceErrorCode` / `deviceErrorName`. Names are matched too (808 has two
/// spellings in Microsoft's pages; `ZtdDeviceDuplicated` and `StorageError` have no number).
pub fn explain(code: i64, name: &str) -> Explained {
    let n = name.trim();
    let by_name = |x: &str| n.eq_ignore_ascii_case(x);
    let (meaning, next, already_here) = match code {
        801 => (
            "the request was malformed or had no tenant",
            "retry; if it repeats, capture the hash again",
            false,
        ),
        802 => (
            "the hardware hash is invalid or lacks the manufacturer or serial",
            "capture the hash again on the device (check `stagehand autopilot show` for the manufacturer and serial)",
            false,
        ),
        803 => (
            "neither a serial nor a product key was sent",
            "send the serial number with the hash",
            false,
        ),
        806 => (
            "this device is already registered in this tenant",
            "nothing to import; find it under Autopilot devices (change its group tag with `stagehand autopilot tag`)",
            true,
        ),
        808 => (
            "this device is registered to another tenant",
            "the other tenant or the seller must deregister it; otherwise open a Microsoft support case with proof of ownership",
            false,
        ),
        812 => (
            "no device matched the manufacturer, model and serial",
            "register it with its hardware hash",
            false,
        ),
        813 => (
            "the hash does not identify a single device",
            "capture the hash again; if it repeats, contact Microsoft support",
            false,
        ),
        814 => (
            "the device already exists in Entra ID and could not be pre-created",
            "remove the stale Entra device object, then import again",
            false,
        ),
        _ if by_name("ZtdDeviceAssignedToOtherTenant")
            || by_name("ZtdDeviceAssignedToAnotherTenant") =>
        {
            (
                "this device is registered to another tenant",
                "the other tenant or the seller must deregister it; otherwise open a Microsoft support case with proof of ownership",
                false,
            )
        }
        _ if by_name("ZtdDeviceAlreadyAssigned") => (
            "this device is already registered in this tenant",
            "nothing to import; find it under Autopilot devices",
            true,
        ),
        _ if by_name("ZtdDeviceDuplicated") => (
            "the same hash appeared more than once in one upload; only one was processed",
            "look at the other row's result",
            false,
        ),
        _ if by_name("StorageError") => (
            "a generic service error",
            "retry later; open a support case if it persists",
            false,
        ),
        _ => (
            "an error stagehand does not know",
            "look the code up in Microsoft's Autopilot registration troubleshooting",
            false,
        ),
    };
    let label = match (code, n.is_empty()) {
        (0, false) => n.to_string(),
        (c, true) => c.to_string(),
        (c, false) => format!("{c} {n}"),
    };
    Explained {
        label,
        meaning,
        next,
        already_here,
    }
}

impl std::fmt::Display for Explained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.meaning, self.label, self.next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_in_plain_words() {
        let e = explain(806, "ZtdDeviceAlreadyAssigned");
        assert!(e.already_here);
        assert_eq!(
            e.to_string(),
            "this device is already registered in this tenant (806 ZtdDeviceAlreadyAssigned): nothing to import; find it under Autopilot devices (change its group tag with `stagehand autopilot tag`)"
        );
        assert!(
            explain(0, "ZtdDeviceAssignedToAnotherTenant")
                .meaning
                .contains("another tenant")
        );
        assert!(explain(808, "").to_string().contains("deregister"));
        let unknown = explain(999, "ZtdSomethingNew");
        assert_eq!(unknown.label, "999 ZtdSomethingNew");
        assert!(!unknown.already_here);
    }
}
