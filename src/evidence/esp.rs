//! Which Enrollment Status Page applies to a device, decided as Intune does (docs/evidence.md,
//! "Facts relied on"): the highest-priority ESP (lowest `priority` number) targeted at the
//! device; if none, the highest-priority ESP targeted at the enrolling user (only when there is
//! one: self-deploying and pre-provisioning have no user); otherwise the default ESP. A profile
//! targets the device (or the user) through `allDevicesAssignmentTarget`
//! (`allLicensedUsersAssignmentTarget`) or a `groupAssignmentTarget` whose group the device (the
//! user) is a transitive member of; an `exclusionGroupAssignmentTarget` whose group holds it takes
//! the profile away. Pure: the group memberships come in as read from Graph.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

/// What is known of one directory object's groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Groups {
    /// Its transitive group ids, as read.
    Read(BTreeSet<String>),
    /// Not read; the reason.
    Unknown(String),
    /// There is no such object (no enrolling user in self-deploying mode, no Entra device yet).
    None,
}

impl Groups {
    pub fn of<'a>(ids: impl IntoIterator<Item = &'a str>) -> Self {
        Groups::Read(ids.into_iter().map(|s| s.to_ascii_lowercase()).collect())
    }

    fn holds(&self, group: &str) -> bool {
        matches!(self, Groups::Read(g) if g.contains(&group.to_ascii_lowercase()))
    }

    fn exists(&self) -> bool {
        !matches!(self, Groups::None)
    }
}

/// How the applying ESP was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Targeted {
    Device,
    User,
    Default,
}

/// The decision, for the bundle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolution {
    /// `id`, `displayName`, `priority` of the ESP that applies; `None` when there is no ESP at all.
    pub applies: Option<Value>,
    pub targeted: Targeted,
    /// In plain words: which assignment matched, or why none did.
    pub why: String,
    /// Things that make the answer less certain (a membership that could not be read).
    pub caveats: Vec<String>,
}

/// Is this the built-in "All users and all devices" ESP?
pub fn is_default(e: &Value) -> bool {
    e["deviceEnrollmentConfigurationType"]
        .as_str()
        .is_some_and(|t| t.starts_with("default"))
        || e["id"]
            .as_str()
            .is_some_and(|i| i.ends_with("_DefaultWindows10EnrollmentCompletionPageConfiguration"))
}

fn target_type(a: &Value) -> &str {
    a["target"]["@odata.type"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches('#')
        .trim_start_matches("microsoft.graph.")
}

fn summary(e: &Value) -> Value {
    serde_json::json!({
        "id": e["id"], "displayName": e["displayName"], "priority": e["priority"],
    })
}

fn name(e: &Value) -> String {
    format!(
        "\"{}\" (priority {})",
        e["displayName"].as_str().unwrap_or("?"),
        e["priority"]
    )
}

/// Does `esp` target `who` (device or user), and through which assignment? `Err` = excluded.
fn targets(esp: &Value, who: Targeted, groups: &Groups) -> Option<Result<String, String>> {
    let assignments = esp["assignments"].as_array()?;
    let (all, label) = match who {
        Targeted::Device => ("allDevicesAssignmentTarget", "device"),
        _ => ("allLicensedUsersAssignmentTarget", "enrolling user"),
    };
    for a in assignments {
        if target_type(a) == "exclusionGroupAssignmentTarget" {
            let g = a["target"]["groupId"].as_str().unwrap_or_default();
            if groups.holds(g) {
                return Some(Err(format!(
                    "{} excludes group {g}, which the {label} is in",
                    name(esp)
                )));
            }
        }
    }
    for a in assignments {
        match target_type(a) {
            t if t == all => return Some(Ok(format!("{} is assigned to all {label}s", name(esp)))),
            "groupAssignmentTarget" => {
                let g = a["target"]["groupId"].as_str().unwrap_or_default();
                if groups.holds(g) {
                    return Some(Ok(format!(
                        "{} is assigned to group {g}, which the {label} is a member of",
                        name(esp)
                    )));
                }
            }
            _ => {}
        }
    }
    None
}

/// Decides which of `esps` (each with its `assignments`, as Graph lists them) applies to a device
/// with `device` groups and an enrolling user with `user` groups.
pub fn resolve(esps: &[Value], device: &Groups, user: &Groups) -> Resolution {
    let mut sorted: Vec<&Value> = esps.iter().filter(|e| !is_default(e)).collect();
    sorted.sort_by_key(|e| e["priority"].as_i64().unwrap_or(i64::MAX));
    let mut caveats = Vec::new();
    let mut excluded = Vec::new();
    for (who, groups) in [(Targeted::Device, device), (Targeted::User, user)] {
        if let Groups::Unknown(why) = groups {
            caveats.push(format!(
                "the {} groups were not read ({why}): a group assignment to it may have been missed",
                if who == Targeted::Device {
                    "device's"
                } else {
                    "enrolling user's"
                }
            ));
        }
        if who == Targeted::User && !groups.exists() {
            continue;
        }
        for e in &sorted {
            match targets(e, who, groups) {
                Some(Ok(why)) => {
                    let mut why = why;
                    if who == Targeted::User {
                        why.push_str("; no ESP targets the device itself");
                    }
                    if !excluded.is_empty() {
                        why.push_str(&format!("; {}", excluded.join("; ")));
                    }
                    return Resolution {
                        applies: Some(summary(e)),
                        targeted: who,
                        why,
                        caveats,
                    };
                }
                Some(Err(ex)) => excluded.push(ex),
                None => {}
            }
        }
    }
    let mut why = String::from("no ESP targets the device");
    why.push_str(if user.exists() {
        " or the enrolling user"
    } else {
        " and there is no enrolling user"
    });
    why.push_str(": the default ESP applies");
    if !excluded.is_empty() {
        why.push_str(&format!("; {}", excluded.join("; ")));
    }
    Resolution {
        applies: esps.iter().find(|e| is_default(e)).map(summary),
        targeted: Targeted::Default,
        why,
        caveats,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn esp(id: &str, priority: i64, targets: &[(&str, &str)]) -> Value {
        let assignments: Vec<Value> = targets
            .iter()
            .map(|(t, g)| {
                let mut target = json!({ "@odata.type": format!("#microsoft.graph.{t}") });
                if !g.is_empty() {
                    target["groupId"] = json!(g);
                }
                json!({ "id": format!("{id}_a"), "target": target })
            })
            .collect();
        json!({
            "@odata.type": "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration",
            "id": id, "displayName": id, "priority": priority,
            "deviceEnrollmentConfigurationType": "windows10EnrollmentCompletionPageConfiguration",
            "assignments": assignments,
        })
    }

    fn default_esp() -> Value {
        json!({
            "id": "t_DefaultWindows10EnrollmentCompletionPageConfiguration",
            "displayName": "All users and all devices", "priority": 0,
            "deviceEnrollmentConfigurationType": "defaultWindows10EnrollmentCompletionPageConfiguration",
            "assignments": [{ "target": { "@odata.type": "#microsoft.graph.allDevicesAssignmentTarget" } }],
        })
    }

    fn applied(r: &Resolution) -> &str {
        r.applies.as_ref().unwrap()["id"].as_str().unwrap()
    }

    const G: &str = "groupAssignmentTarget";
    const X: &str = "exclusionGroupAssignmentTarget";

    #[test]
    fn the_lowest_priority_number_among_those_targeting_the_device_wins() {
        let esps = [
            default_esp(),
            esp("third", 3, &[(G, "DEV-A")]),
            esp("first", 1, &[(G, "OTHER")]),
            esp("second", 2, &[(G, "dev-a")]),
        ];
        let r = resolve(&esps, &Groups::of(["Dev-A"]), &Groups::of([]));
        assert_eq!(applied(&r), "second");
        assert_eq!(r.targeted, Targeted::Device);
        assert!(r.why.contains("group dev-a"), "{}", r.why);
        assert!(r.caveats.is_empty());
    }

    #[test]
    fn a_device_target_beats_a_higher_priority_user_target() {
        let esps = [
            default_esp(),
            esp("users", 1, &[(G, "USERS")]),
            esp("devices", 5, &[(G, "DEVS")]),
        ];
        let r = resolve(&esps, &Groups::of(["DEVS"]), &Groups::of(["USERS"]));
        assert_eq!((applied(&r), r.targeted), ("devices", Targeted::Device));
        // Without the device group, the user's ESP applies.
        let r = resolve(&esps, &Groups::of([]), &Groups::of(["USERS"]));
        assert_eq!((applied(&r), r.targeted), ("users", Targeted::User));
        assert!(r.why.contains("enrolling user"), "{}", r.why);
        // All licensed users counts for a user, never for a device.
        let esps = [
            default_esp(),
            esp("everyone", 2, &[("allLicensedUsersAssignmentTarget", "")]),
        ];
        let r = resolve(&esps, &Groups::of([]), &Groups::of([]));
        assert_eq!((applied(&r), r.targeted), ("everyone", Targeted::User));
        // Self-deploying: no user, so only device targets count.
        let r = resolve(&esps, &Groups::of([]), &Groups::None);
        assert_eq!(r.targeted, Targeted::Default);
        assert!(r.why.contains("no enrolling user"), "{}", r.why);
    }

    #[test]
    fn an_exclusion_takes_the_profile_away_and_the_next_one_applies() {
        let esps = [
            default_esp(),
            esp(
                "kiosk",
                1,
                &[("allDevicesAssignmentTarget", ""), (X, "KIOSKS")],
            ),
            esp("standard", 2, &[(G, "ALL-LAPTOPS")]),
        ];
        let r = resolve(&esps, &Groups::of(["KIOSKS", "ALL-LAPTOPS"]), &Groups::None);
        assert_eq!(applied(&r), "standard");
        assert!(r.why.contains("excludes group KIOSKS"), "{}", r.why);
        let r = resolve(&esps, &Groups::of(["ALL-LAPTOPS"]), &Groups::None);
        assert_eq!(applied(&r), "kiosk");
    }

    #[test]
    fn nothing_targeting_falls_back_to_the_default_and_unknown_groups_are_said() {
        let esps = [default_esp(), esp("staging", 1, &[(G, "DEVS")])];
        let r = resolve(
            &esps,
            &Groups::Unknown("permission missing".into()),
            &Groups::of(["SOMETHING"]),
        );
        assert_eq!(r.targeted, Targeted::Default);
        assert_eq!(
            applied(&r),
            "t_DefaultWindows10EnrollmentCompletionPageConfiguration"
        );
        assert!(r.why.contains("default ESP applies"), "{}", r.why);
        assert_eq!(r.caveats.len(), 1);
        assert!(r.caveats[0].contains("permission missing"));
        // No ESP at all: nothing applies, and the answer says so.
        let r = resolve(&[], &Groups::of([]), &Groups::None);
        assert!(r.applies.is_none() && r.targeted == Targeted::Default);
    }
}
