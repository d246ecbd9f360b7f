//! The ONE place that reads the `AutopilotV2DeploymentStatus` report's numeric codes.
//!
//! Microsoft does not document them (docs/graph.md §4.1). Observed in live captures:
//! `DeploymentStatus` "2" on a successful row and "3" on a failed one; `CurrentProvisioningPhase`
//! "4" on the successful row and "2" on the failed one. Everything else is treated as "in
//! progress" and the raw code is kept so the detail view can show it.

use serde::Serialize;

/// What a report row says about the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Deployment {
    InProgress,
    Succeeded,
    Failed,
}

/// Observed `DeploymentStatus` for a finished, successful deployment.
pub const STATUS_SUCCEEDED: &str = "2";
/// Observed `DeploymentStatus` for a failed deployment.
pub const STATUS_FAILED: &str = "3";

/// Reads `DeploymentStatus`. Unknown or empty codes mean the deployment is still running: a row
/// exists only once a deployment started.
pub fn deployment(status_code: &str) -> Deployment {
    match status_code.trim() {
        STATUS_SUCCEEDED => Deployment::Succeeded,
        STATUS_FAILED => Deployment::Failed,
        _ => Deployment::InProgress,
    }
}

/// A short label for `CurrentProvisioningPhase`. The codes are undocumented, so the label says
/// only what is known: the raw code.
pub fn phase_label(phase_code: &str) -> String {
    let code = phase_code.trim();
    if code.is_empty() {
        "phase unknown".into()
    } else {
        format!("phase {code}")
    }
}

/// `ResultCode` as shown to the technician: a Windows HRESULT arrives as a signed decimal
/// ("-2147023436"); show it as hex too ("0x800705B4"), which is how Microsoft's error pages list it.
/// `None` for success ("0") or empty.
pub fn result_code_label(result_code: &str) -> Option<String> {
    let code = result_code.trim();
    if code.is_empty() || code == "0" {
        return None;
    }
    match code.parse::<i64>() {
        Ok(n) if i32::try_from(n).is_ok() => Some(format!("{code} (0x{:08X})", n as i32 as u32)),
        Ok(n) if u32::try_from(n).is_ok() => Some(format!("{code} (0x{n:08X})")),
        _ => Some(code.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_status_codes() {
        assert_eq!(deployment("2"), Deployment::Succeeded);
        assert_eq!(deployment(" 3 "), Deployment::Failed);
        for other in ["", "0", "1", "4", "x"] {
            assert_eq!(deployment(other), Deployment::InProgress, "{other:?}");
        }
    }

    #[test]
    fn phase_shows_the_raw_code() {
        assert_eq!(phase_label("2"), "phase 2");
        assert_eq!(phase_label(""), "phase unknown");
    }

    #[test]
    fn result_codes_show_hresult_hex() {
        assert_eq!(
            result_code_label("-2147023436").as_deref(),
            Some("-2147023436 (0x800705B4)")
        );
        assert_eq!(
            result_code_label("2147942405").as_deref(),
            Some("2147942405 (0x80070005)")
        );
        assert_eq!(result_code_label("0"), None);
        assert_eq!(result_code_label(""), None);
        assert_eq!(result_code_label("E_FAIL").as_deref(), Some("E_FAIL"));
    }
}
