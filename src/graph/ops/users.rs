//! Users, licences and the signed-in user's roles (docs/graph.md §7).

use super::super::client::GraphClient;
use super::super::error::GraphError;
use super::super::models::{AssignedRoleDetails, DirectoryObject, LicenseDetails, User};
use super::super::odata::{Query, literal};
use super::seg;

/// The path segment for a user id or UPN (`/users('$x@y')` when the UPN starts with `$`).
fn user_segment(id_or_upn: &str) -> String {
    if id_or_upn.starts_with('$') {
        format!("({})", seg(&literal(id_or_upn)))
    } else {
        format!("/{}", seg(id_or_upn))
    }
}

impl GraphClient {
    /// `GET /v1.0/users/{id|upn}`.
    pub async fn get_user(&self, id_or_upn: &str, select: &[&str]) -> Result<User, GraphError> {
        if id_or_upn.trim().is_empty() {
            return Err(GraphError::Invalid("empty user id".into()));
        }
        self.get_entity(self.v1(
            &format!("/users{}", user_segment(id_or_upn)),
            &Query::new().select(select),
        ))
        .await
    }

    /// `GET /v1.0/users/{id}/licenseDetails` (delegated tokens only).
    pub async fn user_license_details(&self, id: &str) -> Result<Vec<LicenseDetails>, GraphError> {
        self.get_all(self.v1(
            &format!("/users{}/licenseDetails", user_segment(id)),
            &Query::new(),
        ))
        .await
    }

    /// `GET /v1.0/me/transitiveMemberOf`: groups and directory roles of the signed-in user.
    pub async fn transitive_member_of_me(&self) -> Result<Vec<DirectoryObject>, GraphError> {
        self.get_all(self.v1("/me/transitiveMemberOf", &Query::new()))
            .await
    }

    /// `GET /v1.0/me`: the signed-in user. Delegated tokens only: Graph answers an app token
    /// with 400, so callers check [`GraphClient::caller`] first (docs/graph.md §7).
    pub async fn me(&self, select: &[&str]) -> Result<User, GraphError> {
        self.get_entity(self.v1("/me", &Query::new().select(select)))
            .await
    }

    /// `GET /beta/deviceManagement/getAssignedRoleDetails`: the Intune RBAC role definitions and
    /// assignments of the signed-in user (delegated tokens; an app has no signed-in user).
    pub async fn assigned_role_details(&self) -> Result<AssignedRoleDetails, GraphError> {
        self.get_entity(self.beta("/deviceManagement/getAssignedRoleDetails", &Query::new()))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_segments_escape_hash_and_dollar() {
        assert_eq!(user_segment("a#b@contoso.com"), "/a%23b%40contoso.com");
        assert_eq!(user_segment("$x@y.com"), "(%27%24x%40y.com%27)");
    }
}
