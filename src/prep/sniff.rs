//! Delimiter and header detection on the first lines of a decoded input.

use serde::Serialize;

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ColumnRole {
    Serial,
    Manufacturer,
    Model,
    User,
    GroupTag,
    HardwareHash,
    ProductId,
    Details,
    /// A column name seen in exports (device name, object id, …) that is none of the above:
    /// its row is a header, so it is never read as data.
    Other,
}

/// Column numbers (0-based) of each role in an input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    pub serial: usize,
    pub manufacturer: Option<usize>,
    pub model: Option<usize>,
    pub user: Option<usize>,
    pub group_tag: Option<usize>,
    pub hardware_hash: Option<usize>,
    pub product_id: Option<usize>,
    pub details: Option<usize>,
}

/// The comparison key of a header cell: lower case, accents folded, without spaces and
/// `_ - . # / ° : " ( )` or a BOM ("N° de série" → "ndeserie", "S/N" → "sn").
pub fn header_key(cell: &str) -> String {
    cell.chars()
        .filter(|c| {
            !matches!(
                c,
                ' ' | '_' | '-' | '.' | '#' | '/' | '°' | 'º' | ':' | '(' | ')' | '\u{feff}' | '"'
            )
        })
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            other => other,
        })
        .collect()
}

/// Recognises a header cell (see [`header_key`]): English, the common European languages and
/// vendor export names.
pub fn header_role(cell: &str) -> Option<ColumnRole> {
    let key = header_key(cell);
    Some(match key.as_str() {
        "serial"
        | "serialnumber"
        | "serialno"
        | "serialnr"
        | "deviceserialnumber"
        | "systemserialnumber"
        | "chassisserialnumber"
        | "servicetag"
        | "sn"
        | "imei"
        | "identifier"
        | "seriennummer"
        | "seriennr"
        | "numerodeserie"
        | "ndeserie"
        | "nodeserie"
        | "numerodiserie"
        | "ndiserie"
        | "serienummer"
        | "serienr"
        | "sarjanumero"
        | "numerseryjny" => ColumnRole::Serial,
        "manufacturer" | "make" | "vendor" | "oem" | "brand" | "hersteller" | "marke"
        | "fabricant" | "fabricante" | "marca" | "produttore" | "fabrikant" | "tillverkare"
        | "producent" | "valmistaja" | "manufacturername" => ColumnRole::Manufacturer,
        "model" | "modelname" | "devicemodel" | "modell" | "modele" | "modelo" | "modello"
        | "malli" => ColumnRole::Model,
        "upn" | "user" | "email" | "emailaddress" | "userprincipalname" | "assigneduser"
        | "benutzer" | "utilisateur" | "usuario" | "utente" => ColumnRole::User,
        "grouptag" | "ordertag" | "orderid" => ColumnRole::GroupTag,
        "hardwarehash" | "hardwareid" | "hash" | "hwid" => ColumnRole::HardwareHash,
        "windowsproductid" | "productid" | "productkey" => ColumnRole::ProductId,
        "details" | "description" | "notes" | "beschreibung" | "bemerkung" | "commentaire" => {
            ColumnRole::Details
        }
        "devicename" | "id" | "userid" | "deviceid" | "objectid" | "azureaddeviceid"
        | "entradeviceid" | "intunedeviceid" | "manageddeviceid" | "name" | "hostname"
        | "computername" | "geratename" | "os" | "osversion" | "ownership" | "compliance"
        | "lastcheckin" | "lastsync" | "lastsyncdatetime" | "enrolleddatetime" | "primaryuser"
        | "primaryuserupn" | "assettag" | "asset" | "inventarnummer" | "ordernumber"
        | "purchaseorder" | "date" | "datum" | "status" | "location" | "standort" => {
            ColumnRole::Other
        }
        _ => return None,
    })
}

/// Maps a header row to columns. `Ok(None)` when the row is not a header; `Err` when it is a
/// header without a serial column (the message lists what was found).
pub fn columns_from_header(cells: &[&str]) -> Result<Option<Columns>, String> {
    let roles: Vec<Option<ColumnRole>> = cells.iter().map(|c| header_role(c)).collect();
    if roles.iter().all(Option::is_none) {
        return Ok(None);
    }
    if !roles.contains(&Some(ColumnRole::Serial)) {
        return Err(no_serial_column(cells));
    }
    Ok(Some(header_columns(cells, None)))
}

/// The columns a header row names; `serial` overrides the header's serial column (and a column
/// taken as the serial is not also read as anything else).
pub fn header_columns(cells: &[&str], serial: Option<usize>) -> Columns {
    let roles: Vec<Option<ColumnRole>> = cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if Some(i) == serial {
                None
            } else {
                header_role(c)
            }
        })
        .collect();
    let first = |r: ColumnRole| roles.iter().position(|x| *x == Some(r));
    Columns {
        serial: serial.or(first(ColumnRole::Serial)).unwrap_or(0),
        manufacturer: first(ColumnRole::Manufacturer),
        model: first(ColumnRole::Model),
        user: first(ColumnRole::User),
        group_tag: first(ColumnRole::GroupTag),
        hardware_hash: first(ColumnRole::HardwareHash),
        product_id: first(ColumnRole::ProductId),
        details: first(ColumnRole::Details),
    }
}

/// The refusal for a header row without a serial column: the columns found, numbered, and the
/// way out.
pub fn no_serial_column(cells: &[&str]) -> String {
    let listed: Vec<String> = cells
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} {c:?}", i + 1))
        .collect();
    format!(
        "the header row has no serial column (columns: {}); name the serial column \"Serial Number\" or pass --serial-column NAME or --serial-column N",
        listed.join(", ")
    )
}

/// `--serial-column`: a header name or a 1-based column number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SerialColumn {
    Name(String),
    Number(usize),
}

impl std::str::FromStr for SerialColumn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.is_empty() {
            return Err("--serial-column needs a column name or number".into());
        }
        if t.bytes().all(|b| b.is_ascii_digit()) {
            return match t.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(SerialColumn::Number(n)),
                _ => Err(format!("--serial-column {t}: columns are numbered from 1")),
            };
        }
        Ok(SerialColumn::Name(t.to_string()))
    }
}

/// True for text shaped like a GUID (an Entra/Intune object id), with or without braces.
pub fn looks_like_guid(s: &str) -> bool {
    let t = s.trim().trim_start_matches('{').trim_end_matches('}');
    let b = t.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Columns of a file without a header, by the width of its first row: one column is a serial
/// list; two are Intune's iOS/Android `identifier,details`; three or more are Intune's Windows
/// `manufacturer,model,serial`.
pub fn columns_without_header(width: usize) -> Columns {
    match width {
        0 | 1 => Columns::default(),
        2 => Columns {
            serial: 0,
            details: Some(1),
            ..Columns::default()
        },
        _ => Columns {
            serial: 2,
            manufacturer: Some(0),
            model: Some(1),
            ..Columns::default()
        },
    }
}

/// Picks the delimiter among comma, semicolon and tab from a sample of the text: the one that
/// splits the most sampled lines into the same number (>1) of fields. Quoted text is skipped.
/// A sample where none splits anything is a one-column list (comma is returned).
pub fn detect_delimiter(sample: &str) -> u8 {
    const CANDIDATES: [u8; 3] = [b'\t', b';', b','];
    let lines: Vec<&str> = sample
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(100)
        .collect();
    let mut best = (b',', 0usize, 0usize); // delimiter, consistent lines, fields
    for d in CANDIDATES {
        let counts: Vec<usize> = lines.iter().map(|l| count_outside_quotes(l, d)).collect();
        let Some(mode) = mode_nonzero(&counts) else {
            continue;
        };
        let consistent = counts.iter().filter(|&&c| c == mode).count();
        if (consistent, mode) > (best.1, best.2) {
            best = (d, consistent, mode);
        }
    }
    best.0
}

fn count_outside_quotes(line: &str, d: u8) -> usize {
    let mut quoted = false;
    let mut n = 0;
    for b in line.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if b == d && !quoted {
            n += 1;
        }
    }
    n
}

fn mode_nonzero(counts: &[usize]) -> Option<usize> {
    let mut freq: std::collections::BTreeMap<usize, usize> = Default::default();
    for &c in counts.iter().filter(|&&c| c > 0) {
        *freq.entry(c).or_default() += 1;
    }
    freq.into_iter()
        .max_by_key(|&(count, n)| (n, count))
        .map(|(c, _)| c)
}

/// The name shown for a delimiter in summaries.
pub fn delimiter_name(d: u8) -> String {
    match d {
        b',' => "comma".into(),
        b';' => "semicolon".into(),
        b'\t' => "tab".into(),
        other => format!("{:?}", other as char),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters() {
        assert_eq!(detect_delimiter("a,b,c\nd,e,f\n"), b',');
        assert_eq!(detect_delimiter("a;b;c\r\nd;e;f\r\n"), b';');
        assert_eq!(detect_delimiter("a\tb\nd\te\n"), b'\t');
        // Commas inside quotes and decimal commas do not beat a consistent semicolon.
        assert_eq!(
            detect_delimiter("\"Dell, Inc.\";M;S1\n\"HP, Inc\";N;S2\nX;1,5;S3\n"),
            b';'
        );
        assert_eq!(detect_delimiter("SN1\nSN2\n"), b',');
        assert_eq!(detect_delimiter(""), b',');
    }

    #[test]
    fn header_variants_are_recognised() {
        for (cell, role) in [
            ("Serial", ColumnRole::Serial),
            ("SERIAL NUMBER", ColumnRole::Serial),
            ("Device Serial Number", ColumnRole::Serial),
            ("serialnumber", ColumnRole::Serial),
            ("Service Tag", ColumnRole::Serial),
            ("Make", ColumnRole::Manufacturer),
            ("model", ColumnRole::Model),
            ("E-mail", ColumnRole::User),
            ("UPN", ColumnRole::User),
            ("Group Tag", ColumnRole::GroupTag),
            ("Hardware Hash", ColumnRole::HardwareHash),
            ("Windows Product ID", ColumnRole::ProductId),
            ("\u{feff}Serial", ColumnRole::Serial),
        ] {
            assert_eq!(header_role(cell), Some(role), "{cell}");
        }
        assert_eq!(header_role("PF3ABC12"), None);
    }

    #[test]
    fn header_mapping() {
        let c = columns_from_header(&["Asset", "Make", "Model", "Service Tag", "Notes"])
            .unwrap()
            .unwrap();
        assert_eq!(c.serial, 3);
        assert_eq!(c.manufacturer, Some(1));
        assert_eq!(c.model, Some(2));
        assert_eq!(c.details, Some(4));
        assert_eq!(columns_from_header(&["PF1", "Dell"]).unwrap(), None);
        let err = columns_from_header(&["Make", "Model"]).unwrap_err();
        assert!(err.contains("no serial column"), "{err}");
    }

    #[test]
    fn headerless_layouts() {
        assert_eq!(columns_without_header(1).serial, 0);
        assert_eq!(columns_without_header(2).details, Some(1));
        let w = columns_without_header(3);
        assert_eq!((w.manufacturer, w.model, w.serial), (Some(0), Some(1), 2));
    }
}
