//! Who a Graph access token speaks for: a signed-in user (delegated, `scp` claim) or the app
//! itself (client credentials, `roles` claim with the application permissions granted to it).
//! docs/graph.md §6, §13.
//!
//! Read for one decision only: whether to act as an app (never call `/me`; the authority to
//! retire or wipe is the application permission in `roles`). The token came from the token
//! endpoint over TLS and Graph checks its signature on every call; nothing here trusts it for more.

use base64::Engine as _;
use serde::Deserialize;

use crate::secret::Secret;

/// The application permission that allows retire and wipe (docs/graph.md §6).
pub const PRIVILEGED_OPERATIONS: &str = "DeviceManagementManagedDevices.PrivilegedOperations.All";

/// The caller behind an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A signed-in user (delegated scopes in `scp`).
    User,
    /// The app itself, with the application permissions of its `roles` claim.
    App { roles: Vec<String> },
    /// Not a readable JWT (an opaque token): treated as a user, so Graph itself decides.
    Unknown,
}

impl Caller {
    pub fn is_app(&self) -> bool {
        matches!(self, Caller::App { .. })
    }

    /// For an app: does it hold `permission` (case-insensitive)? Always false for a user.
    pub fn app_has(&self, permission: &str) -> bool {
        match self {
            Caller::App { roles } => roles.iter().any(|r| r.eq_ignore_ascii_case(permission)),
            _ => false,
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    scp: Option<String>,
    #[serde(default)]
    roles: Option<Vec<String>>,
    /// Optional claim: `app` or `user`.
    #[serde(default)]
    idtyp: Option<String>,
}

/// Reads the payload of `token` (a JWT: header.payload.signature, base64url).
pub fn caller_of(token: &Secret) -> Caller {
    let Some(payload) = token.expose().split('.').nth(1) else {
        return Caller::Unknown;
    };
    let Ok(bytes) =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))
    else {
        return Caller::Unknown;
    };
    let Ok(c) = serde_json::from_slice::<Claims>(&bytes) else {
        return Caller::Unknown;
    };
    let app = c
        .idtyp
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("app"))
        || (c.scp.is_none() && c.roles.is_some());
    if app {
        Caller::App {
            roles: c.roles.unwrap_or_default(),
        }
    } else if c.scp.is_some() || c.idtyp.is_some() {
        Caller::User
    } else {
        Caller::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: serde_json::Value) -> Secret {
        let e = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        Secret::new(format!(
            "{}.{}.c2ln",
            e(br#"{"typ":"JWT","alg":"RS256"}"#),
            e(claims.to_string().as_bytes())
        ))
    }

    #[test]
    fn app_tokens_carry_roles_and_user_tokens_scp() {
        let app = jwt(serde_json::json!({"roles": [PRIVILEGED_OPERATIONS], "idtyp": "app"}));
        assert!(caller_of(&app).app_has(PRIVILEGED_OPERATIONS));
        assert!(caller_of(&app).app_has(&PRIVILEGED_OPERATIONS.to_lowercase()));
        // Without the optional idtyp claim, roles and no scp still mean an app.
        let bare = jwt(serde_json::json!({"roles": ["User.Read.All"]}));
        assert_eq!(
            caller_of(&bare),
            Caller::App {
                roles: vec!["User.Read.All".into()]
            }
        );
        assert!(!caller_of(&bare).app_has(PRIVILEGED_OPERATIONS));
        // A user's token can carry roles too (app roles of the user): scp decides.
        let user = jwt(serde_json::json!({"scp": "User.Read", "roles": ["Admin"]}));
        assert_eq!(caller_of(&user), Caller::User);
        assert!(!caller_of(&user).app_has("Admin"));
        let no_roles_app = jwt(serde_json::json!({"idtyp": "app"}));
        assert_eq!(caller_of(&no_roles_app), Caller::App { roles: vec![] });
    }

    #[test]
    fn opaque_or_broken_tokens_are_unknown() {
        assert_eq!(caller_of(&Secret::new("t")), Caller::Unknown);
        assert_eq!(caller_of(&Secret::new("a.!!!.c")), Caller::Unknown);
        assert_eq!(caller_of(&Secret::new("a.e30.c")), Caller::Unknown);
    }
}
