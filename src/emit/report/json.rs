//! The JSON format: the serialized [`Report`], pretty-printed.

use super::Report;
use std::io::{self, Write};

/// Writes the report as JSON text (with a trailing newline), streamed: a large plan's report runs to
/// tens of megabytes, never held whole in memory.
pub fn render(report: &Report, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// Reads a report back from its JSON text.
pub fn parse(text: &str) -> Result<Report, serde_json::Error> {
    serde_json::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streamed_report_is_the_pretty_printed_one_byte_for_byte() {
        // The report used to be built as one String with `to_string_pretty`; streaming it must not
        // change a byte of what readers of `--format json` get.
        let text = r#"{"schema_version":1,"command":"check","plan":{"path":"p.json","format_version":"1.2","terraform_version":null},
            "summary":{"principals":1,"new_principals":0,"policies":0,"unknown_documents":0,"flagged":1},
            "principals":[{"address":"aws_iam_role.r","kind":"role","name":"r","arn":"arn:aws:iam::1:role/r","account":"1",
              "plan_action":"no-op","flags":["passrole-any"],"granted_actions":2,"policies":[],"status":"no usage data",
              "suggestions":[{"policy_address":"aws_iam_role_policy.p","applicability":"review-needed","current":{"Statement":[]},
                "suggested":null,"granted":2,"kept":0,"actions":[{"action":"s3:GetObject","verdict":"remove","reason":"unused \u00e9","review":true}],
                "notes":["a \"quoted\" note"]}]}],
            "files":[{"path":"iamtrim.patch","kind":"patch","written":false}],"warnings":["w"]}"#;
        let report = parse(text).expect("a report");
        let mut streamed = Vec::new();
        render(&report, &mut streamed).expect("rendered");
        let whole = serde_json::to_string_pretty(&report).expect("serialized") + "\n";
        assert_eq!(String::from_utf8(streamed).expect("UTF-8"), whole);
        assert!(whole.contains("\"status\": \"no usage data\""));
    }
}
