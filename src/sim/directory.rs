//! The simulated Entra directory: users (enabled, disabled, unlicensed, deleted), the signed-in
//! ops lead, and the staging accounts.

use serde_json::{Value, json};

use super::rng::Rng;

/// Intune service plan (docs/graph.md §7).
pub const INTUNE_PLAN_ID: &str = "c1ec4a95-1f05-45b3-a911-aa3fa01094f5";
/// Entra built-in role "Intune Administrator".
pub const INTUNE_ADMIN_ROLE_TEMPLATE: &str = "3a2c62db-5318-420d-8d74-23affee5d9d5";
pub const DOMAIN: &str = "contoso.example";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    Employee,
    Staging,
    Lead,
}

#[derive(Debug, Clone)]
pub struct DirectoryUser {
    pub id: String,
    pub upn: String,
    pub display_name: String,
    pub enabled: bool,
    pub licensed: bool,
    pub kind: UserKind,
}

#[derive(Debug, Clone)]
pub struct Directory {
    pub users: Vec<DirectoryUser>,
    /// Ids that appear in `usersLoggedOn` but whose users were deleted (404 on `/users/{id}`).
    pub deleted_ids: Vec<String>,
}

const FIRST: &[&str] = &[
    "Adele", "Alex", "Diego", "Grady", "Isaiah", "Johanna", "Lee", "Lidia", "Lynne", "Megan",
    "Miriam", "Nestor", "Patti", "Pradeep", "Aiko", "Bruno", "Chen", "Dara", "Elif", "Femi",
];
const LAST: &[&str] = &[
    "Vance",
    "Wilber",
    "Siciliani",
    "Archie",
    "Langer",
    "Lauer",
    "Gu",
    "Holloway",
    "Robbins",
    "Bowen",
    "Graham",
    "Wilke",
    "Fernandez",
    "Gupta",
    "Tanaka",
    "Costa",
    "Wei",
    "Okafor",
    "Demir",
    "Adeyemi",
];

impl Directory {
    /// `staging` are the staging UPNs; `unlicensed_staging` breaks the first one's licence.
    pub fn generate(rng: &mut Rng, staging: &[String], unlicensed_staging: bool) -> Self {
        let mut users = Vec::new();
        let mut push = |rng: &mut Rng, upn: String, name: String, enabled, licensed, kind| {
            users.push(DirectoryUser {
                id: rng.guid(),
                upn,
                display_name: name,
                enabled,
                licensed,
                kind,
            });
        };
        push(
            rng,
            format!("lead@{DOMAIN}"),
            "Ops Lead".into(),
            true,
            true,
            UserKind::Lead,
        );
        for (i, s) in staging.iter().enumerate() {
            let licensed = !(unlicensed_staging && i == 0);
            push(
                rng,
                s.clone(),
                format!("Staging Account {}", i + 1),
                true,
                licensed,
                UserKind::Staging,
            );
        }
        for i in 0..FIRST.len() {
            let (f, l) = (FIRST[i], LAST[i]);
            let upn = format!("{}.{}@{DOMAIN}", f.to_lowercase(), l.to_lowercase());
            // Two people are awkward on purpose: one disabled, one without an Intune licence.
            let (enabled, licensed) = match i {
                3 => (false, true),
                7 => (true, false),
                _ => (true, true),
            };
            push(
                rng,
                upn,
                format!("{f} {l}"),
                enabled,
                licensed,
                UserKind::Employee,
            );
        }
        let deleted_ids = vec![rng.guid(), rng.guid()];
        Self { users, deleted_ids }
    }

    pub fn find(&self, id_or_upn: &str) -> Option<&DirectoryUser> {
        self.users
            .iter()
            .find(|u| u.id.eq_ignore_ascii_case(id_or_upn) || u.upn.eq_ignore_ascii_case(id_or_upn))
    }

    pub fn lead(&self) -> &DirectoryUser {
        self.users
            .iter()
            .find(|u| u.kind == UserKind::Lead)
            .expect("the directory always has a lead")
    }

    pub fn staging(&self) -> Vec<&DirectoryUser> {
        self.users
            .iter()
            .filter(|u| u.kind == UserKind::Staging)
            .collect()
    }

    /// Employees that can sign in to a device (any licence state: the review pane must cope).
    pub fn employees(&self) -> Vec<&DirectoryUser> {
        self.users
            .iter()
            .filter(|u| u.kind == UserKind::Employee)
            .collect()
    }
}

impl DirectoryUser {
    /// The full entity; `/users/{id}` without `$select` returns only [`DEFAULT_USER_PROPS`].
    pub fn to_json(&self) -> Value {
        let (given, surname) = self
            .display_name
            .split_once(' ')
            .unwrap_or((&self.display_name, ""));
        let plans: Vec<Value> = if self.licensed {
            vec![
                json!({"assignedDateTime": "2025-01-01T00:00:00Z", "capabilityStatus": "Enabled", "service": "SCO", "servicePlanId": INTUNE_PLAN_ID}),
            ]
        } else {
            vec![]
        };
        json!({
            "id": self.id,
            "businessPhones": [],
            "displayName": self.display_name,
            "givenName": given,
            "jobTitle": match self.kind { UserKind::Staging => "Staging", UserKind::Lead => "Operations Lead", UserKind::Employee => "Employee" },
            "mail": self.upn,
            "mobilePhone": null,
            "officeLocation": "HQ",
            "preferredLanguage": "en-US",
            "surname": surname,
            "userPrincipalName": self.upn,
            "accountEnabled": self.enabled,
            "usageLocation": "US",
            "assignedPlans": plans,
            "assignedLicenses": if self.licensed { json!([{"disabledPlans": [], "skuId": "06ebc4ee-1bb5-47dd-8120-11324bc54e06"}]) } else { json!([]) },
        })
    }

    pub fn license_details(&self) -> Vec<Value> {
        if !self.licensed {
            return vec![];
        }
        vec![json!({
            "id": format!("lic-{}", &self.id[..8]),
            "skuId": "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
            "skuPartNumber": "SPE_E5",
            "servicePlans": [
                {"servicePlanId": INTUNE_PLAN_ID, "servicePlanName": "INTUNE_A", "provisioningStatus": "Success", "appliesTo": "User"},
                {"servicePlanId": "8c098270-9dd4-4350-9b30-ba4703f3b36b", "servicePlanName": "ADALLOM_S_O365", "provisioningStatus": "Success", "appliesTo": "User"}
            ]
        })]
    }
}

/// What `GET /users/{id}` returns without `$select` (docs/graph.md §7).
pub const DEFAULT_USER_PROPS: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "id",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_has_every_kind_of_awkward_user() {
        let staging = vec![
            format!("staging@{DOMAIN}"),
            format!("o'neil.staging@{DOMAIN}"),
        ];
        let d = Directory::generate(&mut Rng::new(3), &staging, false);
        assert_eq!(d.staging().len(), 2);
        assert!(d.find("O'NEIL.staging@contoso.example").is_some());
        assert!(d.employees().iter().any(|u| !u.enabled));
        assert!(d.employees().iter().any(|u| !u.licensed));
        assert!(d.deleted_ids.iter().all(|id| d.find(id).is_none()));
        assert_eq!(d.lead().upn, format!("lead@{DOMAIN}"));
        let broken = Directory::generate(&mut Rng::new(3), &staging, true);
        assert!(!broken.staging()[0].licensed && broken.staging()[0].license_details().is_empty());
    }
}
