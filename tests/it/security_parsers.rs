//! Every parser of outside data meets random input: no panic, and an error that says where.
//! (The Retry-After parser and the OData literal round trip have their own property tests next to
//! their code: `graph::retry` and `graph::odata`; the escape function in `text`.)

use std::path::Path;

use proptest::prelude::*;
use stagehand::graph::models::{Collection, ExportJob, ManagedDevice, User, parse_entity};
use stagehand::prep::{ReadOptions, read_rows};
use stagehand::store::legacy;

/// Text that looks like JSON often enough to reach deep into the decoders.
fn jsonish() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,200}",
        r#"[\[\]{}:,"0-9a-zA-Z@. \n\\-]{0,200}"#,
        // A collection page with hostile members.
        (r#"[a-zA-Z"\\ ]{0,30}"#, "-?[0-9]{1,25}(\\.[0-9]{0,5})?", "\\PC{0,20}").prop_map(
            |(name, n, s)| format!(
                r#"{{"value":[{{"id":"{s:?}","deviceName":{name:?},"serialNumber":{n},"enrolledDateTime":"{s}","complianceState":{n}}}],"@odata.nextLink":{n}}}"#
            )
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn graph_models_never_panic_and_errors_have_a_position(body in jsonish()) {
        let bytes = body.as_bytes();
        let results = [
            serde_json::from_slice::<Collection<ManagedDevice>>(bytes).err(),
            serde_json::from_slice::<Collection<User>>(bytes).err(),
            parse_entity::<ManagedDevice>(bytes).err(),
            parse_entity::<ExportJob>(bytes).err(),
        ];
        for e in results.into_iter().flatten() {
            prop_assert!(e.line() >= 1, "{e}");
            prop_assert!(e.to_string().contains("line"), "{e}");
        }
    }

    #[test]
    fn queue_records_never_panic_and_a_flipped_byte_is_refused(
        junk in proptest::collection::vec(any::<u8>(), 0..300),
        serial in "[A-Z0-9]{1,12}",
        flip in any::<prop::sample::Index>(),
    ) {
        // The old journal's lines are still read once, when a data dir is imported.
        let _ = legacy::decode_line(&junk);
        let event = stagehand::store::QueueEvent::Removed { serial };
        let json = serde_json::to_vec(&event).unwrap();
        let mut line = format!("{:08x} {} ", crc32fast::hash(&json), json.len()).into_bytes();
        line.extend_from_slice(&json);
        prop_assert!(legacy::decode_line(&line).is_ok());
        let mut bad = line.clone();
        let i = flip.index(bad.len());
        bad[i] ^= 0x01;
        prop_assert!(legacy::decode_line(&bad).is_err(), "{:?}", String::from_utf8_lossy(&bad));
    }

    #[test]
    fn www_authenticate_never_panics_and_reads_a_real_challenge(
        junk in r#"[A-Za-z0-9=",\\ ]{0,120}|\PC{0,120}"#,
        claim in "[a-z]{1,10}",
    ) {
        let _ = stagehand::auth::claims::from_www_authenticate(&junk);
        use base64::Engine as _;
        let json = format!(r#"{{"access_token":{{"{claim}":{{"essential":true}}}}}}"#);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&json);
        let header = format!(
            r#"Bearer realm="", authorization_uri="https://login.example/authorize", error="insufficient_claims", claims="{b64}""#
        );
        let got = stagehand::auth::claims::from_www_authenticate(&header);
        prop_assert!(got.is_some(), "{header}");
        let got: serde_json::Value = serde_json::from_str(&got.unwrap()).unwrap();
        let want: serde_json::Value = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn config_files_never_panic_and_errors_name_the_file(text in r#"[\[\]a-z_.= "0-9\n]{0,200}"#) {
        if let Err(e) = stagehand::config::Config::parse(&text, Path::new("/etc/stagehand.toml")) {
            prop_assert!(e.to_string().contains("/etc/stagehand.toml"), "{e}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// CSV prep on random bytes (any encoding, delimiter, quoting): every row is a row or an error
    /// that names its file and line, and nothing panics.
    #[test]
    fn csv_prep_never_panics_and_row_errors_name_file_and_line(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..600),
            r#"[A-Za-z0-9,;\t"' \r\n=+@.-]{0,600}"#.prop_map(String::into_bytes),
        ]
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.csv");
        std::fs::write(&path, &bytes).unwrap();
        match read_rows(std::slice::from_ref(&path), &ReadOptions::default()) {
            Ok(rows) => {
                for r in rows {
                    if let Err(e) = r {
                        prop_assert!(e.line >= 1, "{e:?}");
                        prop_assert!(e.to_string().contains("in.csv"), "{e}");
                    }
                }
            }
            Err(e) => prop_assert!(e.to_string().contains("in.csv"), "{e}"),
        }
    }
}
