use super::*;
use serde_json::json;

const INTUNE: Dialect = Dialect {
    supported: &[
        "serialNumber",
        "userPrincipalName",
        "enrolledDateTime",
        "deviceName",
    ],
    intune_quirks: true,
};
const STRICT: Dialect = Dialect {
    supported: &["appId"],
    intune_quirks: false,
};

fn dev() -> Value {
    json!({"serialNumber": "SN1", "userPrincipalName": "o'neil@x", "enrolledDateTime": "2026-01-02T00:00:00Z", "deviceName": "DESK-12", "userId": "u1"})
}

#[test]
fn comparisons_and_doubled_quotes() {
    let m = |f: &str| matches(&parse_filter(f).unwrap(), &dev(), &INTUNE);
    assert!(m("serialNumber eq 'sn1'"));
    assert!(!m("serialNumber eq 'SN2'"));
    assert!(m("userPrincipalName eq 'o''neil@x'"));
    assert!(m("enrolledDateTime gt 2026-01-01T00:00:00Z"));
    assert!(!m("enrolledDateTime gt 2026-01-03T00:00:00Z"));
    assert!(m(
        "serialNumber eq 'SN1' and (enrolledDateTime lt 2027-01-01T00:00:00Z)"
    ));
    assert!(!m("not (serialNumber eq 'SN1')"));
}

#[test]
fn intune_quirks_ignore_what_intune_ignores() {
    let m = |f: &str| matches(&parse_filter(f).unwrap(), &dev(), &INTUNE);
    assert!(
        m("userId eq 'someone-else'"),
        "unsupported property is ignored"
    );
    assert!(m("skuFamily eq 'x'"));
    assert!(
        m("startswith(deviceName,'12')"),
        "startswith behaves like contains"
    );
    assert!(
        !m("serialNumber eq 'nope' or serialNumber eq 'SN1'"),
        "only the first or-clause counts"
    );
    assert!(m("userPrincipalName eq ''"));
    // The strict dialect applies startswith and both or-clauses properly, and refuses unknowns.
    let sp = json!({"appId": "abc"});
    assert!(matches(
        &parse_filter("startswith(appId,'ab')").unwrap(),
        &sp,
        &STRICT
    ));
    assert!(!matches(
        &parse_filter("startswith(appId,'bc')").unwrap(),
        &sp,
        &STRICT
    ));
    assert!(validate(&parse_filter("displayName eq 'x'").unwrap(), &STRICT).is_err());
}

#[test]
fn malformed_filters_are_errors_with_positions() {
    let e = parse_filter("serialNumber eq 'abc").unwrap_err();
    assert!(
        e.contains("unterminated string literal at position 16"),
        "{e}"
    );
    assert!(
        parse_filter("serialNumber eq")
            .unwrap_err()
            .contains("end of expression")
    );
    assert!(
        parse_filter("serialNumber zz 'a'")
            .unwrap_err()
            .contains("unknown operator")
    );
    assert!(
        parse_filter("enrolledDateTime gt 2026-13-45")
            .unwrap_err()
            .contains("malformed literal")
    );
    assert!(parse_filter("(serialNumber eq 'a'").is_err());
    assert!(parse_filter("serialNumber eq 'a' 'b'").is_err());
}

#[test]
fn select_is_validated_and_applied() {
    let obj = dev().as_object().unwrap().clone();
    let sel = parse_select("serialnumber, deviceName", &obj, "managedDevice").unwrap();
    assert_eq!(sel, vec!["serialNumber", "deviceName"]);
    let out = apply_select(obj.clone(), &sel);
    assert_eq!(out.len(), 2);
    let e = parse_select("bogus", &obj, "managedDevice").unwrap_err();
    assert!(
        e.contains("'bogus'") && e.contains("microsoft.graph.managedDevice"),
        "{e}"
    );
}
